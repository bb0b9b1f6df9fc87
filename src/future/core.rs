//! The one reading core behind every future of a report: it reads the
//! transport's file, watches the child, keeps the clocks, and hands the
//! bytes to a [`Grammar`] that says when the report is whole.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use async_io::Timer;

use crate::error::{Error, ErrorKind};
#[cfg(unix)]
use crate::sys;
use crate::sys::Exit;
use crate::transport::{Received, Receiver};
use crate::watch::Watch;

pub(crate) use crate::transport::Grammar;

/// How long a watched future that reached end of stream without a report
/// waits for the child's exit to become visible. The kernel closes a dying
/// child's fds a moment before its exit can be seen.
const EXIT_GRACE: Duration = Duration::from_millis(100);

/// The state every future of a report shares.
pub(crate) struct Core {
    /// What the report arrives on; `None` once resolved, so that every fd
    /// (and a named writer's directory) goes at once.
    source: Option<Source>,
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

impl Core {
    /// Wraps a transport's receiver.
    pub(crate) fn new(receiver: Receiver) -> Core {
        Core {
            source: Some(Source {
                receiver,
                watch: None,
                grace: None,
            }),
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

    /// Blocks until the report is whole, waiting on the executor-free path:
    /// async-io's reactor thread and its timers, as under any executor.
    /// (Windows' sockets and process handles share no `poll(2)`.)
    #[cfg(windows)]
    pub(crate) fn wait<T>(&mut self, grammar: &Grammar<T>) -> Result<T, Error> {
        async_io::block_on(std::future::poll_fn(|cx| self.poll(cx, grammar)))
    }

    /// Blocks until the report is whole, waiting in `poll(2)`.
    #[cfg(unix)]
    pub(crate) fn wait<T>(&mut self, grammar: &Grammar<T>) -> Result<T, Error> {
        loop {
            if let Some(result) = self.advance(grammar) {
                return result;
            }
            let source = self.source.as_mut().expect("unresolved");
            let now = Instant::now();
            let until = |at: Instant| at.saturating_duration_since(now);
            let sleep = [
                self.deadline.as_ref().map(|d| until(d.at)),
                source.grace.as_ref().map(|g| until(g.until)),
                source.watch.as_ref().and_then(Watch::max_sleep),
                source.receiver.input.next_deadline().map(until),
            ]
            .into_iter()
            .flatten()
            .min();
            let mut fds = Vec::with_capacity(2);
            if source.grace.is_none() {
                source.receiver.input.fds(&mut fds);
            }
            let input_fds = fds.len();
            fds.extend(source.watch.as_ref().and_then(Watch::fd));
            match sys::wait_readable(&fds, sleep) {
                Ok(ready) => {
                    drop(fds);
                    source.receiver.input.mark_ready(&ready[..input_fds]);
                }
                Err(err) => {
                    drop(fds);
                    return self.finish(Err(Error::io("could not wait for the report", err)));
                }
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
            let readable = match &mut source.grace {
                Some(_) => Poll::Pending,
                None => source.receiver.input.poll_readable(cx),
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
        source.receiver.input.read(grammar)
    }

    /// The watched child `pid` exited: what arrived before wins, else [`ErrorKind::ChildExited`].
    fn after_exit<T>(
        &mut self,
        grammar: &Grammar<T>,
        pid: Option<u32>,
        exit: Exit,
    ) -> Result<T, Error> {
        let at_end = self.source.as_ref().is_some_and(|s| s.grace.is_some());
        if !at_end {
            if let Received::Done(result) = self.read_available(grammar) {
                return result;
            }
        }
        // The child is gone: what it wrote is all it will write.
        if let Some(result) = self
            .source
            .as_mut()
            .and_then(|s| s.receiver.input.read_at_exit(grammar))
        {
            return result;
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
        let writer_held = source.is_some_and(|s| s.receiver.writer_held());
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
            .field("input", &self.source.as_ref().map(|s| &s.receiver.input))
            .field(
                "watching",
                &self
                    .source
                    .as_ref()
                    .and_then(|s| s.watch.as_ref().and_then(Watch::pid)),
            )
            .field("timeout", &self.deadline.as_ref().map(|d| d.after))
            .finish()
    }
}
