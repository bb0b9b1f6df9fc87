//! A child that dies, hangs or talks garbage makes the future fail, never hang.
//!
//! The original `Dynamic_port_writer` waits forever in the first case. Every
//! wait here has a generous safety timeout; a correct implementation resolves
//! with the asserted kind long before it (the benchmarks measure how long).

mod support;

use std::process::{Command, Stdio};
use std::time::Duration;

use dynamic_port::{DynamicPortWriter, ErrorKind};
use support::{assert_kind, child, spawn_and_wait, wait_with_deadline, SAFETY};

fn dies_without_reporting(role: &str) -> std::process::ExitStatus {
    let (mut child, port) = spawn_and_wait(child(role), |writer, command| {
        writer.pass_to(command);
    });
    assert_kind(port, ErrorKind::ClosedWithoutReport);
    wait_with_deadline(&mut child)
}

#[test]
fn child_that_exits_zero_without_reporting() {
    assert!(dies_without_reporting("exit").success());
}

#[test]
fn child_that_exits_nonzero_without_reporting() {
    assert_eq!(dies_without_reporting("exit-nonzero").code(), Some(3));
}

#[test]
fn child_that_panics_before_reporting() {
    assert!(!dies_without_reporting("panic").success());
}

#[test]
fn child_that_aborts_before_reporting() {
    assert_eq!(
        support::signal_of(dies_without_reporting("abort")),
        Some(libc::SIGABRT)
    );
}

#[test]
fn child_that_segfaults_before_reporting() {
    assert_eq!(
        support::signal_of(dies_without_reporting("segv")),
        Some(libc::SIGSEGV)
    );
}

#[test]
fn child_killed_with_sigkill_before_reporting() {
    let (writer, port) = DynamicPortWriter::create().unwrap();
    let mut command = child("hang");
    command.stdout(Stdio::piped());
    writer.pass_to(&mut command);
    let mut child = command.spawn().unwrap();
    drop(writer);
    // Wait until the child runs and holds the fd, then kill it.
    support::wait_for_marker(&mut child, "READY");
    child.kill().unwrap();
    assert_kind(port.timeout(SAFETY).wait(), ErrorKind::ClosedWithoutReport);
    assert_eq!(
        support::signal_of(child.wait().unwrap()),
        Some(libc::SIGKILL)
    );
}

#[test]
fn program_that_does_not_exist_fails_to_spawn_and_the_future_fails() {
    let (writer, port) = DynamicPortWriter::create().unwrap();
    let mut command = Command::new("/nonexistent/dynamic-port-child");
    writer.pass_to(&mut command);
    let err = command.spawn().unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    drop(writer);
    assert_kind(port.timeout(SAFETY).wait(), ErrorKind::ClosedWithoutReport);
}

#[test]
fn child_that_never_reports_hits_the_timeout() {
    let (writer, port) = DynamicPortWriter::create().unwrap();
    let mut command = child("hang");
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
    let (mut child, port) = spawn_and_wait(command, |writer, command| {
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
    let (mut child, port) = spawn_and_wait(command, |writer, command| {
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
    let (mut child, port) = spawn_and_wait(child("report-twice"), |writer, command| {
        writer.pass_to(command);
    });
    let port = port.unwrap();
    support::greeting(port);
    wait_with_deadline(&mut child);
}

/// Every way a child can die before reporting, as a role of the child
/// program (or `None`: a program that does not exist, or a SIGKILL).
const DEATHS: [&str; 7] = [
    "exit",
    "exit-nonzero",
    "panic",
    "abort",
    "segv",
    "sigkill",
    "exec-failure",
];

/// Spawns a child that dies in the way `death` names and awaits the port
/// under whatever executor polls this future.
async fn port_after_death(death: &str) -> Result<u16, dynamic_port::Error> {
    let (writer, port) = DynamicPortWriter::create().unwrap();
    let mut command = match death {
        "exec-failure" => Command::new("/nonexistent/dynamic-port-child"),
        "sigkill" => child("hang"),
        role => child(role),
    };
    writer.pass_to(&mut command);
    let spawned = command.spawn();
    drop(writer);
    let mut spawned = match spawned {
        Ok(spawned) => Some(spawned),
        Err(err) => {
            assert_eq!(death, "exec-failure", "{err}");
            None
        }
    };
    if death == "sigkill" {
        spawned.as_mut().unwrap().kill().unwrap();
    }
    let result = port.timeout(SAFETY).await;
    if let Some(mut spawned) = spawned {
        wait_with_deadline(&mut spawned);
    }
    result
}

#[test]
fn every_death_fails_the_future_under_futures_block_on() {
    for death in DEATHS {
        let result = futures::executor::block_on(port_after_death(death));
        assert_kind(result, ErrorKind::ClosedWithoutReport);
    }
}

#[cfg(feature = "rt-tokio")]
#[test]
fn every_death_fails_the_future_under_a_tokio_parent() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    for death in DEATHS {
        assert_kind(
            runtime.block_on(port_after_death(death)),
            ErrorKind::ClosedWithoutReport,
        );
    }
}

#[cfg(feature = "rt-smol")]
#[test]
fn every_death_fails_the_future_under_a_smol_parent() {
    for death in DEATHS {
        assert_kind(
            smol::block_on(port_after_death(death)),
            ErrorKind::ClosedWithoutReport,
        );
    }
}

#[cfg(feature = "rt-async-std")]
#[test]
fn every_death_fails_the_future_under_an_async_std_parent() {
    for death in DEATHS {
        let result = async_std::task::block_on(port_after_death(death));
        assert_kind(result, ErrorKind::ClosedWithoutReport);
    }
}
