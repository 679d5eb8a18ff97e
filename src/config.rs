//! `goldenpath.toml`: the stack's [`Contract`] plus the harness's own settings (the
//! target, load profiles and thresholds, the compare tolerance).
//!
//! [`Config`] is read from a TOML file (`goldenpath.toml` in the working directory when
//! present, or the file given with `--config`), then overridden by environment
//! variables named `GOLDENPATH_<SECTION>__<KEY>`, e.g.
//! `GOLDENPATH_PATHS__AGENT_EVENTS=/events` or `GOLDENPATH_TIMEOUTS__EVENTS=10s`.
//! The file keeps one flat list of sections; in code the contract's sections are
//! [`Config::contract`] (what the client takes) and the rest are settings.
//!
//! Unknown keys and bad values are errors that name the key, where it came from (the
//! file or the variable) and the expected form. Adding a section is one field on
//! `ConfigFile` (and on [`Contract`] or [`Config`]) plus its struct with
//! `#[serde(default, deny_unknown_fields)]`.

use std::fmt;
use std::path::{Path, PathBuf};

use figment::providers::{Format, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use serde::{Deserialize, Serialize};

use crate::contract::{
    Admin, Contract, DashboardFields, Events, Fields, Limits, Paths, Timeouts, Values, WebSocket,
};
use crate::session::Target;

/// The configuration file read from the working directory when no `--config` is given.
pub const DEFAULT_FILE: &str = "goldenpath.toml";
/// Prefix of the environment variables that override the file (`GOLDENPATH_PATHS__LOGIN`).
pub const ENV_PREFIX: &str = "GOLDENPATH_";
/// Separator between section and key in those variables.
pub const ENV_SEPARATOR: &str = "__";

/// The whole `goldenpath.toml`: the stack's contract and the harness's settings. Every
/// field defaults to the contract's value or the harness's default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(from = "ConfigFile", into = "ConfigFile")]
pub struct Config {
    /// How the stack under test spells its API (`[paths]`, `[events]`, `[fields]`, ...).
    pub contract: Contract,
    /// What to test: a running stack, an image, seeded faults.
    pub target: Target,
    /// How much worse than a baseline a run may be before `goldenpath compare` calls it
    /// a regression.
    pub compare: crate::report::Tolerance,
    /// Load profiles and thresholds (`goldenpath load`).
    pub load: crate::load::LoadConfig,
}

/// The file's layout: one flat list of sections, as users write it.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct ConfigFile {
    paths: Paths,
    events: Events,
    websocket: WebSocket,
    fields: Fields,
    dashboard_fields: DashboardFields,
    limits: Limits,
    timeouts: Timeouts,
    admin: Admin,
    values: Values,
    target: Target,
    compare: crate::report::Tolerance,
    load: crate::load::LoadConfig,
}

impl From<ConfigFile> for Config {
    fn from(f: ConfigFile) -> Self {
        Config {
            contract: Contract {
                paths: f.paths,
                events: f.events,
                websocket: f.websocket,
                fields: f.fields,
                dashboard_fields: f.dashboard_fields,
                limits: f.limits,
                timeouts: f.timeouts,
                admin: f.admin,
                values: f.values,
            },
            target: f.target,
            compare: f.compare,
            load: f.load,
        }
    }
}

impl From<Config> for ConfigFile {
    fn from(c: Config) -> Self {
        let Contract {
            paths,
            events,
            websocket,
            fields,
            dashboard_fields,
            limits,
            timeouts,
            admin,
            values,
        } = c.contract;
        ConfigFile {
            paths,
            events,
            websocket,
            fields,
            dashboard_fields,
            limits,
            timeouts,
            admin,
            values,
            target: c.target,
            compare: c.compare,
            load: c.load,
        }
    }
}

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The configuration file does not exist or cannot be read.
    #[error("cannot read configuration file {}: {source}", path.display())]
    Read {
        /// The file asked for, or `goldenpath.toml` of the working directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file or the environment holds values goldenpath cannot use; every problem is listed.
    #[error("invalid configuration: {}", ProblemList(problems))]
    Invalid {
        /// Each bad value, with its key and where it came from.
        problems: Vec<ConfigProblem>,
    },
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

    /// Checks that deserialisation cannot express: the contract's own rules
    /// ([`Contract::check`]) and a usable base URL. Returns `(key, message)`.
    fn check(&self) -> Vec<(String, String)> {
        let mut bad = self.contract.check();
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
