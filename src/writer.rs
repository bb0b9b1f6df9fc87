//! [`DynamicPortWriter`]: where a child reports, its text form, how it is
//! handed to a child, and how the child reports through it. Thin over the
//! [transports](crate::transport).

use std::fmt;
use std::hash::{Hash, Hasher};
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
#[cfg(unix)]
use std::os::fd::RawFd;
use std::path::Path;
use std::process::Command;
use std::str::FromStr;

use crate::error::{Error, ErrorKind};
use crate::future::PortFuture;
use crate::protocol::{self, Item, WriterText};
use crate::transport::{Kind, Writer};

/// An fd number: `std::os::fd::RawFd` on Unix; on Windows, where
/// [`DynamicPortWriter::fd`] is always `None`, the same `c_int`.
#[cfg(windows)]
type RawFd = std::ffi::c_int;

/// Where a child reports the port it listens on: an inherited pipe's write
/// end, a named FIFO, or a connection back to the parent.
///
/// The parent [creates](DynamicPortWriter::create) it together with a
/// [`PortFuture`], hands it to a child (as a flag with
/// [`pass_to`](DynamicPortWriter::pass_to), as an env var with
/// [`pass_to_env`](DynamicPortWriter::pass_to_env), or in any other form
/// with [`inherit`](DynamicPortWriter::inherit)), and drops its own copy;
/// [`spawn`](crate::spawn) does all of that in one call.
/// The child parses it back (from text with [`FromStr`], or with
/// [`from_env`](DynamicPortWriter::from_env), clap, serde or postcard) and
/// calls [`where_to_listen`](DynamicPortWriter::where_to_listen), or one of
/// the runtime modules' versions, or [`report`](DynamicPortWriter::report).
///
/// # Three kinds
///
/// | made by | travels through | text | spawn |
/// | --- | --- | --- | --- |
/// | [`create`](Self::create) | an anonymous pipe the child inherits | `7:pipe:123456` | `fork` (a `pre_exec` hook hands over the fd) |
/// | [`create_named`](Self::create_named) | a FIFO in a private directory, opened by path | `fifo:23:4711:/dev/shm/dynamic-port-…/port` | `posix_spawn`: cheap however large the parent |
/// | [`create_remote`](Self::create_remote) | a TCP connection back to the parent, from any host, with a secret token | `tcp:3f9c…e1@10.0.0.1:40123` | `posix_spawn` |
///
/// Only an inherited pipe lets the parent see the child die by end of
/// stream alone; the others need [`PortFuture::watch`] (which
/// [`spawn`](crate::spawn) sets up) for that.
///
/// # Text form
///
/// `Display` prints the fd number and the pipe's inode, `7:pipe:123456`, so
/// that a child can tell the pipe it inherited from an unrelated fd that
/// happens to have the same number. `FromStr` accepts that, the bare fd
/// number `7` of Jane Street's `Dynamic_port_writer`, a named writer's
/// `fifo:DEV:INODE:PATH` and a remote writer's `tcp:TOKEN@ADDR`. The fds of
/// the standard streams, 0, 1 and 2, are never a writer. See
/// [`protocol`](crate::protocol).
///
/// Parsing a pipe writer does one piece of I/O: if the fd is open here and is
/// the pipe named, it is marked close-on-exec again, so the child's own
/// children do not inherit it. An fd that is absent or is another pipe is not
/// a parse error; reporting through such a writer is.
///
/// # Which fds a writer touches
///
/// A writer writes through and closes only an fd it can show was handed to
/// this process for it: one that was *not* close-on-exec when this process
/// first parsed a writer naming it (std and this crate open every fd
/// close-on-exec, so such an fd was inherited), or the write end this
/// process created itself. A parsed writer that names any other fd, such as
/// a `std::io::pipe()` of this process, refuses to report
/// ([`ErrorKind::NotInherited`]) and leaves the fd alone.
///
/// # Clones and equality
///
/// In the creating process, clones share the write end, which closes when the
/// last one drops; a writer parsed there from this one's text shares it too.
/// Two writers are equal when their texts are: the same fd and pipe, the
/// same FIFO, or the same token and address.
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
    /// Where the report goes.
    to: Writer,
}

impl DynamicPortWriter {
    /// The environment variable [`pass_to_env`](Self::pass_to_env) sets and
    /// [`from_env`](Self::from_env) reads.
    pub const ENV_VAR: &'static str = "DYNAMIC_PORT_WRITER";

    /// The address [`where_to_listen`](Self::where_to_listen) and every
    /// runtime module's `where_to_listen` bind: `127.0.0.1`, so that a server
    /// is not exposed to the network by accident.
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
    /// **On Windows**, which has no fds to inherit, it is a writer that
    /// connects back on loopback, with a token, as
    /// [`create_remote`](Self::create_remote)`("127.0.0.1:0")` makes.
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
        Self::made(Kind::Inherited)
    }

    /// Creates a named writer: a FIFO the child opens by its path, instead
    /// of a pipe it inherits.
    ///
    /// The FIFO (mode 0600) sits in a fresh private directory (mode 0700)
    /// made in `$XDG_RUNTIME_DIR` if set, else `/dev/shm` if present, else
    /// [`std::env::temp_dir`]; only this user can open it. The directory is
    /// removed when the [`PortFuture`] resolves or is dropped, so nothing is
    /// left on disk. A child that reports after that gets
    /// [`ErrorKind::Abandoned`] at once; one that finds another file at the
    /// path gets [`ErrorKind::NotInherited`] and writes nothing.
    ///
    /// # Why
    ///
    /// Nothing is inherited, so [`pass_to`](Self::pass_to) adds no
    /// `pre_exec` hook, and std spawns the child with `posix_spawn` instead
    /// of `fork`: the spawn costs the same however much memory the parent
    /// has mapped (see the README's "Performance"). Every way of passing
    /// the writer and every child API work unchanged.
    ///
    /// # What it cannot see
    ///
    /// The parent holds the FIFO open for writing too (so a pending read
    /// never sees end of stream), and the child inherits nothing: the future
    /// cannot see the child die by itself. Watch the child with
    /// [`PortFuture::watch`], or spawn it with [`spawn`](crate::spawn)
    /// and [`SpawnOptions::named`](crate::SpawnOptions::named), which do.
    ///
    /// **On Windows**, which has no FIFOs, it is the loopback writer that
    /// [`create`](Self::create) makes there.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Io`] if the directory or the FIFO cannot be made.
    ///
    /// # Example
    ///
    /// ```
    /// use std::process::Command;
    /// use dynamic_port::DynamicPortWriter;
    ///
    /// let (writer, port) = DynamicPortWriter::create_named()?;
    /// let mut command = Command::new("python3");
    /// command.args(["-c", "import os, sys
    /// path = sys.argv[2].split(':', 3)[3]
    /// fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    /// os.write(fd, b'8080\\n')"]);
    /// writer.pass_to(&mut command); // --dynamic-port-writer fifo:23:4711:/dev/shm/.../port
    /// let mut child = command.spawn()?;
    /// let port = port.watch(&mut child);
    /// assert_eq!(port.wait()?, 8080);
    /// child.wait()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn create_named() -> Result<(DynamicPortWriter, PortFuture), Error> {
        Self::made(Kind::Named)
    }

    /// Creates a remote writer: the parent listens on `addr` (port 0 lets the
    /// OS pick), and the child, on this host or another, connects back and
    /// sends its report with a secret token. The child's API is unchanged.
    ///
    /// The writer text, `tcp:TOKEN@ADDRESS`, names the address and a token
    /// of 128 bits from the OS's random source (`getrandom`). The parent
    /// accepts connections until one presents the token and a whole report;
    /// one that sends anything else, more than a report's worth of bytes, or
    /// nothing for 5 seconds is closed and changes nothing. A connection
    /// that presents the token is the child: a malformed report after it is
    /// [`ErrorKind::MalformedReport`], as through a pipe. The listener and
    /// every connection close when the future resolves, fails or is dropped
    /// (a child that connects then gets [`ErrorKind::Abandoned`]).
    /// [`PortFuture::addr`] gives the child's address as the parent saw the
    /// connection, with the reported port, so a child that bound `0.0.0.0`
    /// on another host is reachable. Nothing is inherited: watch the local
    /// launcher (`ssh`, `ip netns exec`...) with [`PortFuture::watch`] to
    /// see the child die.
    ///
    /// # Security
    ///
    /// - A command line is readable by every local user through `/proc`:
    ///   pass the writer with [`pass_to_env`](Self::pass_to_env), not as a flag.
    /// - The report is authenticated by the token but not encrypted: someone
    ///   who can watch the network can read the port (and the token, which
    ///   is good for one report only).
    /// - Bind `addr` to the interface the child can reach, not to all of
    ///   them (`0.0.0.0`): the writer text names that address, and nobody
    ///   elsewhere needs to connect.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Io`] if the address cannot be bound.
    ///
    /// # Example
    ///
    /// ```
    /// use std::net::SocketAddr;
    /// use std::process::Command;
    ///
    /// let (writer, port) = dynamic_port::DynamicPortWriter::create_remote("127.0.0.1:0".parse()?)?;
    /// let mut command = Command::new("python3"); // as if on another host
    /// command.args(["-c", "import os, socket
    /// token, addr = os.environ['DYNAMIC_PORT_WRITER'][4:].split('@')
    /// host, port = addr.rsplit(':', 1)
    /// s = socket.create_connection((host, int(port)))
    /// s.sendall(token.encode() + b' 8080\\n')"]);
    /// writer.pass_to_env(&mut command); // the token stays off the command line
    /// let mut child = command.spawn()?;
    /// let addr: SocketAddr = port.watch(&mut child).addr().wait()?;
    /// assert_eq!(addr, "127.0.0.1:8080".parse()?);
    /// child.wait()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn create_remote(addr: SocketAddr) -> Result<(DynamicPortWriter, PortFuture), Error> {
        Self::made(Kind::Remote(addr))
    }

    /// The fd number of the write end, as the child sees it; `None` for a
    /// named or remote writer, which has no fd until the child opens it,
    /// and always `None` on Windows.
    ///
    /// ```
    /// # let (writer, _port) = dynamic_port::DynamicPortWriter::create()?;
    /// let fd = writer.fd().unwrap();
    /// assert!(writer.to_string().starts_with(&format!("{fd}:")));
    /// # Ok::<(), dynamic_port::Error>(())
    /// ```
    pub fn fd(&self) -> Option<RawFd> {
        self.to.fd()
    }

    /// The FIFO's path for a named writer; `None` for a pipe, and always
    /// `None` on Windows.
    ///
    /// ```
    /// # let (writer, _port) = dynamic_port::DynamicPortWriter::create_named()?;
    /// let path = writer.path().unwrap();
    /// assert!(writer.to_string().ends_with(path.to_str().unwrap()));
    /// # Ok::<(), dynamic_port::Error>(())
    /// ```
    pub fn path(&self) -> Option<&Path> {
        self.to.path()
    }

    /// Whether this is a named writer (from [`create_named`](Self::create_named)).
    ///
    /// # Example
    ///
    /// ```
    /// use dynamic_port::DynamicPortWriter;
    ///
    /// let (named, _port) = DynamicPortWriter::create_named()?;
    /// assert!(named.is_named());
    /// let (pipe, _port) = DynamicPortWriter::create()?;
    /// assert!(!pipe.is_named());
    /// # Ok::<(), dynamic_port::Error>(())
    /// ```
    pub fn is_named(&self) -> bool {
        self.to.path().is_some()
    }

    /// Where the parent listens, for a remote writer (from
    /// [`create_remote`](Self::create_remote)); `None` for the others.
    ///
    /// # Example
    ///
    /// ```
    /// use dynamic_port::DynamicPortWriter;
    ///
    /// let (writer, _port) = DynamicPortWriter::create_remote("127.0.0.1:0".parse()?)?;
    /// let addr = writer.remote_addr().unwrap();
    /// assert_ne!(addr.port(), 0); // the port the OS picked
    /// assert!(writer.to_string().ends_with(&format!("@{addr}")));
    /// assert_eq!(DynamicPortWriter::create()?.0.remote_addr(), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn remote_addr(&self) -> Option<SocketAddr> {
        self.to.remote_addr()
    }

    /// The command-line arguments that carry this writer:
    /// `["--dynamic-port-writer", "7:pipe:123456"]`.
    ///
    /// They do not make the child inherit the fd; [`pass_to`](Self::pass_to)
    /// adds them and does that too. A named writer has nothing to inherit,
    /// so for it they are enough.
    ///
    /// # Example
    ///
    /// ```
    /// use std::process::Command;
    /// use dynamic_port::DynamicPortWriter;
    ///
    /// let (writer, port) = DynamicPortWriter::create_named()?;
    /// assert_eq!(writer.flag_args(), [DynamicPortWriter::FLAG, writer.to_string().as_str()]);
    /// let mut command = Command::new("sh");
    /// command.args(["-c", r#"echo 8080 >"${2#fifo:*:*:}""#, "child"]).args(writer.flag_args());
    /// let mut child = command.spawn()?;
    /// assert_eq!(port.watch(&mut child).wait()?, 8080);
    /// child.wait()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn flag_args(&self) -> Vec<String> {
        vec![Self::FLAG.to_owned(), self.to_string()]
    }

    /// Adds [`flag_args`](Self::flag_args) to `command` and makes the child
    /// it spawns, and no other process, inherit the write end.
    ///
    /// Works for `tokio::process::Command` through `as_std_mut()`, and for
    /// `async_process::Command` by building it `From` a `std` command.
    ///
    /// Afterwards, spawn the child, drop the parent's writer and
    /// [`watch`](PortFuture::watch) the child, so that the [`PortFuture`]
    /// fails at once if the child dies without reporting; [`spawn`](crate::spawn)
    /// does all of it in one call.
    ///
    /// # Spawning after the writer is dropped
    ///
    /// If every clone of a pipe writer was dropped before the spawn, the
    /// spawn fails with `EBADF` ("Bad file descriptor") rather than hand the
    /// child whatever fd then has that number.
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
    /// assert_eq!(port.watch(&mut child).wait()?, 9999);
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
    /// before the spawn. For a named writer there is nothing to inherit, and
    /// this does nothing; nor on Windows, where no writer needs anything
    /// inherited.
    ///
    /// # Example
    ///
    /// A program that takes the fd number in a form of its own, as
    /// `dbus-daemon --print-address=FD` does:
    ///
    /// ```
    /// use std::process::Command;
    /// use dynamic_port::DynamicPortWriter;
    ///
    /// let (writer, port) = DynamicPortWriter::create()?;
    /// let fd = writer.fd().unwrap();
    /// let mut command = Command::new("bash");
    /// let flag = format!("--report-to={fd}");
    /// command.args(["-c", r#"echo 8080 >&"${1#--report-to=}""#, "child", &flag]);
    /// writer.inherit(&mut command);
    /// let mut child = command.spawn()?;
    /// drop(writer);
    /// assert_eq!(port.watch(&mut child).wait()?, 8080);
    /// child.wait()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn inherit<'c>(&self, command: &'c mut Command) -> &'c mut Command {
        self.to.inherit(command);
        command
    }

    /// Sets the env var [`ENV_VAR`](Self::ENV_VAR) (`DYNAMIC_PORT_WRITER`)
    /// of `command` to this writer and makes its child inherit the write end.
    ///
    /// The child reads it with [`from_env`](Self::from_env); a shell child
    /// gets the fd with `${DYNAMIC_PORT_WRITER%%:*}`.
    ///
    /// # Example
    ///
    /// ```
    /// use std::process::Command;
    /// use dynamic_port::DynamicPortWriter;
    ///
    /// let (writer, port) = DynamicPortWriter::create()?;
    /// let mut command = Command::new("bash");
    /// command.args(["-c", r#"echo 8080 >&"${DYNAMIC_PORT_WRITER%%:*}""#]);
    /// writer.pass_to_env(&mut command); // sets DYNAMIC_PORT_WRITER=7:pipe:123456
    /// let mut child = command.spawn()?;
    /// drop(writer);
    /// assert_eq!(port.watch(&mut child).wait()?, 8080);
    /// child.wait()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
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
                    "the env var {} is {:?}, which is not UTF-8 and so not a writer",
                    Self::ENV_VAR,
                    value
                ),
            )
        })?;
        text.parse().map(Some)
    }

    /// Reports `port` to the parent, then closes this process's copy of the
    /// fd (in a child).
    ///
    /// Use it for a server bound by other means, or one that should report
    /// only once it is ready. Before writing, it checks that the fd is the
    /// pipe the writer names and was inherited (or, for a named writer, that
    /// the path is the FIFO named and this user's); if not it writes
    /// nothing. A report is a few bytes into an empty pipe, so it never blocks.
    ///
    /// # Errors
    ///
    /// - [`ErrorKind::NotInherited`]: the fd is not the named pipe's write
    ///   end, or was not inherited; or the path is not the FIFO named;
    /// - [`ErrorKind::AlreadyReported`]: a copy of this writer already reported;
    /// - [`ErrorKind::Abandoned`]: nobody reads any more (the parent
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
        self.send(&protocol::encode_report(port)?)
    }

    /// Reports several named endpoints in one write, such as
    /// `http=127.0.0.1:8080 admin=[::1]:9090`; the parent reads them with
    /// [`PortFuture::addrs`].
    ///
    /// Everything is checked before anything is written: each name is 1 to
    /// 32 of `a-z A-Z 0-9 _ - .`, no name comes twice, no port is 0, no IPv6
    /// address has a scope id, and the whole report, with its `\n`, fits in
    /// 4096 bytes (`PIPE_BUF` on Linux: one atomic write into a pipe; 512 on macOS and FreeBSD).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::MalformedReport`] for a bad endpoint (nothing is
    /// written), and the errors of [`report`](Self::report).
    ///
    /// ```
    /// use std::net::TcpListener;
    /// use dynamic_port::DynamicPortWriter;
    ///
    /// let (writer, port) = DynamicPortWriter::create()?;
    /// let http = TcpListener::bind("127.0.0.1:0")?;
    /// let admin = TcpListener::bind("[::1]:0").or_else(|_| TcpListener::bind("127.0.0.1:0"))?;
    /// writer.report_addrs(&[("http", http.local_addr()?), ("admin", admin.local_addr()?)])?;
    /// let endpoints = port.addrs().wait()?;
    /// assert_eq!(endpoints["admin"], admin.local_addr()?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn report_addrs(self, addrs: &[(&str, SocketAddr)]) -> Result<(), Error> {
        let named: Vec<(Option<&str>, SocketAddr)> = addrs
            .iter()
            .map(|&(name, addr)| (Some(name), addr))
            .collect();
        self.send(&protocol::encode_addrs(&named)?)
    }

    /// Sends a report line through this writer's transport.
    fn send(&self, line: &str) -> Result<(), Error> {
        self.to.send(line.as_bytes())
    }

    /// Binds `127.0.0.1:0`, and once `listen()` has returned, reports the port.
    ///
    /// Loopback is the default so that a server is not exposed by accident;
    /// use [`where_to_listen_on`](Self::where_to_listen_on) for another address.
    ///
    /// # Errors
    ///
    /// As for [`report`](Self::report), plus [`ErrorKind::Io`] if binding
    /// fails. When the report fails, the listener is closed: a server that
    /// should keep serving even when nobody waits for its port binds by
    /// itself and calls [`report`](Self::report).
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

    /// Binds `ip:0` and, once `listen()` has returned, reports where it listens.
    ///
    /// `0.0.0.0` listens on every IPv4 interface; `::1` and `::` work too.
    /// On failure the listener is closed, as for [`where_to_listen`](Self::where_to_listen).
    ///
    /// # What it reports
    ///
    /// For `127.0.0.1`, `0.0.0.0` and `::`, the bare port, as every version
    /// and every parent in any language expects: a parent connects to a bare
    /// port on `127.0.0.1`, where such a server is reachable. For any other
    /// address (`::1`, `127.0.0.2`, an interface's address), the whole
    /// address, such as `[::1]:54321`, because `127.0.0.1` would not reach
    /// the server: [`PortFuture::addr`] then gives that address, and a plain
    /// [`PortFuture`] still gives the port.
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
    /// reports the port. The path of the blocking `where_to_listen`.
    pub(crate) fn listen_then_report<L>(
        self,
        ip: IpAddr,
        convert: impl FnOnce(TcpListener) -> io::Result<L>,
    ) -> Result<L, Error> {
        let (listener, line) = Self::listen(ip, convert)?;
        self.send(&line)?;
        Ok(listener)
    }

    // Only the runtime adapters report without blocking.
    #[cfg(any(feature = "rt-tokio", feature = "rt-async-std", feature = "rt-smol"))]
    /// As [`listen_then_report`](Self::listen_then_report), without ever
    /// blocking the executor: a remote writer connects and writes through
    /// the reactor. (A pipe or a FIFO takes one nonblocking write of a few
    /// bytes.) The one path every runtime adapter takes.
    pub(crate) async fn listen_then_report_async<L>(
        self,
        ip: IpAddr,
        convert: impl FnOnce(TcpListener) -> io::Result<L>,
    ) -> Result<L, Error> {
        let (listener, line) = Self::listen(ip, convert)?;
        self.to.send_async(line.as_bytes()).await?;
        Ok(listener)
    }

    /// Binds `ip:0`, turns the listener into `L`, and makes the report line
    /// for where it listens.
    fn listen<L>(
        ip: IpAddr,
        convert: impl FnOnce(TcpListener) -> io::Result<L>,
    ) -> Result<(L, String), Error> {
        let listener = TcpListener::bind((ip, 0))
            .map_err(|e| Error::io(format!("could not listen on {ip} port 0"), e))?;
        let local = listener
            .local_addr()
            .map_err(|e| Error::io("could not read the listener's address", e))?;
        let listener = convert(listener)
            .map_err(|e| Error::io("could not hand the listener to the runtime", e))?;
        Ok((listener, protocol::encode_item(Item::reported_for(local))?))
    }

    /// A new writer of `kind`, and the future of its report.
    fn made(kind: Kind) -> Result<(DynamicPortWriter, PortFuture), Error> {
        let (to, receiver) = Writer::create(kind)?;
        Ok((DynamicPortWriter { to }, PortFuture::new(receiver)))
    }

    /// The parsed text form.
    pub(crate) fn text(&self) -> WriterText {
        self.to.text()
    }

    /// Makes a writer from parsed text, doing the one piece of I/O parsing
    /// does (on Windows, refusing a pipe's or a FIFO's text).
    pub(crate) fn from_text(text: WriterText) -> Result<DynamicPortWriter, Error> {
        Ok(DynamicPortWriter {
            to: Writer::from_text(text)?,
        })
    }
}

impl fmt::Display for DynamicPortWriter {
    /// The writer text: `FD:pipe:INODE`, the bare `FD`, `fifo:DEV:INODE:PATH`
    /// or `tcp:TOKEN@ADDR`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&protocol::format_writer(&self.text()))
    }
}

impl fmt::Debug for DynamicPortWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.to.fmt(f)
    }
}

impl FromStr for DynamicPortWriter {
    type Err = Error;

    /// Parses the writer text; see [`protocol`](crate::protocol).
    fn from_str(text: &str) -> Result<Self, Error> {
        protocol::parse_writer(text).and_then(DynamicPortWriter::from_text)
    }
}

impl PartialEq for DynamicPortWriter {
    fn eq(&self, other: &Self) -> bool {
        self.text() == other.text()
    }
}

impl Eq for DynamicPortWriter {}

impl Hash for DynamicPortWriter {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.text().hash(state);
    }
}

#[cfg(all(test, unix))]
mod tests {
    use std::collections::hash_map::DefaultHasher;
    use std::hash::{Hash, Hasher};

    use super::*;

    fn hash_of(writer: &DynamicPortWriter) -> u64 {
        let mut hasher = DefaultHasher::new();
        writer.hash(&mut hasher);
        hasher.finish()
    }

    #[test]
    fn a_writer_says_what_it_is_in_its_debug_its_kind_and_its_hash() {
        let (pipe, _port) = DynamicPortWriter::create().unwrap();
        let (named, _named_port) = DynamicPortWriter::create_named().unwrap();
        let (remote, _remote_port) =
            DynamicPortWriter::create_remote("127.0.0.1:0".parse().unwrap()).unwrap();
        assert!(!pipe.is_named() && named.is_named() && !remote.is_named());
        let debug = format!("{pipe:?}");
        assert!(debug.contains(&pipe.fd().unwrap().to_string()), "{debug}");
        let debug = format!("{remote:?}");
        let text = remote.to_string();
        let token = &text[text.find(':').unwrap() + 1..text.find('@').unwrap()];
        assert!(debug.contains("127.0.0.1"), "{debug}");
        assert!(!debug.contains(token), "{debug}");
        // Equal writers hash alike, and these three differ.
        let copy: DynamicPortWriter = pipe.to_string().parse().unwrap();
        assert_eq!(hash_of(&copy), hash_of(&pipe));
        let hashes = [hash_of(&pipe), hash_of(&named), hash_of(&remote)];
        assert!(hashes[0] != hashes[1] && hashes[1] != hashes[2] && hashes[0] != hashes[2]);
    }
}
