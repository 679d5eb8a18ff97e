//! `goldenpath merge`: the shards of one split load run added back up, exactly.
//!
//! Every distribution (scenario, per scenario, per step, per event, reconnect) is the
//! sum of the shards' HdrHistogram interval logs, so a merged percentile is the one a
//! single histogram of every sample gives; counts add up; the timeline is merged per
//! second on the shards' shared clock (each shard's log counts from its own schedule
//! start, which `summary.json` records); and the thresholds are evaluated again, on the
//! merged figures, with [`outcome::judge`]. The result is a normal run directory:
//! `summary.json`, `report.html`, `summary.md` and `hlog/`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use hdrhistogram::Histogram;

use crate::summary::{
    Distribution, ErrorGroup, LoadResult, RunKind, RunSummary, SCHEMA_VERSION, ShardInfo,
    ThresholdResult, TimelinePoint, Verdict,
};

use super::config::Threshold;
use super::hlog::{self, HlogWriter};
use super::metrics::INTERVAL;
use super::outcome::{self, GlobalFigures, StepFigures};

/// What `goldenpath merge` is asked.
#[derive(Debug, Clone, Default)]
pub struct MergeOptions {
    /// Shard run directories, or directories holding them (`reports/<run-id>/`).
    pub inputs: Vec<PathBuf>,
    /// Where the merged run is written.
    pub run_dir: PathBuf,
    /// Merge the shards that are there; the verdict is then `INCOMPLETE`.
    pub allow_missing: bool,
    /// Wait up to this long for every shard to write its `summary.json` (a merge step
    /// started beside the shards, as in `deploy/kubernetes/`).
    pub wait: Option<Duration>,
}

/// Why shards could not be merged. Every variant is exit code 2.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// No shard run directory among the inputs.
    #[error("no shard results (summary.json of a `goldenpath load --shard`) in {0}")]
    NoShards(String),
    /// A summary that cannot be read, or is not a shard of a load run.
    #[error("{}: {reason}", path.display())]
    NotAShard {
        /// The shard's `summary.json`.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Shards of different runs, or split differently.
    #[error("{} is shard {index}/{count} of run {run_id:?}, the others are of run {expected_run:?} split {expected_count} ways", path.display())]
    OtherRun {
        /// The odd shard's directory.
        path: PathBuf,
        /// Its index, count and run id.
        index: u64,
        /// Its shard count.
        count: u64,
        /// Its run id.
        run_id: String,
        /// The run id of the first shard.
        expected_run: String,
        /// The shard count of the first shard.
        expected_count: u64,
    },
    /// Two directories hold the same shard.
    #[error("shard {index} twice: {} and {}", first.display(), second.display())]
    Duplicate {
        /// The index.
        index: u64,
        /// One directory.
        first: PathBuf,
        /// The other.
        second: PathBuf,
    },
    /// Shards are missing and `--allow-missing` was not given.
    #[error(
        "shard(s) {} of {count} missing (run {run_id:?}); merge what is there with --allow-missing, the verdict is then INCOMPLETE",
        list(missing)
    )]
    Missing {
        /// The missing indices.
        missing: Vec<u64>,
        /// The shard count.
        count: u64,
        /// The run.
        run_id: String,
    },
    /// The shards ran different scenarios or steps.
    #[error("{}: {reason}", path.display())]
    Mismatch {
        /// The odd shard's directory.
        path: PathBuf,
        /// What differs.
        reason: String,
    },
    /// An interval log that cannot be read.
    #[error(transparent)]
    Hlog(#[from] hlog::ReadError),
    /// The merged run cannot be written.
    #[error("cannot write the merged run in {}: {source}", dir.display())]
    Output {
        /// The output directory.
        dir: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The reports cannot be written.
    #[error(transparent)]
    Report(#[from] crate::report::ReportError),
}

fn list(v: &[u64]) -> String {
    v.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")
}

/// A merged run.
#[derive(Debug)]
pub struct MergeOutcome {
    /// The merged record, also written as `summary.json`.
    pub summary: RunSummary,
    /// Where it was written.
    pub run_dir: PathBuf,
    /// The text summary (printed by the CLI).
    pub text: String,
}

struct ShardRun {
    dir: PathBuf,
    summary: RunSummary,
    info: ShardInfo,
    /// Seconds to add to this shard's interval offsets to put them on the merged clock.
    shift_s: u64,
}

impl ShardRun {
    fn load(&self) -> &LoadResult {
        self.summary
            .load
            .as_ref()
            .unwrap_or_else(|| unreachable!("checked on reading"))
    }
}

/// Merges the shards of `opts.inputs` into `opts.run_dir`.
pub fn merge(opts: &MergeOptions) -> Result<MergeOutcome, MergeError> {
    let mut shards = gather(opts)?;
    let first = &shards[0].info;
    let (run_id, count) = (first.run_id.clone(), first.count);
    let present: BTreeSet<u64> = shards.iter().map(|s| s.info.index).collect();
    let missing: Vec<u64> = (0..count).filter(|i| !present.contains(i)).collect();
    if !missing.is_empty() && !opts.allow_missing {
        return Err(MergeError::Missing {
            missing,
            count,
            run_id,
        });
    }
    shards.sort_by_key(|s| s.info.index);
    let base = shards
        .iter()
        .map(|s| wall(&s.info.started_schedule_at))
        .min()
        .unwrap_or(SystemTime::UNIX_EPOCH);
    for s in &mut shards {
        let at = wall(&s.info.started_schedule_at);
        s.shift_s = at
            .duration_since(base)
            .map_or(0, |d| (d.as_secs_f64()).round() as u64);
    }
    check_same_plan(&shards)?;

    let out = &opts.run_dir;
    let output_err = |source| MergeError::Output {
        dir: out.clone(),
        source,
    };
    std::fs::create_dir_all(out.join("hlog")).map_err(output_err)?;

    let head = shards[0].load();
    let merged = Merger {
        shards: &shards,
        out,
        base,
    };
    let Merged {
        distribution: scenario,
        total: scenario_hist,
        intervals: scenario_intervals,
    } = merged.distribution(|l| Some(&l.scenario))?;
    let timeline = merged.timeline(&scenario_intervals);
    drop(scenario_intervals);
    let scenarios = (0..head.scenarios.len())
        .map(|i| {
            merged
                .distribution(|l| l.scenarios.get(i))
                .map(|m| m.distribution)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut steps = Vec::new();
    let mut step_hists = Vec::new();
    for i in 0..head.steps.len() {
        let m = merged.distribution(|l| l.steps.get(i))?;
        steps.push(m.distribution);
        step_hists.push(m.total);
    }
    let event_names: Vec<String> = {
        let mut seen = BTreeSet::new();
        shards
            .iter()
            .flat_map(|s| s.load().events.iter().map(|e| e.name.clone()))
            .filter(|n| seen.insert(n.clone()))
            .collect()
    };
    let events = event_names
        .iter()
        .map(|name| {
            merged
                .distribution(|l| l.events.iter().find(|e| &e.name == name))
                .map(|m| m.distribution)
        })
        .collect::<Result<Vec<_>, _>>()?;

    let sum = |f: fn(&LoadResult) -> u64| shards.iter().map(|s| f(s.load())).sum::<u64>();
    let iterations = sum(|l| l.iterations);
    let iterations_failed = sum(|l| l.iterations_failed);
    let dropped = sum(|l| l.dropped);
    let lost_messages = sum(|l| l.lost_messages);
    let misdelivered_events = sum(|l| l.misdelivered_events);
    let duration_s = shards
        .iter()
        .map(|s| s.load().duration_s + s.shift_s as f64)
        .fold(0.0, f64::max);
    let throughput_per_s = iterations as f64 / duration_s.max(1e-6);

    // The thresholds of the run (every shard has the same configuration), on the whole.
    let rules = rules_of(&head.thresholds);
    let step_figures: Vec<StepFigures<'_>> = steps
        .iter()
        .zip(&step_hists)
        .map(|(d, h)| StepFigures {
            name: &d.name,
            selected_by: Box::new(move |selector: &str| selector == d.name),
            hist: h,
            errors: d.errors,
        })
        .collect();
    let thresholds = outcome::judge(
        &rules,
        &GlobalFigures {
            scenario: &scenario_hist,
            iterations,
            iterations_failed,
            throughput_per_s,
            dropped,
            lost_messages,
            misdelivered_events,
        },
        &step_figures,
    );
    drop(step_figures);

    let mut reasons = Vec::new();
    if !missing.is_empty() {
        reasons.push(format!(
            "incomplete: shard(s) {} of {count} missing; the figures cover {} shard(s)",
            list(&missing),
            shards.len()
        ));
    }
    reasons.extend(outcome::threshold_reasons(&thresholds));
    for s in &shards {
        let own_thresholds = outcome::threshold_reasons(&s.load().thresholds);
        reasons.extend(
            s.summary
                .reasons
                .iter()
                .filter(|r| !own_thresholds.contains(r))
                .map(|r| format!("shard {}: {r}", s.info.index)),
        );
    }
    let verdict = if !missing.is_empty() {
        Verdict::Incomplete
    } else if reasons.is_empty() {
        Verdict::Pass
    } else {
        Verdict::Fail
    };

    // One shard restarts the backend (shard 0): its window, on the merged clock.
    let reconnect = match shards.iter().any(|s| reconnect_of(s.load()).is_some()) {
        true => Some(merged.distribution(reconnect_of)?.distribution),
        false => None,
    };
    let restart = shards
        .iter()
        .find_map(|s| s.load().restart.clone().map(|r| (s.shift_s as f64, r)))
        .map(|(shift, mut r)| {
            r.requested_at_s += shift;
            r.back_at_s = r.back_at_s.map(|b| b + shift);
            r.lost_messages = lost_messages;
            r.reconnect = reconnect;
            r
        });
    let rate_per_s = head
        .rate_per_s
        .map(|_| shards.iter().filter_map(|s| s.load().rate_per_s).sum());
    let load = LoadResult {
        model: head.model.clone(),
        profile: head.profile.clone(),
        users: sum(|l| l.users),
        rate_per_s,
        duration_s,
        iterations,
        iterations_failed,
        iterations_interrupted: sum(|l| l.iterations_interrupted),
        dropped,
        throughput_per_s,
        scenario,
        scenarios,
        steps,
        events,
        errors: merged_errors(&shards),
        misdelivered_events,
        lost_messages,
        acknowledged_messages: sum(|l| l.acknowledged_messages),
        thresholds,
        timeline,
        restart,
        shard: None,
        shards: shards.iter().map(|s| s.info.clone()).collect(),
        missing_shards: missing,
        remote_write: None,
    };
    let summary = RunSummary {
        schema_version: SCHEMA_VERSION,
        run_id,
        kind: RunKind::Load,
        verdict,
        reasons,
        started_at: shards
            .iter()
            .map(|s| s.summary.started_at.clone())
            .min()
            .unwrap_or_default(),
        finished_at: shards
            .iter()
            .map(|s| s.summary.finished_at.clone())
            .max()
            .unwrap_or_default(),
        environment: shards[0].summary.environment.clone(),
        features: Vec::new(),
        load: Some(load),
        notes: shards
            .iter()
            .map(|s| format!("shard {} from {}", s.info.index, s.dir.display()))
            .collect(),
    };
    outcome::write(out, &summary)?;
    let text = render_text(&summary);
    Ok(MergeOutcome {
        summary,
        run_dir: out.clone(),
        text,
    })
}

/// The shard directories of the inputs, read and checked to be of one run; with a
/// wait, until every shard of the run is there (or the wait is over).
fn gather(opts: &MergeOptions) -> Result<Vec<ShardRun>, MergeError> {
    let until = opts.wait.map(|w| Instant::now() + w);
    loop {
        let attempt = gather_once(opts);
        let Some(until) = until else {
            return attempt;
        };
        let complete = match &attempt {
            Ok(shards) => {
                let count = shards[0].info.count;
                shards.len() as u64 >= count
            }
            Err(MergeError::NoShards(_) | MergeError::NotAShard { .. }) => false,
            Err(_) => return attempt,
        };
        if complete || Instant::now() >= until {
            return attempt;
        }
        std::thread::sleep(Duration::from_secs(2));
    }
}

fn gather_once(opts: &MergeOptions) -> Result<Vec<ShardRun>, MergeError> {
    let mut dirs = Vec::new();
    for input in &opts.inputs {
        if input.join(crate::report::SUMMARY_JSON).is_file() {
            dirs.push((input.clone(), false));
        } else if let Ok(entries) = std::fs::read_dir(input) {
            // `latest` (a symlink to the newest run) would name a shard twice.
            let mut inner: Vec<PathBuf> = entries
                .filter_map(Result::ok)
                .filter(|e| e.file_type().is_ok_and(|t| !t.is_symlink()))
                .map(|e| e.path())
                .filter(|p| p.join(crate::report::SUMMARY_JSON).is_file())
                .filter(|p| !same_dir(p, &opts.run_dir))
                .collect();
            inner.sort();
            dirs.extend(inner.into_iter().map(|d| (d, true)));
        }
    }
    if dirs.is_empty() {
        return Err(no_shards(opts));
    }
    let mut shards: Vec<ShardRun> = Vec::new();
    let mut by_index: BTreeMap<u64, PathBuf> = BTreeMap::new();
    for (dir, found_in_a_run_dir) in dirs {
        let path = dir.join(crate::report::SUMMARY_JSON);
        let not_a_shard = |reason: String| MergeError::NotAShard {
            path: path.clone(),
            reason,
        };
        let summary = crate::report::read_summary(&path).map_err(|e| not_a_shard(e.to_string()))?;
        if summary.kind != RunKind::Load {
            return Err(not_a_shard("an acceptance run, not a load run".into()));
        }
        // An earlier merge's output beside the shards is not one of them.
        if found_in_a_run_dir && summary.load.as_ref().is_some_and(|l| !l.shards.is_empty()) {
            continue;
        }
        let Some(info) = summary.load.as_ref().and_then(|l| l.shard.clone()) else {
            return Err(not_a_shard(
                "a load run that is not a shard (run with --shard I/N to merge)".into(),
            ));
        };
        if let Some(first) = shards.first()
            && (first.info.run_id != info.run_id || first.info.count != info.count)
        {
            return Err(MergeError::OtherRun {
                path: dir,
                index: info.index,
                count: info.count,
                run_id: info.run_id,
                expected_run: first.info.run_id.clone(),
                expected_count: first.info.count,
            });
        }
        if let Some(first) = by_index.get(&info.index) {
            return Err(MergeError::Duplicate {
                index: info.index,
                first: first.clone(),
                second: dir,
            });
        }
        by_index.insert(info.index, dir.clone());
        shards.push(ShardRun {
            dir,
            summary,
            info,
            shift_s: 0,
        });
    }
    if shards.is_empty() {
        return Err(no_shards(opts));
    }
    Ok(shards)
}

fn no_shards(opts: &MergeOptions) -> MergeError {
    let names: Vec<String> = opts
        .inputs
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    MergeError::NoShards(names.join(", "))
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

fn wall(rfc3339: &str) -> SystemTime {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .map(SystemTime::from)
        .unwrap_or(SystemTime::UNIX_EPOCH)
}

/// Every shard planned the same scenarios and steps (the same features and tags).
fn check_same_plan(shards: &[ShardRun]) -> Result<(), MergeError> {
    let names = |l: &LoadResult| -> Vec<String> {
        l.steps
            .iter()
            .chain(&l.scenarios)
            .map(|d| d.name.clone())
            .collect()
    };
    let head = names(shards[0].load());
    for s in &shards[1..] {
        if names(s.load()) != head {
            return Err(MergeError::Mismatch {
                path: s.dir.clone(),
                reason: format!(
                    "shard {} ran other scenarios or steps than shard {} (same features and tags on every shard?)",
                    s.info.index, shards[0].info.index
                ),
            });
        }
    }
    Ok(())
}

/// The thresholds a shard evaluated, as rules again: scope `global` is the whole run,
/// any other scope the step of that name.
fn rules_of(results: &[ThresholdResult]) -> Vec<Threshold> {
    let mut seen = BTreeSet::new();
    results
        .iter()
        .filter(|t| seen.insert((t.rule.clone(), t.scope.clone())))
        .filter_map(|t| {
            Some(Threshold {
                step: (t.scope != "global").then(|| t.scope.clone()),
                rule: t.rule.parse().ok()?,
            })
        })
        .collect()
}

fn reconnect_of(l: &LoadResult) -> Option<&Distribution> {
    l.restart.as_ref().and_then(|r| r.reconnect.as_ref())
}

fn merged_errors(shards: &[ShardRun]) -> Vec<ErrorGroup> {
    let mut groups: Vec<ErrorGroup> = Vec::new();
    for e in shards.iter().flat_map(|s| &s.load().errors) {
        match groups.iter_mut().find(|g| g.kind == e.kind) {
            Some(g) => g.count += e.count,
            None => groups.push(e.clone()),
        }
    }
    groups.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.kind.cmp(&b.kind)));
    groups
}

/// Adds up one distribution of every shard, writing its merged interval log.
struct Merger<'a> {
    shards: &'a [ShardRun],
    out: &'a Path,
    base: SystemTime,
}

/// One merged distribution, with the histograms it was made of.
struct Merged {
    distribution: Distribution,
    /// Every sample.
    total: Histogram<u64>,
    /// Per second of the merged clock.
    intervals: BTreeMap<u64, Histogram<u64>>,
}

type Pick<'p> = dyn Fn(&LoadResult) -> Option<&Distribution> + 'p;

impl Merger<'_> {
    /// The merged intervals (on the merged clock, whole seconds) of one distribution.
    fn intervals(&self, pick: &Pick<'_>) -> Result<BTreeMap<u64, Histogram<u64>>, MergeError> {
        let mut by_second: BTreeMap<u64, Histogram<u64>> = BTreeMap::new();
        for s in self.shards {
            let Some(d) = pick(s.load()) else { continue };
            let Some(rel) = &d.hlog else {
                if d.count > 0 {
                    return Err(MergeError::Mismatch {
                        path: s.dir.clone(),
                        reason: format!("{:?} has {} samples but no interval log", d.name, d.count),
                    });
                }
                continue;
            };
            let path = s.dir.join(rel);
            for i in hlog::read(&path)? {
                let second = i.offset.as_secs() + s.shift_s;
                // The first shard's histogram of a second becomes the sum (no copy).
                match by_second.entry(second) {
                    std::collections::btree_map::Entry::Vacant(v) => {
                        v.insert(i.histogram);
                    }
                    std::collections::btree_map::Entry::Occupied(mut o) => {
                        o.get_mut()
                            .add(&i.histogram)
                            .map_err(|e| hlog::ReadError::Histogram {
                                path: path.clone(),
                                offset: i.offset,
                                reason: format!("{e:?}"),
                            })?;
                    }
                }
            }
        }
        Ok(by_second)
    }

    /// The merged distribution of what `pick` designates in each shard, its interval
    /// log written to the merged run; each shard's log is read once.
    fn distribution(
        &self,
        pick: impl Fn(&LoadResult) -> Option<&Distribution>,
    ) -> Result<Merged, MergeError> {
        let head = self
            .shards
            .iter()
            .find_map(|s| pick(s.load()))
            .cloned()
            .unwrap_or_else(|| unreachable!("picked from the shards' own lists"));
        let intervals = self.intervals(&pick)?;
        let mut total = super::metrics::histogram();
        for h in intervals.values() {
            total.add(h).map_err(|e| MergeError::Mismatch {
                path: self.out.to_owned(),
                reason: format!("histograms of {:?} do not add: {e:?}", head.name),
            })?;
        }
        let errors = self
            .shards
            .iter()
            .filter_map(|s| pick(s.load()))
            .map(|d| d.errors)
            .sum();
        let hlog = match &head.hlog {
            Some(rel) if !intervals.is_empty() => {
                let path = self.out.join(rel);
                let output_err = |source| MergeError::Output {
                    dir: self.out.to_owned(),
                    source,
                };
                let mut w = HlogWriter::create(&path, &head.name, self.base).map_err(output_err)?;
                for (second, h) in &intervals {
                    w.write(
                        h,
                        INTERVAL * u32::try_from(*second).unwrap_or(u32::MAX),
                        INTERVAL,
                    )
                    .map_err(output_err)?;
                }
                w.flush().map_err(output_err)?;
                Some(rel.clone())
            }
            _ => None,
        };
        let occurrences = head.occurrences.map(|_| {
            self.shards
                .iter()
                .filter_map(|s| pick(s.load()).and_then(|d| d.occurrences))
                .sum()
        });
        Ok(Merged {
            distribution: Distribution {
                not_run: head.not_run.clone(),
                occurrences,
                ..outcome::distribution_of(&head.name, &total, errors, hlog)
            },
            total,
            intervals,
        })
    }

    /// Per second of the merged clock: iterations and failures added, percentiles of
    /// the merged scenario histogram of that second (`scenario`'s intervals).
    fn timeline(&self, scenario: &BTreeMap<u64, Histogram<u64>>) -> Vec<TimelinePoint> {
        let mut points: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
        for s in self.shards {
            for p in &s.load().timeline {
                // A point's t_s is the end of its interval.
                let second = (p.t_s - INTERVAL.as_secs_f64()).round().max(0.0) as u64 + s.shift_s;
                let e = points.entry(second).or_default();
                e.0 += p.iterations;
                e.1 += p.errors;
            }
        }
        points
            .into_iter()
            .map(|(second, (iterations, errors))| {
                let h = scenario.get(&second).filter(|h| !h.is_empty());
                let q = |q: f64| h.map_or(0, |h| h.value_at_quantile(q));
                TimelinePoint {
                    t_s: (second + 1) as f64,
                    iterations,
                    errors,
                    p50_us: q(0.5),
                    p95_us: q(0.95),
                    p99_us: q(0.99),
                }
            })
            .collect()
    }
}

/// The text printed after a merge.
pub fn render_text(s: &RunSummary) -> String {
    use std::fmt::Write as _;
    let Some(l) = &s.load else {
        return String::new();
    };
    let mut t = String::new();
    let _ = writeln!(
        t,
        "merged {} shard(s) of run {}{}",
        l.shards.len(),
        s.run_id,
        if l.missing_shards.is_empty() {
            String::new()
        } else {
            format!(
                " ({} missing: {})",
                l.missing_shards.len(),
                list(&l.missing_shards)
            )
        }
    );
    let _ = writeln!(
        t,
        "  shard  host                  users  iterations  failed  late"
    );
    for sh in &l.shards {
        let _ = writeln!(
            t,
            "  {:>5}  {:<20}  {:>5}  {:>10}  {:>6}  {} ms",
            sh.index, sh.host, sh.users, sh.iterations, sh.iterations_failed, sh.lateness_ms
        );
    }
    let _ = writeln!(
        t,
        "iterations: {} ({} failed), {:.1}/s; scenario p50 {} p95 {} p99 {}",
        l.iterations,
        l.iterations_failed,
        l.throughput_per_s,
        super::thresholds::format_micros(l.scenario.p50_us),
        super::thresholds::format_micros(l.scenario.p95_us),
        super::thresholds::format_micros(l.scenario.p99_us)
    );
    t.push_str(&outcome::threshold_lines(&l.thresholds));
    let _ = writeln!(t, "verdict: {}", s.verdict.word());
    for r in &s.reasons {
        let _ = writeln!(t, "  - {r}");
    }
    t
}
