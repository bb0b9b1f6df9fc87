//! Writer text: never a panic; whatever parses prints back to text that
//! parses to the same, and no longer than the grammar allows.
#![no_main]

use dynamic_port::protocol::{format_writer, parse_writer};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Ok(parsed) = parse_writer(text) {
        let printed = format_writer(&parsed);
        assert_eq!(parse_writer(&printed).unwrap(), parsed, "{text:?} -> {printed:?}");
        assert!(!printed.contains('\0'));
    }
    // The writer value itself: parsing does one fstat at most, never a panic.
    let _ = text.parse::<dynamic_port::DynamicPortWriter>();
});
