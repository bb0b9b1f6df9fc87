//! Signals and `dynamic-port run`: every catchable signal a shell or a
//! supervisor sends is passed on to the program, and dynamic-port survives
//! it; signals inherited as ignored stay ignored; an inherited ignored
//! SIGCHLD does not lose the program's status.
// Unix only: fds, bash, python3 or /proc. Windows has tests/windows.rs.
#![cfg(unix)]
#![cfg(feature = "cli")]

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod cli_support;

use cli_support::*;

/// Starts `command` (a `dynamic-port run`) with stdout piped, and waits for
/// its port line.
fn started(mut command: Command) -> Child {
    let mut child = command
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

/// `dynamic-port run -- bash -c SCRIPT bash`, as [`started`] starts it.
fn started_bash(script: &str) -> Child {
    let mut command = dynamic_port();
    command.args(["run", "--", "bash", "-c", script, "bash"]);
    started(command)
}

/// A python3 program that notes, in file `marks`, the name of each signal
/// of `noted` it gets (one line each), exits 42 on SIGTERM, and otherwise
/// waits for signals without a child process. Its pid goes to `pid_file`.
fn noting_program(marks: &std::path::Path, pid_file: &std::path::Path, noted: &str) -> Vec<String> {
    let script = format!(
        r#"import os, signal, sys
def note(number, frame):
    with open({marks:?}, "a") as f:
        f.write(signal.Signals(number).name + "\n")
for name in "{noted}".split():
    signal.signal(getattr(signal, name), note)
signal.signal(signal.SIGTERM, lambda *_: os._exit(42))
open({pid_file:?}, "w").write("%d\n" % os.getpid())
fd = int(sys.argv[2].split(":")[0])
os.write(fd, b"4325\n"); os.close(fd)
while True:
    signal.pause()
"#
    );
    vec!["python3".into(), "-c".into(), script]
}

/// Whether file `marks` has the line `name`.
fn noted(marks: &std::path::Path, name: &str) -> bool {
    std::fs::read_to_string(marks).is_ok_and(|text| text.lines().any(|line| line == name))
}

#[test]
fn signals_to_dynamic_port_reach_the_program_and_its_status_comes_back() {
    let script = r#"trap 'exit 42' TERM; trap 'exit 43' INT
        echo 4325 >&"${2%%:*}"
        while true; do sleep 0.05; done"#;
    for (signal_number, expected) in [
        (libc::SIGTERM, 42),
        (libc::SIGINT, 43),
        (libc::SIGHUP, 128 + libc::SIGHUP),
    ] {
        let mut child = started_bash(script);
        signal(child.id(), signal_number);
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(expected), "signal {signal_number}");
    }
}

#[test]
fn quit_usr1_usr2_winch_alrm_and_cont_are_passed_on_and_dynamic_port_survives_them() {
    let marks = scratch("marks");
    let pid_file = scratch("noting");
    let signals = [
        ("SIGQUIT", libc::SIGQUIT),
        ("SIGUSR1", libc::SIGUSR1),
        ("SIGUSR2", libc::SIGUSR2),
        ("SIGWINCH", libc::SIGWINCH),
        ("SIGALRM", libc::SIGALRM),
        ("SIGCONT", libc::SIGCONT),
    ];
    let names: Vec<&str> = signals.iter().map(|(name, _)| *name).collect();
    let mut command = dynamic_port();
    command
        .args(["run", "--"])
        .args(noting_program(&marks, &pid_file, &names.join(" ")));
    let mut child = started(command);
    for (name, number) in signals {
        signal(child.id(), number);
        let seen = eventually(Duration::from_secs(1), || noted(&marks, name));
        let alive = child.try_wait().unwrap().is_none();
        if !seen || !alive {
            let _ = child.kill();
            kill(&pid_in(&pid_file));
        }
        assert!(alive, "{name} killed dynamic-port");
        assert!(seen, "{name} did not reach the program");
    }
    signal(child.id(), libc::SIGTERM);
    assert_eq!(child.wait().unwrap().code(), Some(42));
    std::fs::remove_file(marks).unwrap();
}

#[test]
fn a_sigstop_to_the_program_alone_neither_stops_dynamic_port_nor_comes_back_to_the_program() {
    // Someone stops and continues the program itself (a debugger, a
    // supervisor): dynamic-port sees it (SIGCHLD) but it is not job
    // control, so dynamic-port neither stops nor passes its SIGCHLD on.
    let marks = scratch("sigstop-marks");
    let pid_file = scratch("sigstop");
    let mut command = dynamic_port();
    command
        .args(["run", "--"])
        .args(noting_program(&marks, &pid_file, "SIGCHLD SIGUSR1"));
    let mut child = started(command);
    let program = pid_in(&pid_file);
    let program_pid: u32 = program.parse().unwrap();
    signal(program_pid, libc::SIGSTOP);
    let stopped = eventually(Duration::from_secs(1), || state(&program) == Some('T'));
    signal(program_pid, libc::SIGCONT);
    // USR1 through dynamic-port, after its SIGCHLDs: once the program has
    // it, anything passed on before it has arrived.
    std::thread::sleep(Duration::from_millis(50));
    signal(child.id(), libc::SIGUSR1);
    let usr1 = eventually(Duration::from_secs(1), || noted(&marks, "SIGUSR1"));
    let dynamic_port_state = state(&child.id().to_string());
    signal(child.id(), libc::SIGTERM);
    let status = wait_for(&mut child, SAFETY);
    kill(&program);
    assert!(stopped, "SIGSTOP did not stop the program");
    assert!(usr1, "USR1 did not reach the program");
    // Sleeping, or running at that moment: anything but stopped ('T').
    assert!(
        matches!(dynamic_port_state, Some('S' | 'R')),
        "dynamic-port stopped too: state {dynamic_port_state:?}"
    );
    assert!(
        !noted(&marks, "SIGCHLD"),
        "dynamic-port passed its SIGCHLD on"
    );
    assert_eq!(status.and_then(|s| s.code()), Some(42));
    std::fs::remove_file(marks).unwrap();
}

/// `python3 -c` that sets `signal` to SIG_IGN, then execs ARGS: a parent
/// such as `nohup`, or a non-interactive shell's `&`.
fn with_ignored(signal: &str) -> Command {
    let mut command = Command::new("python3");
    // A process group of its own, as `cli_support::dynamic_port` explains.
    command.stdin(Stdio::null()).process_group(0).args([
        "-c",
        &format!(
            "import os, signal, sys\n\
             signal.signal(signal.{signal}, signal.SIG_IGN)\n\
             os.execv(sys.argv[1], sys.argv[1:])"
        ),
        env!("CARGO_BIN_EXE_dynamic-port"),
    ]);
    command
}

#[test]
fn an_inherited_ignored_sigint_stays_ignored_by_dynamic_port_and_the_program() {
    let marks = scratch("ignored-marks");
    let pid_file = scratch("ignored");
    let mut command = with_ignored("SIGINT");
    command
        .args(["run", "--"])
        .args(noting_program(&marks, &pid_file, "SIGUSR1"));
    let mut child = started(command);
    let dynamic_port = child.id().to_string();
    let program = pid_in(&pid_file);
    let ignored_by_dynamic_port = in_mask(&dynamic_port, "SigIgn", libc::SIGINT)
        && !in_mask(&dynamic_port, "SigCgt", libc::SIGINT);
    let ignored_by_the_program = in_mask(&program, "SigIgn", libc::SIGINT);

    signal(child.id(), libc::SIGINT);
    // USR1 is passed on after the INT that came first: once the program has
    // it, the INT had its chance. (Not `signal`, which panics if the INT
    // killed dynamic-port.)
    // SAFETY: kill takes no pointers.
    unsafe { libc::kill(child.id() as i32, libc::SIGUSR1) };
    let usr1 = eventually(Duration::from_secs(1), || noted(&marks, "SIGUSR1"));
    let both_run =
        child.try_wait().unwrap().is_none() && !matches!(state(&program), None | Some('Z'));
    signal(child.id(), libc::SIGTERM);
    let status = wait_for(&mut child, SAFETY);
    kill(&program);
    assert!(
        ignored_by_dynamic_port,
        "dynamic-port handles the SIGINT it inherited as ignored"
    );
    assert!(
        ignored_by_the_program,
        "the program does not inherit SIGINT ignored"
    );
    assert!(usr1 && both_run, "SIGINT stopped the pair");
    assert_eq!(status.and_then(|s| s.code()), Some(42));
    std::fs::remove_file(marks).unwrap();
}

#[test]
fn sigchld_inherited_as_ignored_keeps_the_programs_status_and_stops_are_quick() {
    let mut command = with_ignored("SIGCHLD");
    let output = command
        .args([
            "run",
            "--",
            "bash",
            "-c",
            r#"echo 4321 >&"${2%%:*}"; exit 7"#,
            "bash",
        ])
        .output()
        .unwrap();
    let (out, err) = text(&output);
    assert_eq!(output.status.code(), Some(7), "{err}");
    assert_eq!(out, "4321\n");

    // The program goes at once on SIGTERM: the stop must not wait the grace.
    let pid_file = scratch("sigchld");
    let sig_ign = scratch("sigchld-ign");
    let script = format!(
        r#"grep SigIgn /proc/$$/status > {sig_ign:?}; echo $$ > {pid_file:?}
        echo 4321 >&"${{2%%:*}}"; exec sleep 60"#
    );
    let start = Instant::now();
    let output = with_ignored("SIGCHLD")
        .args(["run", "--grace", "10", "--then", "exit 3", "--"])
        .args(["bash", "-c", &script, "bash"])
        .output()
        .unwrap();
    let elapsed = start.elapsed();
    let pid = pid_in(&pid_file);
    let left = !gone_now(&pid);
    kill(&pid);
    assert_eq!(output.status.code(), Some(3), "{:?}", text(&output));
    assert!(elapsed < Duration::from_secs(1), "{elapsed:?}");
    assert!(!left, "the program {pid} still runs");
    let ignored = std::fs::read_to_string(&sig_ign).unwrap();
    let bits =
        u64::from_str_radix(ignored.trim().trim_start_matches("SigIgn:").trim(), 16).unwrap();
    assert_eq!(
        bits & (1 << (libc::SIGCHLD - 1)),
        0,
        "the program inherits SIGCHLD ignored"
    );
}
