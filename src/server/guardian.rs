//! The guardian: one small `sh` process per parent process that stops every
//! server's process group once the parent is gone, however it went.
//!
//! # Why it is sound
//!
//! The guardian reads a pipe whose write end only this process holds
//! (close-on-exec, so no program it spawns keeps a copy past `exec`). A
//! server child writes its own pid to that pipe between `fork` and `exec`,
//! before its program runs (it leads its own process group, so that is the
//! group's id too), and the parent writes `-PID` once it has stopped that
//! group and before it reaps the leader (so the id cannot have been reused
//! yet). When this process ends by any means, `SIGKILL` included, the
//! kernel closes the write end, the guardian's `read` sees end of stream,
//! and it sends `SIGTERM` to every group still listed, then `SIGKILL` half a
//! second later. The guardian runs in a process group of its own, so the
//! Ctrl-C that stops the parent does not stop it first, and it ignores the
//! signals a terminal sends.
//!
//! Why not `PR_SET_PDEATHSIG`: it fires when the *thread* that spawned the
//! child ends, not the process (every test runs on a thread of its own), it
//! reaches the server alone and not what the server started, and it exists
//! on Linux only. A pipe's end of stream is seen on every Unix.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock, PoisonError};

use crate::sys;

/// The guardian's script: keep the listed groups; at end of stream, stop them.
const SCRIPT: &str = r#"
trap '' INT QUIT HUP TERM TSTP TTIN TTOU
groups=' '
while IFS= read -r line; do
  case $line in
    -*) kept=' '; for g in $groups; do [ "$g" = "${line#-}" ] || kept="$kept$g "; done; groups=$kept ;;
    *[!0-9]*|'') ;;
    *) groups="$groups$line " ;;
  esac
done
[ "$groups" = ' ' ] && exit 0
for g in $groups; do kill -TERM "-$g" 2>/dev/null; done
sleep 0.5
for g in $groups; do kill -KILL "-$g" 2>/dev/null; done
"#;

/// The write end of the pipe the guardian reads, for the life of this process.
#[derive(Debug)]
pub(crate) struct Guardian {
    /// The write end (close-on-exec).
    pipe: Mutex<File>,
}

/// The one guardian of this process, started by the first server.
static GUARDIAN: OnceLock<Result<Guardian, String>> = OnceLock::new();

impl Guardian {
    /// The guardian, started on first use.
    pub(crate) fn get() -> io::Result<&'static Guardian> {
        GUARDIAN
            .get_or_init(|| Guardian::start().map_err(|err| err.to_string()))
            .as_ref()
            .map_err(|why| io::Error::other(format!("could not start the guardian: {why}")))
    }

    /// Starts `sh` reading the pipe.
    fn start() -> io::Result<Guardian> {
        let (read_end, write_end): (OwnedFd, OwnedFd) = sys::pipe()?;
        // The read end is the guardian's stdin, and must block there.
        let read_end = sys::blocking(read_end)?;
        let mut command = Command::new("/bin/sh");
        command
            .args(["-c", SCRIPT, "dynamic-port-guardian"])
            .stdin(Stdio::from(read_end))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0);
        // Never reaped while this process lives; the kernel's init reaps it after.
        let child = command.spawn()?;
        drop(child);
        Ok(Guardian {
            pipe: Mutex::new(File::from(write_end)),
        })
    }

    /// The fd a server child announces itself on (see [`sys::announce_pid_on_exec`]).
    pub(crate) fn fd(&self) -> RawFd {
        self.pipe
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_raw_fd()
    }

    /// Forgets group `group`, which is stopped and whose leader is not reaped yet.
    pub(crate) fn forget(&self, group: u32) {
        let mut pipe = self.pipe.lock().unwrap_or_else(PoisonError::into_inner);
        // One short write: atomic, so it never mixes with a child's line.
        let _ = pipe.write_all(format!("-{group}\n").as_bytes());
    }
}
