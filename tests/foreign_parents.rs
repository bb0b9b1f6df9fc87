//! A parent in another language, without this crate, as the README shows
//! it: Python makes the pipe, passes the write end to a Rust child that uses
//! this crate, closes its own copy and reads one line.
// Unix only: fds, bash, python3 or /proc. Windows has tests/windows.rs.
#![cfg(unix)]

mod support;

use std::process::{Command, Stdio};

use support::Role;
use support::{child, stdout_of, ROLE_VAR};

/// The README's Python parent, spawning `program args...` and printing the port.
const PYTHON_PARENT: &str = r#"
import os, socket, subprocess, sys

r, w = os.pipe()                       # both ends close-on-exec in Python
writer = f"{w}:pipe:{os.fstat(w).st_ino}"
child = subprocess.Popen(sys.argv[1:] + ["--dynamic-port-writer", writer], pass_fds=[w],
                         stdout=subprocess.DEVNULL)
os.close(w)                            # now only the child holds the write end
with os.fdopen(r, "rb") as pipe:
    line = pipe.readline(4096)         # b"" if the child died without reporting
if not line:
    print("DIED:", child.wait())
    sys.exit(0)
port = int(line.split(b"\0")[0].split()[0])
with socket.create_connection(("127.0.0.1", port)) as s:
    print("GREETING:", s.makefile().readline().strip())
print("STATUS:", child.wait())
"#;

/// Runs the Python parent over the test binary playing `role`.
fn python_parent_of(role: Role) -> String {
    let program = child(role);
    let mut command = Command::new("python3");
    command
        .arg("-c")
        .arg(PYTHON_PARENT)
        .arg(program.get_program())
        .args(program.get_args())
        .env(ROLE_VAR, role.name())
        .stdout(Stdio::piped());
    let mut python = command.spawn().unwrap();
    stdout_of(&mut python)
}

#[test]
fn a_python_parent_learns_the_port_of_a_rust_child() {
    let out = python_parent_of(Role::Serve);
    let greeting = support::marker(&out, "GREETING").unwrap_or_else(|| panic!("{out}"));
    assert!(greeting.starts_with("port "), "{out}");
    assert_eq!(support::marker(&out, "STATUS"), Some("0"), "{out}");
}

#[test]
fn a_python_parent_sees_a_rust_child_die_as_end_of_stream() {
    let out = python_parent_of(Role::ExitNonzero);
    assert_eq!(support::marker(&out, "DIED"), Some("3"), "{out}");
}
