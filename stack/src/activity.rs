//! Activity log (contract §7): every agent run, message, 4xx/5xx response and
//! restart becomes one JSON line in `$ACTIVITY_LOG`.
//!
//! Requests only push a record into a channel; a dedicated thread formats and
//! appends the lines, flushing whenever the channel runs dry, so no request ever
//! waits for the disk. [`ActivityLog::close`] flushes what is queued at shutdown.

use std::fs::OpenOptions;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::mpsc;

use serde_json::{Map, Value};
use tokio::sync::oneshot;

enum Msg {
    Line(Value),
    Close(oneshot::Sender<()>),
}

/// Handle to the activity log; cheap to clone.
#[derive(Clone, Debug)]
pub struct ActivityLog {
    tx: mpsc::Sender<Msg>,
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("activity message")
    }
}

impl ActivityLog {
    /// Opens `path` for appending (creating it and its directory) and starts the
    /// writer thread.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("activity-log".into())
            .spawn(move || writer(BufWriter::new(file), rx))?;
        Ok(Self { tx })
    }

    /// Queues one record: `{"ts", "event": <event>, ...fields}`. Never blocks.
    pub fn record(&self, event: &'static str, fields: Value) {
        let mut line = Map::new();
        line.insert("ts".into(), Value::String(crate::now()));
        line.insert("event".into(), Value::String(event.into()));
        if let Value::Object(extra) = fields {
            line.extend(extra);
        }
        let _ = self.tx.send(Msg::Line(Value::Object(line)));
    }

    /// Writes and flushes everything queued so far, then stops the writer.
    pub async fn close(&self) {
        let (ack, done) = oneshot::channel();
        if self.tx.send(Msg::Close(ack)).is_ok() {
            let _ = done.await;
        }
    }
}

fn writer(mut out: BufWriter<std::fs::File>, rx: mpsc::Receiver<Msg>) {
    let write = |out: &mut BufWriter<std::fs::File>, v: Value| {
        let mut line = v.to_string();
        line.push('\n');
        if let Err(e) = out.write_all(line.as_bytes()) {
            tracing::warn!(error = %e, "cannot append to the activity log");
        }
    };
    while let Ok(first) = rx.recv() {
        let mut next = Some(first);
        while let Some(msg) = next.take() {
            match msg {
                Msg::Line(v) => write(&mut out, v),
                Msg::Close(ack) => {
                    let _ = out.flush();
                    let _ = ack.send(());
                    return;
                }
            }
            next = rx.try_recv().ok();
        }
        if let Err(e) = out.flush() {
            tracing::warn!(error = %e, "cannot flush the activity log");
        }
    }
    let _ = out.flush();
}
