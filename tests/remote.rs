//! Remote writers (`create_remote`): the child connects back over TCP with
//! the token. First on this host, then between two real hosts: the root
//! network namespace and `dp-remote`, which `ci/netns.sh` makes (a veth
//! pair, 10.231.77.1 and 10.231.77.2, and an sshd there).
//!
//! Every test here runs alone (a lock), because some count this process's fds.
// Unix only: fds, bash, python3 or /proc. Windows has tests/windows.rs.
#![cfg(unix)]

mod support;

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use dynamic_port::{DynamicPortWriter, ErrorKind, PortFuture};
use support::Role;
use support::{
    child, greeting_at, marker, open_fd_count, port_line, token_and_addr, wait_with_deadline,
    SAFETY,
};

/// Serializes the tests of this file.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Takes [`ONE_AT_A_TIME`].
fn alone() -> MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

/// A remote writer listening on `ip`, port 0.
fn remote_on(ip: &str) -> (DynamicPortWriter, PortFuture) {
    DynamicPortWriter::create_remote(SocketAddr::new(ip.parse().unwrap(), 0)).unwrap()
}

/// Now, in nanoseconds since the epoch (the clock the children use).
fn now_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// Checks a `serve-any` child's report: `addr` is the child's, it greets,
/// and the report resolved within a second of being sent. Returns its status.
fn check_served(mut spawned: Child, addr: SocketAddr, resolved_at: u128, host: &str) {
    assert_eq!(addr.ip().to_string(), host, "{addr}");
    assert_eq!(greeting_at(addr), port_line(addr.port()));
    let out = support::stdout_of(&mut spawned);
    let sent: u128 = marker(&out, "REPORTED_AT").unwrap().parse().unwrap();
    let delay = Duration::from_nanos(resolved_at.saturating_sub(sent) as u64);
    assert!(
        delay < Duration::from_secs(1),
        "resolved {delay:?} after the report was sent"
    );
}

// ---- on this host ----

#[test]
fn a_local_child_reports_by_env_and_by_flag() {
    let _alone = alone();
    for by_env in [true, false] {
        let (writer, port) = remote_on("127.0.0.1");
        let mut command = child(Role::ServeAny);
        if by_env {
            writer.pass_to_env(&mut command);
        } else {
            writer.pass_to(&mut command);
        }
        launched_child_serves(command, writer, port, "127.0.0.1");
    }
}

/// A `role` child on this host, given a remote writer by env var, watched.
fn local_remote_child(role: Role) -> (Child, PortFuture) {
    let (writer, port) = remote_on("127.0.0.1");
    let mut command = child(role);
    writer.pass_to_env(&mut command);
    let mut spawned = command.spawn().unwrap();
    let port = port.watch(&mut spawned);
    (spawned, port)
}

#[test]
fn every_child_api_reports_over_tcp() {
    let _alone = alone();
    for role in [
        Role::Serve,
        Role::ServeTokioMt,
        Role::ServeSmol,
        Role::ServeAsyncStd,
    ] {
        let (mut spawned, port) = local_remote_child(role);
        let addr = port.addr().timeout(SAFETY).wait().unwrap();
        assert_eq!(greeting_at(addr), port_line(addr.port()), "{role}");
        assert!(wait_with_deadline(&mut spawned).success());
    }
    let (mut spawned, port) = local_remote_child(Role::ServeTwo);
    let endpoints = port.addrs().timeout(SAFETY).wait().unwrap();
    support::check_two_endpoints(&endpoints);
    assert!(wait_with_deadline(&mut spawned).success());
}

/// Intruders, from the network `via` runs them in: a bare report without
/// the token, the right report with a wrong token, 100 kB of random bytes, a
/// silent connection, and 200 connections at once. They hold their
/// connections open until killed. Returns once all have connected and sent.
fn intruders(via: &[&str], target: SocketAddr) -> Child {
    let script = r#"
import os, socket, sys
host, port = sys.argv[1], int(sys.argv[2])
held = []
def connect(data=b""):
    s = socket.create_connection((host, port)); s.sendall(data); held.append(s)
connect(b"8080\n")
connect(b"0" * 32 + b" 8080\n")
connect(b"f" * 32 + b" 8080\n")
try:
    connect(os.urandom(100_000))
except OSError:
    pass  # the parent may close it before all is sent
connect()
for _ in range(200):
    connect()
print("READY: all connected", flush=True)
sys.stdin.read()
"#;
    let mut command = match via {
        [] => Command::new("python3"),
        [program, args @ ..] => {
            let mut command = Command::new(program);
            command.args(args).arg("python3");
            command
        }
    };
    command
        .args([
            "-c",
            script,
            &target.ip().to_string(),
            &target.port().to_string(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
    let mut spawned = command.spawn().unwrap();
    support::wait_for_marker(&mut spawned, "READY");
    spawned
}

/// Intruders first, then the real child started through `launcher`, while
/// the parent waits: the real report resolves within a second of being
/// sent, and every fd the parent opened is closed again.
fn intruders_change_nothing(
    ip: &str,
    via: &[&str],
    launcher: impl FnOnce(&DynamicPortWriter) -> Command,
    child_host: &str,
) {
    let before = open_fd_count();
    let (writer, port) = remote_on(ip);
    let target = writer.remote_addr().unwrap();
    let waiting = std::thread::spawn(move || {
        let addr = port.timeout(SAFETY).addr().wait();
        (addr, now_nanos())
    });
    let mut crowd = intruders(via, target);
    let mut command = launcher(&writer);
    drop(writer);
    command.stdout(Stdio::piped());
    let spawned = command.spawn().unwrap();
    let (addr, resolved_at) = waiting.join().unwrap();
    let addr = addr.unwrap();
    crowd.kill().unwrap();
    crowd.wait().unwrap();
    drop(crowd);
    check_served(spawned, addr, resolved_at, child_host);
    assert_eq!(
        open_fd_count(),
        before,
        "the listener and every connection are closed"
    );
}

#[test]
fn local_intruders_change_nothing() {
    let _alone = alone();
    intruders_change_nothing(
        "127.0.0.1",
        &[],
        |writer| {
            let mut command = child(Role::ServeAny);
            writer.pass_to_env(&mut command);
            command
        },
        "127.0.0.1",
    );
}

#[test]
fn a_dying_child_is_child_exited_and_the_timeout_applies() {
    let _alone = alone();
    let (mut spawned, port) = local_remote_child(Role::ExitNonzero);
    let err = port.timeout(SAFETY).wait().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ChildExited, "{err}");
    assert_eq!(err.exit_status(), Some(wait_with_deadline(&mut spawned)));
    let (_writer, port) = remote_on("127.0.0.1");
    let err = port.timeout(Duration::from_millis(100)).wait().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TimedOut);
}

#[test]
fn dropping_the_future_closes_the_listener_and_leaks_nothing() {
    let _alone = alone();
    let (writer, port) = remote_on("127.0.0.1");
    let addr = writer.remote_addr().unwrap();
    TcpStream::connect(addr).unwrap();
    drop(port);
    assert_eq!(
        TcpStream::connect(addr).unwrap_err().kind(),
        std::io::ErrorKind::ConnectionRefused
    );
    let err = writer.report(8080).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Abandoned, "{err}");
    // 100 cycles: resolved, dropped pending (registered), timed out.
    let cycle = || {
        let (writer, port) = remote_on("127.0.0.1");
        writer.clone().report(1234).unwrap();
        assert_eq!(port.wait().unwrap(), 1234);
        let (writer, mut port) = remote_on("127.0.0.1");
        let _intruder = TcpStream::connect(writer.remote_addr().unwrap()).unwrap();
        assert!(futures::FutureExt::now_or_never(&mut port).is_none());
        drop(port);
        let (_writer, port) = remote_on("127.0.0.1");
        assert_eq!(
            port.timeout(Duration::ZERO).wait().unwrap_err().kind(),
            ErrorKind::TimedOut
        );
    };
    cycle();
    let before = open_fd_count();
    for _ in 0..100 {
        cycle();
    }
    assert_eq!(open_fd_count(), before);
}

#[test]
fn the_token_authenticates_and_reports_once() {
    let _alone = alone();
    let (writer, port) = remote_on("127.0.0.1");
    let text = writer.to_string();
    let (token, addr) = token_and_addr(&writer);
    assert_eq!(token.len(), 32, "{text}");
    assert_eq!(addr, writer.remote_addr().unwrap(), "{text}");
    assert!(
        !format!("{writer:?}").contains(&token),
        "Debug hides the token"
    );
    let copy: DynamicPortWriter = text.parse().unwrap();
    assert_eq!(copy, writer);
    writer.clone().report(1111).unwrap();
    assert_eq!(
        copy.report(2222).unwrap_err().kind(),
        ErrorKind::AlreadyReported
    );
    assert_eq!(port.wait().unwrap(), 1111);
    // Two writers never share a token.
    let (a, _pa) = remote_on("127.0.0.1");
    let (b, _pb) = remote_on("127.0.0.1");
    assert_ne!(token_and_addr(&a).0, token_and_addr(&b).0);
}

#[test]
fn an_authenticated_malformed_report_is_malformed() {
    let _alone = alone();
    let (writer, port) = remote_on("127.0.0.1");
    let (token, _) = token_and_addr(&writer);
    let mut stream = TcpStream::connect(writer.remote_addr().unwrap()).unwrap();
    writeln!(stream, "{token} 70000").unwrap();
    let err = port.timeout(SAFETY).wait().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::MalformedReport, "{err}");
}

#[test]
fn pass_to_env_keeps_the_token_off_the_command_line() {
    let _alone = alone();
    let (writer, port) = remote_on("127.0.0.1");
    let mut command = child(Role::Hang);
    command.stdout(Stdio::piped());
    writer.pass_to_env(&mut command);
    let mut spawned = command.spawn().unwrap();
    support::wait_for_marker(&mut spawned, "READY");
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", spawned.id())).unwrap();
    let (token, _) = token_and_addr(&writer);
    assert!(!String::from_utf8_lossy(&cmdline).contains(&token));
    spawned.kill().unwrap();
    wait_with_deadline(&mut spawned);
    drop(port);
}

// ---- on another host ----

/// The namespace and the addresses `ci/netns.sh` makes.
const NETNS: &str = "dp-remote";
const PARENT_IP: &str = "10.231.77.1";
const CHILD_IP: &str = "10.231.77.2";

/// The two test hosts, made on creation and removed on drop (even when a
/// test fails).
struct TestHosts;

impl TestHosts {
    /// Makes the hosts; `None` (the test is skipped) where that is not
    /// possible, unless `DP_REQUIRE_NETNS` is set, as CI sets it.
    fn up() -> Option<TestHosts> {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/ci/netns.sh");
        let status = Command::new("bash").args([script, "up"]).status();
        if status.is_ok_and(|s| s.success()) {
            return Some(TestHosts);
        }
        if std::env::var_os("DP_REQUIRE_NETNS").is_some() {
            panic!("ci/netns.sh up failed, and DP_REQUIRE_NETNS is set");
        }
        eprintln!("skipped: the test hosts need root and iproute2 (ci/netns.sh up failed)");
        None
    }

    /// The command that runs `program` on the child's host.
    fn on_child_host(program: &str) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", NETNS, program]);
        command
    }

    /// The command that runs `remote_command` on the child's host through ssh.
    fn ssh(remote_command: &str) -> Command {
        let mut command = Command::new("ssh");
        command.args([
            "-q",
            "-i",
            "/tmp/dynamic-port-netns/client_key",
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            &format!("root@{CHILD_IP}"),
            remote_command,
        ]);
        command.stdin(Stdio::null());
        command
    }
}

impl Drop for TestHosts {
    fn drop(&mut self) {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/ci/netns.sh");
        let _ = Command::new("bash").args([script, "down"]).status();
    }
}

/// The test binary run as a `role` child on the child's host, through
/// `ip netns exec`, with the writer in its environment.
fn netns_child(role: Role, writer: &DynamicPortWriter) -> Command {
    let local = child(role);
    let mut command = TestHosts::on_child_host(local.get_program().to_str().unwrap());
    command
        .args(local.get_args())
        .env(support::ROLE_VAR, role.name())
        .stdin(Stdio::null());
    writer.pass_to_env(&mut command);
    command
}

/// The test binary run as a `role` child on the child's host through ssh;
/// the writer travels in the remote command.
fn ssh_child(role: Role, writer: &DynamicPortWriter) -> Command {
    let local = child(role);
    let args: Vec<String> = local
        .get_args()
        .map(|a| format!("'{}'", a.to_str().unwrap()))
        .collect();
    let remote_command = format!(
        "{}={} {}='{}' {} {}",
        support::ROLE_VAR,
        role,
        DynamicPortWriter::ENV_VAR,
        writer,
        local.get_program().to_str().unwrap(),
        args.join(" ")
    );
    TestHosts::ssh(&remote_command)
}

/// Launches a `serve-any` child with `command` (directly, or through a
/// launcher), watches what it started, and checks the child's address
/// (on `host`) and greeting.
fn launched_child_serves(
    mut command: Command,
    writer: DynamicPortWriter,
    port: PortFuture,
    host: &str,
) {
    command.stdout(Stdio::piped());
    let mut spawned = command.spawn().unwrap();
    drop(writer);
    let addr = port
        .watch(&mut spawned)
        .addr()
        .timeout(SAFETY)
        .wait()
        .unwrap();
    check_served(spawned, addr, now_nanos(), host);
}

#[test]
fn children_on_another_host() {
    let _alone = alone();
    let Some(_hosts) = TestHosts::up() else {
        return;
    };

    // Through `ip netns exec`, by env var and by flag: the parent learns the
    // child's address as it saw the connection, and talks to it.
    for by_env in [true, false] {
        let (writer, port) = remote_on(PARENT_IP);
        let command = if by_env {
            netns_child(Role::ServeAny, &writer)
        } else {
            let local = child(Role::ServeAny);
            let mut command = TestHosts::on_child_host(local.get_program().to_str().unwrap());
            command
                .args(local.get_args())
                .env(support::ROLE_VAR, Role::ServeAny.name());
            writer.pass_to(&mut command);
            command
        };
        launched_child_serves(command, writer, port, CHILD_IP);
    }

    // Through a real launcher: ssh to the sshd on the child's host.
    let (writer, port) = remote_on(PARENT_IP);
    let command = ssh_child(Role::ServeAny, &writer);
    launched_child_serves(command, writer, port, CHILD_IP);

    // Intruders from the child's network, before and during the real report.
    intruders_change_nothing(
        PARENT_IP,
        &["ip", "netns", "exec", NETNS],
        |writer| netns_child(Role::ServeAny, writer),
        CHILD_IP,
    );

    // A remote child that dies: the launcher (ip netns exec, ssh) is watched.
    for through_ssh in [false, true] {
        let (writer, port) = remote_on(PARENT_IP);
        let mut command = if through_ssh {
            ssh_child(Role::ExitNonzero, &writer)
        } else {
            netns_child(Role::ExitNonzero, &writer)
        };
        let mut spawned = command.stdout(Stdio::null()).spawn().unwrap();
        let started = Instant::now();
        let err = port.watch(&mut spawned).timeout(SAFETY).wait().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ChildExited, "{err}");
        assert!(err.to_string().contains("exit code 3"), "{err}");
        assert!(started.elapsed() < SAFETY);
        wait_with_deadline(&mut spawned);
    }
}

#[test]
fn half_a_token_then_silence_does_not_hold_up_the_real_report() {
    let _alone = alone();
    let (writer, port) = remote_on("127.0.0.1");
    let (token, target) = token_and_addr(&writer);
    let waiting = std::thread::spawn(move || {
        let endpoints = port.timeout(SAFETY).addrs().wait();
        (endpoints, Instant::now())
    });
    // Someone who knows half the token, and then says nothing.
    let mut stalled = TcpStream::connect(target).unwrap();
    stalled.write_all(&token.as_bytes()[..16]).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    let sent = Instant::now();
    writer
        .report_addrs(&[("http", "127.0.0.1:8080".parse().unwrap())])
        .unwrap();
    let (endpoints, resolved) = waiting.join().unwrap();
    assert_eq!(
        endpoints.unwrap()["http"],
        "127.0.0.1:8080".parse().unwrap()
    );
    assert!(
        resolved - sent < Duration::from_secs(1),
        "{:?}",
        resolved - sent
    );
    drop(stalled);
}

#[test]
fn a_parent_out_of_fds_waits_without_spinning() {
    use std::io::BufRead;
    let _alone = alone();
    let mut command = child(Role::RemoteOutOfFds);
    command.stdin(Stdio::piped()).stdout(Stdio::piped());
    let mut spawned = command.spawn().unwrap();
    let mut stdin = spawned.stdin.take().unwrap();
    let mut lines = std::io::BufReader::new(spawned.stdout.take().unwrap()).lines();
    // The next `KEY: value` line with this key (the test harness prints others).
    let mut next = |key: &str| -> String {
        loop {
            let line = lines.next().expect("a line").unwrap();
            if let Some(value) = line.strip_prefix(&format!("{key}: ")) {
                return value.to_owned();
            }
        }
    };
    // Under wait(), then awaited under an executor (the reactor's path): the
    // child cannot accept the connections made here, and its listener stays readable.
    for (addr_key, cpu_key, result_key) in [
        ("ADDR", "CPU_MS", "RESULT"),
        ("ADDR2", "CPU_MS_AWAITED", "RESULT_AWAITED"),
    ] {
        let addr: SocketAddr = next(addr_key).parse().unwrap();
        let _waiting: Vec<TcpStream> = (0..3).map(|_| TcpStream::connect(addr).unwrap()).collect();
        stdin.write_all(b"go\n").unwrap();
        let cpu: u64 = next(cpu_key).parse().unwrap();
        assert_eq!(next(result_key), "TimedOut");
        // A spinning wait would use about 1000 ms of CPU in its second.
        assert!(cpu < 300, "{cpu_key}: the wait used {cpu} ms of CPU in 1 s");
    }
    wait_with_deadline(&mut spawned);
}
