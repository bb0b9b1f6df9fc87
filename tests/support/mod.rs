//! Shared by the integration tests: real child programs, and small helpers.
//!
//! A child program is this very test binary, run again with
//! `support::child_process --exact --ignored -- ...`: libtest runs only the
//! ignored test [`child_process`], which plays the role named in the env var
//! [`ROLE_VAR`]. Everything after `--` (such as the `--dynamic-port-writer`
//! flag that `pass_to` appends) is left for the child to read.
#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use dynamic_port::{DynamicPortWriter, Error, ErrorKind};

mod roles;

pub use roles::Role;
#[allow(unused_imports)]
pub use roles::SERVER_WITH_GRANDCHILD;

/// The env var that names the child's role.
pub const ROLE_VAR: &str = "DP_TEST_ROLE";

/// How long a test waits at most for anything. Never reached when the code
/// works; it turns a hang into a failure instead of a stuck CI run.
pub const SAFETY: Duration = Duration::from_secs(30);

/// A command that runs this test binary as a child program playing `role`.
/// Its stdin and stdout are null: pipe them to talk to the child or read what
/// it [says](say).
pub fn child(role: Role) -> Command {
    let mut command = Command::new(std::env::current_exe().expect("the test binary's path"));
    command
        .args([
            "support::child_process",
            "--exact",
            "--ignored",
            "--nocapture",
            "--quiet",
            "--test-threads=1",
            "--",
        ])
        .env(ROLE_VAR, role.name())
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    command
}

/// Whether process `pid` is gone (or a zombie nobody reaps yet), waiting up to `within`.
pub fn gone_within(pid: u32, within: Duration) -> bool {
    let started = Instant::now();
    loop {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => return true,
            Ok(stat) if stat.contains(") Z ") => return true,
            Ok(_) if started.elapsed() > within => return false,
            Ok(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
}

/// A bash child that runs `script`, with `$0` set to `bash`: the writer
/// flag that `pass_to` appends arrives as `$1` and `$2`.
pub fn bash(script: &str) -> Command {
    let mut command = Command::new("bash");
    command.args(["-c", script, "bash"]);
    command
}

/// Spawns `command` after `prepare` passes the writer, drops the parent's
/// writer, waits for the port, and returns the child (still running, or
/// not) and the port it reported (or the error).
pub fn spawn_and_wait_for_port(
    mut command: Command,
    prepare: impl FnOnce(&DynamicPortWriter, &mut Command),
) -> (Child, Result<u16, Error>) {
    let (writer, port) = DynamicPortWriter::create().expect("create");
    prepare(&writer, &mut command);
    let child = command.spawn().expect("spawn the child");
    drop(writer);
    (child, port.timeout(SAFETY).wait())
}

/// Connects to a serving child on 127.0.0.1:`port` and returns the line it sends.
pub fn greeting(port: u16) -> String {
    greeting_at(std::net::SocketAddr::from(([127, 0, 0, 1], port)))
}

/// Checks what a [`Role::ServeTwo`] child reported: its `http` and `admin`
/// endpoints, each answering with its name and port.
pub fn check_two_endpoints(endpoints: &std::collections::BTreeMap<String, std::net::SocketAddr>) {
    assert_eq!(endpoints.keys().collect::<Vec<_>>(), ["admin", "http"]);
    for name in ["http", "admin"] {
        let addr = endpoints[name];
        assert_eq!(
            greeting_at(addr),
            format!("{name} {}", port_line(addr.port()))
        );
    }
}

/// Connects to a serving child at `addr` and returns the line it sends.
pub fn greeting_at(addr: std::net::SocketAddr) -> String {
    let stream = TcpStream::connect(addr).expect("connect to the child");
    stream.set_read_timeout(Some(SAFETY)).unwrap();
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).unwrap();
    line
}

/// Waits for `child` to exit, within [`SAFETY`], killing it if it does not.
pub fn wait_with_deadline(child: &mut Child) -> ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if start.elapsed() > SAFETY {
            let _ = child.kill();
            panic!("child {} did not exit within {SAFETY:?}", child.id());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Waits for the child and returns its stdout (the child must have piped stdout).
pub fn stdout_of(child: &mut Child) -> String {
    let mut out = String::new();
    child
        .stdout
        .take()
        .expect("stdout piped")
        .read_to_string(&mut out)
        .unwrap();
    wait_with_deadline(child);
    out
}

/// Reads the child's piped stdout until its `KEY: value` line; returns the value.
pub fn wait_for_marker(child: &mut Child, key: &str) -> String {
    let stdout = child.stdout.as_mut().expect("stdout piped");
    let mut reader = BufReader::new(stdout);
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).unwrap() == 0 {
            panic!("the child closed stdout before printing {key}");
        }
        if let Some(value) = marker(&line, key) {
            return value.trim_end().to_owned();
        }
    }
}

/// The value of the `KEY: value` line a child printed, if any.
pub fn marker<'a>(stdout: &'a str, key: &str) -> Option<&'a str> {
    stdout
        .lines()
        .find_map(|line| line.strip_prefix(key)?.strip_prefix(": "))
}

/// The signal that killed a process, if one did.
pub fn signal_of(status: ExitStatus) -> Option<i32> {
    status.signal()
}

/// The inodes of the pipes among the open fds of process `pid`.
pub fn pipe_inodes_of(pid: u32) -> Vec<u64> {
    let Ok(entries) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new(); // already gone
    };
    entries
        .filter_map(|entry| std::fs::read_link(entry.ok()?.path()).ok())
        .filter_map(|target| {
            let target = target.to_str()?.to_owned();
            target
                .strip_prefix("pipe:[")?
                .strip_suffix(']')?
                .parse()
                .ok()
        })
        .collect()
}

/// The inode of the pipe a writer names, from its text `FD:pipe:INODE`.
pub fn inode_of(writer: &DynamicPortWriter) -> u64 {
    let text = writer.to_string();
    let (_, inode) = text
        .split_once(":pipe:")
        .unwrap_or_else(|| panic!("not a pipe writer's text with its inode: {text}"));
    inode.parse().unwrap()
}

/// A remote writer's token and the parent's address, from its text
/// `tcp:TOKEN@ADDR`.
pub fn token_and_addr(writer: &DynamicPortWriter) -> (String, std::net::SocketAddr) {
    let text = writer.to_string();
    let (token, addr) = text
        .strip_prefix("tcp:")
        .and_then(|rest| rest.split_once('@'))
        .unwrap_or_else(|| panic!("not a remote writer's text: {text}"));
    let addr = addr.parse().expect("a remote writer's address");
    (token.to_owned(), addr)
}

/// How many fds this process has open.
pub fn open_fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// A short name for an error kind, for children to print and parents to compare.
pub fn kind_name(result: &Result<impl Sized, Error>) -> String {
    match result {
        Ok(_) => "Ok".to_owned(),
        Err(err) => format!("{:?}", err.kind()),
    }
}

/// Asserts that `result` is an error of `kind`.
pub fn assert_kind<T: std::fmt::Debug>(result: Result<T, Error>, kind: ErrorKind) {
    match result {
        Err(err) => assert_eq!(err.kind(), kind, "wrong kind of error: {err}"),
        Ok(value) => panic!("expected a {kind:?} error, got Ok({value:?})"),
    }
}

/// Under tokio: spawns a `role` child given a writer through tokio's
/// `Command` (via `as_std_mut`), awaits its port, connects, checks that the
/// child says that very port, and waits for it to exit. Returns the port.
#[cfg(feature = "rt-tokio")]
pub async fn tokio_child_round(role: Role) -> u16 {
    let (spawned, port) = tokio_spawn(role);
    tokio_check(spawned, port).await
}

/// Under tokio: spawns a `role` child given a new writer; drops the
/// parent's writer; returns the child and the future of its port.
#[cfg(feature = "rt-tokio")]
pub fn tokio_spawn(role: Role) -> (tokio::process::Child, dynamic_port::PortFuture) {
    let (writer, port) = DynamicPortWriter::create().unwrap();
    let mut command = tokio::process::Command::from(child(role));
    writer.pass_to(command.as_std_mut());
    let spawned = command.kill_on_drop(true).spawn().unwrap();
    drop(writer);
    (spawned, port)
}

/// Under tokio: awaits the port, connects, checks that the child says that
/// port, and waits for the child's success. Returns the port.
#[cfg(feature = "rt-tokio")]
pub async fn tokio_check(
    mut spawned: tokio::process::Child,
    port: dynamic_port::PortFuture,
) -> u16 {
    use tokio::io::AsyncBufReadExt;
    let port = port.timeout(SAFETY).await.unwrap();
    let address = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let mut line = String::new();
    tokio::io::BufReader::new(stream)
        .read_line(&mut line)
        .await
        .unwrap();
    assert_eq!(line, port_line(port));
    assert!(spawned.wait().await.unwrap().success());
    port
}

/// Under tokio: starts `count` `role` children at once, then checks every
/// one; returns the ports.
#[cfg(feature = "rt-tokio")]
pub async fn tokio_start_many(role: Role, count: usize) -> Vec<u16> {
    let started: Vec<_> = (0..count).map(|_| tokio_spawn(role)).collect();
    let mut tasks = tokio::task::JoinSet::new();
    for (spawned, port) in started {
        tasks.spawn(tokio_check(spawned, port));
    }
    tasks.join_all().await
}

// ---- the child's side ----

/// The writer this child was given: after `--dynamic-port-writer`, or in the env var.
pub fn given_writer() -> DynamicPortWriter {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == DynamicPortWriter::FLAG) {
        return args[i + 1].parse().expect("parse the writer flag");
    }
    DynamicPortWriter::from_env()
        .expect("parse the env var")
        .expect("a writer in the args or the env var")
}

/// What a serving child sends: the port it bound, as `port N\n`.
pub fn port_line(port: u16) -> String {
    format!("port {port}\n")
}

/// Accepts one connection and sends [`port_line`] on it.
pub fn serve_one(listener: std::net::TcpListener) {
    let port = listener.local_addr().unwrap().port();
    let (mut stream, _) = listener.accept().unwrap();
    stream.write_all(port_line(port).as_bytes()).unwrap();
}

/// Prints a `KEY: value` line on stdout, for the parent to find.
pub fn say(key: &str, value: impl std::fmt::Display) {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{key}: {value}").unwrap();
    out.flush().unwrap();
}

/// Blocks until the parent writes a line to our stdin (or closes it).
pub fn wait_for_go() {
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
}

/// Restores the default SIGPIPE disposition (death), as a C program has.
pub fn default_sigpipe() {
    // SAFETY: setting a signal's disposition to SIG_DFL is always sound.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
}

/// A plain pipe made with libc, not through this crate: `(read, write)`.
pub fn raw_pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: a valid array of two ints.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: pipe2 returned two fresh fds that nothing else owns.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

/// Whether anything can be read from `read_end` right now.
pub fn has_data(read_end: &OwnedFd) -> bool {
    let mut poll = libc::pollfd {
        fd: read_end.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, no wait.
    unsafe { libc::poll(&mut poll, 1, 0) };
    poll.revents & libc::POLLIN != 0
}

/// The arguments after `--`: what the parent passed to the child program.
pub fn child_args() -> Vec<String> {
    std::env::args()
        .skip_while(|arg| arg != "--")
        .skip(1)
        .collect()
}

/// Decodes lowercase hex, as the tests encode postcard bytes.
pub fn from_hex(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

/// Encodes bytes as lowercase hex.
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A config file that carries the writer (feature `serde`).
#[cfg(feature = "serde")]
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Config {
    /// The server's name, to show the writer is one field among others.
    pub name: String,
    /// The writer.
    pub dynamic_port_writer: DynamicPortWriter,
}

/// The child program's entry point; see the module docs.
#[test]
#[ignore = "a child program that the other tests spawn; it does nothing on its own"]
fn child_process() {
    if let Ok(name) = std::env::var(ROLE_VAR) {
        roles::play(Role::from_name(&name).unwrap_or_else(|| panic!("no child role {name:?}")));
    }
}
