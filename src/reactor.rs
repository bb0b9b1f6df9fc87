//! Registration of an fd with `async-io`'s reactor, made only when a poll
//! first has to wait: a blocking [`wait`](crate::PortFuture::wait), and a
//! report that is already there, never touch the reactor.

use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::task::{Context, Poll};

use async_io::Async;

/// An fd, registered with the reactor on the first [`poll_readable`](Self::poll_readable).
#[derive(Debug)]
pub(crate) enum Lazy<T: AsFd> {
    /// Not registered (yet).
    Plain(T),
    /// Registered with the reactor.
    Watched(Async<T>),
    /// Only while switching from one to the other, or after a failed registration.
    Gone,
}

impl<T: AsFd> Lazy<T> {
    /// The wrapped fd.
    ///
    /// # Panics
    ///
    /// After a registration failed (the caller resolves with the error then).
    pub(crate) fn get(&self) -> &T {
        match self {
            Lazy::Plain(inner) => inner,
            Lazy::Watched(watched) => watched.get_ref(),
            Lazy::Gone => panic!("used after its registration failed"),
        }
    }

    /// The fd, borrowed.
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.get().as_fd()
    }

    /// Registers (once) and polls for readability: `Ready` when the fd is
    /// readable (or maybe spuriously), else `Pending` with `cx`'s waker kept.
    pub(crate) fn poll_readable(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Lazy::Plain(_) = self {
            let Lazy::Plain(inner) = std::mem::replace(self, Lazy::Gone) else {
                unreachable!()
            };
            // Every fd given here is nonblocking already, or never read (a pidfd).
            *self = Lazy::Watched(Async::new_nonblocking(inner)?);
        }
        match self {
            Lazy::Watched(watched) => watched.poll_readable(cx),
            _ => Poll::Ready(Err(io::Error::other("the fd could not be registered"))),
        }
    }
}
