//! `dynamic-port run` on a real pseudo-terminal: as a job of a real
//! interactive bash, the program reads the terminal, Ctrl-Z stops the pair,
//! bash's `fg` continues it, `--then`'s command reads the terminal too, and
//! the statuses come back; as the first process of a session, Ctrl-Z does
//! not leave the program stopped for good. The driver is
//! `tests/support/pty_job_control.py` (Python's `pty` module).
// Unix only: fds, bash, python3 or /proc. Windows has tests/windows.rs.
#![cfg(unix)]
#![cfg(feature = "cli")]

use std::process::{Command, Stdio};
use std::time::Duration;

mod cli_support;

use cli_support::*;

/// Runs the driver in `mode` and checks that it says `ok`.
fn drive(mode: &str) {
    let dir = scratch(mode);
    std::fs::create_dir_all(&dir).unwrap();
    let mut driver = Command::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/support/pty_job_control.py"
        ))
        .arg(env!("CARGO_BIN_EXE_dynamic-port"))
        .arg(&dir)
        .arg(mode)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = wait_for(&mut driver, Duration::from_secs(120));
    if status.is_none() {
        let _ = driver.kill();
    }
    let output = driver.wait_with_output().unwrap();
    let (out, err) = text(&output);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(status.is_some_and(|s| s.success()), "{out}{err}");
    assert_eq!(out, "ok\n");
}

#[test]
fn on_a_terminal_the_program_reads_it_and_job_control_works_for_the_pair() {
    drive("shell");
}

#[test]
fn as_the_first_process_of_a_session_ctrl_z_does_not_leave_the_program_stopped() {
    drive("session-leader");
}
