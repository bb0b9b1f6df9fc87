//! The parent's side: [`PortFuture`], which reads the report and, when told
//! to, watches the child.

use std::fmt;
use std::future::Future;
use std::io::{self, Read};
use std::pin::Pin;
use std::process::Child;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use async_io::Timer;

use crate::error::{Error, ErrorKind};
use crate::protocol::{self, MAX_REPORT_LEN};
use crate::reactor::Lazy;
use crate::sys::{self, Exit};
use crate::transport::Receiver;
use crate::watch::Watch;

/// How long a watched future that reached end of stream without a report
/// waits for the child's exit to become visible. The kernel closes a dying
/// child's fds a moment before its exit can be seen.
const EXIT_GRACE: Duration = Duration::from_millis(100);

/// The port a child will report: a future of `Result<u16, Error>`.
///
/// Returned by [`DynamicPortWriter::create`](crate::DynamicPortWriter::create)
/// and [`spawn`](crate::spawn). It resolves
///
/// - to `Ok(port)` as soon as a whole report line has arrived (it does not
///   wait for the child to close the pipe);
/// - to [`ErrorKind::ChildExited`] as soon as a [watched](PortFuture::watch)
///   child exits without reporting, with its exit code or signal;
/// - to [`ErrorKind::ClosedWithoutReport`] as soon as every copy of a pipe's
///   write end is closed without a report (once the parent has dropped its
///   writer, that is the moment an unwatched child exits);
/// - to [`ErrorKind::MalformedReport`] as soon as the bytes received cannot
///   be a report;
/// - to [`ErrorKind::TimedOut`] if a [`timeout`](PortFuture::timeout) passes first.
///
/// It works under any executor (tokio, async-std, smol,
/// `futures::executor::block_on`), or without one through [`wait`](PortFuture::wait).
/// It makes no task and no thread; under an executor it registers its fds
/// with `async-io`'s reactor the first time it has to wait.
///
/// Dropping the future closes its end, so a child that reports later gets
/// [`ErrorKind::Abandoned`] instead of blocking.
///
/// # The child's life is yours
///
/// A failed, timed-out or dropped future does not stop the child. Kill it
/// yourself (`child.kill()` then `child.wait()` in std; `kill_on_drop(true)`
/// on a tokio `Command`).
///
/// # Example
///
/// ```
/// use std::process::Command;
/// use std::time::Duration;
///
/// let mut command = Command::new("bash");
/// // A child in any language writes the port and a newline to the fd.
/// command.args(["-c", r#"echo 8080 >&"${2%%:*}""#, "child"]);
/// let (mut child, port) = dynamic_port::spawn(&mut command)?;
/// assert_eq!(port.timeout(Duration::from_secs(10)).wait()?, 8080);
/// child.wait()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Panics
///
/// Like most futures, it panics if polled again after it resolved.
pub struct PortFuture {
    /// What the report arrives on; `None` once resolved, so that every fd
    /// (and a named writer's directory) goes at once.
    source: Option<Source>,
    /// The bytes received so far.
    received: [u8; MAX_REPORT_LEN],
    /// How many bytes of `received` are filled.
    len: usize,
    /// The timeout, if one was set.
    deadline: Option<Deadline>,
}

/// What a pending future holds.
struct Source {
    /// The report's fd (nonblocking).
    file: Lazy<std::fs::File>,
    /// The rest of the transport (a named writer's directory, the creator's liveness).
    receiver: ReceiverRest,
    /// The watched child, if any.
    watch: Option<Watch>,
    /// Set when a watched future reached end of stream without a report:
    /// until then it waits for the exit to become visible.
    grace: Option<Grace>,
}

/// A receiver without its file.
struct ReceiverRest {
    /// See [`Receiver::creator`].
    creator: Option<std::sync::Weak<crate::registry::WriteEnd>>,
    /// See [`Receiver::dir`]; removed when dropped.
    _dir: Option<crate::transport::fifo::NamedDir>,
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
enum Received {
    /// The report, or an error that resolves the future.
    Done(Result<u16, Error>),
    /// Nothing more to read now.
    WouldBlock,
    /// End of stream, with no bytes at all.
    Closed,
}

impl PortFuture {
    /// Wraps a transport's receiver.
    pub(crate) fn new(receiver: Receiver) -> PortFuture {
        let Receiver { file, creator, dir } = receiver;
        PortFuture {
            source: Some(Source {
                file: Lazy::Plain(file),
                receiver: ReceiverRest { creator, _dir: dir },
                watch: None,
                grace: None,
            }),
            received: [0; MAX_REPORT_LEN],
            len: 0,
            deadline: None,
        }
    }

    /// Makes the future resolve to [`ErrorKind::TimedOut`] if no port has
    /// arrived within `duration` from now. A later call replaces an earlier one.
    ///
    /// A timed-out future does not stop the child: see
    /// ["The child's life is yours"](PortFuture#the-childs-life-is-yours).
    ///
    /// ```
    /// use std::time::Duration;
    /// use dynamic_port::{DynamicPortWriter, ErrorKind};
    ///
    /// let (writer, port) = DynamicPortWriter::create()?;
    /// // Nobody reports, and `writer` still holds the pipe open.
    /// let err = port.timeout(Duration::from_millis(10)).wait().unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::TimedOut);
    /// assert!(err.to_string().contains("still holds the writer"));
    /// # drop(writer);
    /// # Ok::<(), dynamic_port::Error>(())
    /// ```
    pub fn timeout(mut self, duration: Duration) -> PortFuture {
        // A duration too long to add to now never passes.
        self.deadline = Instant::now().checked_add(duration).map(|at| Deadline {
            at,
            after: duration,
            timer: None,
        });
        self
    }

    /// Also fails, with [`ErrorKind::ChildExited`], once `child` exits
    /// without reporting, even while another process (a grandchild, a writer
    /// the parent forgot to drop) still holds the write end.
    ///
    /// A report that reached the pipe before the exit wins: the future reads
    /// what is there before it fails. A child that exited before `watch` is
    /// seen at once. The error's message gives the exit code or signal, and
    /// [`Error::exit_status`] the status itself.
    ///
    /// It never reaps the child: the exit is read with `waitid(...,
    /// WNOWAIT)`, and `child.wait()` still returns the status. On Linux it
    /// watches a pidfd, registered with `async-io` like the pipe, and
    /// [`wait`](Self::wait) polls both; without pidfds (Linux before 5.3,
    /// other Unixes) it looks at the child every 10 ms instead. Do not let
    /// anything else reap the child first (such as `SIGCHLD` set to
    /// `SIG_IGN`): then the exit is still seen, but its status is not.
    ///
    /// This is what makes a [named writer](crate::DynamicPortWriter::create_named)
    /// see the child die at all. [`spawn`](crate::spawn) calls it for you.
    ///
    /// ```
    /// use std::process::Command;
    /// use dynamic_port::{DynamicPortWriter, ErrorKind};
    ///
    /// let (writer, port) = DynamicPortWriter::create()?;
    /// let mut command = Command::new("bash");
    /// command.args(["-c", "sleep 30 & exit 3"]); // the grandchild holds the write end
    /// writer.pass_to(&mut command);
    /// let mut child = command.spawn()?;
    /// drop(writer);
    /// let err = port.watch(&mut child).wait().unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::ChildExited);
    /// assert!(err.to_string().contains("exit code 3"));
    /// assert_eq!(child.wait()?.code(), Some(3));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn watch(self, child: &mut Child) -> PortFuture {
        self.watch_pid(Watch::new(child.id()))
    }

    /// [`watch`](Self::watch) through polling, as where there are no pidfds.
    /// For testing that fallback; not part of the stable API.
    #[doc(hidden)]
    pub fn watch_polling(self, child: &mut Child) -> PortFuture {
        self.watch_pid(Watch::polling(child.id()))
    }

    /// Watches a child by pid; the caller owns the child, unreaped.
    pub(crate) fn watch_pid(mut self, watch: Watch) -> PortFuture {
        if let Some(source) = &mut self.source {
            source.watch = Some(watch);
        }
        self
    }

    /// Blocks the calling thread until the port arrives, for parents without
    /// an executor. It waits with `poll(2)` on its fds, so it needs no
    /// reactor and no other thread.
    ///
    /// ```
    /// use dynamic_port::DynamicPortWriter;
    ///
    /// let (writer, port) = DynamicPortWriter::create()?;
    /// std::thread::spawn(move || writer.report(4242));
    /// assert_eq!(port.wait()?, 4242);
    /// # Ok::<(), dynamic_port::Error>(())
    /// ```
    pub fn wait(mut self) -> Result<u16, Error> {
        loop {
            if let Some(result) = self.advance() {
                return result;
            }
            let source = self.source.as_ref().expect("unresolved");
            let now = Instant::now();
            let until = |at: Instant| at.saturating_duration_since(now);
            let sleep = [
                self.deadline.as_ref().map(|d| until(d.at)),
                source.grace.as_ref().map(|g| until(g.until)),
                source.watch.as_ref().and_then(Watch::max_sleep),
            ]
            .into_iter()
            .flatten()
            .min();
            let mut fds = Vec::with_capacity(2);
            if source.grace.is_none() {
                fds.push(source.file.fd());
            }
            fds.extend(source.watch.as_ref().and_then(Watch::fd));
            if let Err(err) = sys::wait_readable(&fds, sleep) {
                return self.finish(Err(Error::io("could not wait for the report", err)));
            }
        }
    }

    /// Everything that can be done without waiting: read what is there, look
    /// at the child, check the clocks. `Some` once the future has resolved.
    fn advance(&mut self) -> Option<Result<u16, Error>> {
        let source = self
            .source
            .as_mut()
            .expect("PortFuture polled after it resolved");
        if source.grace.is_none() {
            match self.read_available() {
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
                    let result = self.after_exit(pid, exit);
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
    fn read_available(&mut self) -> Received {
        let source = self.source.as_ref().expect("unresolved");
        loop {
            // `parse_report` fails once `MAX_REPORT_LEN` bytes hold no line, so
            // the buffer is never full here and a 0-byte read means end of stream.
            debug_assert!(self.len < MAX_REPORT_LEN);
            match source.file.get().read(&mut self.received[self.len..]) {
                Ok(0) if self.len == 0 => return Received::Closed,
                Ok(read) => {
                    self.len += read;
                    let end_of_stream = read == 0;
                    match protocol::parse_report(&self.received[..self.len], end_of_stream) {
                        Ok(None) => continue,
                        Ok(Some(port)) => return Received::Done(Ok(port)),
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
    fn after_exit(&mut self, pid: u32, exit: Exit) -> Result<u16, Error> {
        let at_end = self.source.as_ref().is_some_and(|s| s.grace.is_some());
        if !at_end {
            if let Received::Done(result) = self.read_available() {
                return result;
            }
        }
        // The child is gone: what it wrote is all it will write.
        if self.len > 0 {
            match protocol::parse_report(&self.received[..self.len], true) {
                Ok(Some(port)) => return Ok(port),
                Err(err) if err.kind() == ErrorKind::MalformedReport => return Err(err),
                _ => {}
            }
        }
        Err(Error::child_exited(pid, exit))
    }

    /// Resolves: closes every fd, removes a named writer's directory, drops the timers.
    fn finish(&mut self, result: Result<u16, Error>) -> Result<u16, Error> {
        self.source = None;
        self.deadline = None;
        result
    }

    /// Resolves to [`ErrorKind::TimedOut`].
    fn time_out(&mut self) -> Result<u16, Error> {
        let after = self.deadline.as_ref().map_or(Duration::ZERO, |d| d.after);
        let writer_held = self
            .source
            .as_ref()
            .and_then(|s| s.receiver.creator.as_ref())
            .is_some_and(|creator| creator.strong_count() > 0);
        let watched = self.source.as_ref().is_some_and(|s| s.watch.is_some());
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

impl Future for PortFuture {
    type Output = Result<u16, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        loop {
            if let Some(result) = this.advance() {
                return Poll::Ready(result);
            }
            // Nothing to do without waiting: ask to be woken by whichever
            // comes first, and look again if one is ready already.
            let source = this.source.as_mut().expect("unresolved");
            let mut ready = false;
            let mut failed = None;
            match &mut source.grace {
                None => match source.file.poll_readable(cx) {
                    Poll::Ready(Ok(())) => ready = true,
                    Poll::Ready(Err(err)) => failed = Some(err),
                    Poll::Pending => {}
                },
                Some(grace) => {
                    let timer = grace.timer.get_or_insert_with(|| Timer::at(grace.until));
                    ready |= Pin::new(timer).poll(cx).is_ready();
                }
            }
            if let Some(watch) = &mut source.watch {
                match watch.poll_maybe_exited(cx) {
                    Poll::Ready(Ok(())) => ready = true,
                    Poll::Ready(Err(err)) => failed = Some(err),
                    Poll::Pending => {}
                }
            }
            if let Some(deadline) = &mut this.deadline {
                let timer = deadline.timer.get_or_insert_with(|| Timer::at(deadline.at));
                ready |= Pin::new(timer).poll(cx).is_ready();
            }
            if let Some(err) = failed {
                let err = Error::io("could not wait for the report", err);
                return Poll::Ready(this.finish(Err(err)));
            }
            if !ready {
                return Poll::Pending;
            }
        }
    }
}

impl fmt::Debug for PortFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PortFuture")
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
