//! Learn the TCP port a child process bound to port 0, through an inherited pipe.
//!
//! A parent spawns a server child that listens on a port the operating system
//! picks. The child reports that port up an anonymous pipe that only it
//! inherited; the parent awaits it. There is no stdout to parse, no "free
//! port" to race for, and no file to poll. A port of Jane Street Async's
//! `Dynamic_port_writer`, without its hangs and leaks.
//!
//! ```text
//!  parent                                        child
//!  ──────                                        ─────
//!  let (writer, port) = create()?;
//!  writer.pass_to(&mut command);   ── spawn ──▶  --dynamic-port-writer 7:pipe:123456
//!  drop(writer);                                 let writer: DynamicPortWriter = arg.parse()?;
//!                                                let listener = writer.where_to_listen()?;
//!  let port = port.await?;        ◀── "54321\n" ── (sent once listen() has returned)
//! ```
//!
//! - [`DynamicPortWriter`]: the pipe's write end; created in the parent, parsed in the child.
//! - [`PortFuture`]: the port the child will report; a future under any executor, or [`PortFuture::wait`].
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
//!     let (writer, port) = DynamicPortWriter::create()?;
//!     let mut command = Command::new(std::env::current_exe()?);
//!     writer.pass_to(&mut command);
//!     let mut child = command.spawn()?;
//!     drop(writer); // now a child that dies makes `port` fail at once
//!     let port = port.timeout(Duration::from_secs(30)).wait()?;
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
//! - **No hang.** Once the parent has dropped its writer, a child that exits,
//!   crashes or is killed before reporting makes the [`PortFuture`] fail with
//!   [`ErrorKind::ClosedWithoutReport`] at once; [`PortFuture::timeout`]
//!   covers a child that hangs.
//! - **No leak.** Both pipe ends are close-on-exec. Only the command given
//!   [`pass_to`](DynamicPortWriter::pass_to), [`inherit`](DynamicPortWriter::inherit)
//!   or [`pass_to_env`](DynamicPortWriter::pass_to_env) inherits the write
//!   end, even while other threads spawn other children. The child marks it
//!   close-on-exec again when it parses the writer, and closes it once it reported.
//! - **No garbage.** Malformed writer text and malformed reports are clear
//!   errors, never a panic or a hang; a child that finds a fd which is not
//!   the pipe it was given writes nothing.
//! - **Ready when told.** The port is reported after `listen()` returned, so
//!   the parent may connect as soon as the future resolves.
//! - **Loopback by default.** [`where_to_listen`](DynamicPortWriter::where_to_listen)
//!   binds `127.0.0.1`, where the original bound `0.0.0.0`; use
//!   [`where_to_listen_on`](DynamicPortWriter::where_to_listen_on) to choose.
//!
//! Unix only (the implementation is tested on Linux).
//!
//! # Cargo features
//!
//! All off by default; the core needs none of them and works with every executor.
//!
//! | feature | gives |
//! | --- | --- |
//! | `rt-tokio` | module `tokio`: `where_to_listen` returning `tokio::net::TcpListener` |
//! | `rt-async-std` | module `async_std`: returning `async_std::net::TcpListener` (async-std is discontinued upstream) |
//! | `rt-smol` | module `smol`: returning `smol::net::TcpListener` |
//! | `serde` | `Serialize`/`Deserialize` for [`DynamicPortWriter`], as its text |
//! | `postcard` | `to_postcard`/`from_postcard`, at most 16 bytes; implies `serde` |
//! | `clap` | module `clap`: the `--dynamic-port-writer` argument for clap 4 |
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(unsafe_code)]

#[cfg(not(unix))]
compile_error!("dynamic-port works on Unix only: it hands a child an inherited pipe fd");

#[cfg(feature = "rt-async-std")]
#[cfg_attr(docsrs, doc(cfg(feature = "rt-async-std")))]
pub mod async_std;
#[cfg(feature = "clap")]
#[cfg_attr(docsrs, doc(cfg(feature = "clap")))]
pub mod clap;
#[cfg(feature = "serde")]
mod encodings;
mod error;
mod port_future;
pub mod protocol;
mod reactor;
mod registry;
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

pub use crate::error::{Error, ErrorKind};
pub use crate::port_future::PortFuture;
pub use crate::spawn::{spawn, SpawnOptions};
pub use crate::writer::DynamicPortWriter;
