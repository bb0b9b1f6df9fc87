//! tokio: [`spawn`] a child and learn its port, and, in the child,
//! [`where_to_listen`] gives a `tokio::net::TcpListener`.
//!
//! ## Feature flag
//!
//! ```toml
//! dynamic-port = { version = "0.1", features = ["rt-tokio"] }
//! ```
//!
//! In the parent, [`spawn`] takes a `tokio::process::Command`. A
//! [`PortFuture`] can be awaited in a tokio task as it is.
//!
//! A failed or timed-out future does not stop the child: set
//! `kill_on_drop(true)` on the command, so that dropping the `Child` does.
//!
//! ```no_run
//! # async fn parent() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//!
//! let mut command = tokio::process::Command::new("my-server");
//! command.kill_on_drop(true); // the child goes when `child` is dropped
//! let (child, port) = dynamic_port::tokio::spawn(&mut command)?;
//! let port: u16 = port.timeout(Duration::from_secs(30)).await?;
//! # drop(child); Ok(()) }
//! ```
//!
//! The five steps behind it, for a command built another way:
//!
//! ```no_run
//! # async fn parent() -> Result<(), Box<dyn std::error::Error>> {
//! use dynamic_port::DynamicPortWriter;
//!
//! let (writer, port) = DynamicPortWriter::create()?;
//! let mut command = tokio::process::Command::new("my-server");
//! writer.pass_to(command.as_std_mut());
//! let mut child = command.kill_on_drop(true).spawn()?;
//! drop(writer);
//! let port: u16 = dynamic_port::tokio::watch(port, &child).await?;
//! # Ok(()) }
//! ```

use std::net::IpAddr;

use ::tokio::net::TcpListener;
use ::tokio::process::{Child, Command};

use crate::spawn::watched;
use crate::{DynamicPortWriter, Error, PortFuture, SpawnOptions};

/// Spawns a tokio `command` with a new writer passed as the flag, and
/// returns the child and the future of its port, watching the child: the
/// same as [`dynamic_port::spawn`](crate::spawn), for tokio.
///
/// A failed or timed-out future does not stop the child; set
/// `kill_on_drop(true)` on the command, so that dropping the `Child` does.
///
/// # Errors
///
/// As [`dynamic_port::spawn`](crate::spawn); also [`ErrorKind::Io`](crate::ErrorKind::Io) if it
/// is not called inside a tokio runtime.
///
/// # Example
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let mut command = tokio::process::Command::new("bash");
/// command.args(["-c", r#"echo 8080 >&"${2%%:*}""#, "child"]).kill_on_drop(true);
/// let (mut child, port) = dynamic_port::tokio::spawn(&mut command)?;
/// assert_eq!(port.await?, 8080);
/// child.wait().await?;
/// # Ok(()) }
/// ```
pub fn spawn(command: &mut Command) -> Result<(Child, PortFuture), Error> {
    spawn_with(command, SpawnOptions::new())
}

/// [`spawn`] with [`SpawnOptions`]: the env var instead of the flag, or a
/// named writer.
///
/// # Errors
///
/// As [`spawn`].
///
/// # Example
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use dynamic_port::SpawnOptions;
///
/// let mut command = tokio::process::Command::new("bash");
/// command.args(["-c", r#"echo 8080 >&"${DYNAMIC_PORT_WRITER%%:*}""#]).kill_on_drop(true);
/// let (mut child, port) = dynamic_port::tokio::spawn_with(&mut command, SpawnOptions::new().env())?;
/// assert_eq!(port.await?, 8080);
/// child.wait().await?;
/// # Ok(()) }
/// ```
pub fn spawn_with(
    command: &mut Command,
    options: SpawnOptions,
) -> Result<(Child, PortFuture), Error> {
    require_runtime("spawn must be called", "dynamic_port::spawn")?;
    let prepared = options.prepare(command.as_std_mut())?;
    let spawned = command.spawn();
    // tokio forgets the id once it has reaped the child.
    prepared.spawned(spawned, command.as_std().get_program(), Child::id)
}

/// [`PortFuture::watch`] for a tokio child: the future also fails once
/// `child` exits without reporting. It never reaps the child.
///
/// # Example
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use dynamic_port::{DynamicPortWriter, ErrorKind};
///
/// let (writer, port) = DynamicPortWriter::create_named()?;
/// let mut command = tokio::process::Command::new("sh");
/// command.args(["-c", "exit 3"]); // it dies without reporting
/// writer.pass_to(command.as_std_mut());
/// let mut child = command.spawn()?;
/// // A named writer sees no end of stream: only the watch sees the child die.
/// let err = dynamic_port::tokio::watch(port, &child).await.unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::ChildExited);
/// assert_eq!(child.wait().await?.code(), Some(3));
/// # Ok(()) }
/// ```
pub fn watch(port: PortFuture, child: &Child) -> PortFuture {
    // tokio forgets the id once it has reaped the child: it is gone.
    watched(port, child.id())
}

/// Binds `127.0.0.1:0` and, once `listen()` has returned, reports the port;
/// returns tokio's listener. See [`DynamicPortWriter::where_to_listen`].
///
/// It does not block the executor: binding and the few bytes of a report
/// through a pipe or a FIFO go to the kernel without waiting, and a remote
/// writer connects and sends through `async-io`'s reactor, however long the
/// parent takes to accept.
///
/// # Errors
///
/// As [`DynamicPortWriter::where_to_listen`]; also [`ErrorKind::Io`](crate::ErrorKind::Io)
/// if it is not awaited inside a tokio runtime.
///
/// # Panics
///
/// Like `tokio::net::TcpListener::from_std`, if the runtime has IO disabled.
///
/// # Example
///
/// ```no_run
/// # async fn child() -> Result<(), Box<dyn std::error::Error>> {
/// use dynamic_port::DynamicPortWriter;
///
/// let writer = DynamicPortWriter::from_env()?.expect("started by a dynamic-port parent");
/// let listener = dynamic_port::tokio::where_to_listen(writer).await?;
/// loop {
///     let (stream, _) = listener.accept().await?;
///     // ... serve `stream` ...
/// #   drop(stream);
/// }
/// # }
/// ```
pub async fn where_to_listen(writer: DynamicPortWriter) -> Result<TcpListener, Error> {
    where_to_listen_on(writer, DynamicPortWriter::DEFAULT_IP).await
}

/// Binds `ip:0` and, once `listen()` has returned, reports the port; returns
/// tokio's listener. See [`DynamicPortWriter::where_to_listen_on`].
///
/// # Errors
///
/// As [`where_to_listen`].
///
/// # Example
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::net::Ipv6Addr;
/// use dynamic_port::DynamicPortWriter;
///
/// let (writer, port) = DynamicPortWriter::create()?; // in one process, for show
/// # if std::net::TcpListener::bind("[::1]:0").is_err() { return Ok(()) } // no IPv6 here
/// let listener = dynamic_port::tokio::where_to_listen_on(writer, Ipv6Addr::LOCALHOST.into()).await?;
/// assert_eq!(port.addr().await?, listener.local_addr()?); // `[::1]:PORT`
/// # Ok(()) }
/// ```
pub async fn where_to_listen_on(
    writer: DynamicPortWriter,
    ip: IpAddr,
) -> Result<TcpListener, Error> {
    require_runtime(
        "where_to_listen must be awaited",
        "DynamicPortWriter::where_to_listen",
    )?;
    writer
        .listen_then_report_async(ip, |listener| {
            // tokio requires a nonblocking socket.
            listener.set_nonblocking(true)?;
            TcpListener::from_std(listener)
        })
        .await
}

/// An error unless called inside a tokio runtime: "dynamic_port::tokio::`what`
/// inside a tokio runtime; elsewhere, use `instead`".
fn require_runtime(what: &str, instead: &str) -> Result<(), Error> {
    match ::tokio::runtime::Handle::try_current() {
        Ok(_) => Ok(()),
        Err(err) => Err(Error::io(
            format!("dynamic_port::tokio::{what} inside a tokio runtime; elsewhere, use {instead}"),
            std::io::Error::other(err),
        )),
    }
}

/// [`crate::Server`] for tokio: [`start`](Server::start) and
/// [`stop`](Server::stop) are `async` and never block the executor, and
/// dropping it stops the server (from a thread of its own, so that the
/// drop does not block either).
///
/// The program is spawned from the `std` command inside the tokio one, and
/// owned by the `Server`: tokio's own options for its children, such as
/// `kill_on_drop`, do not apply.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let mut command = tokio::process::Command::new("bash");
/// command.args(["-c", r#"echo 8080 >&"${2%%:*}"; exec sleep 30"#, "server"]);
/// let server = dynamic_port::tokio::Server::start(&mut command).await?;
/// assert_eq!(server.port(), 8080);
/// server.stop().await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Server {
    /// The server; `None` only while it is being stopped.
    inner: Option<crate::Server>,
}

impl Server {
    /// Starts `command` as [`crate::Server::start`] does, waiting for the
    /// report without blocking the executor.
    ///
    /// # Errors
    ///
    /// As [`crate::Server::start`]; also [`ErrorKind::Io`](crate::ErrorKind::Io)
    /// outside a tokio runtime.
    ///
    /// # Example
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let mut command = tokio::process::Command::new("bash");
    /// command.args(["-c", r#"echo 8080 >&"${2%%:*}"; exec sleep 30"#, "server"]);
    /// let server = dynamic_port::tokio::Server::start(&mut command).await?;
    /// assert_eq!(server.addr(), "127.0.0.1:8080".parse()?);
    /// server.stop().await?;
    /// # Ok(()) }
    /// ```
    pub async fn start(command: &mut Command) -> Result<Server, Error> {
        Self::start_with(command, SpawnOptions::new()).await
    }

    /// [`start`](Self::start) with [`SpawnOptions`]: another writer, its
    /// timeout and grace.
    ///
    /// # Errors
    ///
    /// As [`start`](Self::start).
    ///
    /// # Example
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// use dynamic_port::SpawnOptions;
    ///
    /// let mut command = tokio::process::Command::new("bash");
    /// command.args(["-c", r#"echo 8080 >&"${DYNAMIC_PORT_WRITER%%:*}"; exec sleep 30"#]);
    /// let options = SpawnOptions::new().env().timeout(Duration::from_secs(10));
    /// let server = dynamic_port::tokio::Server::start_with(&mut command, options).await?;
    /// assert_eq!(server.port(), 8080);
    /// server.stop().await?;
    /// # Ok(()) }
    /// ```
    pub async fn start_with(command: &mut Command, options: SpawnOptions) -> Result<Server, Error> {
        require_runtime(
            "Server::start must be awaited",
            "dynamic_port::Server::start",
        )?;
        let (running, port) = options.launch(command.as_std_mut())?;
        let timeout = options.timeout.unwrap_or(crate::DEFAULT_TIMEOUT);
        let report = port.timeout(timeout).report().await;
        // A failed start stops the child, which may take the grace: off the executor.
        let started =
            ::tokio::task::spawn_blocking(move || crate::server::Running::started(running, report))
                .await
                .map_err(|e| {
                    Error::io(
                        "the thread that stopped the server failed",
                        std::io::Error::other(e),
                    )
                })?;
        started.map(|server| Server {
            inner: Some(server),
        })
    }

    /// The first endpoint's port; see [`crate::Server::port`].
    ///
    /// # Example
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let mut command = tokio::process::Command::new("bash");
    /// # command.args(["-c", r#"echo 8080 >&"${2%%:*}"; exec sleep 30"#, "server"]);
    /// # let server = dynamic_port::tokio::Server::start(&mut command).await?;
    /// // The server reported `8080`.
    /// assert_eq!(server.port(), 8080);
    /// # server.stop().await?;
    /// # Ok(()) }
    /// ```
    pub fn port(&self) -> u16 {
        self.server().port()
    }

    /// Where to connect to the first endpoint; see [`crate::Server::addr`].
    ///
    /// # Example
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let mut command = tokio::process::Command::new("bash");
    /// # command.args(["-c", r#"echo "[::1]:8080" >&"${2%%:*}"; exec sleep 30"#, "server"]);
    /// # let server = dynamic_port::tokio::Server::start(&mut command).await?;
    /// // The server reported `[::1]:8080`.
    /// assert_eq!(server.addr(), "[::1]:8080".parse()?);
    /// # server.stop().await?;
    /// # Ok(()) }
    /// ```
    pub fn addr(&self) -> std::net::SocketAddr {
        self.server().addr()
    }

    /// Every endpoint by name; see [`crate::Server::addrs`].
    ///
    /// # Example
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let mut command = tokio::process::Command::new("bash");
    /// # command.args(["-c", r#"echo "http=127.0.0.1:8080 admin=127.0.0.1:9090" >&"${2%%:*}"; exec sleep 30"#, "server"]);
    /// # let server = dynamic_port::tokio::Server::start(&mut command).await?;
    /// // The server reported `http=127.0.0.1:8080 admin=127.0.0.1:9090`.
    /// assert_eq!(server.addrs()["admin"], "127.0.0.1:9090".parse()?);
    /// # server.stop().await?;
    /// # Ok(()) }
    /// ```
    pub fn addrs(&self) -> &std::collections::BTreeMap<String, std::net::SocketAddr> {
        self.server().addrs()
    }

    /// The child's pid, which is also its process group's id.
    ///
    /// # Example
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let mut command = tokio::process::Command::new("bash");
    /// # command.args(["-c", r#"echo 8080 >&"${2%%:*}"; exec sleep 30"#, "server"]);
    /// # let server = dynamic_port::tokio::Server::start(&mut command).await?;
    /// use std::os::unix::process::ExitStatusExt;
    ///
    /// // Its pid is its process group's id too: signal the whole group, as a shell would.
    /// let mut kill = tokio::process::Command::new("sh");
    /// kill.args(["-c", r#"kill -HUP "-$0""#, &server.id().to_string()]).status().await?;
    /// assert_eq!(server.stop().await?.signal(), Some(1)); // SIGHUP ended it
    /// # Ok(()) }
    /// ```
    pub fn id(&self) -> u32 {
        self.server().id()
    }

    /// Stops the server as [`crate::Server::stop`] does, off the executor.
    ///
    /// # Errors
    ///
    /// As [`crate::Server::stop`].
    ///
    /// # Example
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let mut command = tokio::process::Command::new("bash");
    /// # command.args(["-c", r#"echo 8080 >&"${2%%:*}"; exec sleep 30"#, "server"]);
    /// # let server = dynamic_port::tokio::Server::start(&mut command).await?;
    /// use std::os::unix::process::ExitStatusExt;
    ///
    /// let status = server.stop().await?;
    /// assert_eq!(status.signal(), Some(15)); // SIGTERM ended `sleep`
    /// # Ok(()) }
    /// ```
    pub async fn stop(mut self) -> Result<std::process::ExitStatus, Error> {
        let server = self
            .inner
            .take()
            .expect("a Server holds its server until stopped");
        ::tokio::task::spawn_blocking(move || server.stop())
            .await
            .map_err(|e| {
                Error::io(
                    "the thread that stopped the server failed",
                    std::io::Error::other(e),
                )
            })?
    }

    /// The server.
    fn server(&self) -> &crate::Server {
        self.inner
            .as_ref()
            .expect("a Server holds its server until stopped")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(server) = self.inner.take() {
            // Stopping may take the grace: not on the executor's thread. If
            // no thread can be had, the closure, and the server with it, is
            // dropped (and so stopped) here instead.
            let _ = std::thread::Builder::new()
                .name("dynamic-port-stop".to_owned())
                .spawn(move || drop(server));
        }
    }
}
