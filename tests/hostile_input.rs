//! Generated hostile input over every parser: writer text, postcard bytes,
//! and report bytes. 100,000 cases each (set `PROPTEST_CASES` to change it).
//! Every input is either accepted exactly as an independent model says, or
//! rejected with an `Err`; none panics.

use std::os::fd::BorrowedFd;

use dynamic_port::protocol::{self, WriterText, MAX_REPORT_LEN};
use dynamic_port::{DynamicPortWriter, ErrorKind};
use proptest::prelude::*;

/// 100,000 cases unless `PROPTEST_CASES` says otherwise.
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ---- writer text ----

/// The writer text grammar, written independently of `protocol`.
fn writer_text_model(text: &str) -> Option<WriterText> {
    let digits = |s: &str| !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_digit());
    if let Some(rest) = text.strip_prefix("fifo:") {
        let mut parts = rest.splitn(3, ':');
        let (dev, inode, path) = (parts.next()?, parts.next()?, parts.next()?);
        if !digits(dev) || !digits(inode) || !path.starts_with('/') || path.len() > 4095 {
            return None;
        }
        if path.chars().any(|c| c.is_control()) {
            return None;
        }
        return Some(WriterText::Fifo {
            dev: dev.parse().ok()?,
            inode: inode.parse().ok()?,
            path: path.into(),
        });
    }
    if text.len() > 64 {
        return None;
    }
    let (fd, pipe) = match text.split_once(":pipe:") {
        Some((fd, inode)) if digits(inode) => (fd, Some(inode.parse::<u64>().ok()?)),
        Some(_) => return None,
        None => (text, None),
    };
    if !digits(fd) {
        return None;
    }
    let fd: i32 = fd.parse().ok()?;
    Some(WriterText::Pipe { fd, inode: pipe })
}

/// Text that is near the grammar as often as it is arbitrary.
fn writer_texts() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[0-9]{0,12}",
        "[0-9]{0,11}:pipe:[0-9]{0,21}",
        "[-+ 0-9:pipe\\x00\\n]{0,30}",
        "fifo:[0-9]{0,3}:[0-9]{0,3}:[/a-z:\\n\\x00\\x7f]{0,12}",
        (any::<u32>(), proptest::option::of(any::<u64>())).prop_map(|(fd, pipe)| match pipe {
            Some(pipe) => format!("{fd}:pipe:{pipe}"),
            None => fd.to_string(),
        }),
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn writer_text_is_parsed_exactly_as_the_grammar_says(text in writer_texts()) {
        let parsed = protocol::parse_writer(&text);
        match writer_text_model(&text) {
            Some(expected) => {
                prop_assert_eq!(parsed.as_ref().ok(), Some(&expected));
                // What parses prints back and parses to the same.
                prop_assert_eq!(protocol::parse_writer(&protocol::format_writer(&expected)).ok(), Some(expected));
            }
            None => prop_assert_eq!(parsed.unwrap_err().kind(), ErrorKind::MalformedWriter),
        }
        // The public path never panics either.
        if let Err(err) = text.parse::<DynamicPortWriter>() {
            prop_assert_eq!(err.kind(), ErrorKind::MalformedWriter);
        }
    }

    // ---- postcard bytes ----

    #[test]
    fn postcard_bytes_are_accepted_only_in_canonical_form(
        bytes in prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..24),
            (0u32..=i32::MAX as u32, proptest::option::of(any::<u64>()))
                .prop_map(|pair| postcard::to_stdvec(&pair).unwrap()),
        ]
    ) {
        match DynamicPortWriter::from_postcard(&bytes) {
            Ok(writer) => {
                prop_assert!(bytes.len() <= DynamicPortWriter::MAX_POSTCARD_LEN);
                if writer.is_named() {
                    prop_assert_eq!(writer.to_postcard(), bytes);
                } else {
                    let (fd, pipe): (u32, Option<u64>) = postcard::from_bytes(&bytes).unwrap();
                    prop_assert_eq!(writer.fd(), Some(fd as i32));
                    if pipe.is_some() {
                        prop_assert_eq!(writer.to_postcard(), bytes);
                    }
                }
            }
            Err(err) => prop_assert_eq!(err.kind(), ErrorKind::MalformedWriter),
        }
    }

    // ---- report bytes ----

    #[test]
    fn report_bytes_resolve_as_the_model_says_however_they_are_split(
        (bytes, splits) in report_bytes_and_splits()
    ) {
        prop_assert_eq!(read_like_port_future(&bytes, &splits), report_model(&bytes));
    }
}

/// Report bytes near the grammar as often as arbitrary, and read sizes.
fn report_bytes_and_splits() -> impl Strategy<Value = (Vec<u8>, Vec<usize>)> {
    /// The bytes that matter to the grammar, to pick from.
    const NEAR: &[u8] = b"0123456789 \t\n-+\rx";
    let near = |bytes: Vec<u8>| -> Vec<u8> {
        bytes
            .into_iter()
            .map(|b| NEAR[b as usize % NEAR.len()])
            .collect()
    };
    let bytes = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..100),
        proptest::collection::vec(any::<u8>(), 0..80).prop_map(near),
        // digits (maybe zero-padded), blanks, maybe a newline, a byte after
        (
            0u32..10_000_000,
            0usize..9,
            0usize..70,
            any::<bool>(),
            any::<u8>()
        )
            .prop_map(|(number, width, blanks, newline, after)| {
                let mut line = format!("{number:0width$}").into_bytes();
                line.extend(std::iter::repeat_n(b' ', blanks));
                if newline {
                    line.push(b'\n');
                }
                line.push(after);
                line
            }),
        (0u32..100_000).prop_map(|port| format!("{port}\n").into_bytes()),
    ];
    (bytes, proptest::collection::vec(1usize..70, 1..10))
}

/// What the protocol says `bytes` (the whole stream, then its end) yields.
fn report_model(bytes: &[u8]) -> Result<u16, ErrorKind> {
    let window = &bytes[..bytes.len().min(MAX_REPORT_LEN)];
    let line = match window.iter().position(|&b| b == b'\n') {
        Some(end) => &window[..end],
        None if bytes.len() >= MAX_REPORT_LEN => return Err(ErrorKind::MalformedReport),
        None if bytes.is_empty() => return Err(ErrorKind::ClosedWithoutReport),
        None => bytes,
    };
    let digits = line.iter().take_while(|b| b.is_ascii_digit()).count();
    let blanks_only = line[digits..].iter().all(|&b| b == b' ' || b == b'\t');
    if !(1..=5).contains(&digits) || !blanks_only {
        return Err(ErrorKind::MalformedReport);
    }
    match std::str::from_utf8(&line[..digits])
        .unwrap()
        .parse::<u32>()
        .unwrap()
    {
        port @ 1..=65535 => Ok(port as u16),
        _ => Err(ErrorKind::MalformedReport),
    }
}

/// Feeds `bytes` to `parse_report` the way `PortFuture` reads them: reads
/// of the sizes in `splits` (cycled), never past the 64-byte buffer.
fn read_like_port_future(bytes: &[u8], splits: &[usize]) -> Result<u16, ErrorKind> {
    let mut received = Vec::new();
    let mut offset = 0;
    for split in splits.iter().cycle() {
        let room = MAX_REPORT_LEN - received.len();
        let read = (*split).min(room).min(bytes.len() - offset);
        received.extend_from_slice(&bytes[offset..offset + read]);
        offset += read;
        match protocol::parse_report(&received, read == 0) {
            Ok(None) => continue,
            Ok(Some(port)) => return Ok(port),
            Err(err) => return Err(err.kind()),
        }
    }
    unreachable!("cycle never ends")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, failure_persistence: None, ..ProptestConfig::default() })]

    /// The same, through a real pipe and the real `PortFuture`: the bytes
    /// are written into the pipe's write end, which is then closed.
    #[test]
    fn report_bytes_through_a_real_pipe_resolve_as_the_model_says(
        (bytes, _) in report_bytes_and_splits()
    ) {
        let (writer, port) = DynamicPortWriter::create().unwrap();
        // SAFETY: `writer` owns this fd and outlives the borrow.
        let fd = unsafe { BorrowedFd::borrow_raw(writer.fd().unwrap()) };
        let mut file = std::fs::File::from(fd.try_clone_to_owned().unwrap());
        // Up to 100 bytes always fit in the pipe: this never blocks.
        std::io::Write::write_all(&mut file, &bytes).unwrap();
        drop((file, writer));
        prop_assert_eq!(port.wait().map_err(|e| e.kind()), report_model(&bytes));
    }
}
