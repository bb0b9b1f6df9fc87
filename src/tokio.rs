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
