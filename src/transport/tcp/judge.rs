//! The judge of a remote connection, as a pure function of what it sent:
//! nothing is decided until the whole token has arrived, then the token is
//! compared once, in constant time. See [the module docs](super) for why.

use std::net::SocketAddr;

use crate::error::{Error, ErrorKind};
use crate::transport::Grammar;

/// What a connection's bytes say.
pub(crate) enum Verdict<T> {
    /// A valid report from the child (or an authenticated malformed one).
    Report(Result<T, Error>),
    /// Wait for more.
    More,
    /// Not the child, or nothing useful: close it.
    Close,
}

/// Judges what a connection sent so far, `received`, against `expected`
/// (the token and its space): the whole token first, compared once, then
/// the report. `proven` is set once the token was right, and kept by the
/// caller between calls; `end_of_stream` says no more bytes will come.
///
/// Until `expected.len()` bytes have come, the verdict is
/// [`More`](Verdict::More) (or [`Close`](Verdict::Close) at end of stream)
/// whatever they are: nobody learns anything from part of a token.
pub(crate) fn judge<T>(
    received: &[u8],
    proven: &mut bool,
    expected: &[u8],
    end_of_stream: bool,
    peer: SocketAddr,
    grammar: &Grammar<T>,
) -> Verdict<T> {
    if !*proven {
        if received.len() < expected.len() {
            // Not a word until the whole token is there.
            return if end_of_stream {
                Verdict::Close
            } else {
                Verdict::More
            };
        }
        if !same_bytes(&received[..expected.len()], expected) {
            return Verdict::Close;
        }
        *proven = true;
    }
    match (grammar.parse)(&received[expected.len()..], end_of_stream, Some(peer)) {
        Ok(Some(report)) => Verdict::Report(Ok(report)),
        Ok(None) => Verdict::More,
        // An authenticated child that sent nothing: as if it never connected.
        Err(err) if err.kind() == ErrorKind::ClosedWithoutReport => Verdict::Close,
        Err(err) => Verdict::Report(Err(err)),
    }
}

/// Compares two byte strings of the same length in time that does not
/// depend on where they differ: every byte is looked at, and the
/// differences are folded without a branch.
pub(crate) fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let difference = a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y));
    // Keeps the compiler from turning the fold into an early exit.
    std::hint::black_box(difference) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol;

    /// The plain report's grammar.
    const PORT: Grammar<u16> = Grammar {
        capacity: protocol::MAX_REPORT_LEN,
        parse: |bytes, end, _| protocol::parse_report(bytes, end),
    };

    /// What a verdict shows: its kind only.
    fn shown(verdict: &Verdict<u16>) -> &'static str {
        match verdict {
            Verdict::Report(Ok(_)) => "report",
            Verdict::Report(Err(_)) => "bad report",
            Verdict::More => "more",
            Verdict::Close => "close",
        }
    }

    /// The verdicts after each byte of `sent`, arriving one at a time, then at its end.
    fn verdicts(sent: &[u8], expected: &[u8]) -> Vec<&'static str> {
        let peer: SocketAddr = "10.0.0.2:4000".parse().unwrap();
        let mut proven = false;
        let mut shown_so_far = Vec::new();
        for len in 1..=sent.len() {
            let verdict = judge(&sent[..len], &mut proven, expected, false, peer, &PORT);
            shown_so_far.push(shown(&verdict));
            if !matches!(verdict, Verdict::More) {
                return shown_so_far;
            }
        }
        let verdict = judge(sent, &mut proven, expected, true, peer, &PORT);
        shown_so_far.push(shown(&verdict));
        shown_so_far
    }

    #[test]
    fn a_wrong_token_looks_the_same_wherever_it_is_wrong() {
        let token = b"0123456789abcdef0123456789abcdef ";
        let mut right = token.to_vec();
        right.extend_from_slice(b"8080\n");
        let mut views = Vec::new();
        for wrong_at in 0..token.len() {
            let mut sent = right.clone();
            sent[wrong_at] ^= 1;
            views.push(verdicts(&sent, token));
        }
        // Each: "more" until the token's length, then closed at once.
        let mut expected = vec!["more"; token.len() - 1];
        expected.push("close");
        assert!(views.iter().all(|view| *view == expected), "{views:?}");
        // A prefix that stops short is only ever "more", then closed at its end.
        for cut in 0..token.len() {
            let view = verdicts(&token[..cut], token);
            assert_eq!(view.last(), Some(&"close"));
            assert!(view[..view.len() - 1].iter().all(|v| *v == "more"));
        }
        // The right token and report: a report once the line is whole.
        assert_eq!(verdicts(&right, token).last(), Some(&"report"));
        // The right token and junk: the child's malformed report, not an intruder.
        let mut junk = token.to_vec();
        junk.extend_from_slice(b"junk\n");
        assert_eq!(verdicts(&junk, token).last(), Some(&"bad report"));
        // The right token and nothing: as if the child never connected.
        assert_eq!(verdicts(token, token).last(), Some(&"close"));
    }

    #[test]
    fn same_bytes_compares_whole_strings() {
        assert!(same_bytes(b"abc", b"abc"));
        assert!(same_bytes(b"", b""));
        assert!(!same_bytes(b"abc", b"abd"));
        assert!(!same_bytes(b"abc", b"xbc"));
        assert!(!same_bytes(b"abc", b"ab"));
    }
}
