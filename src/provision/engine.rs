//! The connection to the Docker engine, and the labels goldenpath puts on what it creates.

use testcontainers::bollard::Docker;

use super::error::{ProvisionError, Result};

/// Label put on every container, network and image build goldenpath creates; the value is the run id.
pub const RUN_LABEL: &str = "goldenpath.run";
/// Label holding the process id of the goldenpath process that created the resource.
pub const PID_LABEL: &str = "goldenpath.pid";
/// Label holding the host name of the machine that process ran on (pids only mean something there).
pub const HOST_LABEL: &str = "goldenpath.host";

/// This machine's host name, as put in [`HOST_LABEL`].
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Where the engine is expected, for messages: `DOCKER_HOST` or the default socket.
pub fn docker_host() -> String {
    std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".to_owned())
}

/// Connects to the engine named by `DOCKER_HOST` (default: the local socket), agrees on an API
/// version both sides speak (this machine's engine is 20.10, API 1.41), and pings it.
pub async fn connect() -> Result<Docker> {
    let host = docker_host();
    let unreachable = |source| ProvisionError::EngineUnreachable {
        host: host.clone(),
        source,
    };
    let docker = Docker::connect_with_defaults().map_err(unreachable)?;
    let docker = docker.negotiate_version().await.map_err(unreachable)?;
    docker.ping().await.map_err(unreachable)?;
    Ok(docker)
}

/// The host on which published container ports are reached.
///
/// `TESTCONTAINERS_HOST_OVERRIDE` wins; a `tcp://`/`http(s)://` `DOCKER_HOST` gives its host;
/// a local socket gives `127.0.0.1`.
pub fn published_host() -> String {
    if let Ok(host) = std::env::var("TESTCONTAINERS_HOST_OVERRIDE")
        && !host.trim().is_empty()
    {
        return host.trim().to_owned();
    }
    let docker_host = docker_host();
    for scheme in ["tcp://", "http://", "https://"] {
        if let Some(rest) = docker_host.strip_prefix(scheme) {
            let authority = rest.split('/').next().unwrap_or(rest);
            let host = match authority.rsplit_once(':') {
                Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
                _ => authority,
            };
            if !host.is_empty() && host != "localhost" {
                return host.to_owned();
            }
        }
    }
    "127.0.0.1".to_owned()
}
