//! A child's exit as a readable fd on Linux: a pidfd (`pidfd_open`, 5.3),
//! read with `waitid(P_PIDFD, ..., WNOWAIT)` (5.4).

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use super::process::waitid_nowait;
use crate::sys::Exit;

/// Opens a pidfd for `pid`: an fd that becomes readable when the process
/// exits. Close-on-exec, as every pidfd is. `ENOSYS` before Linux 5.3;
/// `ESRCH` for a process that is gone.
pub(crate) fn exit_fd(pid: u32) -> io::Result<OwnedFd> {
    let pid = libc::pid_t::try_from(pid).map_err(|_| io::Error::from_raw_os_error(libc::ESRCH))?;
    // SAFETY: pidfd_open takes two integers and no pointers.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0 as libc::c_uint) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the syscall returned a new open fd that nothing else owns.
    // A pid is at most 2^22 on Linux, an fd fits in an int.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as libc::c_int) })
}

/// Whether the process behind `pidfd` (child `pid`) has exited, and how,
/// without reaping it. `EINVAL` on Linux 5.3, which has pidfds but not
/// `P_PIDFD`.
pub(crate) fn exit_through(pidfd: BorrowedFd<'_>, _pid: u32) -> io::Result<Option<Exit>> {
    waitid_nowait(libc::P_PIDFD, pidfd.as_raw_fd() as libc::id_t)
}
