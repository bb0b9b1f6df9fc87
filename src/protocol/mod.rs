//! The two small languages of dynamic-port, as pure functions with no I/O.
//!
//! # The writer text
//!
//! What [`DynamicPortWriter`](crate::DynamicPortWriter) prints and parses:
//!
//! | form | example | meaning |
//! | --- | --- | --- |
//! | `FD:pipe:INODE` | `7:pipe:123456` | fd 7, which must be the write end of the pipe with inode 123456 (what `Display` prints for an inherited pipe) |
//! | `FD` | `7` | the bare fd number of Jane Street's `Dynamic_port_writer`: fd 7, which must be a pipe's write end |
//! | `fifo:DEV:INODE:PATH` | `fifo:23:4711:/dev/shm/dynamic-port-1a2b/port` | a named writer: the FIFO at `PATH`, which must be the file with that device and inode number |
//! | `tcp:TOKEN@ADDR` | `tcp:3f9c…e1@10.0.0.1:40123` | a remote writer: connect to `ADDR` and send `TOKEN` (32 to 128 lowercase hex digits), a space, and the report |
//!
//! The numbers are plain ASCII decimal: no sign, no spaces, no other
//! characters. A `PATH` is absolute, comes last (so it may hold `:`), and
//! has no control characters. A shell child gets the fd number with
//! `${WRITER%%:*}`, and a FIFO's path with `${WRITER#fifo:*:*:}`.
//!
//! # The report
//!
//! What the child writes, in any language:
//!
//! ```text
//! report = item *( " " item ) *( " " / "\t" ) end
//! end    = "\n" / NUL / end of stream
//! item   = port / addr / name "=" addr
//! port   = 1 to 5 ASCII digits, value 1..=65535, no sign
//! addr   = IPv4 ":" port / "[" IPv6 "]" ":" port
//! name   = 1 to 32 of a-z A-Z 0-9 "_" "-" "."
//! ```
//!
//! `54321\n` (from `echo 54321 >&$FD`), `54321 \n` (Jane Street's form),
//! `[::1]:54321\n` and `http=127.0.0.1:8080 admin=[::1]:9090\n` are all
//! reports. The reader resolves at the first `\n` or NUL; anything after it
//! is ignored. A plain [`PortFuture`](crate::PortFuture) takes one item
//! without a name, within [`MAX_REPORT_LEN`] bytes;
//! [`addrs()`](crate::PortFuture::addrs) takes any number, within
//! [`MAX_LINE_LEN`]; [`line()`](crate::PortFuture::line) takes any one line
//! of text.
//!
//! ```
//! use dynamic_port::protocol::{encode_report, parse_writer, Item, Report, WriterText};
//!
//! assert_eq!(parse_writer("7:pipe:123456").unwrap(), WriterText::Pipe { fd: 7, inode: Some(123456) });
//! assert_eq!(parse_writer("7").unwrap(), WriterText::Pipe { fd: 7, inode: None });
//! assert_eq!(
//!     parse_writer("fifo:23:4711:/run/user/1000/dynamic-port-x/port").unwrap(),
//!     WriterText::Fifo { dev: 23, inode: 4711, path: "/run/user/1000/dynamic-port-x/port".into() },
//! );
//! assert_eq!(encode_report(54321).unwrap(), "54321\n");
//! assert_eq!("54321 \n".parse::<Report>().unwrap().first(), Item::Port(54321));
//! assert_eq!("[::1]:54321\0".parse::<Report>().unwrap().first().port(), 54321);
//! assert!("70000\n".parse::<Report>().is_err());
//! ```

mod encode;
mod item;
mod prefix;
mod report;
mod writer_text;

pub use encode::{encode_addrs, encode_item, encode_report};
pub use item::Item;
pub use report::{Report, MAX_LINE_LEN, MAX_NAME_LEN, MAX_REPORT_LEN};
// The streaming parsers the futures read with: internal (the fuzz entry
// points re-export them).
pub(crate) use report::{endpoints, parse_items_report, parse_line, parse_one, parse_report};
pub use writer_text::{
    format_writer, parse_writer, WriterText, MAX_FIFO_PATH_LEN, MAX_TOKEN_HEX, MIN_TOKEN_HEX,
};

/// Quotes untrusted bytes for an error message: escaped, and cut after 40 bytes.
fn quote(bytes: &[u8]) -> String {
    const SHOWN: usize = 40;
    let shown = &bytes[..bytes.len().min(SHOWN)];
    let more = if bytes.len() > SHOWN {
        format!("... ({} bytes in all)", bytes.len())
    } else {
        String::new()
    };
    format!("\"{}\"{more}", shown.escape_ascii())
}
