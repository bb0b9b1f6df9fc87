//! Many children at once under one tokio parent: every port resolves, the
//! ports are distinct, and each is the one its child bound.
// Unix only: fds, bash, python3 or /proc. Windows has tests/windows.rs.
#![cfg(unix)]
#![cfg(feature = "rt-tokio")]

mod support;

use std::collections::HashSet;
use support::Role;

#[test]
fn two_hundred_children_started_at_once_all_resolve_to_distinct_ports() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let ports = runtime.block_on(support::tokio_start_many(Role::ServeTokioCt, 200));
    assert_eq!(ports.len(), 200);
    assert_eq!(
        ports.iter().collect::<HashSet<_>>().len(),
        200,
        "ports repeat"
    );
}
