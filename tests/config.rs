//! The configuration: contract defaults, TOML file, environment overrides, and
//! errors that name the key, its origin and the expected form.

use std::path::Path;
use std::time::Duration;

use goldenpath::config::{Config, ConfigError};

fn no_env() -> Vec<(String, String)> {
    Vec::new()
}

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn write(dir: &tempfile::TempDir, text: &str) -> std::path::PathBuf {
    let path = dir.path().join("goldenpath.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn defaults_are_the_contract() {
    let c = Config::default();
    let p = &c.contract.paths;
    assert_eq!(p.register.as_str(), "/api/auth/register");
    assert_eq!(p.login.as_str(), "/api/auth/login");
    assert_eq!(p.execute.as_str(), "/api/agent/v2/execute");
    assert_eq!(p.execute_legacy.as_str(), "/api/agent/run_agent_v2");
    assert_eq!(p.run_status.as_str(), "/api/agent/runs/{run_id}");
    assert_eq!(p.run_status.fill(&[("run_id", "r1")]), "/api/agent/runs/r1");
    assert_eq!(p.agents_status.as_str(), "/api/agents/status");
    assert_eq!(p.threads.as_str(), "/api/threads");
    assert_eq!(
        p.thread_messages.as_str(),
        "/api/threads/{thread_id}/messages"
    );
    assert_eq!(p.agent_events.as_str(), "/websocket");
    assert_eq!(p.agent_events_legacy.as_str(), "/ws");
    assert_eq!(p.dashboard.as_str(), "/api/v1/ws/dashboard");
    assert_eq!(p.health.as_str(), "/health");
    assert_eq!(p.health_detailed.as_str(), "/health/detailed");
    assert_eq!(p.openapi.as_str(), "/openapi.json");
    assert_eq!(p.docs.as_str(), "/docs");
    assert_eq!(p.restart.as_str(), "/admin/restart");

    assert_eq!(
        c.contract.events.agent_sequence(),
        [
            "agent_started",
            "agent_thinking",
            "tool_executing",
            "tool_completed",
            "agent_completed"
        ]
    );
    assert_eq!(
        c.contract.events.connection_established,
        "connection_established"
    );
    assert_eq!(
        (
            c.contract.events.ping.as_str(),
            c.contract.events.pong.as_str()
        ),
        ("ping", "pong")
    );
    assert_eq!(c.contract.events.connection_ack, "connection_ack");
    assert_eq!(c.contract.events.stats_update, "stats_update");
    assert_eq!(c.contract.events.query_complete, "query_complete");
    assert_eq!(c.contract.events.error, "error");

    assert_eq!(c.contract.websocket.subprotocol, "jwt-auth");
    assert_eq!(c.contract.websocket.token_prefix, "jwt.");
    assert_eq!(
        c.contract.websocket.dashboard_origin,
        "http://localhost:3000"
    );

    assert_eq!(c.contract.fields.access_token, "access_token");
    assert_eq!(c.contract.fields.kind, "type");
    assert_eq!(c.contract.fields.error_code, "code");

    assert_eq!(c.contract.limits.message_max_chars, 16384);
    assert_eq!(c.contract.limits.body_max_bytes, 65536);
    assert_eq!(c.contract.limits.dashboard_connections_per_ip, 10);
    assert_eq!(c.contract.limits.events_per_run, 5);

    assert_eq!(c.contract.timeouts.events, Duration::from_secs(5));
    assert_eq!(
        c.contract.timeouts.restart_comeback,
        Duration::from_secs(60)
    );
    assert_eq!(c.contract.timeouts.stats_interval, Duration::from_secs(5));

    assert_eq!(c.contract.admin.email, "admin@example.com");
    assert_eq!(c.contract.admin.password, "admin-password");
    assert!(
        !format!("{:?}", c.contract.admin).contains("admin-password"),
        "password is redacted"
    );

    assert_eq!(c.target.base_url, None);
    assert!(c.target.faults.is_empty());
}

#[test]
fn the_documented_file_parses_and_equals_the_defaults() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("goldenpath.toml");
    let mut loaded = Config::load_from(Some(&root), no_env()).unwrap();
    // The one deliberate difference: the shipped file sets the thresholds a nightly run
    // is judged by, where the built-in default has none.
    let thresholds: Vec<String> = loaded
        .load
        .thresholds
        .iter()
        .map(|t| format!("{:?}", t.rule))
        .collect();
    assert_eq!(thresholds.len(), 2, "{thresholds:?}");
    loaded.load.thresholds.clear();
    assert_eq!(loaded, Config::default());
}

#[test]
fn the_documented_file_names_every_key() {
    // Every key of the serialised defaults appears in goldenpath.toml (commented or not).
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("goldenpath.toml"))
            .unwrap();
    let defaults = toml::Value::try_from(Config::default()).unwrap();
    for (section, table) in defaults.as_table().unwrap() {
        assert!(
            text.contains(&format!("[{section}]")),
            "section [{section}] is documented"
        );
        for key in table.as_table().unwrap().keys() {
            assert!(
                text.lines().any(|l| {
                    let l = l.trim_start();
                    l.starts_with(&format!("{key} ="))
                        || l.starts_with(&format!("[{section}.{key}]"))
                        || l.starts_with(&format!("[{section}.{key}."))
                        || l.starts_with(&format!("[[{section}.{key}]]"))
                }),
                "{section}.{key} is documented"
            );
        }
    }
    for optional in ["base_url", "image"] {
        assert!(
            text.contains(&format!("# {optional} =")),
            "target.{optional} is documented"
        );
    }
}

#[test]
fn a_file_overrides_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        &dir,
        r#"
        [paths]
        agent_events = "/events"
        run_status = "/runs/{run_id}"
        [events]
        agent_thinking = "thinking"
        [timeouts]
        events = "1m 30s"
        http_request = "500ms"
        [target]
        base_url = "http://127.0.0.1:9000"
        faults = ["ws_path_500", "leak_events"]
        env = { AGENT_THINK_MS = 5, ALLOWED_ORIGINS = "http://a" }
        "#,
    );
    let c = Config::load_from(Some(&path), no_env()).unwrap();
    assert_eq!(c.contract.paths.agent_events.as_str(), "/events");
    assert_eq!(
        c.contract.paths.run_status.fill(&[("run_id", "7")]),
        "/runs/7"
    );
    assert_eq!(
        c.contract.paths.login.as_str(),
        "/api/auth/login",
        "untouched keys keep defaults"
    );
    assert_eq!(c.contract.events.agent_sequence()[1], "thinking");
    assert_eq!(c.contract.timeouts.events, Duration::from_secs(90));
    assert_eq!(c.contract.timeouts.http_request, Duration::from_millis(500));
    assert_eq!(c.target.base_url.as_deref(), Some("http://127.0.0.1:9000"));
    assert_eq!(c.target.faults, ["ws_path_500", "leak_events"]);
    assert_eq!(
        c.target.env.get("AGENT_THINK_MS").map(String::as_str),
        Some("5")
    );
}

#[test]
fn the_environment_overrides_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, "[paths]\nagent_events = \"/from-file\"\n");
    let c = Config::load_from(
        Some(&path),
        env(&[
            ("GOLDENPATH_PATHS__AGENT_EVENTS", "/events"),
            ("GOLDENPATH_TIMEOUTS__EVENTS", "10s"),
            ("GOLDENPATH_LIMITS__EVENTS_PER_RUN", "6"),
            ("GOLDENPATH_ADMIN__PASSWORD", "12345678"),
            ("GOLDENPATH_TARGET__FAULTS", "ws_path_500, leak_events"),
            ("GOLDENPATH_TARGET__ENV__AGENT_THINK_MS", "5"),
            ("GOLDENPATH_WEBSOCKET__SUBPROTOCOL", "bearer"),
            // Not overrides: no section separator, or another prefix.
            ("GOLDENPATH_CONFIG", "other.toml"),
            ("PATHS__LOGIN", "/nope"),
        ]),
    )
    .unwrap();
    assert_eq!(c.contract.paths.agent_events.as_str(), "/events");
    assert_eq!(c.contract.timeouts.events, Duration::from_secs(10));
    assert_eq!(c.contract.limits.events_per_run, 6);
    assert_eq!(c.contract.admin.password, "12345678");
    assert_eq!(c.target.faults, ["ws_path_500", "leak_events"]);
    assert_eq!(
        c.target.env.get("AGENT_THINK_MS").map(String::as_str),
        Some("5")
    );
    assert_eq!(c.contract.websocket.subprotocol, "bearer");
    assert_eq!(c.contract.paths.login.as_str(), "/api/auth/login");

    // Without a file, the environment still applies.
    let c = Config::load_from(None, env(&[("GOLDENPATH_EVENTS__PONG", "PONG")])).unwrap();
    assert_eq!(c.contract.events.pong, "PONG");
}

#[test]
fn unknown_keys_are_errors_naming_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, "[paths]\nagent_event = \"/events\"\n");
    let err = Config::load_from(Some(&path), no_env()).unwrap_err();
    let text = err.to_string();
    assert!(text.contains(&path.display().to_string()), "{text}");
    assert!(text.contains("key `paths.agent_event`"), "{text}");
    assert!(text.contains("unknown key"), "{text}");
    assert!(
        text.contains("agent_events"),
        "the valid keys are listed: {text}"
    );

    let path = write(&dir, "[pathz]\nlogin = \"/x\"\n");
    let err = Config::load_from(Some(&path), no_env()).unwrap_err();
    assert!(
        err.to_string().contains("key `pathz`: unknown key"),
        "{err}"
    );

    let err = Config::load_from(None, env(&[("GOLDENPATH_PATHS__NOPE", "/x")])).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("environment variable GOLDENPATH_PATHS__NOPE"),
        "{text}"
    );
    assert!(text.contains("key `paths.nope`: unknown key"), "{text}");
}

#[test]
fn bad_values_name_the_key_and_the_expected_form() {
    let dir = tempfile::tempdir().unwrap();

    let path = write(&dir, "[timeouts]\nevents = \"abc\"\n");
    let err = Config::load_from(Some(&path), no_env()).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("key `timeouts.events`"), "{text}");
    assert!(text.contains("\"abc\""), "{text}");
    assert!(text.contains("a duration such as \"2s\""), "{text}");

    let path = write(&dir, "[paths]\nlogin = \"api/auth/login\"\n");
    let err = Config::load_from(Some(&path), no_env()).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("key `paths.login`"), "{text}");
    assert!(text.contains("a path starting with '/'"), "{text}");

    let path = write(&dir, "[paths]\nrun_status = \"/runs\"\n");
    let err = Config::load_from(Some(&path), no_env()).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("key `paths.run_status`"), "{text}");
    assert!(text.contains("{run_id}"), "{text}");
    assert!(
        text.contains(&path.display().to_string()),
        "origin is named: {text}"
    );

    let path = write(&dir, "[limits]\nbody_max_bytes = \"lots\"\n");
    let err = Config::load_from(Some(&path), no_env()).unwrap_err();
    assert!(
        err.to_string().contains("key `limits.body_max_bytes`"),
        "{err}"
    );

    let err = Config::load_from(None, env(&[("GOLDENPATH_TIMEOUTS__EVENTS", "soon")])).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("environment variable GOLDENPATH_TIMEOUTS__EVENTS"),
        "{text}"
    );
    assert!(text.contains("key `timeouts.events`"), "{text}");

    let err = Config::load_from(
        None,
        env(&[("GOLDENPATH_TARGET__BASE_URL", "localhost:8000")]),
    )
    .unwrap_err();
    assert!(err.to_string().contains("key `target.base_url`"), "{err}");

    let err = Config::load_from(
        None,
        env(&[("GOLDENPATH_EVENTS__AGENT_THINKING", "agent_started")]),
    )
    .unwrap_err();
    assert!(err.to_string().contains("must be distinct"), "{err}");

    // Several problems are all reported.
    let path = write(&dir, "[timeouts]\nevents = \"abc\"\nbogus = 1\n");
    let err = Config::load_from(Some(&path), no_env()).unwrap_err();
    assert!(!err.problems().is_empty(), "{err}");
}

#[test]
fn a_missing_explicit_file_is_an_error_and_toml_syntax_errors_are_reported() {
    let err = Config::load_from(Some(Path::new("/no/such/goldenpath.toml")), no_env()).unwrap_err();
    assert!(matches!(err, ConfigError::Read { .. }), "{err:?}");
    assert!(
        err.to_string().contains("/no/such/goldenpath.toml"),
        "{err}"
    );

    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, "[paths\nlogin = ");
    let err = Config::load_from(Some(&path), no_env()).unwrap_err();
    assert!(matches!(err, ConfigError::Invalid { .. }), "{err:?}");
}

#[test]
fn from_toml_str_and_round_trip() {
    let c = Config::from_toml_str("[limits]\nevents_per_run = 7\n").unwrap();
    assert_eq!(c.contract.limits.events_per_run, 7);
    let text = toml::to_string(&Config::default()).unwrap();
    assert_eq!(Config::from_toml_str(&text).unwrap(), Config::default());
}
