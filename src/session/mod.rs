//! What both modes share about one run and its stack, beneath them both: which stack
//! is tested ([`Target`], [`TargetChoice`]), checking the features before anything
//! starts (`preflight`: [`check_features`]), starting or reaching the stack ([`start`], [`RunContext`],
//! [`StackFactory`]), following it across restarts ([`StackTarget`]) and restarting it
//! as an administrator ([`AdminRestart`]).
//!
//! The acceptance run (`crate::acceptance`) and the load run (`crate::load`) both
//! build on this module; neither reaches into the other.

mod context;
pub(crate) mod preflight;
mod target;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize};

pub use context::{RunContext, StackFactory, stack_env};
pub use preflight::{PreflightError, UnknownStep, check as check_features};
pub use target::{AdminRestart, StackTarget, TargetError};

use crate::client::{ClientError, RawRequest, StackClient};
use crate::contract::Contract;
use crate::provision::{self, ImageSource, ProvisionError};
use crate::summary::Environment;

/// `[target]` of `goldenpath.toml`: the stack under test and how goldenpath starts it.
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

impl Target {
    /// Which stack this setting names: a running one (`base_url`), an image, or the
    /// reference stack built from this workspace.
    pub fn choice(&self) -> TargetChoice {
        match (&self.base_url, &self.image) {
            (Some(url), _) => TargetChoice::BaseUrl(url.clone()),
            (None, Some(image)) => TargetChoice::Image(image.clone()),
            (None, None) => TargetChoice::Reference,
        }
    }
}

/// Which stack a run targets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetChoice {
    /// Build the reference stack's image from this workspace and start it.
    Reference,
    /// Start this locally available image.
    Image(String),
    /// Talk to a stack that is already running.
    BaseUrl(String),
}

/// Why a run's stack could not be started or reached.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Building or starting the container failed (no engine, no image, not healthy).
    #[error(transparent)]
    Provision(#[from] ProvisionError),
    /// The started stack could not be bound.
    #[error(transparent)]
    Target(#[from] TargetError),
    /// A running stack did not answer at all.
    #[error("cannot reach the stack at {url}: {detail}")]
    Unreachable {
        /// The base URL tried.
        url: String,
        /// What the connection attempt said.
        detail: String,
    },
}

/// What a run records about who ran it, for the report's environment table.
#[derive(Debug, Clone, Default)]
pub struct Provenance {
    /// The command line (or test name) that started the run.
    pub command_line: String,
    /// The directory whose git commit the report names: the caller's repository.
    pub repository: Option<PathBuf>,
    /// The whole configuration as TOML, shown in the report.
    pub config_toml: String,
}

/// Make a run's stacks ready: check that a running one is reachable, or build (or find)
/// the image and start the shared stack. Both modes start here.
pub async fn start(
    contract: &Contract,
    target: &Target,
    provenance: &Provenance,
    run_id: &str,
    run_dir: &Path,
) -> Result<(Arc<RunContext>, Environment), StartError> {
    let contract = Arc::new(contract.clone());
    let choice = target.choice();
    let mut environment = environment(&choice, &target.faults, provenance);
    let (shared, factory) = match &choice {
        TargetChoice::BaseUrl(url) => {
            check_reachable(url, &contract).await?;
            (StackTarget::external(url), None)
        }
        choice => {
            let source = match choice {
                TargetChoice::Image(image) => ImageSource::Prebuilt(image.clone()),
                _ => ImageSource::Reference,
            };
            let image = provision::ensure_image(&source).await?;
            environment.image = Some(image.reference());
            environment.image_id = provision::image_id(&image.reference())
                .await
                .unwrap_or_default();
            let factory = StackFactory::new(image, &contract, target, run_id);
            let shared = factory.start().await?;
            (shared, Some(factory))
        }
    };
    environment.base_url = Some(shared.base_url());
    let client = StackClient::new(&shared.base_url(), contract.clone()).map_err(|e| {
        StartError::Unreachable {
            url: shared.base_url(),
            detail: e.to_string(),
        }
    })?;
    let context = Arc::new(RunContext {
        client,
        contract,
        jwt_secret_of_target: target.env.get("JWT_SECRET").cloned(),
        shared,
        factory,
        run_dir: run_dir.to_owned(),
    });
    Ok((context, environment))
}

/// Any HTTP answer from the health path will do: a stack that answers 500 is
/// reachable, and the features say what is wrong with it.
async fn check_reachable(url: &str, contract: &Arc<Contract>) -> Result<(), StartError> {
    let unreachable = |e: ClientError| StartError::Unreachable {
        url: url.to_owned(),
        detail: match e {
            ClientError::Unreachable { reason, .. } => reason,
            other => other.to_string(),
        },
    };
    let client = StackClient::new(url, contract.clone()).map_err(unreachable)?;
    client
        .send(RawRequest::get(contract.paths.health.as_str()))
        .await
        .map(drop)
        .map_err(unreachable)
}

fn environment(choice: &TargetChoice, faults: &[String], provenance: &Provenance) -> Environment {
    Environment {
        goldenpath_version: env!("CARGO_PKG_VERSION").to_owned(),
        git_commit: provenance.repository.as_deref().and_then(git_commit),
        target_kind: match choice {
            TargetChoice::BaseUrl(_) => "base_url",
            _ => "image",
        }
        .to_owned(),
        image: match choice {
            TargetChoice::Image(i) => Some(i.clone()),
            _ => None,
        },
        image_id: None,
        base_url: None,
        faults: faults.to_vec(),
        hostname: hostname(),
        os: format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        config_toml: provenance.config_toml.clone(),
        command_line: provenance.command_line.clone(),
    }
}

/// The commit checked out in `repository`, when it is a git checkout.
pub fn git_commit(repository: &Path) -> Option<String> {
    let out = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(repository)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// This machine's host name, as the report shows it (the one the stacks' labels carry).
pub fn hostname() -> String {
    crate::provision::host_name()
}
