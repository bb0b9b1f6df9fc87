//! Learn the TCP port a child process bound to port 0, through an inherited pipe.
//!
//! A parent spawns a server child that listens on a port the operating system
//! picks. The child reports that port up a pipe that only it inherited; the
//! parent awaits it, and fails at once if the child dies first. There is no
//! stdout to parse, no "free port" to race for, and no file to poll.
//!
//! ```text
//!  parent                                        child
//!  ──────                                        ─────
//!  let (child, port) = spawn(&mut command)?;
//!                                  ── spawn ──▶  --dynamic-port-writer 7:pipe:123456
//!                                                let writer: DynamicPortWriter = arg.parse()?;
//!                                                let listener = writer.where_to_listen()?;
//!  let port = port.await?;        ◀── "54321\n" ── (sent once listen() has returned)
//! ```
//!
//! - [`Server`]: for tests, a started server that stops with its whole
//!   process group when dropped, says why it failed to start, and never
//!   outlives this process.
//! - [`spawn`] and [`SpawnOptions`]: spawn a child with a writer, in one call that watches it.
//! - [`DynamicPortWriter`]: where the child reports (an inherited pipe, a
//!   [named FIFO](DynamicPortWriter::create_named), or a
//!   [connection back from another host](DynamicPortWriter::create_remote));
//!   created in the parent, parsed in the child.
//! - [`PortFuture`]: the port the child will report; a future under any executor, or [`PortFuture::wait`];
//!   [`line`](PortFuture::line), [`addr`](PortFuture::addr), [`addrs`](PortFuture::addrs)
//!   and [`report`](PortFuture::report) read the report in other ways.
//! - [`Error`] and [`ErrorKind`]: what went wrong, with a message that says what to do.
//! - [`protocol`]: the writer text and the report line, for children in other languages.
//!
//! # Example
//!
//! A parent that spawns itself as the child (as `examples/demo.rs` does):
//!
//! ```no_run
//! use std::io::{Read, Write};
//! use std::net::TcpStream;
//! use std::process::Command;
//! use std::time::Duration;
//! use dynamic_port::DynamicPortWriter;
//!
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let args: Vec<String> = std::env::args().collect();
//!     if let [_, flag, writer] = &args[..] {
//!         // The child.
//!         assert_eq!(flag, DynamicPortWriter::FLAG);
//!         let writer: DynamicPortWriter = writer.parse()?;
//!         let listener = writer.where_to_listen()?; // binds 127.0.0.1:0, then reports
//!         let (mut stream, _) = listener.accept()?;
//!         stream.write_all(b"hello from the child\n")?;
//!         return Ok(());
//!     }
//!     // The parent.
//!     let (mut child, port) = dynamic_port::spawn(&mut Command::new(std::env::current_exe()?))?;
//!     let port = match port.timeout(Duration::from_secs(30)).wait() {
//!         Ok(port) => port,
//!         Err(err) => {
//!             let _ = child.kill(); // a failed future does not stop the child
//!             child.wait()?;
//!             return Err(err.into());
//!         }
//!     };
//!     let mut greeting = String::new();
//!     TcpStream::connect(("127.0.0.1", port))?.read_to_string(&mut greeting)?;
//!     println!("the child listens on port {port} and says: {greeting}");
//!     child.wait()?;
//!     Ok(())
//! }
//! ```
//!
//! # What it guarantees
//!
//! - **No hang.** A child that [`spawn`] started (or that the future
//!   [watches](PortFuture::watch)) and that exits, crashes or is killed
//!   before reporting makes the [`PortFuture`] fail with
//!   [`ErrorKind::ChildExited`] at once, with its exit code or signal, even
//!   if a grandchild still holds the pipe. [`PortFuture::timeout`] covers a
//!   child that hangs.
//! - **No leak.** The parent's fds are close-on-exec. Only the command given
//!   the writer inherits the write end, even while other threads spawn other
//!   children. The child marks it close-on-exec again when it parses the
//!   writer, and closes it once it reported.
//! - **No garbage.** Malformed writer text and malformed reports are clear
//!   errors, never a panic or a hang; a child that finds an fd (or a file)
//!   which is not the one it was given writes nothing.
//! - **Ready when told.** The port is reported after `listen()` returned, so
//!   the parent may connect as soon as the future resolves.
//! - **Loopback by default.** [`where_to_listen`](DynamicPortWriter::where_to_listen)
//!   binds `127.0.0.1`; use [`where_to_listen_on`](DynamicPortWriter::where_to_listen_on)
//!   to choose.
//! - **Cheap spawns from big parents.** A [named writer](DynamicPortWriter::create_named)
//!   needs no `pre_exec` hook, so std spawns with `posix_spawn`, whose cost
//!   does not grow with the parent's memory.
//!
//! The child's life is the caller's after [`spawn`]: a failed or timed-out
//! future does not stop the child. A [`Server`] owns its child instead.
//!
//! # Platforms
//!
//! Linux (tested), macOS and FreeBSD (type-checked and clippy-clean in CI;
//! the code paths they share with Linux run on Linux too, built with
//! `--cfg dynamic_port_posix`), and Windows (type-checked for `-gnu` and
//! `-msvc`; its own tests run under Wine in CI, not on a real Windows).
//! Other targets stop at a clear compile error.
//!
//! - **Windows** has no fds to inherit and no FIFOs: there,
//!   [`create`](DynamicPortWriter::create) and
//!   [`create_named`](DynamicPortWriter::create_named) give a writer that
//!   connects back on loopback with a 128-bit token (the transport of
//!   [`create_remote`](DynamicPortWriter::create_remote), already portable),
//!   [`fd`](DynamicPortWriter::fd) is `None` and
//!   [`inherit`](DynamicPortWriter::inherit) has nothing to do. Any local
//!   process could connect to loopback, but only one that knows the token
//!   is heard; a named pipe with a DACL would need a second transport for
//!   the same promise. `watch` waits on the child's process handle (its
//!   exit is seen at once, with its exit code), and a [`Server`] is a Job
//!   object that kills the whole tree when the `Server` or this process
//!   ends. Without `watch`, a Windows child that dies before reporting is
//!   seen only at the timeout (its loopback connection has no end of
//!   stream that a death closes). The command-line tool runs its program
//!   in a Job object too, and passes Ctrl-C on as Ctrl-Break.
//!
//! - **Watching a child** ([`PortFuture::watch`], every [`spawn`]): a pidfd
//!   on Linux, a kqueue `EVFILT_PROC` event on macOS and FreeBSD; on a
//!   Linux kernel without `waitid(P_PIDFD)` (before 5.4), a look at the
//!   child every 10 ms.
//! - **The pipe** is created close-on-exec in one step with `pipe2` on
//!   Linux and FreeBSD. macOS has no `pipe2`: between `pipe()` and
//!   `FD_CLOEXEC`, another thread's `fork` and `exec` can hand its child a
//!   copy of the write end. A watched future does not care (it fails at its
//!   own child's exit); one that is not watched then sees the end of the
//!   stream only once that other child exits too.
//! - **Atomic reports.** A report of up to `PIPE_BUF` bytes reaches the
//!   pipe in one piece: 4096 on Linux, 512 on macOS and FreeBSD. Longer
//!   ones (many endpoints) are still read whole; only writers that share
//!   one pipe could interleave.
//!
//! # Cargo features
//!
//! All off by default; the core needs none of them and works with every executor.
//!
//! | feature | gives |
//! | --- | --- |
//! | `rt-tokio` | module `tokio`: `spawn` for `tokio::process::Command`; `where_to_listen` returning `tokio::net::TcpListener` |
//! | `rt-async-std` | module `async_std`: `where_to_listen` returning `async_std::net::TcpListener` (async-std is discontinued upstream) |
//! | `rt-smol` | module `smol`: `spawn` returning a `smol::process::Child`; `where_to_listen` returning `smol::net::TcpListener` |
//! | `serde` | `Serialize`/`Deserialize` for [`DynamicPortWriter`], as its text |
//! | `postcard` | `to_postcard`/`from_postcard`, at most 16 bytes for a pipe writer; implies `serde` |
//! | `clap` | module `clap`: the `--dynamic-port-writer` argument for clap 4 |
//! | `cli` | the `dynamic-port` binary (`dynamic-port run -- PROG`), for parents in any language; implies `clap` |
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(unsafe_code)]

#[cfg(not(any(
    target_os = "linux",
    target_os = "macos",
    target_os = "freebsd",
    windows
)))]
compile_error!("dynamic-port builds on Linux, macOS, FreeBSD and Windows only");

#[cfg(feature = "rt-async-std")]
#[cfg_attr(docsrs, doc(cfg(feature = "rt-async-std")))]
pub mod async_std;
#[cfg(feature = "clap")]
#[cfg_attr(docsrs, doc(cfg(feature = "clap")))]
pub mod clap;
#[cfg(feature = "serde")]
mod encodings;
mod error;
mod future;
#[cfg(feature = "__fuzz")]
#[doc(hidden)]
pub mod fuzz;
pub mod protocol;
mod reactor;
mod registry;
mod server;
#[cfg(feature = "rt-smol")]
#[cfg_attr(docsrs, doc(cfg(feature = "rt-smol")))]
pub mod smol;
mod spawn;
#[allow(unsafe_code)]
mod sys;
#[cfg(feature = "rt-tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "rt-tokio")))]
pub mod tokio;
mod transport;
mod watch;
mod writer;

/// Not part of the API: the Windows calls of the `dynamic-port` binary
/// (feature `cli`), which has no `unsafe` of its own there.
#[cfg(all(windows, feature = "cli"))]
#[doc(hidden)]
pub mod __windows {
    pub use crate::sys::windows::{ctrl_break, on_console_control, Job};
}

pub use crate::error::{Error, ErrorKind};
pub use crate::future::{AddrFuture, AddrsFuture, LineFuture, PortFuture, ReportFuture};
pub use crate::server::{Server, DEFAULT_GRACE, DEFAULT_TIMEOUT};
pub use crate::spawn::{spawn, SpawnOptions};
pub use crate::writer::DynamicPortWriter;
