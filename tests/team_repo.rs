//! A team's repository using goldenpath as a library: `examples/team-repo/`, a crate
//! outside this workspace with goldenpath as a path dev-dependency, one feature and one
//! step of its own. This test builds and runs that crate's `cargo test` against the
//! reference image, as the team's CI would, and checks what it leaves: the exit code,
//! the verdict, the reports, and the preflight of the team's own steps.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn team_repo() -> PathBuf {
    root().join("examples/team-repo")
}

/// `cargo test --test golden [-- args]` in the team's crate, against `image`.
fn team_cargo_test(image: &str, args: &[&str]) -> Output {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut command = Command::new(cargo);
    command
        .current_dir(team_repo())
        .args(["test", "--locked", "--test", "golden", "--"])
        .args(args)
        // Our target directory: the dependencies both builds resolve alike are built once.
        .env("CARGO_TARGET_DIR", root().join("target"))
        .env("GOLDENPATH_TARGET__IMAGE", image)
        .env_remove("GOLDENPATH_TARGET__BASE_URL");
    command.output().expect("cargo runs")
}

fn streams(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The run directory the team's run wrote (the newest in its reports/).
fn newest_run(reports: &Path) -> PathBuf {
    std::fs::read_dir(reports)
        .expect("the team's reports directory exists")
        .filter_map(Result::ok)
        .filter(|e| e.path().join("summary.json").is_file())
        .max_by_key(|e| e.metadata().and_then(|m| m.modified()).ok())
        .expect("a run directory with a summary")
        .path()
}

#[tokio::test]
async fn a_team_repository_runs_its_own_step_and_goldenpaths_features_from_its_cargo_test() {
    let image = goldenpath::provision::ensure_reference_image()
        .await
        .expect("the reference image builds");
    let reports = team_repo().join("reports");
    let _ = std::fs::remove_dir_all(&reports);

    // The whole path: goldenpath's health feature and the team's feature, its own step.
    let out = team_cargo_test(&image.reference(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", streams(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("verdict: Pass"), "{}", streams(&out));
    let run_dir = newest_run(&reports);
    for file in ["report.html", "summary.md", "junit.xml", "cucumber.json"] {
        assert!(
            run_dir.join(file).is_file(),
            "{file} in {}",
            run_dir.display()
        );
    }
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("summary.json")).unwrap())
            .unwrap();
    assert!(
        summary["environment"]["image_id"]
            .as_str()
            .is_some_and(|id| id.starts_with("sha256:")),
        "the report names the image that ran by its id: {}",
        summary["environment"]
    );
    let scenarios: Vec<(String, String)> = summary["features"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| f["scenarios"].as_array().unwrap().clone())
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_owned(),
                s["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        scenarios.contains(&(
            "The agent titles a new thread with the start of the question".into(),
            "passed".into()
        )),
        "the team's scenario passed: {scenarios:?}"
    );
    assert!(
        scenarios.iter().any(
            |(name, status)| name == "The backend reports that it is healthy" && status == "passed"
        ),
        "goldenpath's standard feature ran too: {scenarios:?}"
    );
    assert_eq!(summary["environment"]["image"], image.reference());

    // The team's step fails for the right reason: a title the stack does not give.
    let dir = tempfile::tempdir().unwrap();
    let wrong = dir.path().join("wrong_title.feature");
    std::fs::write(
        &wrong,
        "Feature: A title the stack does not give\n  Scenario: Wrong title\n    \
         Given a new user \"Eve\" has registered and logged in\n    \
         When \"Eve\" asks the agent \"Hello there\"\n    \
         Then \"Eve\"'s newest thread is titled \"Goodbye\"\n",
    )
    .unwrap();
    let out = team_cargo_test(&image.reference(), &[wrong.to_str().unwrap()]);
    assert!(
        !out.status.success(),
        "cargo test reports the failed run: {}",
        streams(&out)
    );
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(newest_run(&reports).join("summary.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(summary["verdict"], "FAIL", "{}", streams(&out));
    let failure = summary.to_string();
    assert!(
        failure.contains("Goodbye") && failure.contains("Hello there"),
        "the failure names the expected and the actual title: {failure}"
    );

    // A typo in a step of the team's own is caught before anything starts, with the
    // closest of the team's steps.
    let typo = dir.path().join("typo.feature");
    std::fs::write(
        &typo,
        "Feature: A typo\n  Scenario: Typo\n    Then \"Eve\"'s newest thred is titled \"Hello\"\n",
    )
    .unwrap();
    let out = team_cargo_test(&image.reference(), &[typo.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("typo.feature:3") && stderr.contains("newest thread is titled"),
        "the unknown step is named with the team's closest step: {}",
        streams(&out)
    );
    assert!(!stderr.contains("panicked"), "{}", streams(&out));
}
