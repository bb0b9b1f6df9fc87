//! [`Server`]: a started child that reported where it listens, stopped with
//! its whole process group when dropped, and never outliving this process.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::future::PortFuture;
use crate::protocol::Report;
use crate::spawn::SpawnOptions;

#[cfg(unix)]
mod guardian;
mod stderr;
#[cfg(unix)]
#[path = "tree_unix.rs"]
mod tree;
#[cfg(windows)]
#[path = "tree_windows.rs"]
mod tree;

use stderr::Relay;
use tree::{Prepared, Tree};

/// How long [`Server::start`] waits for the report, unless
/// [`SpawnOptions::timeout`] says otherwise.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use dynamic_port::{SpawnOptions, DEFAULT_TIMEOUT};
///
/// assert_eq!(DEFAULT_TIMEOUT, Duration::from_secs(30));
/// // A server that is slow to start on a loaded CI machine:
/// let options = SpawnOptions::new().timeout(DEFAULT_TIMEOUT * 4);
/// ```
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a stopped server gets between `SIGTERM` and `SIGKILL`, unless
/// [`SpawnOptions::grace`] says otherwise.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use dynamic_port::{SpawnOptions, DEFAULT_GRACE};
///
/// assert_eq!(DEFAULT_GRACE, Duration::from_secs(5));
/// // A server that needs longer to write its data out when told to stop:
/// let options = SpawnOptions::new().grace(DEFAULT_GRACE * 6);
/// ```
pub const DEFAULT_GRACE: Duration = Duration::from_secs(5);

/// How long a failed start waits for the last of the child's stderr.
const TAIL_WAIT: Duration = Duration::from_millis(250);

/// A started server: a child that reported where it listens, owned until
/// it is stopped.
///
/// [`start`](Server::start) spawns the program in a process group of its
/// own with a writer as its `--dynamic-port-writer` flag, watches it, and
/// waits for its report (30 s by default). Dropping the `Server` (or
/// [`stop`](Server::stop)) sends `SIGTERM` to the whole group, `SIGKILL`
/// to what is left of it once the program exited or the grace passed (5 s
/// by default), and reaps the program.
///
/// - **Why it failed.** The child's stderr goes through a pipe the
///   `Server` drains: while it runs, each line still reaches this process's
///   stderr; when it fails to start, the error's `Display` ends with its
///   last lines, and [`Error::stderr_tail`] gives them. A failed start
///   leaves no process behind.
/// - **It never outlives this process.** If this process dies (`SIGKILL`
///   included) or exits without dropping the `Server` (one kept in a
///   `static`), its process group gets `SIGTERM` at once and `SIGKILL` half a
///   second later, from a guardian: one small `/bin/sh` per process, started
///   with the first server, that sees this process's end as the end of a
///   pipe only this process holds. The same holds on every Unix. What can
///   remain: a process the server started in a group or session of its own
///   (with `setsid`, say), or one that is traced or stopped in the kernel.
///
/// The program is always spawned with `fork` (the guardian learns its pid
/// before it runs, from a `pre_exec` hook), whichever writer it is given.
///
/// # Example
///
/// ```
/// use std::io::Read;
/// use std::process::Command;
///
/// let mut command = Command::new("python3");
/// command.args(["-c", "import socket, sys
/// s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()
/// with open(int(sys.argv[2].split(':')[0]), 'w') as w: w.write('%d\\n' % s.getsockname()[1])
/// while True: c, _ = s.accept(); c.sendall(b'hello\\n'); c.close()"]);
/// let server = dynamic_port::Server::start(&mut command)?;
/// let mut greeting = String::new();
/// std::net::TcpStream::connect(server.addr())?.read_to_string(&mut greeting)?;
/// assert_eq!(greeting, "hello\n");
/// // Dropping `server` stops it, and whatever it started, and reaps it.
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Server {
    /// The running child and what stops it.
    running: Running,
    /// What it reported.
    report: Report,
}

/// A child in a process tree of its own (a process group on Unix, a Job
/// object on Windows), stopped when dropped.
pub(crate) struct Running {
    /// The child; `None` once stopped and reaped.
    child: Option<Child>,
    /// Its pid.
    pid: u32,
    /// Its process tree.
    tree: Tree,
    /// How long it gets between `SIGTERM` and `SIGKILL`.
    grace: Duration,
    /// Its stderr, relayed.
    stderr: Option<Relay>,
}

impl Server {
    /// Starts `command` as a server: spawned in a process group of its own
    /// with a writer passed as the flag, watched, and waited for until it
    /// reports (30 s at most). See [`SpawnOptions::start`] for other
    /// writers and times.
    ///
    /// # Errors
    ///
    /// Those of [`spawn`](crate::spawn), and of the report: the child
    /// exited ([`ErrorKind::ChildExited`](crate::ErrorKind::ChildExited)),
    /// timed out, or sent a bad report. Then the child and its group are
    /// stopped and reaped before this returns, and the error ends with the
    /// last lines of its stderr ([`Error::stderr_tail`]).
    ///
    /// # Example
    ///
    /// ```
    /// use std::process::Command;
    ///
    /// let mut command = Command::new("bash");
    /// command.args(["-c", r#"echo 8080 >&"${2%%:*}"; exec sleep 30"#, "server"]);
    /// let server = dynamic_port::Server::start(&mut command)?;
    /// assert_eq!(server.port(), 8080);
    /// drop(server); // stops it
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn start(command: &mut Command) -> Result<Server, Error> {
        SpawnOptions::new().start(command)
    }

    /// The first endpoint's port.
    ///
    /// # Example
    ///
    /// ```
    /// # use std::process::Command;
    /// # let mut command = Command::new("bash");
    /// # command.args(["-c", r#"echo "http=127.0.0.1:8080 admin=127.0.0.1:9090" >&"${2%%:*}"; exec sleep 30"#, "server"]);
    /// # let server = dynamic_port::Server::start(&mut command)?;
    /// // The server reported `http=127.0.0.1:8080 admin=127.0.0.1:9090`.
    /// assert_eq!(server.port(), 8080);
    /// assert_eq!(server.port(), server.addr().port());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn port(&self) -> u16 {
        self.report.first().port()
    }

    /// Where to connect to the first endpoint: a bare port is
    /// `127.0.0.1:PORT`, as [`PortFuture::addr`] makes it.
    ///
    /// # Example
    ///
    /// ```
    /// # use std::process::Command;
    /// # let mut command = Command::new("bash");
    /// # command.args(["-c", r#"echo 8080 >&"${2%%:*}"; exec sleep 30"#, "server"]);
    /// # let server = dynamic_port::Server::start(&mut command)?;
    /// // The server reported `8080`.
    /// assert_eq!(server.addr(), "127.0.0.1:8080".parse()?);
    /// assert_eq!(format!("http://{}/", server.addr()), "http://127.0.0.1:8080/");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn addr(&self) -> SocketAddr {
        self.report.connect_addr(self.report.first())
    }

    /// Every endpoint, by name (an unnamed one by its position, `"0"` for
    /// the first), as [`PortFuture::addrs`] gives them.
    ///
    /// # Example
    ///
    /// ```
    /// # use std::process::Command;
    /// # let mut command = Command::new("bash");
    /// # command.args(["-c", r#"echo "http=127.0.0.1:8080 admin=[::1]:9090" >&"${2%%:*}"; exec sleep 30"#, "server"]);
    /// # let server = dynamic_port::Server::start(&mut command)?;
    /// // The server reported `http=127.0.0.1:8080 admin=[::1]:9090`.
    /// assert_eq!(server.addrs()["admin"], "[::1]:9090".parse()?);
    /// assert_eq!(server.addrs()["http"], server.addr());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn addrs(&self) -> &BTreeMap<String, SocketAddr> {
        self.report.endpoints()
    }

    /// The child's pid, which is also its process group's id.
    ///
    /// # Example
    ///
    /// ```
    /// # use std::process::Command;
    /// # let mut command = Command::new("bash");
    /// # command.args(["-c", r#"echo 8080 >&"${2%%:*}"; exec sleep 30"#, "server"]);
    /// # let server = dynamic_port::Server::start(&mut command)?;
    /// use std::os::unix::process::ExitStatusExt;
    ///
    /// // Its pid is its process group's id too: signal the whole group, as a shell would.
    /// Command::new("sh").args(["-c", r#"kill -HUP "-$0""#, &server.id().to_string()]).status()?;
    /// assert_eq!(server.stop()?.signal(), Some(1)); // SIGHUP ended it
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn id(&self) -> u32 {
        self.running.pid
    }

    /// Stops the server: `SIGTERM` to its process group, `SIGKILL` to what
    /// is left of it once the program exited or the grace passed; reaps the
    /// program and returns its status.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Io`](crate::ErrorKind::Io) if the program cannot be
    /// reaped (something else reaped it, such as `SIGCHLD` set to `SIG_IGN`).
    ///
    /// # Example
    ///
    /// ```
    /// use std::os::unix::process::ExitStatusExt;
    /// # use std::process::Command;
    /// # let mut command = Command::new("bash");
    /// # command.args(["-c", r#"echo 8080 >&"${2%%:*}"; exec sleep 30"#, "server"]);
    /// # let server = dynamic_port::Server::start(&mut command)?;
    /// let status = server.stop()?;
    /// assert_eq!(status.signal(), Some(15)); // SIGTERM ended `sleep`
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn stop(mut self) -> Result<ExitStatus, Error> {
        self.running.stop()
    }
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("id", &self.running.pid)
            .field("addrs", self.addrs())
            .finish_non_exhaustive()
    }
}

impl SpawnOptions {
    /// How long [`start`](Self::start) waits for the report (30 s by default).
    /// [`spawn`](Self::spawn) does not use it: give its future a
    /// [`timeout`](PortFuture::timeout) instead.
    ///
    /// # Example
    ///
    /// ```
    /// use std::process::Command;
    /// use std::time::Duration;
    /// use dynamic_port::{ErrorKind, SpawnOptions};
    ///
    /// let mut command = Command::new("sh");
    /// command.args(["-c", "exec sleep 30", "server"]); // it never reports
    /// let options = SpawnOptions::new().timeout(Duration::from_millis(100));
    /// let err = options.start(&mut command).unwrap_err(); // and the server was stopped
    /// assert_eq!(err.kind(), ErrorKind::TimedOut);
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> SpawnOptions {
        self.timeout = Some(timeout);
        self
    }

    /// How long a stopped [`Server`] gets between `SIGTERM` and `SIGKILL`
    /// (5 s by default).
    ///
    /// # Example
    ///
    /// ```
    /// use std::os::unix::process::ExitStatusExt;
    /// use std::process::Command;
    /// use std::time::Duration;
    /// use dynamic_port::SpawnOptions;
    ///
    /// let mut command = Command::new("bash");
    /// // A server that ignores SIGTERM.
    /// command.args(["-c", r#"trap '' TERM; echo 8080 >&"${2%%:*}"; exec sleep 30"#, "server"]);
    /// let server = SpawnOptions::new().grace(Duration::from_millis(100)).start(&mut command)?;
    /// let status = server.stop()?; // SIGKILL after 100 ms
    /// assert_eq!(status.signal(), Some(9));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn grace(mut self, grace: Duration) -> SpawnOptions {
        self.grace = Some(grace);
        self
    }

    /// Starts `command` as a [`Server`] with these options.
    ///
    /// ```
    /// use std::process::Command;
    /// use std::time::Duration;
    /// use dynamic_port::SpawnOptions;
    ///
    /// let mut command = Command::new("bash");
    /// command.args(["-c", r#"echo 8080 >&"${DYNAMIC_PORT_WRITER%%:*}"; exec sleep 30"#]);
    /// let server = SpawnOptions::new()
    ///     .env()
    ///     .timeout(Duration::from_secs(10))
    ///     .grace(Duration::from_secs(1))
    ///     .start(&mut command)?;
    /// assert_eq!(server.addr(), "127.0.0.1:8080".parse()?);
    /// let status = server.stop()?; // SIGTERM ends `sleep` at once
    /// # use std::os::unix::process::ExitStatusExt;
    /// assert_eq!(status.signal(), Some(15));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`Server::start`].
    pub fn start(self, command: &mut Command) -> Result<Server, Error> {
        let (running, port) = self.launch(command)?;
        let timeout = self.timeout.unwrap_or(DEFAULT_TIMEOUT);
        let report = port.timeout(timeout).report().wait();
        Running::started(running, report)
    }

    /// The first half of a start: spawns `command` as a server in a tree
    /// of its own, and relays its stderr.
    pub(crate) fn launch(self, command: &mut Command) -> Result<(Running, PortFuture), Error> {
        let prepared = Prepared::new(command)?;
        command.stderr(Stdio::piped());
        let (mut child, port) = self.spawn(command)?;
        let tree = match prepared.started(&child) {
            Ok(tree) => tree,
            Err(err) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(err);
            }
        };
        let stderr = child.stderr.take().map(Relay::start);
        let mut running = Running {
            pid: child.id(),
            child: Some(child),
            tree,
            grace: self.grace.unwrap_or(DEFAULT_GRACE),
            stderr: None,
        };
        match stderr {
            Some(Ok(relay)) => running.stderr = Some(relay),
            Some(Err(err)) => {
                return Err(Error::io(
                    "could not start the thread that relays its stderr",
                    err,
                ))
            }
            None => {}
        }
        Ok((running, port))
    }
}

impl Running {
    /// The second half of a start: a server once it reported, or, stopped
    /// and reaped, the error with the last of its stderr.
    pub(crate) fn started(
        mut running: Running,
        report: Result<Report, Error>,
    ) -> Result<Server, Error> {
        match report {
            Ok(report) => Ok(Server { running, report }),
            Err(err) => {
                let _ = running.stop();
                let tail = running
                    .stderr
                    .as_mut()
                    .and_then(|s| s.tail_after(TAIL_WAIT));
                Err(err.with_stderr_tail(tail))
            }
        }
    }

    /// `SIGTERM` to the group (`Ctrl-Break` on Windows); once the program
    /// exited, or the grace passed, `SIGKILL` to what is left (the job
    /// terminated); the program reaped.
    fn stop(&mut self) -> Result<ExitStatus, Error> {
        let Some(mut child) = self.child.take() else {
            return Err(Error::io(
                "the server was stopped already",
                std::io::Error::from(std::io::ErrorKind::NotFound),
            ));
        };
        self.tree.terminate();
        let deadline = Instant::now().checked_add(self.grace);
        while !self.tree.leader_exited()
            && deadline.is_some_and(|deadline| Instant::now() < deadline)
        {
            std::thread::sleep(Duration::from_millis(2));
        }
        // Before the reaping, while the leader's pid cannot be anyone else's.
        self.tree.kill();
        child
            .wait()
            .map_err(|e| Error::io(format!("could not reap the server (pid {})", self.pid), e))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.child.is_some() {
            let _ = self.stop();
        }
    }
}
