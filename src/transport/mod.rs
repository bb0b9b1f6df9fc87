//! The ways a report travels from child to parent, one file each:
//! [`pipe`] (an inherited anonymous pipe), [`fifo`] (a named FIFO) and
//! [`tcp`] (a connection back to the parent, from any host).
//!
//! Each transport makes a writer and the parent's [`Receiver`], and sends a
//! report line from the child. Each side is one seam, and this file is the
//! only place that names the transports:
//!
//! - the child's side, [`Writer`]: what
//!   [`DynamicPortWriter`](crate::DynamicPortWriter) holds, and through
//!   which it reports, is passed to a command and prints its text;
//! - the parent's side, [`Input`]: the reading core of the futures reads,
//!   waits and keeps its clocks through it. A pipe and a FIFO are both read
//!   as a nonblocking [`file`]; a TCP listener and its connections by
//!   [`tcp::TcpReceiver`].
//!
//! Every report is one atomic step through a
//! [`Claim`](crate::registry::Claim): begun, written, and recorded only
//! once written.
//!
//! Windows has no fds to inherit and no FIFOs: there, a local writer
//! (`create`, `create_named`) is a TCP writer on loopback, with its token,
//! and the pipe and FIFO transports are not built.

use std::ffi::c_int;
use std::fmt::{self, Display};
use std::io;
use std::net::SocketAddr;
#[cfg(unix)]
use std::os::fd::BorrowedFd;
use std::path::Path;
use std::process::Command;
#[cfg(unix)]
use std::sync::Weak;
use std::task::{Context, Poll};
#[cfg(unix)]
use std::time::Instant;

use crate::error::{Error, ErrorKind};
use crate::protocol::WriterText;
use crate::registry::Refused;
#[cfg(unix)]
use crate::registry::WriteEnd;

#[cfg(unix)]
pub(crate) mod fifo;
#[cfg(unix)]
pub(crate) mod file;
#[cfg(unix)]
pub(crate) mod pipe;
pub(crate) mod tcp;

/// Which transport a new writer uses.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Kind {
    /// An anonymous pipe the child inherits.
    Inherited,
    /// A FIFO in a private directory, opened by path.
    Named,
    /// A connection back to a listener on this address.
    Remote(SocketAddr),
}

/// The child's seam: a writer of one of the transports. Every transport's
/// writer has the same methods, and this enum only forwards to them.
#[derive(Clone)]
pub(crate) enum Writer {
    /// An inherited pipe.
    #[cfg(unix)]
    Pipe(pipe::PipeWriter),
    /// A named FIFO.
    #[cfg(unix)]
    Fifo(fifo::FifoWriter),
    /// A connection back to the parent.
    Tcp(tcp::TcpWriter),
}

impl Writer {
    /// Makes a new writer of `kind`, and the parent's receiver.
    pub(crate) fn create(kind: Kind) -> Result<(Writer, Receiver), Error> {
        Ok(match kind {
            #[cfg(unix)]
            Kind::Inherited => {
                let (writer, receiver) = pipe::PipeWriter::create()?;
                (Writer::Pipe(writer), receiver)
            }
            #[cfg(unix)]
            Kind::Named => {
                let (writer, receiver) = fifo::FifoWriter::create()?;
                (Writer::Fifo(writer), receiver)
            }
            // Windows' best local writer: a connection back on loopback.
            #[cfg(windows)]
            Kind::Inherited | Kind::Named => {
                let loopback = SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, 0));
                let (writer, receiver) = tcp::TcpWriter::create(loopback)?;
                (Writer::Tcp(writer), receiver)
            }
            Kind::Remote(addr) => {
                let (writer, receiver) = tcp::TcpWriter::create(addr)?;
                (Writer::Tcp(writer), receiver)
            }
        })
    }

    /// Makes a writer from parsed text, doing the one piece of I/O parsing
    /// does. On Windows, a pipe's or a FIFO's text names nothing that can
    /// exist there, and is an error.
    pub(crate) fn from_text(text: WriterText) -> Result<Writer, Error> {
        Ok(match text {
            #[cfg(unix)]
            WriterText::Pipe { fd, inode } => Writer::Pipe(pipe::PipeWriter::from_parts(fd, inode)),
            #[cfg(unix)]
            WriterText::Fifo { dev, inode, path } => {
                Writer::Fifo(fifo::FifoWriter { dev, inode, path })
            }
            #[cfg(windows)]
            WriterText::Pipe { .. } | WriterText::Fifo { .. } => {
                return Err(Error::new(
                    ErrorKind::MalformedWriter,
                    format!(
                        "the writer {} is an inherited pipe or a FIFO of a Unix parent, \
                         which cannot exist on Windows; a Windows parent's writers are \
                         connections back (tcp:TOKEN@ADDR)",
                        crate::protocol::format_writer(&text)
                    ),
                ))
            }
            WriterText::Tcp { addr, token } => Writer::Tcp(tcp::TcpWriter { addr, token }),
        })
    }

    /// The parsed text form.
    pub(crate) fn text(&self) -> WriterText {
        match self {
            #[cfg(unix)]
            Writer::Pipe(pipe) => pipe.text(),
            #[cfg(unix)]
            Writer::Fifo(fifo) => fifo.text(),
            Writer::Tcp(tcp) => tcp.text(),
        }
    }

    /// Sends a report line, blocking as long as the transport needs (a pipe
    /// or a FIFO: never; a remote writer: for its connect and write).
    pub(crate) fn send(&self, line: &[u8]) -> Result<(), Error> {
        match self {
            #[cfg(unix)]
            Writer::Pipe(pipe) => pipe.send(line),
            #[cfg(unix)]
            Writer::Fifo(fifo) => fifo.send(line),
            Writer::Tcp(tcp) => tcp.send(line),
        }
    }

    // Only the runtime adapters report without blocking.
    #[cfg(any(feature = "rt-tokio", feature = "rt-async-std", feature = "rt-smol"))]
    /// Sends a report line without blocking the thread.
    pub(crate) async fn send_async(&self, line: &[u8]) -> Result<(), Error> {
        match self {
            // One nonblocking write of a few bytes.
            #[cfg(unix)]
            Writer::Pipe(pipe) => pipe.send(line),
            #[cfg(unix)]
            Writer::Fifo(fifo) => fifo.send(line),
            Writer::Tcp(tcp) => tcp.send_async(line).await,
        }
    }

    /// Makes the child that `command` spawns, and no other process, inherit
    /// what it needs (only a pipe needs anything).
    pub(crate) fn inherit(&self, command: &mut Command) {
        match self {
            #[cfg(unix)]
            Writer::Pipe(pipe) => pipe.inherit(command),
            _ => {
                let _ = command;
            }
        }
    }

    /// The fd number a pipe writer's child writes to.
    pub(crate) fn fd(&self) -> Option<c_int> {
        match self {
            #[cfg(unix)]
            Writer::Pipe(pipe) => Some(pipe.fd),
            _ => None,
        }
    }

    /// A named writer's FIFO.
    pub(crate) fn path(&self) -> Option<&Path> {
        match self {
            #[cfg(unix)]
            Writer::Fifo(fifo) => Some(&fifo.path),
            _ => None,
        }
    }

    /// Where a remote writer's parent listens.
    pub(crate) fn remote_addr(&self) -> Option<SocketAddr> {
        match self {
            Writer::Tcp(tcp) => Some(tcp.addr),
            #[cfg(unix)]
            Writer::Pipe(_) | Writer::Fifo(_) => None,
        }
    }
}

impl fmt::Debug for Writer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            #[cfg(unix)]
            Writer::Pipe(pipe) => pipe.fmt_debug(f),
            #[cfg(unix)]
            Writer::Fifo(fifo) => fifo.fmt_debug(f),
            Writer::Tcp(tcp) => tcp.fmt_debug(f),
        }
    }
}

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
    /// End of stream, with no bytes at all (a pipe or a FIFO: Unix only).
    #[cfg_attr(windows, allow(dead_code))]
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
    #[cfg(unix)]
    pub(crate) creator: Option<Weak<WriteEnd>>,
    /// For a named writer: its private directory, removed when the
    /// receiver drops (it is held for that alone).
    #[cfg(unix)]
    pub(crate) _dir: Option<fifo::NamedDir>,
}

impl Receiver {
    /// A receiver that holds nothing but its input.
    pub(crate) fn of(input: Input) -> Receiver {
        Receiver {
            input,
            #[cfg(unix)]
            creator: None,
            #[cfg(unix)]
            _dir: None,
        }
    }

    /// Whether this process still holds the writer whose end the child
    /// should have had alone (a pipe's creator), which keeps the future
    /// from seeing the child die.
    pub(crate) fn writer_held(&self) -> bool {
        #[cfg(unix)]
        return self
            .creator
            .as_ref()
            .is_some_and(|creator| creator.strong_count() > 0);
        #[cfg(windows)]
        return false;
    }
}

/// The seam: what a report arrives on. Every transport's input has the same
/// methods, and this enum only forwards to them.
#[derive(Debug)]
pub(crate) enum Input {
    /// A nonblocking file: a pipe's read end, or a FIFO.
    #[cfg(unix)]
    File(file::FileInput),
    /// A TCP listener and its connections (boxed: it is large, and rare).
    Tcp(Box<tcp::TcpReceiver>),
}

impl Input {
    /// Reads what is there without waiting, and parses it.
    pub(crate) fn read<T>(&mut self, grammar: &Grammar<T>) -> Received<T> {
        match self {
            #[cfg(unix)]
            Input::File(file) => file.read(grammar),
            Input::Tcp(tcp) => tcp.read(grammar),
        }
    }

    /// The watched child exited: what arrived so far is all that will, so
    /// judge it as a whole report; `None` if there is nothing to judge.
    pub(crate) fn read_at_exit<T>(&mut self, grammar: &Grammar<T>) -> Option<Result<T, Error>> {
        match self {
            #[cfg(unix)]
            Input::File(file) => file.read_at_exit(grammar),
            // What the child sent is there by now; an exit ends no connection.
            Input::Tcp(tcp) => tcp.read_at_exit(grammar),
        }
    }

    /// Adds the fds a blocking wait polls.
    #[cfg(unix)]
    pub(crate) fn fds<'a>(&'a self, fds: &mut Vec<BorrowedFd<'a>>) {
        match self {
            Input::File(file) => fds.extend(file.fd()),
            Input::Tcp(tcp) => tcp.fds(fds),
        }
    }

    /// After a blocking wait: which of the fds from [`fds`](Self::fds), in
    /// the same order, are ready.
    #[cfg(unix)]
    pub(crate) fn mark_ready(&mut self, ready: &[bool]) {
        match self {
            Input::File(_) => {}
            Input::Tcp(tcp) => tcp.mark_ready(ready),
        }
    }

    /// When something must be looked at again without any fd being ready
    /// (a connection's deadline, say), for a blocking wait in `poll(2)`.
    #[cfg(unix)]
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        match self {
            #[cfg(unix)]
            Input::File(_) => None,
            Input::Tcp(tcp) => tcp.next_deadline(),
        }
    }

    /// Registers with the reactor what must wake the task; `Ready` if
    /// something is ready now.
    pub(crate) fn poll_readable(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self {
            #[cfg(unix)]
            Input::File(file) => file.poll_readable(cx),
            Input::Tcp(tcp) => tcp.poll_readable(cx),
        }
    }
}

/// Writes a report line to `fd`, mapping a gone reader to [`ErrorKind::Abandoned`].
#[cfg(unix)]
pub(crate) fn write_report(
    fd: BorrowedFd<'_>,
    line: &[u8],
    writer: &dyn Display,
) -> Result<(), Error> {
    crate::sys::write_all_without_sigpipe(fd, line).map_err(|e| {
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
