//! Measurements: one HdrHistogram per measured thing (step, scenario, event, reconnect),
//! in microseconds from 1 µs to 1 h at 3 significant digits, cut into one-second
//! intervals.
//!
//! Each worker thread owns a [`Recorder`]; when a sample lands in a new second, the
//! finished second is sent as an [`IntervalRecord`] to the collector, which merges the
//! workers' records exactly (`Histogram::add`) into [`Totals`] and the interval logs.
//! Recording a sample does not allocate.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

/// Lowest and highest trackable latency, in microseconds, and precision.
pub const LOWEST_US: u64 = 1;
pub const HIGHEST_US: u64 = 3_600_000_000;
pub const SIGNIFICANT_DIGITS: u8 = 3;
/// Length of one interval of the timeline and the `.hlog` files.
pub const INTERVAL: Duration = Duration::from_secs(1);

/// An empty histogram with the run's bounds.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)
        .unwrap_or_else(|_| unreachable!("valid constant bounds"))
}

/// A duration in whole microseconds, saturating at the histogram's top.
pub fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros())
        .unwrap_or(u64::MAX)
        .min(HIGHEST_US)
}

/// How many scenarios get a distribution of their own: all of them when a run has
/// several, none when the whole-iteration distribution already is the one scenario's.
pub fn separately_measured(scenarios: usize) -> usize {
    if scenarios > 1 { scenarios } else { 0 }
}

/// What a histogram measures.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SeriesKey {
    /// A whole iteration (all scenarios of the run together).
    Scenario,
    /// A whole iteration of one planned scenario; only kept when the run has several.
    ScenarioOf(usize),
    /// A step position in the plan (see `plan::Plan::steps`).
    Step(usize),
    /// An agent event type: from the execute request to the event's arrival.
    Event(String),
    /// After a restart: from the restart request until a user works again.
    Reconnect,
}

/// Why a step or iteration failed: a typed kind, never the message text.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorClass {
    /// The step panicked (an assertion or an `expect`), at this source location.
    Panic { file: String, line: u32 },
    /// The World classified its own failure (`VirtualUser::failure_kind`).
    Kind(&'static str),
    /// The step did not finish within the step timeout.
    Timeout,
    /// The user received agent events of runs it did not start.
    Misdelivered,
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorClass::Panic { file, line } => write!(f, "panic at {file}:{line}"),
            ErrorClass::Kind(k) => f.write_str(k),
            ErrorClass::Timeout => f.write_str("step timeout"),
            ErrorClass::Misdelivered => f.write_str("misdelivered events"),
        }
    }
}

/// The grouping key of errors: where (a step, or the iteration as a whole) and what.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ErrorKey {
    pub step: Option<usize>,
    pub class: ErrorClass,
}

/// Count and first example of each kind of error.
#[derive(Debug, Default)]
pub struct ErrorGroups {
    groups: HashMap<ErrorKey, (u64, String)>,
}

impl ErrorGroups {
    pub fn add(&mut self, key: ErrorKey, example: impl FnOnce() -> String) {
        self.groups.entry(key).or_insert_with(|| (0, example())).0 += 1;
    }

    pub fn merge(&mut self, other: ErrorGroups) {
        for (k, (n, example)) in other.groups {
            self.groups.entry(k).or_insert((0, example)).0 += n;
        }
    }

    /// Most frequent first.
    pub fn sorted(&self) -> Vec<(&ErrorKey, u64, &str)> {
        let mut v: Vec<_> = self
            .groups
            .iter()
            .map(|(k, (n, e))| (k, *n, e.as_str()))
            .collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        v
    }
}

/// Counts kept per interval.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    pub iterations: u64,
    pub iterations_failed: u64,
    pub dropped: u64,
    /// Iterations cut short by Ctrl-C or the end of the graceful stop (not failures).
    pub interrupted: u64,
    pub step_errors: u64,
}

impl Counters {
    pub fn add(&mut self, o: &Counters) {
        self.iterations += o.iterations;
        self.iterations_failed += o.iterations_failed;
        self.dropped += o.dropped;
        self.interrupted += o.interrupted;
        self.step_errors += o.step_errors;
    }
}

/// One histogram and its error count.
#[derive(Debug, Clone)]
pub struct Series {
    pub hist: Histogram<u64>,
    pub errors: u64,
    /// Agent events only: every event of this kind, repeats in one run included (the
    /// histogram holds one sample per run, its first).
    pub occurrences: u64,
}

impl Series {
    pub fn new() -> Series {
        Series {
            hist: histogram(),
            errors: 0,
            occurrences: 0,
        }
    }

    fn is_empty(&self) -> bool {
        self.hist.is_empty() && self.errors == 0
    }

    fn record(&mut self, us: u64) {
        self.hist.saturating_record(us);
    }
}

impl Default for Series {
    fn default() -> Self {
        Series::new()
    }
}

/// One worker's measurements during one interval.
#[derive(Debug)]
pub struct IntervalRecord {
    pub index: u64,
    pub series: Vec<(SeriesKey, Series)>,
    pub counters: Counters,
}

/// What a worker sends the collector.
#[derive(Debug)]
pub enum WorkerReport {
    /// A finished interval (possibly empty) of one worker.
    Interval { record: IntervalRecord },
    /// The worker has sent every interval below `index`.
    Watermark { worker: usize, index: u64 },
}

/// A worker's recorder: the current interval's histograms and the run's error groups.
pub struct Recorder {
    worker: usize,
    start: Instant,
    current: u64,
    /// Where the current interval ends: a record before it only compares two instants
    /// (every step and iteration records, tens of thousands of times a second).
    current_ends: Instant,
    steps: Vec<Series>,
    scenario: Series,
    /// One per planned scenario when there are several, else empty.
    scenarios: Vec<Series>,
    events: Vec<(String, Series)>,
    reconnect: Series,
    counters: Counters,
    pub errors: ErrorGroups,
    sink: Box<dyn FnMut(WorkerReport)>,
}

impl Recorder {
    /// `scenarios`: the planned scenarios; each gets a distribution of its own when
    /// there are several.
    pub fn new(
        worker: usize,
        start: Instant,
        steps: usize,
        scenarios: usize,
        sink: Box<dyn FnMut(WorkerReport)>,
    ) -> Recorder {
        Recorder {
            worker,
            start,
            current: 0,
            current_ends: start + INTERVAL,
            steps: (0..steps).map(|_| Series::new()).collect(),
            scenario: Series::new(),
            scenarios: (0..separately_measured(scenarios))
                .map(|_| Series::new())
                .collect(),
            events: Vec::new(),
            reconnect: Series::new(),
            counters: Counters::default(),
            errors: ErrorGroups::default(),
            sink,
        }
    }

    /// Index of the interval `now` falls in.
    pub fn interval_of(start: Instant, now: Instant) -> u64 {
        (now.saturating_duration_since(start).as_nanos() / INTERVAL.as_nanos()) as u64
    }

    /// When interval `index` ends.
    fn interval_end(&self, index: u64) -> Instant {
        self.start + INTERVAL.saturating_mul(u32::try_from(index + 1).unwrap_or(u32::MAX))
    }

    /// Moves to the interval of `now`, sending the finished one(s).
    pub fn roll(&mut self, now: Instant) {
        if now < self.current_ends {
            return;
        }
        let index = Self::interval_of(self.start, now);
        let mut series = Vec::new();
        let mut take = |key: SeriesKey, s: &mut Series| {
            if !s.is_empty() {
                series.push((key, std::mem::take(s)));
            }
        };
        for (i, s) in self.steps.iter_mut().enumerate() {
            take(SeriesKey::Step(i), s);
        }
        take(SeriesKey::Scenario, &mut self.scenario);
        for (i, s) in self.scenarios.iter_mut().enumerate() {
            take(SeriesKey::ScenarioOf(i), s);
        }
        take(SeriesKey::Reconnect, &mut self.reconnect);
        for (name, s) in &mut self.events {
            take(SeriesKey::Event(name.clone()), s);
        }
        let counters = std::mem::take(&mut self.counters);
        if !series.is_empty() || counters != Counters::default() {
            (self.sink)(WorkerReport::Interval {
                record: IntervalRecord {
                    index: self.current,
                    series,
                    counters,
                },
            });
        }
        self.current = index;
        self.current_ends = self.interval_end(index);
        (self.sink)(WorkerReport::Watermark {
            worker: self.worker,
            index,
        });
    }

    /// Sends everything recorded so far (the end of the run).
    pub fn finish(&mut self) {
        self.roll(self.current_ends.max(Instant::now()));
    }

    /// A step that passed, `took` long, ending at `now`.
    pub fn step_ok(&mut self, step: usize, took: Duration, now: Instant) {
        self.roll(now);
        self.steps[step].record(micros(took));
    }

    pub fn step_failed(
        &mut self,
        step: usize,
        class: ErrorClass,
        example: impl FnOnce() -> String,
    ) {
        self.roll(Instant::now());
        self.steps[step].errors += 1;
        self.counters.step_errors += 1;
        self.errors.add(
            ErrorKey {
                step: Some(step),
                class,
            },
            example,
        );
    }

    /// A failure of the iteration as a whole (not of one step), e.g. misdelivery.
    pub fn iteration_error(&mut self, class: ErrorClass, example: impl FnOnce() -> String) {
        self.errors.add(ErrorKey { step: None, class }, example);
    }

    /// A finished iteration of planned scenario `scenario`, ending at `now`.
    pub fn iteration(&mut self, scenario: usize, took: Duration, ok: bool, now: Instant) {
        self.roll(now);
        self.counters.iterations += 1;
        if !ok {
            self.counters.iterations_failed += 1;
        }
        let own = self.scenarios.get_mut(scenario);
        for series in std::iter::once(&mut self.scenario).chain(own) {
            if ok {
                series.record(micros(took));
            } else {
                series.errors += 1;
            }
        }
    }

    pub fn interrupted(&mut self) {
        self.roll(Instant::now());
        self.counters.interrupted += 1;
    }

    pub fn dropped(&mut self) {
        self.roll(Instant::now());
        self.counters.dropped += 1;
    }

    /// The first agent event of its kind in a run, arriving `took` after its execute
    /// request, recorded at `now`; the run delivered `count` events of that kind.
    pub fn event(&mut self, name: &str, took: Duration, count: u32, now: Instant) {
        self.roll(now);
        let at = match self.events.iter().position(|(n, _)| n == name) {
            Some(at) => at,
            None => {
                self.events.push((name.to_owned(), Series::new()));
                self.events.len() - 1
            }
        };
        let series = &mut self.events[at].1;
        series.record(micros(took));
        series.occurrences += u64::from(count);
    }

    pub fn reconnect(&mut self, took: Duration) {
        self.roll(Instant::now());
        self.reconnect.record(micros(took));
    }
}

/// The collector's merged view: totals per series, and intervals waiting for every
/// worker before they are final.
#[derive(Debug)]
pub struct Totals {
    pub series: BTreeMap<SeriesKey, Series>,
    pub counters: Counters,
    pending: BTreeMap<u64, Pending>,
    watermarks: Vec<u64>,
    next_final: u64,
}

/// One interval merged across workers.
#[derive(Debug, Default)]
pub struct Pending {
    pub series: BTreeMap<SeriesKey, Series>,
    pub counters: Counters,
}

/// A final interval: every worker has reported it.
#[derive(Debug)]
pub struct FinalInterval {
    pub index: u64,
    pub series: BTreeMap<SeriesKey, Series>,
    pub counters: Counters,
}

impl Totals {
    pub fn new(workers: usize) -> Totals {
        Totals {
            series: BTreeMap::new(),
            counters: Counters::default(),
            pending: BTreeMap::new(),
            watermarks: vec![0; workers],
            next_final: 0,
        }
    }

    /// Takes one report; returns the intervals that became final, oldest first.
    pub fn take(&mut self, report: WorkerReport) -> Vec<FinalInterval> {
        match report {
            WorkerReport::Interval { record, .. } => {
                let p = self
                    .pending
                    .entry(record.index.max(self.next_final))
                    .or_default();
                p.counters.add(&record.counters);
                for (key, s) in record.series {
                    merge_series(p.series.entry(key).or_default(), &s);
                }
                Vec::new()
            }
            WorkerReport::Watermark { worker, index } => {
                self.watermarks[worker] = self.watermarks[worker].max(index);
                let upto = self.watermarks.iter().copied().min().unwrap_or(0);
                self.finalize_below(upto)
            }
        }
    }

    /// Finalizes every pending interval (the end of the run).
    pub fn finish(&mut self) -> Vec<FinalInterval> {
        let upto = self
            .pending
            .keys()
            .next_back()
            .map_or(self.next_final, |k| k + 1);
        self.finalize_below(upto)
    }

    fn finalize_below(&mut self, upto: u64) -> Vec<FinalInterval> {
        let mut out = Vec::new();
        while self.next_final < upto {
            let index = self.next_final;
            let p = self.pending.remove(&index).unwrap_or_default();
            self.counters.add(&p.counters);
            for (key, s) in &p.series {
                merge_series(self.series.entry(key.clone()).or_default(), s);
            }
            out.push(FinalInterval {
                index,
                series: p.series,
                counters: p.counters,
            });
            self.next_final += 1;
        }
        out
    }
}

/// Adds `from` into `into` exactly (same bounds, so `add` cannot fail).
pub fn merge_series(into: &mut Series, from: &Series) {
    into.hist
        .add(&from.hist)
        .unwrap_or_else(|_| unreachable!("histograms share bounds"));
    into.errors += from.errors;
    into.occurrences += from.occurrences;
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;

    use super::*;

    #[test]
    fn merging_worker_histograms_is_exact() {
        let mut a = histogram();
        let mut b = histogram();
        let mut all = histogram();
        for v in 1..=10_000u64 {
            let v = v * 37 % 2_000_000 + 1;
            if v % 3 == 0 {
                a.record(v).unwrap()
            } else {
                b.record(v).unwrap()
            }
            all.record(v).unwrap();
        }
        let mut merged = Series::new();
        merge_series(
            &mut merged,
            &Series {
                hist: a,
                errors: 1,
                occurrences: 0,
            },
        );
        merge_series(
            &mut merged,
            &Series {
                hist: b,
                errors: 2,
                occurrences: 0,
            },
        );
        assert_eq!(merged.errors, 3);
        assert_eq!(merged.hist.len(), all.len());
        for q in [0.5, 0.9, 0.95, 0.99, 0.999, 1.0] {
            assert_eq!(merged.hist.value_at_quantile(q), all.value_at_quantile(q));
        }
        assert_eq!(merged.hist, all);
    }

    #[test]
    fn microsecond_resolution_up_to_an_hour() {
        let mut h = histogram();
        h.record(micros(Duration::from_micros(1))).unwrap();
        h.record(micros(Duration::from_micros(1_234))).unwrap();
        h.saturating_record(micros(Duration::from_secs(7200)));
        assert_eq!(h.min(), 1);
        assert!(h.equivalent(h.value_at_quantile(0.5), 1_234));
        assert!(h.max() >= HIGHEST_US);
    }

    #[test]
    fn recorder_cuts_intervals_and_totals_wait_for_every_worker() {
        let start = Instant::now() - Duration::from_secs(5);
        let sent: Rc<RefCell<Vec<WorkerReport>>> = Rc::default();
        let mut recorders: Vec<Recorder> = (0..2)
            .map(|w| {
                let sent = sent.clone();
                Recorder::new(w, start, 1, 1, Box::new(move |r| sent.borrow_mut().push(r)))
            })
            .collect();
        // Worker 0 records in interval 5 (now); worker 1 records nothing yet.
        recorders[0].step_ok(0, Duration::from_millis(3), Instant::now());
        recorders[0].iteration(0, Duration::from_millis(4), true, Instant::now());
        recorders[0].step_failed(0, ErrorClass::Timeout, || "slow".into());
        recorders[0].finish();
        let mut totals = Totals::new(2);
        let mut finals = Vec::new();
        for r in sent.borrow_mut().drain(..) {
            finals.extend(totals.take(r));
        }
        assert!(finals.is_empty(), "worker 1 has not reported yet");
        recorders[1].roll(start + INTERVAL * 6);
        recorders[1].finish();
        for r in sent.borrow_mut().drain(..) {
            finals.extend(totals.take(r));
        }
        assert_eq!(
            finals.iter().map(|f| f.index).collect::<Vec<_>>(),
            (0..6).collect::<Vec<_>>()
        );
        let five = &finals[5];
        assert_eq!(five.counters.iterations, 1);
        assert_eq!(five.series[&SeriesKey::Step(0)].hist.len(), 1);
        assert_eq!(five.series[&SeriesKey::Step(0)].errors, 1);
        assert_eq!(totals.counters.step_errors, 1);
        assert_eq!(recorders[0].errors.sorted()[0].1, 1);
    }

    #[test]
    fn a_record_sends_the_interval_only_once_its_end_has_passed() {
        let start = Instant::now();
        let sent: Rc<RefCell<Vec<WorkerReport>>> = Rc::default();
        let sink = sent.clone();
        let mut recorder =
            Recorder::new(0, start, 1, 1, Box::new(move |r| sink.borrow_mut().push(r)));
        let intervals = |sent: &Rc<RefCell<Vec<WorkerReport>>>| {
            sent.borrow()
                .iter()
                .filter_map(|r| match r {
                    WorkerReport::Interval { record, .. } => Some(record.index),
                    WorkerReport::Watermark { .. } => None,
                })
                .collect::<Vec<_>>()
        };
        let ms = Duration::from_millis;
        recorder.step_ok(0, ms(1), start + ms(10));
        recorder.step_ok(0, ms(1), start + INTERVAL - ms(1));
        assert!(sent.borrow().is_empty(), "interval 0 has not ended");
        recorder.step_ok(0, ms(1), start + INTERVAL);
        assert_eq!(intervals(&sent), [0]);
        // Moving to interval 3 sends interval 1; interval 2 had nothing and is not sent.
        recorder.iteration(0, ms(2), true, start + INTERVAL * 3 + ms(5));
        assert_eq!(intervals(&sent), [0, 1]);
        recorder.event("agent_started", ms(3), 1, start + INTERVAL * 3 + ms(900));
        assert_eq!(intervals(&sent), [0, 1], "still interval 3");
        recorder.finish();
        assert_eq!(intervals(&sent), [0, 1, 3]);
    }
}
