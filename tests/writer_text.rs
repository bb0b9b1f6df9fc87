//! The writer's text form through the public API: round trips, equality,
//! the env var, and bad input (which is an error, never a panic).
// Unix only: fds, bash, python3 or /proc. Windows has tests/windows.rs.
#![cfg(unix)]

mod support;

use std::collections::HashSet;
use std::io;
use std::process::Stdio;

use dynamic_port::{DynamicPortWriter, ErrorKind};
use support::Role;
use support::{child, marker, stdout_of};

#[test]
fn text_names_the_fd_and_the_pipe_and_parses_back_equal() {
    let (writer, _port) = DynamicPortWriter::create().unwrap();
    let text = writer.to_string();
    let (fd, inode) = text.split_once(":pipe:").unwrap();
    assert_eq!(Some(fd.parse::<i32>().unwrap()), writer.fd());
    assert!(inode.parse::<u64>().unwrap() > 0);
    let parsed: DynamicPortWriter = text.parse().unwrap();
    assert_eq!(parsed, writer);
    assert_eq!(parsed.to_string(), text);
    assert_eq!(writer.clone(), writer);
    // Hash and Eq use only the fd and the inode, never the shared state.
    #[allow(clippy::mutable_key_type)]
    let set: HashSet<_> = [writer.clone(), parsed].into_iter().collect();
    assert_eq!(set.len(), 1);
}

#[test]
fn writers_of_different_pipes_differ() {
    let (a, _pa) = DynamicPortWriter::create().unwrap();
    let (b, _pb) = DynamicPortWriter::create().unwrap();
    assert_ne!(a, b);
    assert_ne!(a.to_string(), b.to_string());
}

#[test]
fn bad_text_is_a_malformed_writer_error() {
    let ten_megabytes_of_digits = "7".repeat(10_000_000);
    for bad in [
        "",
        "-1",
        "7x",
        "x7",
        "7\0",
        "\0",
        "12345678901234567890",
        "99999999999999999999999",
        "7:pipe:",
        "7:socket:5",
        "7:pipe:5:",
        "7.0",
        "0x7",
        "ⅶ",
        ten_megabytes_of_digits.as_str(),
    ] {
        let err = bad.parse::<DynamicPortWriter>().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::MalformedWriter, "{bad:.20?}");
        assert!(err.to_string().contains("not a dynamic port writer"));
    }
}

#[test]
fn the_error_converts_to_an_io_error_of_a_matching_kind() {
    let err = "7x".parse::<DynamicPortWriter>().unwrap_err();
    let message = err.to_string();
    let io_err = io::Error::from(err);
    assert_eq!(io_err.kind(), io::ErrorKind::InvalidInput);
    assert_eq!(io_err.to_string(), message);
    let inner = io_err
        .get_ref()
        .unwrap()
        .downcast_ref::<dynamic_port::Error>();
    assert_eq!(inner.unwrap().kind(), ErrorKind::MalformedWriter);
}

/// What `from_env` returns in a child whose env var is set to `value` (or unset).
fn from_env_in_child(value: Option<&std::ffi::OsStr>) -> String {
    let mut command = child(Role::FromEnv);
    command
        .stdout(Stdio::piped())
        .env_remove(DynamicPortWriter::ENV_VAR);
    if let Some(value) = value {
        command.env(DynamicPortWriter::ENV_VAR, value);
    }
    let out = stdout_of(&mut command.spawn().unwrap());
    marker(&out, "FROM_ENV")
        .expect("the child's answer")
        .to_owned()
}

#[test]
fn from_env_is_none_when_unset_and_an_error_when_bad() {
    use std::os::unix::ffi::OsStrExt;
    assert_eq!(from_env_in_child(None), "None");
    assert_eq!(from_env_in_child(Some("7".as_ref())), "Some(7)");
    assert_eq!(
        from_env_in_child(Some("7:pipe:42".as_ref())),
        "Some(7:pipe:42)"
    );
    for bad in ["", "seven", "-7", "7 ", "99999999999999999999"] {
        assert_eq!(
            from_env_in_child(Some(bad.as_ref())),
            "MalformedWriter",
            "{bad:?}"
        );
    }
    let not_utf8 = std::ffi::OsStr::from_bytes(b"7\xff");
    assert_eq!(from_env_in_child(Some(not_utf8)), "MalformedWriter");
    let huge = "9".repeat(100_000);
    assert_eq!(from_env_in_child(Some(huge.as_ref())), "MalformedWriter");
}

#[test]
fn the_public_types_have_the_traits_the_contract_names() {
    use std::fmt::{Debug, Display};
    use std::future::Future;
    use std::str::FromStr;

    fn writer<T>()
    where
        T: Clone + Debug + Display + FromStr<Err = dynamic_port::Error> + PartialEq + Eq,
        T: Send + Sync + 'static,
    {
    }
    fn port_future<T>()
    where
        T: Future<Output = Result<u16, dynamic_port::Error>> + Send + Unpin + 'static,
    {
    }
    fn error<T: std::error::Error + Send + Sync + 'static + Into<io::Error>>() {}

    writer::<DynamicPortWriter>();
    port_future::<dynamic_port::PortFuture>();
    error::<dynamic_port::Error>();
    assert_eq!(DynamicPortWriter::ENV_VAR, "DYNAMIC_PORT_WRITER");
}

#[test]
fn debug_output_names_each_kind_and_never_the_token() {
    let (pipe, _p) = DynamicPortWriter::create().unwrap();
    let shown = format!("{pipe:?}");
    let fd = pipe.fd().unwrap();
    assert!(shown.contains(&format!("fd: {fd}")), "{shown}");
    assert!(shown.contains("creator: true"), "{shown}");
    let (named, _n) = DynamicPortWriter::create_named().unwrap();
    let shown = format!("{named:?}");
    assert!(
        shown.contains(named.path().unwrap().to_str().unwrap()),
        "{shown}"
    );
    let (remote, remote_port) =
        DynamicPortWriter::create_remote("127.0.0.1:0".parse().unwrap()).unwrap();
    let shown = format!("{remote:?}");
    let (token, _) = support::token_and_addr(&remote);
    assert!(
        shown.contains(&remote.remote_addr().unwrap().to_string()),
        "{shown}"
    );
    assert!(!shown.contains(&token), "the token is a secret: {shown}");
    // Nor does the parent's future show it; it shows where it listens.
    let shown = format!("{remote_port:?}");
    assert!(shown.contains("TcpReceiver"), "{shown}");
    assert!(
        shown.contains(&remote.remote_addr().unwrap().to_string()),
        "{shown}"
    );
    assert!(!shown.contains(&token), "the token is a secret: {shown}");
    // And what a writer names, by kind.
    assert_eq!((named.fd(), remote.fd()), (None, None));
    assert_eq!((pipe.path(), remote.path()), (None, None));
    assert_eq!((pipe.remote_addr(), named.remote_addr()), (None, None));
    assert!(named.is_named() && !pipe.is_named() && !remote.is_named());
}

#[test]
fn a_malformed_remote_writer_is_refused_without_quoting_its_token() {
    let token = "0123456789abcdef".repeat(2);
    for text in [
        format!("tcp:{token}@not-an-address"),
        format!("tcp:{token}@127.0.0.1:0"),
        format!("tcp:{token}"),
        format!("tcp:{}@127.0.0.1:80", token.to_uppercase()),
    ] {
        let err = text.parse::<DynamicPortWriter>().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::MalformedWriter, "{err}");
        let message = err.to_string();
        assert!(!message.to_lowercase().contains(&token), "{message}");
        assert!(message.contains("tcp:(token)"), "{message}");
    }
}
