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

/// The streaming parsers the futures read with, for the fuzz targets, the
/// property tests and the micro benchmarks: each takes the bytes read so
/// far and whether the stream ended, and returns `Ok(None)` while more may
/// come. See `src/protocol/report.rs` for their contracts.
pub mod parse {
    use std::collections::BTreeMap;
    use std::net::SocketAddr;

    use crate::protocol::{self, Item};
    use crate::Error;

    /// A plain report: one bare port or one unnamed address.
    pub fn report(bytes: &[u8], end_of_stream: bool) -> Result<Option<u16>, Error> {
        protocol::parse_report(bytes, end_of_stream)
    }

    /// One item.
    pub fn one(bytes: &[u8], end_of_stream: bool) -> Result<Option<Item>, Error> {
        protocol::parse_one(bytes, end_of_stream)
    }

    /// Any number of items, named or not.
    #[allow(clippy::type_complexity)]
    pub fn items(
        bytes: &[u8],
        end_of_stream: bool,
    ) -> Result<Option<Vec<(Option<String>, Item)>>, Error> {
        protocol::parse_items_report(bytes, end_of_stream)
    }

    /// The endpoints of items, as `addrs()` gives them.
    pub fn endpoints(
        items: Vec<(Option<String>, Item)>,
        line: &[u8],
        peer: Option<SocketAddr>,
    ) -> Result<BTreeMap<String, SocketAddr>, Error> {
        protocol::endpoints(items, line, peer)
    }

    /// One line of text.
    pub fn line(bytes: &[u8], end_of_stream: bool) -> Result<Option<String>, Error> {
        protocol::parse_line(bytes, end_of_stream)
    }
}
