//! A server's process tree on Windows: a Job object that the program is
//! assigned to as soon as it is spawned, and that every process it starts
//! joins. The job is made to kill its processes when its last handle
//! closes, and only this process holds it, so the server never outlives
//! this process, however it ends. The program also starts a console process
//! group of its own, so that `Ctrl-Break` can ask it, alone, to exit.
//!
//! What can remain: a process the program started in the moment between
//! its spawn and its assignment to the job (std cannot spawn it suspended),
//! or one that broke away from the job.

use std::os::windows::process::CommandExt;
use std::process::{Child, Command};

use crate::error::Error;
use crate::sys::{self, Job};

/// `CREATE_NEW_PROCESS_GROUP`: the program leads a console process group,
/// the target of [`sys::ctrl_break`].
const CREATE_NEW_PROCESS_GROUP: u32 = 0x0000_0200;

/// What a command is spawned with to become a server's tree.
pub(super) struct Prepared {
    /// The job it will be assigned to.
    job: Job,
}

/// A running server's job.
#[derive(Debug)]
pub(super) struct Tree {
    /// The program's pid.
    pid: u32,
    /// The job that holds it and what it starts.
    job: Job,
}

impl Prepared {
    /// Makes the job, and makes `command` lead a console process group.
    pub(super) fn new(command: &mut Command) -> Result<Prepared, Error> {
        let job = Job::new().map_err(|e| Error::io("could not create a Job object", e))?;
        command.creation_flags(CREATE_NEW_PROCESS_GROUP);
        Ok(Prepared { job })
    }

    /// Assigns the spawned child to the job.
    pub(super) fn started(self, child: &Child) -> Result<Tree, Error> {
        self.job.assign(child).map_err(|e| {
            Error::io(
                format!(
                    "could not assign the server (pid {}) to its Job object",
                    child.id()
                ),
                e,
            )
        })?;
        Ok(Tree {
            pid: child.id(),
            job: self.job,
        })
    }
}

impl Tree {
    /// Asks the program to exit: `Ctrl-Break` to its console process group.
    pub(super) fn terminate(&self) {
        let _ = sys::ctrl_break(self.pid);
    }

    /// Whether the program has exited.
    pub(super) fn leader_exited(&self) -> bool {
        matches!(sys::exit_of_pid(self.pid), Ok(Some(_)) | Err(_))
    }

    /// Ends every process of the job.
    pub(super) fn kill(&self) {
        let _ = self.job.terminate();
    }
}
