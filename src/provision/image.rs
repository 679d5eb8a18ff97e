//! The stack's image, built with no registry: the host's build of `agent-stack` copied into a
//! `FROM scratch` image by the engine's classic builder, tagged by its content.
//!
//! The reference binary is the workspace's own debug build (`cargo build -p agent-stack`),
//! the one `cargo test --workspace` makes anyway, so the image costs no second build of
//! every dependency. It is linked dynamically: its loader and the shared libraries `ldd`
//! lists are copied into the image at their paths. A static binary (`ImageSource::Binary`,
//! or `GOLDENPATH_STATIC_STACK=1` for a static release build of the reference) needs none.
//!
//! Invariants:
//! - The tag is `goldenpath/agent-stack:<first 12 hex of sha256(binary and libraries)>`, so an
//!   image with that tag holds exactly those files; a present tag is reused, never rebuilt.
//! - The classic builder tags only at the end of a successful build, so a failed or
//!   interrupted build never leaves a tag behind (at most untagged layers).
//! - A binary given as `ImageSource::Binary` must be static: it is refused before any build
//!   otherwise, since nothing would give it a loader.
//!
//! Why one long file: building the binary, finding its libraries, packaging and pruning
//! are one path from source to tag, and its ELF check and tests sit with it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use testcontainers::bollard::Docker;
use testcontainers::bollard::query_parameters::{
    BuildImageOptions, BuilderVersion, ListImagesOptions, RemoveImageOptions,
};
use tracing::{info, instrument};

use super::engine;
use super::error::{ProvisionError, Result};

/// Repository name of the reference images goldenpath builds.
pub const REFERENCE_REPOSITORY: &str = "goldenpath/agent-stack";
/// The port the stack listens on inside its container.
pub const CONTAINER_PORT: u16 = 8000;

/// The Dockerfile of the in-memory build context: the binary (and, for a dynamically
/// linked one, its loader and libraries) on an empty base.
pub const SCRATCH_DOCKERFILE: &str = r#"FROM scratch
COPY rootfs/ /
ENV PORT=8000 DATA_DIR=/data
VOLUME /data
EXPOSE 8000
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=3 CMD ["/agent-stack", "healthcheck"]
ENTRYPOINT ["/agent-stack"]
"#;

/// Which image runs the stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageSource {
    /// Build `agent-stack` from this workspace (static, `FROM scratch`), or reuse the image
    /// already built from the same binary.
    Reference,
    /// Package an existing static binary the same way as [`ImageSource::Reference`].
    Binary(PathBuf),
    /// An image the user names (`--image`); it must already be in the engine.
    Prebuilt(String),
}

/// An image present in the engine, ready to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackImage {
    /// Repository, e.g. `goldenpath/agent-stack`.
    pub name: String,
    /// Tag, e.g. `3f2a9c01b7de`.
    pub tag: String,
    /// Whether this call built it (false: it was already there).
    pub built: bool,
}

impl StackImage {
    /// `name:tag`.
    pub fn reference(&self) -> String {
        format!("{}:{}", self.name, self.tag)
    }
}

/// Makes sure the image for `source` is in the engine and returns it.
pub async fn ensure_image(source: &ImageSource) -> Result<StackImage> {
    match source {
        ImageSource::Reference => ensure_reference_image().await,
        ImageSource::Binary(path) => {
            let docker = engine::connect().await?;
            ensure_image_from_binary(&docker, path).await
        }
        ImageSource::Prebuilt(image) => ensure_prebuilt(image).await,
    }
}

/// Builds the reference stack (static) and its image, or reuses the image of the same binary.
#[instrument]
pub async fn ensure_reference_image() -> Result<StackImage> {
    // Fail fast on a missing engine, before a long cargo build.
    let docker = engine::connect().await?;
    if std::env::var_os("GOLDENPATH_STATIC_STACK").is_some() {
        let binary = build_static_reference_binary().await?;
        return ensure_image_from_binary(&docker, &binary).await;
    }
    let binary = build_reference_binary().await?;
    let bytes = read_file(&binary).await?;
    let libraries = shared_libraries(&binary, &bytes).await?;
    ensure_image_from_parts(&docker, bytes, &libraries).await
}

/// Checks that a user-named image exists locally (it cannot be pulled).
pub async fn ensure_prebuilt(image: &str) -> Result<StackImage> {
    let docker = engine::connect().await?;
    if !image_exists(&docker, image).await? {
        return Err(ProvisionError::ImageMissing {
            image: image.to_owned(),
        });
    }
    let (name, tag) = split_reference(image);
    Ok(StackImage {
        name: name.to_owned(),
        tag: tag.to_owned(),
        built: false,
    })
}

/// The workspace whose `stack` crate is built: `GOLDENPATH_WORKSPACE`, else this crate's root.
pub fn workspace_root() -> PathBuf {
    std::env::var_os("GOLDENPATH_WORKSPACE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

/// Runs `cargo build -p agent-stack --bin agent-stack` in the workspace, the debug build that
/// the harness's and the tests' builds share, and returns the binary's path (from cargo's
/// own report of it, so `CARGO_TARGET_DIR` is honoured).
#[instrument]
pub async fn build_reference_binary() -> Result<PathBuf> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let workspace = workspace_root();
    let args = [
        "build",
        "-p",
        "agent-stack",
        "--bin",
        "agent-stack",
        "--message-format=json-render-diagnostics",
    ];
    let command = format!("{cargo} {}", args.join(" "));
    info!(%command, "building the reference stack");
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| workspace.join("target"), PathBuf::from);
    if !target_dir.join("debug").join("agent-stack").exists() {
        // Minutes of silence look like a hang: say what is happening, once.
        eprintln!(
            "goldenpath: building the reference stack image, first time only: a minute or \
             two on 2 cores (`{command}`)"
        );
    }
    let started = Instant::now();
    let mut build = tokio::process::Command::new(&cargo);
    build.args(args);
    let output = run_cargo(build, &workspace, &command).await?;
    let executable = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "agent-stack")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from));
    info!(elapsed = ?started.elapsed(), "reference stack built");
    executable.ok_or_else(|| ProvisionError::CargoBuild {
        command,
        status: output.status.to_string(),
        stderr_tail: "cargo reported no agent-stack executable".into(),
    })
}

/// The shared libraries and the loader a dynamically linked binary needs, as `ldd` lists
/// them (absolute paths on this host); empty for a static binary (`bytes` is its content).
pub async fn shared_libraries(binary: &Path, bytes: &[u8]) -> Result<Vec<PathBuf>> {
    if check_static(bytes).is_ok() {
        return Ok(Vec::new());
    }
    let output = tokio::process::Command::new("ldd")
        .arg(binary)
        .output()
        .await
        .map_err(|source| ProvisionError::CargoSpawn {
            program: "ldd".into(),
            source,
        })?;
    let listing = String::from_utf8_lossy(&output.stdout);
    let mut libraries = Vec::new();
    for line in listing.lines() {
        // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x…)", "/lib64/ld-linux-x86-64.so.2 (0x…)",
        // "linux-vdso.so.1 (0x…)" (in the kernel: nothing to copy), "libx.so => not found".
        let line = line.trim();
        if line.contains("not found") {
            return Err(ProvisionError::NotStatic {
                binary: binary.to_owned(),
                detail: format!("a library it needs is not on this host: {line}"),
            });
        }
        let path = match line.split_once("=>") {
            Some((_, right)) => right.trim(),
            None => line,
        };
        let path = path.split_whitespace().next().unwrap_or_default();
        if path.starts_with('/') {
            libraries.push(PathBuf::from(path));
        }
    }
    if !output.status.success() || libraries.is_empty() {
        return Err(ProvisionError::NotStatic {
            binary: binary.to_owned(),
            detail: format!("ldd could not list its libraries: {}", listing.trim()),
        });
    }
    Ok(libraries)
}

/// Runs `cargo build --release -p agent-stack --target <host> --target-dir <ws>/target/image`
/// with `RUSTFLAGS=-C target-feature=+crt-static` and returns the binary's path.
#[instrument]
pub async fn build_static_reference_binary() -> Result<PathBuf> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let workspace = workspace_root();
    let triple = host_triple().await?;
    let target_dir = workspace.join("target").join("image");
    let args: Vec<String> = vec![
        "build".into(),
        "--release".into(),
        "-p".into(),
        "agent-stack".into(),
        "--target".into(),
        triple.clone(),
        "--target-dir".into(),
        target_dir.display().to_string(),
    ];
    let command = format!(
        "RUSTFLAGS='-C target-feature=+crt-static' {cargo} {}",
        args.join(" ")
    );
    info!(%command, "building the reference stack");
    let binary = target_dir.join(&triple).join("release").join("agent-stack");
    if !binary.exists() {
        // Minutes of silence look like a hang: say what is happening, once.
        eprintln!(
            "goldenpath: building the reference stack image, first time only: a few minutes \
             on 2 cores (`{command}`)"
        );
    }
    let started = Instant::now();
    let mut build = tokio::process::Command::new(&cargo);
    build
        .args(&args)
        .env("RUSTFLAGS", "-C target-feature=+crt-static");
    run_cargo(build, &workspace, &command).await?;
    info!(elapsed = ?started.elapsed(), "reference stack built");
    Ok(binary)
}

/// Runs a cargo build in `workspace`; `Err` with the tail of its stderr unless it succeeds.
async fn run_cargo(
    mut build: tokio::process::Command,
    workspace: &Path,
    command: &str,
) -> Result<std::process::Output> {
    let output = build
        .current_dir(workspace)
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .map_err(|source| ProvisionError::CargoSpawn {
            program: build.as_std().get_program().to_string_lossy().into_owned(),
            source,
        })?;
    if !output.status.success() {
        return Err(ProvisionError::CargoBuild {
            command: command.to_owned(),
            status: output.status.to_string(),
            stderr_tail: tail_lines(&String::from_utf8_lossy(&output.stderr), 40),
        });
    }
    Ok(output)
}

async fn host_triple() -> Result<String> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let output = tokio::process::Command::new(&rustc)
        .arg("-vV")
        .output()
        .await
        .map_err(|source| ProvisionError::CargoSpawn {
            program: rustc.clone(),
            source,
        })?;
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(|s| s.trim().to_owned())
        .ok_or_else(|| ProvisionError::CargoBuild {
            command: format!("{rustc} -vV"),
            status: output.status.to_string(),
            stderr_tail: "no `host:` line in the output".into(),
        })
}

/// Packages a static binary into `goldenpath/agent-stack:<sha12>`, reusing an existing image.
#[instrument(skip(docker))]
pub async fn ensure_image_from_binary(docker: &Docker, binary: &Path) -> Result<StackImage> {
    let bytes = read_file(binary).await?;
    check_static(&bytes).map_err(|detail| ProvisionError::NotStatic {
        binary: binary.to_owned(),
        detail,
    })?;
    ensure_image_from_parts(docker, bytes, &[]).await
}

/// Packages the binary `bytes` as `/agent-stack` and each of `libraries` at its own path
/// into a `FROM scratch` image tagged by their content, reusing an existing image.
pub async fn ensure_image_from_parts(
    docker: &Docker,
    bytes: Vec<u8>,
    libraries: &[PathBuf],
) -> Result<StackImage> {
    let mut files = Vec::with_capacity(libraries.len());
    let mut hasher = Sha256::new();
    hasher.update(&bytes);
    for library in libraries {
        let content = read_file(library).await?;
        hasher.update(library.to_string_lossy().as_bytes());
        hasher.update(&content);
        files.push((library.clone(), content));
    }
    let digest = hex(&hasher.finalize());
    let image = StackImage {
        name: REFERENCE_REPOSITORY.to_owned(),
        tag: digest[..12].to_owned(),
        built: false,
    };
    if image_exists(docker, &image.reference()).await? {
        info!(image = %image.reference(), "reusing the image of this binary");
        return Ok(image);
    }
    let started = Instant::now();
    let mut context = vec![ContextFile::file("rootfs/agent-stack", 0o755, bytes)];
    for (path, content) in files {
        context.push(ContextFile::file(
            &format!("rootfs{}", path.display()),
            0o755,
            content,
        ));
    }
    let labels = [
        ("goldenpath.binary-sha256", digest.as_str()),
        (
            "org.opencontainers.image.title",
            "agent-stack (goldenpath reference stack)",
        ),
    ];
    build_scratch_image(
        docker,
        &image.reference(),
        SCRATCH_DOCKERFILE,
        &context,
        &labels,
    )
    .await?;
    info!(image = %image.reference(), elapsed = ?started.elapsed(), "image built");
    // Each change to the stack makes a new image: keep a few, not all.
    if let Err(e) = prune_reference_images(docker, KEEP_REFERENCE_IMAGES).await {
        tracing::warn!("could not prune old reference images: {e}");
    }
    Ok(StackImage {
        built: true,
        ..image
    })
}

/// How many reference images (newest first) a build leaves in the engine.
pub const KEEP_REFERENCE_IMAGES: usize = 3;

/// Removes `goldenpath/agent-stack` images beyond the `keep` newest, and untagged leftovers of
/// reference builds. Images a container still uses are skipped. Returns how many went.
pub async fn prune_reference_images(docker: &Docker, keep: usize) -> Result<usize> {
    let list = |filters: Vec<(&str, String)>| {
        let mut map: HashMap<String, Vec<String>> = HashMap::new();
        for (k, v) in filters {
            map.entry(k.to_owned()).or_default().push(v);
        }
        docker.list_images(Some(ListImagesOptions {
            filters: Some(map),
            ..Default::default()
        }))
    };
    let mut tagged = list(vec![("reference", REFERENCE_REPOSITORY.to_owned())])
        .await
        .map_err(ProvisionError::engine("list images"))?;
    tagged.sort_by_key(|i| std::cmp::Reverse(i.created));
    let dangling = list(vec![
        ("dangling", "true".to_owned()),
        ("label", "goldenpath.binary-sha256".to_owned()),
    ])
    .await
    .map_err(ProvisionError::engine("list images"))?;
    let mut removed = 0;
    let old = tagged.iter().skip(keep).flat_map(|i| i.repo_tags.clone());
    let untagged = dangling.iter().map(|i| i.id.clone());
    for reference in old.chain(untagged) {
        // Not forced: an image in use by a container answers 409 and stays.
        if docker
            .remove_image(&reference, None::<RemoveImageOptions>, None)
            .await
            .is_ok()
        {
            removed += 1;
        }
    }
    Ok(removed)
}

/// Whether the engine has an image by that reference.
pub async fn image_exists(docker: &Docker, reference: &str) -> Result<bool> {
    match docker.inspect_image(reference).await {
        Ok(_) => Ok(true),
        Err(testcontainers::bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            ..
        }) => Ok(false),
        Err(source) => Err(ProvisionError::engine(format!("inspect image {reference}"))(source)),
    }
}

/// The engine's id of a local image (`sha256:…`), for the report: a tag can move, the id
/// names exactly what ran.
pub async fn image_id(reference: &str) -> Result<Option<String>> {
    let docker = engine::connect().await?;
    match docker.inspect_image(reference).await {
        Ok(inspect) => Ok(inspect.id),
        Err(testcontainers::bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            ..
        }) => Ok(None),
        Err(source) => Err(ProvisionError::engine(format!("inspect image {reference}"))(source)),
    }
}

/// One entry of an in-memory build context: a file, or a directory (`data` empty).
pub(crate) struct ContextFile {
    path: String,
    mode: u32,
    data: Vec<u8>,
    dir: bool,
}

impl ContextFile {
    pub(crate) fn file(path: &str, mode: u32, data: Vec<u8>) -> ContextFile {
        ContextFile {
            path: path.to_owned(),
            mode,
            data,
            dir: false,
        }
    }

    pub(crate) fn dir(path: &str, mode: u32) -> ContextFile {
        ContextFile {
            path: path.to_owned(),
            mode,
            data: Vec::new(),
            dir: true,
        }
    }
}

/// Builds `tag` from `dockerfile` and the `files` of an in-memory context with the
/// engine's classic builder (no registry: the Dockerfile must start `FROM scratch`).
pub(crate) async fn build_scratch_image(
    docker: &Docker,
    tag: &str,
    dockerfile: &str,
    files: &[ContextFile],
    labels: &[(&str, &str)],
) -> Result<()> {
    let context = build_context(dockerfile, files)
        .map_err(ProvisionError::io("cannot write the build context"))?;
    let options = BuildImageOptions {
        dockerfile: "Dockerfile".into(),
        t: Some(tag.to_owned()),
        rm: true,
        forcerm: true,
        labels: Some(
            labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<HashMap<_, _>>(),
        ),
        // The classic builder: BuildKit through the API hangs on some 20.10 engines.
        version: BuilderVersion::BuilderV1,
        ..Default::default()
    };
    let mut log = String::new();
    let mut stream = docker.build_image(
        options,
        None,
        Some(testcontainers::bollard::body_full(context.into())),
    );
    let deadline = Duration::from_secs(300);
    let outcome = tokio::time::timeout(deadline, async {
        while let Some(item) = stream.next().await {
            match item {
                Ok(info) => {
                    if let Some(s) = info.stream {
                        log.push_str(&s);
                    }
                    if let Some(s) = info.status {
                        log.push_str(&s);
                        log.push('\n');
                    }
                }
                Err(e) => return Err(e.to_string()),
            }
        }
        Ok(())
    })
    .await;
    let failure = match outcome {
        Ok(Ok(())) => None,
        Ok(Err(message)) => Some(message),
        Err(_) => Some(format!(
            "the engine did not finish the build within {deadline:?}"
        )),
    };
    if let Some(message) = failure {
        return Err(ProvisionError::ImageBuild {
            tag: tag.to_owned(),
            message,
            log_tail: tail_lines(&log, 20),
        });
    }
    if !image_exists(docker, tag).await? {
        return Err(ProvisionError::ImageBuild {
            tag: tag.to_owned(),
            message: "the build ended without an error, but the tag is not there".into(),
            log_tail: tail_lines(&log, 20),
        });
    }
    Ok(())
}

/// The in-memory tar build context: `Dockerfile` and `files`.
fn build_context(dockerfile: &str, files: &[ContextFile]) -> std::io::Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut add = |name: &str, mode: u32, data: &[u8], dir: bool| {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(mode);
        header.set_mtime(0);
        if dir {
            header.set_entry_type(tar::EntryType::Directory);
        }
        header.set_cksum();
        builder.append_data(&mut header, name, data)
    };
    add("Dockerfile", 0o644, dockerfile.as_bytes(), false)?;
    for f in files {
        add(&f.path, f.mode, &f.data, f.dir)?;
    }
    builder.into_inner()
}

/// Refuses an ELF executable that needs a program interpreter (the dynamic loader) or shared
/// libraries: neither exists in a `FROM scratch` image. Static-PIE binaries pass.
pub fn check_static(elf: &[u8]) -> std::result::Result<(), String> {
    let u16_at = |o: usize| elf.get(o..o + 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let u32_at = |o: usize| {
        elf.get(o..o + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let u64_at = |o: usize| {
        elf.get(o..o + 8)
            .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
    };
    if elf.get(..4) != Some(b"\x7fELF") {
        return Err("not an ELF file".into());
    }
    if elf.get(4) != Some(&2) || elf.get(5) != Some(&1) {
        return Err("not a 64-bit little-endian ELF file".into());
    }
    let bad = || "truncated ELF header".to_string();
    let phoff = u64_at(0x20).ok_or_else(bad)? as usize;
    let phentsize = u16_at(0x36).ok_or_else(bad)? as usize;
    let phnum = u16_at(0x38).ok_or_else(bad)? as usize;
    const PT_DYNAMIC: u32 = 2;
    const PT_INTERP: u32 = 3;
    const DT_NULL: u64 = 0;
    const DT_NEEDED: u64 = 1;
    for i in 0..phnum {
        let ph = phoff + i * phentsize;
        let p_type = u32_at(ph).ok_or_else(bad)?;
        if p_type == PT_INTERP {
            let off = u64_at(ph + 0x08).ok_or_else(bad)? as usize;
            let size = u64_at(ph + 0x20).ok_or_else(bad)? as usize;
            let interp = elf
                .get(off..off + size)
                .map(|b| String::from_utf8_lossy(b).trim_end_matches('\0').to_owned())
                .unwrap_or_default();
            return Err(format!(
                "it is dynamically linked, with program interpreter {interp}"
            ));
        }
        if p_type == PT_DYNAMIC {
            let off = u64_at(ph + 0x08).ok_or_else(bad)? as usize;
            let size = u64_at(ph + 0x20).ok_or_else(bad)? as usize;
            for entry in (off..off + size).step_by(16) {
                match u64_at(entry) {
                    Some(DT_NULL) | None => break,
                    Some(DT_NEEDED) => {
                        return Err("it needs shared libraries (DT_NEEDED entries)".into());
                    }
                    Some(_) => {}
                }
            }
        }
    }
    Ok(())
}

fn split_reference(image: &str) -> (&str, &str) {
    // A colon after the last slash separates the tag (a colon before it is a registry port).
    match image.rfind(':') {
        Some(i) if !image[i..].contains('/') => (&image[..i], &image[i + 1..]),
        _ => (image, "latest"),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn read_file(path: &Path) -> Result<Vec<u8>> {
    tokio::fs::read(path)
        .await
        .map_err(ProvisionError::io(format!(
            "cannot read {}",
            path.display()
        )))
}

pub(crate) fn tail_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_reference_handles_registry_ports_and_missing_tags() {
        assert_eq!(split_reference("a/b:1"), ("a/b", "1"));
        assert_eq!(split_reference("a/b"), ("a/b", "latest"));
        assert_eq!(
            split_reference("host:5000/a/b"),
            ("host:5000/a/b", "latest")
        );
        assert_eq!(split_reference("host:5000/a/b:x"), ("host:5000/a/b", "x"));
    }

    #[test]
    fn check_static_refuses_non_elf() {
        assert!(check_static(b"#!/bin/sh\n").is_err());
    }

    #[test]
    fn check_static_refuses_the_dynamically_linked_test_binary() {
        // This test binary is linked dynamically (no crt-static in test builds).
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let err = check_static(&me).unwrap_err();
        assert!(err.contains("dynamically linked"), "{err}");
    }
}
