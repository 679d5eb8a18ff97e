//! `agent-stack`: serve the reference stack, or `agent-stack healthcheck`.
//!
//! * No argument: read the environment (`PORT`, `DATA_DIR`, ... see
//!   [`agent_stack::Config`]), listen on `0.0.0.0:$PORT`, serve until
//!   `/admin/restart`, SIGTERM or SIGINT, exit 0. A bad environment value prints
//!   one line on stderr and exits 2.
//! * `healthcheck`: `GET http://127.0.0.1:$PORT/health` (`/v2/status` when
//!   `DIALECT=b`); exit 0 on 200, else 1.
//!   It is the HEALTHCHECK of a FROM-scratch image that has no curl.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use agent_stack::Config;
use agent_stack::dialect::Route;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("agent-stack: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [] => runtime.block_on(run_server()),
        ["healthcheck"] => runtime.block_on(healthcheck()),
        ["--help" | "-h" | "help"] => {
            println!("usage: agent-stack            serve (configured by environment variables)");
            println!(
                "       agent-stack healthcheck GET /health (/v2/status if DIALECT=b) on 127.0.0.1:$PORT, exit 0 when 200"
            );
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!(
                "agent-stack: unexpected arguments {args:?}: run with no argument to serve, or `healthcheck`"
            );
            ExitCode::from(2)
        }
    }
}

async fn run_server() -> ExitCode {
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("agent-stack: {e}");
            return ExitCode::from(2);
        }
    };
    init_tracing();
    let addr = std::net::SocketAddr::from(([0, 0, 0, 0], config.port));
    let listener = match agent_stack::listen(addr) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("agent-stack: cannot listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    match agent_stack::serve(listener, config).await {
        Ok(reason) => {
            tracing::info!(?reason, "exiting with status 0");
            ExitCode::SUCCESS
        }
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "agent-stack failed");
            eprintln!("agent-stack: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stdout().is_terminal())
        .init();
}

async fn healthcheck() -> ExitCode {
    let (port, path) = match Config::from_env() {
        Ok(c) => (c.port, c.dialect.path(Route::Health)),
        Err(e) => {
            eprintln!("agent-stack: {e}");
            return ExitCode::from(2);
        }
    };
    match tokio::time::timeout(Duration::from_secs(3), probe(port, path)).await {
        Ok(Ok(200)) => ExitCode::SUCCESS,
        Ok(Ok(status)) => {
            eprintln!("agent-stack healthcheck: {path} answered {status}");
            ExitCode::FAILURE
        }
        Ok(Err(e)) => {
            eprintln!("agent-stack healthcheck: {e}");
            ExitCode::FAILURE
        }
        Err(_) => {
            eprintln!("agent-stack healthcheck: no answer within 3 s");
            ExitCode::FAILURE
        }
    }
}

/// One HTTP/1.1 GET of the health path over a plain TCP stream; returns the
/// status code.
async fn probe(port: u16, path: &str) -> std::io::Result<u16> {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut buf = Vec::with_capacity(512);
    let mut chunk = [0u8; 512];
    while !buf.windows(2).any(|w| w == b"\r\n") {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let line = String::from_utf8_lossy(&buf);
    line.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| {
            std::io::Error::other(format!("not an HTTP answer: {:?}", line.lines().next()))
        })
}
