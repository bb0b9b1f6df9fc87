//! Remote children through a real cluster scheduler: a one-node Slurm
//! cluster that `ci/slurm.sh` makes, its controller on this host (the login
//! node, 10.231.88.1) and its compute node `dp-node` a network namespace
//! (10.231.88.2). Each test starts a server with `srun` and reaches it on
//! the compute node.
//!
//! As root with `DP_REQUIRE_SLURM` set (as CI sets it), a cluster that
//! cannot start fails every test; elsewhere they are skipped, saying so.
//! The tests run one at a time: each checks that it leaves no job behind.
// Unix only: fds, bash, python3 or /proc. Windows has tests/windows.rs.
#![cfg(unix)]

mod support;

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use dynamic_port::{DynamicPortWriter, ErrorKind, PortFuture};
use support::{child, greeting_at, port_line, wait_with_deadline, Role, ROLE_VAR, SAFETY};

/// The login node's address on the cluster network: where the parent listens.
const LOGIN_IP: &str = "10.231.88.1";
/// The compute node's address, where the servers run.
const NODE_IP: &str = "10.231.88.2";
/// The compute node's network namespace.
const NODE_NETNS: &str = "dp-slurm";

/// Serializes the tests of this file.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// The cluster's `SLURM_CONF`, once `ci/slurm.sh up` made it; `None` to skip.
fn cluster() -> Option<(MutexGuard<'static, ()>, &'static str)> {
    static CONF: OnceLock<Option<String>> = OnceLock::new();
    let conf = CONF.get_or_init(|| {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/ci/slurm.sh");
        let out = Command::new("bash")
            .args([script, "up"])
            .stderr(Stdio::inherit())
            .output();
        match out {
            Ok(out) if out.status.success() => {
                Some(String::from_utf8(out.stdout).unwrap().trim().to_owned())
            }
            _ if std::env::var_os("DP_REQUIRE_SLURM").is_some() => {
                panic!("ci/slurm.sh up failed, and DP_REQUIRE_SLURM is set")
            }
            _ => None,
        }
    });
    let Some(conf) = conf.as_deref() else {
        eprintln!(
            "skipped: the Slurm cluster needs root, slurm-wlm and munge (ci/slurm.sh up failed)"
        );
        return None;
    };
    let alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    Some((alone, conf))
}

/// `srun --quiet -- (this binary playing ROLE)`, given the cluster's config;
/// the writer's flag, if any, goes after it.
fn srun(conf: &str, role: Role) -> Command {
    let task = child(role);
    let mut command = Command::new("srun");
    command
        .args(["--quiet", "--job-name", "dynamic-port-test", "--"])
        .arg(task.get_program())
        .args(task.get_args())
        .env("SLURM_CONF", conf)
        .env(ROLE_VAR, role.name())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command
}

/// A remote writer on the login node's cluster address.
fn remote() -> (DynamicPortWriter, PortFuture) {
    DynamicPortWriter::create_remote(SocketAddr::new(LOGIN_IP.parse().unwrap(), 0)).unwrap()
}

/// Spawns `srun`, watched, after the writer went as the flag or in the env.
fn start(conf: &str, role: Role, by_env: bool) -> (Child, PortFuture) {
    let (writer, port) = remote();
    let mut command = srun(conf, role);
    if by_env {
        writer.pass_to_env(&mut command);
    } else {
        writer.pass_to(&mut command);
    }
    let mut spawned = command.spawn().unwrap();
    drop(writer);
    let port = port.watch(&mut spawned);
    (spawned, port)
}

/// The jobs of the test's name still in the queue.
fn jobs(conf: &str) -> String {
    let out = Command::new("squeue")
        .args([
            "--noheader",
            "--name",
            "dynamic-port-test",
            "--format",
            "%i %T",
        ])
        .env("SLURM_CONF", conf)
        .output()
        .unwrap();
    assert!(out.status.success(), "squeue: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// Whether the queue is empty of the tests' jobs within `within`.
fn no_job_within(conf: &str, within: Duration) -> bool {
    let start = Instant::now();
    loop {
        if jobs(conf).trim().is_empty() {
            return true;
        }
        if start.elapsed() > within {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_server_started_with_srun_reports_its_compute_node_address_by_env_and_by_flag() {
    let Some((_alone, conf)) = cluster() else {
        return;
    };
    for by_env in [true, false] {
        let (mut spawned, port) = start(conf, Role::ServeAny, by_env);
        let addr = port.addr().timeout(SAFETY).wait().unwrap();
        assert_eq!(addr.ip().to_string(), NODE_IP, "by env: {by_env}");
        assert_eq!(greeting_at(addr), port_line(addr.port()));
        assert!(wait_with_deadline(&mut spawned).success());
    }
    assert!(
        no_job_within(conf, Duration::from_secs(5)),
        "{}",
        jobs(conf)
    );
}

#[test]
fn a_task_that_dies_before_reporting_fails_the_future_through_the_watched_srun() {
    let Some((_alone, conf)) = cluster() else {
        return;
    };
    let (mut spawned, port) = start(conf, Role::ExitNonzero, true);
    let started = Instant::now();
    let err = port.timeout(SAFETY).wait().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ChildExited, "{err}");
    assert!(err.to_string().contains("exit code 3"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(wait_with_deadline(&mut spawned).code(), Some(3));
}

#[test]
fn a_silent_task_times_out_and_stopping_srun_ends_its_job() {
    let Some((_alone, conf)) = cluster() else {
        return;
    };
    let (mut spawned, port) = start(conf, Role::Hang, true);
    let err = port.timeout(Duration::from_secs(1)).wait().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TimedOut, "{err}");
    // SIGTERM to srun: Slurm kills the task, and the job ends.
    send_signal(spawned.id(), libc::SIGTERM);
    wait_with_deadline(&mut spawned);
    assert!(
        no_job_within(conf, Duration::from_secs(10)),
        "{}",
        jobs(conf)
    );
}

#[test]
fn ten_parents_at_once_each_reach_their_own_server() {
    let Some((_alone, conf)) = cluster() else {
        return;
    };
    let conf = conf.to_owned();
    let parents: Vec<_> = (0..10)
        .map(|_| {
            let conf = conf.clone();
            std::thread::spawn(move || {
                let (mut spawned, port) = start(&conf, Role::ServeAny, true);
                let addr = port.addr().timeout(SAFETY).wait().unwrap();
                assert_eq!(addr.ip().to_string(), NODE_IP);
                assert_eq!(greeting_at(addr), port_line(addr.port()));
                assert!(wait_with_deadline(&mut spawned).success());
                addr.port()
            })
        })
        .collect();
    let mut ports: Vec<u16> = parents.into_iter().map(|p| p.join().unwrap()).collect();
    ports.sort_unstable();
    ports.dedup();
    assert_eq!(ports.len(), 10, "each its own server");
    assert!(
        no_job_within(&conf, Duration::from_secs(5)),
        "{}",
        jobs(&conf)
    );
}

#[test]
fn dropping_the_future_while_the_task_starts_leaves_no_job() {
    let Some((_alone, conf)) = cluster() else {
        return;
    };
    let (mut spawned, port) = start(conf, Role::ServeAny, true);
    drop(port);
    // The task's report finds no listener (Abandoned), and it exits.
    let status = wait_with_deadline(&mut spawned);
    assert!(!status.success(), "{status}");
    assert!(
        no_job_within(conf, Duration::from_secs(5)),
        "{}",
        jobs(conf)
    );
}

#[test]
fn intruders_from_the_compute_nodes_network_change_nothing() {
    let Some((_alone, conf)) = cluster() else {
        return;
    };
    let (writer, port) = remote();
    let listener = writer.remote_addr().unwrap();
    // From the compute node's namespace: a wrong token, junk, and silence.
    let intrude = |bytes: &str| {
        Command::new("ip")
            .args(["netns", "exec", NODE_NETNS, "bash", "-c"])
            .arg(format!(
                "exec 3<>/dev/tcp/{}/{} && printf '{bytes}' >&3 && sleep 0.3",
                listener.ip(),
                listener.port()
            ))
            .spawn()
            .unwrap()
    };
    let mut intruders = vec![
        intrude(&format!("{} 80\\n", "0123456789abcdef".repeat(2))),
        intrude("GET / HTTP/1.0\\r\\n\\r\\n"),
        intrude(""),
    ];
    std::thread::sleep(Duration::from_millis(100));
    let mut command = srun(conf, Role::ServeAny);
    writer.pass_to_env(&mut command);
    let mut spawned = command.spawn().unwrap();
    drop(writer);
    let port = port.watch(&mut spawned);
    let addr = port.addr().timeout(SAFETY).wait().unwrap();
    assert_eq!(addr.ip().to_string(), NODE_IP);
    assert_eq!(greeting_at(addr), port_line(addr.port()));
    assert!(wait_with_deadline(&mut spawned).success());
    for intruder in &mut intruders {
        wait_with_deadline(intruder);
    }
}

#[test]
#[cfg(feature = "cli")]
fn dynamic_port_run_remote_then_sees_the_compute_node_and_the_job_stops_gracefully() {
    let Some((_alone, conf)) = cluster() else {
        return;
    };
    // A shell server on the compute node: it reports over /dev/tcp with the
    // token, and leaves cleanly on SIGINT.
    let marker = std::env::temp_dir().join(format!("dp-slurm-graceful-{}", std::process::id()));
    let _ = std::fs::remove_file(&marker);
    let task = format!(
        r#"trap 'echo graceful > {marker:?}; exit 0' INT
        w=${{DYNAMIC_PORT_WRITER#tcp:}}; token=${{w%@*}}; addr=${{w#*@}}
        exec 3<>"/dev/tcp/${{addr%:*}}/${{addr##*:}}"; echo "$token 4242" >&3; exec 3>&-
        while true; do sleep 0.05; done"#
    );
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_dynamic-port"))
        .args(["run", "--remote", &format!("{LOGIN_IP}:0"), "--env"])
        .args(["--stop-signal", "INT,INT", "--grace", "10"])
        // The command takes a moment, as tests do. Stopped at once after
        // the report, the task missed its SIGINT in 2 of 5 runs here: srun
        // is still setting its step up then.
        .args(["--then", r#"echo "PORT=$PORT ADDR=$ADDR"; sleep 1"#, "--"])
        .args([
            "srun",
            "--quiet",
            "--job-name",
            "dynamic-port-test",
            "bash",
            "-c",
            &task,
        ])
        .env("SLURM_CONF", conf)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let addr = format!("{NODE_IP}:4242");
    assert_eq!(stdout, format!("4242\n{addr}\nPORT=4242 ADDR={addr}\n"));
    // Stopped by its SIGINT, well within the grace, and its job gone.
    assert_eq!(std::fs::read_to_string(&marker).unwrap(), "graceful\n");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert!(
        no_job_within(conf, Duration::from_secs(10)),
        "{}",
        jobs(conf)
    );
    std::fs::remove_file(marker).unwrap();
}

/// `kill(pid, signal)`.
fn send_signal(pid: u32, signal: i32) {
    // SAFETY: kill takes two integers; a stale pid is at worst ESRCH.
    unsafe { libc::kill(pid as libc::pid_t, signal) };
}
