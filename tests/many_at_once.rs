//! Many children at once under one tokio parent: every port resolves, the
//! ports are distinct, and each is the one its child bound.
#![cfg(feature = "rt-tokio")]

mod support;

use std::collections::HashSet;

use dynamic_port::DynamicPortWriter;
use support::{child, SAFETY};
use tokio::io::AsyncBufReadExt;

/// Starts `count` tokio-child servers at once and checks every one.
async fn start_many(count: usize) {
    let mut pending = Vec::new();
    for _ in 0..count {
        let (writer, port) = DynamicPortWriter::create().unwrap();
        let mut command = tokio::process::Command::from(child("serve-tokio-ct"));
        writer.pass_to(command.as_std_mut());
        let spawned = command.kill_on_drop(true).spawn().unwrap();
        drop(writer);
        pending.push((spawned, port));
    }
    let mut tasks = tokio::task::JoinSet::new();
    for (mut spawned, port) in pending {
        tasks.spawn(async move {
            let port = port.timeout(SAFETY).await.unwrap();
            let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .unwrap();
            let mut line = String::new();
            tokio::io::BufReader::new(stream)
                .read_line(&mut line)
                .await
                .unwrap();
            assert_eq!(line, format!("port {port}\n"));
            assert!(spawned.wait().await.unwrap().success());
            port
        });
    }
    let ports: Vec<u16> = tasks.join_all().await;
    assert_eq!(ports.len(), count);
    assert_eq!(
        ports.iter().collect::<HashSet<_>>().len(),
        count,
        "ports repeat"
    );
}

#[test]
fn two_hundred_children_started_at_once_all_resolve_to_distinct_ports() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(start_many(200));
}
