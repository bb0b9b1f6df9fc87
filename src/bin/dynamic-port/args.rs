//! The command line of `dynamic-port run`, and its help.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
#[cfg(unix)]
use rustix::process::Signal;

/// What `--help` shows after the options.
const AFTER_HELP: &str = "\
Examples:
  # Start a server, run the tests against it, stop it, keep the tests' status:
  dynamic-port run --timeout 30 --then 'curl -fsS http://127.0.0.1:$PORT/health' -- ./my-server

  # Start a server and stay with it; the first line of output is its port:
  dynamic-port run -- python3 server.py | { read -r PORT; echo \"listening on $PORT\"; }

The program is given `--dynamic-port-writer WRITER` as its last arguments (or,
with --env, the environment variable DYNAMIC_PORT_WRITER), and reports the
port it listens on there once it listens: a shell program with
`echo \"$PORT\" >&\"${2%%:*}\"`, a Rust program with the dynamic-port crate.

Output: dynamic-port's stdout carries the report and nothing else: the port
on the first line; then, if the program reported one address (or, with
--remote, one port), where to connect; if it reported several or named
endpoints, one NAME=ADDRESS line each. The program's stdout goes to
dynamic-port's stderr, unless --program-stdout inherit. With --then, CMD sees
PORT and ADDR, and PORT_NAME and ADDR_NAME for each endpoint of a report of
several or named ones (NAME in capitals, any other character as _; two
names that become the same variable, such as a-b and a.b, are a malformed
report).

The report is judged as it arrives: bytes that cannot become a report (a
banner such as `Listening on 8080` written to the writer) are a malformed
report at once, newline or not; so is an empty line.

On a terminal, the program (then CMD) runs in the terminal's foreground while
dynamic-port waits, so that it can read the terminal; Ctrl-Z stops both, and
the shell's fg (or bg) continues both. The signals HUP, INT, QUIT, TERM, USR1,
USR2, WINCH, ALRM, CONT and TSTP sent to dynamic-port are passed on to the
program's process group (then CMD's). A signal dynamic-port inherited as
ignored stays ignored, by it and by the program.

Exit status: the program's (128+N if signal N killed it), or with --then the
command's; else 2 bad usage, 3 the program exited before reporting, 4 a
malformed report, 124 the timeout passed, 125 another failure (such as a port
line that could not be written: a closed pipe), 126 the program cannot be
run, 127 the program was not found. On every failure the program is
stopped: the stop signal to its process group, SIGKILL after the grace, and
reaped.";

/// Learn the port a server bound to port 0, without races or polling.
#[derive(Debug, Parser)]
#[command(name = "dynamic-port", version, after_help = AFTER_HELP)]
pub(crate) struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub(crate) command: Commands,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Commands {
    /// Start PROG with a writer, print its port once it listens, then stay
    /// with it (passing signals on) or run --then CMD against it and stop it.
    #[command(after_help = AFTER_HELP)]
    Run(Run),
}

/// The options of `run`.
#[derive(Debug, Args)]
pub(crate) struct Run {
    /// Give up if no port is reported within SECS seconds (the program is
    /// stopped). SECS is a number from 0 to 1e9, such as 30 or 0.5.
    #[arg(long, value_name = "SECS", value_parser = seconds)]
    pub(crate) timeout: Option<Duration>,
    /// Pass the writer in the environment variable DYNAMIC_PORT_WRITER
    /// instead of a flag (which any local user can read in /proc).
    #[arg(long)]
    pub(crate) env: bool,
    /// Use a named writer (a FIFO the program opens by path) instead of an
    /// inherited pipe.
    #[arg(long, conflicts_with = "remote")]
    pub(crate) named: bool,
    /// Listen on ADDR (port 0: any free one) for a program on another host,
    /// started through ssh, srun or a container runtime, which connects back
    /// and reports with a secret token. The token is in the writer: with
    /// --env in the environment, else on the command line, where any local
    /// user can read it in /proc.
    #[arg(long, value_name = "ADDR")]
    pub(crate) remote: Option<SocketAddr>,
    /// Once the port is known, run `sh -c CMD` with PORT set, then stop the
    /// program and exit with CMD's status.
    #[arg(long, value_name = "CMD")]
    pub(crate) then: Option<String>,
    /// How long the program gets to exit after the stop signal before
    /// SIGKILL, when it is stopped. SECS is a number from 0 to 1e9.
    #[arg(long, value_name = "SECS", value_parser = seconds, default_value = "5")]
    pub(crate) grace: Duration,
    /// The signal that stops the program, by name (TERM, SIGINT) or number;
    /// or several, comma-separated, sent 100 ms apart. srun kills its task
    /// at once on TERM, and passes INT on only when two come within a
    /// second: use INT,INT there. (Unix only: on Windows the program gets
    /// Ctrl-Break.)
    #[cfg(unix)]
    #[arg(long, value_name = "SIG[,SIG...]", value_parser = stop_signals, default_value = "TERM")]
    pub(crate) stop_signal: StopSignals,
    /// Stop the program (the stop signal, SIGKILL after the grace) within a
    /// second once dynamic-port's own parent is gone, however it went
    /// (SIGKILL included): for test fixtures, whose runner may die without
    /// cleaning up. (Unix only for now.)
    #[cfg(unix)]
    #[arg(long)]
    pub(crate) stop_with_parent: bool,
    /// Where the program's stdout goes.
    #[arg(long, value_name = "WHERE", value_enum, default_value_t = ProgramStdout::Stderr)]
    pub(crate) program_stdout: ProgramStdout,
    /// The program and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "PROG [ARGS]...")]
    pub(crate) program: Vec<OsString>,
}

/// Where the program's stdout goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum ProgramStdout {
    /// To dynamic-port's stderr, so that its stdout carries only the report.
    Stderr,
    /// To dynamic-port's stdout, after the port lines: through a pipe that
    /// dynamic-port copies once they are out (what the program prints before
    /// it reports waits for them; the program's stdout is never a terminal).
    Inherit,
}

/// The longest duration accepted, in seconds (about 31 years): a deadline
/// this far off still fits the clock.
const MAX_SECONDS: f64 = 1e9;

/// Parses a number of seconds from 0 to [`MAX_SECONDS`], such as `30` or
/// `0.5`; anything else (negative, `inf`, `nan`, `1e19`) is refused.
pub(crate) fn seconds(text: &str) -> Result<Duration, String> {
    let refused = || format!("{text:?} is not a number of seconds from 0 to 1e9");
    let secs: f64 = text.parse().map_err(|_| refused())?;
    if !(0.0..=MAX_SECONDS).contains(&secs) {
        return Err(refused());
    }
    Duration::try_from_secs_f64(secs).map_err(|_| refused())
}

#[cfg(unix)]
/// The signals `--stop-signal` knows by name (PWR on Linux only).
const SIGNALS: &[(&str, Signal)] = &[
    ("HUP", Signal::HUP),
    ("INT", Signal::INT),
    ("QUIT", Signal::QUIT),
    ("KILL", Signal::KILL),
    ("USR1", Signal::USR1),
    ("USR2", Signal::USR2),
    ("ALRM", Signal::ALARM),
    ("TERM", Signal::TERM),
    ("WINCH", Signal::WINCH),
    #[cfg(target_os = "linux")]
    ("PWR", Signal::POWER),
];

/// The signals that stop the program, in order: `--stop-signal`.
#[cfg(unix)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct StopSignals(pub(crate) Vec<Signal>);

/// Parses `--stop-signal`: one to four signals, comma-separated.
#[cfg(unix)]
pub(crate) fn stop_signals(text: &str) -> Result<StopSignals, String> {
    let signals = text.split(',').map(signal).collect::<Result<Vec<_>, _>>()?;
    if signals.len() > 4 {
        return Err(format!("{text:?} has more than four signals"));
    }
    Ok(StopSignals(signals))
}

#[cfg(unix)]
/// Parses a signal: a name from [`SIGNALS`], with or without `SIG`, in any
/// case, or a number.
pub(crate) fn signal(text: &str) -> Result<Signal, String> {
    let upper = text.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    SIGNALS
        .iter()
        .find(|(known, _)| *known == name)
        .map(|(_, signal)| *signal)
        .or_else(|| text.parse().ok().and_then(Signal::from_named_raw))
        .ok_or_else(|| {
            let names: Vec<&str> = SIGNALS.iter().map(|(name, _)| *name).collect();
            format!(
                "{text:?} is not a signal: give one of {} or a number",
                names.join(", ")
            )
        })
}
