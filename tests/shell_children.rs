//! Children in other languages report with one line, through the documented protocol.
// Unix only: fds, bash, python3 or /proc. Windows has tests/windows.rs.
#![cfg(unix)]

mod support;

use std::process::Command;

use support::{greeting, spawn_and_wait_for_port, wait_with_deadline};

fn bash(script: &str) -> Command {
    support::bash(script)
}

fn python(script: &str) -> Command {
    let mut command = Command::new("python3");
    command.args(["-c", script]);
    command
}

#[test]
fn bash_child_reports_with_echo_to_the_fd_from_the_env_var() {
    let script = r#"FD=${DYNAMIC_PORT_WRITER%%:*}; echo 12345 >&$FD"#;
    let (mut child, port) = spawn_and_wait_for_port(bash(script), |writer, command| {
        writer.pass_to_env(command);
    });
    assert_eq!(port.unwrap(), 12345);
    assert!(wait_with_deadline(&mut child).success());
}

#[test]
fn bash_child_reports_with_echo_to_the_fd_from_the_flag() {
    // pass_to appends `--dynamic-port-writer FD:pipe:INODE`: $1 and $2.
    let script = r#"[ "$1" = --dynamic-port-writer ] || exit 9; echo 23456 >&"${2%%:*}""#;
    let (mut child, port) = spawn_and_wait_for_port(bash(script), |writer, command| {
        writer.pass_to(command);
    });
    assert_eq!(port.unwrap(), 23456);
    assert!(wait_with_deadline(&mut child).success());
}

#[test]
fn bash_child_may_send_the_originals_line_with_a_trailing_space() {
    let script = r#"printf '54321 \n' >&"${DYNAMIC_PORT_WRITER%%:*}""#;
    let (_, port) = spawn_and_wait_for_port(bash(script), |writer, command| {
        writer.pass_to_env(command);
    });
    assert_eq!(port.unwrap(), 54321);
}

#[test]
fn bash_child_may_end_the_stream_without_a_newline() {
    let script = r#"printf 4444 >&"${DYNAMIC_PORT_WRITER%%:*}""#;
    let (_, port) = spawn_and_wait_for_port(bash(script), |writer, command| {
        writer.pass_to_env(command);
    });
    assert_eq!(port.unwrap(), 4444);
}

#[test]
fn python_child_reports_with_os_write() {
    let script = r#"
import os
fd = int(os.environ["DYNAMIC_PORT_WRITER"].split(":")[0])
os.write(fd, b"8080\n")
"#;
    let (mut child, port) = spawn_and_wait_for_port(python(script), |writer, command| {
        writer.pass_to_env(command);
    });
    assert_eq!(port.unwrap(), 8080);
    assert!(wait_with_deadline(&mut child).success());
}

#[test]
fn python_server_child_reports_the_port_it_really_listens_on() {
    let script = r#"
import os, socket
fd = int(os.environ["DYNAMIC_PORT_WRITER"].split(":")[0])
server = socket.socket()
server.bind(("127.0.0.1", 0))
server.listen()
port = server.getsockname()[1]
os.write(fd, b"%d\n" % port)
os.close(fd)
conn, _ = server.accept()
conn.sendall(b"port %d\n" % port)
conn.close()
"#;
    let (mut child, port) = spawn_and_wait_for_port(python(script), |writer, command| {
        writer.pass_to_env(command);
    });
    let port = port.unwrap();
    assert_eq!(greeting(port), support::port_line(port));
    assert!(wait_with_deadline(&mut child).success());
}
