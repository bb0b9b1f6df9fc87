//! [`spawn`]: create a writer, pass it, spawn, drop the parent's copy, and
//! watch the child, in one call that cannot be gotten wrong.

use std::ffi::OsStr;
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
    /// For a [`Server`](crate::Server): how long to wait for the report.
    pub(crate) timeout: Option<std::time::Duration>,
    /// For a [`Server`](crate::Server): how long between `SIGTERM` and `SIGKILL`.
    pub(crate) grace: Option<std::time::Duration>,
}

impl SpawnOptions {
    /// The defaults of [`spawn`]: an inherited pipe, passed as the flag.
    ///
    /// # Example
    ///
    /// ```
    /// use std::process::Command;
    /// use dynamic_port::SpawnOptions;
    ///
    /// let mut command = Command::new("bash");
    /// command.args(["-c", r#"echo 8080 >&"${2%%:*}""#, "child"]);
    /// // The same as `dynamic_port::spawn(&mut command)`.
    /// let (mut child, port) = SpawnOptions::new().spawn(&mut command)?;
    /// assert_eq!(port.wait()?, 8080);
    /// child.wait()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new() -> SpawnOptions {
        SpawnOptions::default()
    }

    /// Passes the writer in the env var `DYNAMIC_PORT_WRITER`
    /// ([`pass_to_env`](DynamicPortWriter::pass_to_env)) instead of the flag.
    ///
    /// # Example
    ///
    /// ```
    /// use std::process::Command;
    /// use dynamic_port::SpawnOptions;
    ///
    /// let mut command = Command::new("bash");
    /// command.args(["-c", r#"echo 8080 >&"${DYNAMIC_PORT_WRITER%%:*}""#]);
    /// let (mut child, port) = SpawnOptions::new().env().spawn(&mut command)?;
    /// assert_eq!(command.get_args().count(), 2); // no flag was added
    /// assert_eq!(port.wait()?, 8080);
    /// child.wait()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn env(mut self) -> SpawnOptions {
        self.env = true;
        self
    }

    /// Uses a [named writer](DynamicPortWriter::create_named) instead of an
    /// inherited pipe: no `pre_exec` hook, so std spawns with `posix_spawn`
    /// and the spawn stays cheap however large the parent. The child must
    /// open the FIFO by path (every API of this crate does; a shell child
    /// needs the path, not an fd number).
    ///
    /// # Example
    ///
    /// ```
    /// use std::process::Command;
    /// use dynamic_port::SpawnOptions;
    ///
    /// let mut command = Command::new("sh");
    /// // "$2" is `fifo:DEV:INODE:PATH`: the child writes to the path.
    /// command.args(["-c", r#"echo 8080 >"${2#fifo:*:*:}""#, "child"]);
    /// let (mut child, port) = SpawnOptions::new().named().spawn(&mut command)?;
    /// assert_eq!(port.wait()?, 8080);
    /// child.wait()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn named(mut self) -> SpawnOptions {
        self.named = true;
        self
    }

    /// Spawns `command` as [`spawn`] does, with these options.
    ///
    /// # Errors
    ///
    /// As [`spawn`].
    ///
    /// # Example
    ///
    /// One set of options for several children, each from a new `Command`:
    ///
    /// ```
    /// use std::process::Command;
    /// use dynamic_port::SpawnOptions;
    ///
    /// let options = SpawnOptions::new().env();
    /// for port in [8080, 8081] {
    ///     let mut command = Command::new("bash");
    ///     command.args(["-c", r#"echo "$0" >&"${DYNAMIC_PORT_WRITER%%:*}""#, &port.to_string()]);
    ///     let (mut child, reported) = options.spawn(&mut command)?;
    ///     assert_eq!(reported.wait()?, port);
    ///     child.wait()?;
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn spawn(&self, command: &mut Command) -> Result<(Child, PortFuture), Error> {
        let prepared = self.prepare(command)?;
        let spawned = command.spawn();
        prepared.spawned(spawned, command.get_program(), |child| Some(child.id()))
    }

    /// The first half of a spawn through any `Command` type: creates the
    /// writer these options ask for and passes it to the `std` command
    /// inside. [`Prepared::spawned`] is the second half.
    pub(crate) fn prepare(&self, command: &mut Command) -> Result<Prepared, Error> {
        refuse_carried_writer(command)?;
        let (writer, port) = if self.named {
            DynamicPortWriter::create_named()?
        } else {
            DynamicPortWriter::create()?
        };
        if self.env {
            writer.pass_to_env(command);
        } else {
            writer.pass_to(command);
        }
        Ok(Prepared { writer, port })
    }
}

/// Refuses a `command` that already carries a writer (a `Command` reused
/// for a second spawn): its child would get two, and could report to the
/// first child's future.
fn refuse_carried_writer(command: &Command) -> Result<(), Error> {
    let flag = DynamicPortWriter::FLAG;
    let by_flag = command.get_args().any(|arg| {
        arg.as_encoded_bytes()
            .strip_prefix(flag.as_bytes())
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(b"="))
    });
    let by_env = command
        .get_envs()
        .any(|(key, value)| key == DynamicPortWriter::ENV_VAR && value.is_some());
    if !by_flag && !by_env {
        return Ok(());
    }
    let how = if by_flag {
        format!("the flag {flag}")
    } else {
        format!("the env var {}", DynamicPortWriter::ENV_VAR)
    };
    Err(Error::io(
        format!(
            "could not start {:?}: the command already carries a writer ({how}), so its child \
             could report to another child's future; build a new Command for each spawn",
            command.get_program()
        ),
        std::io::Error::from(std::io::ErrorKind::InvalidInput),
    ))
}

/// A writer passed to a command that is about to be spawned, and its future.
#[derive(Debug)]
pub(crate) struct Prepared {
    /// The parent's copy, dropped as soon as the spawn is done.
    writer: DynamicPortWriter,
    /// The future of the port.
    port: PortFuture,
}

impl Prepared {
    /// The second half of every spawn (std, tokio, smol): drops the parent's
    /// writer, turns a failed spawn of `program` into an [`Error`], and
    /// watches the child by the pid `pid` gives (`None`: already reaped).
    pub(crate) fn spawned<C>(
        self,
        spawned: std::io::Result<C>,
        program: &OsStr,
        pid: impl FnOnce(&C) -> Option<u32>,
    ) -> Result<(C, PortFuture), Error> {
        drop(self.writer);
        let child = spawned.map_err(|err| spawn_error(program, err))?;
        let port = watched(self.port, pid(&child));
        Ok((child, port))
    }
}

/// The future, watching the child with process id `pid` (unreaped, owned
/// by the caller), or a child already reaped (`None`).
pub(crate) fn watched(port: PortFuture, pid: Option<u32>) -> PortFuture {
    port.watch_pid(pid.map_or_else(Watch::reaped, Watch::new))
}

/// The error for a failed spawn of `program`.
fn spawn_error(program: &OsStr, err: std::io::Error) -> Error {
    #[cfg(unix)]
    let closed_writer = err.raw_os_error() == Some(libc::EBADF);
    #[cfg(windows)]
    let closed_writer = false;
    let message = if closed_writer {
        // The hook of a writer given to this `Command` before found its pipe closed.
        format!(
            "could not start {program:?}: it was given a writer that is closed now; \
             build a new Command for each spawn"
        )
    } else {
        format!("could not start {program:?}")
    };
    Error::io(message, err)
}
