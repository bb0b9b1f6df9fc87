//! The remote connection judge, fed a connection's bytes in arbitrary
//! chunks: never a panic; nothing but "more" until the token's length
//! arrived (or the stream ended); a report only after the whole right token;
//! and for a wrong token, the same looks wherever it is wrong.
#![no_main]

use dynamic_port::fuzz::{judge_connection, Shown};
use libfuzzer_sys::fuzz_target;

const TOKEN: &[u8] = b"0123456789abcdef0123456789abcdef";

fuzz_target!(|input: (Vec<u8>, Vec<u8>)| {
    let (bytes, sizes) = input;
    let mut chunks = Vec::new();
    let mut rest = &bytes[..];
    for size in sizes {
        let size = (size as usize).min(rest.len());
        let (chunk, after) = rest.split_at(size);
        chunks.push(chunk);
        rest = after;
    }
    chunks.push(rest);
    let shown = judge_connection(TOKEN, &chunks);
    let expected_len = TOKEN.len() + 1;
    let mut seen = 0;
    for (look, chunk) in shown.iter().zip(&chunks) {
        seen += chunk.len();
        if seen < expected_len && *look != Shown::More {
            // Only the end of stream may close a connection short of a token.
            assert_eq!(shown.len(), chunks.len() + 1, "decided on {seen} bytes: {shown:?}");
        }
    }
    let right = bytes.len() >= expected_len
        && &bytes[..TOKEN.len()] == TOKEN
        && bytes[TOKEN.len()] == b' ';
    if matches!(shown.last(), Some(Shown::Report(_) | Shown::BadReport)) {
        assert!(right, "a report without the token: {bytes:?}");
    }
    if !right {
        // The same bytes with the token wrong anywhere else look the same.
        let mut other = bytes.clone();
        let at = bytes.len() % TOKEN.len();
        if other.len() > at {
            other[at] = if other[at] == b'x' { b'y' } else { b'x' };
            let mut rechunked = Vec::new();
            let mut rest = &other[..];
            for chunk in &chunks {
                let (a, b) = rest.split_at(chunk.len());
                rechunked.push(a);
                rest = b;
            }
            let other_shown = judge_connection(TOKEN, &rechunked);
            let other_right = other.len() >= expected_len
                && &other[..TOKEN.len()] == TOKEN
                && other[TOKEN.len()] == b' ';
            if !other_right {
                assert_eq!(shown, other_shown, "{bytes:?} / {other:?}");
            }
        }
    }
});
