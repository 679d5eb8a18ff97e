//! The operations dashboard socket (contract §6).

use std::time::{Duration, Instant};

use cucumber::{given, then, when};

use super::{Seen, watch};
use crate::acceptance::world::GoldenWorld;
use crate::client::{ClientError, DashboardFrame};

#[given("the dashboard connects from the allowed origin")]
#[when("the dashboard connects from the allowed origin")]
async fn connects_allowed(w: &mut GoldenWorld) {
    let socket = w
        .client()
        .dashboard(None)
        .await
        .unwrap_or_else(|e| panic!("the dashboard could not connect: {e}"));
    w.dashboard = Some(socket);
}

#[when(regex = r#"^the dashboard connects from (?:the origin "([^"]+)"|no origin)$"#)]
async fn connects_from(w: &mut GoldenWorld, origin: String) {
    let client = w.client();
    let socket = if origin.is_empty() {
        client.dashboard_without_origin().await
    } else {
        client.dashboard(Some(&origin)).await
    };
    w.dashboard = Some(socket.unwrap_or_else(|e| {
        panic!("the dashboard upgrade itself failed (the contract accepts, then closes): {e}")
    }));
}

#[given(expr = "{int} dashboards are connected from the allowed origin")]
async fn many_connected(w: &mut GoldenWorld, n: usize) {
    let ack_timeout = w.timeouts().socket_connect;
    for i in 0..n {
        let mut socket = w
            .client()
            .dashboard(None)
            .await
            .unwrap_or_else(|e| panic!("dashboard {} of {n} could not connect: {e}", i + 1));
        match socket.next_frame(ack_timeout).await {
            Ok(DashboardFrame::ConnectionAck { .. }) => {}
            other => panic!("dashboard {} of {n} was not acknowledged: {other:?}", i + 1),
        }
        w.dashboards.push(socket);
    }
}

fn dashboard(w: &mut GoldenWorld) -> &mut crate::client::DashboardSocket {
    w.dashboard
        .as_mut()
        .expect("the dashboard connected in an earlier step")
}

#[then("the dashboard receives a connection acknowledgement")]
async fn receives_ack(w: &mut GoldenWorld) {
    let timeout = w.timeouts().socket_connect;
    match dashboard(w).next_frame(timeout).await {
        Ok(DashboardFrame::ConnectionAck { .. }) => {}
        Ok(other) => panic!("the dashboard's first frame was {other:?}, expected connection_ack"),
        Err(e) => panic!("expected connection_ack: {e}"),
    }
}

#[then(expr = "the dashboard receives {int} statistics updates about one interval apart")]
async fn receives_stats(w: &mut GoldenWorld, n: usize) {
    let interval = w.timeouts().stats_interval;
    let within = interval * (n as u32 + 1) + Duration::from_secs(1);
    let mut arrivals = Vec::new();
    let all = watch(dashboard(w), within, |frame| match frame {
        Ok(DashboardFrame::StatsUpdate { stats, .. }) => {
            assert!(
                stats.active_connections.is_some()
                    && stats.users.is_some()
                    && stats.messages.is_some(),
                "a stats_update lacks users, messages or active_connections: {}",
                stats.raw
            );
            arrivals.push(Instant::now());
            if arrivals.len() == n {
                Seen::Done(())
            } else {
                Seen::Continue
            }
        }
        Ok(_) => Seen::Continue,
        Err(e) => panic!(
            "expected {n} stats_update frames every {interval:?}; got {} before: {e}",
            arrivals.len()
        ),
    })
    .await;
    assert!(
        all.is_some(),
        "expected {n} stats_update frames every {interval:?}; got {} within {within:?}",
        arrivals.len()
    );
    for pair in arrivals.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(
            gap >= interval / 2 && gap <= interval * 3 / 2,
            "two stats_update frames came {gap:?} apart, expected about {interval:?}"
        );
    }
}

#[then("the dashboard receives a query-complete notice for that run")]
async fn receives_query_complete(w: &mut GoldenWorld) {
    let run_id = w.current_run().started.run_id.clone();
    let timeout = w.timeouts().events;
    let seen = watch(dashboard(w), timeout, |frame| match frame {
        Ok(DashboardFrame::QueryComplete {
            run_id: Some(id),
            latency_ms,
            ..
        }) if id == run_id => {
            assert!(
                latency_ms.is_some(),
                "query_complete for run {run_id} has no latency_ms"
            );
            Seen::Done(())
        }
        Ok(_) => Seen::Continue,
        Err(e) => panic!("expected query_complete for run {run_id} within {timeout:?}: {e}"),
    })
    .await;
    assert!(
        seen.is_some(),
        "expected query_complete for run {run_id} within {timeout:?}"
    );
}

#[then(expr = "the dashboard is closed with code {int} and reason {string}")]
async fn closed_with(w: &mut GoldenWorld, code: u16, reason: String) {
    let timeout = w.timeouts().socket_connect;
    match dashboard(w).expect_close(timeout).await {
        Ok((got_code, got_reason)) => assert!(
            got_code == code && got_reason == reason,
            "the dashboard was closed with {got_code} {got_reason:?}, expected {code} {reason:?}"
        ),
        Err(ClientError::SocketTimeout { .. }) => {
            panic!(
                "expected the server to close the dashboard with {code} {reason:?} within {timeout:?}; it stayed open"
            )
        }
        Err(e) => panic!("expected the server to close the dashboard with {code} {reason:?}: {e}"),
    }
}
