//! The terminal: the program, then `--then`'s command, runs in its
//! foreground process group while dynamic-port waits, so that it can read
//! it; dynamic-port takes the terminal back afterwards.
//!
//! dynamic-port blocks SIGTTOU for its whole life (see
//! [`supervise`](crate::supervise)), so that it may set the foreground
//! group and write its lines while the program holds the terminal.

use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};
use std::process::Command;
use std::sync::Arc;

use rustix::process::{getpgrp, Pid};
use rustix::termios::{tcgetpgrp, tcsetpgrp};

use crate::sys;

/// dynamic-port's controlling terminal.
#[derive(Debug)]
pub(crate) struct Terminal {
    /// An fd of it: a copy of stdin when stdin is the terminal, else `/dev/tty`.
    tty: Arc<OwnedFd>,
    /// dynamic-port's own process group, which the shell puts in the foreground.
    own_group: Pid,
}

impl Terminal {
    /// The controlling terminal: stdin when it is one, else `/dev/tty`;
    /// `None` for a process without one (a CI job, a daemon).
    pub(crate) fn open() -> Option<Terminal> {
        let stdin = std::io::stdin();
        // tcgetpgrp works only on this process's controlling terminal.
        let tty: OwnedFd = if tcgetpgrp(&stdin).is_ok() {
            stdin.as_fd().try_clone_to_owned().ok()?
        } else {
            File::options()
                .read(true)
                .write(true)
                .open("/dev/tty")
                .ok()?
                .into()
        };
        // Fails for a terminal that is not this process's controlling one.
        tcgetpgrp(&tty).ok()?;
        Some(Terminal {
            tty: Arc::new(tty),
            own_group: getpgrp(),
        })
    }

    /// Makes the child that `command` spawns, in a process group of its
    /// own, take the terminal before it execs, if dynamic-port holds it.
    pub(crate) fn hand_over_on_exec(&self, command: &mut Command) {
        sys::take_terminal_on_exec(command, Arc::clone(&self.tty), self.own_group);
    }

    /// Gives the terminal to `group` if dynamic-port's own group holds it
    /// (as after the shell's `fg`), and not if the shell kept it (`bg`).
    pub(crate) fn give_to(&self, group: Pid) {
        if self.foreground() == Some(self.own_group) {
            let _ = tcsetpgrp(&*self.tty, group);
        }
    }

    /// Takes the terminal back from `group`, if `group` holds it (or held
    /// it and is gone), but never from the shell.
    pub(crate) fn take_back(&self, group: Pid) {
        let foreground = self.foreground();
        if foreground == Some(group) || foreground.is_none() {
            let _ = tcsetpgrp(&*self.tty, self.own_group);
        }
    }

    /// The terminal's foreground process group, if it has a live one.
    fn foreground(&self) -> Option<Pid> {
        tcgetpgrp(&*self.tty).ok()
    }
}
