//! The README's pytest fixture, run as written by a real pytest against a
//! Python server through the built `dynamic-port`: the tests reach the
//! server, and nothing is left running afterwards.
// Unix only: fds, bash, python3 or /proc. Windows has tests/windows.rs.
#![cfg(unix)]
#![cfg(feature = "cli")]

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The fixture, as the README shows it.
fn fixture_from_readme() -> String {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme
        .find("<!-- pytest-fixture -->")
        .expect("the README's fixture");
    let block = &readme[start..];
    let code = &block[block.find("```python\n").unwrap() + "```python\n".len()..];
    code[..code.find("```").unwrap()].to_owned()
}

/// A server that says its pid, then greets every connection.
const SERVER: &str = r#"
import os, socket, sys
with open("server.pid", "w") as f: f.write(str(os.getpid()))
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen()
with open(int(sys.argv[2].split(":")[0]), "w") as w: w.write("%d\n" % s.getsockname()[1])
while True:
    c, _ = s.accept(); c.sendall(b"hello\n"); c.close()
"#;

/// Two tests that share the session's server.
const TESTS: &str = r#"
import socket

def greeting(port):
    with socket.create_connection(("127.0.0.1", port)) as c:
        return c.makefile().readline()

def test_it_greets(server_port):
    assert greeting(server_port) == "hello\n"

def test_it_greets_again(server_port):
    assert greeting(server_port) == "hello\n"
"#;

/// A fresh directory for one pytest run.
fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("pytest-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Debian's python3, whose pytest `ci/install-deps.sh` installs (a
/// `python3` earlier on PATH, from pyenv say, may not have it).
const PYTHON: &str = "/usr/bin/python3";

/// pytest in `dir`, with the built `dynamic-port` first on PATH.
fn pytest(dir: &Path) -> Command {
    let bin = Path::new(env!("CARGO_BIN_EXE_dynamic-port"))
        .parent()
        .unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut command = Command::new(PYTHON);
    command
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
        .current_dir(dir)
        .env("PATH", path);
    command
}

#[test]
fn the_readmes_pytest_fixture_starts_the_server_once_and_stops_it() {
    let dir = scratch("ok");
    std::fs::write(dir.join("conftest.py"), fixture_from_readme()).unwrap();
    std::fs::write(dir.join("server.py"), SERVER).unwrap();
    std::fs::write(dir.join("test_app.py"), TESTS).unwrap();
    let output = pytest(&dir).output().unwrap();
    let out = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{out}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(out.contains("2 passed"), "{out}");
    let pid: u32 = std::fs::read_to_string(dir.join("server.pid"))
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        support::gone_within(pid, Duration::from_secs(1)),
        "the server {pid} outlived the session"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_server_that_fails_to_start_fails_the_session_with_a_reason() {
    let dir = scratch("fail");
    std::fs::write(dir.join("conftest.py"), fixture_from_readme()).unwrap();
    std::fs::write(
        dir.join("server.py"),
        "import sys\nprint('no config', file=sys.stderr)\nsys.exit(3)\n",
    )
    .unwrap();
    std::fs::write(dir.join("test_app.py"), TESTS).unwrap();
    let output = pytest(&dir).output().unwrap();
    assert!(!output.status.success());
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(all.contains("the server did not start (exit 3)"), "{all}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_session_killed_by_sigkill_leaves_no_server_behind() {
    let dir = scratch("killed");
    std::fs::write(dir.join("conftest.py"), fixture_from_readme()).unwrap();
    std::fs::write(dir.join("server.py"), SERVER).unwrap();
    let slow = "import time\n\ndef test_slow(server_port):\n    open('started', 'w').close()\n    time.sleep(60)\n";
    std::fs::write(dir.join("test_slow.py"), slow).unwrap();
    let mut pytest = pytest(&dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !dir.join("started").exists() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the session never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid: u32 = std::fs::read_to_string(dir.join("server.pid"))
        .unwrap()
        .parse()
        .unwrap();
    pytest.kill().unwrap();
    pytest.wait().unwrap();
    assert!(
        support::gone_within(pid, Duration::from_secs(1)),
        "the server {pid} outlived pytest by a second"
    );
    std::fs::remove_dir_all(dir).unwrap();
}
