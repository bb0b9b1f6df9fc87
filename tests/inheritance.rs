//! Only the child given the writer inherits the write end: not children that
//! other threads spawn meanwhile, and not the child's own children.
// Unix only: fds, bash, python3 or /proc. Windows has tests/windows.rs.
#![cfg(unix)]

mod support;

use std::collections::HashSet;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use dynamic_port::{DynamicPortWriter, ErrorKind};
use support::Role;
use support::{
    assert_kind, child, greeting, inode_of, pipe_inodes_of, stdout_of, wait_for_marker,
    wait_with_deadline, SAFETY,
};

#[test]
fn only_the_given_children_inherit_while_another_thread_spawns_hundreds() {
    let writers: Vec<_> = (0..20)
        .map(|_| DynamicPortWriter::create().unwrap())
        .collect();
    let ours: HashSet<u64> = writers.iter().map(|(w, _)| inode_of(w)).collect();

    let done = Arc::new(AtomicBool::new(false));
    let unrelated = std::thread::spawn({
        let (ours, done) = (ours.clone(), done.clone());
        move || {
            let mut checked = 0;
            while checked < 300 || !done.load(Ordering::Acquire) {
                let mut other = Command::new("cat")
                    .stdin(Stdio::piped())
                    .stdout(Stdio::null())
                    .spawn()
                    .unwrap();
                // spawn() returns after exec: the fd table is final.
                let leaked: Vec<u64> = pipe_inodes_of(other.id())
                    .into_iter()
                    .filter(|inode| ours.contains(inode))
                    .collect();
                drop(other.stdin.take());
                other.wait().unwrap();
                assert!(leaked.is_empty(), "unrelated child inherited {leaked:?}");
                checked += 1;
            }
            checked
        }
    });

    let mut children = Vec::new();
    for (writer, _) in &writers {
        let mut command = child(Role::Hang);
        writer.pass_to(&mut command);
        let spawned = command.spawn().unwrap();
        // The child was given exactly its own pipe, and no other of ours.
        let inherited: HashSet<u64> = pipe_inodes_of(spawned.id()).into_iter().collect();
        assert!(inherited.contains(&inode_of(writer)));
        assert_eq!(inherited.intersection(&ours).count(), 1, "{inherited:?}");
        children.push(spawned);
    }
    done.store(true, Ordering::Release);
    assert!(unrelated.join().unwrap() >= 300);
    for mut child in children {
        child.kill().unwrap();
        child.wait().unwrap();
    }
    for (writer, port) in writers {
        drop(writer);
        assert_kind(port.timeout(SAFETY).wait(), ErrorKind::ClosedWithoutReport);
    }
}

#[test]
fn spawning_after_the_writer_is_dropped_fails_with_ebadf() {
    let (writer, port) = DynamicPortWriter::create().unwrap();
    let mut command = child(Role::Serve);
    writer.pass_to(&mut command);
    drop(writer);
    let err = command.spawn().unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EBADF), "{err}");
    assert_kind(port.timeout(SAFETY).wait(), ErrorKind::ClosedWithoutReport);
}

#[test]
fn the_command_does_not_keep_the_write_end_open() {
    // `pass_to` holds no strong reference: after the spawn and the drop of
    // the writer, a child that dies is noticed even while `command` lives.
    let (writer, port) = DynamicPortWriter::create().unwrap();
    let mut command = child(Role::Exit);
    writer.pass_to(&mut command);
    let mut spawned = command.spawn().unwrap();
    drop(writer);
    assert_kind(port.timeout(SAFETY).wait(), ErrorKind::ClosedWithoutReport);
    wait_with_deadline(&mut spawned);
    drop(command);
}

/// Kills a grandchild the test started through a child.
fn kill(pid: u32) {
    // SAFETY: sending a signal is sound; the pid is our grandchild's.
    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
}

#[test]
fn the_childs_own_children_do_not_inherit_the_write_end() {
    let (writer, port) = DynamicPortWriter::create().unwrap();
    let inode = inode_of(&writer);
    let mut command = child(Role::GrandchildThenReport);
    command.stdout(Stdio::piped());
    writer.pass_to(&mut command);
    let mut spawned = command.spawn().unwrap();
    drop(writer);
    let grandchild: u32 = wait_for_marker(&mut spawned, "GRANDCHILD").parse().unwrap();
    let port = port.timeout(SAFETY).wait().unwrap();
    assert!(!pipe_inodes_of(grandchild).contains(&inode));
    assert_eq!(greeting(port), support::port_line(port));
    kill(grandchild);
    wait_with_deadline(&mut spawned);
}

#[test]
fn a_child_that_dies_while_its_grandchild_lives_on_fails_promptly() {
    // If the grandchild (sleeping 30 s) had inherited the write end, the
    // pipe would stay open and this would time out instead.
    let (writer, port) = DynamicPortWriter::create().unwrap();
    let mut command = child(Role::GrandchildThenExit);
    command.stdout(Stdio::piped());
    writer.pass_to(&mut command);
    let mut spawned = command.spawn().unwrap();
    drop(writer);
    assert_kind(
        port.timeout(SAFETY / 2).wait(),
        ErrorKind::ClosedWithoutReport,
    );
    let out = stdout_of(&mut spawned);
    kill(
        support::marker(&out, "GRANDCHILD")
            .unwrap()
            .parse()
            .unwrap(),
    );
}

#[test]
fn a_child_may_pass_its_writer_on_to_a_grandchild() {
    let (mut relay, port) =
        support::spawn_and_wait_for_port(child(Role::Relay), |writer, command| {
            writer.pass_to(command);
        });
    let port = port.unwrap();
    assert_eq!(greeting(port), support::port_line(port));
    assert!(wait_with_deadline(&mut relay).success());
}
