//! The runtime adapters' `where_to_listen` never blocks the executor, even
//! for a remote writer whose parent does not answer: the connect waits in
//! the reactor while the executor's other tasks run.
// Unix only: fds, bash, python3 or /proc. Windows has tests/windows.rs.
#![cfg(unix)]
#![cfg(all(feature = "rt-tokio", feature = "rt-smol"))]

use std::net::{SocketAddr, TcpStream};
use std::os::fd::{FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dynamic_port::DynamicPortWriter;

/// A listener whose backlog is full: it never accepts, and a new connect
/// to it hangs (its SYN is dropped), as against a parent that stalls.
/// Returns the listener and the connections that filled it.
fn full_backlog() -> (OwnedFd, SocketAddr, Vec<TcpStream>) {
    // SAFETY: plain socket calls on a fresh fd, with valid pointers and sizes.
    let fd = unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0);
        let mut addr: libc::sockaddr_in = std::mem::zeroed();
        addr.sin_family = libc::AF_INET as libc::sa_family_t;
        addr.sin_addr.s_addr = u32::from_be_bytes([127, 0, 0, 1]).to_be();
        let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        assert_eq!(libc::bind(fd, std::ptr::addr_of!(addr).cast(), len), 0);
        assert_eq!(libc::listen(fd, 0), 0);
        let mut len = len;
        assert_eq!(
            libc::getsockname(fd, std::ptr::addr_of_mut!(addr).cast(), &mut len),
            0
        );
        let port = u16::from_be(addr.sin_port);
        (OwnedFd::from_raw_fd(fd), port)
    };
    let (fd, port) = fd;
    let at = SocketAddr::from(([127, 0, 0, 1], port));
    let mut filled = Vec::new();
    while let Ok(stream) = TcpStream::connect_timeout(&at, Duration::from_millis(200)) {
        filled.push(stream);
        assert!(filled.len() < 64, "the backlog never filled");
    }
    (fd, at, filled)
}

/// A child's writer for a parent at `at` (the token does not matter here).
fn writer_to(at: SocketAddr) -> DynamicPortWriter {
    format!("tcp:{}@{at}", "ab".repeat(16)).parse().unwrap()
}

/// How long the test lets `where_to_listen` wait, and how often the ticker ticks.
const LOOK: Duration = Duration::from_millis(500);
const TICK: Duration = Duration::from_millis(10);

#[test]
fn tokio_where_to_listen_keeps_a_current_thread_runtime_running() {
    let (_listener, at, _filled) = full_backlog();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let ticks = Arc::new(AtomicU32::new(0));
    let counted = Arc::clone(&ticks);
    runtime.block_on(async move {
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(TICK).await;
                counted.fetch_add(1, Ordering::SeqCst);
            }
        });
        let listening = dynamic_port::tokio::where_to_listen(writer_to(at));
        // It must still be waiting on the stalled parent, not done or failed.
        assert!(tokio::time::timeout(LOOK, listening).await.is_err());
    });
    // A blocking connect would have held the thread: no tick at all.
    let ticks = ticks.load(Ordering::SeqCst);
    assert!(ticks >= 10, "the ticker ticked {ticks} times in {LOOK:?}");
}

#[test]
fn smol_where_to_listen_keeps_a_local_executor_running() {
    let (_listener, at, _filled) = full_backlog();
    let executor = smol::LocalExecutor::new();
    let ticks = Arc::new(AtomicU32::new(0));
    let counted = Arc::clone(&ticks);
    let ticker = executor.spawn(async move {
        loop {
            smol::Timer::after(TICK).await;
            counted.fetch_add(1, Ordering::SeqCst);
        }
    });
    let listening = executor.spawn(dynamic_port::smol::where_to_listen(writer_to(at)));
    smol::block_on(executor.run(smol::Timer::after(LOOK)));
    assert!(!listening.is_finished());
    drop((ticker, listening));
    let ticks = ticks.load(Ordering::SeqCst);
    assert!(ticks >= 10, "the ticker ticked {ticks} times in {LOOK:?}");
}

#[test]
fn a_remote_report_under_tokio_goes_through_and_cannot_be_made_twice() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let (writer, port) =
            DynamicPortWriter::create_remote("127.0.0.1:0".parse().unwrap()).unwrap();
        let copy = writer.clone();
        let listener = dynamic_port::tokio::where_to_listen(writer).await.unwrap();
        let addr = port.addr().await.unwrap();
        assert_eq!(addr, listener.local_addr().unwrap());
        let again = dynamic_port::tokio::where_to_listen(copy)
            .await
            .unwrap_err();
        assert_eq!(
            again.kind(),
            dynamic_port::ErrorKind::AlreadyReported,
            "{again}"
        );
    });
}
