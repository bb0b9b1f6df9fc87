//! The child's side for smol: [`where_to_listen`] gives a `smol::net::TcpListener`.
//!
//! ## Feature flag
//!
//! ```toml
//! dynamic-port = { version = "0.1", features = ["rt-smol"] }
//! ```
//!
//! smol runs on `async-io`, the reactor [`PortFuture`](crate::PortFuture)
//! uses too. The parent needs no feature; `smol::process::Command` takes the
//! writer by being built `From` a `std::process::Command`:
//!
//! ```no_run
//! # async fn parent() -> Result<(), Box<dyn std::error::Error>> {
//! use dynamic_port::DynamicPortWriter;
//!
//! let (writer, port) = DynamicPortWriter::create()?;
//! let mut command = std::process::Command::new("my-server");
//! writer.pass_to(&mut command);
//! let _child = smol::process::Command::from(command).spawn()?;
//! drop(writer);
//! let port: u16 = port.await?;
//! # Ok(()) }
//! ```

use std::net::IpAddr;

use ::smol::net::TcpListener;
use async_io::Async;

use crate::{DynamicPortWriter, Error};

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
pub async fn where_to_listen_on(
    writer: DynamicPortWriter,
    ip: IpAddr,
) -> Result<TcpListener, Error> {
    writer.listen_then_report(ip, |listener| Async::new(listener).map(TcpListener::from))
}
