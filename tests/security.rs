//! Who can report a port: only processes that hold the pipe. This file
//! documents, with a test, the one way around that the README's security
//! note describes: a process allowed to ptrace the child (same uid, or root)
//! can open the child's pipe through `/proc/<pid>/fd/<fd>`.
// Unix only: fds, bash, python3 or /proc. Windows has tests/windows.rs.
#![cfg(unix)]

mod support;

use std::io::Write;
use std::process::Stdio;

use dynamic_port::DynamicPortWriter;
use support::Role;
use support::{child, inode_of, pipe_inodes_of, wait_for_marker, SAFETY};

#[test]
fn the_pipe_has_no_name_to_open_except_through_a_holders_proc_entry() {
    let (writer, port) = DynamicPortWriter::create().unwrap();
    let inode = inode_of(&writer);
    let mut command = child(Role::Hang);
    command.stdout(Stdio::piped());
    writer.pass_to(&mut command);
    let mut spawned = command.spawn().unwrap();
    let fd = writer.fd().unwrap();
    drop(writer);
    wait_for_marker(&mut spawned, "READY");

    // The child holds the pipe; nothing on any filesystem names it.
    assert!(pipe_inodes_of(spawned.id()).contains(&inode));

    // A process with ptrace read access to the child (here: the same uid)
    // can open it through /proc and report a port of its choosing.
    let path = format!("/proc/{}/fd/{fd}", spawned.id());
    let mut opened = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    opened.write_all(b"1234\n").unwrap();
    assert_eq!(port.timeout(SAFETY).wait().unwrap(), 1234);

    spawned.kill().unwrap();
    spawned.wait().unwrap();
}
