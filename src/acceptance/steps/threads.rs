//! Threads and their messages (contract §4).

use cucumber::{given, then, when};

use crate::acceptance::world::GoldenWorld;
use crate::client::RawRequest;
use crate::client::success;

#[given(expr = "{string} has started a thread titled {string}")]
async fn started_thread(w: &mut GoldenWorld, name: String, title: String) {
    let session = w.session(&name);
    let thread = w
        .client()
        .create_thread(&session, Some(&title))
        .await
        .unwrap_or_else(|e| panic!("{name:?} could not start a thread: {e}"));
    w.thread = Some((name, thread.thread_id));
}

#[given(expr = "{string} posts the message {string} to the thread")]
#[when(expr = "{string} posts the message {string} to the thread")]
async fn posts(w: &mut GoldenWorld, name: String, content: String) {
    let (_, thread_id) = w.current_thread();
    let session = w.session(&name);
    let message = w
        .client()
        .post_message(&session, &thread_id, &content)
        .await
        .unwrap_or_else(|e| panic!("{name:?} could not post to the thread: {e}"));
    assert_eq!(
        message.content, content,
        "the stack acknowledged different content"
    );
    w.acknowledge(&name, &thread_id, "user", &content);
}

#[then(expr = "{string}'s thread still holds every message")]
async fn thread_holds_everything(w: &mut GoldenWorld, name: String) {
    let thread_id = w.thread_of(&name);
    // This thread only: a virtual user's whole ledger is read back once, at the end.
    let (check, problems) = w.check_ledger(Some(&thread_id)).await;
    if !problems.is_empty() {
        panic!(
            "{} of {} acknowledged messages were not read back as acknowledged: {}",
            check.lost,
            check.acknowledged,
            problems.join("; ")
        );
    }
}

fn thread_messages_path(w: &GoldenWorld, thread_id: &str) -> String {
    w.contract()
        .paths
        .thread_messages
        .fill(&[("thread_id", thread_id)])
}

#[when(expr = "{string} tries to read {string}'s thread")]
async fn tries_to_read(w: &mut GoldenWorld, name: String, owner: String) {
    let thread_id = w.thread_of(&owner);
    let session = w.session(&name);
    let result = w.client().messages(&session, &thread_id).await;
    w.record_result(result, "GET thread messages", success::MESSAGES);
}

#[when(expr = "{string} tries to post the message {string} to {string}'s thread")]
async fn tries_to_post_foreign(w: &mut GoldenWorld, name: String, content: String, owner: String) {
    let thread_id = w.thread_of(&owner);
    let session = w.session(&name);
    let result = w
        .client()
        .post_message(&session, &thread_id, &content)
        .await;
    w.record_result(result, "POST thread messages", success::POST_MESSAGE);
}

#[when(expr = "{string} tries to post a message of {int} characters to the thread")]
async fn tries_sized_message(w: &mut GoldenWorld, name: String, size: usize) {
    let (_, thread_id) = w.current_thread();
    let session = w.session(&name);
    let content = "x".repeat(size);
    let result = w
        .client()
        .post_message(&session, &thread_id, &content)
        .await;
    if result.is_ok() {
        w.acknowledge(&name, &thread_id, "user", &content);
    }
    w.record_result(result, "POST thread messages", success::POST_MESSAGE);
}

#[when(expr = "{string} tries to send a request body of {int} bytes to the thread")]
async fn tries_big_body(w: &mut GoldenWorld, name: String, bytes: usize) {
    let (_, thread_id) = w.current_thread();
    let session = w.session(&name);
    let padding = bytes.saturating_sub(r#"{"content":""}"#.len());
    let body = format!(r#"{{"content":"{}"}}"#, "x".repeat(padding));
    let path = thread_messages_path(w, &thread_id);
    let result = w
        .client()
        .send(RawRequest::post(path).session(&session).json_text(body))
        .await;
    w.record(result, "POST thread messages");
}

#[when(expr = "{string} tries to send malformed JSON to the thread")]
async fn tries_malformed(w: &mut GoldenWorld, name: String) {
    let (_, thread_id) = w.current_thread();
    let session = w.session(&name);
    let path = thread_messages_path(w, &thread_id);
    let result = w
        .client()
        .send(
            RawRequest::post(path)
                .session(&session)
                .json_text(r#"{"content": "unterminated"#),
        )
        .await;
    w.record(result, "POST thread messages");
}
