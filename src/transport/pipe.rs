//! The inherited pipe: the write end's fd number is the same in parent and
//! child, and only the child given it inherits it.

use std::fmt;
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::process::Command;
use std::sync::{Arc, Weak};

use super::file::FileInput;
use super::{write_report, Input, Receiver};
use crate::error::{Error, ErrorKind};
use crate::protocol::{self, WriterText};
use crate::registry::{ClaimKey, Registry, WriteEnd};
use crate::sys::{self, Probe};

/// A writer that reports through an inherited pipe.
#[derive(Clone)]
pub(crate) struct PipeWriter {
    /// The fd number of the write end, the same in parent and child.
    pub(crate) fd: RawFd,
    /// The pipe's inode, when known (always, except for a bare fd number
    /// parsed where that fd is not a pipe's write end).
    pub(crate) inode: Option<u64>,
    /// In the creating process: the shared write end.
    created: Option<Arc<WriteEnd>>,
}

impl PipeWriter {
    /// Creates a pipe; returns the writer and the parent's receiver.
    pub(crate) fn create() -> Result<(PipeWriter, Receiver), Error> {
        let (read_end, write_end) =
            sys::pipe().map_err(|e| Error::io("could not create the pipe", e))?;
        let inode = sys::inode(write_end.as_fd())
            .map_err(|e| Error::io("could not stat the new pipe", e))?;
        let fd = write_end.as_raw_fd();
        let end = Arc::new(WriteEnd {
            fd: write_end,
            inode,
            claim: Arc::default(),
        });
        Registry::lock().add_created(Arc::downgrade(&end), fd);
        let receiver = Receiver {
            input: Input::File(FileInput::new(File::from(read_end))),
            creator: Some(Arc::downgrade(&end)),
            _dir: None,
        };
        let writer = PipeWriter {
            fd,
            inode: Some(inode),
            created: Some(end),
        };
        Ok((writer, receiver))
    }

    /// Makes a writer from parsed text, doing the one piece of I/O parsing does.
    pub(crate) fn from_parts(fd: RawFd, inode: Option<u64>) -> PipeWriter {
        // In the process that created the pipe: share its write end, so that
        // reporting through the parsed copy never closes the creator's fd.
        let created = Registry::lock().created(fd);
        // Upgraded after the lock is released: see the registry's rule.
        if let Some(end) = created.as_ref().and_then(Weak::upgrade) {
            if inode.is_none_or(|inode| inode == end.inode) {
                return PipeWriter {
                    fd,
                    inode: Some(end.inode),
                    created: Some(end),
                };
            }
        }
        // Anywhere else, typically in the child: if the fd is the pipe named
        // and was inherited (not close-on-exec), record it as ours and mark
        // it close-on-exec, so the child's own children do not inherit it.
        let inode = match sys::take_inherited(fd, inode) {
            (Probe::WriteEnd { inode }, Some(proof)) => {
                Registry::lock().add_inherited(fd, inode, proof);
                Some(inode)
            }
            (Probe::WriteEnd { inode }, None) => Some(inode),
            _ => inode,
        };
        PipeWriter {
            fd,
            inode,
            created: None,
        }
    }

    /// Whether the creating process still holds this writer's write end.
    pub(crate) fn is_creator(&self) -> bool {
        self.created.is_some()
    }

    /// Makes the child that `command` spawns, and no other process, inherit
    /// the write end.
    pub(crate) fn inherit(&self, command: &mut Command) {
        // A writer this process inherited (no owner) is passed on to a grandchild as is.
        let owner = self.created.as_ref().map(Arc::downgrade);
        sys::inherit_on_exec(command, self.fd, self.inode, owner);
    }

    /// Writes a report line through the pipe, then (in a child) closes the fd.
    /// The report is recorded only once it was written: after a failed
    /// write (other than to a pipe nobody reads), the fd stays open and the
    /// writer may try again.
    pub(crate) fn send(&self, line: &[u8]) -> Result<(), Error> {
        if let Some(end) = &self.created {
            let sending = end.claim.begin().map_err(|why| super::refused(self, why))?;
            write_report(end.fd.as_fd(), line, self)?;
            sending.commit();
            return Ok(());
        }
        let mut registry = Registry::lock();
        let inode = match sys::probe(self.fd, self.inode) {
            Probe::WriteEnd { inode } => inode,
            found => {
                // A copy that reported closed the fd: say that, not "not open".
                if let Some(inode) = self.inode {
                    if registry.claim(ClaimKey::Pipe(self.fd, inode)).is_reported() {
                        return Err(super::already_reported(self));
                    }
                }
                return Err(self.not_inherited(found));
            }
        };
        let claim = registry.claim(ClaimKey::Pipe(self.fd, inode));
        let sending = claim.begin().map_err(|why| super::refused(self, why))?;
        let Some(proof) = registry.take_inherited(self.fd, inode) else {
            return Err(self.not_ours());
        };
        drop(registry);
        let fd = sys::adopt(proof);
        match write_report(fd.as_fd(), line, self) {
            Ok(()) => {
                sending.commit();
                Ok(())
                // `fd` closes here: the child holds no copy once it reported.
            }
            // Nobody will ever read it: close it.
            Err(err) if err.kind() == ErrorKind::Abandoned => Err(err),
            Err(err) => {
                // Keep it for another try, as it was before.
                Registry::lock().add_inherited(self.fd, inode, sys::give_back(fd));
                Err(err)
            }
        }
    }

    /// The error for an fd that is not the named pipe's write end.
    fn not_inherited(&self, found: Probe) -> Error {
        let fd = self.fd;
        let what = match found {
            Probe::NotOpen => format!("fd {fd} is not open in this process"),
            Probe::NotAPipe { file_type } => format!("fd {fd} is a {file_type}, not a pipe"),
            Probe::ReadEnd => format!("fd {fd} is the read end of a pipe, not the write end"),
            Probe::OtherPipe { inode } => format!("fd {fd} is another pipe (inode {inode})"),
            Probe::WriteEnd { .. } => format!("fd {fd} is the pipe"),
        };
        Error::new(
            ErrorKind::NotInherited,
            format!("{what}, so the writer {self} wrote nothing; was it passed with pass_to?"),
        )
    }

    /// The error for a pipe this process holds but did not inherit for us.
    fn not_ours(&self) -> Error {
        Error::new(
            ErrorKind::NotInherited,
            format!(
                "fd {} was not inherited (it is close-on-exec, so this process opened it), \
                 so the writer {self} wrote nothing; was it passed with pass_to?",
                self.fd
            ),
        )
    }
}

impl fmt::Display for PipeWriter {
    /// `FD:pipe:INODE`, or the bare `FD` when the pipe is unknown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&protocol::format_writer(&self.text()))
    }
}

impl PipeWriter {
    /// The debug output of a [`DynamicPortWriter`](crate::DynamicPortWriter) of this kind.
    pub(crate) fn fmt_debug(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DynamicPortWriter")
            .field("fd", &self.fd)
            .field("pipe", &self.inode)
            .field("creator", &self.is_creator())
            .finish()
    }

    /// The parsed text form.
    pub(crate) fn text(&self) -> WriterText {
        WriterText::Pipe {
            fd: self.fd,
            inode: self.inode,
        }
    }
}
