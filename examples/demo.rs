//! The whole story in one program: a parent spawns itself as a child server,
//! learns the port the child's operating system chose, connects, and prints
//! what the child says.
//!
//! ```text
//! cargo run --example demo
//! ```

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use dynamic_port::DynamicPortWriter;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [flag, writer] if flag == DynamicPortWriter::FLAG => child(writer),
        [] => parent(),
        _ => Err("usage: demo (the child is started by the demo itself)".into()),
    }
}

/// Spawns the child, learns its port, connects, and prints the greeting.
fn parent() -> Result<(), Box<dyn std::error::Error>> {
    let mut command = Command::new(std::env::current_exe()?);
    // One call: a pipe, the flag, the spawn, and the child watched, so that
    // a child that dies makes `port` fail at once with its exit status.
    let (mut child, port) = dynamic_port::spawn(&mut command)?;
    println!("parent: spawned {:?}", command);
    let port = match port.timeout(Duration::from_secs(30)).wait() {
        Ok(port) => port,
        Err(err) => {
            // A failed future leaves the child running: stop it.
            let _ = child.kill();
            child.wait()?;
            return Err(err.into());
        }
    };
    println!("parent: the child listens on port {port}");

    let mut greeting = String::new();
    BufReader::new(TcpStream::connect(("127.0.0.1", port))?).read_line(&mut greeting)?;
    println!("parent: the child says: {}", greeting.trim_end());
    let status = child.wait()?;
    println!("parent: the child exited with {status}");
    Ok(())
}

/// Listens on a port the OS picks, reports it, and greets one client.
fn child(writer: &str) -> Result<(), Box<dyn std::error::Error>> {
    let writer: DynamicPortWriter = writer.parse()?;
    let listener = writer.where_to_listen()?;
    let port = listener.local_addr()?.port();
    let (mut stream, _) = listener.accept()?;
    writeln!(
        stream,
        "hello from child {} on port {port}",
        std::process::id()
    )?;
    Ok(())
}
