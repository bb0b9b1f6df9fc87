//! Real programs from Debian's packages that already report on an
//! inherited fd with a flag of their own, driven through `inherit`, the fd
//! number and `line()`. `ci/install-deps.sh` installs them.
// Unix only: fds, bash, python3 or /proc. Windows has tests/windows.rs.
#![cfg(unix)]

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

use dynamic_port::{DynamicPortWriter, ErrorKind, LineFuture};
use support::{wait_with_deadline, SAFETY};

/// Starts `dbus-daemon` with `args` and `--print-address=FD`; returns it and
/// the future of the line it prints there.
fn dbus_daemon(args: &[&str]) -> (Child, LineFuture) {
    let (writer, port) = DynamicPortWriter::create().unwrap();
    let mut command = Command::new("dbus-daemon");
    command
        .args(args)
        .arg(format!("--print-address={}", writer.fd().unwrap()))
        .stderr(Stdio::null());
    writer.inherit(&mut command);
    let mut child = command
        .spawn()
        .expect("dbus-daemon (Debian's dbus-daemon package)");
    drop(writer);
    let line = port.watch(&mut child).line().timeout(SAFETY);
    (child, line)
}

#[test]
fn dbus_daemon_reports_its_address_and_speaks_dbus_there() {
    let (mut child, line) = dbus_daemon(&[
        "--session",
        "--nofork",
        "--address=tcp:host=127.0.0.1,port=0",
    ]);
    let line = line.wait().unwrap();
    assert!(line.starts_with("tcp:host=127.0.0.1,port="), "{line}");
    let port: u16 = line
        .split(',')
        .find_map(|part| part.strip_prefix("port="))
        .unwrap()
        .parse()
        .unwrap();
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(SAFETY)).unwrap();
    stream.write_all(b"\0AUTH\r\n").unwrap();
    let mut answer = String::new();
    BufReader::new(stream).read_line(&mut answer).unwrap();
    assert!(answer.starts_with("REJECTED"), "{answer:?}");
    child.kill().unwrap();
    wait_with_deadline(&mut child);
}

#[test]
fn dbus_daemon_that_fails_to_start_is_child_exited_with_its_status() {
    let (mut child, line) =
        dbus_daemon(&["--nofork", "--config-file=/nonexistent/dynamic-port.conf"]);
    let err = line.wait().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ChildExited, "{err}");
    let status = wait_with_deadline(&mut child);
    assert!(!status.success());
    assert_eq!(err.exit_status(), Some(status));
}
