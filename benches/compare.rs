//! dynamic-port against what people use today, in one run, as ratios.
//!
//! ```text
//! cargo bench --bench compare               # the README's numbers (about a minute)
//! cargo bench --bench compare -- --quick    # a smoke run, as CI does
//! cargo bench --bench compare -- big-parent # one section: spawn, big-parent, handshake, scaling, server
//! SLURM_CONF=$(bash ci/slurm.sh up) cargo bench --bench compare -- slurm  # through srun (as root)
//! ```
//!
//! Every variant spawns the same tiny child: this very program, run with
//! `--child MODE`. It binds `127.0.0.1:0`, makes its port known the
//! variant's way, accepts one connection and exits. The variants run
//! round-robin, one sample of each per round, so that a noisy moment hits
//! them all; the table gives medians and ratios to the floor and to the
//! stdout variant.

use std::alloc::{GlobalAlloc, Layout, System};
#[cfg(unix)]
use std::hint::black_box;
#[cfg(unix)]
use std::io::Read;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
#[cfg(unix)]
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicIsize, Ordering};
#[cfg(unix)]
use std::sync::mpsc;
use std::time::{Duration, Instant};

use camino::Utf8PathBuf;
use dynamic_port::{DynamicPortWriter, SpawnOptions};

/// The system allocator, counting the bytes in use (for the scaling run).
struct Counting;

static HEAP: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator; only adds bookkeeping.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        HEAP.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on unchanged.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        HEAP.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on unchanged.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const SAFETY: Duration = Duration::from_secs(30);

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|arg| arg == "--child") {
        return child(&args[at + 1..]);
    }
    let quick = args.iter().any(|arg| arg == "--quick");
    // Section names given as arguments run only those sections.
    // On Windows (under Wine in CI), the sections that need no fork, fd or /proc.
    #[cfg(unix)]
    let sections = [
        "spawn",
        "big-parent",
        "handshake",
        "scaling",
        "server",
        "slurm",
    ];
    #[cfg(windows)]
    let sections = ["spawn", "server"];
    let chosen: Vec<&str> = sections
        .into_iter()
        .filter(|section| args.iter().any(|arg| arg == section))
        .collect();
    // `slurm` runs only when named: it needs the cluster of ci/slurm.sh.
    let run =
        |section: &str| chosen.contains(&section) || (chosen.is_empty() && section != "slurm");
    let rounds = if quick { 5 } else { 100 };
    println!(
        "dynamic-port comparison: {rounds} rounds, medians; {}",
        machine()
    );
    if run("spawn") {
        println!();
        spawn_to_port(rounds);
    }
    #[cfg(unix)]
    if run("big-parent") {
        println!();
        if quick {
            big_parent(3, &[0, 512]);
        } else {
            big_parent(30, &[0, 512, 2048]);
        }
    }
    #[cfg(unix)]
    if run("handshake") {
        println!();
        handshake(if quick { 1 } else { 25 });
    }
    if run("server") {
        println!();
        server(rounds);
    }
    #[cfg(unix)]
    if run("slurm") {
        println!();
        slurm(if quick { 3 } else { 30 });
    }
    #[cfg(unix)]
    if run("scaling") {
        println!();
        scaling(if quick {
            &[1, 10, 100][..]
        } else {
            &[1, 10, 100, 1000][..]
        });
    }
}

// ---- the child ----

/// The tiny child: bind, make the port known the `mode`'s way, accept one
/// connection (except the floor, which exits at once), exit.
fn child(args: &[String]) {
    let mode = args[0].as_str();
    let listener = match mode {
        "dynamic-port" => {
            let writer: DynamicPortWriter = args[2].parse().unwrap();
            writer.where_to_listen().unwrap()
        }
        // On every interface: a server on a compute node, reached from the login node.
        "dynamic-port-any" => {
            let writer: DynamicPortWriter = args[2].parse().unwrap();
            writer
                .where_to_listen_on(std::net::Ipv4Addr::UNSPECIFIED.into())
                .unwrap()
        }
        // Dies without reporting.
        "dynamic-port-exit" => std::process::exit(0),
        // Leaves a grandchild holding the pipe, and dies without reporting.
        #[cfg(unix)]
        "dynamic-port-orphan" => {
            let writer: DynamicPortWriter = args[2].parse().unwrap();
            let mut sleep = Command::new("sleep");
            sleep.arg("0.2");
            writer.inherit(&mut sleep).spawn().unwrap();
            std::process::exit(0)
        }
        _ => TcpListener::bind("127.0.0.1:0").unwrap(),
    };
    let port = listener.local_addr().unwrap().port();
    match mode {
        "stdout" => {
            let mut out = std::io::stdout().lock();
            writeln!(out, "{port}").unwrap();
            out.flush().unwrap();
        }
        "port-file" => port_file::write(camino::Utf8Path::new(&args[1]), port).unwrap(),
        "floor" => return,
        _ => {}
    }
    drop(listener.accept().unwrap());
}

fn child_command(mode: &str) -> Command {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command.args(["--child", mode]).stdin(Stdio::null());
    command
}

// ---- spawn to port known ----

/// One sample: (spawn to port known, spawn to first successful connect).
type Sample = (Duration, Option<Duration>);

/// A variant: its name in the table, and the function that runs it once.
#[cfg(unix)]
type Variant<F> = (&'static str, F);

fn connect(port: u16, start: Instant) -> Duration {
    drop(TcpStream::connect(("127.0.0.1", port)).unwrap());
    start.elapsed()
}

fn reap(mut child: Child) {
    let status = child.wait().unwrap();
    assert!(status.success() || status.code() == Some(0), "{status}");
}

/// dynamic-port's five steps: create, `pass_to`, spawn, drop, `wait()`.
fn with_dynamic_port() -> Sample {
    let start = Instant::now();
    let (writer, port) = DynamicPortWriter::create().unwrap();
    let mut command = child_command("dynamic-port");
    writer.pass_to(&mut command);
    let child = command.spawn().unwrap();
    drop(writer);
    let port = port.timeout(SAFETY).wait().unwrap();
    let known = start.elapsed();
    let connected = connect(port, start);
    reap(child);
    (known, Some(connected))
}

/// dynamic-port's one call, `spawn_with(options)`, watching the child.
fn spawned(options: SpawnOptions) -> Sample {
    let start = Instant::now();
    let (child, port) = options.spawn(&mut child_command("dynamic-port")).unwrap();
    let port = port.timeout(SAFETY).wait().unwrap();
    let known = start.elapsed();
    let connected = connect(port, start);
    reap(child);
    (known, Some(connected))
}

/// `dynamic_port::spawn`: an inherited pipe, the child watched.
fn with_spawn() -> Sample {
    spawned(SpawnOptions::new())
}

#[cfg(unix)]
/// `SpawnOptions::new().named()`: a FIFO, no `pre_exec`, the child watched.
fn with_spawn_named() -> Sample {
    spawned(SpawnOptions::new().named())
}

fn with_stdout_line() -> Sample {
    stdout_line(child_command("stdout"))
}

/// The stdout line again, but spawned the way `pass_to` makes std spawn:
/// through `fork` (any `pre_exec` hook turns `posix_spawn` off).
#[cfg(unix)]
fn with_stdout_line_forked() -> Sample {
    use std::os::unix::process::CommandExt;
    let mut command = child_command("stdout");
    // SAFETY: a hook that does nothing is async-signal-safe.
    unsafe { command.pre_exec(|| Ok(())) };
    stdout_line(command)
}

/// Spawns a "stdout" child with `command` and reads its port line.
fn stdout_line(mut command: Command) -> Sample {
    let start = Instant::now();
    let mut child = command.stdout(Stdio::piped()).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port: u16 = line.trim_end().parse().unwrap();
    let known = start.elapsed();
    let connected = connect(port, start);
    reap(child);
    (known, Some(connected))
}

fn with_port_file() -> Sample {
    let dir = std::env::temp_dir().join(format!("dynamic-port-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = Utf8PathBuf::from_path_buf(dir.join("child.port")).unwrap();
    let _ = std::fs::remove_file(&path);
    let start = Instant::now();
    let mut child = child_command("port-file")
        .arg(path.as_str())
        .spawn()
        .unwrap();
    let port: u16 = port_file::wait_for_blocking(
        &path,
        || child.try_wait(),
        port_file::PollInterval(Duration::from_millis(25)),
        port_file::Timeout(SAFETY),
    )
    .unwrap();
    let known = start.elapsed();
    let connected = connect(port, start);
    reap(child);
    std::fs::remove_file(&path).unwrap();
    (known, Some(connected))
}

fn floor() -> Sample {
    let start = Instant::now();
    let child = child_command("floor").spawn().unwrap();
    reap(child);
    (start.elapsed(), None)
}

/// How long until a child that exits without reporting is noticed: on
/// Unix by the pipe's end of stream; on Windows, whose loopback writer has
/// no end of stream to see, by watching the child's process handle.
fn dead_child_noticed() -> Sample {
    let start = Instant::now();
    let (writer, port) = DynamicPortWriter::create().unwrap();
    let mut command = child_command("dynamic-port-exit");
    writer.pass_to(&mut command);
    #[allow(unused_mut)]
    let mut child = command.spawn().unwrap();
    drop(writer);
    #[cfg(windows)]
    let port = port.watch(&mut child);
    assert!(port.timeout(SAFETY).wait().is_err());
    let noticed = start.elapsed();
    reap(child);
    (noticed, None)
}

#[cfg(unix)]
/// How long until `spawn` notices a child that exits without reporting
/// while its grandchild still holds the pipe.
fn orphaning_child_noticed() -> Sample {
    let start = Instant::now();
    let (child, port) = dynamic_port::spawn(&mut child_command("dynamic-port-orphan")).unwrap();
    let err = port.timeout(SAFETY).wait().unwrap_err();
    assert_eq!(err.kind(), dynamic_port::ErrorKind::ChildExited);
    let noticed = start.elapsed();
    reap(child);
    (noticed, None)
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn micros(d: Duration) -> String {
    format!("{:.0} µs", d.as_secs_f64() * 1e6)
}

/// A row of a table: a key to look its result up by, its label, and what it runs.
type Row = (&'static str, &'static str, fn() -> Sample);

/// Runs every row once to warm up, then `rounds` rounds of one sample each,
/// in turn; returns the median of each row's "port known" and "connected"
/// times, by key.
fn run_rounds(rows: &[Row], rounds: usize) -> Medians {
    for (_, _, variant) in rows {
        variant(); // warm up: page cache, reactor thread
    }
    let mut known = vec![Vec::new(); rows.len()];
    let mut connected = vec![Vec::new(); rows.len()];
    for _ in 0..rounds {
        for (i, (_, _, variant)) in rows.iter().enumerate() {
            let (k, c) = variant();
            known[i].push(k);
            connected[i].extend(c);
        }
    }
    let rows = rows
        .iter()
        .zip(known.iter_mut().zip(connected.iter_mut()))
        .map(|((key, label, _), (known, connected))| {
            let connected = (!connected.is_empty()).then(|| median(connected));
            (*key, *label, median(known), connected)
        })
        .collect();
    Medians { rows }
}

/// The medians of a run, looked up by key (never by position).
struct Medians {
    /// `(key, label, port known, connected)`, in the order run.
    rows: Vec<(&'static str, &'static str, Duration, Option<Duration>)>,
}

impl Medians {
    /// The median "port known" time of the row `key`.
    fn get(&self, key: &str) -> Duration {
        self.rows
            .iter()
            .find(|row| row.0 == key)
            .unwrap_or_else(|| panic!("no row {key}"))
            .2
    }

    /// `a ÷ b`, by key.
    fn ratio(&self, a: &str, b: &str) -> f64 {
        self.get(a).as_secs_f64() / self.get(b).as_secs_f64()
    }
}

fn spawn_to_port(rounds: usize) {
    let mut rows: Vec<Row> = vec![
        ("floor", "(d) floor: spawn, child binds and exits", floor),
        ("stdout", "(b) stdout line", with_stdout_line),
        (
            "pass_to",
            "(a) dynamic-port: `pass_to`, spawn, drop, `wait()`",
            with_dynamic_port,
        ),
        (
            "spawn",
            "(a) dynamic-port: `spawn` (inherited pipe, watched)",
            with_spawn,
        ),
    ];
    #[cfg(unix)]
    rows.push((
        "named",
        "(a) dynamic-port: `SpawnOptions::named()` (FIFO, watched)",
        with_spawn_named,
    ));
    rows.push((
        "port-file",
        "(c) port-file crate, 25 ms poll",
        with_port_file,
    ));
    rows.push((
        "dead",
        if cfg!(windows) {
            "dynamic-port, child exits without reporting (watched)"
        } else {
            "dynamic-port, child exits without reporting"
        },
        dead_child_noticed,
    ));
    #[cfg(unix)]
    rows.push((
        "orphan",
        "dynamic-port `spawn`, child exits without reporting, a grandchild holds the pipe",
        orphaning_child_noticed,
    ));
    #[cfg(unix)]
    rows.push((
        "stdout-forked",
        "(b) stdout line, spawned through fork (a no-op `pre_exec`)",
        with_stdout_line_forked,
    ));
    #[cfg(windows)]
    for row in &mut rows {
        // On Windows every local writer is a loopback connection with a token.
        if row.0 == "spawn" {
            row.1 = "(a) dynamic-port: `spawn` (loopback TCP with a token, watched)";
        }
    }
    let medians = run_rounds(&rows, rounds);
    println!("Spawn to port known (and to the first successful connect), median of {rounds}:");
    println!();
    println!("| variant | port known | connected | ÷ floor | ÷ stdout line |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    for (key, label, known, connected) in &medians.rows {
        println!(
            "| {label} | {} | {} | {:.2}× | {:.2}× |",
            micros(*known),
            connected.map_or("—".to_owned(), micros),
            medians.ratio(key, "floor"),
            medians.ratio(key, "stdout"),
        );
    }
    println!();
    #[cfg(unix)]
    println!(
        "port-file ÷ pass_to: {:.1}×; pass_to ÷ stdout line spawned through fork: {:.2}×",
        medians.ratio("port-file", "pass_to"),
        medians.ratio("pass_to", "stdout-forked"),
    );
    #[cfg(windows)]
    println!(
        "port-file ÷ pass_to: {:.1}×",
        medians.ratio("port-file", "pass_to")
    );
}

// ---- a Server, against spawn ----

/// `spawn`, the port, a connection, and the child reaped (it exits after one).
fn spawn_and_reap() -> Sample {
    with_spawn()
}

/// `Server::start`, a connection, and the drop that stops and reaps it: the
/// process group, the guardian's line, and the stderr relay thread.
fn server_start_and_drop() -> Sample {
    let start = Instant::now();
    let server = dynamic_port::Server::start(&mut child_command("dynamic-port")).unwrap();
    let known = start.elapsed();
    let connected = connect(server.port(), start);
    drop(server);
    (known, Some(connected))
}

/// What the stderr relay costs by itself: a thread with its 64 KiB stack,
/// started and joined.
fn relay_thread() -> Sample {
    let start = Instant::now();
    std::thread::Builder::new()
        .stack_size(64 * 1024)
        .spawn(|| {})
        .unwrap()
        .join()
        .unwrap();
    (start.elapsed(), None)
}

fn server(rounds: usize) {
    let rows: [Row; 3] = [
        ("spawn", "`spawn`, then connect, then reap", spawn_and_reap),
        (
            "server",
            "`Server::start`, then connect, then drop",
            server_start_and_drop,
        ),
        (
            "thread",
            "a 64 KiB thread, started and joined (the stderr relay's cost)",
            relay_thread,
        ),
    ];
    let medians = run_rounds(&rows, rounds);
    println!("A Server against a plain spawn, median of {rounds}:");
    println!();
    println!("| variant | port known | connected | ÷ spawn |");
    println!("| --- | ---: | ---: | ---: |");
    for (key, label, known, connected) in &medians.rows {
        println!(
            "| {label} | {} | {} | {:.2}× |",
            micros(*known),
            connected.map_or("—".to_owned(), micros),
            medians.ratio(key, "spawn"),
        );
    }
}

// ---- spawning from a big parent ----

#[cfg(unix)]
thread_local! {
    /// The memory the parent holds, touched, during a big-parent run.
    static BALLAST: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

#[cfg(unix)]
/// Makes the parent hold `mib` MiB of touched memory (replacing what it held).
fn hold_memory(mib: usize) {
    BALLAST.with(|ballast| {
        let mut ballast = ballast.borrow_mut();
        *ballast = Vec::new();
        // `vec!` of a non-zero byte writes every page.
        *ballast = vec![1u8; mib << 20];
        black_box(&*ballast);
    });
}

#[cfg(unix)]
/// Spawn to port known while the parent holds 0, 512 MiB, 2 GiB...: the
/// stdout line, the inherited pipe (`fork`), the named writer (`posix_spawn`).
fn big_parent(rounds: usize, sizes_mib: &[usize]) {
    // The stdout line and the named writer alternate. The `fork` variant
    // runs apart: the teardown of each forked copy of a big parent goes on
    // after the spawn returns, and would slow whichever variant came next.
    let rows: [Row; 2] = [
        ("stdout", "stdout line", with_stdout_line),
        (
            "named",
            "`SpawnOptions::named()`: FIFO + watch",
            with_spawn_named,
        ),
    ];
    let forked: [Row; 1] = [("spawn", "`spawn`: inherited pipe", with_spawn)];
    println!("Spawn to port known from a parent holding touched memory, median of {rounds}:");
    println!();
    println!("| parent holds | stdout line | `spawn` (pipe, fork) | `named()` (FIFO, posix_spawn) | pipe ÷ stdout | named ÷ stdout |");
    println!("| ---: | ---: | ---: | ---: | ---: | ---: |");
    for &mib in sizes_mib {
        hold_memory(mib);
        let medians = run_rounds(&rows, rounds);
        let forked = run_rounds(&forked, rounds).get("spawn");
        std::thread::sleep(Duration::from_millis(500)); // let the last teardown finish
        let stdout = medians.get("stdout");
        println!(
            "| {mib} MiB | {} | {} | {} | {:.2}× | {:.2}× |",
            micros(stdout),
            micros(forked),
            micros(medians.get("named")),
            forked.as_secs_f64() / stdout.as_secs_f64(),
            medians.ratio("named", "stdout"),
        );
    }
    hold_memory(0);
}

// ---- the in-process handshake ----

#[cfg(unix)]
/// A thread that waits for work, as the reporting side of a handshake.
enum Job {
    Report(DynamicPortWriter),
    Write(OwnedFd),
}

#[cfg(unix)]
/// One handshake, given the channel to the reporting thread.
type Handshake = fn(&mpsc::Sender<Job>);

#[cfg(unix)]
/// The design card's alternative: a shared watcher thread that reads each
/// pipe and sends the port through a oneshot channel, which the parent awaits.
type Watch = (OwnedFd, futures::channel::oneshot::Sender<u16>);

#[cfg(unix)]
fn raw_pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: a valid array of two ints.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: pipe2 returned two fresh fds that nothing else owns.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

#[cfg(unix)]
/// dynamic-port: create, report from the waiting thread, the future resolves.
fn handshake_dynamic_port(jobs: &mpsc::Sender<Job>) {
    let (writer, port) = DynamicPortWriter::create().unwrap();
    jobs.send(Job::Report(writer)).unwrap();
    assert_eq!(black_box(port.wait().unwrap()), 54321);
}

#[cfg(unix)]
/// The floor: pipe2, the waiting thread writes the report, poll, read.
fn handshake_libc(jobs: &mpsc::Sender<Job>) {
    let (read_end, write_end) = raw_pipe();
    jobs.send(Job::Write(write_end)).unwrap();
    let mut poll = libc::pollfd {
        fd: read_end.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    assert_eq!(unsafe { libc::poll(&mut poll, 1, -1) }, 1);
    let mut buf = [0u8; 64];
    let read = std::fs::File::from(read_end).read(&mut buf).unwrap();
    assert_eq!(black_box(&buf[..read]), b"54321\n");
}

#[cfg(unix)]
/// dynamic-port, the future awaited under an executor (the reactor path).
fn handshake_awaited(jobs: &mpsc::Sender<Job>) {
    let (writer, port) = DynamicPortWriter::create().unwrap();
    jobs.send(Job::Report(writer)).unwrap();
    assert_eq!(black_box(futures::executor::block_on(port).unwrap()), 54321);
}

#[cfg(unix)]
thread_local! {
    /// The oneshot variant's watcher: one thread running an executor on
    /// which every pipe gets a task that reads it through `async-io`.
    static WATCHER: smol::channel::Sender<Watch> = {
        let (watches, queue) = smol::channel::unbounded::<Watch>();
        std::thread::spawn(move || {
            let executor = smol::LocalExecutor::new();
            smol::block_on(executor.run(async {
                while let Ok((read_end, sender)) = queue.recv().await {
                    executor
                        .spawn(async move {
                            use smol::io::AsyncReadExt;
                            let mut pipe = smol::Async::new(std::fs::File::from(read_end)).unwrap();
                            let mut buf = [0u8; 64];
                            let read = pipe.read(&mut buf).await.unwrap();
                            let line = std::str::from_utf8(&buf[..read]).unwrap();
                            let _ = sender.send(line.trim_end().parse().unwrap());
                        })
                        .detach();
                }
            }));
        });
        watches
    };
}

#[cfg(unix)]
/// The design card's shape: pipe2, the thread writes, a watcher task reads
/// through `async-io` and sends the port through a oneshot, the parent
/// awaits the oneshot.
fn handshake_oneshot(jobs: &mpsc::Sender<Job>) {
    let (read_end, write_end) = raw_pipe();
    let (sender, receiver) = futures::channel::oneshot::channel();
    WATCHER.with(|watcher| watcher.try_send((read_end, sender)).unwrap());
    jobs.send(Job::Write(write_end)).unwrap();
    assert_eq!(
        black_box(futures::executor::block_on(receiver).unwrap()),
        54321
    );
}

#[cfg(unix)]
fn handshake(samples: usize) {
    const PER_SAMPLE: u32 = 2000;
    let (jobs, queue) = mpsc::channel::<Job>();
    let reporter = std::thread::spawn(move || {
        for job in queue {
            match job {
                Job::Report(writer) => writer.report(54321).unwrap(),
                Job::Write(fd) => std::fs::File::from(fd).write_all(b"54321\n").unwrap(),
            }
        }
    });
    let variants: [Variant<Handshake>; 4] = [
        (
            "raw libc floor: pipe2, thread writes, poll, read",
            handshake_libc,
        ),
        (
            "dynamic-port: create, thread reports, `wait()`",
            handshake_dynamic_port,
        ),
        (
            "dynamic-port: the same, `.await`ed in `futures::executor::block_on`",
            handshake_awaited,
        ),
        (
            "the card's oneshot design: an async-io watcher task sends through a oneshot",
            handshake_oneshot,
        ),
    ];
    // One handshake of each variant in turn, timed one by one, so that
    // every variant meets the same moments of the machine.
    let mut times = vec![Vec::new(); variants.len()];
    for _ in 0..samples * PER_SAMPLE as usize {
        for (i, (_, variant)) in variants.iter().enumerate() {
            let start = Instant::now();
            variant(&jobs);
            times[i].push(start.elapsed());
        }
    }
    drop(jobs);
    reporter.join().unwrap();
    let medians: Vec<Duration> = times.iter_mut().map(|s| median(s)).collect();
    println!(
        "In-process handshake, median of {} handshakes each, interleaved:",
        samples * PER_SAMPLE as usize
    );
    println!();
    println!("| variant | per handshake | ÷ floor |");
    println!("| --- | ---: | ---: |");
    for (i, (name, _)) in variants.iter().enumerate() {
        println!(
            "| {name} | {:.2} µs | {:.2}× |",
            medians[i].as_secs_f64() * 1e6,
            medians[i].as_secs_f64() / medians[0].as_secs_f64()
        );
    }
}

// ---- scaling ----

#[cfg(unix)]
fn rss_bytes() -> i64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: i64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap();
    kb * 1024
}

#[cfg(unix)]
fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

#[cfg(unix)]
/// Starts `n` children at once and resolves every port; returns the time,
/// the heap and RSS growth while all `n` were pending, and the thread count.
fn resolve_concurrently(n: usize) -> (Duration, isize, i64, usize) {
    let (heap_before, rss_before) = (HEAP.load(Ordering::Relaxed), rss_bytes());
    let start = Instant::now();
    let mut pending = Vec::with_capacity(n);
    for _ in 0..n {
        let (writer, port) = DynamicPortWriter::create().unwrap();
        let mut command = child_command("dynamic-port");
        writer.pass_to(&mut command);
        let child = command.spawn().unwrap();
        pending.push((child, port));
    }
    let heap = HEAP.load(Ordering::Relaxed) - heap_before;
    let rss = rss_bytes() - rss_before;
    let threads = threads();
    let (children, ports): (Vec<Child>, Vec<_>) = pending.into_iter().unzip();
    let ports = futures::executor::block_on(futures::future::join_all(
        ports.into_iter().map(|port| port.timeout(SAFETY)),
    ));
    let elapsed = start.elapsed();
    for port in &ports {
        drop(TcpStream::connect(("127.0.0.1", *port.as_ref().unwrap())).unwrap());
    }
    children.into_iter().for_each(reap);
    (elapsed, heap, rss, threads)
}

#[cfg(unix)]
fn scaling(counts: &[usize]) {
    resolve_concurrently(1); // warm up
    println!(
        "Scaling: N children started at once, every port resolved (futures::executor::join_all):"
    );
    println!();
    println!("| N | time to resolve all | per child | parent heap per pending writer | parent RSS per pending writer | threads in the parent |");
    println!("| ---: | ---: | ---: | ---: | ---: | ---: |");
    for &n in counts {
        let (elapsed, heap, rss, threads) = resolve_concurrently(n);
        println!(
            "| {n} | {:.1} ms | {} | {} B | {} B | {threads} |",
            elapsed.as_secs_f64() * 1e3,
            micros(elapsed / n as u32),
            heap / n as isize,
            rss / n as i64,
        );
    }
    println!();
    println!("(The heap and RSS columns include the `std::process::Child` of each child.)");
}

// ---- through a cluster scheduler ----

/// `srun hostname`: what any job step costs, the floor.
#[cfg(unix)]
fn srun_hostname() -> Sample {
    let start = Instant::now();
    let status = Command::new("srun")
        .args(["--quiet", "hostname"])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    (start.elapsed(), None)
}

/// `srun` of a server with a remote writer on the login node's cluster
/// address (ci/slurm.sh's 10.231.88.1), until the parent knows its address.
#[cfg(unix)]
fn srun_dynamic_port() -> Sample {
    let start = Instant::now();
    let (writer, port) =
        DynamicPortWriter::create_remote("10.231.88.1:0".parse().unwrap()).unwrap();
    let task = child_command("dynamic-port-any");
    let mut srun = Command::new("srun");
    srun.arg("--quiet")
        .arg(task.get_program())
        .args(task.get_args())
        .stdin(Stdio::null());
    writer.pass_to(&mut srun);
    let mut spawned = srun.spawn().unwrap();
    drop(writer);
    let addr = port
        .watch(&mut spawned)
        .addr()
        .timeout(SAFETY)
        .wait()
        .unwrap();
    let known = start.elapsed();
    drop(TcpStream::connect(addr).unwrap());
    let connected = start.elapsed();
    reap(spawned);
    (known, Some(connected))
}

#[cfg(unix)]
fn slurm(rounds: usize) {
    let rows: [Row; 2] = [
        ("hostname", "`srun hostname`", srun_hostname),
        (
            "dynamic-port",
            "`srun` a server, `create_remote`: the address known",
            srun_dynamic_port,
        ),
    ];
    let medians = run_rounds(&rows, rounds);
    println!("Through Slurm (ci/slurm.sh's one-node cluster), median of {rounds}:");
    println!();
    println!("| variant | address known | connected | ÷ `srun hostname` |");
    println!("| --- | ---: | ---: | ---: |");
    for (key, label, known, connected) in &medians.rows {
        println!(
            "| {label} | {} | {} | {:.2}× |",
            micros(*known),
            connected.map_or("—".to_owned(), micros),
            medians.ratio(key, "hostname"),
        );
    }
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|line| line.strip_prefix("model name"))
                .map(|rest| rest.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{cpu}, {cores} cores")
}
