//! The parent's side: [`PortFuture`], which reads the report from the pipe.

use std::fmt;
use std::fs::File;
use std::future::Future;
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use async_io::{Async, Timer};

use crate::error::{Error, ErrorKind};
use crate::protocol::{self, MAX_REPORT_LEN};
use crate::sys;

/// The port a child will report: a future of `Result<u16, Error>`.
///
/// Returned by [`DynamicPortWriter::create`](crate::DynamicPortWriter::create).
/// It resolves
///
/// - to `Ok(port)` as soon as a whole report line has arrived (it does not
///   wait for the child to close the pipe);
/// - to [`ErrorKind::ClosedWithoutReport`] as soon as every copy of the write
///   end is closed without a report: once the parent has dropped its
///   writer, that is the moment the child exits, crashes or is killed;
/// - to [`ErrorKind::MalformedReport`] as soon as the bytes received cannot
///   be a report;
/// - to [`ErrorKind::TimedOut`] if a [`timeout`](PortFuture::timeout) passes first.
///
/// It works under any executor (tokio, async-std, smol,
/// `futures::executor::block_on`), or without one through [`wait`](PortFuture::wait).
///
/// # How it works, and why not a oneshot channel
///
/// The future itself owns the pipe's (nonblocking) read end and reads it
/// when polled. Only when there is nothing to read yet does it register the
/// fd with `async-io`'s reactor and wait; the timeout is then an `async-io`
/// timer. [`wait`](PortFuture::wait) skips the reactor and waits in `poll(2)`.
/// No task, thread or channel is made per writer: a oneshot fed by a reader
/// task would need an executor to run that task (or a thread per writer),
/// and would add an allocation and a wake-up hop for nothing (the README's
/// "Performance" section has the numbers). The one thread this costs is
/// `async-io`'s shared reactor thread, started once per process when a
/// future first has to wait under an executor other than `async-io`'s own.
///
/// Dropping the future closes the read end, so a child that reports later
/// gets [`ErrorKind::Abandoned`] instead of blocking.
///
/// # Example
///
/// ```
/// use std::process::Command;
/// use std::time::Duration;
/// use dynamic_port::DynamicPortWriter;
///
/// let (writer, port) = DynamicPortWriter::create()?;
/// let mut command = Command::new("bash");
/// // A child in any language writes the port and a newline to the fd.
/// command.args(["-c", r#"echo 8080 >&"${DYNAMIC_PORT_WRITER%%:*}""#]);
/// writer.pass_to_env(&mut command);
/// let mut child = command.spawn()?;
/// drop(writer); // so that a child that dies makes `port` fail at once
///
/// assert_eq!(port.timeout(Duration::from_secs(10)).wait()?, 8080);
/// child.wait()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Panics
///
/// Like most futures, it panics if polled again after it resolved.
pub struct PortFuture {
    /// The pipe's read end (nonblocking); `None` once resolved, so the fd
    /// closes at once.
    read_end: Option<ReadEnd>,
    /// The bytes received so far.
    received: [u8; MAX_REPORT_LEN],
    /// How many bytes of `received` are filled.
    len: usize,
    /// The timeout, if one was set.
    deadline: Option<Deadline>,
}

/// The read end, registered with the `async-io` reactor only once a poll
/// finds nothing to read: [`PortFuture::wait`] and a report that is already
/// there never touch the reactor.
enum ReadEnd {
    /// Not registered (yet).
    Plain(File),
    /// Registered with the reactor.
    Watched(Async<File>),
}

impl ReadEnd {
    /// The file, wherever it is.
    fn file(&self) -> &File {
        match self {
            ReadEnd::Plain(file) => file,
            ReadEnd::Watched(watched) => watched.get_ref(),
        }
    }
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

/// What one nonblocking step of reading found.
enum Step {
    /// The future resolved.
    Done(Result<u16, Error>),
    /// Nothing more to read now.
    WouldBlock,
}

impl PortFuture {
    /// Wraps the pipe's (nonblocking) read end.
    pub(crate) fn new(read_end: OwnedFd) -> PortFuture {
        PortFuture {
            read_end: Some(ReadEnd::Plain(File::from(read_end))),
            received: [0; MAX_REPORT_LEN],
            len: 0,
            deadline: None,
        }
    }

    /// Makes the future resolve to [`ErrorKind::TimedOut`] if no port has
    /// arrived within `duration` from now. A later call replaces an earlier one.
    ///
    /// ```
    /// use std::time::Duration;
    /// use dynamic_port::{DynamicPortWriter, ErrorKind};
    ///
    /// let (writer, port) = DynamicPortWriter::create()?;
    /// // Nobody reports, and `writer` still holds the pipe open.
    /// let err = port.timeout(Duration::from_millis(10)).wait().unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::TimedOut);
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

    /// Blocks the calling thread until the port arrives, for parents without
    /// an executor. It waits with `poll(2)` on the pipe, so it needs no
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
            if let Step::Done(result) = self.step() {
                return result;
            }
            let timeout = self
                .deadline
                .as_ref()
                .map(|deadline| deadline.at.saturating_duration_since(Instant::now()));
            let read_end = self.read_end.as_ref().expect("unresolved");
            let readable = sys::wait_readable(read_end.file().as_fd(), timeout)
                .map_err(|e| Error::io("could not wait for the pipe", e));
            match readable {
                Ok(true) => {}
                Ok(false) => return self.time_out(),
                Err(err) => return self.finish(Err(err)),
            }
        }
    }

    /// Reads what is there without waiting, and parses it.
    fn step(&mut self) -> Step {
        let read_end = self
            .read_end
            .as_ref()
            .expect("PortFuture polled after it resolved");
        loop {
            // `parse_report` fails once `MAX_REPORT_LEN` bytes hold no line, so
            // the buffer is never full here and a 0-byte read means end of stream.
            debug_assert!(self.len < MAX_REPORT_LEN);
            match read_end.file().read(&mut self.received[self.len..]) {
                Ok(read) => {
                    self.len += read;
                    let end_of_stream = read == 0;
                    match protocol::parse_report(&self.received[..self.len], end_of_stream) {
                        Ok(None) => continue,
                        Ok(Some(port)) => return Step::Done(self.finish(Ok(port))),
                        Err(err) => return Step::Done(self.finish(Err(err))),
                    }
                }
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => return Step::WouldBlock,
                Err(err) => {
                    let err = Error::io("could not read the pipe", err);
                    return Step::Done(self.finish(Err(err)));
                }
            }
        }
    }

    /// Resolves: closes the read end and drops the timer.
    fn finish(&mut self, result: Result<u16, Error>) -> Result<u16, Error> {
        self.read_end = None;
        self.deadline = None;
        result
    }

    /// Resolves to [`ErrorKind::TimedOut`].
    fn time_out(&mut self) -> Result<u16, Error> {
        let after = self.deadline.as_ref().map_or(Duration::ZERO, |d| d.after);
        let message = format!(
            "no port was reported within {after:?}: the child may be slow, hung, or not \
             report at all; check it, or give it more time"
        );
        self.finish(Err(Error::new(ErrorKind::TimedOut, message)))
    }
}

impl Future for PortFuture {
    type Output = Result<u16, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        loop {
            if let Step::Done(result) = this.step() {
                return Poll::Ready(result);
            }
            // Nothing to read: register with the reactor (once), and wait.
            let read_end = this.read_end.take().expect("unresolved");
            let watched = match read_end {
                ReadEnd::Watched(watched) => watched,
                // The fd is nonblocking already.
                ReadEnd::Plain(file) => match Async::new_nonblocking(file) {
                    Ok(watched) => watched,
                    Err(err) => {
                        let err = Error::io("could not watch the pipe's read end", err);
                        return Poll::Ready(this.finish(Err(err)));
                    }
                },
            };
            let readiness = watched.poll_readable(cx);
            this.read_end = Some(ReadEnd::Watched(watched));
            match readiness {
                // Readable (or maybe spuriously): read again.
                Poll::Ready(Ok(())) => continue,
                Poll::Ready(Err(err)) => {
                    let err = Error::io("could not wait for the pipe", err);
                    return Poll::Ready(this.finish(Err(err)));
                }
                Poll::Pending => break,
            }
        }
        if let Some(deadline) = &mut this.deadline {
            let timer = deadline.timer.get_or_insert_with(|| Timer::at(deadline.at));
            if Pin::new(timer).poll(cx).is_ready() {
                return Poll::Ready(this.time_out());
            }
        }
        Poll::Pending
    }
}

impl fmt::Debug for PortFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PortFuture")
            .field("resolved", &self.read_end.is_none())
            .field(
                "received",
                &self.received[..self.len].escape_ascii().to_string(),
            )
            .field("timeout", &self.deadline.as_ref().map(|d| d.after))
            .finish()
    }
}
