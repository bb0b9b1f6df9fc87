//! The `--dynamic-port-writer` argument for clap 4.
//!
//! ## Feature flag
//!
//! ```toml
//! dynamic-port = { version = "0.1", features = ["clap"] }
//! ```
//!
//! With the builder, add [`arg()`] and read the writer back with
//! `get_one::<DynamicPortWriter>("dynamic-port-writer")`. With the derive
//! API, a field `#[arg(long)] dynamic_port_writer: DynamicPortWriter` works
//! as it is: the feature implements clap's `ValueParserFactory` for the
//! writer, which `#[arg]` picks up (and without the feature, clap falls back
//! to `FromStr`, with the same result).
//!
//! ```
//! use dynamic_port::DynamicPortWriter;
//!
//! let command = clap::Command::new("my-server").arg(dynamic_port::clap::arg());
//! let matches = command.try_get_matches_from(["my-server", "--dynamic-port-writer", "7"])?;
//! let writer = matches.get_one::<DynamicPortWriter>("dynamic-port-writer").unwrap();
//! assert_eq!(writer.fd(), Some(7));
//! # Ok::<(), clap::Error>(())
//! ```

use ::clap::builder::{StringValueParser, TryMapValueParser, TypedValueParser, ValueParserFactory};
use ::clap::Arg;

use crate::{DynamicPortWriter, Error};

/// The argument's id and long name: `dynamic-port-writer`.
///
/// # Example
///
/// ```
/// use dynamic_port::DynamicPortWriter;
///
/// let (writer, _port) = DynamicPortWriter::create()?; // as if given by the parent
/// let text = writer.to_string();
/// let command = clap::Command::new("my-server").arg(dynamic_port::clap::arg());
/// let matches = command.try_get_matches_from(["my-server", "--dynamic-port-writer", &text])?;
/// assert_eq!(matches.get_one::<DynamicPortWriter>(dynamic_port::clap::ID), Some(&writer));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub const ID: &str = "dynamic-port-writer";

/// A required `--dynamic-port-writer <WRITER>` whose value is a [`DynamicPortWriter`].
///
/// A missing or malformed value is a clap error, reported as clap reports
/// any other.
///
/// # Example
///
/// ```
/// use clap::error::ErrorKind;
///
/// let command = clap::Command::new("my-server").arg(dynamic_port::clap::arg());
/// let missing = command.clone().try_get_matches_from(["my-server"]).unwrap_err();
/// assert_eq!(missing.kind(), ErrorKind::MissingRequiredArgument);
/// let stdout = command.try_get_matches_from(["my-server", "--dynamic-port-writer", "1"]);
/// assert_eq!(stdout.unwrap_err().kind(), ErrorKind::ValueValidation); // fd 1 is never a writer
/// ```
pub fn arg() -> Arg {
    Arg::new(ID)
        .long(ID)
        .value_name("WRITER")
        .required(true)
        .value_parser(::clap::value_parser!(DynamicPortWriter))
        .help("Where to report the port this program listens on (given by the parent process)")
}

/// The function behind [`ValueParserFactory`] for the writer.
type ParseWriter = fn(String) -> Result<DynamicPortWriter, Error>;

impl ValueParserFactory for DynamicPortWriter {
    type Parser = TryMapValueParser<StringValueParser, ParseWriter>;

    fn value_parser() -> Self::Parser {
        StringValueParser::new().try_map((|text: String| text.parse()) as ParseWriter)
    }
}
