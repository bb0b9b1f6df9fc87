//! A named writer's identity is its whole text, not its inode: ext4 (under
//! the target dir) gives a new FIFO the inode of one just removed, and
//! every new writer must still report. This file's one test sets
//! `XDG_RUNTIME_DIR` for the whole process, so it runs alone.
// Unix only: fds, bash, python3 or /proc. Windows has tests/windows.rs.
#![cfg(unix)]

use std::collections::BTreeSet;
use std::os::unix::fs::DirBuilderExt;
use std::path::PathBuf;

use dynamic_port::DynamicPortWriter;

#[test]
fn named_writers_report_though_the_kernel_reuses_their_inodes() {
    let base =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("reuse-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&base)
        .unwrap();
    // SAFETY (of the test): this is the only test of this binary, and no
    // other thread runs yet.
    std::env::set_var("XDG_RUNTIME_DIR", &base);

    let mut inodes = BTreeSet::new();
    let mut reused = 0;
    for round in 0..100 {
        let (writer, port) = DynamicPortWriter::create_named().unwrap();
        assert!(writer.path().unwrap().starts_with(&base), "{writer}");
        let text = writer.to_string();
        let inode: u64 = text.split(':').nth(2).unwrap().parse().unwrap();
        if !inodes.insert(inode) {
            reused += 1;
        }
        // Half of them through a parsed copy, as a child would hold it.
        let result = if round % 2 == 0 {
            writer.report(1000 + round)
        } else {
            let parsed: DynamicPortWriter = text.parse().unwrap();
            drop(writer);
            parsed.report(1000 + round)
        };
        result.unwrap_or_else(|err| panic!("round {round}, {text}: {err}"));
        assert_eq!(port.wait().unwrap(), 1000 + round);
    }
    // Otherwise this test proves nothing: the filesystem must reuse inodes.
    assert!(reused > 0, "no inode was reused in 100 rounds: {inodes:?}");
    std::fs::remove_dir_all(&base).unwrap();
}
