//! The exit event on Windows: the child's process handle, signaled when it
//! exits, registered with `async-io`'s `Waitable` once a poll has to wait.

use std::io;
use std::os::windows::io::{AsHandle, OwnedHandle};
use std::task::{Context, Poll};

use async_io::os::windows::Waitable;

use crate::sys::{self, Exit};

/// A child's exit, as its process handle.
#[derive(Debug)]
pub(super) struct ExitEvent {
    /// The handle, registered or not.
    handle: State,
}

/// Whether the handle is registered with the reactor.
#[derive(Debug)]
enum State {
    /// Not registered (yet).
    Plain(OwnedHandle),
    /// Registered.
    Watched(Waitable<OwnedHandle>),
    /// The registration failed, and the handle went with it.
    Failed,
}

impl ExitEvent {
    /// The exit event of child `pid`; `None` if its handle cannot be opened.
    pub(super) fn new(pid: u32) -> Option<ExitEvent> {
        sys::exit_handle(pid).ok().map(|handle| ExitEvent {
            handle: State::Plain(handle),
        })
    }

    /// Whether the child has exited, and with which code.
    pub(super) fn exited(&self, _pid: u32) -> io::Result<Option<Exit>> {
        match &self.handle {
            State::Plain(handle) => sys::exit_of_handle(handle.as_handle()),
            State::Watched(waitable) => sys::exit_of_handle(waitable.get_ref().as_handle()),
            State::Failed => Err(io::Error::other(
                "the child's process handle could not be registered with the reactor",
            )),
        }
    }

    /// `Ready` when the child may have exited.
    pub(super) fn poll(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let State::Plain(_) = self.handle {
            let State::Plain(handle) = std::mem::replace(&mut self.handle, State::Failed) else {
                unreachable!("matched as Plain just above")
            };
            self.handle = State::Watched(Waitable::new(handle)?);
        }
        match &self.handle {
            State::Watched(waitable) => waitable.poll_ready(cx),
            _ => Poll::Ready(self.exited(0).map(drop)),
        }
    }
}
