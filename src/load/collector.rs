//! The collector: merges the workers' interval records into totals, and as each second
//! becomes final (every worker has reported it) writes it to the `.hlog` files, adds a
//! timeline point and updates the progress line.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use crate::summary::TimelinePoint;

use super::hlog::{self, HlogWriter};
use super::metrics::{self, FinalInterval, INTERVAL, SeriesKey, Totals, WorkerReport};
use super::progress::{Progress, Snapshot};

/// Names of the measured things, for files and reports.
#[derive(Debug, Clone)]
pub struct SeriesNames {
    pub steps: Vec<String>,
    /// The planned scenarios' names.
    pub scenarios: Vec<String>,
}

impl SeriesNames {
    pub fn name(&self, key: &SeriesKey) -> String {
        match key {
            SeriesKey::Scenario => "scenario".to_owned(),
            SeriesKey::ScenarioOf(i) => self
                .scenarios
                .get(*i)
                .map_or_else(|| format!("scenario {i}"), |n| format!("scenario: {n}")),
            SeriesKey::Step(i) => self
                .steps
                .get(*i)
                .cloned()
                .unwrap_or_else(|| format!("step {i}")),
            SeriesKey::Event(e) => e.clone(),
            SeriesKey::Reconnect => "reconnect".to_owned(),
        }
    }

    /// File name of the series' interval log, relative to the run directory.
    pub fn hlog_file(&self, key: &SeriesKey) -> String {
        let file = match key {
            SeriesKey::Scenario => hlog::file_name("scenario", None, ""),
            SeriesKey::ScenarioOf(i) => hlog::file_name(
                "scenario",
                Some(*i),
                self.scenarios.get(*i).map_or("", String::as_str),
            ),
            SeriesKey::Step(i) => hlog::file_name("step", Some(*i), &self.name(key)),
            SeriesKey::Event(e) => hlog::file_name("event", None, e),
            SeriesKey::Reconnect => hlog::file_name("reconnect", None, ""),
        };
        format!("hlog/{file}")
    }
}

pub struct Collector {
    pub totals: Totals,
    pub timeline: Vec<TimelinePoint>,
    names: SeriesNames,
    run_dir: PathBuf,
    run_start: SystemTime,
    hlogs: BTreeMap<SeriesKey, HlogWriter>,
    empty: hdrhistogram::Histogram<u64>,
    progress: Progress,
    active_users: Arc<AtomicU64>,
    /// First error writing an interval log; the run goes on, the outcome reports it.
    pub write_error: Option<io::Error>,
    /// Prometheus remote write, when configured.
    pub remote: Option<super::remote_write::RemoteWriter>,
    /// The backend is being restarted (for remote write's gauge).
    pub restarting: bool,
}

impl Collector {
    /// Creates `run_dir/hlog/` and one log per step, for the whole iteration, and per
    /// scenario when there are several.
    pub fn new(
        workers: usize,
        names: SeriesNames,
        run_dir: &Path,
        run_start: SystemTime,
        progress: Progress,
        active_users: Arc<AtomicU64>,
    ) -> io::Result<Collector> {
        std::fs::create_dir_all(run_dir.join("hlog"))?;
        let mut c = Collector {
            totals: Totals::new(workers),
            timeline: Vec::new(),
            run_dir: run_dir.to_owned(),
            run_start,
            hlogs: BTreeMap::new(),
            empty: metrics::histogram(),
            progress,
            active_users,
            write_error: None,
            remote: None,
            restarting: false,
            names,
        };
        c.open(&SeriesKey::Scenario)?;
        for i in 0..metrics::separately_measured(c.names.scenarios.len()) {
            c.open(&SeriesKey::ScenarioOf(i))?;
        }
        for i in 0..c.names.steps.len() {
            c.open(&SeriesKey::Step(i))?;
        }
        Ok(c)
    }

    fn open(&mut self, key: &SeriesKey) -> io::Result<()> {
        let path = self.run_dir.join(self.names.hlog_file(key));
        let w = HlogWriter::create(&path, &self.names.name(key), self.run_start)?;
        self.hlogs.insert(key.clone(), w);
        Ok(())
    }

    pub fn take(&mut self, report: WorkerReport) {
        for f in self.totals.take(report) {
            self.finalized(f);
        }
    }

    /// The end of the run: everything pending is final.
    pub fn finish(&mut self) {
        for f in self.totals.finish() {
            self.finalized(f);
        }
        for w in self.hlogs.values_mut() {
            if let Err(e) = w.flush() {
                self.write_error.get_or_insert(e);
            }
        }
        self.progress.finish();
    }

    pub fn note(&mut self, msg: &str) {
        self.progress.note(msg);
    }

    pub fn hlog_path(&self, key: &SeriesKey) -> Option<String> {
        self.hlogs
            .contains_key(key)
            .then(|| self.names.hlog_file(key))
    }

    pub fn names(&self) -> &SeriesNames {
        &self.names
    }

    fn finalized(&mut self, f: FinalInterval) {
        for key in f.series.keys() {
            if !self.hlogs.contains_key(key)
                && let Err(e) = self.open(key)
            {
                self.write_error.get_or_insert(e);
            }
        }
        let offset = INTERVAL * u32::try_from(f.index).unwrap_or(u32::MAX);
        for (key, w) in &mut self.hlogs {
            let h = f.series.get(key).map_or(&self.empty, |s| &s.hist);
            if let Err(e) = w.write(h, offset, INTERVAL) {
                self.write_error.get_or_insert(e);
            }
        }
        let scenario = f.series.get(&SeriesKey::Scenario).map(|s| &s.hist);
        let q = |q: f64| {
            scenario
                .filter(|h| !h.is_empty())
                .map_or(0, |h| h.value_at_quantile(q))
        };
        self.timeline.push(TimelinePoint {
            t_s: (offset + INTERVAL).as_secs_f64(),
            iterations: f.counters.iterations,
            errors: f.counters.iterations_failed,
            p50_us: q(0.5),
            p95_us: q(0.95),
            p99_us: q(0.99),
        });
        if let Some(remote) = &mut self.remote {
            remote.observe(
                &f,
                self.active_users.load(Ordering::Relaxed),
                self.restarting,
            );
        }
        let t = &self.totals.counters;
        self.progress.update(&Snapshot {
            elapsed: offset + INTERVAL,
            users: self.active_users.load(Ordering::Relaxed),
            iterations_per_s: f.counters.iterations,
            p95_us: scenario
                .filter(|h| !h.is_empty())
                .map(|h| h.value_at_quantile(0.95)),
            iterations: t.iterations,
            errors: t.iterations_failed,
            dropped: t.dropped,
        });
    }
}
