//! [`spawn`]: create a writer, pass it, spawn, drop the parent's copy, and
//! watch the child, in one call that cannot be gotten wrong.

use std::process::{Child, Command};

use crate::error::Error;
use crate::future::PortFuture;
use crate::watch::Watch;
use crate::writer::DynamicPortWriter;

/// Spawns `command` with a new writer passed as the `--dynamic-port-writer`
/// flag, and returns the child and the future of its port, already
/// [watching](PortFuture::watch) the child.
///
/// The parent's copy of the writer is dropped before it returns, so the
/// future fails at once if the child dies without reporting
/// ([`ErrorKind::ChildExited`](crate::ErrorKind::ChildExited), with its exit
/// code or signal), however the child dies and whoever else holds the pipe.
/// For the env var instead of the flag, or a named writer, use
/// [`SpawnOptions`].
///
/// Build a new `Command` for each spawn: a `Command` keeps the arguments
/// and the writer it was given, and a writer's pipe closes once it has
/// been spawned with.
///
/// # The child's life is yours
///
/// A failed or timed-out future does not stop the child. Stop it with
/// `child.kill()` and reap it with `child.wait()`.
///
/// # Errors
///
/// [`ErrorKind::Io`](crate::ErrorKind::Io) when the writer cannot be made or
/// the program cannot be started (for example, it does not exist).
///
/// # Example
///
/// ```
/// use std::process::Command;
/// use std::time::Duration;
///
/// let mut command = Command::new("python3");
/// command.args(["-c", "import socket, sys
/// s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()
/// fd = int(sys.argv[2].split(':')[0])  # after --dynamic-port-writer
/// with open(fd, 'w') as w: w.write('%d\\n' % s.getsockname()[1])
/// s.accept()"]);
/// let (mut child, port) = dynamic_port::spawn(&mut command)?;
/// let port = match port.timeout(Duration::from_secs(30)).wait() {
///     Ok(port) => port,
///     Err(err) => {
///         let _ = child.kill(); // a failed future leaves the child running
///         child.wait()?;
///         return Err(err.into());
///     }
/// };
/// std::net::TcpStream::connect(("127.0.0.1", port))?;
/// child.wait()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn spawn(command: &mut Command) -> Result<(Child, PortFuture), Error> {
    SpawnOptions::new().spawn(command)
}

/// How [`spawn`] hands the writer over: which kind of writer, and as a flag
/// or an env var.
///
/// ```
/// use std::process::Command;
/// use dynamic_port::SpawnOptions;
///
/// let mut command = Command::new("bash");
/// command.args(["-c", r#"echo 8080 >"${DYNAMIC_PORT_WRITER#fifo:*:*:}""#]);
/// let (mut child, port) = SpawnOptions::new().env().named().spawn(&mut command)?;
/// assert_eq!(port.wait()?, 8080);
/// child.wait()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SpawnOptions {
    /// Pass the writer in the env var instead of the flag.
    env: bool,
    /// Use a named writer instead of an inherited pipe.
    named: bool,
}

impl SpawnOptions {
    /// The defaults of [`spawn`]: an inherited pipe, passed as the flag.
    pub fn new() -> SpawnOptions {
        SpawnOptions::default()
    }

    /// Passes the writer in the env var `DYNAMIC_PORT_WRITER`
    /// ([`pass_to_env`](DynamicPortWriter::pass_to_env)) instead of the flag.
    pub fn env(mut self) -> SpawnOptions {
        self.env = true;
        self
    }

    /// Uses a [named writer](DynamicPortWriter::create_named) instead of an
    /// inherited pipe: no `pre_exec` hook, so std spawns with `posix_spawn`
    /// and the spawn stays cheap however large the parent. The child must
    /// open the FIFO by path (every API of this crate does; a shell child
    /// needs the path, not an fd number).
    pub fn named(mut self) -> SpawnOptions {
        self.named = true;
        self
    }

    /// Creates the writer these options ask for.
    fn create(&self) -> Result<(DynamicPortWriter, PortFuture), Error> {
        if self.named {
            DynamicPortWriter::create_named()
        } else {
            DynamicPortWriter::create()
        }
    }

    /// Passes `writer` to `command` as these options ask.
    fn pass(&self, writer: &DynamicPortWriter, command: &mut Command) {
        if self.env {
            writer.pass_to_env(command);
        } else {
            writer.pass_to(command);
        }
    }

    /// Spawns `command` as [`spawn`] does, with these options.
    ///
    /// # Errors
    ///
    /// As [`spawn`].
    pub fn spawn(&self, command: &mut Command) -> Result<(Child, PortFuture), Error> {
        let (writer, port) = self.prepare(command)?;
        let spawned = command.spawn();
        drop(writer);
        let child = spawned.map_err(|e| spawn_error(command, e))?;
        let port = watched(port, Some(child.id()));
        Ok((child, port))
    }

    /// The first half of a spawn through another `Command` type: create the
    /// writer and pass it to the `std` command inside. The caller spawns,
    /// drops the writer, and calls [`watched`].
    pub(crate) fn prepare(
        &self,
        command: &mut Command,
    ) -> Result<(DynamicPortWriter, PortFuture), Error> {
        let (writer, port) = self.create()?;
        self.pass(&writer, command);
        Ok((writer, port))
    }
}

/// The future, watching the child with process id `pid` (unreaped, owned
/// by the caller), or a child already reaped (`None`).
pub(crate) fn watched(port: PortFuture, pid: Option<u32>) -> PortFuture {
    port.watch_pid(pid.map_or_else(Watch::reaped, Watch::new))
}

/// The error for a spawn that failed.
pub(crate) fn spawn_error(command: &Command, err: std::io::Error) -> Error {
    Error::io(format!("could not start {:?}", command.get_program()), err)
}
