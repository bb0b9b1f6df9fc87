//! The child's side for async-std: [`where_to_listen`] gives an
//! `async_std::net::TcpListener`.
//!
//! **async-std is discontinued upstream** (its authors point to smol). It is
//! supported here for the programs that still use it; new code should prefer
//! [`smol`](https://docs.rs/smol) or tokio. Like smol, async-std runs on
//! `async-io`, the reactor [`PortFuture`](crate::PortFuture) uses too.
//!
//! ## Feature flag
//!
//! ```toml
//! dynamic-port = { version = "0.1", features = ["rt-async-std"] }
//! ```

use std::net::IpAddr;

use ::async_std::net::TcpListener;

use crate::{DynamicPortWriter, Error};

/// Binds `127.0.0.1:0` and, once `listen()` has returned, reports the port;
/// returns async-std's listener. See [`DynamicPortWriter::where_to_listen`].
///
/// ```no_run
/// # async fn child() -> Result<(), Box<dyn std::error::Error>> {
/// use dynamic_port::DynamicPortWriter;
///
/// let writer = DynamicPortWriter::from_env()?.expect("started by a dynamic-port parent");
/// let listener = dynamic_port::async_std::where_to_listen(writer).await?;
/// let (stream, _) = listener.accept().await?;
/// # drop(stream); Ok(()) }
/// ```
///
/// # Panics
///
/// Only if async-std's reactor cannot register the socket (async-std's
/// `From<std::net::TcpListener>` panics then; it offers no fallible way).
pub async fn where_to_listen(writer: DynamicPortWriter) -> Result<TcpListener, Error> {
    where_to_listen_on(writer, DynamicPortWriter::DEFAULT_IP).await
}

/// Binds `ip:0` and, once `listen()` has returned, reports the port; returns
/// async-std's listener. See [`DynamicPortWriter::where_to_listen_on`].
///
/// # Example
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> { async_std::task::block_on(async {
/// use std::net::Ipv6Addr;
/// use dynamic_port::DynamicPortWriter;
///
/// let (writer, port) = DynamicPortWriter::create()?; // in one process, for show
/// # if std::net::TcpListener::bind("[::1]:0").is_err() { return Ok(()) } // no IPv6 here
/// let listener = dynamic_port::async_std::where_to_listen_on(writer, Ipv6Addr::LOCALHOST.into()).await?;
/// assert_eq!(port.addr().await?, listener.local_addr()?); // `[::1]:PORT`
/// # Ok(()) }) }
/// ```
pub async fn where_to_listen_on(
    writer: DynamicPortWriter,
    ip: IpAddr,
) -> Result<TcpListener, Error> {
    writer
        .listen_then_report_async(ip, |listener| Ok(TcpListener::from(listener)))
        .await
}
