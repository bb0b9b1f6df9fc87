//! The remote writer: the parent listens on a TCP address, and the child,
//! on this host or another, connects back and sends a secret token with its
//! report.
//!
//! On the wire, one connection carries `TOKEN REPORT`: the token's hex
//! digits, one space, and the report line of [`protocol`](crate::protocol).
//! The parent closes, without a word, every connection that sends anything
//! else, sends too much, or stays silent too long; it never makes a thread
//! per connection.
//!
//! # The judge
//!
//! Whoever can reach the listener may guess, and may watch everything its
//! guesses cause: when each connection is closed, what it reads, how long
//! anything takes. So the parent learns nothing from a connection until it
//! has sent as many bytes as the token and its space take (or its stream
//! ended, or its deadline passed), then compares those bytes with the
//! token once, in time that does not depend on where they differ. A wrong
//! token is closed at that moment, however many of its digits were right;
//! nothing is ever written back. A connection that presented the token is
//! the child's: it is never closed to make room, and connections that sent
//! nothing are the first to go.
//!
//! Each connection is registered with the reactor under a waker of its own,
//! which records that it is ready, so a wake-up reads only the connections
//! that are, however many are open; a blocking wait reads those `poll(2)`
//! marked. Accepting takes at most [`ACCEPTS_PER_ROUND`] connections before
//! the future yields, so a flood cannot hold the executor.

use std::fmt;
use std::io::{self, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use super::Receiver;
use crate::error::Error;
use crate::protocol::{WriterText, MIN_TOKEN_HEX};
use crate::registry::{ClaimKey, Registry};
use crate::sys;

pub(crate) mod judge;
mod receiver;

pub(crate) use receiver::TcpReceiver;

/// How long a child tries to connect, and then to send, before it gives up.
pub(crate) const CHILD_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a connection may take to send a whole report before the parent
/// closes it.
pub(crate) const CONNECTION_DEADLINE: Duration = Duration::from_secs(5);

/// The most connections the parent holds open at once; a new one beyond
/// that makes it close one that has not presented the token (the oldest
/// that sent nothing, else the oldest), or, if none is left, the new one.
pub(crate) const MAX_CONNECTIONS: usize = 256;

/// The most connections accepted in one round before the future yields.
pub(crate) const ACCEPTS_PER_ROUND: usize = 64;

/// How long the parent stops accepting after `accept` failed (out of fds,
/// say), so that a listener that stays readable does not make it spin.
pub(crate) const ACCEPT_PAUSE: Duration = Duration::from_millis(10);

/// A writer that reports by connecting back to the parent.
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) struct TcpWriter {
    /// Where the parent listens.
    pub(crate) addr: SocketAddr,
    /// The secret, as lowercase hex.
    pub(crate) token: String,
}

impl TcpWriter {
    /// Listens on `addr` (port 0: one the OS picks) and makes a fresh token
    /// of 128 bits from the OS's random source.
    pub(crate) fn create(addr: SocketAddr) -> Result<(TcpWriter, Receiver), Error> {
        let listener = TcpListener::bind(addr)
            .map_err(|e| Error::io(format!("could not listen on {addr}"), e))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| Error::io("could not make the listener nonblocking", e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::io("could not read the listener's address", e))?;
        let mut secret = [0u8; MIN_TOKEN_HEX / 2];
        sys::random_bytes(&mut secret)
            .map_err(|e| Error::io("could not read the OS's random source", e))?;
        let token: String = secret.iter().map(|b| format!("{b:02x}")).collect();
        let receiver = Receiver::of(super::Input::Tcp(Box::new(TcpReceiver::new(
            listener, &token,
        ))));
        Ok((TcpWriter { addr, token }, receiver))
    }

    /// The bytes one connection carries: the token, a space, the report line.
    fn message(&self, line: &[u8]) -> Vec<u8> {
        let mut message = Vec::with_capacity(self.token.len() + 1 + line.len());
        message.extend_from_slice(self.token.as_bytes());
        message.push(b' ');
        message.extend_from_slice(line);
        message
    }

    /// The claim every copy of this writer shares.
    fn claim_key(&self) -> ClaimKey {
        ClaimKey::Remote(self.token.clone(), self.addr)
    }

    /// Connects to the parent and sends the token and the report line,
    /// blocking for up to [`CHILD_TIMEOUT`] each.
    pub(crate) fn send(&self, line: &[u8]) -> Result<(), Error> {
        let claim = Registry::lock().claim(self.claim_key());
        let sending = claim
            .begin()
            .map_err(|why| super::refused(&self.redacted(), why))?;
        let mut stream = TcpStream::connect_timeout(&self.addr, CHILD_TIMEOUT)
            .map_err(|err| self.connect_failed(err))?;
        // std sends with MSG_NOSIGNAL: a reset connection is an error, never a SIGPIPE.
        stream
            .set_write_timeout(Some(CHILD_TIMEOUT))
            .and_then(|()| stream.write_all(&self.message(line)))
            .and_then(|()| stream.shutdown(Shutdown::Write))
            .map_err(|err| self.send_failed(err))?;
        sending.commit();
        Ok(())
    }

    // Only the runtime adapters report without blocking.
    #[cfg(any(feature = "rt-tokio", feature = "rt-async-std", feature = "rt-smol"))]
    /// As [`send`](Self::send), without blocking the thread: the connect
    /// and the write wait in the reactor, so an executor keeps running
    /// other tasks meanwhile.
    pub(crate) async fn send_async(&self, line: &[u8]) -> Result<(), Error> {
        let claim = Registry::lock().claim(self.claim_key());
        let sending = claim
            .begin()
            .map_err(|why| super::refused(&self.redacted(), why))?;
        let message = self.message(line);
        let sent = within(CHILD_TIMEOUT, async {
            let stream = async_io::Async::<TcpStream>::connect(self.addr)
                .await
                .map_err(|err| self.connect_failed(err))?;
            let mut rest = &message[..];
            while !rest.is_empty() {
                let written = stream
                    .write_with(|mut stream| stream.write(rest))
                    .await
                    .map_err(|err| self.send_failed(err))?;
                if written == 0 {
                    return Err(self.send_failed(io::ErrorKind::WriteZero.into()));
                }
                rest = &rest[written..];
            }
            stream
                .get_ref()
                .shutdown(Shutdown::Write)
                .map_err(|err| self.send_failed(err))
        })
        .await;
        match sent {
            Some(Ok(())) => {
                sending.commit();
                Ok(())
            }
            Some(Err(err)) => Err(err),
            None => Err(Error::io(
                format!("could not send the report to {}", self.addr),
                io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("no connection within {CHILD_TIMEOUT:?}"),
                ),
            )),
        }
    }

    /// The error for a failed connect.
    fn connect_failed(&self, err: io::Error) -> Error {
        if err.kind() == io::ErrorKind::ConnectionRefused {
            return super::abandoned(&self.addr);
        }
        Error::io(
            format!("could not connect to the parent at {}", self.addr),
            err,
        )
    }

    /// The error for a failed send.
    fn send_failed(&self, err: io::Error) -> Error {
        match err.kind() {
            io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset => {
                super::abandoned(&self.addr)
            }
            _ => Error::io(format!("could not send the report to {}", self.addr), err),
        }
    }

    /// The debug output of a [`DynamicPortWriter`](crate::DynamicPortWriter)
    /// of this kind, without the token, which is a secret.
    pub(crate) fn fmt_debug(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DynamicPortWriter")
            .field("remote", &self.addr)
            .finish_non_exhaustive()
    }

    /// How error messages name this writer: without its token.
    fn redacted(&self) -> Redacted {
        Redacted(self.addr)
    }

    /// The parsed text form.
    pub(crate) fn text(&self) -> WriterText {
        WriterText::Tcp {
            addr: self.addr,
            token: self.token.clone(),
        }
    }
}

/// A remote writer as error messages name it: its address, never its token
/// (messages end up in logs).
struct Redacted(SocketAddr);

impl fmt::Display for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tcp:(token)@{}", self.0)
    }
}

// Only the runtime adapters report without blocking.
#[cfg(any(feature = "rt-tokio", feature = "rt-async-std", feature = "rt-smol"))]
/// Runs `future` for at most `limit`: `None` if the time passed first.
async fn within<T>(limit: Duration, future: impl std::future::Future<Output = T>) -> Option<T> {
    use std::future::Future;
    use std::pin::Pin;
    use std::task::Poll;

    use async_io::Timer;

    let mut future = std::pin::pin!(future);
    let mut timer = Timer::after(limit);
    std::future::poll_fn(|cx| {
        if let Poll::Ready(value) = future.as_mut().poll(cx) {
            return Poll::Ready(Some(value));
        }
        match Pin::new(&mut timer).poll(cx) {
            Poll::Ready(_) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use std::io::{self, Read};
    use std::net::TcpStream;
    use std::task::{Context, Poll, Waker};
    use std::time::Duration;

    use crate::reactor::faults::fail_registrations;
    use crate::{DynamicPortWriter, ErrorKind};

    /// Polls `future` once, with a waker that does nothing.
    fn poll_once<F: std::future::Future + Unpin>(future: &mut F) -> Poll<F::Output> {
        std::pin::Pin::new(future).poll(&mut Context::from_waker(Waker::noop()))
    }

    #[test]
    fn a_reset_or_closed_connection_is_abandoned_and_errors_never_show_the_token() {
        let writer = super::TcpWriter {
            addr: "10.0.0.1:4000".parse().unwrap(),
            token: "ab".repeat(16),
        };
        for kind in [io::ErrorKind::BrokenPipe, io::ErrorKind::ConnectionReset] {
            assert_eq!(writer.send_failed(kind.into()).kind(), ErrorKind::Abandoned);
        }
        assert_eq!(
            writer.send_failed(io::ErrorKind::TimedOut.into()).kind(),
            ErrorKind::Io
        );
        assert_eq!(
            writer
                .connect_failed(io::ErrorKind::ConnectionRefused.into())
                .kind(),
            ErrorKind::Abandoned
        );
        let refused =
            crate::transport::refused(&writer.redacted(), crate::registry::Refused::Reported);
        let message = refused.to_string();
        assert!(message.contains("10.0.0.1:4000"), "{message}");
        assert!(!message.contains(&writer.token), "{message}");
    }

    /// The race that Windows' loopback writer met: the child reports and
    /// exits, and the future hears of the exit before the reactor tells of
    /// the connection. The report must win.
    #[test]
    #[cfg(unix)]
    fn a_report_made_before_the_watched_child_exited_wins_though_the_exit_is_seen_first() {
        let (writer, port) =
            DynamicPortWriter::create_remote("127.0.0.1:0".parse().unwrap()).unwrap();
        let mut child = std::process::Command::new("sleep")
            .arg("0.2")
            .spawn()
            .unwrap();
        let mut port = port.watch(&mut child);
        // Polled once: nothing waits, so it stops accepting until woken.
        assert!(poll_once(&mut port).is_pending());
        // The report arrives, and the child exits, with no wake-up between.
        writer.report(4242).unwrap();
        let pid = child.id();
        while std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .is_ok_and(|stat| !stat.contains(") Z "))
        {
            std::thread::sleep(Duration::from_millis(5));
        }
        let Poll::Ready(result) = poll_once(&mut port) else {
            panic!("the exit was not seen");
        };
        assert_eq!(result.unwrap(), 4242);
        child.wait().unwrap();
    }

    #[test]
    fn a_listener_that_cannot_be_registered_fails_the_future_without_a_panic() {
        let (writer, mut port) =
            DynamicPortWriter::create_remote("127.0.0.1:0".parse().unwrap()).unwrap();
        fail_registrations(1);
        let Poll::Ready(Err(err)) = poll_once(&mut port) else {
            panic!("the future did not fail");
        };
        assert_eq!(err.kind(), ErrorKind::Io, "{err}");
        assert!(err.to_string().contains("could not wait"), "{err}");
        drop(writer);
    }

    #[test]
    #[cfg_attr(
        windows,
        ignore = "under Wine the peer of a closed accepted socket does not always see it \
                  close (a reset in one run, a silent socket in the next); the fault path is \
                  the code Linux runs"
    )]
    fn a_connection_that_cannot_be_registered_is_closed_and_the_child_still_reports() {
        let (writer, mut port) =
            DynamicPortWriter::create_remote("127.0.0.1:0".parse().unwrap()).unwrap();
        assert!(poll_once(&mut port).is_pending());
        let mut silent = TcpStream::connect(writer.remote_addr().unwrap()).unwrap();
        fail_registrations(1);
        silent
            .set_read_timeout(Some(Duration::from_millis(10)))
            .unwrap();
        // Polled until the reactor tells of the connection (at once on
        // Linux; on Windows its thread may take a moment): then that
        // connection alone is closed, with end of stream, or on Windows a
        // reset (it was closed with nothing read), within a second.
        let closed = (0..100).any(|_| {
            assert!(poll_once(&mut port).is_pending());
            match silent.read(&mut [0; 8]) {
                Ok(read) => read == 0,
                Err(err) => err.kind() == io::ErrorKind::ConnectionReset,
            }
        });
        assert!(
            closed,
            "the connection that could not be registered stayed open"
        );
        writer.report(4242).unwrap();
        let port = port.timeout(Duration::from_secs(5));
        assert_eq!(futures::executor::block_on(port).unwrap(), 4242);
    }
}
