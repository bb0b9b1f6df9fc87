//! The `dynamic-port` binary, run as a user runs it: the port line, the
//! program's status passed on, `--env`, `--named`, `--then` against a real
//! server, signals, every failure with its exit code, and no leftovers.
#![cfg(feature = "cli")]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The built binary.
fn dynamic_port() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_dynamic-port"));
    command.stdin(Stdio::null());
    command
}

/// `dynamic-port run ARGS... -- bash -c SCRIPT bash`, run to its end.
fn run(options: &[&str], script: &str) -> Output {
    dynamic_port()
        .arg("run")
        .args(options)
        .args(["--", "bash", "-c", script, "bash"])
        .output()
        .unwrap()
}

/// Its stdout and stderr as text.
fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A fresh file path for a child to write its pid or its fds to.
fn scratch(name: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "cli-{name}-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let _ = std::fs::remove_file(&path);
    path
}

/// Whether process `pid` is gone (or a zombie about to be reaped), waiting up to 5 s.
fn gone(pid: &str) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(5) {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => return true,
            Ok(stat) if stat.contains(") Z ") => return true,
            Ok(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    false
}

#[test]
fn prints_the_port_then_passes_the_programs_status_on() {
    let output = run(&[], r#"echo 4321 >&"${2%%:*}"; exit 7"#);
    let (out, err) = text(&output);
    assert_eq!(out, "4321\n", "{err}");
    assert_eq!(output.status.code(), Some(7));
}

#[test]
fn env_passes_the_writer_in_the_environment() {
    let output = run(
        &["--env"],
        r#"[ $# -eq 0 ] && echo 4322 >&"${DYNAMIC_PORT_WRITER%%:*}""#,
    );
    assert_eq!(text(&output).0, "4322\n", "{:?}", text(&output));
    assert!(output.status.success());
}

#[test]
fn named_uses_a_fifo() {
    let output = run(&["--named"], r#"echo 4323 >"${2#fifo:*:*:}""#);
    assert_eq!(text(&output).0, "4323\n", "{:?}", text(&output));
    assert!(output.status.success());
}

#[test]
fn addresses_and_named_endpoints_follow_the_port_line() {
    let output = run(&[], r#"echo "[::1]:4324" >&"${2%%:*}""#);
    assert_eq!(text(&output).0, "4324\n[::1]:4324\n");
    let output = run(
        &[
            "--then",
            r#"echo "then $PORT $ADDR $PORT_HTTP $ADDR_ADMIN_API""#,
        ],
        r#"echo "http=127.0.0.1:80 admin.api=[::1]:81" >&"${2%%:*}"; exec sleep 60"#,
    );
    assert_eq!(
        text(&output).0,
        "80\nadmin.api=[::1]:81\nhttp=127.0.0.1:80\nthen 80 127.0.0.1:80 80 [::1]:81\n"
    );
}

/// A python3 server that writes its pid to `pid_file`, reports its port,
/// and answers every connection with `hello`.
fn python_server(pid_file: &PathBuf) -> Vec<String> {
    let script = format!(
        r#"import os, socket, sys
open({pid_file:?}, "w").write(str(os.getpid()))
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen()
fd = int(sys.argv[2].split(":")[0])
os.write(fd, b"%d\n" % s.getsockname()[1]); os.close(fd)
while True:
    c, _ = s.accept(); c.sendall(b"hello\n"); c.close()
"#
    );
    vec!["python3".into(), "-c".into(), script]
}

#[test]
fn then_runs_against_the_port_keeps_its_status_and_stops_the_server() {
    for (then, expected) in [
        (
            r#"exec 3<>/dev/tcp/127.0.0.1/$PORT; read -r line <&3; [ "$line" = hello ]"#,
            0,
        ),
        (
            r#"exec 3<>/dev/tcp/127.0.0.1/$PORT; read -r line <&3; exit 5"#,
            5,
        ),
    ] {
        let pid_file = scratch("then");
        let output = dynamic_port()
            .args([
                "run",
                "--timeout",
                "30",
                "--then",
                &format!("bash -c '{then}'"),
            ])
            .arg("--")
            .args(python_server(&pid_file))
            .output()
            .unwrap();
        let (out, err) = text(&output);
        assert_eq!(output.status.code(), Some(expected), "{out}{err}");
        assert!(out.trim().parse::<u16>().is_ok(), "{out}");
        let pid = std::fs::read_to_string(&pid_file).unwrap();
        assert!(gone(&pid), "the server {pid} still runs");
        std::fs::remove_file(pid_file).unwrap();
    }
}

#[test]
fn a_program_that_exits_before_reporting_is_exit_code_3_with_its_status() {
    let output = run(&[], "exit 9");
    let (out, err) = text(&output);
    assert_eq!(output.status.code(), Some(3));
    assert_eq!(out, "");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("dynamic-port: ") && err.contains("exit code 9"),
        "{err}"
    );
}

#[test]
fn a_timeout_is_exit_code_124_and_the_program_is_stopped() {
    let pid_file = scratch("timeout");
    let script = format!("echo $$ > {pid_file:?}; exec sleep 60");
    let start = Instant::now();
    let output = run(&["--timeout", "0.5", "--grace", "1"], &script);
    let (_, err) = text(&output);
    assert_eq!(output.status.code(), Some(124), "{err}");
    assert!(
        err.contains("within 500ms") && err.contains("stopped"),
        "{err}"
    );
    assert!(start.elapsed() < Duration::from_secs(10));
    let pid = std::fs::read_to_string(&pid_file).unwrap();
    assert!(gone(pid.trim()), "the program {pid} still runs");
    std::fs::remove_file(pid_file).unwrap();
}

#[test]
fn a_bad_report_is_exit_code_4_and_the_program_is_stopped() {
    let pid_file = scratch("bad");
    let script = format!(r#"echo $$ > {pid_file:?}; echo 70000 >&"${{2%%:*}}"; exec sleep 60"#);
    let output = run(&[], &script);
    let (_, err) = text(&output);
    assert_eq!(output.status.code(), Some(4), "{err}");
    assert!(err.contains("70000") && err.contains("65535"), "{err}");
    let pid = std::fs::read_to_string(&pid_file).unwrap();
    assert!(gone(pid.trim()), "the program {pid} still runs");
    std::fs::remove_file(pid_file).unwrap();
}

#[test]
fn a_missing_program_is_127_and_an_unknown_option_is_2() {
    let output = dynamic_port()
        .args(["run", "--", "/nonexistent/dynamic-port-program"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(127));
    assert!(text(&output)
        .1
        .contains("/nonexistent/dynamic-port-program"));
    let output = dynamic_port()
        .args(["run", "--bogus", "--", "true"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output).1.contains("--bogus"));
    let output = dynamic_port().args(["run", "true"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2), "PROG must come after --");
}

#[test]
fn help_shows_a_complete_example() {
    let output = dynamic_port().args(["run", "--help"]).output().unwrap();
    assert!(output.status.success());
    let help = text(&output).0;
    assert!(
        help.contains("dynamic-port run --timeout 30 --then"),
        "{help}"
    );
    assert!(help.contains("127 the program was not found"), "{help}");
}

/// Starts `dynamic-port run -- bash -c SCRIPT` and waits for its port line.
fn started(script: &str) -> Child {
    let mut child = dynamic_port()
        .args(["run", "--", "bash", "-c", script, "bash"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.trim().parse::<u16>().is_ok(), "{line:?}");
    child
}

#[test]
fn signals_to_dynamic_port_reach_the_program_and_its_status_comes_back() {
    let script = r#"trap 'exit 42' TERM; trap 'exit 43' INT
        echo 4325 >&"${2%%:*}"
        while true; do sleep 0.05; done"#;
    for (signal, expected) in [
        (libc::SIGTERM, 42),
        (libc::SIGINT, 43),
        (libc::SIGHUP, 128 + libc::SIGHUP),
    ] {
        let mut child = started(script);
        // SAFETY: kill takes no pointers.
        assert_eq!(unsafe { libc::kill(child.id() as i32, signal) }, 0);
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(expected), "signal {signal}");
    }
}

/// The fds bash has open, as `ls /proc/$$/fd` lists them, under `wrapper`.
fn fds_of_bash(wrapper: &[&str]) -> (Vec<String>, Option<String>) {
    let fds_file = scratch("fds");
    let script = format!(
        r#"ls /proc/$$/fd > {fds_file:?}; [ $# -gt 0 ] && echo "writer ${{2%%:*}}" >> {fds_file:?} && echo 4326 >&"${{2%%:*}}"; true"#
    );
    let mut command = match wrapper {
        [] => Command::new("bash"),
        [program, args @ ..] => {
            let mut command = Command::new(program);
            command.args(args);
            command
        }
    };
    let status = command
        .args(["bash", "-c", &script, "bash"])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let listing = std::fs::read_to_string(&fds_file).unwrap();
    std::fs::remove_file(fds_file).unwrap();
    let writer = listing
        .lines()
        .find_map(|l| l.strip_prefix("writer "))
        .map(str::to_owned);
    let fds = listing
        .lines()
        .filter(|l| !l.starts_with("writer"))
        .map(str::to_owned)
        .collect();
    (fds, writer)
}

#[test]
fn the_program_inherits_nothing_but_the_writer() {
    // What bash has when this test starts it (this test's own inherited fds
    // included, such as cargo's jobserver), against what it has under dynamic-port.
    let (direct, _) = fds_of_bash(&["env"]);
    let binary = env!("CARGO_BIN_EXE_dynamic-port");
    let (wrapped, writer) = fds_of_bash(&[binary, "run", "--"]);
    let writer = writer.expect("the program got a writer");
    let mut expected = direct.clone();
    expected.push(writer);
    expected.sort();
    let mut wrapped = wrapped;
    wrapped.sort();
    assert_eq!(wrapped, expected, "directly: {direct:?}");
}
