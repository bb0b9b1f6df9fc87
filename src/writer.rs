//! [`DynamicPortWriter`]: the pipe's write end, its text form, how it is handed
//! to a child, and how the child reports through it.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::io;
use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::process::Command;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use crate::error::{Error, ErrorKind};
use crate::port_future::PortFuture;
use crate::protocol;
use crate::sys::{self, Probe};

/// The write end held by the process that created the pipe, shared by all
/// clones of its writer and closed when the last one drops.
struct WriteEnd {
    /// The fd itself (close-on-exec; number 3 or more).
    fd: OwnedFd,
    /// The pipe's inode, which the text form names.
    inode: u64,
    /// Set by the first `report` through any clone.
    reported: AtomicBool,
}

/// The pipes this process created whose write end is still open, by fd
/// number, so that a writer parsed here shares the creator's fd instead of
/// closing it.
static CREATED: Mutex<BTreeMap<RawFd, Weak<WriteEnd>>> = Mutex::new(BTreeMap::new());

/// The inherited fds this process has reported through (and closed), so
/// that reporting again through another copy is a clear error.
static CLAIMED: Mutex<BTreeSet<RawFd>> = Mutex::new(BTreeSet::new());

/// Locks one of the registries; they hold plain data, so poison is harmless.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Drop for WriteEnd {
    fn drop(&mut self) {
        let mut created = lock(&CREATED);
        let fd = self.fd.as_raw_fd();
        if created
            .get(&fd)
            .is_some_and(|entry| std::ptr::eq(entry.as_ptr(), self))
        {
            created.remove(&fd);
        }
    }
}

/// The end of a pipe through which a child reports the port it listens on.
///
/// The parent [creates](DynamicPortWriter::create) it together with a
/// [`PortFuture`], hands it to a child (as a flag with
/// [`pass_to`](DynamicPortWriter::pass_to), as an env var with
/// [`pass_to_env`](DynamicPortWriter::pass_to_env), or in any other form
/// with [`inherit`](DynamicPortWriter::inherit)), and drops its own copy.
/// The child parses it back (from text with [`FromStr`], or with
/// [`from_env`](DynamicPortWriter::from_env), clap, serde or postcard) and
/// calls [`where_to_listen`](DynamicPortWriter::where_to_listen), or one of
/// the runtime modules' versions, or [`report`](DynamicPortWriter::report).
///
/// # Text form
///
/// `Display` prints the fd number and the pipe's inode, `7:pipe:123456`, so
/// that a child can tell the pipe it inherited from an unrelated fd that
/// happens to have the same number. `FromStr` accepts that and the original
/// `Dynamic_port_writer`'s bare fd number, `7`. See [`protocol`](crate::protocol).
///
/// Parsing does one piece of I/O: if the fd is open here and is the pipe
/// named, it is marked close-on-exec again, so the child's own children do
/// not inherit it. An fd that is absent or is another pipe is not a parse
/// error; reporting through such a writer is.
///
/// # Clones and equality
///
/// In the creating process, clones share the write end, which closes when the
/// last one drops; a writer parsed there from this one's text shares it too.
/// Two writers are equal when they name the same fd and pipe.
///
/// ```
/// use dynamic_port::DynamicPortWriter;
///
/// let (writer, _port) = DynamicPortWriter::create()?;
/// let text = writer.to_string(); // e.g. "5:pipe:123456"
/// let parsed: DynamicPortWriter = text.parse()?;
/// assert_eq!(parsed, writer);
/// assert_eq!(writer.flag_args(), ["--dynamic-port-writer", text.as_str()]);
/// # Ok::<(), dynamic_port::Error>(())
/// ```
#[derive(Clone)]
pub struct DynamicPortWriter {
    /// The fd number of the write end, the same in parent and child.
    fd: RawFd,
    /// The pipe's inode, when known (always, except for a bare fd number
    /// parsed where that fd is not a pipe's write end).
    pipe: Option<u64>,
    /// In the creating process: the shared write end.
    created: Option<Arc<WriteEnd>>,
}

impl DynamicPortWriter {
    /// The environment variable [`pass_to_env`](Self::pass_to_env) sets and
    /// [`from_env`](Self::from_env) reads.
    pub const ENV_VAR: &'static str = "DYNAMIC_PORT_WRITER";

    /// The address [`where_to_listen`](Self::where_to_listen) and every
    /// runtime module's `where_to_listen` bind: `127.0.0.1`, deliberately
    /// safer than the original's `0.0.0.0`.
    pub const DEFAULT_IP: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

    /// The long flag [`flag_args`](Self::flag_args) and [`pass_to`](Self::pass_to) add.
    pub const FLAG: &'static str = "--dynamic-port-writer";

    /// Creates a pipe: the writer to hand to a child, and the future of the
    /// port it will report.
    ///
    /// Both ends are close-on-exec: no child inherits the write end unless
    /// given it with [`pass_to`](Self::pass_to), [`inherit`](Self::inherit)
    /// or [`pass_to_env`](Self::pass_to_env).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Io`] if the pipe cannot be made (for example, when the
    /// process is out of fds).
    ///
    /// # Example
    ///
    /// ```
    /// use dynamic_port::DynamicPortWriter;
    ///
    /// let (writer, port) = DynamicPortWriter::create()?;
    /// // In one process, for show: the "child" binds and reports.
    /// let listener = writer.where_to_listen()?;
    /// assert_eq!(port.wait()?, listener.local_addr()?.port());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn create() -> Result<(DynamicPortWriter, PortFuture), Error> {
        let (read_end, write_end) =
            sys::pipe().map_err(|e| Error::io("could not create the pipe", e))?;
        let inode = sys::inode(write_end.as_fd())
            .map_err(|e| Error::io("could not stat the new pipe", e))?;
        let port = PortFuture::new(read_end);
        let fd = write_end.as_raw_fd();
        let end = Arc::new(WriteEnd {
            fd: write_end,
            inode,
            reported: AtomicBool::new(false),
        });
        lock(&CREATED).insert(fd, Arc::downgrade(&end));
        let writer = DynamicPortWriter {
            fd,
            pipe: Some(inode),
            created: Some(end),
        };
        Ok((writer, port))
    }

    /// The fd number of the write end, as the child sees it.
    ///
    /// ```
    /// # let (writer, _port) = dynamic_port::DynamicPortWriter::create()?;
    /// assert!(writer.to_string().starts_with(&format!("{}:", writer.fd())));
    /// # Ok::<(), dynamic_port::Error>(())
    /// ```
    pub fn fd(&self) -> RawFd {
        self.fd
    }

    /// The command-line arguments that carry this writer:
    /// `["--dynamic-port-writer", "7:pipe:123456"]`.
    ///
    /// They do not make the child inherit the fd; [`pass_to`](Self::pass_to)
    /// adds them and does that too.
    pub fn flag_args(&self) -> Vec<String> {
        vec![Self::FLAG.to_owned(), self.to_string()]
    }

    /// Adds [`flag_args`](Self::flag_args) to `command` and makes the child
    /// it spawns, and no other process, inherit the write end.
    ///
    /// Works for `tokio::process::Command` through `as_std_mut()`, and for
    /// `async_process::Command` by building it `From` a `std` command.
    ///
    /// Afterwards, spawn the child and drop the parent's writer, so that
    /// the [`PortFuture`] fails at once if the child dies without reporting.
    ///
    /// # Spawning after the writer is dropped
    ///
    /// If every clone of the writer was dropped before the spawn, the spawn
    /// fails with `EBADF` ("Bad file descriptor") rather than hand the child
    /// whatever fd then has that number.
    ///
    /// ```
    /// use std::process::Command;
    /// use dynamic_port::DynamicPortWriter;
    ///
    /// let (writer, port) = DynamicPortWriter::create()?;
    /// let mut command = Command::new("bash");
    /// command.args(["-c", r#"echo 9999 >&"${2%%:*}""#, "child"]);
    /// writer.pass_to(&mut command); // adds: --dynamic-port-writer 7:pipe:123456
    /// let mut child = command.spawn()?;
    /// drop(writer);
    /// assert_eq!(port.wait()?, 9999);
    /// # child.wait()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn pass_to<'c>(&self, command: &'c mut Command) -> &'c mut Command {
        command.args(self.flag_args());
        self.inherit(command)
    }

    /// Makes the child that `command` spawns, and no other process, inherit
    /// the write end, without adding any argument: for a writer that travels
    /// in a config file, as postcard bytes, or in an env var you set yourself.
    ///
    /// The parent's fd stays close-on-exec throughout: children spawned at
    /// the same time by other threads do not inherit it. See
    /// [`pass_to`](Self::pass_to) for what happens if the writer is dropped
    /// before the spawn.
    pub fn inherit<'c>(&self, command: &'c mut Command) -> &'c mut Command {
        match &self.created {
            Some(end) => {
                let end = Arc::downgrade(end);
                sys::inherit_on_exec(command, self.fd, self.pipe, move || end.strong_count() > 0);
            }
            // A writer this process inherited, passed on to a grandchild.
            None => sys::inherit_on_exec(command, self.fd, self.pipe, || true),
        }
        command
    }

    /// Sets the env var [`ENV_VAR`](Self::ENV_VAR) (`DYNAMIC_PORT_WRITER`)
    /// of `command` to this writer and makes its child inherit the write end.
    ///
    /// The child reads it with [`from_env`](Self::from_env); a shell child
    /// gets the fd with `${DYNAMIC_PORT_WRITER%%:*}`.
    pub fn pass_to_env<'c>(&self, command: &'c mut Command) -> &'c mut Command {
        command.env(Self::ENV_VAR, self.to_string());
        self.inherit(command)
    }

    /// Reads the writer from the env var [`ENV_VAR`](Self::ENV_VAR).
    ///
    /// `Ok(None)` when it is unset; [`ErrorKind::MalformedWriter`] when it is
    /// set but not a writer (including when it is not UTF-8).
    ///
    /// ```
    /// use dynamic_port::DynamicPortWriter;
    ///
    /// match DynamicPortWriter::from_env()? {
    ///     Some(writer) => drop(writer.where_to_listen()?),
    ///     None => println!("not started by a dynamic-port parent"),
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_env() -> Result<Option<DynamicPortWriter>, Error> {
        let Some(value) = std::env::var_os(Self::ENV_VAR) else {
            return Ok(None);
        };
        let text = value.to_str().ok_or_else(|| {
            Error::new(
                ErrorKind::MalformedWriter,
                format!(
                    "the env var {} is set to {:?}, which is not UTF-8 and so not a \
                     dynamic port writer",
                    Self::ENV_VAR,
                    value
                ),
            )
        })?;
        text.parse().map(Some)
    }

    /// Reports `port` to the parent through the pipe, then closes this
    /// process's copy of the fd (in a child).
    ///
    /// Use it for a server bound by other means, or one that should report
    /// only once it is ready. Before writing, it checks that the fd is open,
    /// is a pipe's write end and is the pipe the writer names; if not it
    /// writes nothing. A report is a few bytes into an empty pipe, so it
    /// never blocks.
    ///
    /// # Errors
    ///
    /// - [`ErrorKind::NotInherited`]: the fd is not the named pipe's write end here;
    /// - [`ErrorKind::AlreadyReported`]: a copy of this writer already reported;
    /// - [`ErrorKind::Abandoned`]: nobody reads the pipe any more (the parent
    ///   dropped its [`PortFuture`] or exited); never a SIGPIPE;
    /// - [`ErrorKind::MalformedReport`]: `port` is 0.
    ///
    /// ```
    /// use std::net::TcpListener;
    /// use dynamic_port::DynamicPortWriter;
    ///
    /// let (writer, port) = DynamicPortWriter::create()?;
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// // ... get ready to serve ...
    /// writer.report(listener.local_addr()?.port())?;
    /// assert_eq!(port.wait()?, listener.local_addr()?.port());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn report(self, port: u16) -> Result<(), Error> {
        let line = protocol::encode_report(port)?;
        match &self.created {
            Some(end) => {
                if end.reported.swap(true, Ordering::AcqRel) {
                    return Err(self.already_reported());
                }
                self.write_line(end.fd.as_fd(), &line)
            }
            None => {
                let mut claimed = lock(&CLAIMED);
                if claimed.contains(&self.fd) {
                    return Err(self.already_reported());
                }
                match sys::probe(self.fd, self.pipe) {
                    Probe::WriteEnd { .. } => {}
                    found => return Err(self.not_inherited(found)),
                }
                let fd = sys::adopt_inherited(self.fd);
                claimed.insert(self.fd);
                drop(claimed);
                self.write_line(fd.as_fd(), &line)
                // `fd` closes here: the child holds no copy once it reported.
            }
        }
    }

    /// Binds `127.0.0.1:0`, and once `listen()` has returned, reports the port.
    ///
    /// The original bound `0.0.0.0`; loopback is the safer default. Use
    /// [`where_to_listen_on`](Self::where_to_listen_on) for another address.
    ///
    /// # Errors
    ///
    /// As for [`report`](Self::report), plus [`ErrorKind::Io`] if binding fails.
    ///
    /// ```no_run
    /// use std::io::Write;
    /// use dynamic_port::DynamicPortWriter;
    ///
    /// // In the child:
    /// let writer = DynamicPortWriter::from_env()?.expect("started by a dynamic-port parent");
    /// let listener = writer.where_to_listen()?;
    /// for stream in listener.incoming() {
    ///     stream?.write_all(b"hello\n")?;
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn where_to_listen(self) -> Result<TcpListener, Error> {
        self.where_to_listen_on(Self::DEFAULT_IP)
    }

    /// Binds `ip:0` and, once `listen()` has returned, reports the port.
    ///
    /// `0.0.0.0` is the original's choice; `::1` and `::` work too.
    ///
    /// ```
    /// use std::net::{IpAddr, Ipv6Addr};
    /// use dynamic_port::DynamicPortWriter;
    ///
    /// let (writer, port) = DynamicPortWriter::create()?;
    /// # if std::net::TcpListener::bind("[::1]:0").is_err() { return Ok(()) } // no IPv6 here
    /// let listener = writer.where_to_listen_on(IpAddr::V6(Ipv6Addr::LOCALHOST))?;
    /// assert_eq!(port.wait()?, listener.local_addr()?.port());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn where_to_listen_on(self, ip: IpAddr) -> Result<TcpListener, Error> {
        self.listen_then_report(ip, Ok)
    }

    /// Binds `ip:0`, turns the listener into `L` with `convert`, and only then
    /// reports the port. The one path every runtime adapter takes.
    pub(crate) fn listen_then_report<L>(
        self,
        ip: IpAddr,
        convert: impl FnOnce(TcpListener) -> io::Result<L>,
    ) -> Result<L, Error> {
        let address = (ip, 0);
        let listener = TcpListener::bind(address)
            .map_err(|e| Error::io(format!("could not listen on {ip} port 0"), e))?;
        let port = listener
            .local_addr()
            .map_err(|e| Error::io("could not read the listener's address", e))?
            .port();
        let listener = convert(listener)
            .map_err(|e| Error::io("could not hand the listener to the runtime", e))?;
        self.report(port)?;
        Ok(listener)
    }

    /// Writes the report line, mapping a gone reader to [`ErrorKind::Abandoned`].
    fn write_line(&self, fd: std::os::fd::BorrowedFd<'_>, line: &str) -> Result<(), Error> {
        sys::write_all_without_sigpipe(fd, line.as_bytes()).map_err(|e| {
            if e.kind() == io::ErrorKind::BrokenPipe {
                Error::new(
                    ErrorKind::Abandoned,
                    format!(
                        "nobody is waiting for the port any more (fd {}): the parent dropped \
                         its PortFuture or exited; keep serving or shut down, as suits this program",
                        self.fd
                    ),
                )
            } else {
                Error::io(format!("could not write the port to fd {}", self.fd), e)
            }
        })
    }

    /// The error for a second report.
    fn already_reported(&self) -> Error {
        Error::new(
            ErrorKind::AlreadyReported,
            format!(
                "the writer {self} has already reported a port: a writer reports once (its fd \
                 is closed after the report)"
            ),
        )
    }

    /// The error for an fd that is not the named pipe's write end.
    fn not_inherited(&self, found: Probe) -> Error {
        let fd = self.fd;
        let what = match found {
            Probe::NotOpen => format!("fd {fd} is not open in this process"),
            Probe::NotAPipe { file_type } => format!("fd {fd} is a {file_type}, not a pipe"),
            Probe::ReadEnd => format!("fd {fd} is the read end of a pipe, not the write end"),
            Probe::OtherPipe { inode } => format!("fd {fd} is another pipe (inode {inode})"),
            Probe::WriteEnd { .. } => format!("fd {fd} is the pipe"),
        };
        Error::new(
            ErrorKind::NotInherited,
            format!(
                "{what}, so the writer {self} cannot report and wrote nothing: was the writer \
                 passed with pass_to, inherit or pass_to_env, which make the child inherit it? \
                 (text from an earlier run or another process is stale)"
            ),
        )
    }

    /// Makes a writer from parsed text, doing the one piece of I/O parsing does.
    pub(crate) fn from_parts(fd: RawFd, pipe: Option<u64>) -> DynamicPortWriter {
        // In the process that created the pipe: share its write end, so that
        // reporting through the parsed copy never closes the creator's fd.
        let created = lock(&CREATED).get(&fd).and_then(Weak::upgrade);
        // (The lock is released before `created` may drop: `WriteEnd::drop` takes it.)
        if let Some(end) = created {
            if pipe.is_none_or(|inode| inode == end.inode) {
                return DynamicPortWriter {
                    fd,
                    pipe: Some(end.inode),
                    created: Some(end),
                };
            }
        }
        // Anywhere else, typically in the child: if the fd is the pipe named,
        // mark it close-on-exec, so the child's own children do not inherit it.
        let pipe = match sys::probe(fd, pipe) {
            Probe::WriteEnd { inode } => {
                // Ignored on failure: the fd stays usable, and reporting checks it again.
                let _ = sys::set_cloexec(fd);
                Some(inode)
            }
            _ => pipe,
        };
        DynamicPortWriter {
            fd,
            pipe,
            created: None,
        }
    }
}

impl DynamicPortWriter {
    /// The fd number and the pipe's inode (if known), for the encodings.
    #[cfg(feature = "serde")]
    pub(crate) fn parts(&self) -> (RawFd, Option<u64>) {
        (self.fd, self.pipe)
    }
}

impl fmt::Display for DynamicPortWriter {
    /// `FD:pipe:INODE`, or the bare `FD` when the pipe is unknown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&protocol::format_writer(self.fd, self.pipe))
    }
}

impl fmt::Debug for DynamicPortWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DynamicPortWriter")
            .field("fd", &self.fd)
            .field("pipe", &self.pipe)
            .field("creator", &self.created.is_some())
            .finish()
    }
}

impl FromStr for DynamicPortWriter {
    type Err = Error;

    /// Parses `7:pipe:123456` or the original's bare `7`; see [`protocol`](crate::protocol).
    fn from_str(text: &str) -> Result<Self, Error> {
        let (fd, pipe) = protocol::parse_writer(text)?;
        Ok(DynamicPortWriter::from_parts(fd, pipe))
    }
}

impl PartialEq for DynamicPortWriter {
    fn eq(&self, other: &Self) -> bool {
        (self.fd, self.pipe) == (other.fd, other.pipe)
    }
}

impl Eq for DynamicPortWriter {}

impl Hash for DynamicPortWriter {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (self.fd, self.pipe).hash(state);
    }
}
