//! The one reading core behind every future of a report: it reads the
//! transport's file, watches the child, keeps the clocks, and hands the
//! bytes to a [`Grammar`] that says when the report is whole.

use std::fmt;
use std::future::Future;
use std::io::{self, Read};
use std::net::IpAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use async_io::Timer;

use crate::error::{Error, ErrorKind};
use crate::sys::{self, Exit};
use crate::transport::{Input, Receiver};
use crate::watch::Watch;

/// How long a watched future that reached end of stream without a report
/// waits for the child's exit to become visible. The kernel closes a dying
/// child's fds a moment before its exit can be seen.
const EXIT_GRACE: Duration = Duration::from_millis(100);

/// Parses the bytes read so far (`true`: no more will come), given the
/// address a remote report came from.
pub(crate) type Parse<T> = fn(&[u8], bool, Option<IpAddr>) -> Result<Option<T>, Error>;

/// What a report must look like for one kind of future.
pub(crate) struct Grammar<T> {
    /// The most bytes to read before the report must have ended.
    pub(crate) capacity: usize,
    /// Parses the bytes read so far; `true` when no more will come; the
    /// address the report came from, for a remote child. See
    /// [`protocol::parse_report`](crate::protocol::parse_report) for the contract.
    pub(crate) parse: Parse<T>,
}

/// The state every future of a report shares.
pub(crate) struct Core {
    /// What the report arrives on; `None` once resolved, so that every fd
    /// (and a named writer's directory) goes at once.
    source: Option<Source>,
    /// The bytes received so far (allocated on the first read).
    received: Vec<u8>,
    /// How many bytes of `received` are filled.
    len: usize,
    /// The timeout, if one was set.
    deadline: Option<Deadline>,
}

/// What a pending future holds.
struct Source {
    /// The transport's end: what the report arrives on, and what goes with it.
    receiver: Receiver,
    /// The watched child, if any.
    watch: Option<Watch>,
    /// Set when a watched future reached end of stream without a report:
    /// until then it waits for the exit to become visible.
    grace: Option<Grace>,
    /// For a remote writer: the timer of the oldest connection's deadline.
    connection_timer: Option<(Instant, Timer)>,
}

/// The wait for a child's exit after end of stream.
struct Grace {
    /// When it ends.
    until: Instant,
    /// Its timer, under an executor.
    timer: Option<Timer>,
}

/// When the timeout passes.
struct Deadline {
    /// The moment.
    at: Instant,
    /// The duration given to `timeout`, for the message.
    after: Duration,
    /// The reactor's timer, made on the first poll that has to wait.
    timer: Option<Timer>,
}

/// What reading what is there found.
enum Received<T> {
    /// The report, or an error that resolves the future.
    Done(Result<T, Error>),
    /// Nothing more to read now.
    WouldBlock,
    /// End of stream, with no bytes at all.
    Closed,
}

impl Core {
    /// Wraps a transport's receiver.
    pub(crate) fn new(receiver: Receiver) -> Core {
        Core {
            source: Some(Source {
                receiver,
                watch: None,
                grace: None,
                connection_timer: None,
            }),
            received: Vec::new(),
            len: 0,
            deadline: None,
        }
    }

    /// Sets the timeout: `duration` from now. A duration too long to add to
    /// now never passes.
    pub(crate) fn set_timeout(&mut self, duration: Duration) {
        self.deadline = Instant::now().checked_add(duration).map(|at| Deadline {
            at,
            after: duration,
            timer: None,
        });
    }

    /// Watches a child; the caller owns the child, unreaped.
    pub(crate) fn set_watch(&mut self, watch: Watch) {
        if let Some(source) = &mut self.source {
            source.watch = Some(watch);
        }
    }

    /// Blocks until the report is whole, waiting in `poll(2)`.
    pub(crate) fn wait<T>(&mut self, grammar: &Grammar<T>) -> Result<T, Error> {
        loop {
            if let Some(result) = self.advance(grammar) {
                return result;
            }
            let source = self.source.as_ref().expect("unresolved");
            let now = Instant::now();
            let until = |at: Instant| at.saturating_duration_since(now);
            let connections = match &source.receiver.input {
                Input::Tcp(tcp) => tcp.next_deadline(),
                Input::File(_) => None,
            };
            let sleep = [
                self.deadline.as_ref().map(|d| until(d.at)),
                source.grace.as_ref().map(|g| until(g.until)),
                source.watch.as_ref().and_then(Watch::max_sleep),
                connections.map(until),
            ]
            .into_iter()
            .flatten()
            .min();
            let mut fds = Vec::with_capacity(2);
            if source.grace.is_none() {
                match &source.receiver.input {
                    Input::File(file) => fds.push(file.fd()),
                    Input::Tcp(tcp) => fds.extend(tcp.fds()),
                }
            }
            fds.extend(source.watch.as_ref().and_then(Watch::fd));
            if let Err(err) = sys::wait_readable(&fds, sleep) {
                return self.finish(Err(Error::io("could not wait for the report", err)));
            }
        }
    }

    /// Polls for the report under any executor.
    pub(crate) fn poll<T>(
        &mut self,
        cx: &mut Context<'_>,
        grammar: &Grammar<T>,
    ) -> Poll<Result<T, Error>> {
        loop {
            if let Some(result) = self.advance(grammar) {
                return Poll::Ready(result);
            }
            // Nothing to do without waiting: ask to be woken by whichever
            // comes first, and look again if one is ready already.
            let source = self.source.as_mut().expect("unresolved");
            let mut ready = false;
            let mut failed = None;
            if let Input::Tcp(tcp) = &source.receiver.input {
                // A timer for the oldest connection's deadline, remade when it changes.
                match (tcp.next_deadline(), &mut source.connection_timer) {
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
            }
            let readable = match (&mut source.grace, &mut source.receiver.input) {
                (Some(_), _) => Poll::Pending,
                (None, Input::File(file)) => file.poll_readable(cx),
                (None, Input::Tcp(tcp)) => tcp.poll_readable(cx),
            };
            match readable {
                Poll::Ready(Ok(())) => ready = true,
                Poll::Ready(Err(err)) => failed = Some(err),
                Poll::Pending => {}
            }
            if let Some(grace) = &mut source.grace {
                let timer = grace.timer.get_or_insert_with(|| Timer::at(grace.until));
                ready |= Pin::new(timer).poll(cx).is_ready();
            }
            if let Some(watch) = &mut source.watch {
                match watch.poll_maybe_exited(cx) {
                    Poll::Ready(Ok(())) => ready = true,
                    Poll::Ready(Err(err)) => failed = Some(err),
                    Poll::Pending => {}
                }
            }
            if let Some(deadline) = &mut self.deadline {
                let timer = deadline.timer.get_or_insert_with(|| Timer::at(deadline.at));
                ready |= Pin::new(timer).poll(cx).is_ready();
            }
            if let Some(err) = failed {
                let err = Error::io("could not wait for the report", err);
                return Poll::Ready(self.finish(Err(err)));
            }
            if !ready {
                return Poll::Pending;
            }
        }
    }

    /// Everything that can be done without waiting: read what is there, look
    /// at the child, check the clocks. `Some` once the future has resolved.
    fn advance<T>(&mut self, grammar: &Grammar<T>) -> Option<Result<T, Error>> {
        let source = self
            .source
            .as_mut()
            .expect("a future of a report polled after it resolved");
        if source.grace.is_none() {
            match self.read_available(grammar) {
                Received::Done(result) => return Some(self.finish(result)),
                Received::WouldBlock => {}
                Received::Closed => {
                    let source = self.source.as_mut().expect("unresolved");
                    if source.watch.is_none() {
                        return Some(self.finish(Err(Error::closed_without_report())));
                    }
                    source.grace = Some(Grace {
                        until: Instant::now() + EXIT_GRACE,
                        timer: None,
                    });
                }
            }
        }
        let source = self.source.as_ref().expect("unresolved");
        if let Some(watch) = &source.watch {
            match watch.exited() {
                Ok(Some(exit)) => {
                    let pid = watch.pid();
                    let result = self.after_exit(grammar, pid, exit);
                    return Some(self.finish(result));
                }
                Ok(None) => {}
                Err(err) => {
                    let err = Error::io("could not look at the watched child", err);
                    return Some(self.finish(Err(err)));
                }
            }
        }
        let now = Instant::now();
        if source.grace.as_ref().is_some_and(|g| now >= g.until) {
            return Some(self.finish(Err(Error::closed_while_running())));
        }
        if self.deadline.as_ref().is_some_and(|d| now >= d.at) {
            return Some(self.time_out());
        }
        None
    }

    /// Reads what is there without waiting, and parses it.
    fn read_available<T>(&mut self, grammar: &Grammar<T>) -> Received<T> {
        let source = self.source.as_mut().expect("unresolved");
        let file = match &mut source.receiver.input {
            Input::File(file) => file,
            Input::Tcp(tcp) => {
                return match tcp.read_available(grammar.capacity, grammar.parse) {
                    Some(report) => Received::Done(report),
                    None => Received::WouldBlock,
                };
            }
        };
        if self.received.len() < grammar.capacity {
            self.received.resize(grammar.capacity, 0);
        }
        loop {
            // The grammar fails once `capacity` bytes hold no whole report,
            // so there is always room here, and a 0-byte read means end of stream.
            debug_assert!(self.len < grammar.capacity);
            match file
                .get()
                .read(&mut self.received[self.len..grammar.capacity])
            {
                Ok(0) if self.len == 0 => return Received::Closed,
                Ok(read) => {
                    self.len += read;
                    let end_of_stream = read == 0;
                    match (grammar.parse)(&self.received[..self.len], end_of_stream, None) {
                        Ok(None) => continue,
                        Ok(Some(report)) => return Received::Done(Ok(report)),
                        Err(err) => return Received::Done(Err(err)),
                    }
                }
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => return Received::WouldBlock,
                Err(err) => {
                    return Received::Done(Err(Error::io("could not read the report", err)))
                }
            }
        }
    }

    /// The watched child `pid` exited: what arrived before wins, else [`ErrorKind::ChildExited`].
    fn after_exit<T>(&mut self, grammar: &Grammar<T>, pid: u32, exit: Exit) -> Result<T, Error> {
        let at_end = self.source.as_ref().is_some_and(|s| s.grace.is_some());
        if !at_end {
            if let Received::Done(result) = self.read_available(grammar) {
                return result;
            }
        }
        // The child is gone: what it wrote is all it will write.
        if self.len > 0 {
            match (grammar.parse)(&self.received[..self.len], true, None) {
                Ok(Some(report)) => return Ok(report),
                Err(err) if err.kind() == ErrorKind::MalformedReport => return Err(err),
                _ => {}
            }
        }
        Err(Error::child_exited(pid, exit))
    }

    /// Resolves: closes every fd, removes a named writer's directory, drops the timers.
    fn finish<T>(&mut self, result: Result<T, Error>) -> Result<T, Error> {
        self.source = None;
        self.deadline = None;
        result
    }

    /// Resolves to [`ErrorKind::TimedOut`].
    fn time_out<T>(&mut self) -> Result<T, Error> {
        let after = self.deadline.as_ref().map_or(Duration::ZERO, |d| d.after);
        let source = self.source.as_ref();
        let writer_held = source
            .and_then(|s| s.receiver.creator.as_ref())
            .is_some_and(|creator| creator.strong_count() > 0);
        let watched = source.is_some_and(|s| s.watch.is_some());
        let message = if writer_held && !watched {
            format!(
                "no port was reported within {after:?}, and this process still holds the \
                 writer, so a child that died could not be seen; drop the writer after \
                 spawning, or use dynamic_port::spawn"
            )
        } else {
            format!("no port was reported within {after:?}; the child may be slow or hung")
        };
        self.finish(Err(Error::new(ErrorKind::TimedOut, message)))
    }
}

impl fmt::Debug for Core {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Core")
            .field("resolved", &self.source.is_none())
            .field(
                "received",
                &self.received[..self.len].escape_ascii().to_string(),
            )
            .field(
                "watching",
                &self
                    .source
                    .as_ref()
                    .and_then(|s| s.watch.as_ref().map(Watch::pid)),
            )
            .field("timeout", &self.deadline.as_ref().map(|d| d.after))
            .finish()
    }
}
