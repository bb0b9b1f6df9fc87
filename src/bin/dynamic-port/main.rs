//! `dynamic-port run`: start a server on a port the OS picks, print the
//! port once it listens, and either stay with it or run a command against
//! it and stop it. For parents in any language: shell scripts, Makefiles,
//! CI jobs, test suites.
//!
//! - [`args`]: the command line and its help;
//! - `supervise`: spawning, the report, signals, `--then`, stopping (on
//!   Windows, `supervise_windows.rs`: a Job object and console control
//!   events instead of process groups and signals);
//! - `terminal`: the foreground process group and job control (Unix);
//! - [`output`]: the report's lines, `--then`'s environment, the relay of
//!   the program's stdout;
//! - `sys`: every `unsafe` block (Unix; on Windows the library's own).
#![deny(unsafe_code)]

use std::ffi::OsStr;
use std::io::Write;
use std::process::{ExitCode, ExitStatus};

use clap::Parser;
use dynamic_port::{Error, ErrorKind, PortFuture};

use crate::args::Run;

mod args;
mod output;
#[cfg(unix)]
mod supervise;
#[cfg(windows)]
#[path = "supervise_windows.rs"]
mod supervise;
#[cfg(unix)]
#[allow(unsafe_code)]
mod sys;
#[cfg(unix)]
mod terminal;

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

/// A failure of `run`: the exit code and the one-line message.
type Failure = (u8, String);

fn main() -> ExitCode {
    let cli = match args::Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return ExitCode::from(if err.use_stderr() { code::USAGE } else { 0 });
        }
    };
    let args::Commands::Run(run) = cli.command;
    match supervise::run(&run) {
        Ok(code) => code,
        Err((code, message)) => {
            // Not `eprintln!`, which panics when stderr is a closed pipe.
            let _ = writeln!(std::io::stderr(), "dynamic-port: {message}");
            ExitCode::from(code)
        }
    }
}

/// The exit code that passes `status` on: its code, or 128+N for signal N.
#[cfg(unix)]
fn exit_code(status: ExitStatus) -> ExitCode {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => ExitCode::from(code as u8),
        (None, Some(signal)) => ExitCode::from((128 + signal) as u8),
        (None, None) => ExitCode::from(code::FAILED),
    }
}

/// The exit code that passes `status` on: its whole 32-bit code (such as
/// `0xC000013A` for a program ended by Ctrl-C), which `ExitCode` cannot
/// carry beyond 255, so larger ones exit here and now.
#[cfg(windows)]
fn exit_code(status: ExitStatus) -> ExitCode {
    match status.code() {
        Some(code @ 0..=255) => ExitCode::from(code as u8),
        Some(code) => {
            let _ = std::io::stdout().flush();
            std::process::exit(code)
        }
        None => ExitCode::from(code::FAILED),
    }
}

/// The failure for a report that did not come or was bad (the program is
/// stopped by the caller).
fn report_failure(err: &Error) -> Failure {
    let code = match err.kind() {
        ErrorKind::ChildExited | ErrorKind::ClosedWithoutReport => code::NO_REPORT,
        ErrorKind::MalformedReport => code::BAD_REPORT,
        ErrorKind::TimedOut => code::TIMED_OUT,
        _ => code::FAILED,
    };
    let stopped = match err.kind() {
        ErrorKind::ChildExited => "",
        _ => "; the program was stopped",
    };
    (code, format!("{err}{stopped}"))
}

/// The failure for a program that could not be started.
fn spawn_failure(program: &OsStr, err: &std::io::Error) -> Failure {
    let code = match err.kind() {
        std::io::ErrorKind::NotFound => code::NOT_FOUND,
        std::io::ErrorKind::PermissionDenied => code::CANNOT_RUN,
        _ => code::FAILED,
    };
    (
        code,
        format!("cannot start {}: {err}", program.to_string_lossy()),
    )
}

/// `--then`'s command and the environment it gets.
type Then<'a> = Option<(&'a String, Vec<(String, String)>)>;

/// What both supervisors do once the program runs: wait for its report
/// (within `--timeout`), check `--then`'s environment before anything is
/// printed, and print the report's lines. On any failure, `stop` stops the
/// program first.
fn report_and_print<'a>(
    run: &'a Run,
    port: PortFuture,
    stop: &mut dyn FnMut(),
) -> Result<Then<'a>, Failure> {
    let mut report = port.report();
    if let Some(timeout) = run.timeout {
        report = report.timeout(timeout);
    }
    let report = match report.wait() {
        Ok(report) => report,
        Err(err) => {
            let failure = report_failure(&err);
            stop();
            return Err(failure);
        }
    };
    let then = match &run.then {
        Some(then) => match output::then_env(&report) {
            Ok(env) => Some((then, env)),
            Err(why) => {
                stop();
                return Err((code::BAD_REPORT, format!("{why}; the program was stopped")));
            }
        },
        None => None,
    };
    if let Err(err) = output::print(&report, run.remote.is_some()) {
        stop();
        return Err((
            code::FAILED,
            format!("cannot write the port to stdout: {err}; the program was stopped"),
        ));
    }
    Ok(then)
}
