//! The ways a report travels from child to parent, one file each:
//! [`pipe`] (an inherited anonymous pipe), [`fifo`] (a named FIFO) and
//! [`tcp`] (a connection back to the parent, from any host).
//!
//! Each transport makes a writer and the parent's [`Receiver`], and sends a
//! report line from the child. The [`PortFuture`](crate::PortFuture) reads
//! a pipe and a FIFO the same way, as a nonblocking file, and a TCP
//! listener through its [`TcpReceiver`](tcp::TcpReceiver).

use std::fmt::Display;
use std::fs::File;
use std::io;
use std::os::fd::BorrowedFd;
use std::sync::Weak;

use crate::error::{Error, ErrorKind};
use crate::reactor::Lazy;
use crate::registry::WriteEnd;
use crate::sys;

pub(crate) mod fifo;
pub(crate) mod pipe;
pub(crate) mod tcp;

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

/// What a report arrives on, registered with the reactor only when a poll
/// has to wait.
#[derive(Debug)]
pub(crate) enum Input {
    /// A nonblocking file: a pipe's read end, or a FIFO.
    File(Lazy<File>),
    /// A TCP listener and its connections.
    Tcp(tcp::TcpReceiver),
}

impl Receiver {
    /// The receiver of a remote writer.
    pub(crate) fn tcp(receiver: tcp::TcpReceiver) -> Receiver {
        Receiver {
            input: Input::Tcp(receiver),
            creator: None,
            _dir: None,
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
