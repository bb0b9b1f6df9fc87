//! Where a named writer's private directory goes, when the places it looks
//! at are not this user's: a `$XDG_RUNTIME_DIR` owned by another user (as
//! for root with a user's environment) or writable by others is passed
//! over for the next candidate. This file's one test sets the environment
//! of the whole process, so it runs alone.
// Unix only: fds, bash, python3 or /proc. Windows has tests/windows.rs.
#![cfg(unix)]

use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use dynamic_port::DynamicPortWriter;

/// A fresh directory under the target dir with `mode`.
fn dir(name: &str, mode: u32) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("base-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&path);
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&path)
        .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path
}

/// Where a named writer made now puts its FIFO, and that it works.
fn made_in() -> PathBuf {
    let (writer, port) = DynamicPortWriter::create_named().unwrap();
    let dir = writer
        .path()
        .unwrap()
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .to_owned();
    writer.report(4711).unwrap();
    assert_eq!(port.wait().unwrap(), 4711);
    dir
}

#[test]
fn a_base_dir_that_is_not_this_users_own_is_passed_over() {
    // SAFETY (of the test): this is the only test of this binary.
    let mine = dir("mine", 0o700);
    std::env::set_var("XDG_RUNTIME_DIR", &mine);
    assert_eq!(made_in(), mine);

    // Writable by others, not sticky: passed over for /dev/shm.
    let open = dir("open", 0o777);
    std::env::set_var("XDG_RUNTIME_DIR", &open);
    assert_eq!(made_in(), Path::new("/dev/shm"));

    // Sticky and writable by all, as /tmp: fine.
    let sticky = dir("sticky", 0o1777);
    std::env::set_var("XDG_RUNTIME_DIR", &sticky);
    assert_eq!(made_in(), sticky);

    // Another user's (root with a user's environment): passed over.
    // SAFETY: plain chown of a path this test made.
    let is_root = unsafe { libc::geteuid() } == 0;
    if is_root {
        let theirs = dir("theirs", 0o700);
        std::os::unix::fs::chown(&theirs, Some(4242), Some(4242)).unwrap();
        std::env::set_var("XDG_RUNTIME_DIR", &theirs);
        assert_eq!(made_in(), Path::new("/dev/shm"));
        assert_eq!(std::fs::read_dir(&theirs).unwrap().count(), 0);
        std::fs::remove_dir(&theirs).unwrap();
    } else if std::env::var_os("DP_REQUIRE_NETNS").is_some() {
        panic!("as root in CI, the other user's directory must be tried");
    }

    // A relative path is passed over too (the unit tests try a non-UTF-8 one).
    std::env::set_var("XDG_RUNTIME_DIR", "relative/dir");
    assert_eq!(made_in(), Path::new("/dev/shm"));

    for path in [mine, open, sticky] {
        std::fs::remove_dir_all(path).unwrap();
    }
}
