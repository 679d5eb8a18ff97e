//! Retargeting by configuration, never by code: a stack whose agent-events socket
//! lives at `/events` instead of the contract's `/websocket` fails the scenarios with
//! the default configuration, and passes them once `paths.agent_events` says so.

use goldenpath::Config;
use goldenpath::RunOptions;
use goldenpath::contract::ApiPath;
use goldenpath::summary::Status;

const SCENARIO: &str = "Executing the agent is accepted and reports five events in order";

fn options(config: Config) -> RunOptions {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut opts = RunOptions::new(config);
    opts.features = vec![root.join("features/agent_execution.feature")];
    opts.reports_dir = root.join("target/goldenpath-reports/retarget");
    opts.scenario_names = vec![SCENARIO.to_owned()];
    opts.progress = false;
    opts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_spelling_needs_a_config_change_not_a_code_change() {
    // The stack goldenpath starts spells the socket path differently.
    let mut config = Config::default();
    config
        .target
        .env
        .insert("WEBSOCKET_PATH".into(), "/events".into());

    let default_spelling = goldenpath::run(options(config.clone()))
        .await
        .expect("the run completes");
    let scenario = &default_spelling.summary.features[0].scenarios[0];
    assert_eq!(
        scenario.status,
        Status::Failed,
        "the default config must not find /events"
    );
    let failed = scenario
        .steps
        .iter()
        .find(|s| s.status == Status::Failed)
        .expect("a failed step");
    assert_eq!(failed.text, "\"Alice\" has the agent-events socket open");
    let error = failed.error.as_deref().unwrap_or_default();
    assert!(
        error.contains("/websocket") && error.contains("404"),
        "{error}"
    );

    config.contract.paths.agent_events = ApiPath::new("/events").expect("a valid path");
    let matching = goldenpath::run(options(config))
        .await
        .expect("the run completes");
    assert!(
        matching.passed(),
        "with paths.agent_events = \"/events\": {:?}",
        matching.summary.reasons
    );
}
