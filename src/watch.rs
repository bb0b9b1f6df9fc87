//! The child watcher behind [`PortFuture::watch`](crate::PortFuture::watch):
//! an fd that becomes readable when the child exits (a pidfd on Linux, a
//! kqueue on macOS and FreeBSD: [`sys::exit_fd`]), registered with
//! `async-io` like the report's fd, or, where there is none, a look at the
//! child every [`POLL_INTERVAL`]. It never reaps: the exit is read with
//! `waitid(..., WNOWAIT)`, and the caller's `wait` still gets the status.

use std::future::Future;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use async_io::Timer;

use crate::reactor::Lazy;
use crate::sys::{self, Exit};

/// How often a child is looked at where there is no exit fd.
pub(crate) const POLL_INTERVAL: Duration = Duration::from_millis(10);

/// A watched child.
#[derive(Debug)]
pub(crate) struct Watch {
    /// Its pid.
    pid: u32,
    /// How its exit is noticed.
    how: How,
}

/// How a child's exit is noticed.
#[derive(Debug)]
enum How {
    /// An fd that is readable once the child exits ([`sys::exit_fd`]).
    ExitFd(Lazy<OwnedFd>),
    /// No exit fd (Linux before 5.4, `--cfg dynamic_port_posix`): a look
    /// every [`POLL_INTERVAL`].
    Polling {
        /// The timer of the next look, under an executor.
        timer: Option<Timer>,
    },
    /// The child was reaped before it was watched.
    Reaped,
}

impl Watch {
    /// Watches child `pid` through its exit fd, or by polling where there is none.
    ///
    /// Built with `--cfg dynamic_port_posix`, Linux has no exit fd and
    /// always polls, so that the tests of that fallback run here too
    /// (`ci/check.sh` runs them so).
    pub(crate) fn new(pid: u32) -> Watch {
        match sys::exit_fd(pid) {
            // Linux 5.3 has pidfds but not `waitid(P_PIDFD)` (5.4), which
            // reads the exit: there, poll as without pidfds.
            Ok(fd) if sys::exit_through(fd.as_fd(), pid).is_err() => Self::polling(pid),
            Ok(fd) => Watch {
                pid,
                how: How::ExitFd(Lazy::Plain(fd)),
            },
            // ESRCH: already exited or reaped; `exited` tells. ENOSYS,
            // Unsupported: no exit fds.
            Err(_) => Self::polling(pid),
        }
    }

    /// Watches child `pid` by polling, as where there is no exit fd.
    pub(crate) fn polling(pid: u32) -> Watch {
        Watch {
            pid,
            how: How::Polling { timer: None },
        }
    }

    /// Watches a child that was already reaped (its pid forgotten): it has exited.
    pub(crate) fn reaped() -> Watch {
        Watch {
            pid: 0,
            how: How::Reaped,
        }
    }

    /// The watched pid; `None` for a child reaped before it was watched.
    pub(crate) fn pid(&self) -> Option<u32> {
        match self.how {
            How::Reaped => None,
            _ => Some(self.pid),
        }
    }

    /// Whether the child has exited, and how; it stays a zombie for its owner.
    pub(crate) fn exited(&self) -> io::Result<Option<Exit>> {
        match &self.how {
            How::ExitFd(exit_fd) => match exit_fd.fd() {
                Some(fd) => sys::exit_through(fd, self.pid),
                // Its registration failed: look by pid instead.
                None => sys::exit_of_pid(self.pid),
            },
            How::Polling { .. } => sys::exit_of_pid(self.pid),
            How::Reaped => Ok(Some(Exit::Collected)),
        }
    }

    /// The fd to wait on in `poll(2)`, if there is one.
    pub(crate) fn fd(&self) -> Option<BorrowedFd<'_>> {
        match &self.how {
            How::ExitFd(exit_fd) => exit_fd.fd(),
            How::Polling { .. } | How::Reaped => None,
        }
    }

    /// The longest a blocking wait may sleep before looking at the child again.
    pub(crate) fn max_sleep(&self) -> Option<Duration> {
        match &self.how {
            How::ExitFd(_) | How::Reaped => None,
            How::Polling { .. } => Some(POLL_INTERVAL),
        }
    }

    /// `Ready` when the child may have exited (look with [`exited`](Self::exited)),
    /// else `Pending` with `cx`'s waker kept.
    pub(crate) fn poll_maybe_exited(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.how {
            How::ExitFd(exit_fd) => exit_fd.poll_readable(cx),
            How::Polling { timer } => {
                let timer = timer.get_or_insert_with(|| Timer::after(POLL_INTERVAL));
                match Pin::new(timer).poll(cx) {
                    Poll::Ready(_) => {
                        self.how = How::Polling { timer: None };
                        Poll::Ready(Ok(()))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
            How::Reaped => Poll::Ready(Ok(())),
        }
    }
}
