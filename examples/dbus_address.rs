//! A Rust parent drives a program that already reports on an inherited fd
//! with a flag of its own: `dbus-daemon --print-address=FD` (Debian's
//! `dbus-daemon`) listens on a TCP port the OS picks and writes its address,
//! `tcp:host=127.0.0.1,port=40123,family=ipv4,guid=...`, to fd `FD`.
//!
//! The parent hands it the pipe with `inherit` and the fd number, reads the
//! line with `line()`, takes the port out of it, and speaks D-Bus to it.
//!
//! ```text
//! cargo run --example dbus_address
//! ```

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use dynamic_port::DynamicPortWriter;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (writer, port) = DynamicPortWriter::create()?;
    let fd = writer.fd().expect("a pipe writer has an fd");
    let mut command = Command::new("dbus-daemon");
    command
        .args([
            "--session",
            "--nofork",
            "--address=tcp:host=127.0.0.1,port=0",
        ])
        .arg(format!("--print-address={fd}"))
        .stderr(Stdio::null()); // it warns when it cannot raise its fd limit
    writer.inherit(&mut command); // only this child inherits the write end
    let mut child = command.spawn()?;
    drop(writer);

    // Its own format, so the line as it wrote it; a dbus-daemon that dies
    // first (a bad flag, no session config) fails this at once.
    let line = port
        .watch(&mut child)
        .line()
        .timeout(Duration::from_secs(30))
        .wait();
    let line = match line {
        Ok(line) => line,
        Err(err) => {
            let _ = child.kill();
            child.wait()?;
            return Err(err.into());
        }
    };
    println!("parent: dbus-daemon says it listens at {line}");
    let port: u16 = line
        .split(',')
        .find_map(|part| part.strip_prefix("port="))
        .ok_or("no port= in the address")?
        .parse()?;

    // D-Bus begins with a NUL byte and an AUTH command; the server answers
    // with the mechanisms it supports.
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.write_all(b"\0AUTH\r\n")?;
    let mut answer = String::new();
    BufReader::new(stream).read_line(&mut answer)?;
    println!(
        "parent: dbus-daemon on port {port} answers: {}",
        answer.trim_end()
    );

    child.kill()?;
    child.wait()?;
    Ok(())
}
