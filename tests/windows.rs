//! The library on Windows, under Wine in CI (`ci/wine.sh`): real child
//! processes (this test binary, run again in a role), real loopback
//! connections, deaths with their exit codes, timeouts, hostile reports,
//! many children at once, a `Server`'s Job object, and no leaked handles.
//! The Unix test files need bash, python3 or `/proc`; this one needs none.
#![cfg(windows)]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use dynamic_port::{DynamicPortWriter, ErrorKind};

/// The env var that names the child's role.
const ROLE: &str = "DP_WINDOWS_ROLE";

/// Longer than anything here takes when it works.
const SAFETY: Duration = Duration::from_secs(30);

/// This test binary, run again as a child playing `role`; the writer's
/// flag follows the `--`.
fn child(role: &str) -> Command {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args([
            "child_process",
            "--exact",
            "--ignored",
            "--nocapture",
            "--quiet",
            "--",
        ])
        .env(ROLE, role)
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    command
}

/// What a child does, by the role its parent gave it.
#[test]
#[ignore = "a child process of the other tests"]
fn child_process() {
    let role = std::env::var(ROLE).unwrap();
    let writer = || -> DynamicPortWriter {
        let args: Vec<String> = std::env::args().collect();
        let at = args
            .iter()
            .position(|a| a == DynamicPortWriter::FLAG)
            .unwrap();
        args[at + 1].parse().unwrap()
    };
    match role.as_str() {
        "echo-server" => {
            let listener = writer().where_to_listen().unwrap();
            let (stream, _) = listener.accept().unwrap();
            let mut line = String::new();
            BufReader::new(&stream).read_line(&mut line).unwrap();
            (&stream).write_all(line.to_uppercase().as_bytes()).unwrap();
        }
        "exit-3" => std::process::exit(3),
        "silent" => std::thread::sleep(SAFETY),
        "junk" => {
            let writer = writer();
            let addr = writer.remote_addr().unwrap();
            let text = writer.to_string();
            let token = &text[text.find(':').unwrap() + 1..text.find('@').unwrap()];
            let mut stream = TcpStream::connect(addr).unwrap();
            stream
                .write_all(format!("{token} hello\n").as_bytes())
                .unwrap();
            std::thread::sleep(SAFETY);
        }
        "tokio-echo" => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
                let listener = dynamic_port::tokio::where_to_listen(writer())
                    .await
                    .unwrap();
                let (stream, _) = listener.accept().await.unwrap();
                let (read, mut write) = stream.into_split();
                let mut line = String::new();
                tokio::io::BufReader::new(read)
                    .read_line(&mut line)
                    .await
                    .unwrap();
                write
                    .write_all(line.to_uppercase().as_bytes())
                    .await
                    .unwrap();
            });
        }
        "smol-echo" => smol::block_on(async {
            use smol::io::{AsyncBufReadExt, AsyncWriteExt};
            let listener = dynamic_port::smol::where_to_listen(writer()).await.unwrap();
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut line = String::new();
            smol::io::BufReader::new(stream.clone())
                .read_line(&mut line)
                .await
                .unwrap();
            stream
                .write_all(line.to_uppercase().as_bytes())
                .await
                .unwrap();
        }),
        "async-std-echo" => async_std::task::block_on(async {
            use async_std::io::prelude::{BufReadExt, WriteExt};
            let listener = dynamic_port::async_std::where_to_listen(writer())
                .await
                .unwrap();
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut line = String::new();
            async_std::io::BufReader::new(stream.clone())
                .read_line(&mut line)
                .await
                .unwrap();
            stream
                .write_all(line.to_uppercase().as_bytes())
                .await
                .unwrap();
        }),
        "report-and-exit" => writer().report(4242).unwrap(),
        "report-endpoints" => {
            let http: std::net::SocketAddr = "127.0.0.1:8080".parse().unwrap();
            let admin: std::net::SocketAddr = "[::1]:9090".parse().unwrap();
            writer()
                .report_addrs(&[("http", http), ("admin", admin)])
                .unwrap();
        }
        // Through postcard bytes in an env var, as hex: a writer in another form.
        "report-from-postcard" => {
            let hex = std::env::var("DP_POSTCARD").unwrap();
            let bytes: Vec<u8> = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                .collect();
            let writer = DynamicPortWriter::from_postcard(&bytes).unwrap();
            writer.report(4343).unwrap();
        }
        "panic" => panic!("the child panics before reporting"),
        "abort" => std::process::abort(),
        "oversized" => {
            let writer = writer();
            let text = writer.to_string();
            let token = &text[text.find(':').unwrap() + 1..text.find('@').unwrap()];
            let mut stream = TcpStream::connect(writer.remote_addr().unwrap()).unwrap();
            let huge = format!("{token} {}", "9".repeat(1 << 16));
            let _ = stream.write_all(huge.as_bytes());
            std::thread::sleep(SAFETY);
        }
        "server-with-grandchild" | "server-with-grandchild-env" => {
            let grandchild = child("silent").spawn().unwrap();
            let pid_file = std::env::var("DP_PID_FILE").unwrap();
            std::fs::write(pid_file, grandchild.id().to_string()).unwrap();
            let writer = match role.as_str() {
                "server-with-grandchild" => writer(),
                _ => DynamicPortWriter::from_env().unwrap().unwrap(),
            };
            let listener = writer.where_to_listen().unwrap();
            loop {
                let _ = listener.accept();
            }
        }
        other => panic!("no role {other}"),
    }
}

#[test]
fn a_rust_child_reports_its_port_and_the_parent_talks_to_it() {
    let (mut child, port) = dynamic_port::spawn(&mut child("echo-server")).unwrap();
    let addr = port.addr().timeout(SAFETY).wait().unwrap();
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.write_all(b"hello\n").unwrap();
    let mut reply = String::new();
    BufReader::new(&stream).read_line(&mut reply).unwrap();
    assert_eq!(reply, "HELLO\n");
    assert!(child.wait().unwrap().success());
}

/// Spawns a child playing `role`, says hello to it, and checks its answer.
fn talk_to(role: &str) {
    let (mut child, port) = dynamic_port::spawn(&mut child(role)).unwrap();
    let addr = port.addr().timeout(SAFETY).wait().unwrap();
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.write_all(b"hello\n").unwrap();
    let mut reply = String::new();
    BufReader::new(&stream).read_line(&mut reply).unwrap();
    assert_eq!(reply, "HELLO\n", "{role}");
    assert!(child.wait().unwrap().success(), "{role}");
}

#[test]
fn tokio_and_smol_children_report_without_blocking_their_executor() {
    talk_to("tokio-echo");
    talk_to("smol-echo");
}

#[test]
fn a_tokio_parent_spawns_and_awaits_the_port() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut command = tokio::process::Command::from(child("report-and-exit"));
        let (mut child, port) = dynamic_port::tokio::spawn(&mut command).unwrap();
        assert_eq!(port.timeout(SAFETY).await.unwrap(), 4242);
        assert!(child.wait().await.unwrap().success());
    });
}

/// Whether process `pid` has ended, waiting up to `within`.
fn gone_within(pid: u32, within: Duration) -> bool {
    use windows_sys::Win32::Foundation::{CloseHandle, WAIT_OBJECT_0};
    use windows_sys::Win32::System::Threading::{
        OpenProcess, WaitForSingleObject, PROCESS_SYNCHRONIZE,
    };
    // SAFETY: OpenProcess takes integers; a null result means no such process.
    let handle = unsafe { OpenProcess(PROCESS_SYNCHRONIZE, 0, pid) };
    if handle.is_null() {
        return true;
    }
    // SAFETY: a valid handle, closed once.
    unsafe {
        let ended = WaitForSingleObject(handle, within.as_millis() as u32) == WAIT_OBJECT_0;
        CloseHandle(handle);
        ended
    }
}

/// How many handles this process has open.
fn handle_count() -> u32 {
    use windows_sys::Win32::System::Threading::{GetCurrentProcess, GetProcessHandleCount};
    let mut count = 0;
    // SAFETY: the pseudo-handle of this process, and a valid pointer.
    assert_ne!(
        unsafe { GetProcessHandleCount(GetCurrentProcess(), &mut count) },
        0
    );
    count
}

#[test]
fn dropping_a_server_ends_its_whole_job_at_once() {
    let pid_file = std::env::temp_dir().join(format!("dp-grandchild-{}", std::process::id()));
    let mut command = child("server-with-grandchild");
    command.env("DP_PID_FILE", &pid_file);
    let server = dynamic_port::SpawnOptions::new()
        .grace(Duration::from_millis(200))
        .start(&mut command)
        .unwrap();
    TcpStream::connect(server.addr()).unwrap();
    let grandchild: u32 = std::fs::read_to_string(&pid_file).unwrap().parse().unwrap();
    let pid = server.id();
    drop(server);
    assert!(gone_within(pid, Duration::from_secs(1)), "the server");
    assert!(
        gone_within(grandchild, Duration::from_secs(1)),
        "its child, in the job"
    );
    std::fs::remove_file(pid_file).unwrap();
}

#[test]
fn two_hundred_children_at_once_all_report_and_no_handle_leaks() {
    // Once, so that the lazily made parts (the reactor's thread) exist before counting.
    let (mut first, port) = dynamic_port::spawn(&mut child("report-and-exit")).unwrap();
    assert_eq!(port.timeout(SAFETY).wait().unwrap(), 4242);
    first.wait().unwrap();
    let before = handle_count();
    let spawned: Vec<_> = (0..200)
        .map(|_| dynamic_port::spawn(&mut child("report-and-exit")).unwrap())
        .collect();
    for (mut child, port) in spawned {
        assert_eq!(port.timeout(SAFETY).wait().unwrap(), 4242);
        assert!(child.wait().unwrap().success());
    }
    let after = handle_count();
    // A few for what the runtime keeps (timers' events, thread handles), never one per child.
    assert!(
        after <= before + 8,
        "handles: {before} before, {after} after 200 children"
    );
}

#[test]
fn a_child_that_exits_first_fails_the_future_at_once_with_its_exit_code() {
    let (mut child, port) = dynamic_port::spawn(&mut child("exit-3")).unwrap();
    let started = Instant::now();
    let err = port.timeout(SAFETY).wait().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ChildExited, "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert!(err.to_string().contains("exit code 3"), "{err}");
    assert_eq!(err.exit_status().and_then(|s| s.code()), Some(3));
    assert_eq!(child.wait().unwrap().code(), Some(3));
}

#[test]
fn a_silent_child_times_out() {
    let (mut child, port) = dynamic_port::spawn(&mut child("silent")).unwrap();
    let err = port.timeout(Duration::from_millis(300)).wait().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TimedOut, "{err}");
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn a_report_that_is_junk_is_malformed() {
    let (mut child, port) = dynamic_port::spawn(&mut child("junk")).unwrap();
    let err = port.timeout(SAFETY).wait().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::MalformedReport, "{err}");
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn a_unix_writer_text_is_refused_clearly() {
    for text in ["7:pipe:4711", "7", "fifo:1:2:/tmp/x/port"] {
        let err = text.parse::<DynamicPortWriter>().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::MalformedWriter, "{text}");
        assert!(err.to_string().contains("cannot exist on Windows"), "{err}");
    }
}

#[test]
fn create_gives_a_loopback_writer_with_no_fd() {
    let (writer, _port) = DynamicPortWriter::create().unwrap();
    assert_eq!(writer.fd(), None);
    assert!(writer.remote_addr().unwrap().ip().is_loopback());
}

/// `dynamic-port run ARGS -- (this binary as a child playing ROLE)`, its
/// stdout captured, its stderr null.
#[cfg(feature = "cli")]
fn dynamic_port_run(args: &[&str], role: &str) -> std::process::Output {
    let child = child(role);
    let mut command = Command::new(env!("CARGO_BIN_EXE_dynamic-port"));
    command
        .arg("run")
        .args(args)
        .arg("--")
        .arg(child.get_program())
        .args(child.get_args())
        .env(ROLE, role)
        .stdin(Stdio::null())
        .stderr(Stdio::null());
    command.output().unwrap()
}

#[test]
#[cfg(feature = "cli")]
fn the_cli_prints_the_port_runs_then_with_it_and_passes_its_status_on() {
    let output = dynamic_port_run(&["--then", "echo %PORT%& exit 7"], "echo-server");
    assert_eq!(output.status.code(), Some(7), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().map(str::trim).collect();
    let port: u16 = lines[0].parse().unwrap();
    assert_eq!(lines[1], port.to_string(), "--then saw PORT: {stdout:?}");
}

#[test]
#[cfg(feature = "cli")]
fn the_cli_fails_with_its_codes_for_a_death_a_timeout_and_junk() {
    assert_eq!(dynamic_port_run(&[], "exit-3").status.code(), Some(3));
    let timed_out = dynamic_port_run(&["--timeout", "0.3", "--grace", "0.1"], "silent");
    assert_eq!(timed_out.status.code(), Some(124));
    assert_eq!(
        dynamic_port_run(&["--grace", "0.1"], "junk").status.code(),
        Some(4)
    );
}

#[test]
#[cfg(feature = "cli")]
fn the_cli_passes_the_writer_by_env_and_stops_the_whole_job_after_then() {
    let pid_file = std::env::temp_dir().join(format!("dp-cli-grandchild-{}", std::process::id()));
    let child = child("server-with-grandchild");
    let output = Command::new(env!("CARGO_BIN_EXE_dynamic-port"))
        .args(["run", "--env", "--grace", "0.2", "--then", "exit 0", "--"])
        .arg(child.get_program())
        .args(child.get_args())
        .env(ROLE, "server-with-grandchild-env")
        .env("DP_PID_FILE", &pid_file)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let grandchild: u32 = std::fs::read_to_string(&pid_file).unwrap().parse().unwrap();
    assert!(
        gone_within(grandchild, Duration::from_secs(1)),
        "the program's child, in the job"
    );
    std::fs::remove_file(pid_file).unwrap();
}

#[test]
fn an_async_std_child_reports_too() {
    talk_to("async-std-echo");
}

#[test]
fn a_writer_travels_as_clap_serde_and_postcard_on_windows() {
    let (writer, port) = DynamicPortWriter::create().unwrap();
    let text = writer.to_string();
    let matches = clap::Command::new("child")
        .arg(dynamic_port::clap::arg())
        .try_get_matches_from(["child", "--dynamic-port-writer", &text])
        .unwrap();
    assert_eq!(
        matches.get_one::<DynamicPortWriter>("dynamic-port-writer"),
        Some(&writer)
    );
    let hex: String = writer
        .to_postcard()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut command = child("report-from-postcard");
    command.env("DP_POSTCARD", hex);
    let mut spawned = command.spawn().unwrap();
    drop(writer);
    let port = port.watch(&mut spawned);
    assert_eq!(port.timeout(SAFETY).wait().unwrap(), 4343);
    assert!(spawned.wait().unwrap().success());
}

#[test]
fn a_panic_and_an_abort_are_seen_at_once_with_their_exit_codes() {
    // A panic exits with 101; an abort with STATUS_STACK_BUFFER_OVERRUN
    // (__fastfail) on Windows, 3 under some runtimes.
    for (role, codes) in [
        ("panic", &[101][..]),
        ("abort", &[3, 0xC000_0409_u32 as i32][..]),
    ] {
        let mut command = child(role);
        command.stderr(Stdio::null());
        let (mut child, port) = dynamic_port::spawn(&mut command).unwrap();
        let started = Instant::now();
        let err = port.timeout(SAFETY).wait().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ChildExited, "{role}: {err}");
        assert!(started.elapsed() < Duration::from_secs(1), "{role}");
        let code = err.exit_status().and_then(|s| s.code()).unwrap();
        assert!(codes.contains(&code), "{role}: exit code {code:#x}");
        assert!(
            err.to_string().contains(&format!("exit code {code}")),
            "{err}"
        );
        assert_eq!(child.wait().unwrap().code(), Some(code));
    }
}

#[test]
fn an_oversized_report_and_intruders_are_refused_and_the_child_still_reports() {
    let (mut child, port) = dynamic_port::spawn(&mut child("oversized")).unwrap();
    let err = port.timeout(SAFETY).wait().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::MalformedReport, "{err}");
    child.kill().unwrap();
    child.wait().unwrap();

    // Intruders with a wrong token, junk, or nothing, then the real child.
    let (writer, port) = DynamicPortWriter::create().unwrap();
    let addr = writer.remote_addr().unwrap();
    let mut intruders: Vec<TcpStream> = Vec::new();
    for junk in [
        &b"0123456789abcdef0123456789abcdef 80\n"[..],
        b"GET / HTTP/1.0\r\n\r\n",
        b"",
    ] {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.write_all(junk).unwrap();
        intruders.push(stream);
    }
    let mut command = self::child("report-and-exit");
    writer.pass_to(&mut command);
    let mut spawned = command.spawn().unwrap();
    drop(writer);
    let port = port.watch(&mut spawned);
    assert_eq!(port.timeout(SAFETY).wait().unwrap(), 4242);
    spawned.wait().unwrap();
}

#[test]
fn addrs_and_line_read_a_report_of_named_endpoints() {
    let (mut child, port) = dynamic_port::spawn(&mut child("report-endpoints")).unwrap();
    let addrs = port.addrs().timeout(SAFETY).wait().unwrap();
    assert_eq!(addrs["http"], "127.0.0.1:8080".parse().unwrap());
    assert_eq!(addrs["admin"], "[::1]:9090".parse().unwrap());
    child.wait().unwrap();
    let (mut child, port) = dynamic_port::spawn(&mut self::child("report-endpoints")).unwrap();
    let line = port.line().timeout(SAFETY).wait().unwrap();
    assert_eq!(line, "http=127.0.0.1:8080 admin=[::1]:9090");
    child.wait().unwrap();
}
