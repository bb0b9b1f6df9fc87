//! Reports beyond one port, from real children: NUL and newline endings,
//! `line()` for programs with their own format, `addr()`, `addrs()` for
//! several named endpoints, and bad reports, each an error at once.
//!
//! The shell children here keep the pipe open after they write (they
//! sleep), so a future that resolves did so without end of stream.
// Unix only: fds, bash, python3 or /proc. Windows has tests/windows.rs.
#![cfg(unix)]

mod support;

use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Stdio};
use std::time::Duration;

use dynamic_port::{DynamicPortWriter, ErrorKind, PortFuture};
use support::Role;
use support::{child, greeting_at, port_line, wait_with_deadline, SAFETY};

/// Spawns a bash child that runs `script` (with `$FD` the writer's fd),
/// then sleeps with the pipe still open.
fn bash_writes(script: &str) -> (Child, PortFuture) {
    let mut command = support::bash(&format!("export FD=${{2%%:*}}; {script}; exec sleep 60"));
    command.stderr(Stdio::null());
    let (child, port) = dynamic_port::spawn(&mut command).unwrap();
    (child, port.timeout(SAFETY))
}

/// The future a report is read through, in the tests of bad reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ReadAs {
    /// The [`PortFuture`] itself: one port.
    Port,
    /// [`PortFuture::addr`].
    Addr,
    /// [`PortFuture::addrs`].
    Addrs,
    /// [`PortFuture::report`].
    Report,
}

impl ReadAs {
    /// The error that reading `port` this way ends in.
    fn error(self, port: PortFuture) -> dynamic_port::Error {
        match self {
            ReadAs::Port => port.wait().unwrap_err(),
            ReadAs::Addr => port.addr().wait().unwrap_err(),
            ReadAs::Addrs => port.addrs().wait().map(drop).unwrap_err(),
            ReadAs::Report => port.report().wait().map(drop).unwrap_err(),
        }
    }
}

/// Stops a child that sleeps.
fn stop(mut child: Child) {
    child.kill().unwrap();
    wait_with_deadline(&mut child);
}

#[test]
fn nul_and_newline_ended_reports_resolve_without_end_of_stream() {
    for script in [
        r"printf '8080\0' >&$FD",
        r"printf '8080\n' >&$FD",
        r"printf '8080 \0rest' >&$FD",
    ] {
        let (child, port) = bash_writes(script);
        assert_eq!(port.wait().unwrap(), 8080, "{script}");
        stop(child);
    }
    let (child, port) = bash_writes(r"printf '[::1]:8080\0' >&$FD");
    assert_eq!(port.addr().wait().unwrap(), "[::1]:8080".parse().unwrap());
    stop(child);
}

#[test]
fn line_is_the_first_line_exactly() {
    let (child, port) =
        bash_writes(r"printf 'tcp:host=127.0.0.1,port=4000,family=ipv4\nsecond\n' >&$FD");
    assert_eq!(
        port.line().wait().unwrap(),
        "tcp:host=127.0.0.1,port=4000,family=ipv4"
    );
    stop(child);
    let (child, port) = bash_writes(r"printf ':99\0' >&$FD");
    assert_eq!(port.line().wait().unwrap(), ":99");
    stop(child);
}

#[test]
fn line_at_end_of_stream_counts_a_partial_line() {
    let mut command = support::bash(r#"printf 'no newline' >&"${2%%:*}""#);
    let (mut child, port) = dynamic_port::spawn(&mut command).unwrap();
    assert_eq!(port.line().timeout(SAFETY).wait().unwrap(), "no newline");
    wait_with_deadline(&mut child);
}

#[test]
fn line_takes_one_pipe_buf_with_its_end_and_refuses_more_at_once() {
    let (child, port) = bash_writes(
        r#"python3 -c 'import os; os.write(int(os.environ["FD"]), b"x" * 4095 + b"\n")'"#,
    );
    assert_eq!(port.line().wait().unwrap(), "x".repeat(4095));
    stop(child);
    // 4097 bytes with the newline: more than one atomic pipe write.
    let (child, port) = bash_writes(
        r#"python3 -c 'import os; os.write(int(os.environ["FD"]), b"x" * 4096 + b"\n")'"#,
    );
    let err = port.line().wait().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::MalformedReport, "{err}");
    stop(child);
    let (child, port) =
        bash_writes(r#"python3 -c 'import os; os.write(int(os.environ["FD"]), b"x" * 5000)'"#);
    let err = port.line().wait().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::MalformedReport, "{err}");
    assert!(err.to_string().contains("4096 bytes"), "{err}");
    stop(child);
}

#[test]
fn addrs_from_a_shell_child_reach_both_listeners() {
    let http = TcpListener::bind("127.0.0.1:0").unwrap();
    let admin = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut command = support::bash(r#"echo "http=127.0.0.1:$A admin=127.0.0.1:$B" >&"${2%%:*}""#);
    command
        .env("A", http.local_addr().unwrap().port().to_string())
        .env("B", admin.local_addr().unwrap().port().to_string());
    let (mut child, port) = dynamic_port::spawn(&mut command).unwrap();
    let endpoints = port.addrs().timeout(SAFETY).wait().unwrap();
    assert_eq!(endpoints.len(), 2);
    for (name, listener) in [("http", &http), ("admin", &admin)] {
        assert_eq!(endpoints[name], listener.local_addr().unwrap());
        let _client = std::net::TcpStream::connect(endpoints[name]).unwrap();
        listener.accept().unwrap();
    }
    wait_with_deadline(&mut child);
}

#[test]
fn addrs_from_a_rust_child_with_two_real_listeners() {
    for options in [
        dynamic_port::SpawnOptions::new(),
        dynamic_port::SpawnOptions::new().named(),
    ] {
        let (mut spawned, port) = options.spawn(&mut child(Role::ServeTwo)).unwrap();
        let endpoints = port.addrs().timeout(SAFETY).wait().unwrap();
        support::check_two_endpoints(&endpoints);
        assert!(wait_with_deadline(&mut spawned).success());
    }
}

#[test]
fn addrs_of_a_report_without_names_lists_items_by_position() {
    let (child, port) = bash_writes(r"echo '8080 [::1]:9090' >&$FD");
    let endpoints = port.addrs().wait().unwrap();
    assert_eq!(endpoints["0"], "127.0.0.1:8080".parse().unwrap());
    assert_eq!(endpoints["1"], "[::1]:9090".parse().unwrap());
    stop(child);
}

#[test]
fn addr_for_a_bare_port_an_ipv4_and_an_ipv6_address() {
    for (report, expected) in [
        ("8080", "127.0.0.1:8080"),
        ("10.1.2.3:8080", "10.1.2.3:8080"),
        ("0.0.0.0:8080", "127.0.0.1:8080"),
        ("[::1]:8080", "[::1]:8080"),
        ("[::]:8080", "[::1]:8080"),
    ] {
        let (child, port) = bash_writes(&format!("echo '{report}' >&$FD"));
        let expected: SocketAddr = expected.parse().unwrap();
        assert_eq!(port.addr().wait().unwrap(), expected, "{report}");
        stop(child);
    }
}

#[test]
fn addr_leads_to_a_real_child_on_ipv6_loopback() {
    if TcpListener::bind("[::1]:0").is_err() {
        eprintln!("skipped: this machine has no IPv6 loopback");
        return;
    }
    let (mut spawned, port) = dynamic_port::spawn(&mut child(Role::ServeV6)).unwrap();
    let addr = port.addr().timeout(SAFETY).wait().unwrap();
    assert!(addr.is_ipv6() && addr.ip().is_loopback(), "{addr}");
    assert_eq!(greeting_at(addr), port_line(addr.port()));
    assert!(wait_with_deadline(&mut spawned).success());
}

#[test]
fn bad_reports_are_malformed_at_once() {
    let long_name = "n".repeat(33);
    for (report, how) in [
        ("=127.0.0.1:80".to_owned(), ReadAs::Addrs),
        (format!("{long_name}=127.0.0.1:80"), ReadAs::Addrs),
        ("a/b=127.0.0.1:80".to_owned(), ReadAs::Addrs),
        ("a=127.0.0.1:80 a=127.0.0.1:81".to_owned(), ReadAs::Addrs),
        ("a=127.0.0.1:0".to_owned(), ReadAs::Addrs),
        ("a=127.0.0.1:65536".to_owned(), ReadAs::Addrs),
        ("a=127.0.0.1:+80".to_owned(), ReadAs::Addrs),
        ("-80".to_owned(), ReadAs::Port),
        ("a=300.0.0.1:80".to_owned(), ReadAs::Addrs),
        ("a=::1:80".to_owned(), ReadAs::Addrs),
        ("a=127.0.0.1".to_owned(), ReadAs::Addrs),
        ("a=[::1]".to_owned(), ReadAs::Addrs),
        ("0".to_owned(), ReadAs::Port),
        ("65536".to_owned(), ReadAs::Port),
        ("::1:80".to_owned(), ReadAs::Addr),
        ("http=127.0.0.1:80".to_owned(), ReadAs::Port),
        ("8080 9090".to_owned(), ReadAs::Port),
    ] {
        let (child, port) = bash_writes(&format!("echo '{report}' >&$FD"));
        let err = how.error(port);
        assert_eq!(err.kind(), ErrorKind::MalformedReport, "{report}: {err}");
        if how == ReadAs::Port && (report.contains('=') || report.contains(' ')) {
            assert!(err.to_string().contains("addrs()"), "{err}");
        }
        stop(child);
    }
}

#[test]
fn report_addrs_refuses_bad_endpoints_and_writes_nothing() {
    let (writer, port) = dynamic_port::DynamicPortWriter::create().unwrap();
    let good: SocketAddr = "127.0.0.1:8080".parse().unwrap();
    let zero: SocketAddr = "127.0.0.1:0".parse().unwrap();
    for bad in [
        vec![],
        vec![("", good)],
        vec![("a b", good)],
        vec![("x", zero)],
        vec![("x", good), ("x", good)],
    ] {
        let err = writer.clone().report_addrs(&bad).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::MalformedReport, "{bad:?}: {err}");
    }
    // Nothing reached the pipe: the first good report is what arrives.
    writer.report_addrs(&[("ok", good)]).unwrap();
    assert_eq!(port.addrs().wait().unwrap()["ok"], good);
}

#[test]
fn addrs_and_report_take_one_pipe_buf_with_its_end_and_refuse_more() {
    // One endpoint and blanks up to 4095 bytes, then the newline: 4096 in all.
    let line = |len: usize| {
        format!(
            r#"python3 -c 'import os; os.write(int(os.environ["FD"]), b"http=127.0.0.1:80".ljust({len}) + b"\n")'"#
        )
    };
    let (child, port) = bash_writes(&line(4095));
    assert_eq!(
        port.addrs().wait().unwrap()["http"],
        "127.0.0.1:80".parse().unwrap()
    );
    stop(child);
    let (child, port) = bash_writes(&line(4095));
    assert_eq!(port.report().wait().unwrap().first().port(), 80);
    stop(child);
    for future in [ReadAs::Addrs, ReadAs::Report] {
        let (child, port) = bash_writes(&line(4096));
        let err = future.error(port);
        assert_eq!(err.kind(), ErrorKind::MalformedReport, "{future:?}: {err}");
        stop(child);
    }
}

#[test]
fn a_bad_report_is_quoted_escaped_and_cut_in_its_error() {
    let (child, port) = bash_writes(r#"printf 'bad\001report\n' >&"$FD""#);
    let err = port.wait().unwrap_err();
    assert!(err.to_string().contains(r#""bad\x01report""#), "{err}");
    stop(child);
    let (child, port) = bash_writes(r#"printf '%s\n' "$(printf 'y%.0s' {1..50})" >&"$FD""#);
    let err = port.wait().unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains(&format!("\"{}\"... (", "y".repeat(40))),
        "{message}"
    );
    stop(child);
    // Exactly 40 bytes are shown whole, without the cut's note.
    let (child, port) = bash_writes(r#"printf '%s\n' "$(printf 'z%.0s' {1..40})" >&"$FD""#);
    let message = port.wait().unwrap_err().to_string();
    assert!(
        message.contains(&format!("\"{}\"", "z".repeat(40))),
        "{message}"
    );
    assert!(!message.contains("bytes in all"), "{message}");
    stop(child);
}

#[test]
fn a_pending_future_shows_what_it_read_and_watches() {
    let (child, port) = bash_writes(r#"printf 80 >&"$FD""#);
    let mut port = port;
    // Let the bytes arrive, and poll once so that they are read.
    std::thread::sleep(std::time::Duration::from_millis(200));
    let waker = std::task::Waker::noop();
    let poll = std::future::Future::poll(
        std::pin::Pin::new(&mut port),
        &mut std::task::Context::from_waker(waker),
    );
    assert!(poll.is_pending());
    let shown = format!("{port:?}");
    assert!(shown.starts_with("PortFuture"), "{shown}");
    assert!(
        shown.contains(&format!("watching: Some({})", child.id())),
        "{shown}"
    );
    assert!(shown.contains("received: \"80\""), "{shown}");
    stop(child);
}

#[test]
fn an_unwatched_report_without_its_newline_counts_at_end_of_stream() {
    // The five steps without `watch`: only the end of stream says it is whole.
    let (writer, port) = dynamic_port::DynamicPortWriter::create().unwrap();
    let mut command = support::bash(r#"printf 4343 >&"${2%%:*}""#);
    writer.pass_to(&mut command);
    let mut child = command.spawn().unwrap();
    drop(writer);
    assert_eq!(port.timeout(SAFETY).wait().unwrap(), 4343);
    wait_with_deadline(&mut child);
}

#[test]
fn a_timeout_that_passes_during_a_poll_still_resolves_under_an_executor() {
    // Deadlines from 1 to 300 µs fall, one run or another, between the
    // future's look at the clock and its timer's first poll; a timer found
    // ready then must make it look again, or nothing would ever wake it.
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for micros in 1..=300 {
            let (writer, port) = DynamicPortWriter::create().unwrap();
            let result = futures::executor::block_on(port.timeout(Duration::from_micros(micros)));
            assert_eq!(result.unwrap_err().kind(), ErrorKind::TimedOut);
            drop(writer);
        }
        done.send(()).unwrap();
    });
    assert!(
        finished.recv_timeout(Duration::from_secs(10)).is_ok(),
        "a future with a short timeout never resolved"
    );
}
