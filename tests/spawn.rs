//! `dynamic_port::spawn` and `dynamic_port::tokio::spawn`: one call that
//! creates, passes, spawns, drops the parent's writer and watches the child,
//! with Rust, bash and python3 children, each way of passing, and both kinds
//! of writer.
// Unix only: fds, bash, python3 or /proc. Windows has tests/windows.rs.
#![cfg(unix)]

mod support;

use std::process::{Command, Stdio};

use dynamic_port::{ErrorKind, SpawnOptions};
use support::Role;
use support::{child, greeting, port_line, wait_with_deadline, SAFETY};

/// Every combination of passing (flag, env) and writer (pipe, named).
fn every_option() -> [SpawnOptions; 4] {
    let base = SpawnOptions::new();
    [base, base.env(), base.named(), base.env().named()]
}

/// Spawns `command` with `options`, and returns the port it reported.
fn spawned_port(mut command: Command, options: SpawnOptions) -> u16 {
    let (mut spawned, port) = options.spawn(&mut command).unwrap();
    let port = port
        .timeout(SAFETY)
        .wait()
        .unwrap_or_else(|e| panic!("{options:?}: {e}"));
    assert!(wait_with_deadline(&mut spawned).success(), "{options:?}");
    port
}

#[test]
fn spawn_a_rust_child_with_every_option() {
    for options in every_option() {
        let (mut spawned, port) = options.spawn(&mut child(Role::Serve)).unwrap();
        let port = port.timeout(SAFETY).wait().unwrap();
        assert_eq!(greeting(port), port_line(port), "{options:?}");
        assert!(wait_with_deadline(&mut spawned).success());
    }
}

#[test]
fn the_plain_spawn_passes_an_inherited_pipe_as_the_flag() {
    let mut command =
        support::bash(r#"[ "$1" = --dynamic-port-writer ] && echo 1234 >&"${2%%:*}""#);
    let (mut spawned, port) = dynamic_port::spawn(&mut command).unwrap();
    assert_eq!(port.timeout(SAFETY).wait().unwrap(), 1234);
    assert!(wait_with_deadline(&mut spawned).success());
}

/// A bash child that reports 5555 whichever way the writer came.
fn bash_reporter() -> Command {
    support::bash(
        r#"writer=${DYNAMIC_PORT_WRITER:-$2}
        case $writer in
          fifo:*) echo 5555 >"${writer#fifo:*:*:}" ;;
          *) echo 5555 >&"${writer%%:*}" ;;
        esac"#,
    )
}

#[test]
fn spawn_a_bash_child_with_every_option() {
    for options in every_option() {
        assert_eq!(spawned_port(bash_reporter(), options), 5555, "{options:?}");
    }
}

/// A python3 child that binds a real socket and reports it whichever way the
/// writer came; it then accepts one connection.
fn python_server() -> Command {
    let mut command = Command::new("python3");
    command.args([
        "-c",
        r#"import os, socket, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen()
writer = os.environ.get("DYNAMIC_PORT_WRITER") or sys.argv[2]
if writer.startswith("fifo:"):
    fd = os.open(writer.split(":", 3)[3], os.O_WRONLY | os.O_NONBLOCK)
else:
    fd = int(writer.split(":")[0])
os.write(fd, b"%d\n" % s.getsockname()[1]); os.close(fd)
c, _ = s.accept(); c.sendall(b"port %d\n" % s.getsockname()[1])"#,
    ]);
    command
}

#[test]
fn spawn_a_python_child_with_every_option() {
    for options in every_option() {
        let (mut spawned, port) = options.spawn(&mut python_server()).unwrap();
        let port = port.timeout(SAFETY).wait().unwrap();
        assert_eq!(greeting(port), port_line(port), "{options:?}");
        assert!(wait_with_deadline(&mut spawned).success());
    }
}

#[test]
fn a_missing_program_is_an_io_error_that_names_it() {
    for options in every_option() {
        let err = options
            .spawn(&mut Command::new("/nonexistent/dynamic-port-child"))
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Io);
        assert!(
            err.to_string().contains("/nonexistent/dynamic-port-child"),
            "{err}"
        );
        let source = std::error::Error::source(&err).expect("the OS error");
        assert!(source.to_string().contains("No such file"), "{source}");
    }
}

#[test]
fn the_parent_keeps_no_copy_of_the_write_end_after_spawn() {
    let mut command = Command::new("bash");
    command
        .args(["-c", "sleep 30; exit", "bash"])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let (mut spawned, port) = dynamic_port::spawn(&mut command).unwrap();
    // The writer text is the child's last argument: `FD:pipe:INODE`.
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", spawned.id())).unwrap();
    let text = String::from_utf8(cmdline).unwrap();
    let writer = text
        .trim_end_matches('\0')
        .rsplit('\0')
        .next()
        .unwrap()
        .to_owned();
    let inode: u64 = writer.rsplit(':').next().unwrap().parse().unwrap();
    // The child holds the write end; the parent holds only the read end.
    assert!(
        support::pipe_inodes_of(spawned.id()).contains(&inode),
        "{writer}"
    );
    let ours = support::pipe_inodes_of(std::process::id())
        .into_iter()
        .filter(|&i| i == inode)
        .count();
    assert_eq!(ours, 1, "the parent holds only the read end of {writer}");
    spawned.kill().unwrap();
    let err = port.timeout(SAFETY).wait().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ChildExited, "{err}");
    assert!(err.to_string().contains("SIGKILL"), "{err}");
    wait_with_deadline(&mut spawned);
}

#[cfg(feature = "rt-tokio")]
mod tokio_parent {
    use super::*;

    /// Spawns a serving child through tokio, awaits its port and checks it.
    async fn tokio_round(options: SpawnOptions) -> u16 {
        let mut command = tokio::process::Command::from(child(Role::Serve));
        command.kill_on_drop(true);
        let (spawned, port) = dynamic_port::tokio::spawn_with(&mut command, options).unwrap();
        support::tokio_check(spawned, port).await
    }

    #[tokio::test]
    async fn tokio_spawn_with_every_option() {
        for options in every_option() {
            tokio_round(options).await;
        }
        let mut command = tokio::process::Command::from(bash_reporter());
        let (mut spawned, port) = dynamic_port::tokio::spawn(&mut command).unwrap();
        assert_eq!(port.await.unwrap(), 5555);
        assert!(spawned.wait().await.unwrap().success());
        for options in every_option() {
            let mut command = tokio::process::Command::from(python_server());
            let (mut spawned, port) =
                dynamic_port::tokio::spawn_with(&mut command, options).unwrap();
            let port = port.timeout(SAFETY).await.unwrap();
            assert_eq!(greeting(port), port_line(port), "{options:?}");
            assert!(spawned.wait().await.unwrap().success());
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_hundred_tokio_children_at_once_all_resolve_to_distinct_ports() {
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..100 {
            let options = if i % 2 == 0 {
                SpawnOptions::new()
            } else {
                SpawnOptions::new().named()
            };
            tasks.spawn(tokio_round(options));
        }
        let mut ports = tasks.join_all().await;
        ports.sort_unstable();
        ports.dedup();
        assert_eq!(ports.len(), 100);
    }

    #[tokio::test]
    async fn tokio_spawn_of_a_dying_child_is_child_exited_and_wait_still_works() {
        let mut command = tokio::process::Command::new("bash");
        command.args(["-c", "exit 4"]);
        let (mut spawned, port) = dynamic_port::tokio::spawn(&mut command).unwrap();
        let err = port.timeout(SAFETY).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ChildExited, "{err}");
        assert!(err.to_string().contains("exit code 4"), "{err}");
        assert_eq!(spawned.wait().await.unwrap().code(), Some(4));
    }

    #[test]
    fn tokio_spawn_outside_a_runtime_is_an_error_not_a_panic() {
        let mut command = tokio::process::Command::new("true");
        let err = dynamic_port::tokio::spawn(&mut command).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Io);
        assert!(err.to_string().contains("tokio runtime"), "{err}");
    }
}

#[cfg(feature = "rt-smol")]
#[test]
fn smol_spawn_with_every_option() {
    smol::block_on(async {
        for options in every_option() {
            // smol resets the child's stdout to inherited: a python child prints nothing.
            let (mut spawned, port) =
                dynamic_port::smol::spawn_with(python_server(), options).unwrap();
            let port = port.timeout(SAFETY).await.unwrap();
            assert_eq!(greeting(port), port_line(port), "{options:?}");
            assert!(spawned.status().await.unwrap().success());
        }
        let mut dying = Command::new("bash");
        dying.args(["-c", "exit 6"]);
        let (mut spawned, port) = dynamic_port::smol::spawn(dying).unwrap();
        let err = port.timeout(SAFETY).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ChildExited, "{err}");
        assert_eq!(spawned.status().await.unwrap().code(), Some(6));
    });
}

#[test]
fn a_command_spawned_twice_says_to_build_a_new_one() {
    let mut command = support::bash(r#"echo 4321 >&"${2%%:*}""#);
    let (mut spawned, port) = dynamic_port::spawn(&mut command).unwrap();
    assert_eq!(port.timeout(SAFETY).wait().unwrap(), 4321);
    wait_with_deadline(&mut spawned);
    // The command still carries the first writer, whose pipe is closed now.
    let err = dynamic_port::spawn(&mut command).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io);
    assert!(err.to_string().contains("build a new Command"), "{err}");
}
