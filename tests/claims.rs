//! What "already reported" means: recorded only once a report was written,
//! one report however many copies race, never through a standard stream,
//! and never two writers in one command.
// Unix only: fds, bash, python3 or /proc. Windows has tests/windows.rs.
#![cfg(unix)]

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::fs::OpenOptionsExt;
use std::sync::{Arc, Barrier};

use dynamic_port::{DynamicPortWriter, ErrorKind, PortFuture, SpawnOptions};
use support::{wait_with_deadline, SAFETY};

#[test]
fn a_report_whose_write_failed_can_be_tried_again() {
    let (writer, port) = DynamicPortWriter::create_named().unwrap();
    let path = writer.path().unwrap().to_owned();
    // Someone of this user fills the FIFO, so the report cannot be written.
    let mut filler = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&path)
        .unwrap();
    while filler.write(&[b'x'; 4096]).is_ok() {}
    let copy = writer.clone();
    let err = writer.report(4242).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io, "{err}");
    // Drained again, the copy reports: the failed write was not a report.
    let mut drain = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&path)
        .unwrap();
    let mut buf = vec![0u8; 1 << 20];
    while drain.read(&mut buf).is_ok_and(|n| n > 0) {}
    copy.report(4242).unwrap();
    assert_eq!(port.timeout(SAFETY).wait().unwrap(), 4242);
}

/// The three kinds of writer, by how the report travels.
#[derive(Clone, Copy, Debug)]
enum Transport {
    /// An inherited pipe (`create`).
    Pipe,
    /// A FIFO opened by path (`create_named`).
    Named,
    /// A connection back over TCP (`create_remote`), here on 127.0.0.1.
    Remote,
}

impl Transport {
    /// A new writer of this kind and its future.
    fn create(self) -> (DynamicPortWriter, PortFuture) {
        match self {
            Transport::Pipe => DynamicPortWriter::create().unwrap(),
            Transport::Named => DynamicPortWriter::create_named().unwrap(),
            Transport::Remote => {
                DynamicPortWriter::create_remote("127.0.0.1:0".parse().unwrap()).unwrap()
            }
        }
    }
}

#[test]
fn of_copies_racing_on_threads_exactly_one_reports() {
    for transport in [Transport::Pipe, Transport::Named, Transport::Remote] {
        for _ in 0..20 {
            let (writer, port) = transport.create();
            let text = writer.to_string();
            let barrier = Arc::new(Barrier::new(8));
            let racers: Vec<_> = (0..8u16)
                .map(|i| {
                    // Clones and parsed copies alike.
                    let copy: DynamicPortWriter = if i % 2 == 0 {
                        writer.clone()
                    } else {
                        text.parse().unwrap()
                    };
                    let barrier = Arc::clone(&barrier);
                    std::thread::spawn(move || {
                        barrier.wait();
                        copy.report(5000 + i)
                    })
                })
                .collect();
            let results: Vec<_> = racers.into_iter().map(|r| r.join().unwrap()).collect();
            let reported: Vec<_> = results.iter().filter(|r| r.is_ok()).collect();
            assert_eq!(reported.len(), 1, "{transport:?}: {results:?}");
            for err in results.iter().filter_map(|r| r.as_ref().err()) {
                assert_eq!(
                    err.kind(),
                    ErrorKind::AlreadyReported,
                    "{transport:?}: {err}"
                );
            }
            let port = port.timeout(SAFETY).wait().unwrap();
            assert!((5000..5008).contains(&port));
            drop(writer);
        }
    }
}

#[test]
fn a_remote_report_refused_by_nobody_listening_can_be_tried_again() {
    let free = TcpListener::bind("127.0.0.1:0").unwrap();
    let at = free.local_addr().unwrap();
    drop(free);
    let writer: DynamicPortWriter = format!("tcp:{}@{at}", "c0".repeat(16)).parse().unwrap();
    let copy = writer.clone();
    assert_eq!(writer.report(1).unwrap_err().kind(), ErrorKind::Abandoned);
    // Now someone listens there: the copy's report goes through.
    let listener = TcpListener::bind(at).unwrap();
    copy.report(7777).unwrap();
    let mut got = String::new();
    listener
        .accept()
        .unwrap()
        .0
        .read_to_string(&mut got)
        .unwrap();
    assert_eq!(got, format!("{} 7777\n", "c0".repeat(16)));
}

#[test]
fn the_standard_streams_are_never_writers() {
    for fd in ["0", "1", "2", "1:pipe:4711"] {
        let err = fd.parse::<DynamicPortWriter>().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::MalformedWriter, "{fd}: {err}");
        assert!(err.to_string().contains("standard streams"), "{err}");
    }
    // Parsing them touched nothing: stdout is not close-on-exec.
    // SAFETY: F_GETFD takes no pointers.
    let flags = unsafe { libc::fcntl(1, libc::F_GETFD) };
    assert_eq!(flags & libc::FD_CLOEXEC, 0);
}

#[test]
fn a_command_that_carries_a_writer_is_refused_by_spawn() {
    let script = r#"w=${2:-$DYNAMIC_PORT_WRITER}
        case $w in
          fifo:*) echo 4321 >"${w#fifo:*:*:}" ;;
          *) echo 4321 >&"${w%%:*}" ;;
        esac"#;
    let every = [
        SpawnOptions::new(),
        SpawnOptions::new().named(),
        SpawnOptions::new().env(),
        SpawnOptions::new().named().env(),
    ];
    for options in every {
        let mut command = support::bash(script);
        let (mut spawned, port) = options.spawn(&mut command).unwrap();
        assert_eq!(port.timeout(SAFETY).wait().unwrap(), 4321);
        wait_with_deadline(&mut spawned);
        // A second spawn of the same command would carry two writers.
        let err = options.spawn(&mut command).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Io, "{err}");
        assert!(
            err.to_string().contains("already carries a writer"),
            "{err}"
        );
        assert!(err.to_string().contains("build a new Command"), "{err}");
    }
    // A writer passed by hand counts too, by flag or by env.
    let (writer, _port) = DynamicPortWriter::create_named().unwrap();
    let mut by_hand = support::bash("true");
    writer.pass_to(&mut by_hand);
    assert!(dynamic_port::spawn(&mut by_hand).is_err());
    let mut by_env = support::bash("true");
    writer.pass_to_env(&mut by_env);
    assert!(dynamic_port::spawn(&mut by_env).is_err());
}

#[test]
fn a_named_writer_whose_path_cannot_be_looked_at_is_an_io_error_not_abandoned() {
    // A regular file where a directory should be: ENOTDIR, not "gone".
    let file = std::env::temp_dir().join(format!("dp-notdir-{}", std::process::id()));
    std::fs::write(&file, b"").unwrap();
    let text = format!("fifo:1:2:{}/port", file.display());
    let writer: DynamicPortWriter = text.parse().unwrap();
    let err = writer.report(4242).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io, "{err}");
    std::fs::remove_file(file).unwrap();
    // A path that is gone is the parent's going: Abandoned.
    let gone: DynamicPortWriter = "fifo:1:2:/nonexistent-dp/port".parse().unwrap();
    assert_eq!(gone.report(4242).unwrap_err().kind(), ErrorKind::Abandoned);
}

#[test]
fn an_inherited_pipe_whose_write_failed_stays_for_another_try() {
    let (writer, port) = DynamicPortWriter::create().unwrap();
    let mut command = support::child(support::Role::ReportIntoAFullPipe);
    command.stdout(std::process::Stdio::piped());
    writer.pass_to(&mut command);
    let mut child = command.spawn().unwrap();
    drop(writer);
    let out = support::stdout_of(&mut child);
    // EAGAIN into a full pipe: an I/O error, the fd kept, and the retry is
    // a retry (EAGAIN again), not "already reported" nor "not inherited".
    assert_eq!(support::marker(&out, "FIRST"), Some("Io"), "{out}");
    assert_eq!(support::marker(&out, "FIRST_FD_OPEN"), Some("yes"), "{out}");
    assert_eq!(support::marker(&out, "SECOND"), Some("Io"), "{out}");
    assert_eq!(
        support::marker(&out, "SECOND_FD_OPEN"),
        Some("yes"),
        "{out}"
    );
    drop(port);
    wait_with_deadline(&mut child);
}
