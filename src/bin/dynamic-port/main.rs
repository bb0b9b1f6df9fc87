//! `dynamic-port run`: start a server on a port the OS picks, print the
//! port once it listens, and either stay with it or run a command against
//! it and stop it. For parents in any language: shell scripts, Makefiles,
//! CI jobs, test suites.
//!
//! - [`args`]: the command line and its help;
//! - [`supervise`]: spawning, the report, signals, `--then`, stopping;
//! - [`terminal`]: the foreground process group and job control;
//! - [`output`]: the report's lines, `--then`'s environment, the relay of
//!   the program's stdout;
//! - [`sys`]: every `unsafe` block.
#![deny(unsafe_code)]

use std::io::Write;
use std::process::{ExitCode, ExitStatus};

use clap::Parser;

mod args;
mod output;
mod supervise;
#[allow(unsafe_code)]
mod sys;
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
fn exit_code(status: ExitStatus) -> ExitCode {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => ExitCode::from(code as u8),
        (None, Some(signal)) => ExitCode::from((128 + signal) as u8),
        (None, None) => ExitCode::from(code::FAILED),
    }
}
