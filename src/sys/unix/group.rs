//! Process groups, for the [`Server`](crate::Server): signalling a whole
//! group, and a hook that tells the guardian a new group's id before the
//! program runs.

use std::io;
use std::os::fd::RawFd;
use std::os::unix::process::CommandExt;
use std::process::Command;

use super::check;

/// The signals a server is stopped with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stop {
    /// `SIGTERM`: please exit.
    Term,
    /// `SIGKILL`: now.
    Kill,
}

/// Sends `signal` to every process of group `group`. `Ok(false)` when the
/// group has no process left (`ESRCH`).
pub(crate) fn signal_group(group: u32, signal: Stop) -> io::Result<bool> {
    let group =
        libc::pid_t::try_from(group).map_err(|_| io::Error::from_raw_os_error(libc::ESRCH))?;
    if group <= 1 {
        // kill(0) and kill(-1) mean "my group" and "everyone": never.
        return Err(io::Error::from_raw_os_error(libc::ESRCH));
    }
    let signal = match signal {
        Stop::Term => libc::SIGTERM,
        Stop::Kill => libc::SIGKILL,
    };
    // SAFETY: kill takes two integers and no pointers; a negative pid names
    // a process group, and `group` is more than 1.
    match check(unsafe { libc::kill(-group, signal) }) {
        Ok(_) => Ok(true),
        Err(err) if err.raw_os_error() == Some(libc::ESRCH) => Ok(false),
        Err(err) => Err(err),
    }
}

/// Makes the child that `command` spawns write its own pid, as a decimal
/// line, to `fd` before it runs the program: so that whoever reads `fd`
/// knows the child (and its process group, when it leads one) before the
/// program can do anything. A failed write does not fail the spawn.
///
/// `fd` must stay open for as long as `command` may spawn; it is
/// close-on-exec, so the program itself never holds it.
pub(crate) fn announce_pid_on_exec(command: &mut Command, fd: RawFd) {
    let hook = move || {
        // SAFETY: getpid takes nothing and cannot fail.
        let pid = unsafe { libc::getpid() };
        let mut line = [0u8; 24];
        let len = decimal_line(pid.unsigned_abs(), &mut line);
        // SAFETY: `line[..len]` is valid memory; write is
        // async-signal-safe. A short or failed write is ignored: the
        // guardian then does not know this child, which is all that is lost.
        let _ = unsafe { libc::write(fd, line.as_ptr().cast(), len) };
        Ok(())
    };
    // SAFETY: the hook runs in the forked child before exec. It calls only
    // getpid and write (async-signal-safe) and formats into a stack buffer:
    // no allocation, no lock, no memory another thread may hold.
    unsafe { command.pre_exec(hook) };
}

/// Writes `value` and a newline into `out` in decimal, without allocating;
/// returns the length. 24 bytes hold any `u32` and its newline.
fn decimal_line(mut value: u32, out: &mut [u8; 24]) -> usize {
    let mut digits = [0u8; 10];
    let mut count = 0;
    loop {
        digits[count] = b'0' + (value % 10) as u8;
        count += 1;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    for (i, digit) in digits[..count].iter().rev().enumerate() {
        out[i] = *digit;
    }
    out[count] = b'\n';
    count + 1
}

#[cfg(test)]
mod tests {
    use super::decimal_line;

    #[test]
    fn decimal_lines_are_exact() {
        for value in [0, 7, 10, 4_194_304, u32::MAX] {
            let mut out = [0u8; 24];
            let len = decimal_line(value, &mut out);
            assert_eq!(&out[..len], format!("{value}\n").as_bytes());
        }
    }
}
