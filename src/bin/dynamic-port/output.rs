//! What dynamic-port writes: the report's lines on its stdout, the
//! environment `--then` gets, and the relay of the program's stdout for
//! `--program-stdout inherit`.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use dynamic_port::protocol::{Item, Report};

/// The lines dynamic-port prints for `report`: the port of the first
/// item; then, for a single item without a name that is an address or
/// came from a remote program, where to connect; for several or named
/// items, `NAME=ADDRESS` for each endpoint.
pub(crate) fn lines(report: &Report, remote: bool) -> Vec<String> {
    let first = report.first();
    let mut lines = vec![first.port().to_string()];
    if is_single(report) {
        if remote || matches!(first, Item::Addr(_)) {
            lines.push(report.connect_addr(first).to_string());
        }
    } else {
        for (name, addr) in report.endpoints() {
            lines.push(format!("{name}={addr}"));
        }
    }
    lines
}

/// Whether the report is a single item without a name.
fn is_single(report: &Report) -> bool {
    matches!(report.items(), [(None, _)])
}

/// Prints [`lines`] on stdout and flushes it.
pub(crate) fn print(report: &Report, remote: bool) -> io::Result<()> {
    let mut out = io::stdout().lock();
    for line in lines(report, remote) {
        writeln!(out, "{line}")?;
    }
    out.flush()
}

/// The environment `--then`'s command gets: `PORT` and `ADDR` for the
/// first item, and `PORT_NAME`, `ADDR_NAME` for each endpoint of a report
/// of several or named ones (`NAME` in capitals, other characters as `_`).
/// Two names that make the same variable are an error that names them.
pub(crate) fn then_env(report: &Report) -> Result<Vec<(String, String)>, String> {
    let first = report.first();
    let mut env = vec![
        ("PORT".to_owned(), first.port().to_string()),
        ("ADDR".to_owned(), report.connect_addr(first).to_string()),
    ];
    if is_single(report) {
        return Ok(env);
    }
    let mut taken: BTreeMap<String, &str> = BTreeMap::new();
    for (name, addr) in report.endpoints() {
        let suffix = variable_suffix(name);
        if let Some(other) = taken.insert(suffix.clone(), name) {
            return Err(format!(
                "the endpoints {other:?} and {name:?} would both be PORT_{suffix} for --then; \
                 give them names that differ in more than case, '-', '.' and '_'"
            ));
        }
        env.push((format!("PORT_{suffix}"), addr.port().to_string()));
        env.push((format!("ADDR_{suffix}"), addr.to_string()));
    }
    Ok(env)
}

/// An endpoint's name as part of a variable name: ASCII letters in
/// capitals, digits as they are, anything else as `_`.
fn variable_suffix(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' => c.to_ascii_uppercase(),
            _ => '_',
        })
        .collect()
}

/// How much of the program's stdout the relay holds before the port is
/// printed; beyond it, the program's writes wait (the pipe fills).
const HELD_AT_MOST: usize = 1 << 20;

/// Where the relay sends the program's stdout once released.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Sink {
    /// dynamic-port's stdout: after the port lines.
    Stdout,
    /// dynamic-port's stderr: when no port was printed.
    Stderr,
}

impl Sink {
    /// Writes all of `bytes` and flushes.
    fn write(self, bytes: &[u8]) -> io::Result<()> {
        match self {
            Sink::Stdout => {
                let mut out = io::stdout().lock();
                out.write_all(bytes)?;
                out.flush()
            }
            Sink::Stderr => io::stderr().lock().write_all(bytes),
        }
    }
}

/// The relay of the program's stdout for `--program-stdout inherit`: a
/// thread reads the pipe that is the program's stdout, holds what comes
/// before the port lines, and copies everything after them.
///
/// A pipe rather than dynamic-port's own stdout, because a program writes
/// whenever it likes (a banner before it reports, typically), and nothing
/// it prints may come before the port line.
#[derive(Debug)]
pub(crate) struct Relay {
    /// What the thread and [`release`](Self::release) share.
    shared: Arc<Shared>,
    /// Told when the thread has copied everything (end of stream) or given up.
    done: mpsc::Receiver<()>,
}

/// The relay's state, behind its lock.
#[derive(Debug, Default)]
struct State {
    /// Where bytes go; `None` until released.
    sink: Option<Sink>,
    /// What arrived before the release.
    held: Vec<u8>,
}

/// The lock and the condition the thread waits on while it holds the most.
#[derive(Debug, Default)]
struct Shared {
    /// The state.
    state: Mutex<State>,
    /// Signalled on release.
    released: Condvar,
    /// How many chunks the thread has copied to the sink: it moves while
    /// the copy makes progress.
    copied: AtomicUsize,
}

impl Shared {
    /// The state, even after a panic elsewhere.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Relay {
    /// Starts the thread that reads `program_stdout`.
    pub(crate) fn start(program_stdout: io::PipeReader) -> Relay {
        let shared = Arc::new(Shared::default());
        let (finished, done) = mpsc::channel();
        let relayed = Arc::clone(&shared);
        std::thread::spawn(move || {
            copy(program_stdout, &relayed);
            let _ = finished.send(());
        });
        Relay { shared, done }
    }

    /// Sends what was held, and from now on everything, to `sink`.
    pub(crate) fn release(&self, sink: Sink) {
        let mut state = self.shared.lock();
        if state.sink.is_none() {
            let held = std::mem::take(&mut state.held);
            let _ = sink.write(&held);
            state.sink = Some(sink);
            self.shared.released.notify_all();
        }
    }

    /// Waits until everything the program wrote has been copied (end of
    /// stream), as long as the copy makes progress: it gives up once nothing
    /// moved for `idle`, for a pipe that someone else (a program's own
    /// child) holds open after the program exited, or a reader that stalls.
    pub(crate) fn finish(self, idle: Duration) {
        let mut copied = self.shared.copied.load(Ordering::SeqCst);
        while let Err(RecvTimeoutError::Timeout) = self.done.recv_timeout(idle) {
            let now = self.shared.copied.load(Ordering::SeqCst);
            if now == copied {
                return;
            }
            copied = now;
        }
    }
}

/// The relay thread: copies `from` to the sink once there is one, holding
/// up to [`HELD_AT_MOST`] bytes before. Returns at end of stream, or when
/// the sink fails (its reader went away): then `from` is closed, so the
/// program's next write fails as it would have on the real stdout.
fn copy(mut from: io::PipeReader, shared: &Shared) {
    // Small chunks, so that `copied` moves often even for a slow reader.
    let mut buffer = vec![0; 16 * 1024];
    loop {
        // Every handler dynamic-port installs restarts system calls
        // (SA_RESTART), so a read fails only for good.
        let n = match from.read(&mut buffer) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let mut state = shared.lock();
        while state.sink.is_none() && state.held.len() >= HELD_AT_MOST {
            state = shared
                .released
                .wait(state)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
        match state.sink {
            None => state.held.extend_from_slice(&buffer[..n]),
            Some(sink) => {
                if sink.write(&buffer[..n]).is_err() {
                    return;
                }
                shared.copied.fetch_add(1, Ordering::SeqCst);
            }
        }
    }
}
