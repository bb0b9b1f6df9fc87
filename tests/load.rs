//! Load: 1,000 children at once under one tokio parent, each reporting
//! through its own writer. Every port is right, nothing is left over, and
//! the library adds the same threads for 10 pending writers as for 1,000.
//!
//! One test in its own binary, so that the fd and thread counts of
//! `/proc/self` see nothing but this test.
// Unix only: fds, bash, python3 or /proc. Windows has tests/windows.rs.
#![cfg(unix)]
#![cfg(feature = "rt-tokio")]

mod support;

use std::collections::HashSet;

use dynamic_port::DynamicPortWriter;
use support::open_fd_count;
use support::Role;

/// Threads of this process.
fn thread_count() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

/// Makes sure this process may open `needed` fds, raising the soft limit up
/// to the hard one if it is lower.
fn ensure_fd_limit(needed: u64) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: a valid pointer to an rlimit.
    let got = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    assert_eq!(got, 0);
    if limit.rlim_cur < needed {
        assert!(
            limit.rlim_max >= needed,
            "the hard fd limit {} is below {needed}",
            limit.rlim_max
        );
        limit.rlim_cur = needed;
        // SAFETY: a valid pointer to an rlimit.
        assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) }, 0);
    }
}

/// Creates `count` writers and polls each future once, so that each is
/// registered with the reactor; returns them, pending.
fn pending(count: usize) -> Vec<(DynamicPortWriter, dynamic_port::PortFuture)> {
    (0..count)
        .map(|_| {
            let (writer, mut port) = DynamicPortWriter::create().unwrap();
            assert!(futures::FutureExt::now_or_never(&mut port).is_none());
            (writer, port)
        })
        .collect()
}

#[test]
fn a_thousand_children_at_once_under_one_tokio_parent() {
    const CHILDREN: usize = 1000;
    ensure_fd_limit(8 * CHILDREN as u64);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let threads_before = thread_count();
    // The reactor opens its own few fds once per process, on first use.
    drop(pending(1));
    let fds_before = open_fd_count();

    // The threads the library adds do not grow with the pending writers.
    let few = pending(10);
    let threads_with_few = thread_count();
    let many = pending(CHILDREN);
    let threads_with_many = thread_count();
    assert!(
        threads_with_few - threads_before <= 1,
        "more than async-io's one thread"
    );
    assert_eq!(threads_with_many, threads_with_few);
    assert_eq!(open_fd_count(), fds_before + 2 * (10 + CHILDREN));
    drop((few, many));
    assert_eq!(open_fd_count(), fds_before);

    let ports = runtime.block_on(support::tokio_start_many(Role::Serve, CHILDREN));
    assert_eq!(ports.len(), CHILDREN);
    assert_eq!(
        ports.iter().collect::<HashSet<_>>().len(),
        CHILDREN,
        "ports repeat"
    );
    assert_eq!(open_fd_count(), fds_before, "fds left over");
    assert_eq!(thread_count(), threads_with_few, "threads left over");
}
