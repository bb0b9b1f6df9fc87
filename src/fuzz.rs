//! Entry points for the fuzz crate in `fuzz/` (the internal feature
//! `__fuzz`): not part of the API, and free to change.

use std::net::SocketAddr;

use crate::protocol;
use crate::transport::tcp::judge::{judge, Verdict};
use crate::transport::Grammar;

/// What the judge said of a connection, one entry per look.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shown {
    /// Wait for more.
    More,
    /// Closed: not the child.
    Close,
    /// The child's report, valid.
    Report(u16),
    /// The child's report, malformed.
    BadReport,
}

/// Judges a connection that sends `chunks` one after the other, then ends,
/// against the token `token` (its hex digits, without the space), as the
/// parent of a plain `PortFuture` would: what it said after each chunk,
/// until it said something other than [`Shown::More`].
pub fn judge_connection(token: &[u8], chunks: &[&[u8]]) -> Vec<Shown> {
    const PORT: Grammar<u16> = Grammar {
        capacity: protocol::MAX_REPORT_LEN,
        parse: |bytes, end, _| protocol::parse_report(bytes, end),
    };
    let mut expected = token.to_vec();
    expected.push(b' ');
    let peer = SocketAddr::from(([10, 0, 0, 2], 4000));
    let limit = expected.len() + PORT.capacity;
    let mut received = Vec::new();
    let mut proven = false;
    let mut shown = Vec::new();
    let ends = chunks
        .iter()
        .map(|chunk| (*chunk, false))
        .chain([(&[][..], true)]);
    for (chunk, end_of_stream) in ends {
        // As the receiver does: never more than the limit.
        let room = limit.saturating_sub(received.len());
        received.extend_from_slice(&chunk[..chunk.len().min(room)]);
        let verdict = if !end_of_stream && received.len() >= limit {
            Verdict::Close
        } else {
            judge(
                &received,
                &mut proven,
                &expected,
                end_of_stream,
                peer,
                &PORT,
            )
        };
        let look = match verdict {
            Verdict::More => Shown::More,
            Verdict::Close => Shown::Close,
            Verdict::Report(Ok(port)) => Shown::Report(port),
            Verdict::Report(Err(_)) => Shown::BadReport,
        };
        shown.push(look);
        if look != Shown::More {
            break;
        }
    }
    shown
}
