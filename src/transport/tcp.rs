//! The remote writer: the parent listens on a TCP address, and the child,
//! on this host or another, connects back and sends a secret token with its
//! report.
//!
//! On the wire, one connection carries `TOKEN REPORT`: the token's hex
//! digits, one space, and the report line of [`protocol`](crate::protocol).
//! The parent closes, without a word, every connection that sends anything
//! else, sends too much, or stays silent too long; it never makes a thread
//! per connection.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use super::Receiver;
use crate::error::{Error, ErrorKind};
use crate::protocol::{self, WriterText, MAX_LINE_LEN, MIN_TOKEN_HEX};
use crate::reactor::Lazy;
use crate::registry::{Claim, Registry};
use crate::sys;

/// How long a child tries to connect, and then to send, before it gives up.
pub(crate) const CHILD_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a connection may take to send a whole report before the parent
/// closes it.
pub(crate) const CONNECTION_DEADLINE: Duration = Duration::from_secs(5);

/// The most connections the parent holds open at once; a new one beyond
/// that makes it close the oldest.
pub(crate) const MAX_CONNECTIONS: usize = 256;

/// How long the parent stops accepting after `accept` failed (out of fds,
/// say), so that a listener that stays readable does not make it spin.
const ACCEPT_PAUSE: Duration = Duration::from_millis(10);

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
        let receiver = Receiver::tcp(TcpReceiver {
            listener: Lazy::Plain(listener),
            token: token.clone().into_bytes(),
            connections: Vec::new(),
            accept_paused_until: None,
        });
        Ok((TcpWriter { addr, token }, receiver))
    }

    /// Connects to the parent and sends the token and the report line in one write.
    pub(crate) fn send(&self, line: &[u8]) -> Result<(), Error> {
        let claim = Claim::Remote(token_key(&self.token));
        if Registry::lock().is_claimed(claim) {
            return Err(super::already_reported(self));
        }
        let mut stream = match TcpStream::connect_timeout(&self.addr, CHILD_TIMEOUT) {
            Ok(stream) => stream,
            Err(err) if err.kind() == io::ErrorKind::ConnectionRefused => {
                return Err(self.abandoned())
            }
            Err(err) => {
                return Err(Error::io(
                    format!("could not connect to the parent at {}", self.addr),
                    err,
                ))
            }
        };
        Registry::lock().claim(claim);
        let mut message = Vec::with_capacity(self.token.len() + 1 + line.len());
        message.extend_from_slice(self.token.as_bytes());
        message.push(b' ');
        message.extend_from_slice(line);
        // std sends with MSG_NOSIGNAL: a reset connection is an error, never a SIGPIPE.
        let sent = stream
            .set_write_timeout(Some(CHILD_TIMEOUT))
            .and_then(|()| stream.write_all(&message))
            .and_then(|()| stream.shutdown(Shutdown::Write));
        match sent {
            Ok(()) => Ok(()),
            Err(err)
                if matches!(
                    err.kind(),
                    io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
                ) =>
            {
                Err(self.abandoned())
            }
            Err(err) => Err(Error::io(
                format!("could not send the report to {}", self.addr),
                err,
            )),
        }
    }

    /// The error for a report nobody waits for any more.
    fn abandoned(&self) -> Error {
        super::abandoned(&self.addr)
    }

    /// The parsed text form.
    pub(crate) fn text(&self) -> WriterText {
        WriterText::Tcp {
            addr: self.addr,
            token: self.token.clone(),
        }
    }
}

impl fmt::Display for TcpWriter {
    /// `tcp:TOKEN@ADDR`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&protocol::format_writer(&self.text()))
    }
}

/// A short key for a token, for the claimed set.
fn token_key(token: &str) -> u128 {
    u128::from_str_radix(&token[..token.len().min(32)], 16).unwrap_or(0)
}

/// The parent's side: the listener, and the connections not yet judged.
#[derive(Debug)]
pub(crate) struct TcpReceiver {
    /// The listener (nonblocking).
    listener: Lazy<TcpListener>,
    /// The token a report must start with.
    token: Vec<u8>,
    /// The open connections, oldest first.
    connections: Vec<Connection>,
    /// Set when `accept` failed: no accepting until then.
    accept_paused_until: Option<Instant>,
}

/// One connection from someone who may be the child.
#[derive(Debug)]
struct Connection {
    /// The stream (nonblocking).
    stream: Lazy<TcpStream>,
    /// Who connected.
    peer: SocketAddr,
    /// What it sent so far.
    received: Vec<u8>,
    /// When it is closed if it has not sent a whole report.
    deadline: Instant,
}

/// What a connection's bytes say.
enum Verdict<T> {
    /// A valid report from the child (or an authenticated malformed one).
    Report(Result<T, Error>),
    /// Wait for more.
    More,
    /// Not the child, or nothing useful: close it.
    Close,
}

impl TcpReceiver {
    /// Accepts what is waiting, reads every connection, closes the ones that
    /// fail; `Some` once a connection presented the token and a whole report.
    pub(crate) fn read_available<T>(
        &mut self,
        capacity: usize,
        parse: impl Fn(&[u8], bool, Option<IpAddr>) -> Result<Option<T>, Error>,
    ) -> Option<Result<T, Error>> {
        self.accept_waiting();
        let now = Instant::now();
        let token = &self.token;
        let mut found = None;
        self.connections.retain_mut(|connection| {
            if found.is_some() {
                return true;
            }
            match connection.read(token, capacity, &parse) {
                Verdict::Report(report) => {
                    found = Some(report);
                    true
                }
                Verdict::More => now < connection.deadline,
                Verdict::Close => false,
            }
        });
        found
    }

    /// Accepts every connection waiting, oldest first, without blocking.
    fn accept_waiting(&mut self) {
        if let Some(until) = self.accept_paused_until {
            if Instant::now() < until {
                return;
            }
            self.accept_paused_until = None;
        }
        loop {
            match self.listener.get().accept() {
                Ok((stream, peer)) => {
                    if stream.set_nonblocking(true).is_err() {
                        continue;
                    }
                    if self.connections.len() >= MAX_CONNECTIONS {
                        self.connections.remove(0);
                    }
                    self.connections.push(Connection {
                        stream: Lazy::Plain(stream),
                        peer,
                        received: Vec::new(),
                        deadline: Instant::now() + CONNECTION_DEADLINE,
                    });
                }
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => return,
                // Out of fds, say: pause, and try again then.
                Err(_) => {
                    self.accept_paused_until = Some(Instant::now() + ACCEPT_PAUSE);
                    return;
                }
            }
        }
    }

    /// The fds to wait on in `poll(2)`: the listener (unless accepting is
    /// paused) and every connection.
    pub(crate) fn fds(&self) -> impl Iterator<Item = std::os::fd::BorrowedFd<'_>> {
        let listener = self
            .accept_paused_until
            .is_none()
            .then(|| self.listener.fd());
        listener
            .into_iter()
            .chain(self.connections.iter().map(|c| c.stream.fd()))
    }

    /// When something must be looked at again: the oldest connection's
    /// deadline, or the end of a pause in accepting.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.connections
            .iter()
            .map(|c| c.deadline)
            .chain(self.accept_paused_until)
            .min()
    }

    /// Registers the listener and every connection with the reactor;
    /// `Ready` if one is readable now.
    pub(crate) fn poll_readable(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut ready =
            self.accept_paused_until.is_none() && self.listener.poll_readable(cx).is_ready();
        for connection in &mut self.connections {
            // A connection whose registration fails is closed on the next read.
            ready |= connection.stream.poll_readable(cx).is_ready();
        }
        if ready {
            Poll::Ready(Ok(()))
        } else {
            Poll::Pending
        }
    }
}

impl Connection {
    /// Reads what the connection sent, and judges it.
    fn read<T>(
        &mut self,
        token: &[u8],
        capacity: usize,
        parse: &impl Fn(&[u8], bool, Option<IpAddr>) -> Result<Option<T>, Error>,
    ) -> Verdict<T> {
        let limit = token.len() + 1 + capacity.min(MAX_LINE_LEN + 1);
        let mut chunk = [0u8; 1024];
        loop {
            let room = (limit - self.received.len()).min(chunk.len());
            if room == 0 {
                return Verdict::Close; // too many bytes without a whole report
            }
            match self.stream.get().read(&mut chunk[..room]) {
                Ok(read) => {
                    self.received.extend_from_slice(&chunk[..read]);
                    let verdict = self.judge(token, read == 0, parse);
                    if read == 0 || !matches!(verdict, Verdict::More) {
                        return match verdict {
                            Verdict::More => Verdict::Close,
                            verdict => verdict,
                        };
                    }
                }
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => return Verdict::More,
                Err(_) => return Verdict::Close,
            }
        }
    }

    /// Judges what arrived so far: the token first, then the report.
    fn judge<T>(
        &self,
        token: &[u8],
        end_of_stream: bool,
        parse: &impl Fn(&[u8], bool, Option<IpAddr>) -> Result<Option<T>, Error>,
    ) -> Verdict<T> {
        let head = self.received.len().min(token.len() + 1);
        let mut expected = token.to_vec();
        expected.push(b' ');
        if !same_bytes(&self.received[..head], &expected[..head]) {
            return Verdict::Close;
        }
        if head < expected.len() {
            return Verdict::More;
        }
        match parse(&self.received[head..], end_of_stream, Some(self.peer.ip())) {
            Ok(Some(report)) => Verdict::Report(Ok(report)),
            Ok(None) => Verdict::More,
            // An authenticated child that sent nothing: as if it never connected.
            Err(err) if err.kind() == ErrorKind::ClosedWithoutReport => Verdict::Close,
            Err(err) => Verdict::Report(Err(err)),
        }
    }
}

/// Compares two byte strings of the same length in time that does not
/// depend on where they differ.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}
