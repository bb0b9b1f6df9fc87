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

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::BorrowedFd;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use async_io::{Async, Timer};

use super::{Grammar, Received, Receiver};
use crate::error::{Error, ErrorKind};
use crate::protocol::{self, WriterText, MIN_TOKEN_HEX};
use crate::reactor::Lazy;
use crate::registry::{ClaimKey, Registry};
use crate::sys;

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
        let receiver = Receiver {
            input: super::Input::Tcp(Box::new(TcpReceiver::new(listener, &token))),
            creator: None,
            _dir: None,
        };
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
        let sending = claim.begin().map_err(|why| super::refused(self, why))?;
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

    /// As [`send`](Self::send), without blocking the thread: the connect
    /// and the write wait in the reactor, so an executor keeps running
    /// other tasks meanwhile.
    pub(crate) async fn send_async(&self, line: &[u8]) -> Result<(), Error> {
        let claim = Registry::lock().claim(self.claim_key());
        let sending = claim.begin().map_err(|why| super::refused(self, why))?;
        let message = self.message(line);
        let sent = within(CHILD_TIMEOUT, async {
            let stream = Async::<TcpStream>::connect(self.addr)
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

/// Runs `future` for at most `limit`: `None` if the time passed first.
async fn within<T>(limit: Duration, future: impl Future<Output = T>) -> Option<T> {
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

/// An id of a connection, in the order they were accepted.
type Id = u64;

/// The parent's side: the listener, and the connections not yet judged.
pub(crate) struct TcpReceiver {
    /// The listener (nonblocking).
    listener: Lazy<TcpListener>,
    /// What a connection must start with: the token and a space.
    expected: Vec<u8>,
    /// The open connections.
    connections: BTreeMap<Id, Connection>,
    /// The id of the next connection.
    next_id: Id,
    /// Every connection's deadline, in order (ids of closed ones are skipped).
    deadlines: VecDeque<(Instant, Id)>,
    /// Connections that had sent nothing when last read, oldest first
    /// (ids that have moved on are skipped): the first to make room.
    silent: VecDeque<Id>,
    /// Connections that sent part of a token, oldest first (likewise).
    partial: VecDeque<Id>,
    /// The connections the reactor or `poll(2)` found ready.
    ready: Arc<ReadyList>,
    /// Read since the last poll, still open: to register again.
    to_register: Vec<Id>,
    /// Whether the listener is to be looked at (it was ready, or accepting
    /// stopped at [`ACCEPTS_PER_ROUND`]).
    accept_now: bool,
    /// Set when `accept` failed: no accepting until then.
    accept_paused_until: Option<Instant>,
    /// Under an executor: the timer of the next deadline.
    timer: Option<(Instant, Timer)>,
}

/// One connection from someone who may be the child.
struct Connection {
    /// The stream (nonblocking).
    stream: Lazy<TcpStream>,
    /// Who connected.
    peer: SocketAddr,
    /// What it sent so far.
    received: Vec<u8>,
    /// Whether it presented the token.
    proven: bool,
    /// Wakes the task and marks this connection ready.
    waker: Waker,
}

/// The ids of the connections found ready, and the task to wake.
#[derive(Debug, Default)]
struct ReadyList {
    /// The list.
    state: Mutex<ReadyState>,
}

/// What the [`ReadyList`] guards.
#[derive(Debug, Default)]
struct ReadyState {
    /// Ids found ready since the last read.
    ids: Vec<Id>,
    /// The waker of the task that polls the future.
    task: Option<Waker>,
}

impl ReadyList {
    /// Marks `id` ready and takes the task's waker.
    fn push(&self, id: Id) -> Option<Waker> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.ids.push(id);
        state.task.clone()
    }

    /// Takes the ids found ready.
    fn take(&self) -> Vec<Id> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        std::mem::take(&mut state.ids)
    }

    /// Keeps `waker` as the task's.
    fn set_task(&self, waker: &Waker) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if !state
            .task
            .as_ref()
            .is_some_and(|task| task.will_wake(waker))
        {
            state.task = Some(waker.clone());
        }
    }
}

/// The waker one connection is registered under.
struct ConnectionWaker {
    /// The connection's id.
    id: Id,
    /// The list to mark it in; gone once the future is.
    list: Weak<ReadyList>,
}

impl Wake for ConnectionWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if let Some(task) = self.list.upgrade().and_then(|list| list.push(self.id)) {
            task.wake();
        }
    }
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
    /// Judges connections to `listener` against `token`.
    fn new(listener: TcpListener, token: &str) -> TcpReceiver {
        let mut expected = token.as_bytes().to_vec();
        expected.push(b' ');
        TcpReceiver {
            listener: Lazy::Plain(listener),
            expected,
            connections: BTreeMap::new(),
            next_id: 0,
            deadlines: VecDeque::new(),
            silent: VecDeque::new(),
            partial: VecDeque::new(),
            ready: Arc::default(),
            to_register: Vec::new(),
            accept_now: true,
            accept_paused_until: None,
            timer: None,
        }
    }

    /// Closes the connections whose deadline passed, accepts what is
    /// waiting, and reads the connections found ready; `Done` once one
    /// presented the token and a whole report.
    pub(crate) fn read<T>(&mut self, grammar: &Grammar<T>) -> Received<T> {
        let now = Instant::now();
        while let Some(&(deadline, id)) = self.deadlines.front() {
            if deadline > now {
                break;
            }
            self.deadlines.pop_front();
            self.connections.remove(&id);
        }
        if let Some(report) = self.accept_waiting(grammar) {
            return Received::Done(report);
        }
        self.compact();
        let mut ready = self.ready.take();
        ready.sort_unstable();
        ready.dedup();
        for id in ready {
            if let Some(report) = self.read_one(id, grammar) {
                return Received::Done(report);
            }
        }
        if self.listener.get().is_err() {
            let err = io::Error::other("the listener could not be registered with the reactor");
            return Received::Done(Err(Error::io("could not wait for the report", err)));
        }
        Received::WouldBlock
    }

    /// Drops the queue entries of closed connections once they outnumber
    /// the open ones, so that a flood of short connections costs no memory
    /// beyond [`MAX_CONNECTIONS`] (each entry is looked at once per drop:
    /// constant work per connection, on the whole).
    fn compact(&mut self) {
        let bound = 2 * MAX_CONNECTIONS;
        let open = &self.connections;
        if self.deadlines.len() > bound {
            self.deadlines.retain(|(_, id)| open.contains_key(id));
        }
        if self.silent.len() > bound {
            self.silent
                .retain(|id| open.get(id).is_some_and(|c| c.received.is_empty()));
        }
        if self.partial.len() > bound {
            self.partial.retain(|id| {
                open.get(id)
                    .is_some_and(|c| !c.proven && !c.received.is_empty())
            });
        }
    }

    /// Accepts up to [`ACCEPTS_PER_ROUND`] connections, and reads each at
    /// once: a child's report is often there with its connection.
    fn accept_waiting<T>(&mut self, grammar: &Grammar<T>) -> Option<Result<T, Error>> {
        if let Some(until) = self.accept_paused_until {
            if Instant::now() < until {
                return None;
            }
            self.accept_paused_until = None;
            self.accept_now = true;
        }
        if !self.accept_now {
            return None;
        }
        for _ in 0..ACCEPTS_PER_ROUND {
            let Ok(listener) = self.listener.get() else {
                return None;
            };
            match listener.accept() {
                Ok((stream, peer)) => {
                    if stream.set_nonblocking(true).is_err() {
                        continue;
                    }
                    if let Some(report) = self.add(stream, peer, grammar) {
                        return Some(report);
                    }
                }
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                    self.accept_now = false;
                    return None;
                }
                // Out of fds, say: pause, and try again then.
                Err(_) => {
                    self.accept_paused_until = Some(Instant::now() + ACCEPT_PAUSE);
                    self.accept_now = false;
                    return None;
                }
            }
        }
        // More may be waiting: `accept_now` stays set, and the future yields.
        None
    }

    /// Takes in a new connection, reads it, and makes room for it if it
    /// stays open.
    fn add<T>(
        &mut self,
        stream: TcpStream,
        peer: SocketAddr,
        grammar: &Grammar<T>,
    ) -> Option<Result<T, Error>> {
        let id = self.next_id;
        self.next_id += 1;
        let waker = Waker::from(Arc::new(ConnectionWaker {
            id,
            list: Arc::downgrade(&self.ready),
        }));
        self.connections.insert(
            id,
            Connection {
                stream: Lazy::Plain(stream),
                peer,
                received: Vec::new(),
                proven: false,
                waker,
            },
        );
        self.deadlines
            .push_back((Instant::now() + CONNECTION_DEADLINE, id));
        if let Some(report) = self.read_one(id, grammar) {
            return Some(report);
        }
        if self.connections.len() > MAX_CONNECTIONS {
            return self.make_room(grammar);
        }
        None
    }

    /// Closes one connection that has not presented the token: the oldest
    /// that sent nothing, else the oldest that sent part of it. A silent
    /// one is read first, in case its bytes came in since it was last read
    /// (then it is judged, and may be the child's report).
    fn make_room<T>(&mut self, grammar: &Grammar<T>) -> Option<Result<T, Error>> {
        let unproven = |connections: &BTreeMap<Id, Connection>, id: &Id, silent: bool| {
            connections
                .get(id)
                .is_some_and(|c| !c.proven && c.received.is_empty() == silent)
        };
        while let Some(id) = self.silent.pop_front() {
            if !unproven(&self.connections, &id, true) {
                continue;
            }
            if let Some(report) = self.read_one(id, grammar) {
                return Some(report);
            }
            if unproven(&self.connections, &id, true) {
                self.connections.remove(&id);
                return None;
            }
            if self.connections.len() <= MAX_CONNECTIONS {
                return None; // it sent a wrong token, and is closed
            }
        }
        while let Some(id) = self.partial.pop_front() {
            if unproven(&self.connections, &id, false) {
                self.connections.remove(&id);
                return None;
            }
        }
        // Every one presented the token (only the child knows it): the newest goes.
        if let Some((&newest, _)) = self.connections.last_key_value() {
            self.connections.remove(&newest);
        }
        None
    }

    /// Reads connection `id` and judges it; closes it if it is not the child.
    fn read_one<T>(&mut self, id: Id, grammar: &Grammar<T>) -> Option<Result<T, Error>> {
        let connection = self.connections.get_mut(&id)?;
        let was_silent = connection.received.is_empty();
        match connection.read(&self.expected, grammar) {
            Verdict::Report(report) => Some(report),
            Verdict::Close => {
                self.connections.remove(&id);
                None
            }
            Verdict::More => {
                if connection.received.is_empty() {
                    self.silent.push_back(id);
                } else if was_silent && !connection.proven {
                    self.partial.push_back(id);
                }
                self.to_register.push(id);
                None
            }
        }
    }

    /// Adds the fds a blocking wait polls: the listener (unless accepting
    /// is paused) and every connection.
    pub(crate) fn fds<'a>(&'a self, fds: &mut Vec<BorrowedFd<'a>>) {
        if self.accept_paused_until.is_none() {
            fds.extend(self.listener.fd());
        }
        fds.extend(self.connections.values().filter_map(|c| c.stream.fd()));
    }

    /// After a blocking wait: marks what `poll(2)` found ready, in the
    /// order of [`fds`](Self::fds).
    pub(crate) fn mark_ready(&mut self, ready: &[bool]) {
        let mut ready = ready.iter();
        if self.accept_paused_until.is_none() && self.listener.fd().is_some() {
            self.accept_now |= ready.next().copied().unwrap_or(false);
        }
        let mut state = self
            .ready
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for (&id, _) in self
            .connections
            .iter()
            .filter(|(_, c)| c.stream.fd().is_some())
        {
            if ready.next().copied().unwrap_or(false) {
                state.ids.push(id);
            }
        }
    }

    /// When something must be looked at again: the oldest connection's
    /// deadline, or the end of a pause in accepting.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        let oldest = self
            .deadlines
            .iter()
            .find(|(_, id)| self.connections.contains_key(id))
            .map(|&(at, _)| at);
        oldest.into_iter().chain(self.accept_paused_until).min()
    }

    /// Registers the listener and the connections read since the last poll
    /// with the reactor (each under its own waker), and a timer for the
    /// next deadline; `Ready` if something is ready now.
    pub(crate) fn poll_readable(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.ready.set_task(cx.waker());
        let mut ready = false;
        if self.accept_now {
            // Accepting stopped at its bound with more waiting: yield to the
            // executor, and be polled again at once.
            cx.waker().wake_by_ref();
        } else if self.accept_paused_until.is_none() {
            match self.listener.poll_readable(cx) {
                Poll::Ready(Ok(())) => {
                    self.accept_now = true;
                    ready = true;
                }
                Poll::Ready(Err(err)) => return Poll::Ready(Err(err)),
                Poll::Pending => {}
            }
        }
        for id in std::mem::take(&mut self.to_register) {
            let Some(connection) = self.connections.get_mut(&id) else {
                continue;
            };
            let mut own = Context::from_waker(&connection.waker);
            match connection.stream.poll_readable(&mut own) {
                Poll::Ready(Ok(())) => {
                    self.ready
                        .state
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .ids
                        .push(id);
                    ready = true;
                }
                // Not registered: this connection alone is lost.
                Poll::Ready(Err(_)) => {
                    self.connections.remove(&id);
                }
                Poll::Pending => {}
            }
        }
        ready |= !self
            .ready
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .ids
            .is_empty();
        match (self.next_deadline(), &mut self.timer) {
            (Some(at), Some((timer_at, timer))) if *timer_at == at => {
                ready |= Pin::new(timer).poll(cx).is_ready();
            }
            (Some(at), slot) => {
                let mut timer = Timer::at(at);
                ready |= Pin::new(&mut timer).poll(cx).is_ready();
                *slot = Some((at, timer));
            }
            (None, slot) => *slot = None,
        }
        if ready {
            Poll::Ready(Ok(()))
        } else {
            Poll::Pending
        }
    }
}

impl fmt::Debug for TcpReceiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The token is a secret: not in debug output.
        f.debug_struct("TcpReceiver")
            .field(
                "listener",
                &self.listener.get().ok().map(TcpListener::local_addr),
            )
            .field("connections", &self.connections.len())
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// Reads what the connection sent, and judges it.
    fn read<T>(&mut self, expected: &[u8], grammar: &Grammar<T>) -> Verdict<T> {
        let limit = expected.len() + grammar.capacity;
        let mut chunk = [0u8; 1024];
        loop {
            let room = (limit - self.received.len()).min(chunk.len());
            if room == 0 {
                return Verdict::Close; // too many bytes without a whole report
            }
            let Ok(stream) = self.stream.get() else {
                return Verdict::Close;
            };
            match (&*stream).read(&mut chunk[..room]) {
                Ok(read) => {
                    self.received.extend_from_slice(&chunk[..read]);
                    let end_of_stream = read == 0;
                    match self.judge(expected, end_of_stream, grammar) {
                        Verdict::More if end_of_stream => return Verdict::Close,
                        Verdict::More => {}
                        verdict => return verdict,
                    }
                }
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => return Verdict::More,
                Err(_) => return Verdict::Close,
            }
        }
    }

    /// Judges what arrived so far: the whole token first, compared once,
    /// then the report.
    fn judge<T>(
        &mut self,
        expected: &[u8],
        end_of_stream: bool,
        grammar: &Grammar<T>,
    ) -> Verdict<T> {
        if !self.proven {
            if self.received.len() < expected.len() {
                // Not a word until the whole token is there.
                return if end_of_stream {
                    Verdict::Close
                } else {
                    Verdict::More
                };
            }
            if !same_bytes(&self.received[..expected.len()], expected) {
                return Verdict::Close;
            }
            self.proven = true;
        }
        let report = &self.received[expected.len()..];
        match (grammar.parse)(report, end_of_stream, Some(self.peer)) {
            Ok(Some(report)) => Verdict::Report(Ok(report)),
            Ok(None) => Verdict::More,
            // An authenticated child that sent nothing: as if it never connected.
            Err(err) if err.kind() == ErrorKind::ClosedWithoutReport => Verdict::Close,
            Err(err) => Verdict::Report(Err(err)),
        }
    }
}

/// Compares two byte strings of the same length in time that does not
/// depend on where they differ: every byte is looked at, and the
/// differences are folded without a branch.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let difference = a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y));
    // Keeps the compiler from turning the fold into an early exit.
    std::hint::black_box(difference) == 0
}

#[cfg(test)]
mod tests {
    use std::io::Read;
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
    fn a_connection_that_cannot_be_registered_is_closed_and_the_child_still_reports() {
        let (writer, mut port) =
            DynamicPortWriter::create_remote("127.0.0.1:0".parse().unwrap()).unwrap();
        assert!(poll_once(&mut port).is_pending());
        let mut silent = TcpStream::connect(writer.remote_addr().unwrap()).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        fail_registrations(1);
        assert!(poll_once(&mut port).is_pending());
        // That connection alone is gone.
        silent
            .set_read_timeout(Some(Duration::from_secs(1)))
            .unwrap();
        assert_eq!(silent.read(&mut [0; 8]).unwrap(), 0);
        writer.report(4242).unwrap();
        assert_eq!(futures::executor::block_on(port).unwrap(), 4242);
    }
}
