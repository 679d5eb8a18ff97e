//! The `goldenpath` binary: parse the command line and hand over to the library.

use std::process::ExitCode;

use clap::Parser as _;

mod cli;

/// jemalloc rather than glibc's malloc: see the note on the dependency in Cargo.toml.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("GOLDENPATH_LOG")
                // testcontainers logs an ERROR when a container it would remove on drop is
                // already gone, which is what goldenpath's own cleanup does first.
                .unwrap_or_else(|_| {
                    tracing_subscriber::EnvFilter::new(
                        "warn,testcontainers::core::containers::async_container=off",
                    )
                }),
        )
        .with_writer(std::io::stderr)
        .init();
    cli::main(cli::Cli::parse())
}
