//! The team's golden path: goldenpath's standard health feature, the team's own
//! feature, and one step of the team's own, against the stack that `[target]` names
//! (here set from the environment: `GOLDENPATH_TARGET__IMAGE` or
//! `GOLDENPATH_TARGET__BASE_URL`). Run by `cargo test`; reports in `reports/`.
//! `cargo test --test golden -- FEATURE...` runs only the feature files given.

use std::path::PathBuf;
use std::process::ExitCode;

use cucumber::then;
use goldenpath::client::RawRequest;
use goldenpath::{Config, GoldenWorld, RunOptions};

/// The team's own step: the newest thread's title, read through goldenpath's one
/// client, first typed, then as the raw answer (for a field the typed answer lacks).
#[then(expr = "{string}'s newest thread is titled {string}")]
async fn newest_thread_titled(world: &mut GoldenWorld, user: String, title: String) {
    let session = world.session(&user);
    let client = world.client();
    let threads = client
        .list_threads(&session)
        .await
        .unwrap_or_else(|e| panic!("listing {user:?}'s threads failed: {e}"));
    let newest = threads.last().expect("the agent created a thread");
    assert_eq!(newest.title.as_deref(), Some(title.as_str()), "{newest:?}");

    let path = world.contract().paths.threads.as_str().to_owned();
    let raw = client
        .send(RawRequest::get(path).session(&session))
        .await
        .expect("the stack answers");
    assert_eq!(raw.status, 200, "GET threads: {}", raw.body);
    assert!(raw.body.contains(&title), "the raw answer: {}", raw.body);
}

fn main() -> ExitCode {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let config = match Config::load(None) {
        Ok(config) => config,
        Err(e) => return goldenpath::error_exit(e),
    };
    let mut options = RunOptions::new(config);
    let given: Vec<PathBuf> = std::env::args().skip(1).map(PathBuf::from).collect();
    options.features = if given.is_empty() {
        // One of goldenpath's standard features, and the team's own.
        vec![
            here.join("../../features/health.feature"),
            here.join("features"),
        ]
    } else {
        given
    };
    options.reports_dir = here.join("reports");
    goldenpath::run_main(options)
}
