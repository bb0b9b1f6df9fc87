//! `Server`: started, reached, stopped with its whole process group; a
//! failed start that says why and leaves nothing behind; and a server that
//! never outlives its parent, killed or exiting with the server in a static.
// Unix only: fds, bash, python3 or /proc. Windows has tests/windows.rs.
#![cfg(unix)]

mod support;

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use dynamic_port::{ErrorKind, Server, SpawnOptions};
use support::SERVER_WITH_GRANDCHILD;
use support::{bash, child, gone_within, Role, SAFETY};

/// Whether every one of `pids` is gone within a second of `since`.
fn all_gone_within_a_second_of(since: Instant, pids: &[u32]) -> Option<u32> {
    pids.iter()
        .copied()
        .find(|&pid| !gone_within(pid, Duration::from_secs(1).saturating_sub(since.elapsed())))
}

/// Whether `pid` is gone and reaped: no entry in /proc at all.
fn reaped(pid: u32) -> bool {
    !std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// A Python server that greets every connection, reporting through the flag.
fn greeter() -> Command {
    let mut command = Command::new("python3");
    command.args([
        "-c",
        "import socket, sys
s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()
with open(int(sys.argv[2].split(':')[0]), 'w') as w: w.write('%d\\n' % s.getsockname()[1])
while True:
    c, _ = s.accept(); c.sendall(b'hello\\n'); c.close()",
    ]);
    command
}

#[test]
fn a_server_is_reached_at_its_address_and_stop_reaps_it() {
    let server = Server::start(&mut greeter()).unwrap();
    let mut greeting = String::new();
    std::net::TcpStream::connect(server.addr())
        .unwrap()
        .read_to_string(&mut greeting)
        .unwrap();
    assert_eq!(greeting, "hello\n");
    assert_eq!(
        server.addr(),
        format!("127.0.0.1:{}", server.port()).parse().unwrap()
    );
    assert_eq!(server.addrs()["0"], server.addr());
    let pid = server.id();
    let status = server.stop().unwrap();
    assert_eq!(status.signal(), Some(libc::SIGTERM));
    assert!(reaped(pid));
}

#[test]
fn rust_children_start_as_servers_with_one_or_several_endpoints() {
    // The test binary itself, as a Rust child of this crate's API.
    let server = Server::start(&mut child(Role::Serve)).unwrap();
    assert_eq!(
        support::greeting(server.port()),
        support::port_line(server.port())
    );
    let pid = server.id();
    drop(server);
    assert!(reaped(pid));
    let server = Server::start(&mut child(Role::ServeTwo)).unwrap();
    support::check_two_endpoints(server.addrs());
    assert_eq!(server.addr(), server.addrs()["http"]);
}

#[test]
fn named_endpoints_and_the_first_one() {
    let mut command =
        bash(r#"echo "http=127.0.0.1:8080 admin=[::1]:9090" >&"${2%%:*}"; exec sleep 30"#);
    let server = Server::start(&mut command).unwrap();
    assert_eq!(server.port(), 8080);
    assert_eq!(server.addr(), "127.0.0.1:8080".parse().unwrap());
    assert_eq!(server.addrs()["admin"], "[::1]:9090".parse().unwrap());
}

/// Reads `KEY: value` lines from a child's stdout until `key` comes.
fn marker(out: &mut impl BufRead, key: &str) -> u32 {
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            out.read_line(&mut line).unwrap() > 0,
            "no {key} before the end"
        );
        if let Some(value) = line.strip_prefix(&format!("{key}: ")) {
            return value.trim().parse().unwrap();
        }
    }
}

#[test]
fn dropping_a_server_stops_its_whole_group() {
    let mut command = bash(SERVER_WITH_GRANDCHILD);
    command.stdout(Stdio::piped());
    let server = Server::start(&mut command).unwrap();
    // The child's stdout is the test's here; read the grandchild's pid from a copy.
    let pid = server.id();
    let grandchild = grandchild_of(pid);
    drop(server);
    assert!(reaped(pid));
    assert!(
        gone_within(grandchild, Duration::from_secs(1)),
        "the grandchild {grandchild} runs on"
    );
}

/// The pid of the one child of `pid`.
fn grandchild_of(pid: u32) -> u32 {
    let started = Instant::now();
    loop {
        let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap();
        if let Some(first) = children.split_whitespace().next() {
            return first.parse().unwrap();
        }
        assert!(started.elapsed() < SAFETY);
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_server_that_ignores_sigterm_is_killed_after_the_grace() {
    let mut command = bash(r#"trap '' TERM; echo 4000 >&"${2%%:*}"; while :; do sleep 0.05; done"#);
    let server = SpawnOptions::new()
        .grace(Duration::from_millis(300))
        .start(&mut command)
        .unwrap();
    let started = Instant::now();
    let status = server.stop().unwrap();
    let took = started.elapsed();
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(2),
        "{took:?}"
    );
}

#[test]
fn a_failed_start_says_why_with_the_last_stderr_lines_and_leaves_nothing() {
    let script = r#"echo "$$" > "$PID_FILE"; for i in $(seq 1 30); do echo "line $i" >&2; done; echo "fatal: no config" >&2; exit 3"#;
    let pid_file = std::env::temp_dir().join(format!("dp-server-{}", std::process::id()));
    let mut command = bash(script);
    command.env("PID_FILE", &pid_file);
    let err = Server::start(&mut command).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ChildExited, "{err}");
    let tail = err.stderr_tail().unwrap();
    assert_eq!(tail.lines().count(), 20, "{tail}");
    assert!(tail.ends_with("line 30\nfatal: no config"), "{tail}");
    assert!(err.to_string().contains("exit code 3"), "{err}");
    assert!(err.to_string().ends_with("fatal: no config"), "{err}");
    let pid: u32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(reaped(pid), "the failed child was not reaped");
    std::fs::remove_file(pid_file).unwrap();
}

#[test]
fn a_start_that_times_out_or_gets_a_bad_report_stops_the_child() {
    let pid_file = std::env::temp_dir().join(format!("dp-server-t-{}", std::process::id()));
    for (script, kind) in [
        (
            r#"echo "$$" > "$PID_FILE"; echo "still starting" >&2; exec sleep 30"#,
            ErrorKind::TimedOut,
        ),
        (
            r#"echo "$$" > "$PID_FILE"; echo "listening on 80" >&"${2%%:*}"; exec sleep 30"#,
            ErrorKind::MalformedReport,
        ),
    ] {
        let mut command = bash(script);
        command.env("PID_FILE", &pid_file);
        let started = Instant::now();
        let err = SpawnOptions::new()
            .timeout(Duration::from_millis(500))
            .start(&mut command)
            .unwrap_err();
        assert_eq!(err.kind(), kind, "{err}");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
        let pid: u32 = std::fs::read_to_string(&pid_file)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(reaped(pid), "{kind:?}: the child was left behind");
        if kind == ErrorKind::TimedOut {
            assert_eq!(err.stderr_tail(), Some("still starting"));
        }
    }
    let _ = std::fs::remove_file(pid_file);
}

#[test]
fn a_command_that_cannot_start_is_an_error_and_no_server() {
    let err = Server::start(&mut Command::new("/nonexistent/server")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io, "{err}");
    assert_eq!(err.stderr_tail(), None);
}

/// A parent process playing `role`, with its stdout and stderr piped.
fn parent(role: Role) -> (Child, BufReader<std::process::ChildStdout>) {
    let mut command = child(role);
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut spawned = command.spawn().unwrap();
    let out = BufReader::new(spawned.stdout.take().unwrap());
    (spawned, out)
}

#[test]
fn a_server_stops_within_a_second_when_its_parent_is_killed() {
    for signal in [libc::SIGKILL, libc::SIGINT] {
        let (mut parent, mut out) = parent(Role::ServerThenWait);
        let grandchild = marker(&mut out, "GRANDCHILD");
        let server = marker(&mut out, "SERVER");
        marker(&mut out, "READY");
        // Give the relay a moment to pass on the server's first line, which
        // it read before the report but may not have written yet.
        std::thread::sleep(Duration::from_millis(300));
        // SAFETY: kill with a pid of our own child and a signal number.
        assert_eq!(unsafe { libc::kill(parent.id() as i32, signal) }, 0);
        let killed_at = Instant::now();
        parent.wait().unwrap();
        let left = all_gone_within_a_second_of(killed_at, &[server, grandchild]);
        assert_eq!(
            left, None,
            "signal {signal}: it outlived its parent by a second"
        );
        // What the server wrote to stderr reached the parent's stderr.
        let mut stderr = String::new();
        parent
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        assert!(
            stderr.contains("a line from the server's stderr"),
            "{stderr}"
        );
    }
}

#[test]
fn a_server_in_a_static_stops_within_a_second_when_its_parent_exits() {
    let (mut parent, mut out) = parent(Role::StaticServerThenExit);
    let grandchild = marker(&mut out, "GRANDCHILD");
    let server = marker(&mut out, "SERVER");
    marker(&mut out, "READY");
    assert!(parent.wait().unwrap().success());
    let exited_at = Instant::now();
    let left = all_gone_within_a_second_of(exited_at, &[server, grandchild]);
    assert_eq!(left, None, "it outlived its parent by a second");
}

#[cfg(feature = "rt-tokio")]
mod tokio_server {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn a_tokio_server_starts_stops_and_drops_without_blocking() {
        let mut command = tokio::process::Command::new("bash");
        command.args(["-c", r#"echo 4100 >&"${2%%:*}"; exec sleep 30"#, "server"]);
        let server = dynamic_port::tokio::Server::start(&mut command)
            .await
            .unwrap();
        assert_eq!(server.port(), 4100);
        let pid = server.id();
        let status = server.stop().await.unwrap();
        assert_eq!(status.signal(), Some(libc::SIGTERM));
        assert!(reaped(pid));

        let mut command = tokio::process::Command::new("bash");
        command.args(["-c", r#"echo 4101 >&"${2%%:*}"; exec sleep 30"#, "server"]);
        let server = dynamic_port::tokio::Server::start(&mut command)
            .await
            .unwrap();
        let pid = server.id();
        drop(server);
        assert!(gone_within(pid, Duration::from_secs(1)));

        let mut command = tokio::process::Command::new("bash");
        command.args(["-c", "echo 'cannot bind' >&2; exit 2", "server"]);
        let err = dynamic_port::tokio::Server::start(&mut command)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ChildExited);
        assert_eq!(err.stderr_tail(), Some("cannot bind"));
    }
}
