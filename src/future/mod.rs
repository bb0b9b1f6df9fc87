//! The parent's side: [`PortFuture`] and the futures made from it, which
//! read the report in different ways over one [reading core](core).

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::process::Child;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::error::Error;
use crate::protocol::{self, Item, Report, MAX_LINE_LEN, MAX_REPORT_LEN};
use crate::transport::Receiver;
use crate::watch::Watch;

mod core;

use self::core::{Core, Grammar};

/// A plain report: one bare port, or one unnamed address.
const PORT: Grammar<u16> = Grammar {
    capacity: MAX_REPORT_LEN,
    parse: |bytes, end, _| protocol::parse_report(bytes, end),
};

/// One item, as the address to connect to.
const ADDR: Grammar<SocketAddr> = Grammar {
    capacity: MAX_REPORT_LEN,
    parse: |bytes, end, peer| {
        Ok(protocol::parse_one(bytes, end)?.map(|item: Item| item.connect_addr_from(peer)))
    },
};

/// Any number of items, named or not.
const ADDRS: Grammar<BTreeMap<String, SocketAddr>> = Grammar {
    capacity: MAX_LINE_LEN + 1,
    parse: |bytes, end, peer| {
        protocol::parse_items_report(bytes, end)?
            .map(|items| protocol::endpoints(items, bytes, peer))
            .transpose()
    },
};

/// Any number of items, named or not, in order, with the peer.
const REPORT: Grammar<Report> = Grammar {
    capacity: MAX_LINE_LEN + 1,
    parse: Report::parse,
};

/// One line of text.
const LINE: Grammar<String> = Grammar {
    capacity: MAX_LINE_LEN + 1,
    parse: |bytes, end, _| protocol::parse_line(bytes, end),
};

/// The port a child will report: a future of `Result<u16, Error>`.
///
/// Returned by [`DynamicPortWriter::create`](crate::DynamicPortWriter::create)
/// and [`spawn`](crate::spawn). It resolves
///
/// - to `Ok(port)` as soon as a whole report has arrived: a port, or one
///   address whose port it gives (it does not wait for the child to close the pipe);
/// - to [`ErrorKind::ChildExited`](crate::ErrorKind::ChildExited) as soon as
///   a [watched](PortFuture::watch) child exits without reporting, with its
///   exit code or signal;
/// - to [`ErrorKind::ClosedWithoutReport`](crate::ErrorKind::ClosedWithoutReport)
///   as soon as every copy of a pipe's write end is closed without a report
///   (once the parent has dropped its writer, that is the moment an
///   unwatched child exits);
/// - to [`ErrorKind::MalformedReport`](crate::ErrorKind::MalformedReport) as
///   soon as the bytes received cannot be a report;
/// - to [`ErrorKind::TimedOut`](crate::ErrorKind::TimedOut) if a
///   [`timeout`](PortFuture::timeout) passes first.
///
/// For an address, several named endpoints, or a line in a program's own
/// format, turn it into [`addr`](PortFuture::addr),
/// [`addrs`](PortFuture::addrs) or [`line`](PortFuture::line).
///
/// It works under any executor (tokio, async-std, smol,
/// `futures::executor::block_on`), or without one through [`wait`](PortFuture::wait).
/// It makes no task and no thread; under an executor it registers its fds
/// with `async-io`'s reactor the first time it has to wait.
///
/// Dropping the future closes its end, so a child that reports later gets
/// [`ErrorKind::Abandoned`](crate::ErrorKind::Abandoned) instead of blocking.
/// (One exception: a child that another thread of the parent is spawning
/// through `fork` holds a copy of every fd until it execs; a report in that
/// instant succeeds, into a pipe nobody reads.)
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
    /// The reading core.
    core: Core,
}

impl PortFuture {
    /// Wraps a transport's receiver.
    pub(crate) fn new(receiver: Receiver) -> PortFuture {
        PortFuture {
            core: Core::new(receiver),
        }
    }

    /// Makes the future resolve to [`ErrorKind::TimedOut`](crate::ErrorKind::TimedOut)
    /// if no report has arrived within `duration` from now. A later call
    /// replaces an earlier one; [`line`](Self::line), [`addr`](Self::addr)
    /// and [`addrs`](Self::addrs) keep it.
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
        self.core.set_timeout(duration);
        self
    }

    /// Also fails, with [`ErrorKind::ChildExited`](crate::ErrorKind::ChildExited),
    /// once `child` exits without reporting, even while another process (a
    /// grandchild, a writer the parent forgot to drop) still holds the write end.
    ///
    /// A report that reached the pipe before the exit wins: the future reads
    /// what is there before it fails. A child that exited before `watch` is
    /// seen at once. The error's message gives the exit code or signal, and
    /// [`Error::exit_status`] the status itself.
    ///
    /// It never reaps the child: the exit is read with `waitid(...,
    /// WNOWAIT)`, and `child.wait()` still returns the status. It watches
    /// a pidfd on Linux (a kqueue `EVFILT_PROC` event on macOS and
    /// FreeBSD), registered with `async-io` like the pipe, and
    /// [`wait`](Self::wait) polls both; where there is neither (Linux
    /// before 5.4) it looks at the child every 10 ms instead. Do not let
    /// anything else reap the child first (such as `SIGCHLD` set to
    /// `SIG_IGN`): then the exit is still seen, but its status is not.
    ///
    /// This is what makes a [named writer](crate::DynamicPortWriter::create_named)
    /// see the child die at all, and every writer on Windows, whose
    /// loopback connection has no end of stream that a death closes. [`spawn`](crate::spawn) calls it for you.
    ///
    /// ```
    /// use std::process::Command;
    /// use dynamic_port::{DynamicPortWriter, ErrorKind};
    ///
    /// let (writer, port) = DynamicPortWriter::create()?;
    /// let mut command = Command::new("bash");
    /// command.args(["-c", "sleep 30 >/dev/null 2>&1 & exit 3"]); // the grandchild holds the write end
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

    /// Watches a child by pid; the caller owns the child, unreaped.
    pub(crate) fn watch_pid(mut self, watch: Watch) -> PortFuture {
        self.core.set_watch(watch);
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
        self.core.wait(&PORT)
    }

    /// The first line the child writes, as it wrote it, for programs with
    /// their own format (an address line, a display number): up to 4095
    /// bytes of UTF-8 (4096 with its end: one atomic pipe write on Linux), without
    /// the `\n` or NUL that ends it. At end of
    /// stream, a partial line counts. The timeout and the watch are kept.
    ///
    /// ```
    /// use std::process::Command;
    ///
    /// let mut command = Command::new("bash");
    /// command.args(["-c", r#"printf 'tcp:host=127.0.0.1,port=4000,guid=x\n' >&"${2%%:*}""#, "child"]);
    /// let (mut child, port) = dynamic_port::spawn(&mut command)?;
    /// assert_eq!(port.line().wait()?, "tcp:host=127.0.0.1,port=4000,guid=x");
    /// child.wait()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn line(self) -> LineFuture {
        LineFuture { core: self.core }
    }

    /// Where the parent should connect: the reported address if there is
    /// one, else `127.0.0.1` with the reported port (where a child bound to
    /// `127.0.0.1`, the default, or to `0.0.0.0` is reachable). An
    /// unspecified address (`0.0.0.0`, `::`) becomes the loopback address of
    /// its family. For a [remote child](crate::DynamicPortWriter::create_remote),
    /// a bare port or an unspecified address is on the address its
    /// connection came from instead. Named endpoints are an error that says
    /// to use [`addrs`](Self::addrs). The timeout and the watch are kept.
    ///
    /// ```
    /// use std::net::{IpAddr, Ipv6Addr};
    /// use dynamic_port::DynamicPortWriter;
    ///
    /// let (writer, port) = DynamicPortWriter::create()?;
    /// # if std::net::TcpListener::bind("[::1]:0").is_err() { return Ok(()) } // no IPv6 here
    /// let listener = writer.where_to_listen_on(IpAddr::V6(Ipv6Addr::LOCALHOST))?;
    /// assert_eq!(port.addr().wait()?, listener.local_addr()?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn addr(self) -> AddrFuture {
        AddrFuture { core: self.core }
    }

    /// Every endpoint the child reports, by name, such as
    /// `http=127.0.0.1:8080 admin=[::1]:9090` from
    /// [`report_addrs`](crate::DynamicPortWriter::report_addrs), up to 4096
    /// bytes with the `\n` that ends them. Each address is where to connect, as [`addr`](Self::addr)
    /// makes it.
    ///
    /// An item without a name is listed under its position in the report:
    /// `"0"` for the first. So a report of a bare port `8080` gives
    /// `{"0": 127.0.0.1:8080}`. Two items under one name are
    /// [`ErrorKind::MalformedReport`](crate::ErrorKind::MalformedReport).
    ///
    /// ```
    /// use dynamic_port::DynamicPortWriter;
    ///
    /// let (writer, port) = DynamicPortWriter::create()?;
    /// let http = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let admin = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// writer.report_addrs(&[("http", http.local_addr()?), ("admin", admin.local_addr()?)])?;
    /// let endpoints = port.addrs().wait()?;
    /// assert_eq!(endpoints["http"], http.local_addr()?);
    /// assert_eq!(endpoints["admin"], admin.local_addr()?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn addrs(self) -> AddrsFuture {
        AddrsFuture { core: self.core }
    }

    /// The whole report: every item in the order the child wrote it, with
    /// its name, and the address a remote report came from
    /// ([`protocol::Report`]). It reads what [`addrs`](Self::addrs) reads
    /// and fails as soon as it does, for a parent that needs the order (the
    /// first port first) or whether an item was a bare port. The timeout
    /// and the watch are kept.
    ///
    /// ```
    /// use dynamic_port::protocol::Item;
    /// use dynamic_port::DynamicPortWriter;
    ///
    /// let (writer, port) = DynamicPortWriter::create()?;
    /// let http = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// writer.report_addrs(&[("http", http.local_addr()?)])?;
    /// let report = port.report().wait()?;
    /// assert_eq!(report.first(), Item::Addr(http.local_addr()?));
    /// assert_eq!(report.items()[0].0.as_deref(), Some("http"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn report(self) -> ReportFuture {
        ReportFuture { core: self.core }
    }
}

impl Future for PortFuture {
    type Output = Result<u16, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.core.poll(cx, &PORT)
    }
}

impl fmt::Debug for PortFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PortFuture").field(&self.core).finish()
    }
}

/// Defines a future made from a [`PortFuture`] that reads the report with
/// another grammar: its `timeout`, `wait` (each with the example given for
/// it), `Future` and `Debug`.
macro_rules! report_future {
    (
        $(#[$doc:meta])* $name:ident, $output:ty, $grammar:expr,
        timeout: { $(#[$timeout_doc:meta])* },
        wait: { $(#[$wait_doc:meta])* } $(,)?
    ) => {
        $(#[$doc])*
        pub struct $name {
            /// The reading core, taken over from the `PortFuture`.
            core: Core,
        }

        impl $name {
            /// Makes the future resolve to
            /// [`ErrorKind::TimedOut`](crate::ErrorKind::TimedOut) if the report
            /// has not arrived within `duration` from now; it replaces the
            /// timeout of the `PortFuture`.
            $(#[$timeout_doc])*
            pub fn timeout(mut self, duration: Duration) -> $name {
                self.core.set_timeout(duration);
                self
            }

            /// Blocks the calling thread until the report arrives, waiting in
            /// `poll(2)`, as [`PortFuture::wait`] does.
            $(#[$wait_doc])*
            pub fn wait(mut self) -> Result<$output, Error> {
                self.core.wait(&$grammar)
            }
        }

        impl Future for $name {
            type Output = Result<$output, Error>;

            fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
                self.core.poll(cx, &$grammar)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_tuple(stringify!($name)).field(&self.core).finish()
            }
        }
    };
}

report_future!(
    /// The first line a child writes, as it wrote it: from [`PortFuture::line`].
    ///
    /// A future of `Result<String, Error>` under any executor, or blocking
    /// through [`wait`](LineFuture::wait). It resolves as a [`PortFuture`]
    /// does, at the first `\n` or NUL, or at end of stream with a partial
    /// line; a line over 4095 bytes (4096 with its end), or one that is not UTF-8, is
    /// [`ErrorKind::MalformedReport`](crate::ErrorKind::MalformedReport).
    ///
    /// # Example
    ///
    /// ```
    /// use std::process::Command;
    ///
    /// let mut command = Command::new("bash");
    /// // A program with a format of its own, which ends its line with a NUL.
    /// command.args(["-c", r#"printf 'unix:path=/tmp/bus\0' >&"${2%%:*}""#, "child"]);
    /// let (mut child, port) = dynamic_port::spawn(&mut command)?;
    /// let line: String = futures::executor::block_on(port.line())?;
    /// assert_eq!(line, "unix:path=/tmp/bus");
    /// child.wait()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    LineFuture,
    String,
    LINE,
    timeout: {
        ///
        /// # Example
        ///
        /// ```
        /// use std::time::Duration;
        /// use dynamic_port::{DynamicPortWriter, ErrorKind};
        ///
        /// let (writer, port) = DynamicPortWriter::create()?;
        /// let future = port.timeout(Duration::from_secs(60)).line();
        /// // Nobody reports; this timeout replaces the one of 60 s.
        /// let err = future.timeout(Duration::from_millis(10)).wait().unwrap_err();
        /// assert_eq!(err.kind(), ErrorKind::TimedOut);
        /// # drop(writer);
        /// # Ok::<(), dynamic_port::Error>(())
        /// ```
    },
    wait: {
        ///
        /// # Example
        ///
        /// ```
        /// use dynamic_port::DynamicPortWriter;
        ///
        /// let (writer, port) = DynamicPortWriter::create()?;
        /// let http = "127.0.0.1:8080".parse()?;
        /// std::thread::spawn(move || writer.report_addrs(&[("http", http)]));
        /// assert_eq!(port.line().wait()?, "http=127.0.0.1:8080"); // the line, not parsed
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
    },
);

report_future!(
    /// Where to connect to the child: from [`PortFuture::addr`].
    ///
    /// A future of `Result<SocketAddr, Error>` under any executor, or
    /// blocking through [`wait`](AddrFuture::wait).
    ///
    /// # Example
    ///
    /// ```
    /// use dynamic_port::DynamicPortWriter;
    ///
    /// let (writer, port) = DynamicPortWriter::create()?;
    /// let listener = writer.where_to_listen()?; // the "child", in one process for show
    /// let addr = futures::executor::block_on(port.addr())?;
    /// assert_eq!(addr, listener.local_addr()?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    AddrFuture,
    SocketAddr,
    ADDR,
    timeout: {
        ///
        /// # Example
        ///
        /// ```
        /// use std::time::Duration;
        /// use dynamic_port::{DynamicPortWriter, ErrorKind};
        ///
        /// let (writer, port) = DynamicPortWriter::create()?;
        /// let future = port.timeout(Duration::from_secs(60)).addr();
        /// // Nobody reports; this timeout replaces the one of 60 s.
        /// let err = future.timeout(Duration::from_millis(10)).wait().unwrap_err();
        /// assert_eq!(err.kind(), ErrorKind::TimedOut);
        /// # drop(writer);
        /// # Ok::<(), dynamic_port::Error>(())
        /// ```
    },
    wait: {
        ///
        /// # Example
        ///
        /// ```
        /// use dynamic_port::DynamicPortWriter;
        ///
        /// let (writer, port) = DynamicPortWriter::create()?;
        /// std::thread::spawn(move || writer.report(8080));
        /// assert_eq!(port.addr().wait()?, "127.0.0.1:8080".parse()?); // a bare port is on 127.0.0.1
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
    },
);

report_future!(
    /// Every endpoint a child reports, by name: from [`PortFuture::addrs`].
    ///
    /// A future of `Result<BTreeMap<String, SocketAddr>, Error>` under any
    /// executor, or blocking through [`wait`](AddrsFuture::wait).
    ///
    /// # Example
    ///
    /// ```
    /// use std::net::TcpListener;
    /// use dynamic_port::DynamicPortWriter;
    ///
    /// let (writer, port) = DynamicPortWriter::create()?;
    /// let (http, admin) = (TcpListener::bind("127.0.0.1:0")?, TcpListener::bind("127.0.0.1:0")?);
    /// writer.report_addrs(&[("http", http.local_addr()?), ("admin", admin.local_addr()?)])?;
    /// let endpoints = futures::executor::block_on(port.addrs())?;
    /// assert_eq!(endpoints["admin"], admin.local_addr()?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    AddrsFuture,
    BTreeMap<String, SocketAddr>,
    ADDRS,
    timeout: {
        ///
        /// # Example
        ///
        /// ```
        /// use std::time::Duration;
        /// use dynamic_port::{DynamicPortWriter, ErrorKind};
        ///
        /// let (writer, port) = DynamicPortWriter::create()?;
        /// let future = port.timeout(Duration::from_secs(60)).addrs();
        /// // Nobody reports; this timeout replaces the one of 60 s.
        /// let err = future.timeout(Duration::from_millis(10)).wait().unwrap_err();
        /// assert_eq!(err.kind(), ErrorKind::TimedOut);
        /// # drop(writer);
        /// # Ok::<(), dynamic_port::Error>(())
        /// ```
    },
    wait: {
        ///
        /// # Example
        ///
        /// ```
        /// use dynamic_port::DynamicPortWriter;
        ///
        /// let (writer, port) = DynamicPortWriter::create()?;
        /// std::thread::spawn(move || writer.report(8080));
        /// let endpoints = port.addrs().wait()?;
        /// assert_eq!(endpoints.len(), 1);
        /// assert_eq!(endpoints["0"], "127.0.0.1:8080".parse()?); // unnamed: by its position
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
    },
);

report_future!(
    /// The whole report, its items in order: from [`PortFuture::report`].
    ///
    /// A future of `Result<protocol::Report, Error>` under any executor, or
    /// blocking through [`wait`](ReportFuture::wait).
    ///
    /// # Example
    ///
    /// ```
    /// use dynamic_port::protocol::Item;
    /// use dynamic_port::DynamicPortWriter;
    ///
    /// let (writer, port) = DynamicPortWriter::create()?;
    /// writer.report(8080)?;
    /// let report = futures::executor::block_on(port.report())?;
    /// assert_eq!(report.items(), [(None, Item::Port(8080))]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ReportFuture,
    Report,
    REPORT,
    timeout: {
        ///
        /// # Example
        ///
        /// ```
        /// use std::time::Duration;
        /// use dynamic_port::{DynamicPortWriter, ErrorKind};
        ///
        /// let (writer, port) = DynamicPortWriter::create()?;
        /// let future = port.timeout(Duration::from_secs(60)).report();
        /// // Nobody reports; this timeout replaces the one of 60 s.
        /// let err = future.timeout(Duration::from_millis(10)).wait().unwrap_err();
        /// assert_eq!(err.kind(), ErrorKind::TimedOut);
        /// # drop(writer);
        /// # Ok::<(), dynamic_port::Error>(())
        /// ```
    },
    wait: {
        ///
        /// # Example
        ///
        /// ```
        /// use dynamic_port::DynamicPortWriter;
        ///
        /// let (writer, port) = DynamicPortWriter::create()?;
        /// let (web, admin) = ("127.0.0.1:8080".parse()?, "127.0.0.1:9090".parse()?);
        /// std::thread::spawn(move || writer.report_addrs(&[("web", web), ("admin", admin)]));
        /// let report = port.report().wait()?;
        /// assert_eq!(report.items()[0].0.as_deref(), Some("web")); // in the order written
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
    },
);
