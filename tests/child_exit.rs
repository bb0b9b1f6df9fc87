//! A child that dies, hangs or talks garbage makes the future fail, never hang.
//!
//! The original `Dynamic_port_writer` waits forever in the first case. Every
//! wait here has a generous safety timeout; a correct implementation resolves
//! with the asserted kind long before it (the benchmarks measure how long).
// Unix only: fds, bash, python3 or /proc. Windows has tests/windows.rs.
#![cfg(unix)]

mod support;

use std::process::{Command, Stdio};
use std::time::Duration;

use dynamic_port::{DynamicPortWriter, Error, ErrorKind, PortFuture};
use support::Role;
use support::{assert_kind, child, spawn_and_wait_for_port, wait_with_deadline, SAFETY};

#[test]
fn child_that_never_reports_hits_the_timeout() {
    let (writer, port) = DynamicPortWriter::create().unwrap();
    let mut command = child(Role::Hang);
    writer.pass_to(&mut command);
    let mut child = command.spawn().unwrap();
    drop(writer);
    assert_kind(
        port.timeout(Duration::from_millis(200)).wait(),
        ErrorKind::TimedOut,
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Runs a bash child that writes `report` (a printf format) to the fd.
fn bash_reports(report: &str) -> Result<u16, dynamic_port::Error> {
    let script = format!(r#"printf -- '{report}' >&"${{DYNAMIC_PORT_WRITER%%:*}}""#);
    let mut command = Command::new("bash");
    command.args(["-c", &script]).stderr(Stdio::null());
    let (mut child, port) = spawn_and_wait_for_port(command, |writer, command| {
        writer.pass_to_env(command);
    });
    wait_with_deadline(&mut child);
    port
}

#[test]
fn garbage_reports_are_malformed_report_errors() {
    for report in [
        "garbage\\n",
        "0\\n",
        "70000\\n",
        "65536\\n",
        "-5\\n",
        "+80\\n",
        "\\n",
        " 80\\n",
        "80\\r\\n",
        "8 0\\n",
        "\\377\\376\\n",
        "80          x",
    ] {
        assert_kind(bash_reports(report), ErrorKind::MalformedReport);
    }
}

#[test]
fn oversize_reports_are_errors_without_reading_them_whole() {
    // 100 kB of digits: the child blocks on the full pipe until the parent
    // gives up after a few bytes and closes it (the child then dies of SIGPIPE).
    let script = r#"head -c 100000 /dev/zero | tr '\0' 7 >&"${DYNAMIC_PORT_WRITER%%:*}""#;
    let mut command = Command::new("bash");
    command.args(["-c", script]).stderr(Stdio::null());
    let (mut child, port) = spawn_and_wait_for_port(command, |writer, command| {
        writer.pass_to_env(command);
    });
    assert_kind(port, ErrorKind::MalformedReport);
    wait_with_deadline(&mut child);

    // 100 spaces after a port and no newline: over the 64-byte bound.
    assert_kind(
        bash_reports(&format!("80{}", " ".repeat(100))),
        ErrorKind::MalformedReport,
    );
}

#[test]
fn a_child_that_reports_then_exits_still_gives_the_port() {
    let (mut child, port) = spawn_and_wait_for_port(child(Role::ReportTwice), |writer, command| {
        writer.pass_to(command);
    });
    let port = port.unwrap();
    support::greeting(port);
    wait_with_deadline(&mut child);
}

/// How a child that died is seen by its parent's `wait()`.
#[derive(Clone, Copy, Debug)]
enum Status {
    /// It exited with this code.
    Code(i32),
    /// This signal killed it.
    Signal(i32),
    /// It never started: the program does not exist.
    NotStarted,
}

/// A way for a child to die before reporting.
#[derive(Clone, Copy, Debug)]
enum Death {
    /// The child program plays this role, in which it dies.
    Role(Role),
    /// A [`Role::Hang`] child that the parent kills with SIGKILL.
    Sigkill,
    /// A program that does not exist: the spawn fails.
    ExecFailure,
}

/// Every way a child can die before reporting, and the status it leaves.
const DEATHS: [(Death, Status); 7] = [
    (Death::Role(Role::Exit), Status::Code(0)),
    (Death::Role(Role::ExitNonzero), Status::Code(3)),
    (Death::Role(Role::Panic), Status::Code(101)),
    (Death::Role(Role::Abort), Status::Signal(libc::SIGABRT)),
    (Death::Role(Role::Segv), Status::Signal(libc::SIGSEGV)),
    (Death::Sigkill, Status::Signal(libc::SIGKILL)),
    (Death::ExecFailure, Status::NotStarted),
];

/// Spawns a child that dies in the way `death` says (the five steps,
/// without `watch`), resolves the future with `resolve`, and checks the
/// error and the status the child left.
fn check_death(
    death: Death,
    expected: Status,
    resolve: impl FnOnce(PortFuture) -> Result<u16, Error>,
) {
    let (writer, port) = DynamicPortWriter::create().unwrap();
    let mut command = match death {
        Death::Role(role) => child(role),
        Death::Sigkill => child(Role::Hang),
        Death::ExecFailure => Command::new("/nonexistent/dynamic-port-child"),
    };
    writer.pass_to(&mut command);
    let spawned = command.spawn();
    drop(writer);
    let mut spawned = match spawned {
        Ok(spawned) => Some(spawned),
        Err(err) => {
            assert_eq!(err.kind(), std::io::ErrorKind::NotFound, "{death:?}: {err}");
            None
        }
    };
    if let Death::Sigkill = death {
        spawned.as_mut().unwrap().kill().unwrap();
    }
    assert_kind(resolve(port), ErrorKind::ClosedWithoutReport);
    let status = spawned.as_mut().map(wait_with_deadline);
    match (expected, status) {
        (Status::Code(code), Some(status)) => assert_eq!(status.code(), Some(code), "{death:?}"),
        (Status::Signal(signal), Some(status)) => {
            assert_eq!(support::signal_of(status), Some(signal), "{death:?}")
        }
        (Status::NotStarted, None) => {}
        (expected, status) => panic!("{death:?}: expected {expected:?}, got {status:?}"),
    }
}

#[test]
fn every_death_fails_the_future_under_wait() {
    for (death, status) in DEATHS {
        check_death(death, status, |port| port.timeout(SAFETY).wait());
    }
}

#[test]
fn every_death_fails_the_future_under_futures_block_on() {
    for (death, status) in DEATHS {
        check_death(death, status, |port| {
            futures::executor::block_on(port.timeout(SAFETY))
        });
    }
}

#[cfg(feature = "rt-tokio")]
#[test]
fn every_death_fails_the_future_under_a_tokio_parent() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    for (death, status) in DEATHS {
        check_death(death, status, |port| runtime.block_on(port.timeout(SAFETY)));
    }
}

#[cfg(feature = "rt-smol")]
#[test]
fn every_death_fails_the_future_under_a_smol_parent() {
    for (death, status) in DEATHS {
        check_death(death, status, |port| smol::block_on(port.timeout(SAFETY)));
    }
}

#[cfg(feature = "rt-async-std")]
#[test]
fn every_death_fails_the_future_under_an_async_std_parent() {
    for (death, status) in DEATHS {
        check_death(death, status, |port| {
            async_std::task::block_on(port.timeout(SAFETY))
        });
    }
}
