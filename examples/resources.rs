//! Measures what the library costs the parent: fds per pending writer
//! (before and after the spawn), threads in all, and heap per pending
//! writer and `PortFuture`. The README's "Resources" table comes from here.
//!
//! ```text
//! cargo run --release --example resources
//! ```

use std::alloc::{GlobalAlloc, Layout, System};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicIsize, Ordering};

use dynamic_port::{DynamicPortWriter, PortFuture};

/// The system allocator, counting the bytes in use.
struct Counting;

static IN_USE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator; only adds bookkeeping.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        IN_USE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on unchanged.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        IN_USE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on unchanged.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

fn heap() -> isize {
    IN_USE.load(Ordering::Relaxed)
}

/// `count` writers with their futures, each polled once (registered and waiting).
fn pending(count: usize) -> Vec<(DynamicPortWriter, PortFuture)> {
    (0..count)
        .map(|_| {
            let (writer, mut port) = DynamicPortWriter::create().unwrap();
            assert!(futures::FutureExt::now_or_never(&mut port).is_none());
            (writer, port)
        })
        .collect()
}

fn main() {
    const N: usize = 1000;
    let threads_at_start = threads();
    let fds_at_start = fds();
    drop(pending(1));
    let reactor_fds = fds() - fds_at_start;
    let reactor_threads = threads() - threads_at_start;

    // fds and heap per pending writer, before any spawn.
    let (fds_before, heap_before) = (fds(), heap());
    let writers = pending(N);
    let fds_per_writer = (fds() - fds_before) as f64 / N as f64;
    let heap_per_writer = (heap() - heap_before) as f64 / N as f64;
    let threads_with_many = threads() - threads_at_start;

    // After the spawn and the parent's drop of its writer, only the future remains.
    let fds_before_spawn = fds();
    let mut children = Vec::new();
    let mut futures = Vec::with_capacity(N);
    for (writer, port) in writers {
        let mut command = Command::new("sleep");
        command.arg("30").stdin(Stdio::null());
        writer.inherit(&mut command);
        if children.len() < 10 {
            children.push(command.spawn().unwrap());
        }
        drop(writer);
        futures.push(port);
    }
    let fds_after_spawn = (fds() as f64 - fds_before_spawn as f64) / N as f64;
    let heap_after_drop = (heap() - heap_before) as f64 / N as f64;

    println!("| what | measured |");
    println!("| --- | --- |");
    println!("| fds per pending writer, before the spawn | {fds_per_writer} (the read end and the write end) |");
    println!(
        "| fds per pending writer, after the spawn and `drop(writer)` | {} (the read end) |",
        fds_per_writer + fds_after_spawn
    );
    println!("| fds the reactor opens once per process | {reactor_fds} |");
    println!("| threads the library adds in all | {reactor_threads} with 1 pending writer, {threads_with_many} with {N} |");
    println!("| heap per pending writer and `PortFuture` | {heap_per_writer:.0} bytes |");
    println!(
        "| heap per pending `PortFuture` once the writer is dropped | {heap_after_drop:.0} bytes |"
    );
    println!(
        "| `size_of::<PortFuture>()` (inline, included above) | {} bytes |",
        std::mem::size_of::<PortFuture>()
    );
    println!(
        "| `size_of::<DynamicPortWriter>()` | {} bytes |",
        std::mem::size_of::<DynamicPortWriter>()
    );

    for mut child in children {
        child.kill().unwrap();
        child.wait().unwrap();
    }
    drop(futures);
}
