//! Reading a child process's exit without reaping it: `waitid(..., WNOWAIT)`.
//! What makes the exit an event is per platform: [`exit_fd`](super::exit_fd).

use std::io;

use super::check;
use crate::sys::Exit;

/// Whether this process's child `pid` has exited, and how, without reaping it.
pub(crate) fn exit_of_pid(pid: u32) -> io::Result<Option<Exit>> {
    waitid_nowait(libc::P_PID, pid as libc::id_t)
}

/// `waitid(idtype, id, WEXITED | WNOHANG | WNOWAIT)`: the exit of a child,
/// if it has exited, leaving it a zombie for its owner's `wait`. A child
/// already reaped by someone else (`ECHILD`) is [`Exit::Collected`].
pub(super) fn waitid_nowait(idtype: libc::idtype_t, id: libc::id_t) -> io::Result<Option<Exit>> {
    loop {
        // SAFETY: an all-zero siginfo_t is valid (plain integers and unions
        // of them); waitid fills it. Zeroed, `si_pid` stays 0 under WNOHANG
        // when no child has exited, which is how that case is told apart.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: `info` is a valid, writable siginfo_t.
        let ret = unsafe {
            libc::waitid(
                idtype,
                id,
                &mut info,
                libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
            )
        };
        match check(ret) {
            Ok(_) => {}
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) if err.raw_os_error() == Some(libc::ECHILD) => {
                return Ok(Some(Exit::Collected))
            }
            Err(err) => return Err(err),
        }
        // SAFETY: waitid filled `info` for a SIGCHLD-style event: the
        // `_sigchld` member is the one in use, so si_pid and si_status read
        // initialised integers (zero when nothing had exited).
        let (pid, status) = unsafe { (info.si_pid(), info.si_status()) };
        if pid == 0 {
            return Ok(None);
        }
        return Ok(Some(match info.si_code {
            libc::CLD_EXITED => Exit::Code(status),
            libc::CLD_DUMPED => Exit::Signal {
                signal: status,
                core_dumped: true,
            },
            _ => Exit::Signal {
                signal: status,
                core_dumped: false,
            },
        }));
    }
}

/// The conventional name of signal `signal`, such as `SIGKILL`, if it is a common one.
pub(crate) fn signal_name(signal: i32) -> Option<&'static str> {
    Some(match signal {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGUSR2 => "SIGUSR2",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        _ => return None,
    })
}
