//! The supervisor on Windows: starts the program with a writer in a Job
//! object of its own, waits for its report, passes Ctrl-C on, runs
//! `--then`, and stops the program (and everything it started) whenever
//! something fails.
//!
//! What differs from Unix:
//!
//! - **The tree** is a Job object that kills its processes when its last
//!   handle closes; only dynamic-port holds it, so however dynamic-port
//!   ends, the program and what it started end too.
//! - **Ctrl-C** (and Ctrl-Break, and closing the console) reaches
//!   dynamic-port, which passes it on as Ctrl-Break to the program's
//!   console process group (then `--then`'s), and waits for it.
//! - **Stopping** is Ctrl-Break, then, once the program exited or the
//!   grace passed, the whole job terminated.
//! - **`--then CMD`** runs `cmd /C CMD`, so the report is `%PORT%` there.
//! - No terminal job control, `--stop-signal` or `--stop-with-parent`.

use std::os::windows::io::AsHandle;
use std::os::windows::process::CommandExt;
use std::process::{Child, Command, ExitCode, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use dynamic_port::__windows::{ctrl_break, on_console_control, Job};
use dynamic_port::{DynamicPortWriter, PortFuture};

use crate::args::{ProgramStdout, Run};
use crate::output::{Relay, Sink};
use crate::{code, exit_code, spawn_failure, Failure};

/// `CREATE_NEW_PROCESS_GROUP`: the program leads a console process group,
/// which Ctrl-Break can be sent to alone.
const CREATE_NEW_PROCESS_GROUP: u32 = 0x0000_0200;

/// How often a stop looks whether the program is gone.
const STOP_POLL: Duration = Duration::from_millis(5);

/// How long the relay of `--program-stdout inherit` may stand still once
/// the program exited.
const RELAY_IDLE: Duration = Duration::from_millis(200);

/// Runs `dynamic-port run`: returns the exit code, or the failure to report.
pub(crate) fn run(run: &Run) -> Result<ExitCode, Failure> {
    let (mut program, port) = Program::start(run)?;
    let then = crate::report_and_print(run, port, &mut || program.stop(run))?;
    program.release(Sink::Stdout);
    let status = match then {
        Some((then, env)) => {
            let status = run_then(then, &env);
            let _ = on_console_control(0);
            program.stop(run);
            status?
        }
        None => program.wait()?,
    };
    Ok(exit_code(status))
}

/// Runs `cmd /C CMD` with the report in its environment, Ctrl-C passed on
/// to it, and returns its status.
fn run_then(then: &str, env: &[(String, String)]) -> Result<ExitStatus, Failure> {
    let mut command = Command::new("cmd");
    command
        .arg("/C")
        .raw_arg(then)
        .envs(env.iter().map(|(name, value)| (name, value)))
        .creation_flags(CREATE_NEW_PROCESS_GROUP);
    let mut shell = command
        .spawn()
        .map_err(|e| (code::FAILED, format!("cannot run cmd for --then: {e}")))?;
    let _ = on_console_control(shell.id());
    shell
        .wait()
        .map_err(|e| (code::FAILED, format!("cannot wait for --then: {e}")))
}

/// The program dynamic-port supervises.
#[derive(Debug)]
struct Program {
    /// The child, not waited for until [`wait`](Self::wait) or [`stop`](Self::stop).
    child: Child,
    /// The job that holds it and what it starts.
    job: Job,
    /// The relay of its stdout, with `--program-stdout inherit`.
    relay: Option<Relay>,
    /// Whether it was waited for.
    reaped: bool,
}

impl Program {
    /// Makes the writer `run` asks for, passes it, spawns the program in a
    /// console process group of its own, and puts it in a Job object.
    fn start(run: &Run) -> Result<(Program, PortFuture), Failure> {
        let made = match run.remote {
            Some(addr) => DynamicPortWriter::create_remote(addr),
            // `--named` too: on Windows every local writer is loopback TCP.
            None => DynamicPortWriter::create(),
        };
        let (writer, port) =
            made.map_err(|e| (code::FAILED, format!("cannot make a writer: {e}")))?;
        let job =
            Job::new().map_err(|e| (code::FAILED, format!("cannot make a Job object: {e}")))?;
        let program = &run.program[0];
        let mut command = Command::new(program);
        command
            .args(&run.program[1..])
            .creation_flags(CREATE_NEW_PROCESS_GROUP);
        if run.env {
            writer.pass_to_env(&mut command);
        } else {
            writer.pass_to(&mut command);
        }
        let relay = match run.program_stdout {
            ProgramStdout::Stderr => {
                let stderr = std::io::stderr().as_handle().try_clone_to_owned();
                command.stdout(stderr.map_or_else(|_| Stdio::null(), Stdio::from));
                None
            }
            ProgramStdout::Inherit => {
                let (reader, writer) = std::io::pipe()
                    .map_err(|e| (code::FAILED, format!("cannot make a pipe: {e}")))?;
                command.stdout(writer);
                Some(Relay::start(reader))
            }
        };
        let spawned = command.spawn();
        // The command's end of the relay's pipe must close now: the relay's
        // end of stream is the program's.
        drop(command);
        drop(writer);
        let mut child = spawned.map_err(|err| spawn_failure(program, &err))?;
        if let Err(err) = job.assign(&child) {
            let _ = child.kill();
            let _ = child.wait();
            return Err((
                code::FAILED,
                format!("cannot put the program in a Job object: {err}; it was stopped"),
            ));
        }
        let _ = on_console_control(child.id());
        let port = port.watch(&mut child);
        let program = Program {
            child,
            job,
            relay,
            reaped: false,
        };
        Ok((program, port))
    }

    /// Sends the program's stdout, held until now, to `sink`.
    fn release(&self, sink: Sink) {
        if let Some(relay) = &self.relay {
            relay.release(sink);
        }
    }

    /// Waits for the program to exit.
    fn wait(&mut self) -> Result<ExitStatus, Failure> {
        let status = self.child.wait();
        self.reaped = true;
        self.after_exit();
        status.map_err(|e| (code::FAILED, format!("cannot wait for the program: {e}")))
    }

    /// Stops the program and its job: Ctrl-Break, then the whole job
    /// terminated once the program exited or the grace passed.
    fn stop(&mut self, run: &Run) {
        self.release(Sink::Stderr);
        if !self.reaped {
            let _ = ctrl_break(self.child.id());
            let deadline = Instant::now().checked_add(run.grace);
            while matches!(self.child.try_wait(), Ok(None))
                && deadline.is_none_or(|deadline| Instant::now() < deadline)
            {
                std::thread::sleep(STOP_POLL);
            }
        }
        // What it started goes too.
        let _ = self.job.terminate();
        let _ = self.child.wait();
        self.reaped = true;
        self.after_exit();
    }

    /// After the program exited: the relay done.
    fn after_exit(&mut self) {
        if let Some(relay) = self.relay.take() {
            relay.release(Sink::Stderr);
            relay.finish(RELAY_IDLE);
        }
    }
}
