//! Named writers (`create_named`): a FIFO in a private directory that the
//! child opens by path. Every way of passing, a shell child, the files'
//! modes while pending, nothing left on disk afterwards, and every wrong
//! thing at the path refused without writing.
// Unix only: fds, bash, python3 or /proc. Windows has tests/windows.rs.
#![cfg(unix)]

mod support;

use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use dynamic_port::{DynamicPortWriter, ErrorKind, PortFuture};
use support::Role;
use support::{
    assert_kind, child, greeting, marker, port_line, stdout_of, wait_for_marker,
    wait_with_deadline, SAFETY,
};

/// Spawns a serving `role` child given a named writer by `prepare`,
/// watches it, and checks that it serves the port it reports.
fn named_child_serves(role: Role, prepare: impl FnOnce(&DynamicPortWriter, &mut Command)) {
    let (writer, port) = DynamicPortWriter::create_named().unwrap();
    let mut command = child(role);
    prepare(&writer, &mut command);
    let mut spawned = command.spawn().unwrap();
    let port = port.watch(&mut spawned).timeout(SAFETY).wait();
    let port = port.unwrap_or_else(|e| panic!("{role}: {e}"));
    assert_eq!(greeting(port), port_line(port), "{role}");
    assert!(wait_with_deadline(&mut spawned).success(), "{role}");
    assert!(!writer.path().unwrap().exists(), "{role}: the FIFO is gone");
}

#[test]
fn named_writer_as_the_flag() {
    named_child_serves(Role::Serve, |writer, command| {
        writer.pass_to(command);
    });
}

#[test]
fn named_writer_as_the_env_var() {
    named_child_serves(Role::Serve, |writer, command| {
        writer.pass_to_env(command);
    });
}

#[cfg(feature = "clap")]
#[test]
fn named_writer_through_clap_derive_and_builder() {
    for role in [Role::ClapDerive, Role::ClapArg] {
        named_child_serves(role, |writer, command| {
            writer.pass_to(command);
        });
    }
}

#[cfg(feature = "serde")]
#[test]
fn named_writer_in_a_json_config_file() {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("named-config-{}.json", std::process::id()));
    named_child_serves(Role::JsonConfig, |writer, command| {
        let config = support::Config {
            name: "json child".to_owned(),
            dynamic_port_writer: writer.clone(),
        };
        std::fs::write(&path, serde_json::to_string(&config).unwrap()).unwrap();
        command.env("DP_TEST_CONFIG", &path);
    });
    std::fs::remove_file(&path).unwrap();
}

#[cfg(feature = "postcard")]
#[test]
fn named_writer_as_postcard_bytes() {
    named_child_serves(Role::PostcardHex, |writer, command| {
        let bytes = writer.to_postcard();
        assert_eq!(DynamicPortWriter::from_postcard(&bytes).unwrap(), *writer);
        command.args(["--writer-postcard", &support::to_hex(&bytes)]);
    });
}

#[test]
fn a_shell_child_reports_through_the_fifo_path() {
    let (writer, port) = DynamicPortWriter::create_named().unwrap();
    let mut command = Command::new("sh");
    // What the README shows: the path is what follows `fifo:DEV:INODE:`.
    command.args([
        "-c",
        r#"path=${DYNAMIC_PORT_WRITER#fifo:*:*:}; [ -p "$path" ] && echo 6060 >"$path""#,
    ]);
    writer.pass_to_env(&mut command);
    let mut spawned = command.spawn().unwrap();
    assert_eq!(
        port.watch(&mut spawned).timeout(SAFETY).wait().unwrap(),
        6060
    );
    assert!(wait_with_deadline(&mut spawned).success());
}

#[test]
fn the_text_names_the_fifo_and_its_identity_and_parses_back_equal() {
    let (writer, _port) = DynamicPortWriter::create_named().unwrap();
    let text = writer.to_string();
    let path = writer.path().unwrap();
    let meta = std::fs::metadata(path).unwrap();
    assert_eq!(
        text,
        format!("fifo:{}:{}:{}", meta.dev(), meta.ino(), path.display())
    );
    assert!(writer.is_named());
    assert_eq!(writer.fd(), None);
    let parsed: DynamicPortWriter = text.parse().unwrap();
    assert_eq!(parsed, writer);
    assert_eq!(writer.flag_args(), [DynamicPortWriter::FLAG, text.as_str()]);
}

#[test]
fn while_pending_only_this_user_can_reach_the_fifo() {
    let (writer, _port) = DynamicPortWriter::create_named().unwrap();
    let fifo = writer.path().unwrap();
    let dir = fifo.parent().unwrap();
    let uid = std::fs::metadata("/proc/self").unwrap().uid();
    let dir_meta = std::fs::symlink_metadata(dir).unwrap();
    assert!(dir_meta.is_dir());
    assert_eq!(dir_meta.permissions().mode() & 0o777, 0o700);
    assert_eq!(dir_meta.uid(), uid);
    let fifo_meta = std::fs::symlink_metadata(fifo).unwrap();
    assert!(fifo_meta.file_type().is_fifo());
    assert_eq!(fifo_meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(fifo_meta.uid(), uid);
    // Where it goes: $XDG_RUNTIME_DIR if set, else /dev/shm here.
    let base = std::env::var_os("XDG_RUNTIME_DIR").map_or(PathBuf::from("/dev/shm"), PathBuf::from);
    assert_eq!(dir.parent().unwrap(), base);
}

#[test]
fn xdg_runtime_dir_is_where_the_directory_goes_when_set() {
    let runtime =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("xdg-{}", std::process::id()));
    std::fs::create_dir_all(&runtime).unwrap();
    let mut command = child(Role::CreateNamedAndSayWhere);
    command
        .env("XDG_RUNTIME_DIR", &runtime)
        .stdout(Stdio::piped());
    let mut spawned = command.spawn().unwrap();
    let out = stdout_of(&mut spawned);
    let dir = PathBuf::from(marker(&out, "DIR").unwrap_or_else(|| panic!("{out}")));
    assert_eq!(dir.parent().unwrap(), runtime);
    assert_eq!(
        std::fs::read_dir(&runtime).unwrap().count(),
        0,
        "removed after the run"
    );
    std::fs::remove_dir(&runtime).unwrap();
}

/// How a named writer's future ends, in [`cycle`].
#[derive(Clone, Copy, Debug)]
enum End {
    /// A copy of the writer reports from another thread; the future resolves.
    Resolve,
    /// The future is dropped while the writer lives; the writer then reports.
    DropTheFuture,
    /// The future and a clone of the writer are dropped together.
    DropBoth,
    /// The future times out.
    TimeOut,
}

/// One cycle, ended the way `end` says; returns the directory it used.
fn cycle(end: End) -> PathBuf {
    let (writer, port) = DynamicPortWriter::create_named().unwrap();
    let dir = writer.path().unwrap().parent().unwrap().to_owned();
    assert!(dir.exists());
    match end {
        End::Resolve => {
            let copy = writer.clone();
            std::thread::spawn(move || copy.report(1234).unwrap());
            assert_eq!(port.timeout(SAFETY).wait().unwrap(), 1234);
            assert!(!dir.exists(), "removed when the future resolved");
        }
        End::DropTheFuture => {
            drop(port);
            assert!(!dir.exists(), "removed when the future was dropped");
            assert_kind(writer.clone().report(1234), ErrorKind::Abandoned);
        }
        End::DropBoth => drop((writer.clone(), port)),
        End::TimeOut => {
            assert_kind(
                port.timeout(std::time::Duration::from_millis(1)).wait(),
                ErrorKind::TimedOut,
            );
        }
    }
    drop(writer);
    dir
}

#[test]
fn nothing_is_left_on_disk_however_the_future_ends() {
    for end in [
        End::Resolve,
        End::DropTheFuture,
        End::DropBoth,
        End::TimeOut,
    ] {
        for _ in 0..100 {
            let dir = cycle(end);
            assert!(!dir.exists(), "{end:?}: {} left behind", dir.display());
        }
    }
}

#[test]
fn a_report_after_the_parent_stopped_listening_is_abandoned_at_once() {
    for role in [Role::ReportWhenTold, Role::ReportWhenToldDefaultSigpipe] {
        let (writer, port) = DynamicPortWriter::create_named().unwrap();
        let mut command = child(role);
        command.stdin(Stdio::piped()).stdout(Stdio::piped());
        writer.pass_to(&mut command);
        let mut spawned = command.spawn().unwrap();
        wait_for_marker(&mut spawned, "READY");
        drop(port);
        spawned.stdin.take().unwrap().write_all(b"go\n").unwrap();
        let out = stdout_of(&mut spawned);
        assert_eq!(marker(&out, "REPORT"), Some("Abandoned"), "{role}: {out}");
        assert_eq!(
            marker(&out, "ALIVE"),
            Some("after the report"),
            "{role}: {out}"
        );
    }
}

/// A directory of our own for planting things at a FIFO's path.
fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("named-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `mkfifo(path, 0600)`.
fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo")
        .args(["-m", "600"])
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success());
}

/// A writer naming `path` with the identity of whatever is there now.
fn writer_naming(path: &Path) -> DynamicPortWriter {
    let meta = std::fs::symlink_metadata(path).unwrap();
    format!("fifo:{}:{}:{}", meta.dev(), meta.ino(), path.display())
        .parse()
        .unwrap()
}

#[test]
fn a_fifo_without_a_reader_is_abandoned_not_a_block() {
    let dir = scratch("no-reader");
    let path = dir.join("port");
    mkfifo(&path);
    assert_kind(writer_naming(&path).report(80), ErrorKind::Abandoned);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_fifo_replaced_after_creation_is_refused_and_not_written() {
    let (writer, port) = DynamicPortWriter::create_named().unwrap();
    let path = writer.path().unwrap().to_owned();
    std::fs::remove_file(&path).unwrap();
    mkfifo(&path);
    // Someone reads the impostor: nothing may reach it.
    let reader = open_reader_nonblocking(&path);
    let err = writer.report(80).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotInherited, "{err}");
    assert!(err.to_string().contains("another FIFO"), "{err}");
    assert!(!support::has_data(&reader.into()));
    drop(port);
}

/// Opens the FIFO at `path` for reading, without blocking for a writer.
fn open_reader_nonblocking(path: &Path) -> std::fs::File {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .unwrap()
}

#[test]
fn other_files_at_the_path_are_refused_and_left_unchanged() {
    let dir = scratch("others");
    let file = dir.join("regular");
    std::fs::write(&file, "untouched").unwrap();
    let subdir = dir.join("directory");
    std::fs::create_dir(&subdir).unwrap();
    let fifo = dir.join("fifo");
    mkfifo(&fifo);
    let link = dir.join("link");
    std::os::unix::fs::symlink(&fifo, &link).unwrap();
    for (path, says) in [
        (&file, "a regular file"),
        (&subdir, "a directory"),
        (&link, "a symbolic link"),
        (&PathBuf::from("/dev/null"), "not a FIFO"),
    ] {
        let err = writer_naming(path).report(80).unwrap_err();
        assert_eq!(
            err.kind(),
            ErrorKind::NotInherited,
            "{}: {err}",
            path.display()
        );
        assert!(err.to_string().contains(says), "{err}");
    }
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "untouched");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn someone_elses_fifo_is_refused() {
    // SAFETY: geteuid takes nothing.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: making a FIFO owned by another user needs root");
        return;
    }
    let dir = scratch("foreign");
    let path = dir.join("port");
    mkfifo(&path);
    std::os::unix::fs::chown(&path, Some(65534), Some(65534)).unwrap();
    let _reader = open_reader_nonblocking(&path);
    let err = writer_naming(&path).report(80).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotInherited, "{err}");
    assert!(err.to_string().contains("uid 65534"), "{err}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn stale_text_from_an_earlier_run_is_refused() {
    let (writer, port) = DynamicPortWriter::create_named().unwrap();
    let text = writer.to_string();
    drop((writer, port));
    let stale: DynamicPortWriter = text.parse().unwrap();
    assert_kind(stale.report(80), ErrorKind::Abandoned);
    // Truncated text is malformed, or names a path that is not there.
    for cut in 1..text.len() {
        match text[..cut].parse::<DynamicPortWriter>() {
            Err(err) => assert_eq!(err.kind(), ErrorKind::MalformedWriter, "{:?}", &text[..cut]),
            Ok(writer) => {
                let err = writer.report(80).unwrap_err();
                assert!(
                    matches!(err.kind(), ErrorKind::Abandoned | ErrorKind::NotInherited),
                    "{:?}: {err}",
                    &text[..cut]
                );
            }
        }
    }
}

#[test]
fn reporting_twice_through_a_named_writer_is_an_error() {
    let (writer, port) = DynamicPortWriter::create_named().unwrap();
    let copy: DynamicPortWriter = writer.to_string().parse().unwrap();
    writer.clone().report(1111).unwrap();
    assert_kind(copy.report(2222), ErrorKind::AlreadyReported);
    assert_eq!(port.wait().unwrap(), 1111);
}

#[test]
fn without_watch_a_named_writer_cannot_see_the_child_die() {
    let (writer, port) = DynamicPortWriter::create_named().unwrap();
    let mut command = child(Role::ExitNonzero);
    writer.pass_to(&mut command);
    let mut spawned = command.spawn().unwrap();
    wait_with_deadline(&mut spawned);
    // The parent holds the FIFO open: no end of stream ever comes.
    assert_kind(
        port.timeout(std::time::Duration::from_millis(200)).wait(),
        ErrorKind::TimedOut,
    );
}

#[test]
fn a_named_writer_reports_within_the_creating_process() {
    let (writer, port): (DynamicPortWriter, PortFuture) =
        DynamicPortWriter::create_named().unwrap();
    let listener = writer.where_to_listen().unwrap();
    assert_eq!(port.wait().unwrap(), listener.local_addr().unwrap().port());
}
