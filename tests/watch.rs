//! `PortFuture::watch` and `ErrorKind::ChildExited`: a watched child that
//! dies without reporting fails the future at once, with its exit code or
//! signal, whoever else holds the write end; the caller's `wait()` still
//! gets the status; a report written just before the exit wins.
//!
//! Every future here has a 10-second timeout: a `TimedOut` instead of
//! `ChildExited` means the death went unseen.
// Unix only: fds, bash, python3 or /proc. Windows has tests/windows.rs.
#![cfg(unix)]

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use dynamic_port::{DynamicPortWriter, Error, ErrorKind, PortFuture, SpawnOptions};
use support::Role;
use support::{child, wait_with_deadline, SAFETY};

/// Long enough that a death that goes unseen fails the test, short enough to fail fast.
const UNSEEN: Duration = Duration::from_secs(10);

/// Asserts that `result` is `ChildExited` whose message has `says`, and
/// whose status matches what `wait()` returns afterwards.
fn assert_exited(result: Result<u16, Error>, child: &mut Child, says: &str) -> ExitStatus {
    let err = result.expect_err("the child reported nothing");
    assert_eq!(err.kind(), ErrorKind::ChildExited, "{err}");
    assert!(err.to_string().contains(says), "{err:?} should say {says}");
    assert!(err.to_string().contains(&child.id().to_string()), "{err}");
    let status = wait_with_deadline(child);
    assert_eq!(
        err.exit_status(),
        Some(status),
        "the caller's wait() still gets the status"
    );
    status
}

/// The ways a child dies before reporting, each with what the error says.
/// Each returns a command; `kill` says the test kills it once it runs.
fn deaths() -> Vec<(&'static str, Command, &'static str)> {
    let bash = support::bash;
    vec![
        ("exit code", child(Role::ExitNonzero), "exit code 3"),
        ("panic", child(Role::Panic), "exit code 101"),
        ("abort", child(Role::Abort), "SIGABRT"),
        ("segfault", child(Role::Segv), "SIGSEGV"),
        (
            "exec failure",
            bash("exec /nonexistent/dynamic-port-child"),
            "exit code 127",
        ),
        ("bash exit", bash("exit 9"), "exit code 9"),
    ]
}

/// Spawns `command` with `options`; waits for its death under `wait()`.
fn death_under_spawn(mut command: Command, options: SpawnOptions) -> (Child, Result<u16, Error>) {
    command.stderr(Stdio::null());
    let (child, port) = options.spawn(&mut command).unwrap();
    (child, port.timeout(UNSEEN).wait())
}

#[test]
fn every_death_under_spawn_is_child_exited_with_its_status() {
    for options in [SpawnOptions::new(), SpawnOptions::new().named()] {
        for (name, command, says) in deaths() {
            let (mut child, result) = death_under_spawn(command, options);
            println!("{name} ({options:?}): {result:?}");
            assert_exited(result, &mut child, says);
        }
    }
}

#[test]
fn sigkill_is_child_exited_and_names_the_signal() {
    for options in [SpawnOptions::new(), SpawnOptions::new().named()] {
        let mut command = child(Role::Hang);
        command.stdout(Stdio::piped());
        let (mut child, port) = options.spawn(&mut command).unwrap();
        support::wait_for_marker(&mut child, "READY");
        child.kill().unwrap();
        let status = assert_exited(
            port.timeout(UNSEEN).wait(),
            &mut child,
            "signal 9 (SIGKILL)",
        );
        assert_eq!(support::signal_of(status), Some(libc::SIGKILL));
    }
}

/// A bash child that leaves a background grandchild holding the write end,
/// prints the grandchild's pid, and exits with code 3.
fn child_leaving_a_grandchild() -> Command {
    let mut command = support::bash("sleep 60 >/dev/null & echo $!; exit 3");
    command.stdout(Stdio::piped());
    command
}

/// Kills the grandchild whose pid `child` printed.
fn kill_grandchild(child: &mut Child) {
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let pid: i32 = line.trim().parse().unwrap();
    // SAFETY: kill takes no pointers.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
}

#[test]
fn a_grandchild_holding_the_write_end_does_not_hide_the_death() {
    for options in [SpawnOptions::new(), SpawnOptions::new().env()] {
        let (mut child, port) = options.spawn(&mut child_leaving_a_grandchild()).unwrap();
        let started = Instant::now();
        let result = port.timeout(UNSEEN).wait();
        // At once: the blocking wait polls the exit event, not only the pipe.
        let took = started.elapsed();
        kill_grandchild(&mut child);
        assert_exited(result, &mut child, "exit code 3");
        assert!(took < Duration::from_secs(1), "seen after {took:?}");
    }
}

#[test]
fn a_blocking_wait_sleeps_rather_than_spins() {
    // The child reports after 300 ms; the waiting thread's CPU time over
    // that wait stays a small part of it (a busy loop would use all of it).
    let cpu = || {
        let mut now = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: a valid pointer to a timespec.
        let read = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
        assert_eq!(read, 0);
        Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
    };
    let mut command = support::bash(r#"sleep 0.3; echo 4242 >&"${2%%:*}""#);
    let (mut child, port) = dynamic_port::spawn(&mut command).unwrap();
    let before = cpu();
    assert_eq!(port.timeout(SAFETY).wait().unwrap(), 4242);
    let used = cpu() - before;
    wait_with_deadline(&mut child);
    assert!(used < Duration::from_millis(100), "{used:?} of CPU");
}

#[test]
fn a_report_without_its_newline_before_the_exit_is_whole_when_the_exit_is_seen() {
    // The grandchild holds the write end, so no end of stream comes: the
    // exit alone says that "4242" was all.
    let mut command =
        support::bash(r#"sleep 60 >/dev/null & echo $!; printf 4242 >&"${2%%:*}"; exit 0"#);
    command.stdout(Stdio::piped());
    let (mut child, port) = dynamic_port::spawn(&mut command).unwrap();
    let result = port.timeout(UNSEEN).wait();
    kill_grandchild(&mut child);
    assert_eq!(result.unwrap(), 4242);
    wait_with_deadline(&mut child);
    // A malformed one is malformed, not "exited".
    let mut command =
        support::bash(r#"sleep 60 >/dev/null & echo $!; printf 42x >&"${2%%:*}"; exit 0"#);
    command.stdout(Stdio::piped());
    let (mut child, port) = dynamic_port::spawn(&mut command).unwrap();
    let result = port.timeout(UNSEEN).wait();
    kill_grandchild(&mut child);
    assert_eq!(result.unwrap_err().kind(), ErrorKind::MalformedReport);
    wait_with_deadline(&mut child);
}

#[test]
fn a_writer_the_parent_never_dropped_does_not_hide_the_death() {
    let (writer, port) = DynamicPortWriter::create().unwrap();
    let mut command = child(Role::ExitNonzero);
    writer.pass_to(&mut command);
    let mut spawned = command.spawn().unwrap();
    let result = port.watch(&mut spawned).timeout(UNSEEN).wait();
    assert_exited(result, &mut spawned, "exit code 3");
    drop(writer);
}

#[test]
fn a_child_that_exited_before_watch_is_seen_at_once() {
    let (writer, port) = DynamicPortWriter::create().unwrap();
    let mut command = child(Role::ExitNonzero);
    writer.pass_to(&mut command);
    let mut spawned = command.spawn().unwrap();
    // Wait until it is a zombie, without reaping it.
    let stat = format!("/proc/{}/stat", spawned.id());
    while !std::fs::read_to_string(&stat).unwrap().contains(") Z ") {
        std::thread::sleep(Duration::from_millis(1));
    }
    let result = port.watch(&mut spawned).timeout(UNSEEN).wait();
    assert_exited(result, &mut spawned, "exit code 3");
    drop(writer);
}

#[test]
fn a_watched_child_that_closes_the_fd_and_keeps_running_is_closed_without_report() {
    let mut command = support::bash(r#"eval "exec ${2%%:*}>&-"; echo closed; sleep 60"#);
    command.stdout(Stdio::piped());
    let (mut spawned, port) = dynamic_port::spawn(&mut command).unwrap();
    let err = port.timeout(UNSEEN).wait().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ClosedWithoutReport, "{err}");
    assert!(err.to_string().contains("still running"), "{err}");
    spawned.kill().unwrap();
    wait_with_deadline(&mut spawned);
}

#[test]
fn a_timeout_while_the_parent_holds_the_writer_says_to_drop_it() {
    let (writer, port) = DynamicPortWriter::create().unwrap();
    let mut command = child(Role::ExitNonzero);
    writer.pass_to(&mut command);
    let mut spawned = command.spawn().unwrap();
    let err = port.timeout(Duration::from_millis(200)).wait().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TimedOut);
    assert!(err.to_string().contains("still holds the writer"), "{err}");
    assert!(err.to_string().contains("dynamic_port::spawn"), "{err}");
    drop(writer);
    wait_with_deadline(&mut spawned);
}

#[test]
fn a_timeout_without_a_held_writer_does_not_blame_it() {
    let mut command = child(Role::Hang);
    command.stdout(Stdio::piped());
    let (mut spawned, port) = dynamic_port::spawn(&mut command).unwrap();
    let err = port.timeout(Duration::from_millis(200)).wait().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TimedOut);
    assert!(!err.to_string().contains("holds the writer"), "{err}");
    // The timed-out future left the child running: the caller stops it.
    assert_eq!(spawned.try_wait().unwrap(), None);
    spawned.kill().unwrap();
    wait_with_deadline(&mut spawned);
    // Nor does an unwatched one whose writer this process dropped.
    let (writer, port) = DynamicPortWriter::create().unwrap();
    let mut command = child(Role::Hang);
    writer.pass_to(&mut command).stdout(Stdio::piped());
    let mut spawned = command.spawn().unwrap();
    drop(writer);
    let err = port.timeout(Duration::from_millis(200)).wait().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TimedOut);
    assert!(!err.to_string().contains("holds the writer"), "{err}");
    spawned.kill().unwrap();
    wait_with_deadline(&mut spawned);
}

/// A child that reports and exits at once: a Rust child (code 7), or a bash
/// one through the pipe's fd or the FIFO's path (code 5).
fn reporters() -> Vec<(Command, SpawnOptions, u16)> {
    let bash = support::bash;
    vec![
        (child(Role::ReportThenExit), SpawnOptions::new(), 4242),
        (
            child(Role::ReportThenExit),
            SpawnOptions::new().named(),
            4242,
        ),
        (
            bash(r#"echo 4343 >&"${2%%:*}"; exit 5"#),
            SpawnOptions::new(),
            4343,
        ),
        (
            bash(r#"echo 4444 >"${2#fifo:*:*:}"; exit 5"#),
            SpawnOptions::new().named(),
            4444,
        ),
    ]
}

/// How many times each report-then-exit race runs.
const RACES: usize = 150;

#[test]
fn a_report_written_just_before_the_exit_wins_under_wait() {
    for which in 0..reporters().len() {
        for _ in 0..RACES {
            // A fresh command each time: a `Command` keeps the writer it was given.
            let (mut command, options, expected) = reporters().swap_remove(which);
            let (mut spawned, port) = options.spawn(&mut command).unwrap();
            assert_eq!(
                port.timeout(SAFETY).wait().unwrap(),
                expected,
                "{options:?}"
            );
            wait_with_deadline(&mut spawned);
        }
    }
}

#[test]
fn a_report_written_just_before_the_exit_wins_under_an_executor() {
    futures::executor::block_on(async {
        for which in 0..reporters().len() {
            for _ in 0..RACES {
                let (mut command, options, expected) = reporters().swap_remove(which);
                let (mut spawned, port) = options.spawn(&mut command).unwrap();
                assert_eq!(port.timeout(SAFETY).await.unwrap(), expected, "{options:?}");
                wait_with_deadline(&mut spawned);
            }
        }
    });
}

/// Awaits the port of a dying child under whatever executor polls this.
async fn death_awaited(mut command: Command, options: SpawnOptions) -> (Child, Result<u16, Error>) {
    command.stderr(Stdio::null());
    let (child, port) = options.spawn(&mut command).unwrap();
    (child, port.timeout(UNSEEN).await)
}

#[test]
fn every_death_is_child_exited_under_futures_block_on() {
    for (_, command, says) in deaths() {
        let (mut child, result) =
            futures::executor::block_on(death_awaited(command, SpawnOptions::new().named()));
        assert_exited(result, &mut child, says);
    }
    let (mut child, result) = futures::executor::block_on(death_awaited(
        child_leaving_a_grandchild(),
        SpawnOptions::new(),
    ));
    kill_grandchild(&mut child);
    assert_exited(result, &mut child, "exit code 3");
}

#[cfg(feature = "rt-tokio")]
#[tokio::test]
async fn every_death_is_child_exited_under_tokio() {
    for (_, command, says) in deaths() {
        for options in [SpawnOptions::new(), SpawnOptions::new().named()] {
            let mut command = tokio::process::Command::from(command_clone(&command));
            command.stdout(Stdio::null()).stderr(Stdio::null());
            let (mut spawned, port) =
                dynamic_port::tokio::spawn_with(&mut command, options).unwrap();
            let err = port.timeout(UNSEEN).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::ChildExited, "{err}");
            assert!(err.to_string().contains(says), "{err}");
            assert_eq!(Some(spawned.wait().await.unwrap()), err.exit_status());
        }
    }
}

#[cfg(feature = "rt-smol")]
#[test]
fn every_death_is_child_exited_under_smol() {
    smol::block_on(async {
        for (_, command, says) in deaths() {
            let (mut child, result) = death_awaited(command, SpawnOptions::new()).await;
            assert_exited(result, &mut child, says);
        }
    });
}

/// A copy of `command`'s program and arguments.
#[cfg(feature = "rt-tokio")]
fn command_clone(command: &Command) -> Command {
    let mut copy = Command::new(command.get_program());
    copy.args(command.get_args());
    for (key, value) in command.get_envs() {
        if let Some(value) = value {
            copy.env(key, value);
        }
    }
    copy
}

// ---- where there is no pidfd ----

/// Spawns `command` given a writer as `options` say, watched (by polling,
/// in a build with `--cfg dynamic_port_posix`).
fn spawn_polled(mut command: Command, named: bool) -> (Child, PortFuture) {
    let (writer, port) = if named {
        DynamicPortWriter::create_named().unwrap()
    } else {
        DynamicPortWriter::create().unwrap()
    };
    writer.pass_to(&mut command);
    command.stderr(Stdio::null());
    let mut spawned = command.spawn().unwrap();
    drop(writer);
    let port = port.watch(&mut spawned);
    (spawned, port)
}

#[test]
#[cfg_attr(
    not(dynamic_port_posix),
    ignore = "run with RUSTFLAGS='--cfg dynamic_port_posix', as ci/check.sh does"
)]
fn without_a_pidfd_polling_still_sees_every_death_and_every_report() {
    for named in [false, true] {
        for (_, command, says) in deaths() {
            let (mut child, port) = spawn_polled(command, named);
            assert_exited(port.timeout(UNSEEN).wait(), &mut child, says);
        }
        let (mut child, port) = spawn_polled(child_leaving_a_grandchild(), named);
        let result = futures::executor::block_on(port.timeout(UNSEEN));
        kill_grandchild(&mut child);
        assert_exited(result, &mut child, "exit code 3");
        for _ in 0..20 {
            let (mut child, port) = spawn_polled(support::child(Role::ReportThenExit), named);
            assert_eq!(port.timeout(SAFETY).wait().unwrap(), 4242);
            wait_with_deadline(&mut child);
        }
    }
}
