//! goldenpath configuration: the contract spellings, targets, timeouts (goldenpath.toml).
//!
//! [`Config`] is one typed struct whose serde defaults are the values of the stack
//! contract (`shared/CONTRACT.md`). It is read from a TOML file (`goldenpath.toml` in
//! the working directory when present, or the file given with `--config`), then
//! overridden by environment variables named `GOLDENPATH_<SECTION>__<KEY>`, e.g.
//! `GOLDENPATH_PATHS__AGENT_EVENTS=/events` or `GOLDENPATH_TIMEOUTS__EVENTS=10s`.
//!
//! Unknown keys and bad values are errors that name the key, where it came from (the
//! file or the variable) and the expected form. Adding a section is one field on
//! [`Config`] plus its struct with `#[serde(default, deny_unknown_fields)]`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::providers::{Format, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use serde::{Deserialize, Deserializer, Serialize};

/// The configuration file read from the working directory when no `--config` is given.
pub const DEFAULT_FILE: &str = "goldenpath.toml";
/// Prefix of the environment variables that override the file (`GOLDENPATH_PATHS__LOGIN`).
pub const ENV_PREFIX: &str = "GOLDENPATH_";
/// Separator between section and key in those variables.
pub const ENV_SEPARATOR: &str = "__";

/// The whole harness configuration. Every field defaults to the contract's value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// HTTP and WebSocket paths of the stack.
    pub paths: Paths,
    /// Names of the WebSocket frame types (`type` field).
    pub events: Events,
    /// WebSocket handshake details: subprotocols, dashboard origin.
    pub websocket: WebSocket,
    /// JSON field names the client reads.
    pub fields: Fields,
    /// JSON field names of the dashboard socket's payloads.
    pub dashboard_fields: DashboardFields,
    /// Limits the contract promises.
    pub limits: Limits,
    /// How long the harness waits for things.
    pub timeouts: Timeouts,
    /// The admin account that exists from start-up.
    pub admin: Admin,
    /// What to test: a running stack, an image, seeded faults.
    pub target: Target,
    /// How much worse than a baseline a run may be before `goldenpath compare` calls it
    /// a regression.
    pub compare: crate::report::Tolerance,
    /// Load profiles and thresholds (`goldenpath load`).
    pub load: crate::load::LoadConfig,
}

/// An absolute request path such as `/api/threads/{thread_id}/messages`.
///
/// Placeholders in braces are filled by [`ApiPath::fill`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct ApiPath(String);

impl ApiPath {
    /// A path; it must start with `/`.
    pub fn new(path: impl Into<String>) -> Result<Self, String> {
        let path = path.into();
        if !path.starts_with('/') {
            return Err(format!("{path:?} does not start with '/'"));
        }
        if path.chars().any(char::is_whitespace) {
            return Err(format!("{path:?} contains whitespace"));
        }
        Ok(ApiPath(path))
    }

    fn lit(path: &str) -> Self {
        ApiPath(path.to_owned())
    }

    /// The path as written in the configuration (placeholders unfilled).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The path with `{name}` placeholders replaced, e.g.
    /// `fill(&[("run_id", "abc")])` on `/api/agent/runs/{run_id}`.
    pub fn fill(&self, values: &[(&str, &str)]) -> String {
        let mut out = self.0.clone();
        for (name, value) in values {
            out = out.replace(&format!("{{{name}}}"), value);
        }
        out
    }

    /// Whether the path contains the `{name}` placeholder.
    pub fn has_placeholder(&self, name: &str) -> bool {
        self.0.contains(&format!("{{{name}}}"))
    }
}

impl fmt::Display for ApiPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for ApiPath {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for ApiPath {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = ApiPath;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a path starting with '/' (e.g. \"/api/threads\")")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ApiPath, E> {
                ApiPath::new(v).map_err(|_| E::invalid_value(serde::de::Unexpected::Str(v), &self))
            }
        }
        d.deserialize_str(V)
    }
}

/// `[paths]`: every route the harness calls. Contract sections 2 to 7.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Paths {
    pub register: ApiPath,
    pub login: ApiPath,
    pub execute: ApiPath,
    pub execute_legacy: ApiPath,
    /// Must contain `{run_id}`.
    pub run_status: ApiPath,
    pub agents_status: ApiPath,
    pub threads: ApiPath,
    /// Must contain `{thread_id}`.
    pub thread_messages: ApiPath,
    pub agent_events: ApiPath,
    pub agent_events_legacy: ApiPath,
    pub dashboard: ApiPath,
    pub health: ApiPath,
    pub health_detailed: ApiPath,
    pub openapi: ApiPath,
    pub docs: ApiPath,
    pub restart: ApiPath,
}

impl Default for Paths {
    fn default() -> Self {
        Paths {
            register: ApiPath::lit("/api/auth/register"),
            login: ApiPath::lit("/api/auth/login"),
            execute: ApiPath::lit("/api/agent/v2/execute"),
            execute_legacy: ApiPath::lit("/api/agent/run_agent_v2"),
            run_status: ApiPath::lit("/api/agent/runs/{run_id}"),
            agents_status: ApiPath::lit("/api/agents/status"),
            threads: ApiPath::lit("/api/threads"),
            thread_messages: ApiPath::lit("/api/threads/{thread_id}/messages"),
            agent_events: ApiPath::lit("/websocket"),
            agent_events_legacy: ApiPath::lit("/ws"),
            dashboard: ApiPath::lit("/api/v1/ws/dashboard"),
            health: ApiPath::lit("/health"),
            health_detailed: ApiPath::lit("/health/detailed"),
            openapi: ApiPath::lit("/openapi.json"),
            docs: ApiPath::lit("/docs"),
            restart: ApiPath::lit("/admin/restart"),
        }
    }
}

/// `[events]`: the `type` of each WebSocket frame. Contract sections 3, 5, 6.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Events {
    /// First of the five agent events of a run.
    pub agent_started: String,
    pub agent_thinking: String,
    pub tool_executing: String,
    pub tool_completed: String,
    /// Last of the five agent events of a run.
    pub agent_completed: String,
    pub connection_established: String,
    pub ping: String,
    pub pong: String,
    pub connection_ack: String,
    pub stats_update: String,
    pub query_complete: String,
    pub error: String,
}

impl Events {
    /// The five agent events, in the order the contract requires.
    pub fn agent_sequence(&self) -> [&str; 5] {
        [
            &self.agent_started,
            &self.agent_thinking,
            &self.tool_executing,
            &self.tool_completed,
            &self.agent_completed,
        ]
    }

    /// Position of an agent event name in [`Events::agent_sequence`].
    pub fn agent_index(&self, name: &str) -> Option<usize> {
        self.agent_sequence().iter().position(|n| *n == name)
    }
}

impl Default for Events {
    fn default() -> Self {
        Events {
            agent_started: "agent_started".into(),
            agent_thinking: "agent_thinking".into(),
            tool_executing: "tool_executing".into(),
            tool_completed: "tool_completed".into(),
            agent_completed: "agent_completed".into(),
            connection_established: "connection_established".into(),
            ping: "ping".into(),
            pong: "pong".into(),
            connection_ack: "connection_ack".into(),
            stats_update: "stats_update".into(),
            query_complete: "query_complete".into(),
            error: "error".into(),
        }
    }
}

/// `[websocket]`: handshake details. Contract sections 5 and 6.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebSocket {
    /// The subprotocol the server must select (`jwt-auth`).
    pub subprotocol: String,
    /// Prefix of the second offered subprotocol, which carries the token (`jwt.<token>`).
    pub token_prefix: String,
    /// The `Origin` header sent to the dashboard socket (an allowed origin).
    pub dashboard_origin: String,
}

impl Default for WebSocket {
    fn default() -> Self {
        WebSocket {
            subprotocol: "jwt-auth".into(),
            token_prefix: "jwt.".into(),
            dashboard_origin: "http://localhost:3000".into(),
        }
    }
}

/// `[fields]`: JSON field names the client reads (and the few it writes that a team
/// might spell differently).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Fields {
    pub access_token: String,
    /// Login answer: `bearer`.
    pub token_type: String,
    /// Login answer: the token's lifetime in seconds.
    pub expires_in: String,
    pub user_id: String,
    pub email: String,
    pub run_id: String,
    pub thread_id: String,
    pub status: String,
    pub result: String,
    /// The frame type field (`type`).
    #[serde(rename = "type")]
    pub kind: String,
    pub seq: String,
    pub data: String,
    pub timestamp: String,
    pub connection_id: String,
    pub boot_id: String,
    pub version: String,
    pub started_at: String,
    pub uptime_s: String,
    pub services: String,
    pub agents: String,
    pub agent_name: String,
    pub circuit_breaker: String,
    pub threads: String,
    pub title: String,
    pub created_at: String,
    pub messages: String,
    pub message_id: String,
    pub content: String,
    pub role: String,
    /// Register and login requests: the password.
    pub password: String,
    /// Register request: the name shown for the user.
    pub display_name: String,
    /// Execute request: the user's message to the agent.
    pub prompt: String,
    /// Execute request: which agent runs (optional); `agent_started`'s data names it.
    pub agent: String,
    /// `agent_thinking`'s data: what the agent is thinking.
    pub thought: String,
    /// `tool_executing`'s and `tool_completed`'s data: the tool's name.
    pub tool: String,
    /// `tool_executing`'s data: what the tool is given.
    pub tool_input: String,
    /// `tool_completed`'s data: what the tool returned (the message's word count).
    pub tool_output: String,
    /// `agent_completed`'s data: how long the run took, in milliseconds. Its answer is
    /// under [`Fields::result`].
    pub duration_ms: String,
    /// The error envelope: `{"error": {"code", "message"}}`.
    pub error: String,
    pub error_code: String,
    pub error_message: String,
}

impl Default for Fields {
    fn default() -> Self {
        Fields {
            access_token: "access_token".into(),
            token_type: "token_type".into(),
            expires_in: "expires_in".into(),
            user_id: "user_id".into(),
            email: "email".into(),
            run_id: "run_id".into(),
            thread_id: "thread_id".into(),
            status: "status".into(),
            result: "result".into(),
            kind: "type".into(),
            seq: "seq".into(),
            data: "data".into(),
            timestamp: "timestamp".into(),
            connection_id: "connection_id".into(),
            boot_id: "boot_id".into(),
            version: "version".into(),
            started_at: "started_at".into(),
            uptime_s: "uptime_s".into(),
            services: "services".into(),
            agents: "agents".into(),
            agent_name: "name".into(),
            circuit_breaker: "circuit_breaker".into(),
            threads: "threads".into(),
            title: "title".into(),
            created_at: "created_at".into(),
            messages: "messages".into(),
            message_id: "message_id".into(),
            content: "content".into(),
            role: "role".into(),
            password: "password".into(),
            display_name: "display_name".into(),
            prompt: "message".into(),
            agent: "agent".into(),
            thought: "thought".into(),
            tool: "tool".into(),
            tool_input: "input".into(),
            tool_output: "output".into(),
            duration_ms: "duration_ms".into(),
            error: "error".into(),
            error_code: "code".into(),
            error_message: "message".into(),
        }
    }
}

/// `[dashboard_fields]`: the keys of the dashboard socket's payloads (`data` of
/// `stats_update`, `query_complete` and `error`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DashboardFields {
    /// `stats_update`: registered users.
    pub users: String,
    /// `stats_update`: threads.
    pub threads: String,
    /// `stats_update`: messages.
    pub messages: String,
    /// `stats_update`: agent runs.
    pub runs: String,
    /// `stats_update`: open WebSocket connections.
    pub active_connections: String,
    /// `query_complete`: length of the agent's answer.
    pub response_length: String,
    /// `query_complete`: the model that answered.
    pub model: String,
    /// `query_complete`: how long the run took, in milliseconds.
    pub latency_ms: String,
    /// `error`: what kind of error the backend had.
    pub error_type: String,
    /// `error`: its message.
    pub message: String,
    /// `error`: the endpoint that failed.
    pub endpoint: String,
}

impl Default for DashboardFields {
    fn default() -> Self {
        DashboardFields {
            users: "users".into(),
            threads: "threads".into(),
            messages: "messages".into(),
            runs: "runs".into(),
            active_connections: "active_connections".into(),
            response_length: "response_length".into(),
            model: "model".into(),
            latency_ms: "latency_ms".into(),
            error_type: "error_type".into(),
            message: "message".into(),
            endpoint: "endpoint".into(),
        }
    }
}

/// `[limits]`: numbers the contract promises.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Longest message / execute `message` accepted, in characters.
    pub message_max_chars: usize,
    /// Largest request body accepted, in bytes (413 above).
    pub body_max_bytes: usize,
    /// Open dashboard connections allowed per client IP.
    pub dashboard_connections_per_ip: usize,
    /// Agent events emitted per run.
    pub events_per_run: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            message_max_chars: 16384,
            body_max_bytes: 65536,
            dashboard_connections_per_ip: 10,
            events_per_run: 5,
        }
    }
}

/// `[timeouts]`: human-readable durations (`"2s"`, `"500ms"`, `"1m 30s"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Timeouts {
    /// One HTTP request, from send to the end of the body.
    #[serde(with = "duration")]
    pub http_request: Duration,
    /// Time for all of a run's agent events to arrive.
    #[serde(with = "duration")]
    pub events: Duration,
    /// TCP connect plus WebSocket handshake plus the first frame.
    #[serde(with = "duration")]
    pub socket_connect: Duration,
    /// From `/admin/restart` until `/health` is healthy with a new `boot_id`.
    #[serde(with = "duration")]
    pub restart_comeback: Duration,
    /// The expected interval between dashboard `stats_update` frames.
    #[serde(with = "duration")]
    pub stats_interval: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            http_request: Duration::from_secs(10),
            events: Duration::from_secs(5),
            socket_connect: Duration::from_secs(5),
            restart_comeback: Duration::from_secs(60),
            stats_interval: Duration::from_secs(5),
        }
    }
}

/// `[admin]`: the account that exists from start-up (contract section 10 defaults).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Admin {
    pub email: String,
    pub password: String,
}

impl fmt::Debug for Admin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Admin")
            .field("email", &self.email)
            .field("password", &"<redacted>")
            .finish()
    }
}

impl Default for Admin {
    fn default() -> Self {
        Admin {
            email: "admin@example.com".into(),
            password: "admin-password".into(),
        }
    }
}

/// `[target]`: the stack under test.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Target {
    /// A stack that is already running (`http://host:port`); when absent the harness
    /// starts its own container.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// The image to run instead of the locally built reference stack.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Seeded faults (contract section 9), as a list or a comma-separated string.
    #[serde(deserialize_with = "string_list")]
    pub faults: Vec<String>,
    /// Extra environment for the stack's container (`AGENT_THINK_MS = "5"`).
    #[serde(deserialize_with = "string_map")]
    pub env: BTreeMap<String, String>,
}

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read configuration file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid configuration: {}", ProblemList(problems))]
    Invalid { problems: Vec<ConfigProblem> },
}

impl ConfigError {
    /// The individual problems (empty for [`ConfigError::Read`]).
    pub fn problems(&self) -> &[ConfigProblem] {
        match self {
            ConfigError::Invalid { problems } => problems,
            ConfigError::Read { .. } => &[],
        }
    }
}

/// One bad key: which, from where, and what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// Dotted key, e.g. `timeouts.events`.
    pub key: String,
    /// Where the value came from: the file path, or `environment variable GOLDENPATH_…`.
    pub origin: Option<String>,
    /// What is wrong and what form was expected.
    pub message: String,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(origin) = &self.origin {
            write!(f, "{origin}: ")?;
        }
        if self.key.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "key `{}`: {}", self.key, self.message)
        }
    }
}

struct ProblemList<'a>(&'a [ConfigProblem]);

impl fmt::Display for ProblemList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            [one] => write!(f, "{one}"),
            many => {
                for p in many {
                    write!(f, "\n  - {p}")?;
                }
                Ok(())
            }
        }
    }
}

impl Config {
    /// Loads the configuration: defaults, then the TOML file (`path`, or
    /// `goldenpath.toml` in the working directory if it exists), then `GOLDENPATH_*`
    /// environment variables.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let env = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)));
        Config::load_from(path, env)
    }

    /// As [`Config::load`], with the environment given explicitly (tests, embedding).
    /// Variables without the `GOLDENPATH_` prefix or without a `__` separator
    /// (e.g. `GOLDENPATH_CONFIG`) are ignored.
    pub fn load_from(
        path: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let file = match path {
            Some(p) => {
                std::fs::metadata(p).map_err(|source| ConfigError::Read {
                    path: p.to_owned(),
                    source,
                })?;
                Some(p.to_owned())
            }
            None => {
                let p = PathBuf::from(DEFAULT_FILE);
                p.is_file().then_some(p)
            }
        };
        let mut figment = Figment::new();
        if let Some(file) = &file {
            // Read it here so that an unreadable file is a Read error, not silence.
            std::fs::read_to_string(file).map_err(|source| ConfigError::Read {
                path: file.clone(),
                source,
            })?;
            figment = figment.merge(Toml::file_exact(file));
        }
        figment = figment.merge(EnvOverrides::new(env));
        Config::extract(&figment)
    }

    /// Parses a configuration from TOML text (no environment, no file lookup).
    pub fn from_toml_str(toml: &str) -> Result<Config, ConfigError> {
        Config::extract(&Figment::new().merge(Toml::string(toml)))
    }

    fn extract(figment: &Figment) -> Result<Config, ConfigError> {
        let config: Config = figment.extract_lossy().map_err(|e| ConfigError::Invalid {
            problems: e.into_iter().map(problem_from_figment).collect(),
        })?;
        let problems: Vec<ConfigProblem> = config
            .check()
            .into_iter()
            .map(|(key, message)| ConfigProblem {
                origin: figment.find_metadata(&key).map(|md| origin_of(md, &key)),
                key,
                message,
            })
            .collect();
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError::Invalid { problems })
        }
    }

    /// Checks that deserialisation cannot express: placeholders, distinct event
    /// names, non-zero limits and timeouts, a usable base URL. Returns `(key, message)`.
    fn check(&self) -> Vec<(String, String)> {
        let mut bad = Vec::new();
        for (key, path, placeholder) in [
            ("paths.run_status", &self.paths.run_status, "run_id"),
            (
                "paths.thread_messages",
                &self.paths.thread_messages,
                "thread_id",
            ),
        ] {
            if !path.has_placeholder(placeholder) {
                bad.push((
                    key.to_owned(),
                    format!(
                        "{path:?} must contain the placeholder {{{placeholder}}}",
                        path = path.as_str()
                    ),
                ));
            }
        }
        let e = &self.events;
        let named = [
            ("agent_started", &e.agent_started),
            ("agent_thinking", &e.agent_thinking),
            ("tool_executing", &e.tool_executing),
            ("tool_completed", &e.tool_completed),
            ("agent_completed", &e.agent_completed),
            ("connection_established", &e.connection_established),
            ("ping", &e.ping),
            ("pong", &e.pong),
            ("connection_ack", &e.connection_ack),
            ("stats_update", &e.stats_update),
            ("query_complete", &e.query_complete),
            ("error", &e.error),
        ];
        for (i, (key, name)) in named.iter().enumerate() {
            if name.trim().is_empty() {
                bad.push((
                    format!("events.{key}"),
                    "an event name must not be empty".into(),
                ));
            } else if i < 5
                && let Some((other, _)) = named[..i].iter().find(|(_, n)| n == name)
            {
                bad.push((
                    format!("events.{key}"),
                    format!("{name:?} is also the name of events.{other}: the five agent events must be distinct"),
                ));
            }
        }
        if self.websocket.subprotocol.trim().is_empty() {
            bad.push(("websocket.subprotocol".into(), "must not be empty".into()));
        }
        for (key, v) in [
            ("limits.message_max_chars", self.limits.message_max_chars),
            ("limits.body_max_bytes", self.limits.body_max_bytes),
            (
                "limits.dashboard_connections_per_ip",
                self.limits.dashboard_connections_per_ip,
            ),
            ("limits.events_per_run", self.limits.events_per_run),
        ] {
            if v == 0 {
                bad.push((key.into(), "must be a positive whole number".into()));
            }
        }
        let t = &self.timeouts;
        for (key, v) in [
            ("timeouts.http_request", t.http_request),
            ("timeouts.events", t.events),
            ("timeouts.socket_connect", t.socket_connect),
            ("timeouts.restart_comeback", t.restart_comeback),
            ("timeouts.stats_interval", t.stats_interval),
        ] {
            if v.is_zero() {
                bad.push((
                    key.into(),
                    "must be a duration above zero such as \"2s\" or \"500ms\"".into(),
                ));
            }
        }
        if let Some(base) = &self.target.base_url {
            match url::Url::parse(base) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
                _ => bad.push((
                    "target.base_url".into(),
                    format!("{base:?} is not a base URL of the form \"http://host:port\""),
                )),
            }
        }
        bad
    }
}

fn origin_of(md: &Metadata, key: &str) -> String {
    let path: Vec<&str> = key.split('.').collect();
    match &md.source {
        Some(figment::Source::File(p)) => p.display().to_string(),
        _ => match md.interpolate(&Profile::Default, &path) {
            k if md.name == ENV_METADATA_NAME => format!("{ENV_METADATA_NAME} {k}"),
            _ => md.name.to_string(),
        },
    }
}

fn problem_from_figment(e: figment::Error) -> ConfigProblem {
    use figment::error::Kind;
    let mut key: Vec<String> = e.path.clone();
    let message = match &e.kind {
        Kind::UnknownField(field, expected) => {
            if key.last() != Some(field) {
                key.push(field.clone());
            }
            format!("unknown key; expected one of: {}", expected.join(", "))
        }
        Kind::InvalidValue(actual, expected) => {
            format!("invalid value: {actual}, expected {expected}")
        }
        Kind::InvalidType(actual, expected) => {
            let expected = match expected.as_str() {
                "usize" | "u64" | "u32" | "u16" => "a whole number such as 10",
                other => other,
            };
            format!("invalid type: found {actual}, expected {expected}")
        }
        other => other.to_string(),
    };
    let key = key.join(".");
    let origin = e.metadata.as_ref().map(|md| origin_of(md, &key));
    ConfigProblem {
        key,
        origin,
        message,
    }
}

const ENV_METADATA_NAME: &str = "environment variable";

/// A figment provider for `GOLDENPATH_<SECTION>__<KEY>` variables, over a given list
/// of variables (so tests need not touch the process environment).
struct EnvOverrides {
    entries: Vec<(Vec<String>, String)>,
}

impl EnvOverrides {
    fn new(vars: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut entries: Vec<(Vec<String>, String)> = vars
            .into_iter()
            .filter_map(|(name, value)| {
                let rest = name.strip_prefix(ENV_PREFIX)?;
                if !rest.contains(ENV_SEPARATOR) {
                    return None;
                }
                let mut key: Vec<String> = rest.split(ENV_SEPARATOR).map(str::to_owned).collect();
                if key.iter().any(String::is_empty) {
                    return None;
                }
                // `target.env.<NAME>` keeps the variable's case: it is an env var name.
                let keep_case_from = if key.len() > 2
                    && key[0].eq_ignore_ascii_case("target")
                    && key[1].eq_ignore_ascii_case("env")
                {
                    2
                } else {
                    key.len()
                };
                for part in key.iter_mut().take(keep_case_from) {
                    *part = part.to_ascii_lowercase();
                }
                Some((key, value))
            })
            .collect();
        entries.sort();
        EnvOverrides { entries }
    }
}

impl Provider for EnvOverrides {
    fn metadata(&self) -> Metadata {
        Metadata::named(ENV_METADATA_NAME).interpolater(|_: &Profile, k: &[&str]| {
            let mut parts: Vec<String> = k.iter().map(|p| p.to_string()).collect();
            let keep = if parts.len() > 2 && parts[0] == "target" && parts[1] == "env" {
                2
            } else {
                parts.len()
            };
            for p in parts.iter_mut().take(keep) {
                *p = p.to_ascii_uppercase();
            }
            format!("{ENV_PREFIX}{}", parts.join(ENV_SEPARATOR))
        })
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let mut dict = Dict::new();
        for (key, raw) in &self.entries {
            let trimmed = raw.trim();
            // Lists and tables use figment's TOML-like syntax; everything else stays a
            // string and is read leniently (numbers, booleans) by `extract_lossy`.
            let value: Value = if trimmed.starts_with('[') || trimmed.starts_with('{') {
                trimmed.parse().unwrap_or_else(|_| Value::from(raw.clone()))
            } else {
                Value::from(raw.clone())
            };
            let nested = figment::util::nest(&key.join("."), value)
                .into_dict()
                .unwrap_or_default();
            dict = merge_dicts(dict, nested);
        }
        Ok(Profile::Default.collect(dict))
    }
}

fn merge_dicts(mut a: Dict, b: Dict) -> Dict {
    for (k, v) in b {
        match (a.remove(&k), v) {
            (Some(Value::Dict(_, x)), Value::Dict(tag, y)) => {
                a.insert(k, Value::Dict(tag, merge_dicts(x, y)));
            }
            (_, v) => {
                a.insert(k, v);
            }
        }
    }
    a
}

/// Durations as humantime strings; the error names the expected form.
mod duration {
    use std::fmt;
    use std::time::Duration;

    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        humantime_serde::serialize(d, s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Duration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as \"2s\", \"500ms\" or \"1m 30s\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Duration, E> {
                humantime_serde::re::humantime::parse_duration(v.trim())
                    .map_err(|_| E::invalid_value(serde::de::Unexpected::Str(v), &self))
            }
        }
        d.deserialize_str(V)
    }
}

/// A list of strings, or one comma-separated string (handy in environment variables).
fn string_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => s
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        OneOrMany::Many(v) => v,
    })
}

/// A table of environment variables: values may be written as strings, numbers or booleans.
fn string_map<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Scalar {
        S(String),
        U(u64),
        I(i64),
        F(f64),
        B(bool),
    }
    let raw = BTreeMap::<String, Scalar>::deserialize(d)?;
    Ok(raw
        .into_iter()
        .map(|(k, v)| {
            let v = match v {
                Scalar::S(s) => s,
                Scalar::U(n) => n.to_string(),
                Scalar::I(n) => n.to_string(),
                Scalar::F(n) => n.to_string(),
                Scalar::B(b) => b.to_string(),
            };
            (k, v)
        })
        .collect())
}
