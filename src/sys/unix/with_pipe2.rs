//! The calls that make an fd close-on-exec as it is born and fill random
//! bytes in one step, where the OS has them (Linux, FreeBSD): `pipe2`,
//! `getrandom` and `sigtimedwait`. [`without_pipe2`](super::without_pipe2)
//! is the same interface in plain POSIX, for macOS.

use std::io;
use std::os::fd::RawFd;

use super::check;

/// `pipe2(O_CLOEXEC)`: `[read end, write end]`, close-on-exec from birth,
/// so no other thread's `fork` can inherit them.
pub(super) fn pipe_cloexec() -> io::Result<[RawFd; 2]> {
    let mut fds = [-1 as RawFd; 2];
    // SAFETY: `fds` is a valid array of two ints for pipe2 to fill.
    check(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) })?;
    Ok(fds)
}

/// Fills `bytes` from the OS's random source (`getrandom(2)`, which blocks
/// only until the kernel's pool is first seeded).
pub(super) fn random_bytes(mut bytes: &mut [u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        // SAFETY: `bytes` is a valid, writable buffer of its length.
        let got = unsafe { libc::getrandom(bytes.as_mut_ptr().cast(), bytes.len(), 0) };
        if got < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(err);
        }
        bytes = &mut bytes[got as usize..];
    }
    Ok(())
}

/// Takes the pending signal of `set` (one that is blocked in this thread and
/// known to be pending), without waiting.
pub(super) fn take_pending(set: &libc::sigset_t) {
    let zero = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: valid pointers; a null siginfo pointer is allowed. A zero
    // timeout never blocks.
    unsafe { libc::sigtimedwait(set, std::ptr::null_mut(), &zero) };
}
