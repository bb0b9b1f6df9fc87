//! The report grammar, whole and split into arbitrary reads, as the
//! parent reads it: never a panic; a prefix that fails means the whole
//! fails (it could not become valid); a prefix that resolves gives what the
//! whole gives; every grammar agrees with the plain port's on bare ports.
#![no_main]

use dynamic_port::fuzz::parse;
use libfuzzer_sys::fuzz_target;

/// Checks one grammar over every prefix at the `cuts`, then the whole at
/// end of stream.
fn check<T: PartialEq + std::fmt::Debug>(
    bytes: &[u8],
    cuts: &[usize],
    parse: impl Fn(&[u8], bool) -> Result<Option<T>, dynamic_port::Error>,
) {
    let whole = parse(bytes, true);
    for &cut in cuts {
        match parse(&bytes[..cut], false) {
            Ok(None) => {}
            Ok(Some(value)) => match &whole {
                Ok(Some(whole)) => assert_eq!(&value, whole, "{bytes:?} cut at {cut}"),
                other => panic!("{bytes:?}: resolved at {cut} to {value:?}, whole {other:?}"),
            },
            Err(_) => assert!(whole.is_err(), "{bytes:?}: failed at {cut}, whole {whole:?}"),
        }
    }
}

fuzz_target!(|input: (Vec<u8>, Vec<u16>)| {
    let (bytes, cuts) = input;
    if bytes.len() > 8192 {
        return;
    }
    let mut cuts: Vec<usize> = cuts.iter().map(|&c| c as usize % (bytes.len() + 1)).collect();
    cuts.sort_unstable();
    check(&bytes, &cuts, parse::report);
    check(&bytes, &cuts, parse::one);
    check(&bytes, &cuts, parse::items);
    check(&bytes, &cuts, parse::line);
    if let Ok(Some(port)) = parse::report(&bytes, true) {
        assert_eq!(parse::one(&bytes, true).unwrap().unwrap().port(), port);
        assert!(port != 0);
    }
    // The public whole-line parser agrees with the streaming one.
    if let Ok(text) = std::str::from_utf8(&bytes) {
        match (text.parse::<dynamic_port::protocol::Report>(), parse::items(&bytes, true)) {
            (Ok(report), Ok(Some(items))) => assert_eq!(report.items(), &items[..]),
            (Ok(report), other) => panic!("{text:?}: {report:?} but {other:?}"),
            (Err(_), _) => {}
        }
    }
});
