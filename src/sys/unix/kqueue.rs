//! A child's exit as a readable fd on macOS and FreeBSD: a kqueue of its
//! own holding one `EVFILT_PROC`/`NOTE_EXIT` event for the child. A kqueue
//! is readable while an event is pending, and the event is never taken
//! from it, so, like a pidfd, it stays readable once the child exited; it
//! can be polled with `poll(2)` and registered with `async-io`'s reactor
//! (itself a kqueue). The exit is read with `waitid(..., WNOWAIT)`, so the
//! child is never reaped.
//!
//! Type-checked for macOS and FreeBSD in CI; it cannot run on Linux, where
//! `--cfg dynamic_port_posix` takes [`no_exit_fd`](super::no_exit_fd) instead.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use super::check;
use super::process::exit_of_pid;
use crate::sys::Exit;

/// A kqueue that becomes readable when child `pid` exits. `ESRCH` for a
/// process that has exited already (a zombie cannot be watched): the caller
/// then looks at it by pid, and finds it exited.
pub(crate) fn exit_fd(pid: u32) -> io::Result<OwnedFd> {
    // SAFETY: kqueue takes no arguments.
    let kq = check(unsafe { libc::kqueue() })?;
    // SAFETY: kqueue returned a new open fd that nothing else owns.
    let kq = unsafe { OwnedFd::from_raw_fd(kq) };
    // A kqueue is not inherited across `fork`; close-on-exec covers `exec`
    // from a `vfork`/`posix_spawn` child too.
    // SAFETY: F_SETFD takes an int argument and no pointers.
    check(unsafe { libc::fcntl(kq.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) })?;
    // SAFETY: an all-zero kevent is valid (integers and a null pointer).
    let mut event: libc::kevent = unsafe { std::mem::zeroed() };
    event.ident = pid as libc::uintptr_t;
    event.filter = libc::EVFILT_PROC;
    event.flags = libc::EV_ADD | libc::EV_RECEIPT;
    event.fflags = libc::NOTE_EXIT;
    // SAFETY: one valid change; EV_RECEIPT makes kevent report the result
    // of the change in `receipt` instead of waiting for events, and the
    // zero timeout means it never blocks.
    let mut receipt: libc::kevent = unsafe { std::mem::zeroed() };
    let zero = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: valid pointers to one change and room for one receipt.
    check(unsafe { libc::kevent(kq.as_raw_fd(), &event, 1, &mut receipt, 1, &zero) })?;
    if receipt.flags & libc::EV_ERROR != 0 && receipt.data != 0 {
        return Err(io::Error::from_raw_os_error(receipt.data as i32));
    }
    Ok(kq)
}

/// Whether child `pid` has exited, and how, without reaping it: the kqueue
/// says only when to look, `waitid` tells.
pub(crate) fn exit_through(_kqueue: BorrowedFd<'_>, pid: u32) -> io::Result<Option<Exit>> {
    exit_of_pid(pid)
}
