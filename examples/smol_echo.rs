//! A smol parent spawns a smol child echo server, learns its port,
//! connects, and exchanges a message.
//!
//! ```text
//! cargo run --example smol_echo --features rt-smol
//! ```

use std::time::Duration;

use dynamic_port::DynamicPortWriter;
use smol::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use smol::net::TcpStream;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    smol::block_on(async {
        match args.as_slice() {
            [flag, writer] if flag == DynamicPortWriter::FLAG => child(writer.parse()?).await,
            _ => parent().await,
        }
    })
}

async fn parent() -> Result<(), Box<dyn std::error::Error>> {
    let command = std::process::Command::new(std::env::current_exe()?);
    let (mut child, port) = dynamic_port::smol::spawn(command)?;

    let port = port.timeout(Duration::from_secs(30)).await?;
    println!("parent: the smol child listens on port {port}");
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await?;
    stream.write_all(b"hello from the parent\n").await?;
    let mut reply = String::new();
    BufReader::new(stream).read_line(&mut reply).await?;
    println!("parent: the child replied: {}", reply.trim_end());
    child.status().await?;
    Ok(())
}

async fn child(writer: DynamicPortWriter) -> Result<(), Box<dyn std::error::Error>> {
    let listener = dynamic_port::smol::where_to_listen(writer).await?;
    let (stream, _) = listener.accept().await?;
    let mut line = String::new();
    BufReader::new(stream.clone()).read_line(&mut line).await?;
    let mut stream = stream;
    stream
        .write_all(format!("smol child echoes: {line}").as_bytes())
        .await?;
    Ok(())
}
