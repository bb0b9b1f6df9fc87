//! Remote writers under attack: an adaptive attacker who guesses the token
//! digit by digit and watches everything its guesses cause, a flood of
//! connections right after the child's report, and peers whose addresses
//! come back in another form than they connected with.
//!
//! The children are bash scripts that report through `/dev/tcp`, as a
//! child on another host without the crate would.
// Unix only: fds, bash, python3 or /proc. Windows has tests/windows.rs.
#![cfg(unix)]

mod support;

use std::io::{ErrorKind as IoKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use dynamic_port::{DynamicPortWriter, Error, PortFuture};
use support::{wait_with_deadline, SAFETY};

/// The token's length in hex digits (128 bits).
const TOKEN_HEX: usize = 32;

/// A remote writer on `addr` and its text's parts.
fn remote(addr: &str) -> (DynamicPortWriter, PortFuture, String, SocketAddr) {
    let (writer, port) = DynamicPortWriter::create_remote(addr.parse().unwrap()).unwrap();
    let (token, at) = support::token_and_addr(&writer);
    assert_eq!(token.len(), TOKEN_HEX, "{writer}");
    (writer, port, token, at)
}

/// The parent, waiting for `addr()` in a thread of its own.
fn parent_waits(port: PortFuture) -> JoinHandle<Result<SocketAddr, Error>> {
    std::thread::spawn(move || port.timeout(SAFETY).addr().wait())
}

/// A bash child that binds nothing but reports `report` through `/dev/tcp`
/// with the token from its env var; with `pause`, it sends the token, then
/// waits for a line on its stdin before it sends the report.
fn bash_reporter(writer: &DynamicPortWriter, report: &str, pause: bool) -> Child {
    let script = r#"
        text=${DYNAMIC_PORT_WRITER#tcp:}; token=${text%@*}; addr=${text#*@}
        exec 3<>"/dev/tcp/${addr%:*}/${addr##*:}"
        printf '%s ' "$token" >&3
        if [ "$2" = pause ]; then read -r go; fi
        printf '%s\n' "$1" >&3
    "#;
    let mut command = Command::new("bash");
    let pause = if pause { "pause" } else { "go" };
    command
        .args(["-c", script, "bash", report, pause])
        .stdin(Stdio::piped());
    writer.pass_to_env(&mut command);
    command.spawn().unwrap()
}

/// What a connection shows its owner, once it has sent its bytes and waited.
#[derive(Clone, Debug, PartialEq, Eq)]
enum View {
    /// Still open, nothing to read.
    Open,
    /// Closed by the parent (end of stream or a reset: both only say "closed").
    Closed,
    /// The parent wrote something back.
    Wrote(Vec<u8>),
}

/// Opens a connection and sends `bytes`.
fn guess(at: SocketAddr, bytes: &[u8]) -> TcpStream {
    let mut stream = TcpStream::connect(at).unwrap();
    stream.write_all(bytes).unwrap();
    stream
}

/// What `stream` shows now, without waiting.
fn view(stream: &mut TcpStream) -> View {
    stream.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 64];
    match stream.read(&mut buf) {
        Ok(0) => View::Closed,
        Ok(n) => View::Wrote(buf[..n].to_vec()),
        Err(err) if err.kind() == IoKind::WouldBlock => View::Open,
        Err(err) if err.kind() == IoKind::ConnectionReset => View::Closed,
        Err(err) => panic!("reading a guess: {err}"),
    }
}

/// How long an attacker watches its guesses each round.
const WINDOW: Duration = Duration::from_millis(200);

/// The longest a connection may take to be closed "at once", on a busy machine.
const AT_ONCE: Duration = Duration::from_secs(1);

/// The views of `streams` once every one is closed, or [`AT_ONCE`] passed.
fn views_once_closed(streams: &mut [TcpStream]) -> Vec<View> {
    let started = Instant::now();
    loop {
        let views: Vec<View> = streams.iter_mut().map(view).collect();
        if views.iter().all(|v| *v == View::Closed) || started.elapsed() > AT_ONCE {
            return views;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn an_adaptive_attacker_sees_the_same_for_every_guess_and_the_child_still_reports() {
    let (writer, port, token, at) = remote("127.0.0.1:0");
    let parent = parent_waits(port);
    let hex = b"0123456789abcdef";
    let mut known = String::new();
    let mut right_digits = 0;
    for round in 0..40 {
        if known.len() == TOKEN_HEX {
            known.clear();
        }
        // Each guess twice: as a prefix (as the old attack did), and as a
        // whole token of the right length with a report after it.
        let started = Instant::now();
        let mut prefixes = Vec::new();
        let mut wholes = Vec::new();
        for &digit in hex {
            let mut prefix = known.clone().into_bytes();
            prefix.push(digit);
            let mut whole = prefix.clone();
            whole.resize(TOKEN_HEX, b'0');
            whole.extend_from_slice(b" 1\n");
            prefixes.push(guess(at, &prefix));
            wholes.push(guess(at, &whole));
        }
        std::thread::sleep(WINDOW.saturating_sub(started.elapsed()));
        let prefix_views: Vec<View> = prefixes.iter_mut().map(view).collect();
        let whole_views = views_once_closed(&mut wholes);
        // The attacker's move: the digit whose connections looked different
        // from the others', if one did; else any.
        let stood_out = (0..hex.len()).find(|&i| {
            prefix_views
                .iter()
                .filter(|v| **v == prefix_views[i])
                .count()
                == 1
                || whole_views.iter().filter(|v| **v == whole_views[i]).count() == 1
        });
        assert_eq!(
            stood_out, None,
            "round {round}: after {known:?}, a digit stood out: {prefix_views:?} {whole_views:?}"
        );
        assert!(
            prefix_views.iter().all(|v| *v == View::Open),
            "round {round}: a partial token was not left waiting: {prefix_views:?}"
        );
        assert!(
            whole_views.iter().all(|v| *v == View::Closed),
            "round {round}: a wrong whole token was not closed at once: {whole_views:?}"
        );
        let next = hex[stood_out.unwrap_or(round % hex.len())];
        if token.as_bytes()[known.len()] == next {
            right_digits += 1;
        }
        known.push(next as char);
        // It gives up on the open prefixes, so as not to fill the parent's table.
        drop(prefixes);
    }
    // A forged report with the attacker's best guess changes nothing.
    let mut forged = known.clone().into_bytes();
    forged.resize(TOKEN_HEX, b'0');
    forged.extend_from_slice(b" 1\n");
    let forgery = guess(at, &forged);
    assert_eq!(views_once_closed(&mut [forgery]), [View::Closed]);

    let mut child = bash_reporter(&writer, "4242", false);
    drop(writer);
    let addr = parent.join().unwrap().unwrap();
    assert_eq!(addr, "127.0.0.1:4242".parse().unwrap());
    assert!(wait_with_deadline(&mut child).success());
    // Chance alone, not the judge, chose the attacker's digits.
    assert!(right_digits < 20, "{right_digits} of 40 digits right");
}

/// Opens `count` connections to `at`, each silent, junk, or a wrong
/// token of the right length, in turn.
fn flood(at: SocketAddr, count: usize) -> Vec<TcpStream> {
    (0..count)
        .filter_map(|i| {
            let stream = TcpStream::connect_timeout(&at, Duration::from_secs(2)).ok()?;
            let _ = match i % 3 {
                0 => Ok(()),
                1 => (&stream).write_all(b"junk junk junk\n"),
                _ => (&stream).write_all(&[b'f'; TOKEN_HEX + 8]),
            };
            Some(stream)
        })
        .collect()
}

#[test]
fn a_report_followed_at_once_by_a_flood_still_resolves() {
    let (writer, port, _token, at) = remote("127.0.0.1:0");
    let mut child = bash_reporter(&writer, "4343", false);
    drop(writer);
    // The child's report is in before anything reads it, then as much of a
    // flood as the listener's backlog (128) holds.
    assert!(wait_with_deadline(&mut child).success());
    let early = flood(at, 120);
    // The parent looks while two more floods of 200 come in.
    let started = Instant::now();
    let parent = parent_waits(port);
    let floods: Vec<_> = (0..2)
        .map(|_| std::thread::spawn(move || flood(at, 200)))
        .collect();
    let addr = parent.join().unwrap().unwrap();
    let took = started.elapsed();
    assert_eq!(addr, "127.0.0.1:4343".parse().unwrap());
    assert!(took < 2 * AT_ONCE, "{took:?}");
    drop(early);
    for flood in floods {
        drop(flood.join().unwrap());
    }
}

#[test]
fn a_child_that_presented_the_token_is_never_evicted_by_a_flood() {
    let (writer, port, _token, at) = remote("127.0.0.1:0");
    let parent = parent_waits(port);
    // It connects and says nothing at first (so it is among the silent
    // ones), then sends the token, and the report once the flood is over.
    let script = r#"
        text=${DYNAMIC_PORT_WRITER#tcp:}; token=${text%@*}; addr=${text#*@}
        exec 3<>"/dev/tcp/${addr%:*}/${addr##*:}"
        sleep 0.3
        printf '%s ' "$token" >&3
        read -r go
        printf '4444\n' >&3
    "#;
    let mut command = Command::new("bash");
    command.args(["-c", script]).stdin(Stdio::piped());
    writer.pass_to_env(&mut command);
    let mut child = command.spawn().unwrap();
    drop(writer);
    std::thread::sleep(Duration::from_millis(600));
    // Far more connections than the parent holds, all silent, within a
    // few seconds (less than a connection's deadline of 5).
    let started = Instant::now();
    let mut flood = Vec::new();
    while flood.len() < 450 && started.elapsed() < Duration::from_secs(3) {
        if let Ok(stream) = TcpStream::connect_timeout(&at, Duration::from_millis(500)) {
            flood.push(stream);
        }
    }
    let opened = flood.len();
    assert!(
        opened > 300,
        "only {opened} connections in {:?}",
        started.elapsed()
    );
    std::thread::sleep(Duration::from_millis(200));
    // Room was made among them while the child's report was still to come.
    let closed = flood
        .iter_mut()
        .map(view)
        .filter(|v| *v == View::Closed)
        .count();
    assert!(closed >= opened - 256, "{closed} of {opened} closed");
    writeln!(child.stdin.take().unwrap(), "go").unwrap();
    let addr = parent.join().unwrap().unwrap();
    assert_eq!(addr, "127.0.0.1:4444".parse().unwrap());
    assert!(wait_with_deadline(&mut child).success());
}

#[test]
fn a_wrong_token_is_judged_only_once_it_is_whole() {
    let (_writer, port, token, at) = remote("127.0.0.1:0");
    let parent = parent_waits(port);
    // The token with one digit wrong, each digit in turn, sent all but its
    // last byte: all look alike until the whole length has arrived, then
    // all are closed alike.
    let wrong: Vec<Vec<u8>> = (0..TOKEN_HEX)
        .map(|wrong_at| {
            let mut bytes = token.clone().into_bytes();
            bytes[wrong_at] = if bytes[wrong_at] == b'0' { b'1' } else { b'0' };
            bytes.push(b' ');
            bytes
        })
        .collect();
    let mut streams: Vec<TcpStream> = wrong
        .iter()
        .map(|bytes| guess(at, &bytes[..TOKEN_HEX - 1]))
        .collect();
    std::thread::sleep(WINDOW);
    assert!(streams.iter_mut().all(|s| view(s) == View::Open));
    for (stream, bytes) in streams.iter_mut().zip(&wrong) {
        stream.set_nonblocking(false).unwrap();
        stream.write_all(&bytes[TOKEN_HEX - 1..]).unwrap();
    }
    let views = views_once_closed(&mut streams);
    assert!(views.iter().all(|v| *v == View::Closed), "{views:?}");
    drop(parent);
}

#[test]
fn an_ipv4_peer_behind_an_ipv6_listener_is_reported_as_ipv4() {
    if TcpListener::bind("[::]:0").is_err() {
        eprintln!("no IPv6 here: skipped");
        return;
    }
    let (writer, port, token, _) = remote("[::]:0");
    // The writer names `[::]`: the child connects to 127.0.0.1 at that port.
    let at = writer.remote_addr().unwrap();
    let text = format!("tcp:{token}@127.0.0.1:{}", at.port());
    let writer4: DynamicPortWriter = text.parse().unwrap();
    let mut child = bash_reporter(&writer4, "4545", false);
    drop((writer, writer4));
    let addr = port.timeout(SAFETY).addr().wait().unwrap();
    assert_eq!(addr, "127.0.0.1:4545".parse().unwrap());
    assert!(wait_with_deadline(&mut child).success());
}

#[test]
fn under_an_executor_a_report_on_an_open_connection_wakes_the_future_at_once() {
    // The future is pending with the child's connection open (token sent),
    // so only that connection's own waker can tell it the report came.
    let (writer, port, _token, _at) = remote("127.0.0.1:0");
    let mut child = bash_reporter(&writer, "4646", true);
    drop(writer);
    let parent = std::thread::spawn(move || {
        let addr = futures::executor::block_on(port.timeout(SAFETY).addr());
        (addr, Instant::now())
    });
    std::thread::sleep(Duration::from_millis(500));
    let told = Instant::now();
    writeln!(child.stdin.take().unwrap(), "go").unwrap();
    let (addr, resolved) = parent.join().unwrap();
    assert_eq!(addr.unwrap(), "127.0.0.1:4646".parse().unwrap());
    let after = resolved.saturating_duration_since(told);
    // Not at the connection's 5 s deadline, nor at any other timer.
    assert!(after < AT_ONCE, "resolved {after:?} after the report");
    assert!(wait_with_deadline(&mut child).success());
}
