//! A writer whose fd is gone, or now something else, never writes into it.
// Unix only: fds, bash, python3 or /proc. Windows has tests/windows.rs.
#![cfg(unix)]

mod support;

use std::io::Read;
use std::os::fd::AsRawFd;
use std::process::Stdio;
use std::time::Duration;

use dynamic_port::{DynamicPortWriter, ErrorKind};
use support::Role;
use support::{assert_kind, child, inode_of, marker, stdout_of, SAFETY};

#[test]
fn text_naming_another_pipe_at_the_same_fd_is_refused_in_the_child() {
    // The child inherits pipe B at B's fd, but is given text that names B's
    // fd with pipe A's inode: stale text. It must not write into B.
    let (writer_a, _port_a) = DynamicPortWriter::create().unwrap();
    let (writer_b, port_b) = DynamicPortWriter::create().unwrap();
    let stale = format!("{}:pipe:{}", writer_b.fd().unwrap(), inode_of(&writer_a));
    let mut command = child(Role::ReportWithText);
    command.env("DP_TEST_TEXT", &stale).stdout(Stdio::piped());
    writer_b.inherit(&mut command);
    let mut child = command.spawn().unwrap();
    drop(writer_b);
    let out = stdout_of(&mut child);
    assert_eq!(marker(&out, "REPORT"), Some("NotInherited"), "{out}");
    // Nothing reached pipe B: it closed without a report.
    assert_kind(
        port_b.timeout(SAFETY).wait(),
        ErrorKind::ClosedWithoutReport,
    );
}

#[test]
fn text_naming_another_pipe_at_the_same_fd_is_refused_in_process() {
    let (writer, port) = DynamicPortWriter::create().unwrap();
    let stale: DynamicPortWriter = format!("{}:pipe:1", writer.fd().unwrap()).parse().unwrap();
    assert_ne!(stale, writer);
    let err = stale.report(4321).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotInherited);
    assert!(err.to_string().contains("another pipe"), "{err}");
    // The real pipe got nothing and still works.
    let mut port = port;
    assert!(futures::FutureExt::now_or_never(&mut port).is_none());
    writer.report(1234).unwrap();
    assert_eq!(port.wait().unwrap(), 1234);
}

#[test]
fn text_of_a_dropped_writer_whose_fd_now_holds_another_pipe_is_refused() {
    // In a child, where no parallel test can take the fd number meanwhile.
    let mut command = child(Role::StaleTextOverForeignPipe);
    command.stdout(Stdio::piped());
    let out = stdout_of(&mut command.spawn().unwrap());
    assert_eq!(marker(&out, "REPORT"), Some("NotInherited"), "{out}");
    assert_eq!(marker(&out, "LEAKED"), Some("false"), "{out}");
}

#[test]
fn text_of_a_pipe_that_is_gone_is_refused() {
    let (writer, port) = DynamicPortWriter::create().unwrap();
    let text = writer.to_string();
    drop((writer, port));
    let stale: DynamicPortWriter = text.parse().unwrap();
    // The fd number may have been reused by a parallel test; either way, refused.
    assert_kind(stale.report(4321), ErrorKind::NotInherited);
}

#[test]
fn a_regular_file_at_the_fd_is_refused_and_left_untouched() {
    let mut file = tempfile();
    let writer: DynamicPortWriter = file.as_raw_fd().to_string().parse().unwrap();
    let err = writer.report(4321).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotInherited);
    assert!(err.to_string().contains("regular file"), "{err}");
    let mut contents = String::new();
    std::io::Seek::rewind(&mut file).unwrap();
    file.read_to_string(&mut contents).unwrap();
    assert_eq!(contents, "");
}

#[test]
fn a_pipes_read_end_at_the_fd_is_refused() {
    let (read_end, write_end) = support::raw_pipe();
    let writer: DynamicPortWriter = read_end.as_raw_fd().to_string().parse().unwrap();
    let err = writer.report(4321).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotInherited);
    assert!(err.to_string().contains("read end"), "{err}");
    drop(write_end);
}

#[test]
fn an_fd_that_is_not_open_is_refused() {
    let writer: DynamicPortWriter = "1000000".parse().unwrap();
    let err = writer.report(4321).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotInherited);
    assert!(err.to_string().contains("not open"), "{err}");
}

#[test]
fn reporting_port_zero_is_refused_before_anything_is_written() {
    let (writer, port) = DynamicPortWriter::create().unwrap();
    assert_kind(writer.clone().report(0), ErrorKind::MalformedReport);
    writer.report(80).unwrap();
    assert_eq!(port.timeout(Duration::from_secs(5)).wait().unwrap(), 80);
}

/// An anonymous temporary file (unlinked at once).
fn tempfile() -> std::fs::File {
    let path = std::env::temp_dir().join(format!("dynamic-port-test-{}", std::process::id()));
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)
        .unwrap();
    std::fs::remove_file(&path).unwrap();
    file
}
