//! Micro-benchmarks of the library's own steps, with criterion.
//!
//! ```text
//! cargo bench --bench micro
//! ```
//!
//! For the comparisons against other ways and the raw floors, see
//! `benches/compare.rs`.

use std::hint::black_box;
use std::sync::mpsc;

use criterion::{criterion_group, criterion_main, Criterion};
use dynamic_port::fuzz::parse;
use dynamic_port::protocol;
use dynamic_port::DynamicPortWriter;

fn create(c: &mut Criterion) {
    c.bench_function("create() and drop", |b| {
        b.iter(|| black_box(DynamicPortWriter::create().unwrap()))
    });
}

fn report_and_resolve(c: &mut Criterion) {
    // The report is written by another, waiting thread; the future is awaited here.
    let (jobs, queue) = mpsc::channel::<DynamicPortWriter>();
    let reporter = std::thread::spawn(move || {
        for writer in queue {
            writer.report(54321).unwrap();
        }
    });
    c.bench_function("create, report from another thread, wait()", |b| {
        b.iter(|| {
            let (writer, port) = DynamicPortWriter::create().unwrap();
            jobs.send(writer).unwrap();
            black_box(port.wait().unwrap())
        })
    });
    c.bench_function("create, report from another thread, .await", |b| {
        b.iter(|| {
            let (writer, port) = DynamicPortWriter::create().unwrap();
            jobs.send(writer).unwrap();
            black_box(futures::executor::block_on(port).unwrap())
        })
    });
    c.bench_function("create, report in this thread, wait()", |b| {
        b.iter(|| {
            let (writer, port) = DynamicPortWriter::create().unwrap();
            writer.report(54321).unwrap();
            black_box(port.wait().unwrap())
        })
    });
    drop(jobs);
    reporter.join().unwrap();
}

fn parsing(c: &mut Criterion) {
    c.bench_function("parse writer text 7:pipe:123456", |b| {
        b.iter(|| protocol::parse_writer(black_box("7:pipe:123456")).unwrap())
    });
    c.bench_function(
        "parse writer text (public FromStr, with its fd check)",
        |b| {
            b.iter(|| {
                black_box("1000000:pipe:123456")
                    .parse::<DynamicPortWriter>()
                    .unwrap()
            })
        },
    );
    c.bench_function("parse report line 54321\\n", |b| {
        b.iter(|| parse::report(black_box(b"54321\n"), false).unwrap())
    });
    c.bench_function("parse report line [::1]:54321\\n (one address)", |b| {
        b.iter(|| parse::report(black_box(b"[::1]:54321\n"), false).unwrap())
    });
    c.bench_function(
        "parse named report http=127.0.0.1:8080 admin=[::1]:9090",
        |b| {
            let line = b"http=127.0.0.1:8080 admin=[::1]:9090\n";
            b.iter(|| {
                let items = parse::items(black_box(line), false).unwrap().unwrap();
                parse::endpoints(items, line, None).unwrap()
            })
        },
    );
    c.bench_function("parse a line of 100 bytes", |b| {
        let line = [b"x".repeat(100).as_slice(), b"\n"].concat();
        b.iter(|| parse::line(black_box(&line), false).unwrap())
    });
    c.bench_function("encode report line", |b| {
        b.iter(|| protocol::encode_report(black_box(54321)).unwrap())
    });
}

fn watch(c: &mut Criterion) {
    // One long-lived child to watch; the futures never resolve, they are dropped.
    let mut child = std::process::Command::new("sleep")
        .arg("600")
        .spawn()
        .unwrap();
    c.bench_function("create, poll once, drop (no watch)", |b| {
        b.iter(|| {
            let (writer, mut port) = DynamicPortWriter::create().unwrap();
            assert!(futures::FutureExt::now_or_never(&mut port).is_none());
            black_box((writer, port))
        })
    });
    c.bench_function(
        "create, watch, poll once, drop (pidfd opened and registered)",
        |b| {
            b.iter(|| {
                let (writer, port) = DynamicPortWriter::create().unwrap();
                let mut port = port.watch(&mut child);
                assert!(futures::FutureExt::now_or_never(&mut port).is_none());
                black_box((writer, port))
            })
        },
    );
    c.bench_function(
        "create_named, poll once, drop (FIFO made and removed)",
        |b| {
            b.iter(|| {
                let (writer, mut port) = DynamicPortWriter::create_named().unwrap();
                assert!(futures::FutureExt::now_or_never(&mut port).is_none());
                black_box((writer, port))
            })
        },
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

criterion_group!(benches, create, report_and_resolve, parsing, watch);
criterion_main!(benches);
