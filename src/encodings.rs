//! serde and postcard for [`DynamicPortWriter`] (features `serde`, `postcard`).
//!
//! Human-readable formats (JSON, TOML, YAML...) carry the writer as its text,
//! `"7:pipe:123456"`, and also accept a bare fd number, `7` (the original's
//! sexp was an int atom). Binary formats carry the pair `(fd: u32, pipe:
//! Option<u64>)`: in postcard, varints of at most 16 bytes in all.

use std::fmt;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};

use crate::DynamicPortWriter;

/// A writer's fd must fit in a `RawFd` (`i32`); it is non-negative.
fn fd_from(value: u64) -> Option<i32> {
    i32::try_from(value).ok()
}

impl Serialize for DynamicPortWriter {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.collect_str(self)
        } else {
            let (fd, pipe) = self.parts();
            // Parsing and `create` only ever make non-negative fds.
            let fd = u32::try_from(fd).map_err(serde::ser::Error::custom)?;
            (fd, pipe).serialize(serializer)
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

/// Accepts the text form, a bare fd number, or the `(fd, pipe)` pair.
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
        let fd = fd_from(fd).ok_or_else(|| {
            E::invalid_value(
                de::Unexpected::Unsigned(fd),
                &"an fd number up to 2147483647",
            )
        })?;
        Ok(DynamicPortWriter::from_parts(fd, None))
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
        let pipe: Option<u64> = seq
            .next_element()?
            .ok_or_else(|| de::Error::invalid_length(1, &self))?;
        let fd = fd_from(fd.into()).ok_or_else(|| {
            de::Error::invalid_value(
                de::Unexpected::Unsigned(fd.into()),
                &"an fd number up to 2147483647",
            )
        })?;
        Ok(DynamicPortWriter::from_parts(fd, pipe))
    }
}

#[cfg(feature = "postcard")]
impl DynamicPortWriter {
    /// The most bytes [`to_postcard`](Self::to_postcard) produces: a `u32`
    /// varint (5), the option tag (1) and a `u64` varint (10).
    pub const MAX_POSTCARD_LEN: usize = 16;

    /// The compact binary form (the original's `bin_io`): postcard bytes,
    /// at most 16, typically 5 to 7.
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
        // The binary form of `Serialize`; it fails only for a negative fd,
        // which parsing and `create` never make.
        postcard::to_stdvec(self).expect("a writer's fd is never negative")
    }

    /// Parses [`to_postcard`](Self::to_postcard)'s bytes. Like parsing text,
    /// it marks the fd close-on-exec if it is the pipe named.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::MalformedWriter`](crate::ErrorKind::MalformedWriter) for
    /// anything but exactly one encoded writer: empty, truncated, over 16
    /// bytes, oversized or padded varints, trailing bytes, or an fd over `i32::MAX`.
    pub fn from_postcard(bytes: &[u8]) -> Result<DynamicPortWriter, crate::Error> {
        use crate::error::{Error, ErrorKind};
        let malformed = |why: String| {
            Error::new(
                ErrorKind::MalformedWriter,
                format!(
                    "{} bytes are not a dynamic port writer in postcard ({why}): expected \
                     what DynamicPortWriter::to_postcard returns",
                    bytes.len()
                ),
            )
        };
        if bytes.len() > Self::MAX_POSTCARD_LEN {
            return Err(malformed(format!(
                "more than {} bytes",
                Self::MAX_POSTCARD_LEN
            )));
        }
        let ((fd, pipe), rest) = postcard::take_from_bytes::<(u32, Option<u64>)>(bytes)
            .map_err(|e| malformed(e.to_string()))?;
        if !rest.is_empty() {
            return Err(malformed(format!("{} trailing bytes", rest.len())));
        }
        // One writer, one encoding: no padded varints.
        if postcard::to_stdvec(&(fd, pipe)).ok().as_deref() != Some(bytes) {
            return Err(malformed("a varint is not in its shortest form".to_owned()));
        }
        let fd = fd_from(fd.into()).ok_or_else(|| malformed(format!("fd {fd} is too large")))?;
        Ok(DynamicPortWriter::from_parts(fd, pipe))
    }
}
