//! The parent's input for a pipe and a FIFO: a nonblocking file, read into
//! one buffer until the grammar says the report is whole.

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::BorrowedFd;
use std::task::{Context, Poll};

use super::{Grammar, Received};
use crate::error::{Error, ErrorKind};
use crate::reactor::Lazy;

/// A nonblocking file and what was read from it.
pub(crate) struct FileInput {
    /// The file: a pipe's read end, or a FIFO open for reading and writing.
    file: Lazy<File>,
    /// The bytes received so far (allocated on the first read).
    received: Vec<u8>,
    /// How many bytes of `received` are filled.
    len: usize,
}

impl FileInput {
    /// Reads `file`, which must be nonblocking.
    pub(crate) fn new(file: File) -> FileInput {
        FileInput {
            file: Lazy::Plain(file),
            received: Vec::new(),
            len: 0,
        }
    }

    /// Reads what is there without waiting, and parses it.
    pub(crate) fn read<T>(&mut self, grammar: &Grammar<T>) -> Received<T> {
        let file = match self.file.get() {
            Ok(file) => file,
            Err(err) => return Received::Done(Err(Error::io("could not read the report", err))),
        };
        if self.received.len() < grammar.capacity {
            self.received.resize(grammar.capacity, 0);
        }
        loop {
            // The grammar fails once `capacity` bytes hold no whole report,
            // so there is always room here, and a 0-byte read means end of stream.
            debug_assert!(self.len < grammar.capacity);
            match (&*file).read(&mut self.received[self.len..grammar.capacity]) {
                Ok(0) if self.len == 0 => return Received::Closed,
                Ok(read) => {
                    self.len += read;
                    let end_of_stream = read == 0;
                    match (grammar.parse)(&self.received[..self.len], end_of_stream, None) {
                        Ok(None) => continue,
                        Ok(Some(report)) => return Received::Done(Ok(report)),
                        Err(err) => return Received::Done(Err(err)),
                    }
                }
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => return Received::WouldBlock,
                Err(err) => {
                    return Received::Done(Err(Error::io("could not read the report", err)))
                }
            }
        }
    }

    /// What arrived before the child exited, judged as the whole report.
    pub(crate) fn read_at_exit<T>(&mut self, grammar: &Grammar<T>) -> Option<Result<T, Error>> {
        if self.len == 0 {
            return None;
        }
        match (grammar.parse)(&self.received[..self.len], true, None) {
            Ok(Some(report)) => Some(Ok(report)),
            Err(err) if err.kind() == ErrorKind::MalformedReport => Some(Err(err)),
            _ => None,
        }
    }

    /// The fd a blocking wait polls.
    pub(crate) fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.file.fd()
    }

    /// Registers the file with the reactor; `Ready` if it is readable.
    pub(crate) fn poll_readable(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.file.poll_readable(cx)
    }
}

impl fmt::Debug for FileInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileInput")
            .field("file", &self.file)
            .field(
                "received",
                &self.received[..self.len].escape_ascii().to_string(),
            )
            .finish()
    }
}
