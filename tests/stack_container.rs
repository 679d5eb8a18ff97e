//! Smoke tests of stack provisioning against the real Docker engine: the reference image built
//! without a registry, started with testcontainers on its own network under `unless-stopped`,
//! restarted by `/admin/restart` and by the engine, and removed without leftovers.
//!
//! Also holds `docker-compose.test.yml` against `StackEnv::contract_defaults()`.
//!
//! Run: `cargo test --test stack_container` (the first run builds the static stack: minutes).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use goldenpath::provision::{
    self, ImageSource, ManagedStack, ProvisionError, SCRATCH_DOCKERFILE, StackEnv, StackImage,
    StackOptions, ensure_image, ensure_reference_image, new_run_id, run_inventory,
};
use serde_json::{Value, json};
use tokio::sync::OnceCell;

/// One reference image per test process (tests run in parallel).
static IMAGE: OnceCell<StackImage> = OnceCell::const_new();

async fn reference_image() -> Result<StackImage> {
    let image = IMAGE
        .get_or_try_init(|| async {
            let started = Instant::now();
            let image = ensure_reference_image().await?;
            eprintln!(
                "[stack_container] reference image {} ready in {:.1?} (built now: {})",
                image.reference(),
                started.elapsed(),
                image.built
            );
            Ok::<_, ProvisionError>(image)
        })
        .await?;
    Ok(image.clone())
}

/// Starts a stack for one test, with its own run id.
async fn start_stack(env: StackEnv) -> Result<ManagedStack> {
    let image = reference_image().await?;
    let options = StackOptions {
        env,
        run_id: new_run_id(),
        ready_timeout: Duration::from_secs(60),
        ..Default::default()
    };
    let started = Instant::now();
    let stack = ManagedStack::start(&image, options).await?;
    eprintln!(
        "[stack_container] {} healthy {:.1?} after start",
        stack.container_name(),
        started.elapsed()
    );
    Ok(stack)
}

/// Shuts the stack down and proves nothing with its run label (nor its volume) is left.
async fn shutdown_and_check(stack: ManagedStack) -> Result<()> {
    let run_id = stack.run_id().to_owned();
    let volume = stack.data_volume().map(str::to_owned);
    let network = stack.network_name().to_owned();
    stack.shutdown().await?;
    let left = run_inventory(&run_id).await?;
    ensure!(
        left.containers == 0 && left.networks == 0,
        "run {run_id} left {left:?}"
    );
    let docker = provision::connect_engine().await?;
    ensure!(
        docker.inspect_network(&network, None).await.is_err(),
        "network {network} is still there"
    );
    if let Some(volume) = volume {
        ensure!(
            docker.inspect_volume(&volume).await.is_err(),
            "data volume {volume} is still there"
        );
    }
    Ok(())
}

/// A user with one thread holding one message, on a running stack.
struct Seeded {
    token: String,
    thread_id: String,
    content: String,
}

async fn post_json(
    http: &reqwest::Client,
    url: String,
    token: Option<&str>,
    body: Value,
) -> Result<(reqwest::StatusCode, Value)> {
    let mut request = http.post(&url).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request
        .send()
        .await
        .with_context(|| format!("POST {url}"))?;
    let status = response.status();
    let text = response.text().await?;
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Ok((status, value))
}

async fn login(http: &reqwest::Client, base: &str, email: &str, password: &str) -> Result<String> {
    let (status, body) = post_json(
        http,
        format!("{base}/api/auth/login"),
        None,
        json!({"email": email, "password": password}),
    )
    .await?;
    ensure!(status == 200, "login as {email}: {status} {body}");
    Ok(body["access_token"]
        .as_str()
        .context("login: no access_token")?
        .to_owned())
}

async fn seed(http: &reqwest::Client, base: &str) -> Result<Seeded> {
    let email = format!("smoke-{}@example.com", uuid::Uuid::new_v4().simple());
    let password = "correct-horse-battery";
    let (status, body) = post_json(
        http,
        format!("{base}/api/auth/register"),
        None,
        json!({"email": email, "password": password, "display_name": "Smoke Test"}),
    )
    .await?;
    ensure!(status == 201, "register: {status} {body}");
    let token = login(http, base, &email, password).await?;
    let (status, body) = post_json(
        http,
        format!("{base}/api/threads"),
        Some(&token),
        json!({"title": "smoke"}),
    )
    .await?;
    ensure!(status == 201, "create thread: {status} {body}");
    let thread_id = body["thread_id"]
        .as_str()
        .context("no thread_id")?
        .to_owned();
    let content = format!("survives restarts {}", uuid::Uuid::new_v4());
    let (status, body) = post_json(
        http,
        format!("{base}/api/threads/{thread_id}/messages"),
        Some(&token),
        json!({"content": content}),
    )
    .await?;
    ensure!(status == 201, "post message: {status} {body}");
    Ok(Seeded {
        token,
        thread_id,
        content,
    })
}

async fn assert_message_present(http: &reqwest::Client, base: &str, seeded: &Seeded) -> Result<()> {
    let url = format!("{base}/api/threads/{}/messages", seeded.thread_id);
    let response = http.get(&url).bearer_auth(&seeded.token).send().await?;
    let status = response.status();
    let body: Value = response.json().await?;
    ensure!(status == 200, "GET {url}: {status} {body}");
    let found = body["messages"]
        .as_array()
        .context("no messages array")?
        .iter()
        .any(|m| m["content"] == seeded.content.as_str());
    ensure!(found, "the message is gone after the restart: {body}");
    Ok(())
}

/// Runs a test body, and on failure appends the container's log tail before cleaning up.
async fn with_stack(
    env: StackEnv,
    body: impl AsyncFnOnce(&ManagedStack) -> Result<()>,
) -> Result<()> {
    let stack = start_stack(env).await?;
    let outcome = body(&stack).await;
    if let Err(e) = outcome {
        let logs = stack.logs_tail(40).await.unwrap_or_default();
        let _ = stack.shutdown().await;
        bail!("{e:#}\n--- container log tail ---\n{logs}");
    }
    shutdown_and_check(stack).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_restart_is_survived_with_a_new_boot_and_the_same_data() -> Result<()> {
    with_stack(StackEnv::contract_defaults(), async |stack| {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()?;
        let base = stack.base_url().await?;
        let health: Value = http
            .get(format!("{base}/health"))
            .send()
            .await?
            .json()
            .await?;
        ensure!(health["status"] == "healthy", "{health}");
        let seeded = seed(&http, &base).await?;

        let old_boot = stack.boot_id().await?;
        let (email, password) = stack.env().admin_credentials();
        let admin = login(&http, &base, email, password).await?;
        let started = Instant::now();
        let (status, body) = post_json(
            &http,
            format!("{base}/admin/restart"),
            Some(&admin),
            json!({}),
        )
        .await?;
        ensure!(status == 200, "/admin/restart: {status} {body}");
        ensure!(
            body["status"] == "restarting",
            "/admin/restart body: {body}"
        );

        // The engine's restart policy brings it back; the port is looked up again.
        let new_base = stack
            .wait_for_new_boot(&old_boot, Duration::from_secs(60))
            .await?;
        eprintln!(
            "[stack_container] /admin/restart → new boot in {:.1?} ({base} → {new_base})",
            started.elapsed()
        );
        ensure!(stack.is_running().await?, "the container is not running");
        assert_message_present(&http, &new_base, &seeded).await
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_stop_and_start_keeps_data_and_changes_boot_id() -> Result<()> {
    with_stack(StackEnv::contract_defaults(), async |stack| {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()?;
        let base = stack.base_url().await?;
        let seeded = seed(&http, &base).await?;
        let old_boot = stack.boot_id().await?;

        let started = Instant::now();
        let new_base = stack.restart_by_engine().await?;
        eprintln!(
            "[stack_container] engine stop/start → new boot in {:.1?} ({base} → {new_base})",
            started.elapsed()
        );
        ensure!(stack.boot_id().await? != old_boot, "boot_id did not change");
        assert_message_present(&http, &new_base, &seeded).await
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn container_runs_on_its_own_network_with_the_restart_policy_and_labels() -> Result<()> {
    with_stack(
        StackEnv::contract_defaults().faults(["slow_agent:5"]),
        async |stack| {
            let docker = provision::connect_engine().await?;
            let info = docker.inspect_container(stack.container_id(), None).await?;
            let host = info.host_config.context("no host config")?;
            let policy = host.restart_policy.context("no restart policy")?;
            ensure!(
                policy.name.map(|n| n.to_string()) == Some("unless-stopped".into()),
                "restart policy {policy:?}"
            );
            let config = info.config.context("no config")?;
            let labels = config.labels.unwrap_or_default();
            ensure!(labels.get(provision::RUN_LABEL).map(String::as_str) == Some(stack.run_id()));
            let env = config.env.unwrap_or_default();
            ensure!(
                env.iter().any(|e| e == "FAULTS=slow_agent:5"),
                "env {env:?}"
            );
            let networks = info
                .network_settings
                .and_then(|n| n.networks)
                .unwrap_or_default();
            ensure!(
                networks.contains_key(stack.network_name()),
                "networks {:?}",
                networks.keys()
            );
            let net = docker.inspect_network(stack.network_name(), None).await?;
            ensure!(
                net.labels
                    .unwrap_or_default()
                    .get(provision::RUN_LABEL)
                    .map(String::as_str)
                    == Some(stack.run_id())
            );
            ensure!(stack.data_volume().is_some(), "no volume on /data");
            Ok(())
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reference_image_is_reused_not_rebuilt() -> Result<()> {
    let first = reference_image().await?;
    let started = Instant::now();
    let second = ensure_reference_image().await?;
    eprintln!(
        "[stack_container] second ensure_reference_image took {:.1?}",
        started.elapsed()
    );
    ensure!(!second.built, "the second call rebuilt the image");
    ensure!(second.reference() == first.reference());
    ensure!(
        second.tag.len() == 12 && second.tag.chars().all(|c| c.is_ascii_hexdigit()),
        "tag {:?} is not 12 hex digits",
        second.tag
    );
    // The image holds exactly what the scratch Dockerfile says.
    let docker = provision::connect_engine().await?;
    let inspect = docker.inspect_image(&second.reference()).await?;
    let config = inspect.config.context("no image config")?;
    ensure!(config.entrypoint == Some(vec!["/agent-stack".to_owned()]));
    let env = config.env.unwrap_or_default();
    ensure!(env.contains(&"PORT=8000".to_owned()) && env.contains(&"DATA_DIR=/data".to_owned()));
    ensure!(
        config
            .volumes
            .unwrap_or_default()
            .iter()
            .any(|v| v == "/data")
    );
    let health = config.healthcheck.context("no healthcheck")?;
    ensure!(
        health.test
            == Some(vec![
                "CMD".to_owned(),
                "/agent-stack".to_owned(),
                "healthcheck".to_owned()
            ])
    );
    Ok(())
}

#[tokio::test]
async fn a_missing_prebuilt_image_is_a_clear_error_not_a_pull() -> Result<()> {
    let name = format!(
        "goldenpath/does-not-exist:{}",
        uuid::Uuid::new_v4().simple()
    );
    match ensure_image(&ImageSource::Prebuilt(name.clone())).await {
        Err(e @ ProvisionError::ImageMissing { .. }) => {
            let text = e.to_string();
            ensure!(
                text.contains(&name) && text.contains("never pulls"),
                "{text}"
            );
            Ok(())
        }
        other => bail!("expected ImageMissing, got {other:?}"),
    }
}

#[tokio::test]
async fn a_dynamically_linked_binary_is_refused_before_any_build() -> Result<()> {
    // The test binary itself is dynamically linked.
    let me = std::env::current_exe()?;
    match ensure_image(&ImageSource::Binary(me)).await {
        Err(e @ ProvisionError::NotStatic { .. }) => {
            ensure!(e.to_string().contains("crt-static"), "{e}");
            Ok(())
        }
        other => bail!("expected NotStatic, got {other:?}"),
    }
}

#[tokio::test]
async fn sweep_orphans_removes_what_a_dead_process_left_and_spares_the_living() -> Result<()> {
    use testcontainers::bollard::models::NetworkCreateRequest;
    let docker = provision::connect_engine().await?;
    // A pid that surely ended: a child we waited for.
    let mut child = std::process::Command::new("true").spawn()?;
    let dead_pid = child.id();
    child.wait()?;
    let run = new_run_id();
    let label = |pid: u32| {
        std::collections::HashMap::from([
            (provision::RUN_LABEL.to_owned(), run.clone()),
            (provision::PID_LABEL.to_owned(), pid.to_string()),
            (provision::HOST_LABEL.to_owned(), provision::host_name()),
        ])
    };
    let dead = format!("goldenpath-net-sweep-dead-{}", &run[run.len() - 8..]);
    let alive = format!("goldenpath-net-sweep-alive-{}", &run[run.len() - 8..]);
    for (name, pid) in [(&dead, dead_pid), (&alive, std::process::id())] {
        docker
            .create_network(NetworkCreateRequest {
                name: name.clone(),
                labels: Some(label(pid)),
                ..Default::default()
            })
            .await?;
    }
    let report = provision::sweep_orphans().await?;
    let dead_gone = docker.inspect_network(&dead, None).await.is_err();
    let alive_kept = docker.inspect_network(&alive, None).await.is_ok();
    provision::sweep_leftovers(&run).await?;
    ensure!(
        dead_gone,
        "the dead process's network survived the sweep ({report:?})"
    );
    ensure!(alive_kept, "the sweep removed a live process's network");
    ensure!(run_inventory(&run).await? == provision::RunInventory::default());
    Ok(())
}

/// Starts a stack and waits forever: for checking by hand that Ctrl-C leaves nothing.
///
/// `cargo test --test stack_container -- --ignored hold_stack_until_signal --nocapture`,
/// then SIGINT the test process and look at `docker ps -a`, `docker network ls`,
/// `docker volume ls`.
#[tokio::test]
#[ignore = "manual: waits for a signal"]
async fn hold_stack_until_signal() -> Result<()> {
    let options = StackOptions {
        run_id: new_run_id(),
        ..Default::default()
    };
    let stack = ManagedStack::start(&reference_image().await?, options).await?;
    eprintln!(
        "[stack_container] HOLDING pid={} run={} container={} network={} volume={:?}",
        std::process::id(),
        stack.run_id(),
        stack.container_name(),
        stack.network_name(),
        stack.data_volume()
    );
    std::future::pending::<()>().await;
    drop(stack);
    Ok(())
}

// ---- docker-compose.test.yml held against the Rust side ----

fn compose_backend() -> Result<serde_yaml_ng::Value> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docker-compose.test.yml");
    let text = std::fs::read_to_string(&path).with_context(|| format!("{}", path.display()))?;
    let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text)?;
    Ok(doc["services"]["backend"].clone())
}

fn yaml_scalar(v: &serde_yaml_ng::Value) -> String {
    match v {
        serde_yaml_ng::Value::String(s) => s.clone(),
        serde_yaml_ng::Value::Number(n) => n.to_string(),
        serde_yaml_ng::Value::Bool(b) => b.to_string(),
        serde_yaml_ng::Value::Null => String::new(),
        other => format!("{other:?}"),
    }
}

#[test]
fn compose_environment_is_the_contract_defaults() -> Result<()> {
    let backend = compose_backend()?;
    let env = &backend["environment"];
    let compose: BTreeMap<String, String> = match env {
        serde_yaml_ng::Value::Mapping(map) => map
            .iter()
            .map(|(k, v)| (yaml_scalar(k), yaml_scalar(v)))
            .collect(),
        serde_yaml_ng::Value::Sequence(items) => items
            .iter()
            .map(|item| {
                let s = yaml_scalar(item);
                let (k, v) = s.split_once('=').unwrap_or((&s, ""));
                (k.to_owned(), v.to_owned())
            })
            .collect(),
        other => bail!("services.backend.environment is {other:?}"),
    };
    let rust: BTreeMap<String, String> = StackEnv::contract_defaults()
        .iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    assert_eq!(
        compose, rust,
        "docker-compose.test.yml environment differs from StackEnv::contract_defaults()"
    );
    Ok(())
}

#[test]
fn compose_has_the_restart_policy_volume_port_and_healthcheck() -> Result<()> {
    let backend = compose_backend()?;
    assert_eq!(yaml_scalar(&backend["restart"]), "unless-stopped");
    assert_eq!(backend["init"], serde_yaml_ng::Value::Bool(true));
    let volumes: Vec<String> = backend["volumes"]
        .as_sequence()
        .context("services.backend.volumes")?
        .iter()
        .map(yaml_scalar)
        .collect();
    let named = volumes
        .iter()
        .find_map(|v| v.strip_suffix(":/data"))
        .context("no volume on /data")?;
    let doc_volumes = {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docker-compose.test.yml");
        let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&std::fs::read_to_string(path)?)?;
        doc["volumes"].clone()
    };
    assert!(
        doc_volumes.get(named).is_some(),
        "/data is not a named volume declared under volumes: ({named})"
    );
    let ports: Vec<String> = backend["ports"]
        .as_sequence()
        .context("ports")?
        .iter()
        .map(yaml_scalar)
        .collect();
    assert_eq!(ports, vec![format!("8000:{}", provision::CONTAINER_PORT)]);
    let test: Vec<String> = backend["healthcheck"]["test"]
        .as_sequence()
        .context("healthcheck.test")?
        .iter()
        .map(yaml_scalar)
        .collect();
    assert_eq!(test, ["CMD", "/agent-stack", "healthcheck"]);
    // The in-code scratch image carries the same healthcheck and the same data directory.
    assert!(SCRATCH_DOCKERFILE.contains(r#"CMD ["/agent-stack", "healthcheck"]"#));
    assert!(SCRATCH_DOCKERFILE.contains("VOLUME /data"));
    assert!(SCRATCH_DOCKERFILE.contains("ENV PORT=8000 DATA_DIR=/data"));
    assert_eq!(
        yaml_scalar(&backend["build"]["dockerfile"]),
        "Dockerfile",
        "compose builds the root Dockerfile"
    );
    assert!(
        !yaml_scalar(&backend["image"]).is_empty(),
        "compose names its image"
    );
    Ok(())
}
