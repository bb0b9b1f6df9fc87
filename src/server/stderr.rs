//! A server's stderr: relayed to this process's stderr line by line while
//! it runs, and its last lines kept, to end the error of a failed start.
//!
//! One thread per server reads the pipe (blocking, so it costs nothing
//! while the server is quiet) and ends when the pipe does: when every
//! process of the server's group has exited. A thread rather than the
//! reactor, because a `Server` has no executor to drive a task; its cost
//! is in the README's "Performance".

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::process::ChildStderr;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The most lines kept.
pub(crate) const TAIL_LINES: usize = 20;

/// The most bytes kept.
pub(crate) const TAIL_BYTES: usize = 4096;

/// The relay thread and the tail it keeps.
#[derive(Debug)]
pub(crate) struct Relay {
    /// The last lines, shared with the thread.
    tail: Arc<Mutex<Tail>>,
    /// The thread; `None` once joined.
    thread: Option<JoinHandle<()>>,
}

/// The last lines of a stream, bounded in lines and bytes.
#[derive(Debug, Default)]
pub(crate) struct Tail {
    /// Whole lines, oldest first, without their `\n`.
    lines: VecDeque<String>,
    /// The line being written, not yet ended.
    partial: Vec<u8>,
    /// Set when the stream ended.
    ended: bool,
}

impl Tail {
    /// Takes in `bytes`; returns the whole lines they ended, to relay.
    fn push(&mut self, bytes: &[u8]) -> Vec<u8> {
        let mut relayed = Vec::new();
        for &byte in bytes {
            if byte == b'\n' {
                let line = std::mem::take(&mut self.partial);
                relayed.extend_from_slice(&line);
                relayed.push(b'\n');
                self.keep(String::from_utf8_lossy(&line).into_owned());
            } else if self.partial.len() < TAIL_BYTES {
                self.partial.push(byte);
            }
        }
        relayed
    }

    /// Keeps `line`, dropping the oldest beyond the bounds.
    fn keep(&mut self, line: String) {
        self.lines.push_back(line);
        while self.lines.len() > TAIL_LINES
            || self.lines.iter().map(|l| l.len() + 1).sum::<usize>() > TAIL_BYTES
        {
            self.lines.pop_front();
        }
    }

    /// The stream ended: an unfinished last line counts as a line.
    fn end(&mut self) -> Vec<u8> {
        self.ended = true;
        if self.partial.is_empty() {
            return Vec::new();
        }
        let mut line = std::mem::take(&mut self.partial);
        self.keep(String::from_utf8_lossy(&line).into_owned());
        line.push(b'\n');
        line
    }

    /// The lines kept, joined by `\n`; `None` if there are none.
    pub(crate) fn text(&self) -> Option<String> {
        let lines: Vec<&str> = self.lines.iter().map(String::as_str).collect();
        (!lines.is_empty()).then(|| lines.join("\n"))
    }
}

impl Relay {
    /// Starts relaying `stderr` to this process's stderr.
    pub(crate) fn start(stderr: ChildStderr) -> io::Result<Relay> {
        let tail = Arc::new(Mutex::new(Tail::default()));
        let kept = Arc::clone(&tail);
        let thread = std::thread::Builder::new()
            .name("dynamic-port-stderr".to_owned())
            .stack_size(64 * 1024)
            .spawn(move || relay(stderr, &kept))?;
        Ok(Relay {
            tail,
            thread: Some(thread),
        })
    }

    /// The last lines, once the stream ended or `wait` passed (a process
    /// outside the group may hold the pipe open).
    pub(crate) fn tail_after(&mut self, wait: Duration) -> Option<String> {
        let until = Instant::now() + wait;
        while Instant::now() < until && !self.lock().ended {
            std::thread::sleep(Duration::from_millis(2));
        }
        if self.lock().ended {
            if let Some(thread) = self.thread.take() {
                let _ = thread.join();
            }
        }
        self.lock().text()
    }

    /// The tail, locked.
    fn lock(&self) -> std::sync::MutexGuard<'_, Tail> {
        self.tail.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The thread: reads until end of stream, relaying whole lines.
fn relay(mut stderr: ChildStderr, tail: &Mutex<Tail>) {
    let mut buf = [0u8; 4096];
    loop {
        let relayed = match stderr.read(&mut buf) {
            Ok(0) | Err(_) => {
                let rest = tail.lock().unwrap_or_else(PoisonError::into_inner).end();
                let _ = io::stderr().write_all(&rest);
                return;
            }
            Ok(read) => tail
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(&buf[..read]),
        };
        if !relayed.is_empty() {
            // Whole lines only, so that two servers' lines never interleave.
            let _ = io::stderr().write_all(&relayed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tail_keeps_the_last_lines_within_its_bounds() {
        let mut tail = Tail::default();
        let mut relayed = Vec::new();
        for i in 0..30 {
            relayed.extend(tail.push(format!("line {i}\n").as_bytes()));
        }
        relayed.extend(tail.push(b"no newline"));
        relayed.extend(tail.end());
        let text = tail.text().unwrap();
        assert_eq!(text.lines().count(), TAIL_LINES);
        assert!(text.starts_with("line 11\n"), "{text}");
        assert!(text.ends_with("line 29\nno newline"), "{text}");
        assert!(String::from_utf8(relayed)
            .unwrap()
            .ends_with("line 29\nno newline\n"));
        let mut long = Tail::default();
        long.push(&[b'x'; 10_000]);
        long.push(b"\nshort\n");
        let text = long.text().unwrap();
        assert!(text.len() <= TAIL_BYTES, "{}", text.len());
        assert!(text.ends_with("short"));
        assert_eq!(Tail::default().text(), None);
    }
}
