//! The parent's side of the remote writer: the listener, the connections
//! not yet judged, and which of them are ready. See [the module
//! docs](super) for the rules.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::io::{self, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
#[cfg(unix)]
use std::os::fd::BorrowedFd;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Instant;

use async_io::Timer;

use super::judge::{judge, Verdict};
use super::{ACCEPTS_PER_ROUND, ACCEPT_PAUSE, CONNECTION_DEADLINE, MAX_CONNECTIONS};
use crate::error::Error;
use crate::reactor::Lazy;
use crate::transport::{Grammar, Received};

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

impl TcpReceiver {
    /// Judges connections to `listener` against `token`.
    pub(super) fn new(listener: TcpListener, token: &str) -> TcpReceiver {
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

    /// The watched child exited. If it reported, its connection is waiting
    /// by now with all it sent (its connect and write returned before it
    /// exited), even where the reactor has not said so yet: accepts all
    /// that waits and reads every connection once, ready or not. `None` if
    /// no report is among them; the others are still judged on their own.
    pub(crate) fn read_at_exit<T>(&mut self, grammar: &Grammar<T>) -> Option<Result<T, Error>> {
        for _ in 0..=MAX_CONNECTIONS / ACCEPTS_PER_ROUND {
            if self.accept_paused_until.is_none() {
                self.accept_now = true;
            }
            if let Some(report) = self.accept_waiting(grammar) {
                return Some(report);
            }
            if !self.accept_now {
                break;
            }
        }
        let open: Vec<Id> = self.connections.keys().copied().collect();
        open.into_iter().find_map(|id| self.read_one(id, grammar))
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
    #[cfg(unix)]
    pub(crate) fn fds<'a>(&'a self, fds: &mut Vec<BorrowedFd<'a>>) {
        if self.accept_paused_until.is_none() {
            fds.extend(self.listener.fd());
        }
        fds.extend(self.connections.values().filter_map(|c| c.stream.fd()));
    }

    /// After a blocking wait: marks what `poll(2)` found ready, in the
    /// order of [`fds`](Self::fds).
    #[cfg(unix)]
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
                    match judge(
                        &self.received,
                        &mut self.proven,
                        expected,
                        end_of_stream,
                        self.peer,
                        grammar,
                    ) {
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
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::net::{TcpListener, TcpStream};
    use std::time::{Duration, Instant};

    use super::*;
    use crate::protocol;

    /// The plain report's grammar.
    const PORT: Grammar<u16> = Grammar {
        capacity: protocol::MAX_REPORT_LEN,
        parse: |bytes, end, _| protocol::parse_report(bytes, end),
    };

    /// A receiver on a fresh loopback listener, and where it listens.
    fn receiver() -> (TcpReceiver, std::net::SocketAddr) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let at = listener.local_addr().unwrap();
        (TcpReceiver::new(listener, &"ab".repeat(16)), at)
    }

    #[test]
    fn at_most_the_limit_of_connections_is_held_open() {
        let (mut receiver, at) = receiver();
        let mut held = Vec::new();
        for _ in 0..(MAX_CONNECTIONS + 40) / ACCEPTS_PER_ROUND + 1 {
            for _ in 0..ACCEPTS_PER_ROUND {
                held.push(TcpStream::connect(at).unwrap());
            }
            std::thread::sleep(Duration::from_millis(5));
            receiver.accept_now = true;
            assert!(matches!(receiver.read(&PORT), Received::WouldBlock));
        }
        assert!(held.len() > MAX_CONNECTIONS);
        assert_eq!(receiver.connections.len(), MAX_CONNECTIONS);
    }

    #[test]
    fn room_is_made_among_the_silent_first_then_the_partial() {
        let (mut receiver, at) = receiver();
        let take_in =
            |receiver: &mut TcpReceiver, streams: &mut Vec<TcpStream>, n: usize, bytes: &[u8]| {
                // In rounds the listener's backlog holds.
                let mut left = n;
                while left > 0 {
                    let round = left.min(ACCEPTS_PER_ROUND);
                    for _ in 0..round {
                        let stream = TcpStream::connect(at).unwrap();
                        (&stream).write_all(bytes).unwrap();
                        streams.push(stream);
                    }
                    left -= round;
                    std::thread::sleep(Duration::from_millis(5));
                    receiver.accept_now = true;
                    assert!(matches!(receiver.read(&PORT), Received::WouldBlock));
                }
            };
        let mut held = Vec::new();
        // Two silent ones (the oldest); the first then sends part of a token.
        take_in(&mut receiver, &mut held, 2, b"");
        held[0].write_all(b"ab").unwrap();
        std::thread::sleep(Duration::from_millis(5));
        receiver.ready.state.lock().unwrap().ids.push(0);
        assert!(matches!(receiver.read(&PORT), Received::WouldBlock));
        // Then partial tokens up to the limit.
        take_in(&mut receiver, &mut held, MAX_CONNECTIONS - 2, b"ab");
        assert_eq!(receiver.connections.len(), MAX_CONNECTIONS);
        let silent: Vec<Id> = receiver
            .connections
            .iter()
            .filter(|(_, c)| c.received.is_empty())
            .map(|(id, _)| *id)
            .collect();
        assert_eq!(silent, [1]);
        // One more partial one: the silent one goes, not the older partial one.
        take_in(&mut receiver, &mut held, 1, b"ab");
        assert_eq!(receiver.connections.len(), MAX_CONNECTIONS);
        assert!(!receiver.connections.contains_key(&1));
        assert!(receiver.connections.contains_key(&0));
        assert!(receiver
            .connections
            .values()
            .all(|c| !c.received.is_empty()));
        // Another: now the oldest partial one, the first, goes.
        take_in(&mut receiver, &mut held, 1, b"ab");
        assert!(!receiver.connections.contains_key(&0));
        assert!(receiver.connections.contains_key(&2));
        // One more: now the next oldest partial one goes.
        take_in(&mut receiver, &mut held, 1, b"ab");
        assert!(!receiver.connections.contains_key(&2));
        assert!(receiver.connections.contains_key(&3));
        // A whole right token is never made room for: the newest goes instead.
        let mut proven = Vec::new();
        take_in(
            &mut receiver,
            &mut proven,
            1,
            format!("{} ", "ab".repeat(16)).as_bytes(),
        );
        let child = receiver.next_id - 1;
        assert!(receiver.connections[&child].proven);
        take_in(&mut receiver, &mut held, MAX_CONNECTIONS, b"ab");
        assert!(
            receiver.connections.contains_key(&child),
            "the child was made room for"
        );
    }

    #[test]
    fn a_flood_of_short_connections_costs_no_memory_beyond_the_open_ones() {
        let (mut receiver, at) = receiver();
        let bound = 2 * MAX_CONNECTIONS + 2 * ACCEPTS_PER_ROUND;
        let started = Instant::now();
        for _ in 0..60 {
            // A batch of silent ones, partial ones and wrong tokens, held
            // open until the parent has read them, then closed.
            let batch: Vec<TcpStream> = (0..ACCEPTS_PER_ROUND)
                .map(|i| {
                    let stream = TcpStream::connect(at).unwrap();
                    match i % 3 {
                        0 => {}
                        1 => (&stream).write_all(b"0123").unwrap(),
                        _ => (&stream).write_all(&[b'f'; 33]).unwrap(),
                    }
                    stream
                })
                .collect();
            std::thread::sleep(Duration::from_millis(5));
            // As poll(2) or the reactor would say: the listener is ready.
            receiver.accept_now = true;
            assert!(matches!(receiver.read(&PORT), Received::WouldBlock));
            drop(batch);
            std::thread::sleep(Duration::from_millis(5));
            let open: Vec<Id> = receiver.connections.keys().copied().collect();
            receiver.ready.state.lock().unwrap().ids.extend(open);
            assert!(matches!(receiver.read(&PORT), Received::WouldBlock));
            assert!(started.elapsed() < Duration::from_secs(20));
            assert!(
                receiver.deadlines.len() <= bound,
                "{} deadlines",
                receiver.deadlines.len()
            );
            assert!(
                receiver.silent.len() <= bound,
                "{} silent",
                receiver.silent.len()
            );
            assert!(
                receiver.partial.len() <= bound,
                "{} partial",
                receiver.partial.len()
            );
        }
        assert_eq!(receiver.next_id, 60 * ACCEPTS_PER_ROUND as u64);
        // Every one ended and was read to its end: none is held.
        assert!(
            receiver.connections.is_empty(),
            "{} open",
            receiver.connections.len()
        );
    }
}
