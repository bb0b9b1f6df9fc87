//! A parent that stops listening: the child's report is an error, not a hang
//! and not a death by SIGPIPE, and the child keeps running.
// Unix only: fds, bash, python3 or /proc. Windows has tests/windows.rs.
#![cfg(unix)]

mod support;

use std::io::Write;
use std::process::{Command, Stdio};

use dynamic_port::DynamicPortWriter;
use support::Role;
use support::{child, marker, stdout_of, wait_for_marker, wait_with_deadline};

/// Held by every test here that drops a future while a child may report:
/// a child that another test is forking at that moment holds a copy of every
/// fd of this process until it execs, the read end too, and a report in
/// that instant would succeed.
static NO_FORK_MEANWHILE: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Takes [`NO_FORK_MEANWHILE`].
fn alone() -> std::sync::MutexGuard<'static, ()> {
    NO_FORK_MEANWHILE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Spawns a child that reports when told; drops the future, then tells it.
fn report_after_the_future_is_dropped(role: Role) -> String {
    let _alone = alone();
    let (writer, port) = DynamicPortWriter::create().unwrap();
    let mut command = child(role);
    command.stdin(Stdio::piped()).stdout(Stdio::piped());
    writer.pass_to(&mut command);
    let mut child = command.spawn().unwrap();
    drop(writer);
    wait_for_marker(&mut child, "READY");
    drop(port);
    child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    stdout_of(&mut child)
}

#[test]
fn dropped_future_makes_the_childs_report_return_abandoned() {
    let out = report_after_the_future_is_dropped(Role::ReportWhenTold);
    assert_eq!(marker(&out, "REPORT"), Some("Abandoned"), "{out}");
    // Nobody will ever read it: the child holds no copy any more.
    assert_eq!(marker(&out, "FD_OPEN"), Some("no"), "{out}");
    assert_eq!(marker(&out, "ALIVE"), Some("after the report"), "{out}");
}

#[test]
fn dropped_future_is_an_error_even_where_sigpipe_would_kill() {
    // The child restores SIGPIPE's default action (death), as a C program
    // has; the report must still return an error instead of killing it.
    let out = report_after_the_future_is_dropped(Role::ReportWhenToldDefaultSigpipe);
    assert_eq!(marker(&out, "REPORT"), Some("Abandoned"), "{out}");
    assert_eq!(marker(&out, "ALIVE"), Some("after the report"), "{out}");
}

#[test]
fn dropped_future_in_the_creating_process_is_an_error() {
    let _alone = alone();
    let (writer, port) = DynamicPortWriter::create().unwrap();
    drop(port);
    let err = writer.where_to_listen().unwrap_err();
    assert_eq!(err.kind(), dynamic_port::ErrorKind::Abandoned);
}

/// What a bash child sees when nobody reads any more: `echo >&$FD` raises
/// SIGPIPE, which kills bash unless the script ignores it.
fn bash_reports_to_nobody(script: &str) -> (std::process::ExitStatus, String) {
    let _alone = alone();
    let (writer, port) = DynamicPortWriter::create().unwrap();
    let mut command = Command::new("bash");
    command
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
    writer.pass_to_env(&mut command);
    let mut child = command.spawn().unwrap();
    drop(writer);
    drop(port);
    child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    let mut out = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut out).unwrap();
    (wait_with_deadline(&mut child), out)
}

#[test]
fn bash_child_dies_of_sigpipe_when_nobody_reads() {
    let (status, out) = bash_reports_to_nobody(
        r#"read go; echo 8080 >&"${DYNAMIC_PORT_WRITER%%:*}"; echo "still here""#,
    );
    assert_eq!(support::signal_of(status), Some(libc::SIGPIPE));
    assert_eq!(out, "");
}

#[test]
fn bash_child_that_ignores_sigpipe_sees_a_failed_echo_and_goes_on() {
    let (status, out) = bash_reports_to_nobody(
        r#"trap '' PIPE; read go; echo 8080 >&"${DYNAMIC_PORT_WRITER%%:*}" 2>/dev/null; echo "status $?""#,
    );
    assert!(status.success());
    assert_eq!(out, "status 1\n");
}

/// Spawns a parent playing `role`, which spawns a child; kills the parent
/// once the child runs; returns what the child printed afterwards.
fn report_after_the_parent_is_killed(role: Role) -> String {
    let _alone = alone();
    let mut parent = child(role);
    parent.stdout(Stdio::piped());
    let mut parent = parent.spawn().unwrap();
    wait_for_marker(&mut parent, "CHILD");
    parent.kill().unwrap();
    parent.wait().unwrap();
    // The orphaned child shares the stdout pipe; read it to its end.
    stdout_of(&mut parent)
}

#[test]
fn a_killed_parent_makes_the_childs_report_return_abandoned() {
    let out = report_after_the_parent_is_killed(Role::ParentThenKilled);
    assert_eq!(marker(&out, "REPORT"), Some("Abandoned"), "{out}");
    assert_eq!(marker(&out, "ALIVE"), Some("after the report"), "{out}");
}

#[test]
fn a_killed_parent_makes_a_bash_childs_echo_fail_and_the_child_goes_on() {
    // With `trap '' PIPE`; without it bash would die of SIGPIPE, as
    // `bash_child_dies_of_sigpipe_when_nobody_reads` shows.
    let out = report_after_the_parent_is_killed(Role::ParentThenKilledBash);
    assert_eq!(marker(&out, "REPORT"), Some("echo status 1"), "{out}");
    assert_eq!(marker(&out, "ALIVE"), Some("after the report"), "{out}");
}
