//! The child watcher behind [`PortFuture::watch`](crate::PortFuture::watch):
//! the child's exit event, registered with `async-io` like the report's
//! input, or, where there is none, a look at the child every
//! [`POLL_INTERVAL`]. The event is an fd on Unix ([`exit_fd`]: a pidfd on
//! Linux, a kqueue on macOS and FreeBSD) and the process handle on Windows
//! ([`process_handle`]). It never reaps: on Unix the exit is read with
//! `waitid(..., WNOWAIT)`, and the caller's `wait` still gets the status.

use std::future::Future;
use std::io;
#[cfg(unix)]
use std::os::fd::BorrowedFd;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use async_io::Timer;

use crate::sys::{self, Exit};

#[cfg(unix)]
mod exit_fd;
#[cfg(unix)]
use exit_fd::ExitEvent;
#[cfg(windows)]
mod process_handle;
#[cfg(windows)]
use process_handle::ExitEvent;

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
    /// The child's exit event.
    Event(ExitEvent),
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
        match ExitEvent::new(pid) {
            Some(event) => Watch {
                pid,
                how: How::Event(event),
            },
            None => Self::polling(pid),
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
            How::Event(event) => event.exited(self.pid),
            How::Polling { .. } => sys::exit_of_pid(self.pid),
            How::Reaped => Ok(Some(Exit::Collected)),
        }
    }

    /// The fd to wait on in `poll(2)`, if there is one.
    #[cfg(unix)]
    pub(crate) fn fd(&self) -> Option<BorrowedFd<'_>> {
        match &self.how {
            How::Event(event) => event.fd(),
            How::Polling { .. } | How::Reaped => None,
        }
    }

    /// The longest a blocking wait may sleep before looking at the child again.
    #[cfg(unix)]
    pub(crate) fn max_sleep(&self) -> Option<Duration> {
        match &self.how {
            How::Event(_) | How::Reaped => None,
            How::Polling { .. } => Some(POLL_INTERVAL),
        }
    }

    /// `Ready` when the child may have exited (look with [`exited`](Self::exited)),
    /// else `Pending` with `cx`'s waker kept.
    pub(crate) fn poll_maybe_exited(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.how {
            How::Event(event) => event.poll(cx),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_reaped_before_it_was_watched_has_no_pid_and_has_exited() {
        let watch = Watch::reaped();
        assert_eq!(watch.pid(), None);
        assert_eq!(watch.exited().unwrap(), Some(Exit::Collected));
        // A watched one has its pid.
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .arg("--list")
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let watch = Watch::new(child.id());
        assert_eq!(watch.pid(), Some(child.id()));
        child.wait().unwrap();
    }
}
