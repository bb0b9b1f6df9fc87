//! An async-std parent spawns an async-std child echo server, learns its
//! port, connects, and exchanges a message. (async-std is discontinued
//! upstream; this shows that the programs still on it are supported.)
//!
//! ```text
//! cargo run --example async_std_echo --features rt-async-std
//! ```

use std::time::Duration;

use async_std::io::prelude::{BufReadExt, WriteExt};
use async_std::io::BufReader;
use async_std::net::TcpStream;
use dynamic_port::DynamicPortWriter;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    async_std::task::block_on(async {
        match args.as_slice() {
            [flag, writer] if flag == DynamicPortWriter::FLAG => child(writer.parse()?).await,
            _ => parent().await,
        }
    })
}

async fn parent() -> Result<(), Box<dyn std::error::Error>> {
    let (writer, port) = DynamicPortWriter::create()?;
    let mut command = std::process::Command::new(std::env::current_exe()?);
    writer.pass_to(&mut command);
    let mut child = command.spawn()?;
    drop(writer);

    let port = port.timeout(Duration::from_secs(30)).await?;
    println!("parent: the async-std child listens on port {port}");
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await?;
    stream.write_all(b"hello from the parent\n").await?;
    let mut reply = String::new();
    BufReader::new(stream).read_line(&mut reply).await?;
    println!("parent: the child replied: {}", reply.trim_end());
    child.wait()?;
    Ok(())
}

async fn child(writer: DynamicPortWriter) -> Result<(), Box<dyn std::error::Error>> {
    let listener = dynamic_port::async_std::where_to_listen(writer).await?;
    let (stream, _) = listener.accept().await?;
    let mut line = String::new();
    BufReader::new(stream.clone()).read_line(&mut line).await?;
    let mut stream = stream;
    stream
        .write_all(format!("async-std child echoes: {line}").as_bytes())
        .await?;
    Ok(())
}
