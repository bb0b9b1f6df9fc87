//! Shared by the tests of the `dynamic-port` binary (`tests/cli*.rs`): the
//! built binary, its output, scratch files, and looking at processes.
#![allow(dead_code, unreachable_pub)]

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

/// How long a test waits at most for anything. Never reached when the code
/// works; it turns a hang into a failure.
pub const SAFETY: Duration = Duration::from_secs(30);

/// The built binary, with stdin closed, in a process group of its own: so
/// that, run from a terminal, it never takes the developer's terminal
/// (it does so only from the foreground group).
pub fn dynamic_port() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_dynamic-port"));
    command.stdin(Stdio::null()).process_group(0);
    command
}

/// `dynamic-port run ARGS... -- bash -c SCRIPT bash`, run to its end.
pub fn run(options: &[&str], script: &str) -> Output {
    dynamic_port()
        .arg("run")
        .args(options)
        .args(["--", "bash", "-c", script, "bash"])
        .output()
        .unwrap()
}

/// Its stdout and stderr as text.
pub fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A fresh file path for a child to write its pid or its fds to.
pub fn scratch(name: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "cli-{name}-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let _ = std::fs::remove_file(&path);
    path
}

/// The state letter of process `pid` in `/proc` (`R`, `S`, `T`, `Z`...), or
/// `None` once it is gone.
pub fn state(pid: &str) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", pid.trim())).ok()?;
    stat.rsplit_once(") ")?.1.chars().next()
}

/// Whether process `pid` is gone (or a zombie about to be reaped), waiting up to 5 s.
pub fn gone(pid: &str) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(5) {
        match state(pid) {
            None | Some('Z') => return true,
            Some(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    false
}

/// Whether process `pid` is gone this moment (not even a zombie): after
/// dynamic-port exits, the program it stopped must be reaped already.
pub fn gone_now(pid: &str) -> bool {
    state(pid).is_none()
}

/// Kills process `pid` if it still runs: the clean-up after a failed test.
pub fn kill(pid: &str) {
    if let Ok(pid) = pid.trim().parse::<i32>() {
        // SAFETY: kill takes no pointers.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
}

/// Sends `signal` to process `pid`.
pub fn signal(pid: u32, signal: i32) {
    // SAFETY: kill takes no pointers.
    assert_eq!(unsafe { libc::kill(pid as i32, signal) }, 0, "kill {pid}");
}

/// The pid a child wrote to `file`, waiting up to [`SAFETY`] for it.
pub fn pid_in(file: &PathBuf) -> String {
    let start = Instant::now();
    loop {
        if let Ok(pid) = std::fs::read_to_string(file) {
            if pid.ends_with('\n') {
                return pid.trim().to_owned();
            }
        }
        assert!(start.elapsed() < SAFETY, "no pid in {file:?}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Waits for `child` up to `limit`; `None` if it still runs then.
pub fn wait_for(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if start.elapsed() > limit {
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Waits until `check` holds, up to `limit`; whether it did.
pub fn eventually(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    check()
}

/// The signals of process `pid` in a mask line of `/proc/PID/status`
/// (`SigIgn`, `SigCgt`): whether `signal` is in it.
pub fn in_mask(pid: &str, mask: &str, signal: i32) -> bool {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{mask}:")))
        .unwrap();
    let bits = u64::from_str_radix(line.trim(), 16).unwrap();
    bits & (1 << (signal - 1)) != 0
}
