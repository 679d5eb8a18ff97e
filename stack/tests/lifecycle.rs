//! Restart, durability and the binary itself (contract §7, §10).

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use agent_stack::ExitReason;
use common::*;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn restart_returns_fast_and_keeps_every_acknowledged_write() {
    let s = TestServer::start().await;
    let (_, token) = s.new_user().await;
    let (_, thread) = s
        .post("/api/threads", Some(&token), json!({"title": "keep"}))
        .await;
    let tid = thread["thread_id"].as_str().unwrap().to_owned();
    let path = format!("/api/threads/{tid}/messages");
    let run = s.execute(&token, "remember me").await;
    let run_id = run["run_id"].as_str().unwrap().to_owned();
    s.wait_run_status(&token, &run_id, "completed").await;
    let (_, before) = s.get("/health", None).await;

    // Writes race the restart: every one that was acknowledged must survive.
    let mut writers = Vec::new();
    for i in 0..40 {
        let http = s.http.clone();
        let url = s.url(&path);
        let token = token.clone();
        writers.push(tokio::spawn(async move {
            let res = http
                .post(url)
                .bearer_auth(token)
                .json(&json!({"content": format!("m{i}")}))
                .send()
                .await;
            match res {
                Ok(r) if r.status() == StatusCode::CREATED => Some(
                    r.json::<serde_json::Value>().await.unwrap()["message_id"]
                        .as_str()
                        .unwrap()
                        .to_owned(),
                ),
                _ => None,
            }
        }));
    }
    let admin = s.admin_token().await;
    let (st, body) = s.post("/admin/restart", Some(&admin), json!({})).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(body["status"], "restarting");
    let answered = Instant::now();
    let mut acknowledged = Vec::new();
    for w in writers {
        acknowledged.extend(w.await.unwrap());
    }
    let successor_dir = s.dir.clone();
    let config = s.config.clone();
    let handle = s.handle;
    let reason = tokio::time::timeout(Duration::from_secs(2), handle)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let took = answered.elapsed();
    assert_eq!(reason, ExitReason::Restart);
    assert!(
        took < Duration::from_millis(700),
        "serve took {took:?} to return after answering"
    );

    let s2 = TestServer::start_in(successor_dir, config).await;
    let (_, after) = s2.get("/health", None).await;
    assert_eq!(after["status"], "healthy");
    assert_ne!(
        after["boot_id"], before["boot_id"],
        "a new boot_id proves the restart"
    );
    // The generated JWT secret was kept: the old token still works.
    let (st, msgs) = s2.get(&path, Some(&token)).await;
    assert_eq!(st, StatusCode::OK);
    let ids: Vec<&str> = msgs["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["message_id"].as_str().unwrap())
        .collect();
    for id in &acknowledged {
        assert!(ids.contains(&id.as_str()), "acknowledged message {id} lost");
    }
    let (_, r) = s2
        .get(&format!("/api/agent/runs/{run_id}"), Some(&token))
        .await;
    assert_eq!(r["status"], "completed");
    let (_, threads) = s2.get("/api/threads", Some(&token)).await;
    assert_eq!(threads["threads"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn runs_left_unfinished_are_failed_at_start_up() {
    let s = TestServer::start_with(|c| c.agent_think = Duration::from_secs(30)).await;
    let (_, token) = s.new_user().await;
    let run = s.execute(&token, "never finishes").await;
    let run_id = run["run_id"].as_str().unwrap();
    s.wait_run_status(&token, run_id, "running").await;
    let s2 = {
        let dir = s.dir.clone();
        let config = s.config.clone();
        assert_eq!(s.stop().await, ExitReason::Signal);
        TestServer::start_in(dir, config).await
    };
    let (_, r) = s2
        .get(&format!("/api/agent/runs/{run_id}"), Some(&token))
        .await;
    assert_eq!(r["status"], "failed");
    assert!(r.get("result").is_none());
}

fn binary() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_agent-stack"));
    cmd.env_clear().env("RUST_LOG", "info");
    cmd
}

#[test]
fn bad_environment_exits_2_with_one_line() {
    for (name, value) in [
        ("PORT", "abc"),
        ("PORT", "70000"),
        ("FAULTS", "unknown_fault"),
        ("FAULTS", "drop_event:agent_sleeping"),
        ("STATS_INTERVAL_MS", "-5"),
        ("WEBSOCKET_MAX_CONNECTIONS_PER_IP", "ten"),
        ("TOKEN_TTL_S", "1.5"),
    ] {
        let out = binary().env(name, value).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{name}={value}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{name}={value}: {err}");
        assert!(
            err.starts_with(&format!("agent-stack: invalid {name}")),
            "{err}"
        );
        assert!(!err.contains("panicked"));
    }
    let out = binary().arg("bogus").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn healthcheck_fails_without_a_server() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // The listener is dropped: nothing listens on `port` any more.
    let out = binary()
        .arg("healthcheck")
        .env("PORT", port.to_string())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}

/// A spawned binary, killed and reaped if a test fails while it runs.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}

/// Starts the binary on a free port; returns it and the port it printed.
fn spawn_binary(data_dir: &std::path::Path) -> (Running, u16, std::sync::mpsc::Receiver<String>) {
    let mut child = Running(
        binary()
            .env("PORT", "0")
            .env("DATA_DIR", data_dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );
    let stdout = child.0.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let line = rx
            .recv_timeout(deadline - Instant::now())
            .expect("the binary logs where it listens");
        if let Some(rest) = line.split("agent-stack listening on 0.0.0.0:").nth(1) {
            let port: u16 = rest.split_whitespace().next().unwrap().parse().unwrap();
            return (child, port, rx);
        }
    }
}

fn wait_exit(child: &mut Running) -> std::process::ExitStatus {
    let child = &mut child.0;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "the binary did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test]
async fn binary_healthcheck_restart_and_sigterm_exit_0() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, port, _logs) = spawn_binary(dir.path());
    let health = binary()
        .arg("healthcheck")
        .env("PORT", port.to_string())
        .output()
        .unwrap();
    assert_eq!(
        health.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&health.stderr)
    );

    // /admin/restart: the process answers, then exits 0 by itself.
    let http = reqwest::Client::new();
    let login: serde_json::Value = http
        .post(format!("http://127.0.0.1:{port}/api/auth/login"))
        .json(&json!({"email": "admin@example.com", "password": "admin-password"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["access_token"].as_str().unwrap();
    let res = http
        .post(format!("http://127.0.0.1:{port}/admin/restart"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(wait_exit(&mut child).code(), Some(0));
    assert!(
        dir.path().join("agent-stack.db").exists(),
        "DATA_DIR was used"
    );

    // Started again on the same data: SIGTERM also exits 0.
    let (mut child, port, _logs) = spawn_binary(dir.path());
    let status = Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(wait_exit(&mut child).code(), Some(0));
    let health = binary()
        .arg("healthcheck")
        .env("PORT", port.to_string())
        .output()
        .unwrap();
    assert_eq!(health.status.code(), Some(1), "nothing answers after exit");
}
