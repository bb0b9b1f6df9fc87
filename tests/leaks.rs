//! No fd is left behind in the parent, whatever the outcome.
//!
//! These tests count the entries of `/proc/self/fd`, so they run one at a
//! time (a lock) and in their own test binary (no other test opens fds meanwhile).
// Unix only: fds, bash, python3 or /proc. Windows has tests/windows.rs.
#![cfg(unix)]

mod support;

use std::sync::Mutex;

use dynamic_port::{DynamicPortWriter, ErrorKind};
use support::Role;
use support::{child, greeting, open_fd_count, spawn_and_wait_for_port, wait_with_deadline};

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Runs `cycle` once to warm up (the reactor opens its own fds once), then
/// `times` times, and asserts that the fd count did not change.
fn assert_no_fd_leak(times: usize, mut cycle: impl FnMut()) {
    let _guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    cycle();
    let before = open_fd_count();
    for _ in 0..times {
        cycle();
    }
    assert_eq!(open_fd_count(), before, "fds leaked over {times} cycles");
}

#[test]
fn create_spawn_resolve_a_hundred_times_leaks_no_fd() {
    assert_no_fd_leak(100, || {
        let (mut child, port) = spawn_and_wait_for_port(child(Role::Serve), |writer, command| {
            writer.pass_to(command);
        });
        greeting(port.unwrap());
        wait_with_deadline(&mut child);
    });
}

#[test]
fn create_spawn_and_child_death_a_hundred_times_leaks_no_fd() {
    assert_no_fd_leak(100, || {
        let (mut child, port) = spawn_and_wait_for_port(child(Role::Exit), |writer, command| {
            writer.pass_to(command);
        });
        assert_eq!(port.unwrap_err().kind(), ErrorKind::ClosedWithoutReport);
        wait_with_deadline(&mut child);
    });
}

#[test]
fn create_and_drop_a_hundred_times_leaks_no_fd() {
    assert_no_fd_leak(100, || {
        let (writer, port) = DynamicPortWriter::create().unwrap();
        let copy = writer.clone();
        let parsed: DynamicPortWriter = writer.to_string().parse().unwrap();
        drop((writer, port, copy, parsed));
    });
}

#[test]
fn a_resolved_future_has_closed_its_read_end_already() {
    let _guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let (writer, port) = DynamicPortWriter::create().unwrap();
    drop((writer, port)); // warm up
    let before = open_fd_count();
    let (writer, mut port) = DynamicPortWriter::create().unwrap();
    assert_eq!(
        open_fd_count(),
        before + 2,
        "a pending writer holds two fds"
    );
    writer.report(7777).unwrap();
    let resolved = futures::executor::block_on(&mut port);
    assert_eq!(resolved.unwrap(), 7777);
    assert_eq!(
        open_fd_count(),
        before,
        "the future is alive but its fd closed"
    );
    drop(port);
}

#[test]
fn a_hung_child_times_out_and_every_fd_is_released() {
    assert_no_fd_leak(10, || {
        let (writer, port) = DynamicPortWriter::create().unwrap();
        let mut command = child(Role::Hang);
        writer.pass_to(&mut command);
        let mut spawned = command.spawn().unwrap();
        drop(writer);
        let result = port.timeout(std::time::Duration::from_millis(20)).wait();
        assert_eq!(result.unwrap_err().kind(), ErrorKind::TimedOut);
        spawned.kill().unwrap();
        spawned.wait().unwrap();
    });
}

#[test]
fn dropping_a_pending_future_releases_its_fd() {
    assert_no_fd_leak(10, || {
        let (writer, mut port) = DynamicPortWriter::create().unwrap();
        let mut command = child(Role::Hang);
        writer.pass_to(&mut command);
        let mut spawned = command.spawn().unwrap();
        drop(writer);
        assert!(futures::FutureExt::now_or_never(&mut port).is_none());
        drop(port);
        spawned.kill().unwrap();
        spawned.wait().unwrap();
    });
}

/// Both kinds of writer, through `spawn`.
fn every_writer() -> [dynamic_port::SpawnOptions; 2] {
    [
        dynamic_port::SpawnOptions::new(),
        dynamic_port::SpawnOptions::new().named(),
    ]
}

#[test]
fn spawn_resolve_and_death_a_hundred_times_leaks_no_fd() {
    for options in every_writer() {
        assert_no_fd_leak(100, || {
            let (mut spawned, port) = options.spawn(&mut child(Role::Serve)).unwrap();
            greeting(port.timeout(support::SAFETY).wait().unwrap());
            wait_with_deadline(&mut spawned);
            let (mut spawned, port) = options.spawn(&mut child(Role::ExitNonzero)).unwrap();
            let err = port.timeout(support::SAFETY).wait().unwrap_err();
            assert_eq!(err.kind(), ErrorKind::ChildExited);
            wait_with_deadline(&mut spawned);
        });
    }
}

#[test]
fn watched_futures_awaited_under_an_executor_leak_no_fd() {
    // Registered with the reactor: the pidfd and the pipe both go on resolution.
    for options in every_writer() {
        assert_no_fd_leak(50, || {
            let (mut spawned, port) = options.spawn(&mut child(Role::ExitNonzero)).unwrap();
            let err = futures::executor::block_on(port.timeout(support::SAFETY)).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::ChildExited);
            wait_with_deadline(&mut spawned);
        });
    }
}

#[test]
fn a_spawn_that_fails_leaks_no_fd_and_no_file() {
    for options in every_writer() {
        assert_no_fd_leak(20, || {
            let mut command = std::process::Command::new("/nonexistent/dynamic-port-child");
            assert_eq!(
                options.spawn(&mut command).unwrap_err().kind(),
                ErrorKind::Io
            );
        });
    }
}

#[test]
fn a_pending_watched_future_dropped_releases_every_fd() {
    for options in every_writer() {
        assert_no_fd_leak(20, || {
            let mut command = child(Role::Hang);
            let (mut spawned, mut port) = options.spawn(&mut command).unwrap();
            assert!(futures::FutureExt::now_or_never(&mut port).is_none());
            drop(port);
            spawned.kill().unwrap();
            spawned.wait().unwrap();
        });
    }
}
