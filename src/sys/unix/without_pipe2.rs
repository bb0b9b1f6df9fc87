//! The interface of [`with_pipe2`](super::with_pipe2) in plain POSIX, for
//! macOS, which has no `pipe2`, `getrandom` or `sigtimedwait`. Built on
//! Linux too with `--cfg dynamic_port_posix`, so that these paths are
//! tested, not only type-checked (`ci/check.sh` runs the suite so).

use std::io;
use std::os::fd::RawFd;

use super::check;

/// `pipe()`, then `FD_CLOEXEC` on both ends.
///
/// Between the two calls the ends are inheritable: another thread that
/// forks and execs in that moment (a few hundred nanoseconds) may give its
/// child a copy of the write end. Nothing here can prevent it; what it
/// costs is told where it matters: a future that is not watched then sees
/// end of stream only once that unrelated child exits too, while a
/// [watched](crate::PortFuture::watch) one (every `spawn`) fails at the
/// watched child's exit whoever else holds the write end.
pub(super) fn pipe_cloexec() -> io::Result<[RawFd; 2]> {
    let mut fds = [-1 as RawFd; 2];
    // SAFETY: `fds` is a valid array of two ints for pipe to fill.
    check(unsafe { libc::pipe(fds.as_mut_ptr()) })?;
    for fd in fds {
        // SAFETY: F_SETFD takes an int argument and no pointers; `fd` was
        // just opened by pipe.
        if let Err(err) = check(unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) }) {
            for fd in fds {
                // SAFETY: both fds were opened above and nothing owns them yet.
                unsafe { libc::close(fd) };
            }
            return Err(err);
        }
    }
    Ok(fds)
}

/// The most `getentropy` gives in one call.
const GETENTROPY_MAX: usize = 256;

/// Fills `bytes` from the OS's random source (`getentropy`, in POSIX since 2024).
pub(super) fn random_bytes(bytes: &mut [u8]) -> io::Result<()> {
    for chunk in bytes.chunks_mut(GETENTROPY_MAX) {
        // SAFETY: `chunk` is a valid, writable buffer of at most 256 bytes.
        check(unsafe { libc::getentropy(chunk.as_mut_ptr().cast(), chunk.len()) })?;
    }
    Ok(())
}

/// Takes the pending signal of `set` (one that is blocked in this thread and
/// known to be pending): `sigwait` returns at once for a pending signal.
pub(super) fn take_pending(set: &libc::sigset_t) {
    let mut signal = 0;
    // SAFETY: valid pointers. The signal is blocked and pending (the caller
    // checked), so sigwait takes it without waiting.
    unsafe { libc::sigwait(set, &mut signal) };
}
