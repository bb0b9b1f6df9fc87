//! The exit event on Unix: an fd that becomes readable when the child exits
//! ([`sys::exit_fd`]: a pidfd on Linux, a kqueue on macOS and FreeBSD),
//! registered with `async-io` only once a poll has to wait.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::task::{Context, Poll};

use crate::reactor::Lazy;
use crate::sys::{self, Exit};

/// A child's exit, as an fd.
#[derive(Debug)]
pub(super) struct ExitEvent {
    /// Readable once the child exits.
    fd: Lazy<OwnedFd>,
}

impl ExitEvent {
    /// The exit event of child `pid`; `None` where there is none (Linux
    /// before 5.4, `--cfg dynamic_port_posix`) or the child is gone already.
    pub(super) fn new(pid: u32) -> Option<ExitEvent> {
        match sys::exit_fd(pid) {
            // Linux 5.3 has pidfds but not `waitid(P_PIDFD)` (5.4), which
            // reads the exit: there, poll as without pidfds.
            Ok(fd) if sys::exit_through(fd.as_fd(), pid).is_err() => None,
            Ok(fd) => Some(ExitEvent {
                fd: Lazy::Plain(fd),
            }),
            // ESRCH: already exited or reaped, which a look by pid tells.
            // ENOSYS, Unsupported: no exit fds.
            Err(_) => None,
        }
    }

    /// Whether child `pid` has exited, and how; it stays a zombie for its owner.
    pub(super) fn exited(&self, pid: u32) -> io::Result<Option<Exit>> {
        match self.fd.fd() {
            Some(fd) => sys::exit_through(fd, pid),
            // Its registration failed: look by pid instead.
            None => sys::exit_of_pid(pid),
        }
    }

    /// The fd to wait on in `poll(2)`.
    pub(super) fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.fd.fd()
    }

    /// `Ready` when the child may have exited.
    pub(super) fn poll(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.fd.poll_readable(cx)
    }
}
