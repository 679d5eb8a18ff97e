//! goldenpath's own image, built with no registry (`goldenpath image`): the running
//! binary, its loader and shared libraries, a features directory and a configuration,
//! copied `FROM scratch` by the engine's classic builder, the way the reference stack's
//! image is. For the shards of a distributed load run (`deploy/kubernetes/`), or any
//! place that runs goldenpath as a container; users with a registry can build
//! `deploy/goldenpath.Dockerfile` instead. Both images have one contract:
//! `ENTRYPOINT goldenpath`, `/etc/goldenpath/{goldenpath.toml,features/}`, uid 10001,
//! working directory `/work` (writable, where `reports/` goes).

use std::path::{Path, PathBuf};

use super::engine;
use super::error::{ProvisionError, Result};
use super::image::{ContextFile, build_scratch_image, shared_libraries};

/// The tag `goldenpath image` gives by default (what `deploy/kubernetes/` runs).
pub const HARNESS_IMAGE: &str = "goldenpath:local";

/// The unprivileged user the image runs as (as the Jobs' `runAsUser`).
pub const HARNESS_UID: u32 = 10001;

const HARNESS_DOCKERFILE: &str = r#"FROM scratch
COPY rootfs/ /
COPY --chown=10001:10001 work/ /work/
USER 10001:10001
WORKDIR /work
ENTRYPOINT ["/usr/local/bin/goldenpath"]
"#;

/// What goes into the image besides the binary.
#[derive(Debug, Clone)]
pub struct HarnessImage {
    /// The tag, e.g. `goldenpath:local`.
    pub tag: String,
    /// The goldenpath executable to package (usually the running one).
    pub binary: PathBuf,
    /// Feature files or directories, copied to `/etc/goldenpath/features/`.
    pub features: Vec<PathBuf>,
    /// The configuration, copied to `/etc/goldenpath/goldenpath.toml` (an empty one
    /// without it: the contract's defaults).
    pub config: Option<PathBuf>,
}

/// Builds the image (always: it is cheap, and the tag is the user's to move).
pub async fn build_harness_image(spec: &HarnessImage) -> Result<String> {
    let docker = engine::connect().await?;
    let read = |path: &Path| {
        std::fs::read(path).map_err(ProvisionError::io(format!(
            "cannot read {}",
            path.display()
        )))
    };
    let binary = read(&spec.binary)?;
    let libraries = shared_libraries(&spec.binary, &binary).await?;
    let mut files = vec![
        ContextFile::dir("rootfs/tmp", 0o1777),
        ContextFile::dir("work", 0o755),
        ContextFile::file("rootfs/usr/local/bin/goldenpath", 0o755, binary),
    ];
    for library in &libraries {
        files.push(ContextFile::file(
            &format!("rootfs{}", library.display()),
            0o755,
            read(library)?,
        ));
    }
    let config = match &spec.config {
        Some(path) => read(path)?,
        None => b"# the contract's defaults\n".to_vec(),
    };
    files.push(ContextFile::file(
        "rootfs/etc/goldenpath/goldenpath.toml",
        0o644,
        config,
    ));
    let features = crate::session::preflight::feature_files(&spec.features)
        .map_err(|e| ProvisionError::ImageContent(e.to_string()))?;
    files.push(ContextFile::dir("rootfs/etc/goldenpath/features", 0o755));
    let mut names = std::collections::BTreeSet::new();
    for feature in &features {
        let name = feature
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !names.insert(name.clone()) {
            return Err(ProvisionError::ImageContent(format!(
                "two feature files are named {name}: the image holds them in one directory"
            )));
        }
        files.push(ContextFile::file(
            &format!("rootfs/etc/goldenpath/features/{name}"),
            0o644,
            read(feature)?,
        ));
    }
    let labels = [
        ("org.opencontainers.image.title", "goldenpath"),
        (
            "org.opencontainers.image.version",
            env!("CARGO_PKG_VERSION"),
        ),
    ];
    build_scratch_image(&docker, &spec.tag, HARNESS_DOCKERFILE, &files, &labels).await?;
    Ok(spec.tag.clone())
}
