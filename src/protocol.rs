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
//!
//! The numbers are plain ASCII decimal: no sign, no spaces, no other
//! characters. A `PATH` is absolute, comes last (so it may hold `:`), and
//! has no control characters. A shell child gets the fd number with
//! `${WRITER%%:*}`, and a FIFO's path with `${WRITER#fifo:*:*:}`.
//!
//! # The report line
//!
//! What the child writes into the pipe, in any language:
//!
//! ```text
//! report = port [spaces-or-tabs] ( "\n" | end-of-stream )
//! port   = 1 to 5 ASCII digits, value 1..=65535
//! ```
//!
//! `54321\n` (from `echo 54321 >&$FD`) and `54321 \n` (Jane Street's form) are both
//! accepted. The reader looks at no more than [`MAX_REPORT_LEN`] bytes and
//! resolves at the first `\n`; anything after it is ignored.
//!
//! ```
//! use dynamic_port::protocol::{encode_report, parse_report, parse_writer};
//!
//! use dynamic_port::protocol::WriterText;
//!
//! assert_eq!(parse_writer("7:pipe:123456").unwrap(), WriterText::Pipe { fd: 7, inode: Some(123456) });
//! assert_eq!(parse_writer("7").unwrap(), WriterText::Pipe { fd: 7, inode: None });
//! assert_eq!(
//!     parse_writer("fifo:23:4711:/run/user/1000/dynamic-port-x/port").unwrap(),
//!     WriterText::Fifo { dev: 23, inode: 4711, path: "/run/user/1000/dynamic-port-x/port".into() },
//! );
//! assert_eq!(encode_report(54321).unwrap(), "54321\n");
//! assert_eq!(parse_report(b"54321 \n", false).unwrap(), Some(54321));
//! assert_eq!(parse_report(b"543", false).unwrap(), None); // wait for more
//! assert!(parse_report(b"70000\n", false).is_err());
//! ```

use std::os::fd::RawFd;
use std::path::{Path, PathBuf};

use crate::error::{Error, ErrorKind};

/// The most bytes the parent reads while waiting for a report line.
pub const MAX_REPORT_LEN: usize = 64;

/// The longest pipe writer text accepted: `FD:pipe:INODE` with a 10-digit
/// fd and a 20-digit inode is 36 bytes.
const MAX_PIPE_WRITER_LEN: usize = 64;

/// The longest FIFO path accepted, in bytes (Linux's `PATH_MAX` less its NUL).
pub const MAX_FIFO_PATH_LEN: usize = 4095;

/// The word between the fd and the inode in the writer text.
const PIPE_TAG: &str = "pipe";

/// What starts a named writer's text.
const FIFO_PREFIX: &str = "fifo:";

/// A writer text, parsed: where a child reports.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WriterText {
    /// An inherited pipe's write end (`FD:pipe:INODE`, or the bare `FD`).
    Pipe {
        /// The fd number, the same in parent and child.
        fd: RawFd,
        /// The pipe's inode; `None` for the bare form.
        inode: Option<u64>,
    },
    /// A named writer: a FIFO the child opens by path (`fifo:DEV:INODE:PATH`).
    Fifo {
        /// The device number of the file system that holds the FIFO.
        dev: u64,
        /// The FIFO's inode number.
        inode: u64,
        /// Where the FIFO is: an absolute path.
        path: PathBuf,
    },
}

/// Prints the writer text of the [module docs](self).
///
/// A FIFO path that is not UTF-8 is printed lossily (and then does not parse
/// back to the same path); the paths [`create_named`](crate::DynamicPortWriter::create_named)
/// makes always are UTF-8.
pub fn format_writer(writer: &WriterText) -> String {
    match writer {
        WriterText::Pipe {
            fd,
            inode: Some(inode),
        } => format!("{fd}:{PIPE_TAG}:{inode}"),
        WriterText::Pipe { fd, inode: None } => fd.to_string(),
        WriterText::Fifo { dev, inode, path } => {
            format!("{FIFO_PREFIX}{dev}:{inode}:{}", path.display())
        }
    }
}

/// The error for text that is not a writer, quoting (the start of) it.
fn malformed_writer(text: &str, why: &str) -> Error {
    Error::new(
        ErrorKind::MalformedWriter,
        format!(
            "{} is not a dynamic port writer ({why}); expected what DynamicPortWriter prints, \
             such as `7:pipe:123456`",
            quote(text.as_bytes())
        ),
    )
}

/// Parses the writer text.
///
/// Accepts exactly the forms in the [module docs](self); anything else is
/// an [`ErrorKind::MalformedWriter`] error that quotes (the start of) the text.
pub fn parse_writer(text: &str) -> Result<WriterText, Error> {
    let malformed = |why: &str| malformed_writer(text, why);
    if text.is_empty() {
        return Err(malformed("it is empty"));
    }
    if let Some(rest) = text.strip_prefix(FIFO_PREFIX) {
        return parse_fifo_writer(text, rest);
    }
    if text.len() > MAX_PIPE_WRITER_LEN {
        return Err(malformed("it is too long"));
    }
    let mut parts = text.split(':');
    let fd_text = parts.next().unwrap_or_default();
    let fd = parse_decimal(fd_text)
        .and_then(|fd| RawFd::try_from(fd).ok())
        .ok_or_else(|| malformed("the fd must be a decimal number from 0 to 2147483647"))?;
    match (parts.next(), parts.next(), parts.next()) {
        (None, _, _) => Ok(WriterText::Pipe { fd, inode: None }),
        (Some(PIPE_TAG), Some(inode), None) => {
            let inode = parse_decimal(inode)
                .ok_or_else(|| malformed("the pipe's inode must be a decimal number"))?;
            Ok(WriterText::Pipe {
                fd,
                inode: Some(inode),
            })
        }
        _ => Err(malformed(
            "after the fd, only `:pipe:` and an inode may follow",
        )),
    }
}

/// Parses `DEV:INODE:PATH`, the `rest` of a named writer's `text`.
fn parse_fifo_writer(text: &str, rest: &str) -> Result<WriterText, Error> {
    let malformed = |why: &str| malformed_writer(text, why);
    let mut parts = rest.splitn(3, ':');
    let (Some(dev), Some(inode), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(malformed("a named writer is `fifo:DEV:INODE:PATH`"));
    };
    let dev = parse_decimal(dev)
        .ok_or_else(|| malformed("the FIFO's device must be a decimal number"))?;
    let inode = parse_decimal(inode)
        .ok_or_else(|| malformed("the FIFO's inode must be a decimal number"))?;
    if path.len() > MAX_FIFO_PATH_LEN {
        return Err(malformed("the path is too long"));
    }
    if !Path::new(path).is_absolute() {
        return Err(malformed("the FIFO's path must be absolute"));
    }
    if path.chars().any(char::is_control) {
        return Err(malformed("the path holds a control character"));
    }
    Ok(WriterText::Fifo {
        dev,
        inode,
        path: PathBuf::from(path),
    })
}

/// Encodes the report line for `port`: the decimal number and `\n`.
///
/// Port 0 is an [`ErrorKind::MalformedReport`] error: it is what one binds
/// to, never a port one can connect to.
pub fn encode_report(port: u16) -> Result<String, Error> {
    if port == 0 {
        return Err(Error::new(
            ErrorKind::MalformedReport,
            "cannot report port 0: bind to port 0 first, then report the port from \
             `local_addr()`",
        ));
    }
    Ok(format!("{port}\n"))
}

/// Parses the bytes read so far from the pipe.
///
/// Returns `Ok(Some(port))` once a whole line has arrived, `Ok(None)` when
/// more bytes are needed, and `Err` as soon as the bytes cannot become a
/// valid report. `end_of_stream` says that no more bytes will come (every
/// write end is closed): then an empty input is
/// [`ErrorKind::ClosedWithoutReport`] and a complete number without `\n` is
/// accepted.
pub fn parse_report(bytes: &[u8], end_of_stream: bool) -> Result<Option<u16>, Error> {
    if bytes.is_empty() && end_of_stream {
        return Err(Error::closed_without_report());
    }
    let malformed = |why: &str| {
        Error::new(
            ErrorKind::MalformedReport,
            format!(
                "the child reported {}, which is not a port ({why}): a report is a decimal \
                 port from 1 to 65535 followed by a newline, as `echo $PORT >&$FD` writes",
                quote(bytes)
            ),
        )
    };
    let digits = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits > 5 {
        return Err(malformed("too many digits"));
    }
    let rest = &bytes[digits..];
    let blanks = rest
        .iter()
        .take_while(|&&b| b == b' ' || b == b'\t')
        .count();
    match rest.get(blanks) {
        None if !end_of_stream => {
            if bytes.len() >= MAX_REPORT_LEN {
                Err(malformed("no newline within 64 bytes"))
            } else {
                Ok(None)
            }
        }
        None | Some(b'\n') => {
            if digits == 0 {
                return Err(malformed("no digits"));
            }
            // Five ASCII digits always fit in a u32.
            let port = bytes[..digits]
                .iter()
                .fold(0u32, |n, b| n * 10 + u32::from(b - b'0'));
            match u16::try_from(port) {
                Ok(0) => Err(malformed("port 0 cannot be connected to")),
                Ok(port) => Ok(Some(port)),
                Err(_) => Err(malformed("the largest port is 65535")),
            }
        }
        Some(b'+' | b'-') if digits == 0 => Err(malformed("a port has no sign")),
        Some(_) => Err(malformed("unexpected character")),
    }
}

/// Parses a non-empty run of ASCII digits as a `u64`; `None` on anything else or overflow.
fn parse_decimal(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writer_text_round_trips_both_forms() {
        for (fd, inode) in [(7, Some(123456)), (3, None), (i32::MAX, Some(u64::MAX))] {
            let writer = WriterText::Pipe { fd, inode };
            assert_eq!(parse_writer(&format_writer(&writer)).unwrap(), writer);
        }
        for path in ["/dev/shm/dynamic-port-1/port", "/a:b/c:d", "/"] {
            let writer = WriterText::Fifo {
                dev: u64::MAX,
                inode: 1,
                path: path.into(),
            };
            assert_eq!(parse_writer(&format_writer(&writer)).unwrap(), writer);
        }
    }

    #[test]
    fn bad_writer_text_is_malformed_writer() {
        let ten_megabytes = "9".repeat(10 << 20);
        for bad in [
            "",
            "-1",
            "+7",
            "7x",
            " 7",
            "7 ",
            "7\n",
            "7\0",
            "\0",
            "99999999999999999999",
            "2147483648",
            "7:",
            "7:pipe",
            "7:pipe:",
            "7:pipe:x",
            "7:pipe:1:2",
            "7:pip:1",
            "7:pipe:-1",
            "7:pipe:99999999999999999999",
            ":pipe:1",
            "٣",
            ten_megabytes.as_str(),
            "fifo:",
            "fifo:1:2",
            "fifo:1:2:",
            "fifo:1:2:relative/port",
            "fifo:x:2:/p",
            "fifo:1:-2:/p",
            "fifo:1:2:/p\nq",
            "fifo:1:2:/p\0",
            "fifo::2:/p",
            "FIFO:1:2:/p",
        ] {
            let err = parse_writer(bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::MalformedWriter, "{bad:?}");
            assert!(err.to_string().len() < 400, "message too long for {bad:?}");
        }
        let long_path = format!("fifo:1:2:/{}", "p".repeat(MAX_FIFO_PATH_LEN));
        assert_eq!(
            parse_writer(&long_path).unwrap_err().kind(),
            ErrorKind::MalformedWriter
        );
        let huge = format!("fifo:1:2:/{}", "p".repeat(10 << 20));
        assert_eq!(
            parse_writer(&huge).unwrap_err().kind(),
            ErrorKind::MalformedWriter
        );
    }

    #[test]
    fn report_lines_that_are_accepted() {
        for (line, port) in [
            (&b"54321\n"[..], 54321),
            (b"54321 \n", 54321),
            (b"80\t \t\n", 80),
            (b"1\n", 1),
            (b"65535\n", 65535),
            (b"00080\n", 80),
            (b"8080\ntrailing junk is never read", 8080),
        ] {
            assert_eq!(parse_report(line, false).unwrap(), Some(port), "{line:?}");
        }
        assert_eq!(parse_report(b"8080", true).unwrap(), Some(8080));
        assert_eq!(parse_report(b"8080 ", true).unwrap(), Some(8080));
    }

    #[test]
    fn partial_report_lines_wait_for_more() {
        for partial in [&b""[..], b"5", b"54321", b"54321 \t"] {
            assert_eq!(parse_report(partial, false).unwrap(), None, "{partial:?}");
        }
    }

    #[test]
    fn bad_report_lines_fail_at_once() {
        let oversize = [b"80".as_slice(), &[b' '; 62]].concat();
        for bad in [
            &b"\n"[..],
            b"0\n",
            b"00000\n",
            b"65536\n",
            b"70000\n",
            b"-5\n",
            b"+80\n",
            b"80x",
            b" 80\n",
            b"8 0\n",
            b"80\r\n",
            b"123456",
            b"hello\n",
            b"\xff\xfe",
            &oversize,
        ] {
            let err = parse_report(bad, false).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::MalformedReport, "{bad:?}");
        }
        assert_eq!(
            parse_report(b"", true).unwrap_err().kind(),
            ErrorKind::ClosedWithoutReport
        );
        assert_eq!(
            parse_report(b"  ", true).unwrap_err().kind(),
            ErrorKind::MalformedReport
        );
    }

    #[test]
    fn encode_report_is_a_line_and_refuses_port_zero() {
        assert_eq!(encode_report(8080).unwrap(), "8080\n");
        assert_eq!(
            encode_report(0).unwrap_err().kind(),
            ErrorKind::MalformedReport
        );
        for port in 1..=u16::MAX {
            let line = encode_report(port).unwrap();
            assert_eq!(parse_report(line.as_bytes(), false).unwrap(), Some(port));
        }
    }
}
