//! `dynamic-port run`: start a server on a port the OS picks, print the
//! port once it listens, and either stay with it or run a command against
//! it and stop it. For parents in any language: shell scripts, Makefiles,
//! CI jobs, test suites.

use std::ffi::OsString;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitCode, ExitStatus};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};
use dynamic_port::protocol::{self, Item};
use dynamic_port::{Error, ErrorKind, SpawnOptions};
use rustix::process::{kill_process_group, Pid, Signal};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// The exit codes of `dynamic-port run` itself, apart from the child's or
/// `--then`'s status, which it passes on.
mod code {
    /// Bad usage: an unknown option, a missing program (clap's own code).
    pub(crate) const USAGE: u8 = 2;
    /// The child exited, or closed the pipe, before reporting a port.
    pub(crate) const NO_REPORT: u8 = 3;
    /// The child's report was malformed.
    pub(crate) const BAD_REPORT: u8 = 4;
    /// The `--timeout` passed first (as `timeout(1)`).
    pub(crate) const TIMED_OUT: u8 = 124;
    /// Any other failure of dynamic-port itself.
    pub(crate) const FAILED: u8 = 125;
    /// The program was found but could not be run (as a shell).
    pub(crate) const CANNOT_RUN: u8 = 126;
    /// The program was not found (as a shell).
    pub(crate) const NOT_FOUND: u8 = 127;
}

/// What `--help` shows after the options.
const AFTER_HELP: &str = "\
Examples:
  # Start a server, run the tests against it, stop it, keep the tests' status:
  dynamic-port run --timeout 30 --then 'curl -fsS http://127.0.0.1:$PORT/health' -- ./my-server

  # Start a server and stay with it; the first line of output is its port:
  dynamic-port run -- python3 server.py | { read PORT; echo \"listening on $PORT\"; cat; }

The program is given `--dynamic-port-writer WRITER` as its last arguments (or,
with --env, the environment variable DYNAMIC_PORT_WRITER), and reports the
port it listens on there once it listens: a shell program with
`echo \"$PORT\" >&\"${2%%:*}\"`, a Rust program with the dynamic-port crate.

Output: the port on the first line; then, if the program reported an
address, that address; if it reported several or named endpoints, one
NAME=ADDRESS line each. With --then, CMD sees PORT and ADDR, and PORT_NAME
and ADDR_NAME for each named endpoint (NAME in capitals, - and . as _).

Exit status: the program's (128+N if signal N killed it), or with --then the
command's; else 2 bad usage, 3 the program exited before reporting, 4 a
malformed report, 124 the timeout passed, 125 another failure, 126 the
program cannot be run, 127 the program was not found.";

/// Learn the port a server bound to port 0, without races or polling.
#[derive(Debug, Parser)]
#[command(name = "dynamic-port", version, after_help = AFTER_HELP)]
struct Cli {
    /// What to do.
    #[command(subcommand)]
    command: Commands,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
enum Commands {
    /// Start PROG with a writer, print its port once it listens, then stay
    /// with it (passing on SIGINT, SIGTERM and SIGHUP) or run --then CMD
    /// against it and stop it.
    #[command(after_help = AFTER_HELP)]
    Run(Run),
}

/// The options of `run`.
#[derive(Debug, Args)]
struct Run {
    /// Give up if no port is reported within SECS seconds (the program is stopped).
    #[arg(long, value_name = "SECS", value_parser = seconds)]
    timeout: Option<Duration>,
    /// Pass the writer in the environment variable DYNAMIC_PORT_WRITER instead of a flag.
    #[arg(long)]
    env: bool,
    /// Use a named writer (a FIFO the program opens by path) instead of an inherited pipe.
    #[arg(long)]
    named: bool,
    /// Once the port is known, run `sh -c CMD` with PORT set, then stop the
    /// program and exit with CMD's status.
    #[arg(long, value_name = "CMD")]
    then: Option<String>,
    /// How long the program gets to exit after SIGTERM before SIGKILL, when stopped.
    #[arg(long, value_name = "SECS", value_parser = seconds, default_value = "5")]
    grace: Duration,
    /// The program and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "PROG [ARGS]...")]
    program: Vec<OsString>,
}

/// Parses a non-negative number of seconds, such as `30` or `0.5`.
fn seconds(text: &str) -> Result<Duration, String> {
    let secs: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    Duration::try_from_secs_f64(secs)
        .map_err(|_| format!("{text:?} is not a number of seconds from 0 up"))
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return ExitCode::from(if err.use_stderr() { code::USAGE } else { 0 });
        }
    };
    let Commands::Run(run) = cli.command;
    match run.run() {
        Ok(code) => code,
        Err((code, message)) => {
            eprintln!("dynamic-port: {message}");
            ExitCode::from(code)
        }
    }
}

/// A failure of `run`: the exit code and the one-line message.
type Failure = (u8, String);

impl Run {
    /// Runs the program, and `--then` if given; returns the exit code.
    fn run(&self) -> Result<ExitCode, Failure> {
        // Before the spawn, so that no signal is missed; the child gets the
        // default dispositions back on exec.
        let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP])
            .map_err(|e| (code::FAILED, format!("cannot handle signals: {e}")))?;
        let mut options = SpawnOptions::new();
        if self.env {
            options = options.env();
        }
        if self.named {
            options = options.named();
        }
        let program = &self.program[0];
        let mut command = Command::new(program);
        // Its own process group, so that stopping it stops what it started too.
        command.args(&self.program[1..]).process_group(0);
        let (mut child, port) = options
            .spawn(&mut command)
            .map_err(|err| spawn_failure(program, &err))?;

        // Signals go to whoever runs in the foreground, the program, then
        // `--then`'s command, and to their process group.
        let target = Arc::new(AtomicI32::new(pid_of(&child)));
        let forward_to = Arc::clone(&target);
        let forwarder = signals.handle();
        let forwarding = std::thread::spawn(move || {
            for signal in signals.forever() {
                let pid = forward_to.load(Ordering::SeqCst);
                if let (Some(pid), Some(signal)) =
                    (Pid::from_raw(pid), Signal::from_named_raw(signal))
                {
                    let _ = kill_process_group(pid, signal);
                }
            }
        });

        let mut line = port.line();
        if let Some(timeout) = self.timeout {
            line = line.timeout(timeout);
        }
        let result = line
            .wait()
            .and_then(|line| Report::parse(&line))
            .map_err(|err| self.report_failure(&mut child, &err));
        let report = match result {
            Ok(report) => report,
            Err(failure) => {
                forwarder.close();
                let _ = forwarding.join();
                return Err(failure);
            }
        };
        report
            .print()
            .map_err(|e| (code::FAILED, format!("cannot write the port: {e}")))?;

        let status = match &self.then {
            None => child
                .wait()
                .map_err(|e| (code::FAILED, format!("cannot wait for the program: {e}")))?,
            Some(then) => {
                let status = self.run_then(then, &report, &target);
                target.store(0, Ordering::SeqCst);
                self.stop(&mut child);
                status?
            }
        };
        target.store(0, Ordering::SeqCst);
        forwarder.close();
        let _ = forwarding.join();
        Ok(exit_code(status))
    }

    /// Runs `sh -c CMD` with the report in its environment; returns its status.
    fn run_then(
        &self,
        then: &str,
        report: &Report,
        target: &AtomicI32,
    ) -> Result<ExitStatus, Failure> {
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(then)
            .envs(report.env())
            .process_group(0);
        let mut shell = command
            .spawn()
            .map_err(|e| (code::FAILED, format!("cannot run sh for --then: {e}")))?;
        target.store(pid_of(&shell), Ordering::SeqCst);
        shell
            .wait()
            .map_err(|e| (code::FAILED, format!("cannot wait for --then: {e}")))
    }

    /// Stops the program and its process group: SIGTERM, then SIGKILL
    /// after the grace if the program still runs.
    fn stop(&self, child: &mut Child) {
        let group = Pid::from_raw(pid_of(child));
        let signal_group = |signal| {
            if let Some(group) = group {
                // Fails only when the whole group is gone already.
                let _ = kill_process_group(group, signal);
            }
        };
        signal_group(Signal::TERM);
        let deadline = Instant::now() + self.grace;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                // The program is gone; what it started goes too.
                signal_group(Signal::KILL);
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        signal_group(Signal::KILL);
        let _ = child.kill();
        let _ = child.wait();
    }

    /// The failure for a report that did not come: the program is stopped
    /// if it still runs.
    fn report_failure(&self, child: &mut Child, err: &Error) -> Failure {
        self.stop(child);
        let code = match err.kind() {
            ErrorKind::ChildExited | ErrorKind::ClosedWithoutReport => code::NO_REPORT,
            ErrorKind::MalformedReport => code::BAD_REPORT,
            ErrorKind::TimedOut => code::TIMED_OUT,
            _ => code::FAILED,
        };
        let stopped = match err.kind() {
            ErrorKind::TimedOut | ErrorKind::MalformedReport => "; the program was stopped",
            _ => "",
        };
        (code, format!("{err}{stopped}"))
    }
}

/// The failure for a program that could not be started.
fn spawn_failure(program: &OsString, err: &Error) -> Failure {
    let source =
        std::error::Error::source(err).and_then(|source| source.downcast_ref::<std::io::Error>());
    let code = match source.map(std::io::Error::kind) {
        Some(std::io::ErrorKind::NotFound) => code::NOT_FOUND,
        Some(std::io::ErrorKind::PermissionDenied) => code::CANNOT_RUN,
        _ => code::FAILED,
    };
    let why = source.map_or_else(|| err.to_string(), ToString::to_string);
    (
        code,
        format!("cannot start {}: {why}", program.to_string_lossy()),
    )
}

/// A process id as the signal functions take it.
fn pid_of(child: &Child) -> i32 {
    i32::try_from(child.id()).unwrap_or(0)
}

/// The exit code that passes `status` on: its code, or 128+N for signal N.
fn exit_code(status: ExitStatus) -> ExitCode {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => ExitCode::from(code as u8),
        (None, Some(signal)) => ExitCode::from((128 + signal) as u8),
        (None, None) => ExitCode::from(code::FAILED),
    }
}

/// What the program reported.
#[derive(Debug)]
struct Report {
    /// Its items, in the order reported.
    items: protocol::Items,
    /// Every endpoint by name (unnamed ones by position), where to connect.
    endpoints: std::collections::BTreeMap<String, std::net::SocketAddr>,
}

impl Report {
    /// Parses the report line.
    fn parse(line: &str) -> Result<Report, Error> {
        let items = protocol::parse_items_report(line.as_bytes(), true)?
            .expect("a whole line at end of stream");
        let endpoints = protocol::endpoints(items.clone(), line.as_bytes(), None)?;
        Ok(Report { items, endpoints })
    }

    /// The first item: what PORT and ADDR say.
    fn first(&self) -> Item {
        self.items[0].1
    }

    /// Whether the report is a single item without a name.
    fn is_single(&self) -> bool {
        self.items.len() == 1 && self.items[0].0.is_none()
    }

    /// Prints the port, then the address or the endpoints, and flushes.
    fn print(&self) -> std::io::Result<()> {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}", self.first().port())?;
        match self.first() {
            Item::Addr(_) if self.is_single() => writeln!(out, "{}", self.first().connect_addr())?,
            _ if self.is_single() => {}
            _ => {
                for (name, addr) in &self.endpoints {
                    writeln!(out, "{name}={addr}")?;
                }
            }
        }
        out.flush()
    }

    /// The environment `--then` gets: PORT, ADDR, and PORT_NAME, ADDR_NAME for each endpoint.
    fn env(&self) -> Vec<(String, String)> {
        let mut env = vec![
            ("PORT".to_owned(), self.first().port().to_string()),
            ("ADDR".to_owned(), self.first().connect_addr().to_string()),
        ];
        if !self.is_single() {
            for (name, addr) in &self.endpoints {
                let name: String = name
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() {
                            c.to_ascii_uppercase()
                        } else {
                            '_'
                        }
                    })
                    .collect();
                env.push((format!("PORT_{name}"), addr.port().to_string()));
                env.push((format!("ADDR_{name}"), addr.to_string()));
            }
        }
        env
    }
}
