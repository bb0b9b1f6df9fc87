//! How a child ended, the same type on every platform; only turning it into
//! std's `ExitStatus` differs.

use std::process::ExitStatus;

/// How a process ended, read without reaping it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Exit {
    /// It called `exit` with this code (on Windows, the whole 32-bit exit
    /// code, such as `0xC0000005` for an access violation, as an `i32`).
    Code(i32),
    /// A signal killed it (Unix only).
    #[cfg_attr(windows, allow(dead_code))]
    Signal {
        /// The signal's number.
        signal: i32,
        /// Whether it dumped core.
        core_dumped: bool,
    },
    /// It is gone, but its status was already collected (by a `wait` that
    /// was not ours), so it is unknown.
    Collected,
}

impl Exit {
    /// In words, for an error message: "exited with exit code 3", "was
    /// killed by signal 9 (SIGKILL)".
    pub(crate) fn describe(self) -> String {
        match self {
            Exit::Code(code) => format!("exited with exit code {code}"),
            Exit::Signal {
                signal,
                core_dumped,
            } => {
                #[cfg(unix)]
                let name = super::signal_name(signal).map_or(String::new(), |n| format!(" ({n})"));
                #[cfg(windows)]
                let name = String::new();
                let core = if core_dumped { ", core dumped" } else { "" };
                format!("was killed by signal {signal}{name}{core}")
            }
            Exit::Collected => "exited (its status was already collected by a wait)".to_owned(),
        }
    }

    /// The same as std's `ExitStatus`, when known.
    pub(crate) fn status(self) -> Option<ExitStatus> {
        #[cfg(unix)]
        {
            use std::os::unix::process::ExitStatusExt;
            // The raw status word `waitpid` would have returned.
            let raw = match self {
                Exit::Code(code) => (code & 0xff) << 8,
                Exit::Signal {
                    signal,
                    core_dumped,
                } => signal | if core_dumped { 0x80 } else { 0 },
                Exit::Collected => return None,
            };
            Some(ExitStatus::from_raw(raw))
        }
        #[cfg(windows)]
        {
            use std::os::windows::process::ExitStatusExt;
            match self {
                Exit::Code(code) => Some(ExitStatus::from_raw(code as u32)),
                Exit::Signal { .. } | Exit::Collected => None,
            }
        }
    }
}
