//! Restarts: by an administrator under the restart policy, and by the engine (§7).
//!
//! Virtual users of a load run do not run the whole-stack steps here (see
//! `WHOLE_STACK_STEPS`): restarting is the load profile's job (`restart_at`).

use std::time::Duration;

use cucumber::{then, when};

use crate::acceptance::world::GoldenWorld;
use crate::client::success;

/// How long a refused restart is given to prove it did not happen anyway: the
/// contract's restart exits within 0.5 s.
const RESTART_GRACE: Duration = Duration::from_millis(1500);

#[when("the backend is restarted by an administrator")]
async fn admin_restart(w: &mut GoldenWorld) {
    w.remember_boot_id().await;
    let client = w.client();
    let admin = client.login_admin().await.unwrap_or_else(|e| {
        panic!("the administrator could not log in (admin.email / admin.password): {e}")
    });
    client
        .restart(Some(&admin))
        .await
        .unwrap_or_else(|e| panic!("the administrator's restart was not accepted: {e}"));
}

#[when("the container engine stops and starts the backend")]
async fn engine_restart(w: &mut GoldenWorld) {
    w.remember_boot_id().await;
    let stack = w.stack().expect("a bound stack");
    if let Err(e) = stack.restart_by_engine().await {
        panic!("the engine restart did not bring the backend back: {e}");
    }
}

#[then("the backend comes back with a new boot id")]
async fn comes_back(w: &mut GoldenWorld) {
    let old = w.boot_id_before();
    let timeout = w.timeouts().restart_comeback;
    let client = w.client();
    let stack = w.stack().expect("a bound stack");
    if let Err(e) = stack.wait_for_new_boot(&client, &old, timeout).await {
        panic!("{e}");
    }
    let new = w.boot_id().await;
    assert_ne!(
        new, old,
        "the backend answers with the boot id it had before the restart"
    );
    w.boot_after_restart = Some(new);
}

#[when(expr = "{string} tries to restart the backend")]
async fn user_restart(w: &mut GoldenWorld, name: String) {
    w.remember_boot_id().await;
    let session = w.session(&name);
    let result = w.client().restart(Some(&session)).await;
    w.record_result(result, "POST restart", success::RESTART);
}

#[when("someone tries to restart the backend without a token")]
async fn anonymous_restart(w: &mut GoldenWorld) {
    w.remember_boot_id().await;
    let result = w.client().restart(None).await;
    w.record_result(result, "POST restart", success::RESTART);
}

#[then("the backend has not restarted")]
async fn not_restarted(w: &mut GoldenWorld) {
    let before = w.boot_id_before();
    tokio::time::sleep(RESTART_GRACE).await;
    let now =
        w.client().health().await.unwrap_or_else(|e| {
            panic!("the backend stopped answering after a refused restart: {e}")
        });
    assert_eq!(
        now.boot_id, before,
        "the backend restarted although the restart was refused"
    );
}
