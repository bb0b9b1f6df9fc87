//! The ways a report travels from child to parent, one file each:
//! [`pipe`] (an inherited anonymous pipe), [`fifo`] (a named FIFO) and
//! [`tcp`] (a connection back to the parent, from any host).
//!
//! Each transport makes a writer and the parent's [`Receiver`], and sends a
//! report line from the child. The parent's side is one seam, [`Input`]:
//! the reading core of the futures reads, waits and keeps its clocks
//! through it and never names a transport. A pipe and a FIFO are both read
//! as a nonblocking [`file`]; a TCP listener and its connections by
//! [`tcp::TcpReceiver`].

use std::fmt::Display;
use std::io;
use std::net::SocketAddr;
use std::os::fd::BorrowedFd;
use std::sync::Weak;
use std::task::{Context, Poll};
use std::time::Instant;

use crate::error::{Error, ErrorKind};
use crate::registry::{Refused, WriteEnd};
use crate::sys;

pub(crate) mod fifo;
pub(crate) mod file;
pub(crate) mod pipe;
pub(crate) mod tcp;

/// Parses the bytes read so far (`true`: no more will come), given the
/// address a remote report came from.
pub(crate) type Parse<T> = fn(&[u8], bool, Option<SocketAddr>) -> Result<Option<T>, Error>;

/// What a report must look like for one kind of future.
pub(crate) struct Grammar<T> {
    /// The most bytes to read before the report must have ended.
    pub(crate) capacity: usize,
    /// Parses the bytes read so far; `true` when no more will come; the
    /// address the report came from, for a remote child. See
    /// [`protocol::parse_report`](crate::protocol::parse_report) for the contract.
    pub(crate) parse: Parse<T>,
}

/// What reading what is there found.
pub(crate) enum Received<T> {
    /// The report, or an error that resolves the future.
    Done(Result<T, Error>),
    /// Nothing more to read now.
    WouldBlock,
    /// End of stream, with no bytes at all.
    Closed,
}

/// The parent's end of a transport: what the future reads, and what it
/// keeps until it resolves.
#[derive(Debug)]
pub(crate) struct Receiver {
    /// What the report arrives on.
    pub(crate) input: Input,
    /// For a pipe: the parent's write end, to tell whether the parent still
    /// holds a writer (a likely cause of a timeout).
    pub(crate) creator: Option<Weak<WriteEnd>>,
    /// For a named writer: its private directory, removed when the
    /// receiver drops (it is held for that alone).
    pub(crate) _dir: Option<fifo::NamedDir>,
}

/// The seam: what a report arrives on. Every transport's input has the same
/// methods, and this enum only forwards to them.
#[derive(Debug)]
pub(crate) enum Input {
    /// A nonblocking file: a pipe's read end, or a FIFO.
    File(file::FileInput),
    /// A TCP listener and its connections (boxed: it is large, and rare).
    Tcp(Box<tcp::TcpReceiver>),
}

impl Input {
    /// Reads what is there without waiting, and parses it.
    pub(crate) fn read<T>(&mut self, grammar: &Grammar<T>) -> Received<T> {
        match self {
            Input::File(file) => file.read(grammar),
            Input::Tcp(tcp) => tcp.read(grammar),
        }
    }

    /// The watched child exited: what arrived so far is all that will, so
    /// judge it as a whole report; `None` if there is nothing to judge.
    pub(crate) fn read_at_exit<T>(&mut self, grammar: &Grammar<T>) -> Option<Result<T, Error>> {
        match self {
            Input::File(file) => file.read_at_exit(grammar),
            // Each connection is judged on its own; an exit ends none of them.
            Input::Tcp(_) => None,
        }
    }

    /// Adds the fds a blocking wait polls.
    pub(crate) fn fds<'a>(&'a self, fds: &mut Vec<BorrowedFd<'a>>) {
        match self {
            Input::File(file) => fds.extend(file.fd()),
            Input::Tcp(tcp) => tcp.fds(fds),
        }
    }

    /// After a blocking wait: which of the fds from [`fds`](Self::fds), in
    /// the same order, are ready.
    pub(crate) fn mark_ready(&mut self, ready: &[bool]) {
        match self {
            Input::File(_) => {}
            Input::Tcp(tcp) => tcp.mark_ready(ready),
        }
    }

    /// When something must be looked at again without any fd being ready
    /// (a connection's deadline, say).
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        match self {
            Input::File(_) => None,
            Input::Tcp(tcp) => tcp.next_deadline(),
        }
    }

    /// Registers with the reactor what must wake the task; `Ready` if
    /// something is ready now.
    pub(crate) fn poll_readable(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self {
            Input::File(file) => file.poll_readable(cx),
            Input::Tcp(tcp) => tcp.poll_readable(cx),
        }
    }
}

/// Writes a report line to `fd`, mapping a gone reader to [`ErrorKind::Abandoned`].
pub(crate) fn write_report(
    fd: BorrowedFd<'_>,
    line: &[u8],
    writer: &dyn Display,
) -> Result<(), Error> {
    sys::write_all_without_sigpipe(fd, line).map_err(|e| {
        if e.kind() == io::ErrorKind::BrokenPipe {
            abandoned(writer)
        } else {
            Error::io(format!("could not write the port through {writer}"), e)
        }
    })
}

/// The error for a report that nobody waits for any more, through `at` (a
/// writer, a path, an address).
pub(crate) fn abandoned(at: &dyn Display) -> Error {
    Error::new(
        ErrorKind::Abandoned,
        format!(
            "nobody is waiting for the port at {at} any more: the parent dropped its \
             PortFuture or exited"
        ),
    )
}

/// The error for a second report.
pub(crate) fn already_reported(writer: &dyn Display) -> Error {
    Error::new(
        ErrorKind::AlreadyReported,
        format!("the writer {writer} has already reported; a writer reports once"),
    )
}

/// The error for a report that cannot begin.
pub(crate) fn refused(writer: &dyn Display, why: Refused) -> Error {
    match why {
        Refused::Reported => already_reported(writer),
        Refused::Sending => Error::new(
            ErrorKind::AlreadyReported,
            format!(
                "another copy of the writer {writer} is reporting right now; a writer \
                 reports once"
            ),
        ),
    }
}
