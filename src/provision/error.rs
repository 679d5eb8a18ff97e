//! What can go wrong while provisioning, in words a person can act on.

use std::path::PathBuf;
use std::time::Duration;

/// Errors from building the stack image and running its container.
///
/// Callers branch on the kind (for example, to print a setup hint for
/// [`ProvisionError::EngineUnreachable`]); the `Display` text says what to do.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    /// No Docker engine answered.
    #[error(
        "cannot reach the Docker engine at {host}: {source}\n\
         hint: is dockerd running, and may this user use its socket? \
         Set DOCKER_HOST (e.g. unix:///var/run/docker.sock or tcp://host:2375) to point elsewhere"
    )]
    EngineUnreachable {
        /// Where the engine was expected: `DOCKER_HOST`, or the default socket.
        host: String,
        /// The engine client's error.
        #[source]
        source: testcontainers::bollard::errors::Error,
    },

    /// The engine answered, but an API call failed.
    #[error("the Docker engine refused to {action}: {source}")]
    Engine {
        /// What goldenpath asked the engine to do, e.g. `create network <name>`.
        action: String,
        /// The engine's error.
        #[source]
        source: testcontainers::bollard::errors::Error,
    },

    /// testcontainers failed to create, start or stop the container.
    #[error("testcontainers failed to {action}: {source}")]
    Container {
        /// What goldenpath asked testcontainers to do, e.g. `stop <container>`.
        action: String,
        /// The testcontainers error.
        #[source]
        source: testcontainers::TestcontainersError,
    },

    /// `cargo` could not be started at all.
    #[error(
        "cannot run `{program}` to build the reference stack: {source}\nhint: set CARGO to the cargo binary"
    )]
    CargoSpawn {
        /// The cargo binary tried (`$CARGO`, else `cargo`).
        program: String,
        /// Why it could not be started.
        #[source]
        source: std::io::Error,
    },

    /// `cargo build` of the reference stack failed.
    #[error(
        "building the reference stack failed ({status}): `{command}`\n--- last lines of cargo's output ---\n{stderr_tail}"
    )]
    CargoBuild {
        /// The command that failed, as one line.
        command: String,
        /// Its exit status, as the OS describes it.
        status: String,
        /// The last 40 lines of its standard error (or what was missing from its output).
        stderr_tail: String,
    },

    /// The stack binary would not start in a `FROM scratch` image.
    #[error(
        "{} is not a static executable ({detail}); it cannot run in a FROM scratch image.\n\
         hint: build it with RUSTFLAGS='-C target-feature=+crt-static' and an explicit --target",
        binary.display()
    )]
    NotStatic {
        /// Path of the binary that was checked.
        binary: PathBuf,
        /// Why it is not static (e.g. it names a dynamic loader).
        detail: String,
    },

    /// The engine's image build failed.
    #[error(
        "building image {tag} failed: {message}\n--- last lines of the build log ---\n{log_tail}"
    )]
    ImageBuild {
        /// The tag being built (`goldenpath/agent-stack:<sha12>`).
        tag: String,
        /// The engine's error message.
        message: String,
        /// The last 20 lines of the build log.
        log_tail: String,
    },

    /// A prebuilt image that is not in the engine (nothing can be pulled here).
    #[error(
        "image {image} is not present in the local Docker engine, and goldenpath never pulls images.\n\
         hint: build or load it first (`docker build -t {image} .` or `docker load`), or omit --image to build the reference stack"
    )]
    ImageMissing {
        /// The image reference as given (`--image`).
        image: String,
    },

    /// The stack did not answer `GET /health` with 200 in time.
    #[error(
        "the stack in container {container} was not healthy within {waited:?} (last observation: {last})\n\
         --- last lines of the container log ---\n{logs_tail}"
    )]
    NotHealthy {
        /// Name of the container.
        container: String,
        /// How long goldenpath polled (zero for a single check).
        waited: Duration,
        /// What the last `GET /health` saw, in words.
        last: String,
        /// The last 30 lines of the container's log.
        logs_tail: String,
    },

    /// The stack never came back with a new `boot_id`.
    #[error(
        "the stack in container {container} did not come back with a new boot_id within {waited:?} \
         (old boot_id {old_boot_id}; last observation: {last})\n\
         --- last lines of the container log ---\n{logs_tail}"
    )]
    NoNewBoot {
        /// Name of the container.
        container: String,
        /// The `boot_id` before the restart.
        old_boot_id: String,
        /// How long goldenpath polled.
        waited: Duration,
        /// What the last `GET /health` saw, in words.
        last: String,
        /// The last 30 lines of the container's log.
        logs_tail: String,
    },

    /// A signal arrived: no new stack is started while the run shuts down.
    #[error("interrupted: no new stack is started while goldenpath shuts down")]
    Interrupted,

    /// What `goldenpath image` was given cannot go into the image (no feature files,
    /// two with one name).
    #[error("goldenpath image: {0}")]
    ImageContent(String),
    /// Local file trouble (reading the binary, etc.).
    #[error("{what}: {source}")]
    Io {
        /// What failed, in words, e.g. `cannot read <path>`.
        what: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

impl ProvisionError {
    pub(crate) fn engine(
        action: impl Into<String>,
    ) -> impl FnOnce(testcontainers::bollard::errors::Error) -> Self {
        let action = action.into();
        move |source| ProvisionError::Engine { action, source }
    }

    pub(crate) fn container(
        action: impl Into<String>,
    ) -> impl FnOnce(testcontainers::TestcontainersError) -> Self {
        let action = action.into();
        move |source| ProvisionError::Container { action, source }
    }

    pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let what = what.into();
        move |source| ProvisionError::Io { what, source }
    }
}

/// Result alias for this module.
pub type Result<T, E = ProvisionError> = std::result::Result<T, E>;
