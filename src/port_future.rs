//! The parent's side: [`PortFuture`], which reads the report from the pipe.

use std::fmt;
use std::fs::File;
use std::future::Future;
use std::io;
use std::os::fd::OwnedFd;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use async_io::{Async, Timer};
use futures_lite::AsyncRead;

use crate::error::{Error, ErrorKind};
use crate::protocol::{self, MAX_REPORT_LEN};

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
/// The future itself owns the pipe's read end, registered with `async-io`'s
/// reactor, and reads it when polled; the timeout is an `async-io` timer.
/// No task, thread or channel is made per writer: a oneshot fed by a reader
/// task would need an executor to run that task (or a thread per writer),
/// and would add an allocation and a wake-up hop for nothing. The one thread
/// this costs is `async-io`'s shared reactor thread, started once per
/// process, and not even that under `async_io::block_on` or [`wait`](PortFuture::wait).
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
    /// The pipe's read end; `None` once resolved, so the fd closes at once.
    reader: Option<Async<File>>,
    /// The bytes received so far.
    received: [u8; MAX_REPORT_LEN],
    /// How many bytes of `received` are filled.
    len: usize,
    /// The timeout's timer and its duration (for the message).
    deadline: Option<(Timer, Duration)>,
}

impl PortFuture {
    /// Wraps the pipe's read end; registers it with the `async-io` reactor.
    pub(crate) fn new(read_end: OwnedFd) -> Result<PortFuture, Error> {
        let reader = Async::new(File::from(read_end))
            .map_err(|e| Error::io("could not watch the pipe's read end", e))?;
        Ok(PortFuture {
            reader: Some(reader),
            received: [0; MAX_REPORT_LEN],
            len: 0,
            deadline: None,
        })
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
        self.deadline = Some((Timer::after(duration), duration));
        self
    }

    /// Blocks the calling thread until the port arrives, for parents without
    /// an executor. It runs the `async-io` reactor on this thread while it waits.
    ///
    /// ```
    /// use dynamic_port::DynamicPortWriter;
    ///
    /// let (writer, port) = DynamicPortWriter::create()?;
    /// std::thread::spawn(move || writer.report(4242));
    /// assert_eq!(port.wait()?, 4242);
    /// # Ok::<(), dynamic_port::Error>(())
    /// ```
    pub fn wait(self) -> Result<u16, Error> {
        async_io::block_on(self)
    }

    /// Resolves: closes the read end and drops the timer.
    fn finish(&mut self, result: Result<u16, Error>) -> Poll<Result<u16, Error>> {
        self.reader = None;
        self.deadline = None;
        Poll::Ready(result)
    }
}

impl Future for PortFuture {
    type Output = Result<u16, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let reader = this
            .reader
            .as_mut()
            .expect("PortFuture polled after it resolved");
        loop {
            // `parse_report` fails once `MAX_REPORT_LEN` bytes hold no line, so
            // the buffer is never full here and a 0-byte read means end of stream.
            debug_assert!(this.len < MAX_REPORT_LEN);
            match Pin::new(&mut *reader).poll_read(cx, &mut this.received[this.len..]) {
                Poll::Ready(Ok(read)) => {
                    this.len += read;
                    let end_of_stream = read == 0;
                    match protocol::parse_report(&this.received[..this.len], end_of_stream) {
                        Ok(None) => continue,
                        Ok(Some(port)) => return this.finish(Ok(port)),
                        Err(err) => return this.finish(Err(err)),
                    }
                }
                Poll::Ready(Err(err)) if err.kind() == io::ErrorKind::Interrupted => continue,
                Poll::Ready(Err(err)) => {
                    return this.finish(Err(Error::io("could not read the pipe", err)))
                }
                Poll::Pending => break,
            }
        }
        if let Some((timer, duration)) = &mut this.deadline {
            if Pin::new(timer).poll(cx).is_ready() {
                let message = format!(
                    "no port was reported within {duration:?}: the child may be slow, hung, \
                     or not report at all; check it, or give it more time"
                );
                return this.finish(Err(Error::new(ErrorKind::TimedOut, message)));
            }
        }
        Poll::Pending
    }
}

impl fmt::Debug for PortFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PortFuture")
            .field("resolved", &self.reader.is_none())
            .field(
                "received",
                &self.received[..self.len].escape_ascii().to_string(),
            )
            .field("timeout", &self.deadline.as_ref().map(|(_, d)| d))
            .finish()
    }
}
