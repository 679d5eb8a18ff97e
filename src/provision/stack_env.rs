//! The stack's environment (contract §8), with the contract defaults kept in one place.
//!
//! `docker-compose.test.yml` repeats these defaults for people who run the stack by hand; a
//! test (`tests/stack_container.rs`) holds the file against [`StackEnv::contract_defaults`].

use std::collections::BTreeMap;

/// Admin account of the reference stack when none is configured (contract §10).
pub const DEFAULT_ADMIN_EMAIL: &str = "admin@example.com";
/// Admin password of the reference stack when none is configured (contract §10).
pub const DEFAULT_ADMIN_PASSWORD: &str = "admin-password";

/// Environment variables for one stack container, as a typed builder.
///
/// ```
/// use goldenpath::provision::StackEnv;
/// let env = StackEnv::contract_defaults().faults(["ws_path_500"]).agent_think_ms(5);
/// assert_eq!(env.get("FAULTS"), Some("ws_path_500"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackEnv {
    vars: BTreeMap<String, String>,
}

impl Default for StackEnv {
    fn default() -> Self {
        Self::contract_defaults()
    }
}

impl StackEnv {
    /// The defaults of the contract, identical to `docker-compose.test.yml`.
    pub fn contract_defaults() -> Self {
        let vars = [
            ("PORT", "8000"),
            ("DATA_DIR", "/data"),
            ("TOKEN_TTL_S", "3600"),
            ("ADMIN_EMAIL", DEFAULT_ADMIN_EMAIL),
            ("ADMIN_PASSWORD", DEFAULT_ADMIN_PASSWORD),
            ("ALLOWED_ORIGINS", "http://localhost:3000"),
            ("WEBSOCKET_MAX_CONNECTIONS_PER_IP", "10"),
            ("STATS_INTERVAL_MS", "5000"),
            ("AGENT_THINK_MS", "50"),
            ("AGENT_TOOL_MS", "20"),
            ("ACTIVITY_LOG", "/data/activity.jsonl"),
            ("FAULTS", ""),
        ];
        Self {
            vars: vars
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        }
    }

    /// An environment with nothing set (the image's own `PORT`/`DATA_DIR` still apply).
    pub fn empty() -> Self {
        Self {
            vars: BTreeMap::new(),
        }
    }

    /// Seeded faults (contract §9), joined with commas; empty means a correct stack.
    pub fn faults<S: AsRef<str>>(self, faults: impl IntoIterator<Item = S>) -> Self {
        let joined = faults
            .into_iter()
            .map(|f| f.as_ref().trim().to_owned())
            .filter(|f| !f.is_empty())
            .collect::<Vec<_>>()
            .join(",");
        self.var("FAULTS", joined)
    }

    /// `AGENT_THINK_MS`.
    pub fn agent_think_ms(self, ms: u64) -> Self {
        self.var("AGENT_THINK_MS", ms.to_string())
    }

    /// `AGENT_TOOL_MS`.
    pub fn agent_tool_ms(self, ms: u64) -> Self {
        self.var("AGENT_TOOL_MS", ms.to_string())
    }

    /// `STATS_INTERVAL_MS`.
    pub fn stats_interval_ms(self, ms: u64) -> Self {
        self.var("STATS_INTERVAL_MS", ms.to_string())
    }

    /// `TOKEN_TTL_S`.
    pub fn token_ttl_s(self, seconds: u64) -> Self {
        self.var("TOKEN_TTL_S", seconds.to_string())
    }

    /// `ALLOWED_ORIGINS`, joined with commas.
    pub fn allowed_origins<S: AsRef<str>>(self, origins: impl IntoIterator<Item = S>) -> Self {
        let joined = origins
            .into_iter()
            .map(|o| o.as_ref().to_owned())
            .collect::<Vec<_>>()
            .join(",");
        self.var("ALLOWED_ORIGINS", joined)
    }

    /// `WEBSOCKET_MAX_CONNECTIONS_PER_IP`.
    pub fn websocket_max_connections_per_ip(self, n: u32) -> Self {
        self.var("WEBSOCKET_MAX_CONNECTIONS_PER_IP", n.to_string())
    }

    /// `ADMIN_EMAIL` and `ADMIN_PASSWORD`.
    pub fn admin(self, email: impl Into<String>, password: impl Into<String>) -> Self {
        self.var("ADMIN_EMAIL", email)
            .var("ADMIN_PASSWORD", password)
    }

    /// `JWT_SECRET` (without it the stack keeps a random one in `DATA_DIR`).
    pub fn jwt_secret(self, secret: impl Into<String>) -> Self {
        self.var("JWT_SECRET", secret)
    }

    /// `WEBSOCKET_PATH`.
    pub fn websocket_path(self, path: impl Into<String>) -> Self {
        self.var("WEBSOCKET_PATH", path)
    }

    /// Any other variable.
    pub fn var(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.vars.insert(key.into(), value.into());
        self
    }

    /// Removes a variable (so the stack's own default applies).
    pub fn unset(mut self, key: &str) -> Self {
        self.vars.remove(key);
        self
    }

    /// The value of a variable, if set.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.vars.get(key).map(String::as_str)
    }

    /// The admin credentials this environment gives the stack.
    pub fn admin_credentials(&self) -> (&str, &str) {
        (
            self.get("ADMIN_EMAIL").unwrap_or(DEFAULT_ADMIN_EMAIL),
            self.get("ADMIN_PASSWORD").unwrap_or(DEFAULT_ADMIN_PASSWORD),
        )
    }

    /// All variables, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.vars.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_overrides_defaults() {
        let env = StackEnv::contract_defaults()
            .faults(["drop_event:agent_thinking", " slow_agent:100 "])
            .allowed_origins(["http://a", "http://b"])
            .admin("root@example.com", "pw")
            .unset("ACTIVITY_LOG");
        assert_eq!(
            env.get("FAULTS"),
            Some("drop_event:agent_thinking,slow_agent:100")
        );
        assert_eq!(env.get("ALLOWED_ORIGINS"), Some("http://a,http://b"));
        assert_eq!(env.admin_credentials(), ("root@example.com", "pw"));
        assert_eq!(env.get("ACTIVITY_LOG"), None);
        assert_eq!(env.get("PORT"), Some("8000"));
    }
}
