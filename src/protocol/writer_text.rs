//! The writer text: what `DynamicPortWriter` prints and parses.

use std::ffi::c_int as RawFd;
use std::net::SocketAddr;
use std::path::PathBuf;

use super::quote;
use crate::error::{Error, ErrorKind};

/// The longest pipe writer text accepted: `FD:pipe:INODE` with a 10-digit
/// fd and a 20-digit inode is 36 bytes.
const MAX_PIPE_WRITER_LEN: usize = 64;

/// The longest FIFO path accepted, in bytes (Linux's `PATH_MAX` less its NUL).
///
/// # Example
///
/// ```
/// use dynamic_port::protocol::{parse_writer, MAX_FIFO_PATH_LEN};
///
/// let longest = format!("/{}", "p".repeat(MAX_FIFO_PATH_LEN - 1));
/// assert!(parse_writer(&format!("fifo:23:4711:{longest}")).is_ok());
/// assert!(parse_writer(&format!("fifo:23:4711:{longest}p")).is_err());
/// ```
pub const MAX_FIFO_PATH_LEN: usize = 4095;

/// The word between the fd and the inode in the writer text.
const PIPE_TAG: &str = "pipe";

/// What starts a named writer's text.
const FIFO_PREFIX: &str = "fifo:";

/// What starts a remote writer's text.
const TCP_PREFIX: &str = "tcp:";

/// The shortest token accepted, in hex digits: 128 bits, the size of the
/// tokens [`create_remote`](crate::DynamicPortWriter::create_remote) makes.
///
/// # Example
///
/// ```
/// use dynamic_port::protocol::{parse_writer, WriterText, MIN_TOKEN_HEX};
/// use dynamic_port::DynamicPortWriter;
///
/// let (writer, _port) = DynamicPortWriter::create_remote("127.0.0.1:0".parse()?)?;
/// let WriterText::Tcp { token, .. } = parse_writer(&writer.to_string())? else { unreachable!() };
/// assert_eq!(token.len(), MIN_TOKEN_HEX);
/// let short = "a".repeat(MIN_TOKEN_HEX - 1);
/// assert!(parse_writer(&format!("tcp:{short}@10.0.0.1:40123")).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub const MIN_TOKEN_HEX: usize = 32;

/// The longest token accepted, in hex digits: 512 bits.
///
/// # Example
///
/// ```
/// use dynamic_port::protocol::{parse_writer, MAX_TOKEN_HEX};
///
/// let longest = "f".repeat(MAX_TOKEN_HEX);
/// assert!(parse_writer(&format!("tcp:{longest}@10.0.0.1:40123")).is_ok());
/// assert!(parse_writer(&format!("tcp:{longest}f@10.0.0.1:40123")).is_err());
/// ```
pub const MAX_TOKEN_HEX: usize = 128;

/// A writer text, parsed: where a child reports.
///
/// # Example
///
/// ```
/// use dynamic_port::protocol::{parse_writer, WriterText};
/// use dynamic_port::DynamicPortWriter;
///
/// let (writer, _port) = DynamicPortWriter::create_named()?;
/// match parse_writer(&writer.to_string())? {
///     WriterText::Fifo { path, .. } => assert_eq!(Some(path.as_path()), writer.path()),
///     other => panic!("not a named writer: {other:?}"),
/// }
/// # Ok::<(), dynamic_port::Error>(())
/// ```
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
    /// A remote writer: the child connects to `addr` and sends `token` with
    /// its report (`tcp:TOKEN@ADDR`).
    Tcp {
        /// Where the parent listens.
        addr: SocketAddr,
        /// The secret, in lowercase hex digits (32 to 128 of them).
        token: String,
    },
}

/// Prints the writer text of the [module docs](crate::protocol).
///
/// A FIFO path that is not UTF-8 is printed lossily (and then does not parse
/// back to the same path); the paths [`create_named`](crate::DynamicPortWriter::create_named)
/// makes always are UTF-8.
///
/// # Example
///
/// ```
/// use dynamic_port::protocol::{format_writer, parse_writer, WriterText};
///
/// let pipe = WriterText::Pipe { fd: 7, inode: Some(123456) };
/// assert_eq!(format_writer(&pipe), "7:pipe:123456");
/// assert_eq!(format_writer(&WriterText::Pipe { fd: 7, inode: None }), "7");
/// assert_eq!(parse_writer(&format_writer(&pipe))?, pipe);
/// # Ok::<(), dynamic_port::Error>(())
/// ```
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
        WriterText::Tcp { addr, token } => format!("{TCP_PREFIX}{token}@{addr}"),
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
/// Accepts exactly the forms in the [module docs](crate::protocol); anything else is
/// an [`ErrorKind::MalformedWriter`] error that quotes (the start of) the
/// text, but never a remote writer's token.
///
/// # Example
///
/// ```
/// use dynamic_port::protocol::{parse_writer, WriterText};
/// use dynamic_port::ErrorKind;
///
/// let token = "3f9c".repeat(8);
/// let text = format!("tcp:{token}@10.0.0.1:40123");
/// assert_eq!(parse_writer(&text)?, WriterText::Tcp { addr: "10.0.0.1:40123".parse()?, token });
/// let err = parse_writer("1").unwrap_err(); // stdout is never a writer
/// assert_eq!(err.kind(), ErrorKind::MalformedWriter);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn parse_writer(text: &str) -> Result<WriterText, Error> {
    let malformed = |why: &str| malformed_writer(text, why);
    if text.is_empty() {
        return Err(malformed("it is empty"));
    }
    if let Some(rest) = text.strip_prefix(FIFO_PREFIX) {
        return parse_fifo_writer(text, rest);
    }
    if let Some(rest) = text.strip_prefix(TCP_PREFIX) {
        return parse_tcp_writer(text, rest);
    }
    if text.len() > MAX_PIPE_WRITER_LEN {
        return Err(malformed("it is too long"));
    }
    let mut parts = text.split(':');
    let fd_text = parts.next().unwrap_or_default();
    let fd = parse_decimal(fd_text)
        .and_then(|fd| RawFd::try_from(fd).ok())
        .ok_or_else(|| malformed("the fd must be a decimal number from 3 to 2147483647"))?;
    if fd <= 2 {
        // Marking it close-on-exec, and closing it after the report, would
        // take the process's stdin, stdout or stderr.
        return Err(malformed(
            "fds 0, 1 and 2 are the standard streams, never a writer; a writer's fd is 3 or more",
        ));
    }
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

/// Parses `TOKEN@ADDR`, the `rest` of a remote writer's `text`.
fn parse_tcp_writer(_text: &str, rest: &str) -> Result<WriterText, Error> {
    // The message never quotes the token: it may be a real one, and
    // messages end up in logs.
    let shown = match rest.split_once('@') {
        Some((_, addr)) => format!("tcp:(token)@{addr}"),
        None => "tcp:(token)".to_owned(),
    };
    let malformed = |why: &str| malformed_writer(&shown, why);
    if rest.len() > MAX_TOKEN_HEX + 1 + 64 {
        return Err(malformed("it is too long"));
    }
    let (token, addr) = rest
        .split_once('@')
        .ok_or_else(|| malformed("a remote writer is `tcp:TOKEN@ADDRESS`"))?;
    let hex = token
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if !hex || !(MIN_TOKEN_HEX..=MAX_TOKEN_HEX).contains(&token.len()) {
        return Err(malformed("the token is 32 to 128 lowercase hex digits"));
    }
    let addr: SocketAddr = addr
        .parse()
        .map_err(|_| malformed("the address is `1.2.3.4:5678` or `[::1]:5678`"))?;
    if addr.port() == 0 {
        return Err(malformed("the port must not be 0"));
    }
    Ok(WriterText::Tcp {
        addr,
        token: token.to_owned(),
    })
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
    // A Unix path, read the same on every platform (Windows' `is_absolute`
    // would want a drive letter).
    if !path.starts_with('/') {
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

/// Parses a non-empty run of ASCII digits as a `u64`; `None` on anything else or overflow.
fn parse_decimal(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writer_texts_of_exactly_the_longest_length_parse_and_one_more_is_too_long() {
        // Leading zeros make a pipe text as long as it may be.
        let pipe = |len: usize| format!("{:0>1$}:pipe:4711", 7, len - ":pipe:4711".len());
        assert_eq!(pipe(MAX_PIPE_WRITER_LEN).len(), MAX_PIPE_WRITER_LEN);
        assert_eq!(
            parse_writer(&pipe(MAX_PIPE_WRITER_LEN)).unwrap(),
            WriterText::Pipe {
                fd: 7,
                inode: Some(4711)
            }
        );
        let err = parse_writer(&pipe(MAX_PIPE_WRITER_LEN + 1)).unwrap_err();
        assert!(err.to_string().contains("too long"), "{err}");
        // A remote text: the longest token, and an address padded by its
        // port's leading zeros.
        let token = "f".repeat(MAX_TOKEN_HEX);
        let tcp =
            |addr_len: usize| format!("tcp:{token}@[::1]:{:0>1$}", 80, addr_len - "[::1]:".len());
        match parse_writer(&tcp(64)) {
            Ok(WriterText::Tcp { addr, .. }) => assert_eq!(addr.port(), 80),
            other => panic!("{other:?}"),
        }
        let err = parse_writer(&tcp(65)).unwrap_err();
        assert!(err.to_string().contains("too long"), "{err}");
        // A FIFO's path of exactly the most bytes, and one more.
        let fifo = |len: usize| format!("fifo:1:2:/{}", "p".repeat(len - 1));
        match parse_writer(&fifo(MAX_FIFO_PATH_LEN)) {
            Ok(WriterText::Fifo { path, .. }) => {
                assert_eq!(path.as_os_str().len(), MAX_FIFO_PATH_LEN)
            }
            other => panic!("{other:?}"),
        }
        let err = parse_writer(&fifo(MAX_FIFO_PATH_LEN + 1)).unwrap_err();
        assert!(err.to_string().contains("too long"), "{err}");
    }

    #[test]
    fn writer_text_round_trips_both_forms() {
        for (fd, inode) in [(7, Some(123456)), (3, None), (i32::MAX, Some(u64::MAX))] {
            let writer = WriterText::Pipe { fd, inode };
            assert_eq!(parse_writer(&format_writer(&writer)).unwrap(), writer);
        }
        for addr in ["10.0.0.1:4000", "[::1]:9"] {
            let writer = WriterText::Tcp {
                addr: addr.parse().unwrap(),
                token: "0123456789abcdef".repeat(2),
            };
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
            "tcp:",
            "tcp:@127.0.0.1:80",
            "tcp:0123456789abcdef@127.0.0.1:80",
            "tcp:0123456789abcdef0123456789abcdeX@127.0.0.1:80",
            "tcp:0123456789ABCDEF0123456789ABCDEF@127.0.0.1:80",
            "tcp:0123456789abcdef0123456789abcdef@127.0.0.1",
            "tcp:0123456789abcdef0123456789abcdef@127.0.0.1:0",
            "tcp:0123456789abcdef0123456789abcdef@::1:80",
            "tcp:0123456789abcdef0123456789abcdef127.0.0.1:80",
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
}
