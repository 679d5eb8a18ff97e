//! Typed configuration, read from the environment (contract §8 and §10).
//!
//! Every variable has a default, so an empty environment gives a working stack.
//! A value that is present but unusable is a [`ConfigError`]: the binary prints it
//! as one line and exits with status 2, instead of guessing.

use std::path::PathBuf;
use std::time::Duration;

use crate::dialect::Dialect;
use crate::faults::{Faults, FaultsError};

/// Everything the stack reads from its environment.
#[derive(Debug, Clone)]
pub struct Config {
    /// `PORT` (default 8000). `0` asks the OS for a free port.
    pub port: u16,
    /// `DATA_DIR` (default `/data`): database, generated JWT secret, markers.
    pub data_dir: PathBuf,
    /// `JWT_SECRET`; without it a random secret is generated and kept in `DATA_DIR`.
    pub jwt_secret: Option<String>,
    /// `TOKEN_TTL_S` (default 3600): lifetime of issued tokens.
    pub token_ttl: Duration,
    /// `ADMIN_EMAIL` (default `admin@example.com`).
    pub admin_email: String,
    /// `ADMIN_PASSWORD` (default `admin-password`).
    pub admin_password: String,
    /// `ALLOWED_ORIGINS`, comma-separated (default `http://localhost:3000`).
    pub allowed_origins: Vec<String>,
    /// `WEBSOCKET_MAX_CONNECTIONS_PER_IP` (default 10), dashboard only.
    pub ws_max_connections_per_ip: usize,
    /// `STATS_INTERVAL_MS` (default 5000).
    pub stats_interval: Duration,
    /// `AGENT_THINK_MS` (default 50).
    pub agent_think: Duration,
    /// `AGENT_TOOL_MS` (default 20).
    pub agent_tool: Duration,
    /// `ACTIVITY_LOG` (default `$DATA_DIR/activity.jsonl`, i.e. `/data/activity.jsonl`).
    pub activity_log: PathBuf,
    /// `FAULTS`: seeded faults, empty for a correct stack.
    pub faults: Faults,
    /// `WEBSOCKET_PATH` (default `/websocket`): the primary agent-events path.
    /// Not part of the contract: it lets goldenpath prove that retargeting by
    /// configuration works. `/ws` stays the legacy alias whatever this says.
    /// Ignored in dialect B, whose primary path is `/v2/events`.
    pub websocket_path: String,
    /// `DIALECT` (default `contract`; `b` for the second shape, see
    /// [`crate::dialect`]). Not part of the contract: it lets goldenpath prove
    /// that it handles a backend of another shape by configuration alone.
    pub dialect: Dialect,
    /// `PASSWORD_HASHING` (default `argon2id`; `fast-insecure` for load runs and
    /// tests). Not part of the contract: at the default cost one registration takes
    /// ~60 ms of CPU and 19 MiB, which caps sign-ups far below what a load run of
    /// thousands of virtual users needs.
    pub password_hashing: PasswordHashing,
}

/// Argon2 cost parameters. Stored hashes carry their own parameters, so a stack
/// restarted with another setting still verifies every existing password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordHashing {
    /// Argon2id with the crate's recommended parameters (19 MiB, 2 passes).
    Standard,
    /// Argon2id with minimal parameters; for tests and large load runs, never for
    /// real passwords.
    FastInsecure,
}

/// A present but unusable environment value.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A variable that could not be parsed.
    #[error("invalid {name} {value:?}: {expected}")]
    Invalid {
        /// Variable name.
        name: &'static str,
        /// The offending value.
        value: String,
        /// What would have been accepted.
        expected: &'static str,
    },
    /// `FAULTS` named something the stack does not know.
    #[error("invalid FAULTS: {0}")]
    Faults(#[from] FaultsError),
}

/// Paths that the websocket path may not take over.
const RESERVED_PATHS: &[&str] = &[
    "/ws",
    "/health",
    "/health/detailed",
    "/openapi.json",
    "/docs",
    "/admin/restart",
    "/api/v1/ws/dashboard",
];

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads configuration through `lookup` (the environment, or a map in tests).
    /// Empty values count as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let data_dir = PathBuf::from(get("DATA_DIR").unwrap_or_else(|| "/data".into()));
        let activity_log = get("ACTIVITY_LOG")
            .map(PathBuf::from)
            .unwrap_or_else(|| data_dir.join("activity.jsonl"));
        let allowed_origins = get("ALLOWED_ORIGINS")
            .unwrap_or_else(|| "http://localhost:3000".into())
            .split(',')
            .map(|o| o.trim().trim_end_matches('/').to_owned())
            .filter(|o| !o.is_empty())
            .collect();
        let websocket_path = get("WEBSOCKET_PATH").unwrap_or_else(|| "/websocket".into());
        validate_ws_path(&websocket_path)?;
        Ok(Self {
            port: parse_port(get("PORT"))?,
            data_dir,
            jwt_secret: get("JWT_SECRET"),
            token_ttl: Duration::from_secs(parse_num("TOKEN_TTL_S", get("TOKEN_TTL_S"), 3600, 1)?),
            admin_email: get("ADMIN_EMAIL")
                .unwrap_or_else(|| "admin@example.com".into())
                .trim()
                .to_lowercase(),
            admin_password: get("ADMIN_PASSWORD").unwrap_or_else(|| "admin-password".into()),
            allowed_origins,
            ws_max_connections_per_ip: parse_num(
                "WEBSOCKET_MAX_CONNECTIONS_PER_IP",
                get("WEBSOCKET_MAX_CONNECTIONS_PER_IP"),
                10,
                1,
            )? as usize,
            stats_interval: Duration::from_millis(parse_num(
                "STATS_INTERVAL_MS",
                get("STATS_INTERVAL_MS"),
                5000,
                1,
            )?),
            agent_think: Duration::from_millis(parse_num(
                "AGENT_THINK_MS",
                get("AGENT_THINK_MS"),
                50,
                0,
            )?),
            agent_tool: Duration::from_millis(parse_num(
                "AGENT_TOOL_MS",
                get("AGENT_TOOL_MS"),
                20,
                0,
            )?),
            activity_log,
            faults: get("FAULTS").as_deref().unwrap_or("").parse()?,
            websocket_path,
            dialect: parse_dialect(get("DIALECT"))?,
            password_hashing: parse_hashing(get("PASSWORD_HASHING"))?,
        })
    }

    /// Defaults suited to in-process tests: everything under `data_dir`, short
    /// delays, fast password hashing, port 0.
    pub fn for_tests(data_dir: impl Into<PathBuf>) -> Self {
        let data_dir = data_dir.into();
        Self {
            port: 0,
            activity_log: data_dir.join("activity.jsonl"),
            data_dir,
            jwt_secret: None,
            token_ttl: Duration::from_secs(3600),
            admin_email: "admin@example.com".into(),
            admin_password: "admin-password".into(),
            allowed_origins: vec!["http://localhost:3000".into()],
            ws_max_connections_per_ip: 10,
            stats_interval: Duration::from_millis(5000),
            agent_think: Duration::from_millis(5),
            agent_tool: Duration::from_millis(2),
            faults: Faults::default(),
            websocket_path: "/websocket".into(),
            dialect: Dialect::Contract,
            password_hashing: PasswordHashing::FastInsecure,
        }
    }
}

fn parse_port(value: Option<String>) -> Result<u16, ConfigError> {
    match value {
        None => Ok(8000),
        Some(v) => v.trim().parse::<u16>().map_err(|_| ConfigError::Invalid {
            name: "PORT",
            value: v,
            expected: "expected a port number 0-65535 (0 picks a free port)",
        }),
    }
}

fn parse_hashing(value: Option<String>) -> Result<PasswordHashing, ConfigError> {
    match value.as_deref().map(str::trim) {
        None | Some("argon2id") => Ok(PasswordHashing::Standard),
        Some("fast-insecure") => Ok(PasswordHashing::FastInsecure),
        Some(_) => Err(ConfigError::Invalid {
            name: "PASSWORD_HASHING",
            value: value.unwrap_or_default(),
            expected: "expected argon2id (the default) or fast-insecure",
        }),
    }
}

fn parse_dialect(value: Option<String>) -> Result<Dialect, ConfigError> {
    match value {
        None => Ok(Dialect::Contract),
        Some(v) => v.parse().map_err(|_| ConfigError::Invalid {
            name: "DIALECT",
            value: v,
            expected: "expected contract (the default) or b",
        }),
    }
}

fn parse_num(
    name: &'static str,
    value: Option<String>,
    default: u64,
    min: u64,
) -> Result<u64, ConfigError> {
    let Some(v) = value else { return Ok(default) };
    match v.trim().parse::<u64>() {
        Ok(n) if n >= min => Ok(n),
        _ => Err(ConfigError::Invalid {
            name,
            value: v,
            expected: if min == 0 {
                "expected a whole number, 0 or more"
            } else {
                "expected a whole number, 1 or more"
            },
        }),
    }
}

fn validate_ws_path(path: &str) -> Result<(), ConfigError> {
    let ok_chars = path
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/-_.~".contains(c));
    if path.starts_with('/')
        && path.len() > 1
        && ok_chars
        && !path.contains("//")
        && !path.ends_with('/')
        && !RESERVED_PATHS.contains(&path)
        && !path.starts_with("/api/")
    {
        Ok(())
    } else {
        Err(ConfigError::Invalid {
            name: "WEBSOCKET_PATH",
            value: path.to_owned(),
            expected: "expected an absolute path like /websocket (letters, digits, -_.~/), \
                       not /ws, not under /api/ and not another route",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_follow_the_contract() {
        let c = cfg(&[]).unwrap();
        assert_eq!(c.port, 8000);
        assert_eq!(c.data_dir, PathBuf::from("/data"));
        assert_eq!(c.activity_log, PathBuf::from("/data/activity.jsonl"));
        assert_eq!(c.token_ttl, Duration::from_secs(3600));
        assert_eq!(c.allowed_origins, vec!["http://localhost:3000"]);
        assert_eq!(c.ws_max_connections_per_ip, 10);
        assert_eq!(c.stats_interval, Duration::from_millis(5000));
        assert_eq!(c.agent_think, Duration::from_millis(50));
        assert_eq!(c.agent_tool, Duration::from_millis(20));
        assert_eq!(c.websocket_path, "/websocket");
        assert_eq!(c.admin_email, "admin@example.com");
        assert_eq!(c.password_hashing, PasswordHashing::Standard);
        assert_eq!(c.dialect, Dialect::Contract);
        assert!(c.faults.is_empty());
    }

    #[test]
    fn bad_values_are_one_line_errors() {
        let e = cfg(&[("PORT", "abc")]).unwrap_err().to_string();
        assert!(e.starts_with("invalid PORT \"abc\""), "{e}");
        assert!(!e.contains('\n'));
        assert!(cfg(&[("STATS_INTERVAL_MS", "-5")]).is_err());
        assert!(cfg(&[("STATS_INTERVAL_MS", "0")]).is_err());
        assert!(cfg(&[("AGENT_THINK_MS", "0")]).is_ok());
        assert!(cfg(&[("TOKEN_TTL_S", "1h")]).is_err());
        assert!(cfg(&[("FAULTS", "unknown_fault")]).is_err());
        assert!(cfg(&[("WEBSOCKET_PATH", "/ws")]).is_err());
        assert!(cfg(&[("WEBSOCKET_PATH", "events")]).is_err());
        assert!(cfg(&[("WEBSOCKET_PATH", "/a/{id}")]).is_err());
        let e = cfg(&[("PASSWORD_HASHING", "md5")]).unwrap_err().to_string();
        assert!(e.starts_with("invalid PASSWORD_HASHING \"md5\""), "{e}");
        assert_eq!(
            cfg(&[("PASSWORD_HASHING", "fast-insecure")])
                .unwrap()
                .password_hashing,
            PasswordHashing::FastInsecure
        );
        assert_eq!(
            cfg(&[("WEBSOCKET_PATH", "/agent-events")])
                .unwrap()
                .websocket_path,
            "/agent-events"
        );
    }

    #[test]
    fn dialect_is_contract_or_b() {
        assert_eq!(
            cfg(&[("DIALECT", "contract")]).unwrap().dialect,
            Dialect::Contract
        );
        assert_eq!(cfg(&[("DIALECT", "b")]).unwrap().dialect, Dialect::B);
        assert_eq!(cfg(&[("DIALECT", " B ")]).unwrap().dialect, Dialect::B);
        assert_eq!(cfg(&[("DIALECT", "")]).unwrap().dialect, Dialect::Contract);
        let e = cfg(&[("DIALECT", "v2")]).unwrap_err().to_string();
        assert_eq!(
            e,
            "invalid DIALECT \"v2\": expected contract (the default) or b"
        );
        assert_eq!(
            Config::for_tests("/tmp/x").dialect,
            Dialect::Contract,
            "tests default to the contract"
        );
    }

    #[test]
    fn origins_are_split_and_trimmed() {
        let c = cfg(&[("ALLOWED_ORIGINS", "http://a.test, https://b.test/ ,")]).unwrap();
        assert_eq!(c.allowed_origins, vec!["http://a.test", "https://b.test"]);
    }
}
