//! The supervisor: starts the program with a writer, waits for its report,
//! passes signals on, follows job control, runs `--then`, and stops the
//! program (and its process group) whenever something fails.

use std::os::fd::AsFd;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitCode, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dynamic_port::{DynamicPortWriter, PortFuture};
use rustix::process::{kill_process_group, waitid, Pid, Signal, WaitId, WaitIdOptions};
use signal_hook::consts::{
    SIGALRM, SIGCHLD, SIGCONT, SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGTSTP, SIGTTIN, SIGTTOU,
    SIGUSR1, SIGUSR2, SIGWINCH,
};

use crate::args::{ProgramStdout, Run, StopSignals};
use crate::output::{Relay, Sink};
use crate::terminal::Terminal;
use crate::{code, exit_code, spawn_failure, sys, Failure};

/// The signals passed on to the program (then `--then`'s command), unless
/// inherited as ignored. TSTP and CONT also drive job control.
const PASSED_ON: [i32; 10] = [
    SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH, SIGALRM, SIGCONT, SIGTSTP,
];

/// How often a stop looks whether the program is gone.
const STOP_POLL: Duration = Duration::from_millis(5);

/// How long the relay of `--program-stdout inherit`, still copying once the
/// program exited, may stand still before dynamic-port exits without the
/// rest: for a pipe the program's own children hold open.
const RELAY_IDLE: Duration = Duration::from_millis(200);

/// Runs `dynamic-port run`: returns the exit code, or the failure to report.
pub(crate) fn run(run: &Run) -> Result<ExitCode, Failure> {
    // Before anything can take long: the parent whose end `--stop-with-parent` watches for.
    let parent = rustix::process::getppid();
    // Before any thread is started (threads inherit the mask), and before
    // the program is spawned (so that no signal is missed: one that comes
    // before the supervisor's thread runs waits for it).
    let signals =
        Signals::install().map_err(|e| (code::FAILED, format!("cannot handle signals: {e}")))?;
    let terminal = Terminal::open().map(Arc::new);
    let (program, port) = Program::start(run, terminal.clone())?;
    // Its thread runs until dynamic-port exits.
    let supervisor = Supervisor::start(signals, program.group, terminal.clone());
    if run.stop_with_parent {
        watch_parent(parent, program.group, &supervisor, run);
    }
    supervise(run, program, port, &supervisor)
}

/// How often `--stop-with-parent` looks at dynamic-port's parent.
const PARENT_POLL: Duration = Duration::from_millis(100);

/// With `--stop-with-parent`: a thread that, once dynamic-port is orphaned
/// (its parent pid changed: the parent died, however it died), stops the
/// program's process group and `--then`'s (the stop signal, SIGCONT, then
/// SIGKILL after the grace). The main thread then sees the program exit,
/// and dynamic-port exits with its status. Polling `getppid()` works on
/// every Unix, and a parent's death by SIGKILL sends nothing else.
fn watch_parent(parent: Option<Pid>, program: Option<Pid>, supervisor: &Supervisor, run: &Run) {
    let shared = Arc::clone(&supervisor.shared);
    let (stop, grace) = (run.stop_signal.clone(), run.grace);
    std::thread::spawn(move || {
        while rustix::process::getppid() == parent {
            std::thread::sleep(PARENT_POLL);
        }
        let groups = || [program, shared.target()].into_iter().flatten();
        for group in groups() {
            send_stop(group, &stop);
            let _ = kill_process_group(group, Signal::CONT);
        }
        std::thread::sleep(grace);
        for group in groups().chain(program) {
            let _ = kill_process_group(group, Signal::KILL);
        }
    });
}

/// How long apart the signals of a `--stop-signal` sequence go (srun takes
/// two INTs within a second as "pass INT on to the tasks").
const STOP_SEQUENCE_GAP: Duration = Duration::from_millis(100);

/// Sends `--stop-signal`'s signals to `group`, in order, [`STOP_SEQUENCE_GAP`] apart.
fn send_stop(group: Pid, stop: &StopSignals) {
    for (i, &signal) in stop.0.iter().enumerate() {
        if i > 0 {
            std::thread::sleep(STOP_SEQUENCE_GAP);
        }
        let _ = kill_process_group(group, signal);
    }
}

/// Waits for the report, prints it, and stays with the program or runs
/// `--then`: the rest of [`run`].
fn supervise(
    run: &Run,
    mut program: Program,
    port: PortFuture,
    supervisor: &Supervisor,
) -> Result<ExitCode, Failure> {
    let then = crate::report_and_print(run, port, &mut || program.stop(run))?;
    program.release(Sink::Stdout);

    let status = match then {
        Some((then, env)) => {
            // From the program to `--then`'s command, which may read it.
            program.take_back_terminal();
            let status = run_then(then, &env, supervisor);
            supervisor.set_target(None);
            program.stop(run);
            status?
        }
        None => program.wait()?,
    };
    Ok(exit_code(status))
}

/// Runs `sh -c CMD` with the report in its environment, in the
/// foreground, and returns its status.
fn run_then(
    then: &str,
    env: &[(String, String)],
    supervisor: &Supervisor,
) -> Result<ExitStatus, Failure> {
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(then)
        .envs(env.iter().map(|(name, value)| (name, value)))
        .process_group(0);
    if let Some(terminal) = &supervisor.shared.terminal {
        terminal.hand_over_on_exec(&mut command);
    }
    let mut shell = sys::unblocked(SIGTTOU, || command.spawn())
        .map_err(|e| (code::FAILED, format!("cannot run sh for --then: {e}")))?;
    let group = group_of(&shell);
    supervisor.set_target(group);
    let status = shell.wait();
    if let (Some(terminal), Some(group)) = (&supervisor.shared.terminal, group) {
        terminal.take_back(group);
    }
    status.map_err(|e| (code::FAILED, format!("cannot wait for --then: {e}")))
}

/// The process group a child leads (it was spawned with `process_group(0)`).
fn group_of(child: &Child) -> Option<Pid> {
    i32::try_from(child.id()).ok().and_then(Pid::from_raw)
}

/// The program dynamic-port supervises.
#[derive(Debug)]
struct Program {
    /// The child, unreaped until [`wait`](Self::wait) or [`stop`](Self::stop).
    child: Child,
    /// Its process group, which it leads; `None` only for an impossible pid.
    group: Option<Pid>,
    /// The relay of its stdout, with `--program-stdout inherit`.
    relay: Option<Relay>,
    /// The terminal it may hold.
    terminal: Option<Arc<Terminal>>,
    /// Whether it was reaped.
    reaped: bool,
}

impl Program {
    /// Makes the writer `run` asks for, passes it, and spawns the program in
    /// a process group of its own (in the terminal's foreground, if
    /// dynamic-port holds it). Returns it and the future of its report,
    /// watching it.
    fn start(run: &Run, terminal: Option<Arc<Terminal>>) -> Result<(Program, PortFuture), Failure> {
        let made = match (run.remote, run.named) {
            (Some(addr), _) => DynamicPortWriter::create_remote(addr),
            (None, true) => DynamicPortWriter::create_named(),
            (None, false) => DynamicPortWriter::create(),
        };
        let (writer, port) =
            made.map_err(|e| (code::FAILED, format!("cannot make a writer: {e}")))?;
        let program = &run.program[0];
        let mut command = Command::new(program);
        // Its own process group, so that stopping it stops what it started too.
        command.args(&run.program[1..]).process_group(0);
        if run.env {
            writer.pass_to_env(&mut command);
        } else {
            writer.pass_to(&mut command);
        }
        if let Some(terminal) = &terminal {
            terminal.hand_over_on_exec(&mut command);
        }
        let relay = match run.program_stdout {
            ProgramStdout::Stderr => {
                // A copy of dynamic-port's stderr; none if it has none.
                let stderr = std::io::stderr().as_fd().try_clone_to_owned();
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
        let spawned = sys::unblocked(SIGTTOU, || command.spawn());
        // The parent's writer, and the command's end of the relay's pipe,
        // must close now: the report's end of stream, and the relay's, are
        // the program's.
        drop(command);
        drop(writer);
        let mut child = spawned.map_err(|err| spawn_failure(program, &err))?;
        let port = port.watch(&mut child);
        let program = Program {
            group: group_of(&child),
            child,
            relay,
            terminal,
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

    /// Waits for the program to exit; takes the terminal back.
    fn wait(&mut self) -> Result<ExitStatus, Failure> {
        let status = self.child.wait();
        self.reaped = true;
        self.after_exit();
        status.map_err(|e| (code::FAILED, format!("cannot wait for the program: {e}")))
    }

    /// Stops the program and its process group: the stop signal (and
    /// SIGCONT, should it be stopped), then SIGKILL after the grace if it
    /// still runs; reaps it; takes the terminal back.
    fn stop(&mut self, run: &Run) {
        self.release(Sink::Stderr);
        if !self.reaped {
            if let Some(group) = self.group {
                send_stop(group, &run.stop_signal);
            }
            self.signal_group(Signal::CONT);
            let deadline = Instant::now().checked_add(run.grace);
            while !self.exited() {
                if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    break;
                }
                std::thread::sleep(STOP_POLL);
            }
            self.reaped = true;
        }
        // What it started goes too.
        self.signal_group(Signal::KILL);
        self.after_exit();
    }

    /// Whether the program has exited (and is reaped now); an error (no
    /// such child) counts as exited.
    fn exited(&mut self) -> bool {
        !matches!(self.child.try_wait(), Ok(None))
    }

    /// Sends `signal` to the program's process group; fails only when the
    /// whole group is gone.
    fn signal_group(&self, signal: Signal) {
        if let Some(group) = self.group {
            let _ = kill_process_group(group, signal);
        }
    }

    /// Takes the terminal back from the program's group, if it holds it.
    fn take_back_terminal(&self) {
        if let (Some(terminal), Some(group)) = (&self.terminal, self.group) {
            terminal.take_back(group);
        }
    }

    /// After the program exited: the terminal back, the relay done.
    fn after_exit(&mut self) {
        self.take_back_terminal();
        if let Some(relay) = self.relay.take() {
            relay.release(Sink::Stderr);
            relay.finish(RELAY_IDLE);
        }
    }
}

/// The signals dynamic-port handles, installed before anything else runs.
struct Signals {
    /// The iterator over them.
    signals: signal_hook::iterator::Signals,
    /// Set by every SIGCONT, when CONT is handled at all.
    continued: Option<Arc<AtomicBool>>,
    /// Whether TSTP is handled (not inherited as ignored): then the program's
    /// job-control stop stops dynamic-port too.
    stops: bool,
}

impl Signals {
    /// Sets up dynamic-port's signals: SIGTTOU blocked, a handler for each
    /// of [`PASSED_ON`] not inherited as ignored, and for SIGCHLD.
    fn install() -> std::io::Result<Signals> {
        // So that dynamic-port may set the terminal's foreground group and
        // write its lines while the program holds the terminal (with `stty
        // tostop`, a background write would stop it otherwise). Its
        // children start with it unblocked (`sys::unblocked`).
        sys::block(SIGTTOU)?;
        let passed: Vec<i32> = PASSED_ON
            .into_iter()
            .filter(|&signal| !sys::is_ignored(signal))
            .collect();
        // SIGCHLD always: it tells of the program's job-control stops, and
        // its handler replaces an inherited SIG_IGN, under which the kernel
        // would reap the program itself (its status lost, every wait for it
        // failing).
        let mut handled = passed.clone();
        handled.push(SIGCHLD);
        let signals = signal_hook::iterator::Signals::new(&handled)?;
        let continued = match passed.contains(&SIGCONT) {
            true => {
                let flag = Arc::new(AtomicBool::new(false));
                signal_hook::flag::register(SIGCONT, Arc::clone(&flag))?;
                Some(flag)
            }
            false => None,
        };
        Ok(Signals {
            signals,
            continued,
            stops: passed.contains(&SIGTSTP),
        })
    }
}

/// The thread that passes signals on and follows job control.
struct Supervisor {
    /// What it shares with the main thread.
    shared: Arc<Shared>,
}

/// What the supervisor's thread and the main thread share.
struct Shared {
    /// The process group that signals go to: the program's, then
    /// `--then`'s; 0 for none.
    target: AtomicI32,
    /// The terminal, if dynamic-port has one.
    terminal: Option<Arc<Terminal>>,
    /// Set by every SIGCONT, when CONT is handled.
    continued: Option<Arc<AtomicBool>>,
    /// Whether a job-control stop of the target stops dynamic-port too.
    stops: bool,
}

impl Supervisor {
    /// Starts the thread, with signals going to `target`.
    fn start(signals: Signals, target: Option<Pid>, terminal: Option<Arc<Terminal>>) -> Supervisor {
        let Signals {
            mut signals,
            continued,
            stops,
        } = signals;
        let shared = Arc::new(Shared {
            target: AtomicI32::new(Pid::as_raw(target)),
            terminal,
            continued,
            stops,
        });
        let for_thread = Arc::clone(&shared);
        std::thread::spawn(move || {
            for signal in signals.forever() {
                for_thread.handle(signal);
            }
        });
        Supervisor { shared }
    }

    /// Sends signals to `target` from now on.
    fn set_target(&self, target: Option<Pid>) {
        self.shared
            .target
            .store(Pid::as_raw(target), Ordering::SeqCst);
    }
}

impl Shared {
    /// The process group signals go to now.
    fn target(&self) -> Option<Pid> {
        Pid::from_raw(self.target.load(Ordering::SeqCst))
    }

    /// Handles one signal that dynamic-port received.
    fn handle(&self, signal: i32) {
        let target = self.target();
        match (signal, target) {
            (SIGCHLD, Some(target)) if job_control_stop(target) => self.suspend(target),
            (SIGCHLD, _) => {}
            (SIGCONT, _) => self.resume(),
            (_, Some(target)) => {
                if let Some(signal) = Signal::from_named_raw(signal) {
                    let _ = kill_process_group(target, signal);
                }
            }
            _ => {}
        }
    }

    /// The target was stopped by job control (Ctrl-Z, or a read of the
    /// terminal from the background): dynamic-port gives the terminal back
    /// to its own group and stops with it, as the shell expects of its job;
    /// once continued, [`resume`](Self::resume) continues the target.
    fn suspend(&self, target: Pid) {
        if let Some(terminal) = &self.terminal {
            terminal.take_back(target);
        }
        if !self.stops {
            return;
        }
        if let Some(continued) = &self.continued {
            continued.store(false, Ordering::SeqCst);
        }
        sys::stop_process_group();
        // Continued by the shell, a SIGCONT is on its way to `resume`;
        // without one (the stop was discarded, or CONT is ignored), resume
        // now.
        let started = Instant::now();
        let continued = self.continued.as_ref().is_some_and(|continued| {
            while started.elapsed() < Duration::from_millis(100) {
                if continued.load(Ordering::SeqCst) {
                    return true;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            false
        });
        if !continued {
            self.resume();
        }
    }

    /// dynamic-port was continued, or sent SIGCONT: the terminal goes to
    /// the target if the shell gave it to dynamic-port (`fg`, not `bg`),
    /// and SIGCONT is passed on.
    fn resume(&self) {
        if let Some(target) = self.target() {
            if let Some(terminal) = &self.terminal {
                terminal.give_to(target);
            }
            let _ = kill_process_group(target, Signal::CONT);
        }
    }
}

/// Whether process `pid` was stopped by job control (TSTP, TTIN, TTOU:
/// not a SIGSTOP someone sent it alone) since this was last asked. Does
/// not reap.
fn job_control_stop(pid: Pid) -> bool {
    let options = WaitIdOptions::STOPPED | WaitIdOptions::NOHANG;
    let stop = waitid(WaitId::Pid(pid), options).ok().flatten();
    stop.and_then(|status| status.stopping_signal())
        .is_some_and(|signal| [SIGTSTP, SIGTTIN, SIGTTOU].contains(&signal))
}
