//! Every pairing of a parent's executor with a child's runtime: the parent
//! learns the port, connects, and the child says the port it bound.
// Unix only: fds, bash, python3 or /proc. Windows has tests/windows.rs.
#![cfg(unix)]
#![cfg(all(feature = "rt-tokio", feature = "rt-async-std", feature = "rt-smol"))]

mod support;

use std::net::{IpAddr, Ipv4Addr};

use dynamic_port::{DynamicPortWriter, ErrorKind};
use support::Role;
use support::{child, SAFETY};

/// A child on every runtime: std, tokio (multi-thread and current-thread),
/// async-std and smol.
const CHILDREN: [Role; 5] = [
    Role::Serve,
    Role::ServeTokioMt,
    Role::ServeTokioCt,
    Role::ServeAsyncStd,
    Role::ServeSmol,
];

/// A tokio parent: tokio's `Command` (through `as_std_mut`), `TcpStream`, `.await`.
async fn tokio_parent(role: Role) {
    support::tokio_child_round(role).await;
}

/// A smol parent: `smol::process::Command::from` a std command, smol's `TcpStream`.
async fn smol_parent(role: Role) {
    use smol::io::AsyncBufReadExt;
    let (writer, port) = DynamicPortWriter::create().unwrap();
    let mut command = child(role);
    writer.pass_to(&mut command);
    // (async-process's `From` keeps the args, env and pre_exec hook, not the stdio.)
    let mut spawned = smol::process::Command::from(command)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    drop(writer);
    let port = port.timeout(SAFETY).await.unwrap();
    let stream = smol::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let mut line = String::new();
    smol::io::BufReader::new(stream)
        .read_line(&mut line)
        .await
        .unwrap();
    assert_eq!(line, support::port_line(port), "smol parent, {role} child");
    assert!(spawned.status().await.unwrap().success());
}

/// An async-std parent: std's `Command`, async-std's `TcpStream`.
async fn async_std_parent(role: Role) {
    use async_std::io::prelude::BufReadExt;
    let (writer, port) = DynamicPortWriter::create().unwrap();
    let mut command = child(role);
    writer.pass_to(&mut command);
    let mut spawned = command.spawn().unwrap();
    drop(writer);
    let port = port.timeout(SAFETY).await.unwrap();
    let stream = async_std::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let mut line = String::new();
    async_std::io::BufReader::new(stream)
        .read_line(&mut line)
        .await
        .unwrap();
    assert_eq!(
        line,
        support::port_line(port),
        "async-std parent, {role} child"
    );
    assert!(support::wait_with_deadline(&mut spawned).success());
}

/// A parent with no runtime at all: `futures::executor::block_on` and std I/O.
fn block_on_parent(role: Role) {
    let (writer, port) = DynamicPortWriter::create().unwrap();
    let mut command = child(role);
    writer.pass_to(&mut command);
    let mut spawned = command.spawn().unwrap();
    drop(writer);
    let port = futures::executor::block_on(port.timeout(SAFETY)).unwrap();
    let line = support::greeting(port);
    assert_eq!(
        line,
        support::port_line(port),
        "block_on parent, {role} child"
    );
    assert!(support::wait_with_deadline(&mut spawned).success());
}

#[test]
fn tokio_multi_thread_parent_with_every_child() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    for role in CHILDREN {
        runtime.block_on(tokio_parent(role));
    }
}

#[test]
fn tokio_current_thread_parent_with_every_child() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for role in CHILDREN {
        runtime.block_on(tokio_parent(role));
    }
}

#[test]
fn smol_parent_with_every_child() {
    for role in CHILDREN {
        smol::block_on(smol_parent(role));
    }
}

#[test]
fn async_std_parent_with_every_child() {
    for role in CHILDREN {
        async_std::task::block_on(async_std_parent(role));
    }
}

#[test]
fn futures_block_on_parent_with_every_child() {
    for role in CHILDREN {
        block_on_parent(role);
    }
}

#[test]
fn tokio_where_to_listen_outside_a_tokio_runtime_is_an_error_not_a_panic() {
    let (writer, port) = DynamicPortWriter::create().unwrap();
    let result = futures::executor::block_on(dynamic_port::tokio::where_to_listen(writer));
    let err = result.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io);
    assert!(err.to_string().contains("inside a tokio runtime"), "{err}");
    // Nothing was reported: the writer is gone, so the pipe just closed.
    assert_eq!(
        port.wait().unwrap_err().kind(),
        ErrorKind::ClosedWithoutReport
    );
}

#[test]
fn every_runtime_listens_on_the_address_it_is_given() {
    let any = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (writer, port) = DynamicPortWriter::create().unwrap();
    let listener = runtime
        .block_on(dynamic_port::tokio::where_to_listen_on(writer, any))
        .unwrap();
    assert_eq!(listener.local_addr().unwrap().ip(), any);
    assert_eq!(port.wait().unwrap(), listener.local_addr().unwrap().port());

    let (writer, port) = DynamicPortWriter::create().unwrap();
    let listener = smol::block_on(dynamic_port::smol::where_to_listen_on(writer, any)).unwrap();
    assert_eq!(listener.local_addr().unwrap().ip(), any);
    assert_eq!(port.wait().unwrap(), listener.local_addr().unwrap().port());

    let (writer, port) = DynamicPortWriter::create().unwrap();
    let listener =
        async_std::task::block_on(dynamic_port::async_std::where_to_listen_on(writer, any))
            .unwrap();
    assert_eq!(listener.local_addr().unwrap().ip(), any);
    assert_eq!(port.wait().unwrap(), listener.local_addr().unwrap().port());
}

#[test]
fn every_runtime_child_reports_through_a_named_writer() {
    for role in CHILDREN {
        for options in [
            dynamic_port::SpawnOptions::new().named(),
            dynamic_port::SpawnOptions::new().named().env(),
        ] {
            let (mut spawned, port) = options.spawn(&mut child(role)).unwrap();
            let port = port.timeout(SAFETY).wait().unwrap();
            assert_eq!(support::greeting(port), support::port_line(port), "{role}");
            assert!(
                support::wait_with_deadline(&mut spawned).success(),
                "{role}"
            );
        }
    }
}
