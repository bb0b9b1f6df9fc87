//! A tokio parent spawns a tokio child echo server, learns its port,
//! connects, and exchanges a message.
//!
//! ```text
//! cargo run --example tokio_echo --features rt-tokio
//! ```

use std::time::Duration;

use dynamic_port::DynamicPortWriter;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [flag, writer] if flag == DynamicPortWriter::FLAG => child(writer.parse()?).await,
        _ => parent().await,
    }
}

async fn parent() -> Result<(), Box<dyn std::error::Error>> {
    let mut command = tokio::process::Command::new(std::env::current_exe()?);
    // Whatever happens below, dropping `child` stops the server.
    command.kill_on_drop(true);
    let (mut child, port) = dynamic_port::tokio::spawn(&mut command)?;

    let port = port.timeout(Duration::from_secs(30)).await?;
    println!("parent: the tokio child listens on port {port}");
    let (reader, mut writer) = TcpStream::connect(("127.0.0.1", port)).await?.into_split();
    writer.write_all(b"hello from the parent\n").await?;
    let mut reply = String::new();
    BufReader::new(reader).read_line(&mut reply).await?;
    println!("parent: the child replied: {}", reply.trim_end());
    child.wait().await?;
    Ok(())
}

async fn child(writer: DynamicPortWriter) -> Result<(), Box<dyn std::error::Error>> {
    let listener = dynamic_port::tokio::where_to_listen(writer).await?;
    let (stream, _) = listener.accept().await?;
    let (reader, mut writer) = stream.into_split();
    let mut line = String::new();
    BufReader::new(reader).read_line(&mut line).await?;
    writer
        .write_all(format!("tokio child echoes: {line}").as_bytes())
        .await?;
    Ok(())
}
