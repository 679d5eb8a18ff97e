//! A load run's figures sent to a Prometheus server while it runs, through remote write
//! 1.0 (protobuf `WriteRequest`, snappy block compression), as `k6 -o
//! experimental-prometheus-rw` does, so that a team's own dashboards and alerts see
//! nightly runs beside their production metrics.
//!
//! Every `push_interval` the collector (on the caller's runtime, never a worker
//! thread: the hot path does not change) turns the seconds that became final into one
//! request: per step, per agent event, per whole iteration and for reconnects after a
//! restart, the window's p50/p95/p99 (`quantile` label) and the run's cumulative
//! `_count`/`_sum`, as a Prometheus summary; iterations passed and failed, dropped
//! arrivals, step failures (counters), active users and whether the backend is
//! restarting (gauges). Labels: `run_id`, `scenario` (a step's), `step`, `event`, the
//! shard, and any of the configuration's. Values in seconds.
//!
//! Sending is a task of its own behind a small bounded queue: a slow or unreachable
//! Prometheus drops pushes (counted) instead of slowing the run, and failures are one
//! warning and counts in `summary.json`, never a failed run.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use prost::Message as _;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::summary::RemoteWriteResult;

use super::metrics::{self, FinalInterval, SeriesKey};

/// `[load.prometheus]` in `goldenpath.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrometheusConfig {
    /// The receiver, e.g. `http://prometheus:9090/api/v1/write` (Prometheus started with
    /// `--web.enable-remote-write-receiver`, Mimir, Thanos receive, VictoriaMetrics).
    pub remote_write_url: String,
    /// How often the figures are sent (default 5s).
    #[serde(default = "default_push_interval", with = "humantime_serde")]
    pub push_interval: Duration,
    /// Labels added to every series, e.g. `{ env = "staging" }`.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

fn default_push_interval() -> Duration {
    Duration::from_secs(5)
}

impl PrometheusConfig {
    /// Remote write to `url` at the default interval, with no labels of its own.
    pub fn new(url: impl Into<String>) -> PrometheusConfig {
        PrometheusConfig {
            remote_write_url: url.into(),
            push_interval: default_push_interval(),
            labels: BTreeMap::new(),
        }
    }

    /// A configuration error, said in one line, before the run starts.
    pub fn check(&self) -> Result<(), String> {
        let url = url::Url::parse(&self.remote_write_url).map_err(|e| {
            format!(
                "load.prometheus.remote_write_url {:?} is not a URL: {e}",
                self.remote_write_url
            )
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!(
                "load.prometheus.remote_write_url {:?}: only http and https are supported",
                self.remote_write_url
            ));
        }
        if self.push_interval < Duration::from_secs(1) {
            return Err("load.prometheus.push_interval must be at least 1s".into());
        }
        for name in self.labels.keys() {
            let valid = name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !name.starts_with("__");
            if !valid {
                return Err(format!(
                    "load.prometheus.labels: {name:?} is not a Prometheus label name"
                ));
            }
        }
        Ok(())
    }
}

// The remote-write 1.0 messages (prometheus/prompb/types.proto, remote.proto).
#[derive(Clone, PartialEq, prost::Message)]
struct WriteRequest {
    #[prost(message, repeated, tag = "1")]
    timeseries: Vec<TimeSeries>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct TimeSeries {
    #[prost(message, repeated, tag = "1")]
    labels: Vec<Label>,
    #[prost(message, repeated, tag = "2")]
    samples: Vec<Sample>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Label {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(string, tag = "2")]
    value: String,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Sample {
    #[prost(double, tag = "1")]
    value: f64,
    #[prost(int64, tag = "2")]
    timestamp: i64,
}

/// Pushes queued for the sender; beyond that, a push is dropped.
const QUEUE: usize = 4;
/// One push may take this long.
const PUSH_TIMEOUT: Duration = Duration::from_secs(2);
/// At the end of the run, the queue is given this long to drain.
const FINAL_WAIT: Duration = Duration::from_secs(3);

/// What the collector keeps for remote write.
pub(crate) struct RemoteWriter {
    url: String,
    every: u64,
    base: Vec<(String, String)>,
    step_scenarios: Vec<String>,
    names: super::collector::SeriesNames,
    run_start: SystemTime,
    /// The window since the last push.
    window: BTreeMap<SeriesKey, Histogram<u64>>,
    /// Since the start: samples, their sum (µs) and failures, per series.
    cumulative: BTreeMap<SeriesKey, (u64, u64, u64)>,
    passed: u64,
    failed: u64,
    dropped_arrivals: u64,
    intervals_in_window: u64,
    /// The last second observed.
    last_index: Option<u64>,
    last_end_ms: i64,
    queue: mpsc::Sender<Vec<u8>>,
    sender: tokio::task::JoinHandle<()>,
    /// What the sender got through, readable even if it is cut off at the end.
    tally: Arc<Mutex<SenderTally>>,
    /// Pushes handed to the sender.
    queued: u64,
    /// Pushes not handed over: the queue was full.
    queue_full: u64,
}

/// What the sender task has done so far.
#[derive(Debug, Default)]
struct SenderTally {
    sent: u64,
    failed: u64,
    last_error: Option<String>,
}

impl RemoteWriter {
    /// Starts the sender (a task of the current runtime).
    pub(crate) fn start(
        config: &PrometheusConfig,
        run_id: &str,
        shard: Option<String>,
        names: super::collector::SeriesNames,
        step_scenarios: Vec<String>,
        run_start: SystemTime,
    ) -> RemoteWriter {
        let mut base: Vec<(String, String)> = config
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        base.push(("run_id".into(), run_id.to_owned()));
        if let Some(shard) = shard {
            base.push(("shard".into(), shard));
        }
        let (queue, rx) = mpsc::channel(QUEUE);
        let tally = Arc::new(Mutex::new(SenderTally::default()));
        let sender = tokio::spawn(send_all(config.remote_write_url.clone(), rx, tally.clone()));
        RemoteWriter {
            url: config.remote_write_url.clone(),
            every: config.push_interval.as_secs().max(1),
            base,
            step_scenarios,
            names,
            run_start,
            window: BTreeMap::new(),
            cumulative: BTreeMap::new(),
            passed: 0,
            failed: 0,
            dropped_arrivals: 0,
            intervals_in_window: 0,
            last_index: None,
            last_end_ms: 0,
            queue,
            sender,
            tally,
            queued: 0,
            queue_full: 0,
        }
    }

    /// One second became final; every `push_interval` of them make a push.
    pub(crate) fn observe(&mut self, f: &FinalInterval, active_users: u64, restarting: bool) {
        for (key, s) in &f.series {
            if !s.hist.is_empty() {
                let into = self
                    .window
                    .entry(key.clone())
                    .or_insert_with(metrics::histogram);
                let _ = into.add(&s.hist);
            }
            let c = self.cumulative.entry(key.clone()).or_default();
            c.0 += s.hist.len();
            c.1 += (s.hist.mean() * s.hist.len() as f64) as u64;
            c.2 += s.errors;
        }
        self.passed += f.counters.iterations - f.counters.iterations_failed;
        self.failed += f.counters.iterations_failed;
        self.dropped_arrivals += f.counters.dropped;
        self.intervals_in_window += 1;
        self.last_index = Some(f.index);
        if self.intervals_in_window >= self.every {
            self.push(active_users, restarting);
        }
    }

    /// Sends what the window holds, stamped at the end of the last second observed.
    fn push(&mut self, active_users: u64, restarting: bool) {
        let seconds = self.last_index.map_or(0, |i| i + 1);
        let end = self.run_start + metrics::INTERVAL * u32::try_from(seconds).unwrap_or(u32::MAX);
        // The window's end, but never in the future (the run's last second may not be
        // over yet when it ends), where a query at "now" would not see it.
        let mut ts = end
            .min(SystemTime::now())
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        // Strictly increasing per series, or Prometheus refuses the whole request.
        ts = ts.max(self.last_end_ms + 1);
        self.last_end_ms = ts;
        let mut out = Vec::new();
        let window = std::mem::take(&mut self.window);
        for (key, (count, sum_us, errors)) in &self.cumulative {
            let (name, labels) = self.describe(key);
            if let Some(h) = window.get(key) {
                for (q, text) in [(0.5, "0.5"), (0.95, "0.95"), (0.99, "0.99")] {
                    let mut l = labels.clone();
                    l.push(("quantile".into(), text.into()));
                    out.push(self.series(&name, l, h.value_at_quantile(q) as f64 / 1e6, ts));
                }
            }
            out.push(self.series(&format!("{name}_count"), labels.clone(), *count as f64, ts));
            out.push(self.series(
                &format!("{name}_sum"),
                labels.clone(),
                *sum_us as f64 / 1e6,
                ts,
            ));
            if matches!(key, SeriesKey::Step(_)) {
                out.push(self.series("goldenpath_step_failures_total", labels, *errors as f64, ts));
            }
        }
        let result = |r: &str| vec![("result".to_owned(), r.to_owned())];
        out.push(self.series(
            "goldenpath_iterations_total",
            result("passed"),
            self.passed as f64,
            ts,
        ));
        out.push(self.series(
            "goldenpath_iterations_total",
            result("failed"),
            self.failed as f64,
            ts,
        ));
        out.push(self.series(
            "goldenpath_dropped_iterations_total",
            Vec::new(),
            self.dropped_arrivals as f64,
            ts,
        ));
        out.push(self.series(
            "goldenpath_active_users",
            Vec::new(),
            active_users as f64,
            ts,
        ));
        out.push(self.series(
            "goldenpath_backend_restarting",
            Vec::new(),
            if restarting { 1.0 } else { 0.0 },
            ts,
        ));
        self.intervals_in_window = 0;
        let body = WriteRequest { timeseries: out }.encode_to_vec();
        let compressed = match snap::raw::Encoder::new().compress_vec(&body) {
            Ok(c) => c,
            Err(_) => return,
        };
        match self.queue.try_send(compressed) {
            Ok(()) => self.queued += 1,
            Err(_) => self.queue_full += 1,
        }
    }

    /// The metric name and labels of a measured series.
    fn describe(&self, key: &SeriesKey) -> (String, Vec<(String, String)>) {
        let pair = |k: &str, v: &str| (k.to_owned(), v.to_owned());
        match key {
            SeriesKey::Scenario => ("goldenpath_iteration_duration_seconds".into(), Vec::new()),
            SeriesKey::ScenarioOf(i) => (
                "goldenpath_iteration_duration_seconds".into(),
                vec![pair(
                    "scenario",
                    self.names.scenarios.get(*i).map_or("", String::as_str),
                )],
            ),
            SeriesKey::Step(i) => (
                "goldenpath_step_duration_seconds".into(),
                vec![
                    pair(
                        "scenario",
                        self.step_scenarios.get(*i).map_or("", String::as_str),
                    ),
                    pair("step", &self.names.name(key)),
                ],
            ),
            SeriesKey::Event(e) => (
                "goldenpath_event_latency_seconds".into(),
                vec![pair("event", e)],
            ),
            SeriesKey::Reconnect => ("goldenpath_reconnect_seconds".into(), Vec::new()),
        }
    }

    fn series(&self, name: &str, extra: Vec<(String, String)>, value: f64, ts: i64) -> TimeSeries {
        let mut labels: Vec<Label> = std::iter::once(("__name__".to_owned(), name.to_owned()))
            .chain(self.base.iter().cloned())
            .chain(extra)
            .map(|(name, value)| Label { name, value })
            .collect();
        labels.sort_by(|a, b| a.name.cmp(&b.name));
        TimeSeries {
            labels,
            samples: vec![Sample {
                value,
                timestamp: ts,
            }],
        }
    }

    /// The run is over: the last (partial) window is pushed and the queue given a few
    /// seconds to drain; what was not sent by then counts as dropped.
    pub(crate) async fn finish(mut self, restarting: bool) -> RemoteWriteResult {
        if self.intervals_in_window > 0 {
            self.push(0, restarting);
        }
        drop(self.queue);
        let drained = tokio::time::timeout(FINAL_WAIT, &mut self.sender)
            .await
            .is_ok();
        if !drained {
            self.sender.abort();
        }
        let tally = std::mem::take(&mut *self.tally.lock().unwrap_or_else(PoisonError::into_inner));
        let unsent = self.queued.saturating_sub(tally.sent + tally.failed);
        RemoteWriteResult {
            url: self.url,
            pushes_sent: tally.sent,
            pushes_failed: tally.failed,
            pushes_dropped: self.queue_full + unsent,
            last_error: if drained {
                tally.last_error
            } else {
                Some(format!(
                    "{unsent} push(es) not sent {}s after the run",
                    FINAL_WAIT.as_secs()
                ))
            },
        }
    }
}

/// The sender task: one push at a time, each bounded by [`PUSH_TIMEOUT`].
async fn send_all(url: String, mut rx: mpsc::Receiver<Vec<u8>>, tally: Arc<Mutex<SenderTally>>) {
    let connector = crate::client::transport_connector(PUSH_TIMEOUT);
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build(connector);
    let mut warned = false;
    while let Some(body) = rx.recv().await {
        let request = http::Request::post(&url)
            .header(http::header::CONTENT_ENCODING, "snappy")
            .header(http::header::CONTENT_TYPE, "application/x-protobuf")
            .header("X-Prometheus-Remote-Write-Version", "0.1.0")
            .header(
                http::header::USER_AGENT,
                concat!("goldenpath/", env!("CARGO_PKG_VERSION")),
            )
            .body(Full::new(Bytes::from(body)));
        let outcome = tokio::time::timeout(PUSH_TIMEOUT, async {
            let request = request.map_err(|e| e.to_string())?;
            let answer = client
                .request(request)
                .await
                .map_err(|e| format!("{e:#}"))?;
            let status = answer.status();
            let body = answer
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            if status.is_success() {
                Ok(())
            } else {
                Err(format!(
                    "{status}: {}",
                    String::from_utf8_lossy(&body).trim()
                ))
            }
        })
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {}s", PUSH_TIMEOUT.as_secs())));
        let mut tally = tally.lock().unwrap_or_else(PoisonError::into_inner);
        match outcome {
            Ok(()) => tally.sent += 1,
            Err(e) => {
                if !warned {
                    warned = true;
                    tracing::warn!("Prometheus remote write to {url} failed: {e}");
                }
                tally.failed += 1;
                tally.last_error = Some(e);
            }
        }
    }
}
