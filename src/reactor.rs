//! Registration of an fd with `async-io`'s reactor, made only when a poll
//! first has to wait: a blocking [`wait`](crate::PortFuture::wait), and a
//! report that is already there, never touch the reactor.

use std::io;
#[cfg(unix)]
use std::os::fd::{AsFd as Source, BorrowedFd};
#[cfg(windows)]
use std::os::windows::io::AsSocket as Source;
use std::task::{Context, Poll};

use async_io::Async;

/// An fd (a socket on Windows), registered with the reactor on the first
/// [`poll_readable`](Self::poll_readable).
#[derive(Debug)]
pub(crate) enum Lazy<T: Source> {
    /// Not registered (yet).
    Plain(T),
    /// Registered with the reactor.
    Watched(Async<T>),
    /// The registration failed (`epoll_ctl` out of memory, say), and the fd
    /// went with it: every use is an error, never a panic.
    Failed,
}

impl<T: Source> Lazy<T> {
    /// The wrapped fd, or an error once its registration failed.
    pub(crate) fn get(&self) -> io::Result<&T> {
        match self {
            Lazy::Plain(inner) => Ok(inner),
            Lazy::Watched(watched) => Ok(watched.get_ref()),
            Lazy::Failed => Err(registration_failed()),
        }
    }

    /// The fd, borrowed; `None` once its registration failed.
    #[cfg(unix)]
    pub(crate) fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.get().ok().map(Source::as_fd)
    }

    /// Registers (once) and polls for readability: `Ready` when the fd is
    /// readable (or maybe spuriously), else `Pending` with `cx`'s waker kept.
    /// A failed registration is `Ready(Err)`, now and on every later call.
    pub(crate) fn poll_readable(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Lazy::Plain(_) = self {
            let Lazy::Plain(inner) = std::mem::replace(self, Lazy::Failed) else {
                unreachable!("matched as Plain just above")
            };
            #[cfg(test)]
            if faults::take_registration_failure() {
                return Poll::Ready(Err(io::Error::other("injected: no room in the reactor")));
            }
            // Every fd given here is nonblocking already, or never read (a pidfd).
            *self = Lazy::Watched(Async::new_nonblocking(inner)?);
        }
        match self {
            Lazy::Watched(watched) => watched.poll_readable(cx),
            _ => Poll::Ready(Err(registration_failed())),
        }
    }
}

/// The error of an fd whose registration failed.
fn registration_failed() -> io::Error {
    io::Error::other("the fd could not be registered with the reactor")
}

/// Faults the unit tests inject: the registration failures that `epoll_ctl`
/// gives under memory pressure (`ENOSPC`, `ENOMEM`), which no test can
/// cause from outside without starving the whole machine.
#[cfg(test)]
pub(crate) mod faults {
    use std::cell::Cell;

    thread_local! {
        /// How many of this thread's next registrations fail.
        static FAILING: Cell<u32> = const { Cell::new(0) };
    }

    /// Makes this thread's next `count` registrations fail.
    pub(crate) fn fail_registrations(count: u32) {
        FAILING.with(|failing| failing.set(count));
    }

    /// Whether this registration is to fail (and counts it).
    pub(super) fn take_registration_failure() -> bool {
        FAILING.with(|failing| {
            let left = failing.get();
            failing.set(left.saturating_sub(1));
            left > 0
        })
    }
}
