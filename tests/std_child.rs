//! A std parent and a std child, through every plain way of passing the writer.
// Unix only: fds, bash, python3 or /proc. Windows has tests/windows.rs.
#![cfg(unix)]

mod support;

use std::process::Stdio;

use dynamic_port::{DynamicPortWriter, ErrorKind};
use support::Role;
use support::{child, greeting, marker, spawn_and_wait_for_port, stdout_of, wait_with_deadline};

#[test]
fn child_given_the_flag_reports_the_port_it_serves() {
    let (mut child, port) = spawn_and_wait_for_port(child(Role::Serve), |writer, command| {
        writer.pass_to(command);
    });
    let port = port.unwrap();
    assert_eq!(greeting(port), support::port_line(port));
    assert!(wait_with_deadline(&mut child).success());
}

#[test]
fn child_given_the_env_var_reports_the_port_it_serves() {
    let (mut child, port) = spawn_and_wait_for_port(child(Role::Serve), |writer, command| {
        writer.pass_to_env(command);
    });
    let port = port.unwrap();
    assert_eq!(greeting(port), support::port_line(port));
    assert!(wait_with_deadline(&mut child).success());
}

#[test]
fn child_given_the_originals_bare_fd_number_reports() {
    let (mut child, port) = spawn_and_wait_for_port(child(Role::Serve), |writer, command| {
        command.args([DynamicPortWriter::FLAG, &writer.fd().unwrap().to_string()]);
        writer.inherit(command);
    });
    let port = port.unwrap();
    assert_eq!(greeting(port), support::port_line(port));
    assert!(wait_with_deadline(&mut child).success());
}

#[test]
fn child_can_listen_on_ipv6_loopback() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        eprintln!("skipped: this machine has no IPv6 loopback");
        return;
    }
    let (mut child, port) = spawn_and_wait_for_port(child(Role::ServeV6), |writer, command| {
        writer.pass_to(command);
    });
    let port = port.unwrap();
    let stream = std::net::TcpStream::connect(("::1", port)).unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stream), &mut line).unwrap();
    assert_eq!(line, support::port_line(port));
    assert!(wait_with_deadline(&mut child).success());
}

#[test]
fn reporting_twice_is_an_error_and_the_first_report_stands() {
    let mut command = child(Role::ReportTwice);
    command.stdout(Stdio::piped());
    let (mut child, port) = spawn_and_wait_for_port(command, |writer, command| {
        writer.pass_to(command);
    });
    let port = port.unwrap();
    assert_eq!(greeting(port), support::port_line(port));
    let out = stdout_of(&mut child);
    assert_eq!(marker(&out, "FIRST"), Some("Ok"));
    assert_eq!(marker(&out, "SECOND"), Some("AlreadyReported"), "{out}");
    assert_eq!(marker(&out, "THIRD"), Some("AlreadyReported"), "{out}");
}

#[test]
fn reporting_twice_in_the_creating_process_is_an_error() {
    let (writer, port) = DynamicPortWriter::create().unwrap();
    let parsed: DynamicPortWriter = writer.to_string().parse().unwrap();
    writer.clone().report(1111).unwrap();
    assert_eq!(
        parsed.report(2222).unwrap_err().kind(),
        ErrorKind::AlreadyReported
    );
    assert_eq!(
        writer.report(3333).unwrap_err().kind(),
        ErrorKind::AlreadyReported
    );
    assert_eq!(port.wait().unwrap(), 1111);
}

#[test]
fn a_parsed_copy_in_the_creating_process_shares_the_write_end() {
    let (writer, port) = DynamicPortWriter::create().unwrap();
    let parsed: DynamicPortWriter = writer.to_string().parse().unwrap();
    let bare: DynamicPortWriter = writer.fd().unwrap().to_string().parse().unwrap();
    assert_eq!(parsed, writer);
    assert_eq!(bare, writer);
    drop(writer);
    // The parsed copies keep the write end open: no end of stream yet.
    let mut port = port;
    assert!(futures::FutureExt::now_or_never(&mut port).is_none());
    let listener = parsed.where_to_listen().unwrap();
    assert_eq!(port.wait().unwrap(), listener.local_addr().unwrap().port());
    drop(bare);
}
