//! A real web framework as the child: an axum server handed the listener
//! from `dynamic_port::tokio::where_to_listen`. The parent learns the port
//! and fetches a page with a real HTTP client (reqwest).
//!
//! ```text
//! cargo run --example axum_hello --features rt-tokio
//! ```

use std::time::Duration;

use axum::routing::get;
use axum::Router;
use dynamic_port::DynamicPortWriter;

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
    command.kill_on_drop(true); // dropping `child` stops the server
    let (mut child, port) = dynamic_port::tokio::spawn(&mut command)?;

    let port = port.timeout(Duration::from_secs(30)).await?;
    println!("parent: the axum child listens on port {port}");
    let page = reqwest::get(format!("http://127.0.0.1:{port}/")).await?;
    println!("parent: GET / -> {}", page.status());
    println!("parent: body: {}", page.text().await?);
    child.kill().await?;
    Ok(())
}

async fn child(writer: DynamicPortWriter) -> Result<(), Box<dyn std::error::Error>> {
    let listener = dynamic_port::tokio::where_to_listen(writer).await?;
    let port = listener.local_addr()?.port();
    let app = Router::new().route(
        "/",
        get(move || async move { format!("hello from axum on port {port}") }),
    );
    axum::serve(listener, app).await?;
    Ok(())
}
