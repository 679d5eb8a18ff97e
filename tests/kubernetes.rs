//! `deploy/kubernetes/` held against what the shards read: the kustomize base rendered
//! with `kubectl kustomize` (no cluster), then its Jobs' very command lines and
//! environment run here as processes against the reference stack (in-process), with
//! the pods' paths mapped to temporary directories and only the profile made small.
//!
//! Fails when the manifest and goldenpath drift apart: an Indexed Job whose completions,
//! parallelism and shard count disagree, an argument goldenpath does not take, a
//! variable it does not read, a feature copy that differs from `features/`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use goldenpath::load::shard;
use goldenpath::summary::{RunSummary, Verdict};
use serde_yaml_ng::Value;

mod common;

const BIN: &str = env!("CARGO_BIN_EXE_goldenpath");

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every document `kubectl kustomize deploy/kubernetes` renders.
fn rendered() -> Vec<Value> {
    let out = Command::new("kubectl")
        .arg("kustomize")
        .arg(root().join("deploy/kubernetes"))
        .output()
        .unwrap_or_else(|e| {
            panic!("kubectl is needed to render deploy/kubernetes ({e}); .ci/run installs Debian's kubernetes-client")
        });
    assert!(
        out.status.success(),
        "kubectl kustomize failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|d| serde::Deserialize::deserialize(d).expect("rendered YAML parses"))
        .collect()
}

fn named<'a>(docs: &'a [Value], kind: &str, name_prefix: &str) -> &'a Value {
    docs.iter()
        .find(|d| {
            d["kind"].as_str() == Some(kind)
                && d["metadata"]["name"]
                    .as_str()
                    .is_some_and(|n| n.starts_with(name_prefix))
        })
        .unwrap_or_else(|| panic!("no {kind} {name_prefix}* in the rendered manifest"))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_sequence()
        .map(|s| {
            s.iter()
                .filter_map(|a| a.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn data(config_map: &Value) -> BTreeMap<String, String> {
    serde_yaml_ng::from_value(config_map["data"].clone()).expect("a ConfigMap's data")
}

fn container(job: &Value) -> &Value {
    &job["spec"]["template"]["spec"]["containers"][0]
}

/// The container's `env` entries with plain values.
fn env_values(c: &Value) -> BTreeMap<String, String> {
    c["env"]
        .as_sequence()
        .into_iter()
        .flatten()
        .filter_map(|e| {
            Some((
                e["name"].as_str()?.to_owned(),
                e["value"].as_str()?.to_owned(),
            ))
        })
        .collect()
}

fn config_maps_from(c: &Value) -> Vec<String> {
    c["envFrom"]
        .as_sequence()
        .into_iter()
        .flatten()
        .filter_map(|e| e["configMapRef"]["name"].as_str().map(str::to_owned))
        .collect()
}

/// The pod's paths, as this test lays them out.
struct Pod {
    etc: PathBuf,
    results: PathBuf,
}

impl Pod {
    fn map(&self, arg: &str, run_id: &str) -> String {
        arg.replace("$(GOLDENPATH_RUN_ID)", run_id)
            .replace("/etc/goldenpath", &self.etc.to_string_lossy())
            .replace("/results", &self.results.to_string_lossy())
    }
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn the_indexed_job_gives_every_shard_what_it_reads() {
    let docs = rendered();
    let shards = named(&docs, "Job", "goldenpath-shards");
    let spec = &shards["spec"];
    assert_eq!(
        spec["completionMode"].as_str(),
        Some("Indexed"),
        "only an Indexed Job sets {}",
        shard::INDEX_ENV
    );
    assert_eq!(
        shard::INDEX_ENV,
        "JOB_COMPLETION_INDEX",
        "the variable Kubernetes sets"
    );
    let completions = spec["completions"].as_u64().expect("completions");
    assert_eq!(
        spec["parallelism"].as_u64(),
        Some(completions),
        "every shard at once"
    );
    let c = container(shards);
    let env = env_values(c);
    assert_eq!(
        env.get(shard::SHARDS_ENV).map(String::as_str),
        Some(completions.to_string().as_str()),
        "{} = completions",
        shard::SHARDS_ENV
    );
    let from = config_maps_from(c);
    assert!(
        from.iter().any(|n| n == "goldenpath-run"),
        "the per-run ConfigMap: {from:?}"
    );
    let target = named(&docs, "ConfigMap", "goldenpath-target");
    let target_name = target["metadata"]["name"].as_str().unwrap();
    assert!(
        from.iter().any(|n| n == target_name),
        "the generated name is referenced: {from:?}"
    );
    assert!(data(target).contains_key("GOLDENPATH_TARGET__BASE_URL"));
    let readme = std::fs::read_to_string(root().join("deploy/kubernetes/README.md")).unwrap();
    assert!(
        readme.contains(shard::RUN_ID_ENV) && readme.contains(shard::START_AT_ENV),
        "the README says how the per-run ConfigMap gives {} and {}",
        shard::RUN_ID_ENV,
        shard::START_AT_ENV
    );

    // The generated ConfigMaps hold the repository's feature and a valid configuration.
    let features = data(named(&docs, "ConfigMap", "goldenpath-features"));
    for (name, content) in &features {
        let original = std::fs::read_to_string(root().join("features").join(name))
            .unwrap_or_else(|e| panic!("{name} is a copy of features/{name}: {e}"));
        assert_eq!(
            content, &original,
            "deploy/kubernetes/features/{name} differs from features/{name}"
        );
    }
    let config = data(named(&docs, "ConfigMap", "goldenpath-config"));

    // Run the Job's own command line and environment, one process per index, against
    // the reference stack, then the merge Job's.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let stack = runtime.block_on(common::stack(""));
    let dir = tempfile::tempdir().unwrap();
    let pod = Pod {
        etc: dir.path().join("etc"),
        results: dir.path().join("results"),
    };
    std::fs::create_dir_all(pod.etc.join("features")).unwrap();
    std::fs::create_dir_all(&pod.results).unwrap();
    std::fs::write(pod.etc.join("goldenpath.toml"), &config["goldenpath.toml"]).unwrap();
    for (name, content) in &features {
        std::fs::write(pod.etc.join("features").join(name), content).unwrap();
    }
    let at = chrono::Utc::now() + chrono::Duration::seconds(3);
    let run_id = format!("{}-k8s", at.format("%Y%m%dT%H%M%SZ"));
    let args: Vec<String> = strings(&c["args"])
        .iter()
        .map(|a| pod.map(a, &run_id))
        .collect();
    let children: Vec<_> = (0..completions)
        .map(|index| {
            Command::new(BIN)
                .args(&args)
                .envs(&env)
                .env(shard::INDEX_ENV, index.to_string())
                .env(shard::RUN_ID_ENV, &run_id)
                .env("GOLDENPATH_TARGET__BASE_URL", &stack.url)
                // Only the size of the run changes: 8 users for 4 seconds, a restart.
                .env("GOLDENPATH_LOAD__PROFILES__NIGHTLY__USERS", "8")
                .env("GOLDENPATH_LOAD__PROFILES__NIGHTLY__RAMP_UP", "1s")
                .env("GOLDENPATH_LOAD__PROFILES__NIGHTLY__DURATION", "4s")
                .env("GOLDENPATH_LOAD__PROFILES__NIGHTLY__RESTART_AT", "2s")
                .env("GOLDENPATH_LOAD__PROFILES__NIGHTLY__WORKERS", "1")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("a shard starts")
        })
        .collect();
    let outputs: Vec<Output> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    for (i, o) in outputs.iter().enumerate() {
        assert_eq!(o.status.code(), Some(0), "shard {i}: {}", text(o));
    }
    for i in 0..completions {
        let dir = pod.results.join(&run_id).join(format!("shard-{i}"));
        assert!(
            dir.join("summary.json").is_file(),
            "shard {i} wrote {}",
            dir.display()
        );
    }

    let merge = named(&docs, "Job", "goldenpath-merge");
    let m = container(merge);
    assert!(
        config_maps_from(m).iter().any(|n| n == "goldenpath-run"),
        "$(GOLDENPATH_RUN_ID) in the merge's args comes from goldenpath-run"
    );
    let merge_args: Vec<String> = strings(&m["args"])
        .iter()
        .map(|a| pod.map(a, &run_id))
        .collect();
    let merged = Command::new(BIN)
        .args(&merge_args)
        .output()
        .expect("the merge runs");
    assert!(
        matches!(merged.status.code(), Some(0 | 1)),
        "the merge judged the run: {}",
        text(&merged)
    );
    let out = pod.results.join(&run_id).join("merged");
    let summary: RunSummary =
        goldenpath::report::read_summary(&out.join("summary.json")).expect("merged summary.json");
    let l = summary.load.as_ref().unwrap();
    assert_ne!(
        summary.verdict,
        Verdict::Incomplete,
        "{:?}",
        summary.reasons
    );
    assert_eq!(l.shards.len() as u64, completions);
    assert_eq!(l.users, 8, "the shards' users add up to the profile's");
    assert!(l.restart.is_some(), "one restart window, shard 0's");
    for i in 1..completions {
        let s = goldenpath::report::read_summary(
            &pod.results
                .join(&run_id)
                .join(format!("shard-{i}/summary.json")),
        )
        .unwrap();
        assert!(
            s.load.unwrap().restart.is_none(),
            "shard {i} does not restart the backend"
        );
    }
    drop(stack);
}
