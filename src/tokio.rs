//! The child's side for tokio: [`where_to_listen`] gives a `tokio::net::TcpListener`.
//!
//! ## Feature flag
//!
//! ```toml
//! dynamic-port = { version = "0.1", features = ["rt-tokio"] }
//! ```
//!
//! The parent needs no feature: [`PortFuture`](crate::PortFuture) can be
//! awaited in a tokio task as it is, and `tokio::process::Command` takes the
//! writer through `as_std_mut()`:
//!
//! ```no_run
//! # async fn parent() -> Result<(), Box<dyn std::error::Error>> {
//! use dynamic_port::DynamicPortWriter;
//!
//! let (writer, port) = DynamicPortWriter::create()?;
//! let mut command = tokio::process::Command::new("my-server");
//! writer.pass_to(command.as_std_mut());
//! let _child = command.spawn()?;
//! drop(writer);
//! let port: u16 = port.await?;
//! # Ok(()) }
//! ```

use std::net::IpAddr;

use ::tokio::net::TcpListener;

use crate::{DynamicPortWriter, Error};

/// Binds `127.0.0.1:0` and, once `listen()` has returned, reports the port;
/// returns tokio's listener. See [`DynamicPortWriter::where_to_listen`].
///
/// It does not block the executor: binding and the few bytes of the report
/// go to the kernel without waiting.
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
    if let Err(err) = ::tokio::runtime::Handle::try_current() {
        return Err(Error::io(
            "dynamic_port::tokio::where_to_listen must be awaited inside a tokio runtime; \
             elsewhere, use DynamicPortWriter::where_to_listen",
            std::io::Error::other(err),
        ));
    }
    writer.listen_then_report(ip, |listener| {
        // tokio requires a nonblocking socket.
        listener.set_nonblocking(true)?;
        TcpListener::from_std(listener)
    })
}
