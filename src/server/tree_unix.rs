//! A server's process tree on Unix: a process group of its own, signalled
//! as a whole, and known to the [guardian](super::guardian) from before the
//! program runs, so that it never outlives this process.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command};

use super::guardian::Guardian;
use crate::error::Error;
use crate::sys::{self, Stop};

/// What a command is spawned with to become a server's tree.
pub(super) struct Prepared {
    /// The guardian, told the group's id by the spawn's hook.
    guardian: &'static Guardian,
}

/// A running server's process group.
#[derive(Debug)]
pub(super) struct Tree {
    /// The group's id: the program's pid.
    group: u32,
    /// The guardian that knows it.
    guardian: &'static Guardian,
}

impl Prepared {
    /// Makes `command` start a process group of its own, which the guardian
    /// learns before the program runs (from a `pre_exec` hook, so the spawn
    /// forks).
    pub(super) fn new(command: &mut Command) -> Result<Prepared, Error> {
        let guardian = Guardian::get().map_err(|e| {
            Error::io(
                "could not start the guardian that stops servers when this process ends",
                e,
            )
        })?;
        command.process_group(0);
        sys::announce_pid_on_exec(command, guardian.fd());
        Ok(Prepared { guardian })
    }

    /// The tree of the child spawned so.
    pub(super) fn started(self, child: &Child) -> Result<Tree, Error> {
        Ok(Tree {
            group: child.id(),
            guardian: self.guardian,
        })
    }
}

impl Tree {
    /// Asks the whole group to exit: `SIGTERM`.
    pub(super) fn terminate(&self) {
        let _ = sys::signal_group(self.group, Stop::Term);
    }

    /// Whether the program (the group's leader) has exited; unreaped.
    pub(super) fn leader_exited(&self) -> bool {
        matches!(sys::exit_of_pid(self.group), Ok(Some(_)) | Err(_))
    }

    /// Stops what is left of the group: `SIGKILL`, and the guardian forgets
    /// it. Called before the leader is reaped, while its pid cannot be
    /// anyone else's.
    pub(super) fn kill(&self) {
        let _ = sys::signal_group(self.group, Stop::Kill);
        self.guardian.forget(self.group);
    }
}
