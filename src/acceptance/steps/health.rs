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
    w.health_answers.push(health);
}

#[when("the health endpoint is asked again")]
async fn asked_again(w: &mut GoldenWorld) {
    asked(w).await;
}

#[then(expr = "the backend reports {string} with a version, a boot id, a start time and an uptime")]
async fn reports_healthy(w: &mut GoldenWorld, status: String) {
    let health = w
        .health_answers
        .last()
        .expect("the health endpoint was asked");
    assert_eq!(
        health.status, status,
        "health status is {:?}",
        health.status
    );
    for (key, value) in [
        ("version", health.version.as_deref()),
        ("boot_id", Some(health.boot_id.as_str())),
        ("started_at", health.started_at.as_deref()),
    ] {
        assert!(
            value.is_some_and(|v| !v.is_empty()),
            "health has no {key}: {health:?}"
        );
    }
    assert!(
        health.uptime_s.is_some(),
        "health uptime_s is missing or not a number: {health:?}"
    );
}

#[when("the detailed health endpoint is asked")]
async fn detailed(w: &mut GoldenWorld) {
    let health = w
        .client()
        .health_detailed()
        .await
        .unwrap_or_else(|e| panic!("asking the detailed health failed: {e}"));
    w.fetched.health_detailed = Some(health);
}

#[then(expr = "the database is reported {string}")]
async fn database_reported(w: &mut GoldenWorld, expected: String) {
    let health = w
        .fetched
        .health_detailed
        .as_ref()
        .expect("the detailed health was asked");
    assert_eq!(
        health.http_status, 200,
        "detailed health answered {}",
        health.http_status
    );
    let database = health.services.get("database");
    assert_eq!(
        database.and_then(serde_json::Value::as_str),
        Some(expected.as_str()),
        "services: {:?}",
        health.services
    );
}

#[then("the boot id is the same both times")]
async fn same_boot(w: &mut GoldenWorld) {
    let boot_ids: Vec<&str> = w
        .health_answers
        .iter()
        .map(|h| h.boot_id.as_str())
        .collect();
    assert!(
        boot_ids.len() >= 2,
        "health was asked {} times",
        boot_ids.len()
    );
    assert!(
        boot_ids.windows(2).all(|p| p[0] == p[1]),
        "the boot id changed without a restart: {boot_ids:?}"
    );
}
