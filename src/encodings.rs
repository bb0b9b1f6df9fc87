//! serde and postcard for [`DynamicPortWriter`] (features `serde`, `postcard`).
//!
//! Human-readable formats (JSON, TOML, YAML...) carry the writer as its text,
//! `"7:pipe:123456"`, and also accept a bare fd number, `7`. Binary formats
//! carry the pair `(fd: u32, endpoint)`, where the endpoint is one of `Bare`,
//! `Pipe(inode)`, `Fifo(dev, inode, path)` (a named writer, whose fd is 0)
//! or `Tcp(token, address)` (a remote writer, fd 0).
//! In postcard a pipe writer is a few varints, at most 16 bytes in all: the
//! endpoint's tag is the same byte an `Option<u64>` would have.

use std::fmt;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};

use crate::protocol::WriterText;
use crate::DynamicPortWriter;

/// The binary form's second element.
#[derive(Serialize, Deserialize, PartialEq, Eq)]
enum Endpoint {
    /// A bare fd number: a pipe of unknown inode.
    Bare,
    /// A pipe's inode.
    Pipe(u64),
    /// A named FIFO: device, inode, path.
    Fifo(u64, u64, String),
    /// A remote writer: token, address.
    Tcp(String, String),
}

/// The whole binary form.
type Binary = (u32, Endpoint);

/// A writer in its binary form. Parsing and `create` only ever make
/// non-negative fds, so the conversion never fails for them.
fn to_binary(writer: &DynamicPortWriter) -> Result<Binary, String> {
    Ok(match writer.text() {
        WriterText::Pipe { fd, inode } => {
            let fd = u32::try_from(fd).map_err(|_| format!("negative fd {fd}"))?;
            (fd, inode.map_or(Endpoint::Bare, Endpoint::Pipe))
        }
        WriterText::Fifo { dev, inode, path } => {
            let path = path
                .to_str()
                .ok_or("the FIFO's path is not UTF-8")?
                .to_owned();
            (0, Endpoint::Fifo(dev, inode, path))
        }
        WriterText::Tcp { addr, token } => (0, Endpoint::Tcp(token, addr.to_string())),
    })
}

/// A writer from its binary form, checked as its text would be.
fn from_binary((fd, endpoint): Binary) -> Result<DynamicPortWriter, crate::Error> {
    let text = match endpoint {
        Endpoint::Bare => fd.to_string(),
        Endpoint::Pipe(inode) => format!("{fd}:pipe:{inode}"),
        Endpoint::Fifo(dev, inode, path) => format!("fifo:{dev}:{inode}:{path}"),
        Endpoint::Tcp(token, addr) => format!("tcp:{token}@{addr}"),
    };
    text.parse()
}

impl Serialize for DynamicPortWriter {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.collect_str(self)
        } else {
            to_binary(self)
                .map_err(serde::ser::Error::custom)?
                .serialize(serializer)
        }
    }
}

impl<'de> Deserialize<'de> for DynamicPortWriter {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if deserializer.is_human_readable() {
            deserializer.deserialize_any(WriterVisitor)
        } else {
            deserializer.deserialize_tuple(2, WriterVisitor)
        }
    }
}

/// Accepts the text form, a bare fd number, or the binary pair.
struct WriterVisitor;

impl<'de> Visitor<'de> for WriterVisitor {
    type Value = DynamicPortWriter;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a dynamic port writer: a string such as \"7:pipe:123456\", or an fd number")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        text.parse().map_err(E::custom)
    }

    fn visit_u64<E: de::Error>(self, fd: u64) -> Result<Self::Value, E> {
        // The text parser bounds the fd.
        fd.to_string().parse().map_err(E::custom)
    }

    fn visit_i64<E: de::Error>(self, fd: i64) -> Result<Self::Value, E> {
        match u64::try_from(fd) {
            Ok(fd) => self.visit_u64(fd),
            Err(_) => Err(E::invalid_value(
                de::Unexpected::Signed(fd),
                &"a non-negative fd number",
            )),
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let fd: u32 = seq
            .next_element()?
            .ok_or_else(|| de::Error::invalid_length(0, &self))?;
        let endpoint: Endpoint = seq
            .next_element()?
            .ok_or_else(|| de::Error::invalid_length(1, &self))?;
        from_binary((fd, endpoint)).map_err(de::Error::custom)
    }
}

#[cfg(feature = "postcard")]
impl DynamicPortWriter {
    /// The most bytes [`to_postcard`](Self::to_postcard) produces for a pipe
    /// writer: a `u32` varint (5), the endpoint's tag (1) and a `u64` varint (10).
    pub const MAX_POSTCARD_LEN: usize = 16;

    /// The most bytes [`to_postcard`](Self::to_postcard) produces for a
    /// named writer: its fd (1), tag (1), two `u64` varints (20), and the
    /// path with its length (2 + 4095).
    pub const MAX_NAMED_POSTCARD_LEN: usize = 2 + 20 + 2 + crate::protocol::MAX_FIFO_PATH_LEN;

    /// The compact binary form: postcard bytes, at most 16 for a pipe
    /// writer (typically 5 to 7); a named writer's carries its path.
    ///
    /// ```
    /// use dynamic_port::DynamicPortWriter;
    ///
    /// let (writer, _port) = DynamicPortWriter::create()?;
    /// let bytes = writer.to_postcard();
    /// assert!(bytes.len() <= 16);
    /// assert_eq!(DynamicPortWriter::from_postcard(&bytes)?, writer);
    /// # Ok::<(), dynamic_port::Error>(())
    /// ```
    pub fn to_postcard(&self) -> Vec<u8> {
        // It fails only for a negative fd or a non-UTF-8 path, which parsing
        // and `create*` never make.
        postcard::to_stdvec(self).expect("a writer made here always encodes")
    }

    /// Parses [`to_postcard`](Self::to_postcard)'s bytes. Like parsing text,
    /// it marks the fd close-on-exec if it is the pipe named.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::MalformedWriter`](crate::ErrorKind::MalformedWriter) for
    /// anything but exactly one encoded writer: empty, truncated, oversized,
    /// padded varints, trailing bytes, an fd over `i32::MAX`, or a path the
    /// text form would refuse.
    ///
    /// # Example
    ///
    /// ```
    /// use dynamic_port::{DynamicPortWriter, ErrorKind};
    ///
    /// // What a parent sent for `1000000:pipe:123456`: two varints and a tag.
    /// let writer = DynamicPortWriter::from_postcard(&[0xc0, 0x84, 0x3d, 0x01, 0xc0, 0xc4, 0x07])?;
    /// assert_eq!(writer.to_string(), "1000000:pipe:123456");
    /// let err = DynamicPortWriter::from_postcard(&[0xc0, 0x84]).unwrap_err(); // truncated
    /// assert_eq!(err.kind(), ErrorKind::MalformedWriter);
    /// # Ok::<(), dynamic_port::Error>(())
    /// ```
    pub fn from_postcard(bytes: &[u8]) -> Result<DynamicPortWriter, crate::Error> {
        use crate::error::{Error, ErrorKind};
        let malformed = |why: String| {
            Error::new(
                ErrorKind::MalformedWriter,
                format!(
                    "{} bytes are not a dynamic port writer in postcard ({why}); expected \
                     what DynamicPortWriter::to_postcard returns",
                    bytes.len()
                ),
            )
        };
        if bytes.len() > Self::MAX_NAMED_POSTCARD_LEN {
            return Err(malformed("too many bytes".to_owned()));
        }
        let (binary, rest) =
            postcard::take_from_bytes::<Binary>(bytes).map_err(|e| malformed(e.to_string()))?;
        if !rest.is_empty() {
            return Err(malformed(format!("{} trailing bytes", rest.len())));
        }
        // One writer, one encoding: no padded varints.
        if postcard::to_stdvec(&binary).ok().as_deref() != Some(bytes) {
            return Err(malformed("not in its shortest form".to_owned()));
        }
        if matches!(binary, (fd, Endpoint::Fifo(..) | Endpoint::Tcp(..)) if fd != 0) {
            return Err(malformed("a named or remote writer has fd 0".to_owned()));
        }
        from_binary(binary).map_err(|e| malformed(e.to_string()))
    }
}
