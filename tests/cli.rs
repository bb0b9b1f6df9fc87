//! The `dynamic-port` binary, run as a user runs it: the port line, the
//! program's status passed on, `--env`, `--named`, `--then` against a real
//! server, signals, every failure with its exit code, and no leftovers.
// Unix only: fds, bash, python3 or /proc. Windows has tests/windows.rs.
#![cfg(unix)]
#![cfg(feature = "cli")]

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod cli_support;

use cli_support::*;

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
    // It exited by itself: nothing was stopped.
    assert!(!err.contains("stopped"), "{err}");
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
fn a_missing_program_is_127_one_that_cannot_run_126_and_an_unknown_option_2() {
    let output = dynamic_port()
        .args(["run", "--", "/nonexistent/dynamic-port-program"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(127));
    assert!(text(&output)
        .1
        .contains("/nonexistent/dynamic-port-program"));
    // A file that is there but cannot be run: 126, as a shell says.
    let not_executable = scratch("not-executable");
    std::fs::write(&not_executable, "#!/bin/sh\n").unwrap();
    let output = dynamic_port()
        .args(["run", "--"])
        .arg(&not_executable)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(126), "{:?}", text(&output));
    std::fs::remove_file(not_executable).unwrap();
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
    for option in ["--program-stdout", "--remote", "--stop-signal", "/proc"] {
        assert!(help.contains(option), "{option}: {help}");
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
        .process_group(0)
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
fn the_program_starts_with_the_signal_mask_and_dispositions_it_would_have_directly() {
    // dynamic-port blocks SIGTTOU and handles many signals for itself; the
    // program must inherit none of that.
    let script = r#"import os, sys
masks = [l.split()[1] for l in open("/proc/self/status") if l.startswith(("SigBlk", "SigIgn"))]
print(" ".join(masks), file=sys.stderr)
w = sys.argv[2] if len(sys.argv) > 2 else ""
if w.startswith("fifo:"):
    open(w.split(":", 3)[3], "w").write("4321\n")
elif w:
    os.write(int(w.split(":")[0]), b"4321\n")"#;
    let direct = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let direct = text(&direct).1;
    assert!(direct.starts_with("0000000000000000 "), "{direct}");
    for options in [&[][..], &["--named"], &["--then", "true"]] {
        let output = dynamic_port()
            .arg("run")
            .args(options)
            .args(["--", "python3", "-c", script])
            .output()
            .unwrap();
        let (_, err) = text(&output);
        assert_eq!(err, direct, "{options:?}");
    }
    // --then's command too.
    let output = dynamic_port()
        .env("CHECK", script)
        .args([
            "run",
            "--then",
            r#"exec python3 -c "$CHECK""#,
            "--",
            "bash",
            "-c",
        ])
        .arg(r#"echo 4321 >&"${2%%:*}"; exec sleep 30"#)
        .arg("bash")
        .output()
        .unwrap();
    assert_eq!(text(&output).1, direct, "--then");
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

#[test]
fn the_port_is_the_first_line_and_the_programs_stdout_goes_to_stderr() {
    let output = run(
        &[],
        r#"echo banner; echo 4321 >&"${2%%:*}"; echo after; echo oops >&2"#,
    );
    let (out, err) = text(&output);
    assert_eq!(out, "4321\n", "{err}");
    assert_eq!(err, "banner\nafter\noops\n");
    assert!(output.status.success());
}

#[test]
fn program_stdout_inherit_comes_after_the_port_lines() {
    let output = run(
        &["--program-stdout", "inherit"],
        r#"echo banner; echo "[::1]:4321" >&"${2%%:*}"; echo after"#,
    );
    let (out, err) = text(&output);
    assert_eq!(out, "4321\n[::1]:4321\nbanner\nafter\n", "{err}");
    assert!(output.status.success());

    // More than a pipe holds, before the report: it waits for the port
    // line, and the program does not block on it. More again just before
    // the program exits: dynamic-port copies it all before it exits too.
    let output = run(
        &["--program-stdout", "inherit", "--timeout", "10"],
        r#"head -c 300000 /dev/zero | tr '\0' x; echo; echo 4322 >&"${2%%:*}"
        head -c 300000 /dev/zero | tr '\0' y; echo"#,
    );
    let (out, err) = text(&output);
    assert_eq!(output.status.code(), Some(0), "{err}");
    let expected = format!("4322\n{}\n{}\n", "x".repeat(300_000), "y".repeat(300_000));
    assert!(out == expected, "{} bytes: {:?}...", out.len(), &out[..20]);

    // With no port to print first, what the program printed goes to stderr.
    let output = run(&["--program-stdout", "inherit"], "echo banner; exit 9");
    let (out, err) = text(&output);
    assert_eq!(output.status.code(), Some(3), "{err}");
    assert_eq!(out, "");
    assert!(
        err.starts_with("banner\n") && err.contains("exit code 9"),
        "{err}"
    );
}

#[test]
fn program_stdout_inherit_is_copied_to_the_end_for_a_slow_reader() {
    // The program exits right after writing 200 kB; its reader takes its
    // time (about 200 kB/s, so the rest takes longer to copy than the relay
    // may stand still). Everything arrives before dynamic-port exits.
    let mut child = dynamic_port()
        .args(["run", "--program-stdout", "inherit", "--", "bash", "-c"])
        .arg(r#"echo 4321 >&"${2%%:*}"; head -c 200000 /dev/zero | tr '\0' y"#)
        .arg("bash")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut out = Vec::new();
    let mut chunk = [0; 4096];
    loop {
        let n = std::io::Read::read(&mut stdout, &mut chunk).unwrap();
        if n == 0 {
            break;
        }
        out.extend_from_slice(&chunk[..n]);
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(child.wait().unwrap().success());
    assert_eq!(out.len(), 5 + 200_000);
    assert!(out.starts_with(b"4321\n") && out[5..].iter().all(|&b| b == b'y'));
}

#[test]
fn a_closed_stdout_stops_the_program_and_is_exit_code_125() {
    // `dynamic-port run -- PROG | true`: the reader is gone before the port
    // is printed. The program ignores SIGTERM, so only SIGKILL after the
    // grace stops it.
    let pid_file = scratch("closed");
    let script = format!(
        r#"trap '' TERM; echo $$ > {pid_file:?}; sleep 0.2; echo 4321 >&"${{2%%:*}}"; exec sleep 60"#
    );
    let mut child = dynamic_port()
        .args(["run", "--grace", "0.2", "--", "bash", "-c", &script, "bash"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let pid = pid_in(&pid_file);
    let status = wait_for(&mut child, SAFETY);
    let left = !gone_now(&pid);
    // Before reading stderr, which a program left running holds open.
    kill(&pid);
    let _ = child.kill();
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert_eq!(status.and_then(|s| s.code()), Some(125), "{err}");
    assert!(
        err.contains("cannot write the port") && err.contains("stopped"),
        "{err}"
    );
    assert!(!left, "the program {pid} still runs");
}

#[test]
fn a_report_that_cannot_become_valid_is_exit_code_4_at_once() {
    for junk in [
        "Listening on",
        "junk!",
        "8080/",
        "http=localhost:80 ",
        "70000 ",
    ] {
        let pid_file = scratch("junk");
        let script = format!(
            r#"echo $$ > {pid_file:?}; printf '%s' '{junk}' >&"${{2%%:*}}"; exec sleep 30"#
        );
        let start = Instant::now();
        let output = run(&["--timeout", "10", "--grace", "10"], &script);
        let elapsed = start.elapsed();
        let (out, err) = text(&output);
        let pid = pid_in(&pid_file);
        let left = !gone_now(&pid);
        kill(&pid);
        assert_eq!(output.status.code(), Some(4), "{junk:?}: {err}");
        assert!(elapsed < Duration::from_secs(1), "{junk:?}: {elapsed:?}");
        assert_eq!(out, "");
        assert!(err.contains("stopped"), "{err}");
        assert!(!left, "{junk:?}: the program {pid} still runs");
    }
    // An empty line holds no port.
    let output = run(&[], r#"echo >&"${2%%:*}"; exec sleep 30"#);
    let (_, err) = text(&output);
    assert_eq!(output.status.code(), Some(4), "{err}");
    assert!(err.contains("no port"), "{err}");
}

#[test]
fn a_prefix_that_may_still_become_a_report_waits() {
    // `junk` may become `junk=127.0.0.1:80`, and `808` may become `8080`:
    // nothing is judged before the bytes say so.
    for prefix in ["junk", "808", "http=127.0.0.1:8"] {
        let script = format!(r#"printf '%s' '{prefix}' >&"${{2%%:*}}"; exec sleep 30"#);
        let output = run(&["--timeout", "0.3", "--grace", "1"], &script);
        assert_eq!(
            output.status.code(),
            Some(124),
            "{prefix:?}: {:?}",
            text(&output)
        );
    }
}

#[test]
fn durations_that_overflow_are_bad_usage_never_a_panic() {
    for option in [
        ["--grace", "1e19"],
        ["--timeout", "1e30"],
        ["--grace", "1e10"],
        ["--grace=-1", "--grace=-1"],
        ["--timeout=-0.5", "--timeout=-0.5"],
        ["--grace", "nan"],
        ["--timeout", "inf"],
        ["--grace", "soon"],
    ] {
        let pid_file = scratch("overflow");
        let script = format!(
            r#"trap '' TERM; echo $$ > {pid_file:?}; echo 4321 >&"${{2%%:*}}"; exec sleep 5"#
        );
        let output = run(&[option[0], option[1], "--then", "true"], &script);
        let (_, err) = text(&output);
        if let Ok(pid) = std::fs::read_to_string(&pid_file) {
            kill(&pid);
        }
        assert_eq!(output.status.code(), Some(2), "{option:?}: {err}");
        assert!(!err.contains("panicked"), "{option:?}: {err}");
        assert!(
            std::fs::metadata(&pid_file).is_err(),
            "{option:?}: the program was started"
        );
    }
}

#[test]
fn endpoint_names_that_make_the_same_variable_are_a_bad_report_for_then() {
    for report in [
        "a-b=127.0.0.1:80 a.b=127.0.0.1:81",
        "a_b=127.0.0.1:80 a-b=127.0.0.1:81",
        "web=127.0.0.1:80 WEB=127.0.0.1:81",
    ] {
        let pid_file = scratch("names");
        let script =
            format!(r#"echo $$ > {pid_file:?}; echo "{report}" >&"${{2%%:*}}"; exec sleep 30"#);
        let output = run(&["--then", "echo then"], &script);
        let (out, err) = text(&output);
        let pid = pid_in(&pid_file);
        let left = !gone_now(&pid);
        kill(&pid);
        assert_eq!(output.status.code(), Some(4), "{report}: {out}{err}");
        assert_eq!(out, "", "{report}");
        assert!(err.contains("would both be PORT_"), "{err}");
        assert!(!left, "{report}: the program {pid} still runs");
    }
    // Without --then, no variable is made: every endpoint is printed.
    let output = run(
        &[],
        r#"echo "a-b=127.0.0.1:80 a.b=127.0.0.1:81" >&"${2%%:*}""#,
    );
    assert_eq!(text(&output).0, "80\na-b=127.0.0.1:80\na.b=127.0.0.1:81\n");
    assert!(output.status.success());
}

/// A bash program on "another host": it connects back to the address in
/// its remote writer (`tcp:TOKEN@HOST:PORT`, from `$writer`) and reports.
const REMOTE_CHILD: &str = r#"w=${writer#tcp:}; token=${w%%@*}; addr=${w#*@}
    exec 3<>"/dev/tcp/${addr%:*}/${addr##*:}"; echo "$token 4327" >&3; exec 3>&-"#;

#[test]
fn remote_listens_and_the_program_connects_back_by_flag_or_env() {
    for (options, writer, args_left) in [
        (vec![], r#"writer=$2"#, "2"),
        (vec!["--env"], r#"writer=$DYNAMIC_PORT_WRITER"#, "0"),
    ] {
        let script = format!(
            r#"[ $# -eq {args_left} ] || exit 99; {writer}; {REMOTE_CHILD}; exec sleep 30"#
        );
        let mut options = options;
        options.extend([
            "--remote",
            "127.0.0.1:0",
            "--then",
            r#"echo "then $PORT $ADDR""#,
        ]);
        let output = run(&options, &script);
        let (out, err) = text(&output);
        assert_eq!(output.status.code(), Some(0), "{options:?}: {err}");
        assert_eq!(
            out, "4327\n127.0.0.1:4327\nthen 4327 127.0.0.1:4327\n",
            "{options:?}"
        );
    }
}

#[test]
fn remote_with_named_is_bad_usage() {
    let output = run(&["--remote", "127.0.0.1:0", "--named"], "exit 0");
    assert_eq!(output.status.code(), Some(2));
    let output = run(&["--remote", "localhost"], "exit 0");
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn stop_signal_picks_the_signal_that_stops_the_program() {
    // The program ignores TERM and leaves on INT; with --stop-signal INT it
    // is gone at once, not after the 30 s grace.
    let marker = scratch("stop-signal");
    let script = format!(
        r#"trap '' TERM; trap 'echo INT > {marker:?}; exit 0' INT
        echo 4321 >&"${{2%%:*}}"; while true; do sleep 0.02; done"#
    );
    for signal in ["INT", "sigint", "2"] {
        let _ = std::fs::remove_file(&marker);
        let start = Instant::now();
        let output = run(
            &["--stop-signal", signal, "--grace", "30", "--then", "exit 6"],
            &script,
        );
        let elapsed = start.elapsed();
        assert_eq!(output.status.code(), Some(6), "{:?}", text(&output));
        assert!(elapsed < Duration::from_secs(1), "{signal}: {elapsed:?}");
        assert_eq!(std::fs::read_to_string(&marker).unwrap(), "INT\n");
    }
    let output = run(&["--stop-signal", "NOPE"], "exit 0");
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output).1.contains("NOPE"));
    for bad in ["INT,NOPE", "INT,", "INT,INT,INT,INT,INT"] {
        assert_eq!(
            run(&["--stop-signal", bad], "exit 0").status.code(),
            Some(2),
            "{bad}"
        );
    }
}

#[test]
fn stop_signal_can_be_a_sequence_as_srun_needs_two_ints() {
    // The program leaves only on its second INT, as srun passes INT on to
    // its tasks only when two come within a second.
    let marker = scratch("stop-signal-sequence");
    let script = format!(
        r#"ints=0; trap '' TERM
        trap 'ints=$((ints + 1)); if [ $ints = 2 ]; then echo two > {marker:?}; exit 0; fi' INT
        echo 4321 >&"${{2%%:*}}"; while true; do sleep 0.02; done"#
    );
    let start = Instant::now();
    let output = run(
        &[
            "--stop-signal",
            "INT,INT",
            "--grace",
            "30",
            "--then",
            "exit 6",
        ],
        &script,
    );
    assert_eq!(output.status.code(), Some(6), "{:?}", text(&output));
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(std::fs::read_to_string(&marker).unwrap(), "two\n");
}

#[test]
fn stop_with_parent_stops_the_program_once_the_parent_is_killed() {
    for flag in [true, false] {
        let pid_file = scratch(&format!("orphan-{flag}"));
        let program = format!(
            r#"echo $$ > "{}"; echo 4000 >&"${{2%%:*}}"; exec sleep 300"#,
            pid_file.display()
        );
        // bash is dynamic-port's parent, and is killed.
        let run = format!(
            "{} run {} -- bash -c '{program}' bash >/dev/null & wait",
            env!("CARGO_BIN_EXE_dynamic-port"),
            if flag {
                "--stop-with-parent --grace 1"
            } else {
                ""
            }
        );
        let mut parent = Command::new("bash")
            .args(["-c", &run])
            .stdin(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap();
        let pid = pid_in(&pid_file);
        parent.kill().unwrap();
        parent.wait().unwrap();
        let gone_in_a_second = eventually(Duration::from_secs(1), || {
            matches!(state(&pid), None | Some('Z'))
        });
        if flag {
            assert!(gone_in_a_second, "{pid} outlived its parent's parent");
        } else {
            // Without the flag it runs on, as a server started with `&` should.
            assert!(!gone_in_a_second);
            kill(&pid);
        }
        let _ = std::fs::remove_file(pid_file);
    }
}
