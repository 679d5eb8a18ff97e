//! Health and boot ids (contract §7).

use cucumber::{then, when};

use crate::acceptance::world::GoldenWorld;
use crate::client::Health;

async fn ask(w: &mut GoldenWorld) -> Health {
    w.client()
        .health()
        .await
        .unwrap_or_else(|e| panic!("asking the backend's health failed: {e}"))
}

#[when("the health endpoint is asked")]
async fn asked(w: &mut GoldenWorld) {
    let health = ask(w).await;
    w.document = Some(serde_json::json!({
        "status": health.status, "version": health.version, "boot_id": health.boot_id,
        "started_at": health.started_at, "uptime_s": health.uptime_s,
    }));
    w.boot_ids.push(health.boot_id);
}

#[when("the health endpoint is asked again")]
async fn asked_again(w: &mut GoldenWorld) {
    asked(w).await;
}

#[then(expr = "the backend reports {string} with a version, a boot id, a start time and an uptime")]
async fn reports_healthy(w: &mut GoldenWorld, status: String) {
    let doc = w.document.clone().expect("the health endpoint was asked");
    assert_eq!(
        doc["status"].as_str(),
        Some(status.as_str()),
        "health status is {}",
        doc["status"]
    );
    for key in ["version", "boot_id", "started_at"] {
        assert!(
            doc[key].as_str().is_some_and(|v| !v.is_empty()),
            "health has no {key}: {doc}"
        );
    }
    assert!(
        doc["uptime_s"].is_number(),
        "health uptime_s is not a number: {doc}"
    );
}

#[when("the detailed health endpoint is asked")]
async fn detailed(w: &mut GoldenWorld) {
    let health = w
        .client()
        .health_detailed()
        .await
        .unwrap_or_else(|e| panic!("asking the detailed health failed: {e}"));
    w.document =
        Some(serde_json::json!({ "http_status": health.http_status, "services": health.services }));
}

#[then(expr = "the database is reported {string}")]
async fn database_reported(w: &mut GoldenWorld, expected: String) {
    let doc = w.document.clone().expect("the detailed health was asked");
    assert_eq!(
        doc["http_status"], 200,
        "detailed health answered {}",
        doc["http_status"]
    );
    assert_eq!(
        doc["services"]["database"].as_str(),
        Some(expected.as_str()),
        "services: {}",
        doc["services"]
    );
}

#[then("the boot id is the same both times")]
async fn same_boot(w: &mut GoldenWorld) {
    assert!(
        w.boot_ids.len() >= 2,
        "health was asked {} times",
        w.boot_ids.len()
    );
    assert!(
        w.boot_ids.windows(2).all(|p| p[0] == p[1]),
        "the boot id changed without a restart: {:?}",
        w.boot_ids
    );
}
