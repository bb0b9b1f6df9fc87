//! smol: [`spawn`] a child and learn its port, and, in the child,
//! [`where_to_listen`] gives a `smol::net::TcpListener`.
//!
//! ## Feature flag
//!
//! ```toml
//! dynamic-port = { version = "0.1", features = ["rt-smol"] }
//! ```
//!
//! smol runs on `async-io`, the reactor [`PortFuture`]
//! uses too. In the parent, [`spawn`] builds a `smol::process::Command`
//! from a `std` one (the only way smol takes a `std` command) and watches
//! the child:
//!
//! ```no_run
//! # async fn parent() -> Result<(), Box<dyn std::error::Error>> {
//! let command = std::process::Command::new("my-server");
//! let (mut child, port) = dynamic_port::smol::spawn(command)?;
//! let port: u16 = match port.await {
//!     Ok(port) => port,
//!     Err(err) => {
//!         child.kill()?; // a failed future leaves the child running
//!         return Err(err.into());
//!     }
//! };
//! # Ok(()) }
//! ```

use std::net::IpAddr;

use ::smol::net::TcpListener;
use ::smol::process::Child;
use async_io::Async;

use crate::spawn::watched;
use crate::{DynamicPortWriter, Error, PortFuture, SpawnOptions};

/// Spawns `command` as a smol child with a new writer passed as the flag,
/// and returns the child and the future of its port, watching the child:
/// [`dynamic_port::spawn`](crate::spawn) for smol.
///
/// It takes the `std` command by value, because smol builds its own
/// `Command` `From` one (smol's `Command` offers no `pre_exec`, which an
/// inherited pipe needs). That conversion resets stdin, stdout and stderr
/// to inherited: for other stdio, take the five steps of
/// [`DynamicPortWriter::pass_to`], set the stdio on smol's `Command`, and
/// [`watch`] the child. smol's own reaper may collect the child's status
/// first; the future still fails at once then, without the status.
///
/// # Errors
///
/// As [`dynamic_port::spawn`](crate::spawn).
///
/// # Example
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> { smol::block_on(async {
/// let mut command = std::process::Command::new("bash");
/// command.args(["-c", r#"echo 8080 >&"${2%%:*}""#, "child"]);
/// let (mut child, port) = dynamic_port::smol::spawn(command)?;
/// assert_eq!(port.await?, 8080);
/// child.status().await?;
/// # Ok(()) }) }
/// ```
pub fn spawn(command: std::process::Command) -> Result<(Child, PortFuture), Error> {
    spawn_with(command, SpawnOptions::new())
}

/// [`spawn`] with [`SpawnOptions`]: the env var instead of the flag, or a
/// named writer.
///
/// # Errors
///
/// As [`dynamic_port::spawn`](crate::spawn).
///
/// # Example
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> { smol::block_on(async {
/// use dynamic_port::SpawnOptions;
///
/// let mut command = std::process::Command::new("sh");
/// command.args(["-c", r#"echo 8080 >"${2#fifo:*:*:}""#, "child"]); // a FIFO's path
/// let (mut child, port) = dynamic_port::smol::spawn_with(command, SpawnOptions::new().named())?;
/// assert_eq!(port.await?, 8080);
/// child.status().await?;
/// # Ok(()) }) }
/// ```
pub fn spawn_with(
    mut command: std::process::Command,
    options: SpawnOptions,
) -> Result<(Child, PortFuture), Error> {
    let prepared = options.prepare(&mut command)?;
    let program = command.get_program().to_owned();
    let spawned = ::smol::process::Command::from(command).spawn();
    prepared.spawned(spawned, &program, |child| Some(child.id()))
}

/// [`PortFuture::watch`] for a smol child: the future also fails once
/// `child` exits without reporting. It never reaps the child.
///
/// ```no_run
/// # async fn parent() -> Result<(), Box<dyn std::error::Error>> {
/// use std::process::Stdio;
/// use dynamic_port::DynamicPortWriter;
///
/// let (writer, port) = DynamicPortWriter::create()?;
/// let mut command = std::process::Command::new("my-server");
/// writer.pass_to(&mut command);
/// let mut command = smol::process::Command::from(command);
/// let child = command.stdout(Stdio::null()).spawn()?;
/// drop(writer);
/// let port: u16 = dynamic_port::smol::watch(port, &child).await?;
/// # Ok(()) }
/// ```
pub fn watch(port: PortFuture, child: &Child) -> PortFuture {
    watched(port, Some(child.id()))
}

/// Binds `127.0.0.1:0` and, once `listen()` has returned, reports the port;
/// returns smol's listener. See [`DynamicPortWriter::where_to_listen`].
///
/// ```no_run
/// # async fn child() -> Result<(), Box<dyn std::error::Error>> {
/// use dynamic_port::DynamicPortWriter;
///
/// let writer = DynamicPortWriter::from_env()?.expect("started by a dynamic-port parent");
/// let listener = dynamic_port::smol::where_to_listen(writer).await?;
/// let (stream, _) = listener.accept().await?;
/// # drop(stream); Ok(()) }
/// ```
pub async fn where_to_listen(writer: DynamicPortWriter) -> Result<TcpListener, Error> {
    where_to_listen_on(writer, DynamicPortWriter::DEFAULT_IP).await
}

/// Binds `ip:0` and, once `listen()` has returned, reports the port; returns
/// smol's listener. See [`DynamicPortWriter::where_to_listen_on`].
///
/// # Example
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> { smol::block_on(async {
/// use std::net::Ipv6Addr;
/// use dynamic_port::DynamicPortWriter;
///
/// let (writer, port) = DynamicPortWriter::create()?; // in one process, for show
/// # if std::net::TcpListener::bind("[::1]:0").is_err() { return Ok(()) } // no IPv6 here
/// let listener = dynamic_port::smol::where_to_listen_on(writer, Ipv6Addr::LOCALHOST.into()).await?;
/// assert_eq!(port.addr().await?, listener.local_addr()?); // `[::1]:PORT`
/// # Ok(()) }) }
/// ```
pub async fn where_to_listen_on(
    writer: DynamicPortWriter,
    ip: IpAddr,
) -> Result<TcpListener, Error> {
    writer
        .listen_then_report_async(ip, |listener| Async::new(listener).map(TcpListener::from))
        .await
}
