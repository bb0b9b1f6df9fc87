//! The one error type of the crate.

use std::fmt;
use std::io;
use std::process::ExitStatus;

use crate::sys::Exit;

/// What went wrong, in a form a program can match on.
///
/// Returned by [`Error::kind`]. New kinds may be added, so a `match` needs a
/// wildcard arm.
///
/// # Example
///
/// ```
/// use dynamic_port::{DynamicPortWriter, ErrorKind};
///
/// let err = "not a writer".parse::<DynamicPortWriter>().unwrap_err();
/// let advice = match err.kind() {
///     ErrorKind::ChildExited | ErrorKind::ClosedWithoutReport => "read the child's stderr",
///     ErrorKind::TimedOut => "give the child more time",
///     ErrorKind::MalformedWriter => "pass on the writer the parent gave, as it is",
///     _ => "read the message",
/// };
/// assert_eq!(advice, "pass on the writer the parent gave, as it is");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Parent side: every copy of the write end closed before a port arrived.
    /// The child exited, crashed, was killed, failed to exec, or closed the fd;
    /// for a [watched](crate::PortFuture::watch) child still running after
    /// the end of stream, it closed the fd itself.
    ClosedWithoutReport,
    /// Parent side: the [watched](crate::PortFuture::watch) child exited or
    /// was killed before reporting. The message gives its exit code or
    /// signal; [`Error::exit_status`] the status.
    ChildExited,
    /// Parent side: the child sent something that is not a report (garbage,
    /// port 0, a number over 65535, a sign, no end within the bound: 64
    /// bytes for a [`PortFuture`](crate::PortFuture) or an
    /// [`AddrFuture`](crate::AddrFuture), 4096 for the others), a
    /// [line](crate::PortFuture::line) that is not UTF-8, or named or several
    /// endpoints to a plain `PortFuture`. Child side:
    /// [`report`](crate::DynamicPortWriter::report) was asked to send port 0,
    /// or [`report_addrs`](crate::DynamicPortWriter::report_addrs) a bad endpoint.
    MalformedReport,
    /// Parent side: the time given to [`PortFuture::timeout`](crate::PortFuture::timeout)
    /// (or, for a [`Server`](crate::Server), to
    /// [`SpawnOptions::timeout`](crate::SpawnOptions::timeout)) passed first.
    TimedOut,
    /// The text (or bytes, or env var) is not a dynamic port writer.
    MalformedWriter,
    /// Child side: the fd the writer names is not open here, is not the
    /// pipe's write end the writer names, or was not inherited; or a named
    /// writer's path is not the FIFO named. Nothing was written.
    NotInherited,
    /// Child side: this writer (or a copy of it) has already reported a port.
    AlreadyReported,
    /// Child side: nobody waits for the report any more (the pipe has no
    /// reader, the FIFO is gone or has none, a remote parent's listener is
    /// closed): the parent dropped its [`PortFuture`](crate::PortFuture) or
    /// exited.
    Abandoned,
    /// Any other I/O error; [`std::error::Error::source`] has the cause.
    Io,
}

/// The error of every fallible operation in this crate.
///
/// Its message says what happened and what to do about it; [`Error::kind`]
/// tells the cases apart. The OS error behind an [`ErrorKind::Io`] error is
/// its [`source`](std::error::Error::source), kept out of the message, as
/// error reporters such as anyhow expect. It converts into
/// [`std::io::Error`], so `?` works in functions that return `io::Result`.
///
/// ```
/// use dynamic_port::{DynamicPortWriter, ErrorKind};
///
/// let err = "7x".parse::<DynamicPortWriter>().unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::MalformedWriter);
/// assert!(err.to_string().contains("7x"));
/// ```
pub struct Error {
    /// What kind of failure this is.
    kind: ErrorKind,
    /// The full human-readable message, lowercase, without trailing period.
    message: String,
    /// The OS error behind it, if any.
    source: Option<io::Error>,
    /// For [`ErrorKind::ChildExited`]: the child's status, if known.
    exit_status: Option<ExitStatus>,
    /// For a [`Server`](crate::Server) that failed to start: the last lines
    /// of its stderr.
    stderr_tail: Option<String>,
}

impl Error {
    /// Builds an error of `kind` with a message.
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            source: None,
            exit_status: None,
            stderr_tail: None,
        }
    }

    /// Builds an [`ErrorKind::Io`] error: `context` says what we were doing.
    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Self {
        Error {
            kind: ErrorKind::Io,
            message: context.into(),
            source: Some(source),
            exit_status: None,
            stderr_tail: None,
        }
    }

    /// The pipe reached end of stream without a report.
    pub(crate) fn closed_without_report() -> Self {
        Error::new(
            ErrorKind::ClosedWithoutReport,
            "the child closed the pipe without reporting a port: it exited, crashed or \
             failed to start (check its status and stderr)",
        )
    }

    /// A watched child closed the pipe without a report and is still running.
    pub(crate) fn closed_while_running() -> Self {
        Error::new(
            ErrorKind::ClosedWithoutReport,
            "the child closed the pipe without reporting a port and is still running; \
             does it close inherited fds?",
        )
    }

    /// The watched child `pid` exited without reporting.
    pub(crate) fn child_exited(pid: Option<u32>, exit: Exit) -> Self {
        let how = exit.describe();
        let mut err = Error::new(
            ErrorKind::ChildExited,
            match pid {
                Some(pid) => {
                    format!("the child (pid {pid}) {how} before reporting a port; check its stderr")
                }
                None => format!("the child {how} before reporting a port; check its stderr"),
            },
        );
        err.exit_status = exit.status();
        err
    }

    /// What kind of failure this is.
    ///
    /// # Example
    ///
    /// ```
    /// use std::process::Command;
    /// use dynamic_port::ErrorKind;
    ///
    /// let (mut child, port) = dynamic_port::spawn(Command::new("sh").args(["-c", "exit 2"]))?;
    /// let err = port.wait().unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::ChildExited);
    /// child.wait()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// For [`ErrorKind::ChildExited`]: how the child ended, when known.
    ///
    /// ```
    /// use std::process::Command;
    ///
    /// let (mut child, port) = dynamic_port::spawn(Command::new("false").arg("--"))?;
    /// let err = port.wait().unwrap_err();
    /// assert_eq!(err.exit_status().and_then(|s| s.code()), Some(1));
    /// # child.wait()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn exit_status(&self) -> Option<ExitStatus> {
        self.exit_status
    }

    /// For a [`Server`](crate::Server) that failed to start: the last lines
    /// the child wrote to its stderr (at most 20 lines, or 4 KiB), which
    /// `Display` ends with too. `None` when it wrote none, or for any other
    /// error.
    ///
    /// ```
    /// use std::process::Command;
    ///
    /// let mut command = Command::new("bash");
    /// command.args(["-c", "echo 'config: no such file' >&2; exit 1", "server"]);
    /// let err = dynamic_port::Server::start(&mut command).unwrap_err();
    /// assert_eq!(err.stderr_tail(), Some("config: no such file"));
    /// assert!(err.to_string().ends_with("config: no such file"));
    /// ```
    pub fn stderr_tail(&self) -> Option<&str> {
        self.stderr_tail.as_deref()
    }

    /// Adds the last lines of a failed server's stderr.
    pub(crate) fn with_stderr_tail(mut self, tail: Option<String>) -> Self {
        self.stderr_tail = tail;
        self
    }
}

impl fmt::Display for Error {
    /// The message alone; an [`ErrorKind::Io`] error's cause is its `source()`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(tail) = &self.stderr_tail {
            write!(f, "; its stderr ended with:\n{tail}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.kind).field("message", &self.message);
        if let Some(source) = &self.source {
            d.field("source", source);
        }
        if let Some(status) = &self.exit_status {
            d.field("exit_status", status);
        }
        if let Some(tail) = &self.stderr_tail {
            d.field("stderr_tail", tail);
        }
        d.finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_ref().map(|e| e as _)
    }
}

impl From<Error> for io::Error {
    fn from(err: Error) -> io::Error {
        let kind = match err.kind {
            ErrorKind::ClosedWithoutReport | ErrorKind::ChildExited => io::ErrorKind::UnexpectedEof,
            ErrorKind::MalformedReport => io::ErrorKind::InvalidData,
            ErrorKind::TimedOut => io::ErrorKind::TimedOut,
            ErrorKind::MalformedWriter => io::ErrorKind::InvalidInput,
            ErrorKind::NotInherited => io::ErrorKind::NotFound,
            ErrorKind::AlreadyReported => io::ErrorKind::AlreadyExists,
            ErrorKind::Abandoned => io::ErrorKind::BrokenPipe,
            ErrorKind::Io => match &err.source {
                Some(source) => source.kind(),
                None => io::ErrorKind::Other,
            },
        };
        io::Error::new(kind, err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_exited_names_its_pid_only_when_known() {
        let known = Error::child_exited(Some(4242), Exit::Code(3));
        assert!(known
            .to_string()
            .starts_with("the child (pid 4242) exited with exit code 3"));
        assert_eq!(known.exit_status().and_then(|s| s.code()), Some(3));
        let reaped = Error::child_exited(None, Exit::Collected);
        assert!(
            reaped
                .to_string()
                .starts_with("the child exited (its status"),
            "{reaped}"
        );
        assert!(!reaped.to_string().contains("pid"), "{reaped}");
        assert_eq!(reaped.exit_status(), None);
        // Signals are Unix's; Windows has exit codes only.
        #[cfg(unix)]
        let killed = Error::child_exited(
            Some(7),
            Exit::Signal {
                signal: 9,
                core_dumped: true,
            },
        );
        #[cfg(unix)]
        assert!(
            killed
                .to_string()
                .contains("signal 9 (SIGKILL), core dumped"),
            "{killed}"
        );
    }

    #[test]
    fn a_failed_servers_error_ends_with_its_stderr() {
        let err = Error::closed_without_report().with_stderr_tail(Some("a\nb".to_owned()));
        assert!(
            err.to_string().ends_with("; its stderr ended with:\na\nb"),
            "{err}"
        );
        assert_eq!(err.stderr_tail(), Some("a\nb"));
        assert!(format!("{err:?}").contains("stderr_tail"));
        assert_eq!(Error::closed_without_report().stderr_tail(), None);
    }
}
