//! A cucumber writer that records the run as typed results (`summary::FeatureResult`),
//! composed with the terminal, JUnit and Cucumber JSON writers through `tee`.
//!
//! It keeps what has happened so far in a shared [`Record`], so that a run cut short
//! (Ctrl-C, a crash of the stack) still writes every result it had.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use cucumber::event::{
    self, Cucumber, Feature, Retries, RetryableScenario, Rule, Scenario, StepError,
};
use cucumber::{Event, gherkin, parser};

use crate::summary::{Attempt, FeatureResult, ScenarioResult, Status, StepResult};

/// The results recorded so far, shared between the writer, the hooks and the runner.
#[derive(Debug, Default, Clone)]
pub struct Record(Arc<Mutex<RecordInner>>);

#[derive(Debug, Default)]
struct RecordInner {
    features: Vec<FeatureResult>,
    /// (feature path or name, scenario line) → where that scenario is in `features`.
    index: HashMap<(String, usize), (usize, usize)>,
    starts: HashMap<(String, usize), SystemTime>,
    step_starts: HashMap<(String, usize, usize), SystemTime>,
    parse_errors: Vec<String>,
    /// Log tails attached by the after-scenario hook, by scenario key.
    logs: HashMap<(String, usize), (String, String)>,
}

/// How the record keys a feature: its path, or its name when it has none.
pub(crate) fn feature_key(feature: &gherkin::Feature) -> String {
    feature
        .path
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| feature.name.clone())
}

/// A panic payload as the text a person should read.
pub fn panic_message(info: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = info.downcast_ref::<String>() {
        s.clone()
    } else if let Some(s) = info.downcast_ref::<&str>() {
        (*s).to_owned()
    } else {
        "the step panicked with a non-text payload".to_owned()
    }
}

fn step_error_message(err: &StepError) -> String {
    match err {
        StepError::NotFound => "no step definition matches this step".to_owned(),
        StepError::AmbiguousMatch(e) => format!("more than one step definition matches: {e}"),
        StepError::Panic(info) => panic_message(info.as_ref()),
    }
}

fn micros_between(from: Option<SystemTime>, to: SystemTime) -> u64 {
    from.and_then(|f| to.duration_since(f).ok())
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

impl RecordInner {
    /// Where `feature` is in `features`, adding it on first sight.
    fn feature_index(&mut self, feature: &gherkin::Feature) -> usize {
        let key = feature_key(feature);
        match self.features.iter().position(|f| f.path == key) {
            Some(f) => f,
            None => {
                self.features.push(FeatureResult {
                    name: feature.name.clone(),
                    path: key,
                    scenarios: Vec::new(),
                });
                self.features.len() - 1
            }
        }
    }
}

/// A scenario's result before anything happened to it: passed, no steps yet.
fn scenario_result(feature: &gherkin::Feature, scenario: &gherkin::Scenario) -> ScenarioResult {
    ScenarioResult {
        name: scenario.name.clone(),
        line: scenario.position.line,
        tags: feature
            .tags
            .iter()
            .chain(&scenario.tags)
            .map(|t| format!("@{t}"))
            .collect(),
        status: Status::Passed,
        duration_us: 0,
        steps: Vec::new(),
        stack_log_tail: None,
        stack_log_file: None,
        not_run: None,
        attempts: Vec::new(),
        flaky: false,
    }
}

impl Record {
    fn lock(&self) -> std::sync::MutexGuard<'_, RecordInner> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The features recorded so far, with any log tails attached.
    pub fn features(&self) -> Vec<FeatureResult> {
        self.lock().features.clone()
    }

    /// Gherkin files that failed to parse during the run.
    pub fn parse_errors(&self) -> Vec<String> {
        self.lock().parse_errors.clone()
    }

    /// Attach the stack's log tail to a failed scenario (the text, and the file it was
    /// saved to relative to the run directory).
    pub fn attach_log(
        &self,
        feature: &gherkin::Feature,
        scenario: &gherkin::Scenario,
        tail: String,
        file: String,
    ) {
        let key = (feature_key(feature), scenario.position.line);
        let mut inner = self.lock();
        if let Some(&(f, s)) = inner.index.get(&key) {
            let result = &mut inner.features[f].scenarios[s];
            result.stack_log_tail = Some(tail);
            result.stack_log_file = Some(file);
        } else {
            inner.logs.insert(key, (tail, file));
        }
    }

    /// Record a scenario that was left out of the run on purpose, with the reason: it
    /// appears in every report as not run, never as passed and never missing.
    pub fn add_not_run(
        &self,
        feature: &gherkin::Feature,
        rule: Option<&gherkin::Rule>,
        scenario: &gherkin::Scenario,
        reason: &str,
    ) {
        let mut inner = self.lock();
        let f = inner.feature_index(feature);
        let background = feature
            .background
            .iter()
            .chain(rule.and_then(|r| r.background.as_ref()))
            .flat_map(|b| &b.steps);
        let steps = background
            .chain(&scenario.steps)
            .map(|step| StepResult {
                keyword: step.keyword.trim().to_owned(),
                text: step.value.clone(),
                line: step.position.line,
                status: Status::NotRun,
                duration_us: 0,
                error: None,
            })
            .collect();
        inner.features[f].scenarios.push(ScenarioResult {
            status: Status::NotRun,
            steps,
            not_run: Some(reason.to_owned()),
            ..scenario_result(feature, scenario)
        });
    }

    fn on_scenario<W>(
        &self,
        feature: &gherkin::Feature,
        scenario: &gherkin::Scenario,
        ev: Scenario<W>,
        retries: Option<Retries>,
        at: SystemTime,
    ) {
        let fkey = feature_key(feature);
        let key = (fkey.clone(), scenario.position.line);
        let mut inner = self.lock();
        let inner = &mut *inner;
        match ev {
            // A retry (`--retries`): the attempt before it becomes one of the
            // scenario's attempts, and the result starts over in place.
            Scenario::Started
                if retries.is_some_and(|r| r.current > 0) && inner.index.contains_key(&key) =>
            {
                let (f, s) = inner.index[&key];
                let result = &mut inner.features[f].scenarios[s];
                let failed = result.steps.iter().find(|st| st.status == Status::Failed);
                let attempt = Attempt {
                    status: result.status,
                    duration_us: result.duration_us,
                    failed_step: failed.map(|st| format!("{} {}", st.keyword, st.text)),
                    error: failed.and_then(|st| st.error.clone()),
                };
                result.attempts.push(attempt);
                result.status = Status::Passed;
                result.steps.clear();
                result.duration_us = 0;
                inner.starts.insert(key, at);
            }
            Scenario::Started => {
                let f = inner.feature_index(feature);
                let (tail, file) = inner.logs.remove(&key).unzip();
                inner.features[f].scenarios.push(ScenarioResult {
                    stack_log_tail: tail,
                    stack_log_file: file,
                    ..scenario_result(feature, scenario)
                });
                inner
                    .index
                    .insert(key.clone(), (f, inner.features[f].scenarios.len() - 1));
                inner.starts.insert(key, at);
            }
            Scenario::Hook(_, event::Hook::Failed(_, info)) => {
                if let Some(&(f, s)) = inner.index.get(&key) {
                    let result = &mut inner.features[f].scenarios[s];
                    result.status = Status::Failed;
                    result.steps.push(StepResult {
                        keyword: "Hook".to_owned(),
                        text: "setting up the scenario (before/after hook)".to_owned(),
                        line: scenario.position.line,
                        status: Status::Failed,
                        duration_us: 0,
                        error: Some(panic_message(info.as_ref())),
                    });
                }
            }
            Scenario::Hook(..) | Scenario::Log(_) => {}
            Scenario::Background(step, ev) | Scenario::Step(step, ev) => {
                let Some(&(f, s)) = inner.index.get(&key) else {
                    return;
                };
                let skey = (fkey, scenario.position.line, step.position.line);
                let status = match ev {
                    event::Step::Started => {
                        inner.step_starts.insert(skey, at);
                        return;
                    }
                    event::Step::Passed(..) => (Status::Passed, None),
                    event::Step::Skipped => (Status::Skipped, None),
                    event::Step::Failed(_, _, _, err) => {
                        (Status::Failed, Some(step_error_message(&err)))
                    }
                };
                let started = inner.step_starts.remove(&skey);
                let result = &mut inner.features[f].scenarios[s];
                if status.0 == Status::Failed {
                    result.status = Status::Failed;
                } else if status.0 == Status::Skipped && result.status == Status::Passed {
                    result.status = Status::Skipped;
                }
                result.steps.push(StepResult {
                    keyword: step.keyword.trim().to_owned(),
                    text: step.value.clone(),
                    line: step.position.line,
                    status: status.0,
                    duration_us: micros_between(started, at),
                    error: status.1,
                });
            }
            Scenario::Finished => {
                let started = inner.starts.remove(&key);
                if let Some(&(f, s)) = inner.index.get(&key) {
                    let result = &mut inner.features[f].scenarios[s];
                    result.duration_us = micros_between(started, at);
                    result.flaky = result.status == Status::Passed && !result.attempts.is_empty();
                }
            }
        }
    }
}

/// The writer half of [`Record`].
#[derive(Debug, Clone)]
pub struct Recorder {
    record: Record,
}

impl Recorder {
    pub fn new(record: Record) -> Self {
        Self { record }
    }
}

impl<W> cucumber::Writer<W> for Recorder {
    type Cli = cucumber::cli::Empty;

    async fn handle_event(&mut self, event: parser::Result<Event<Cucumber<W>>>, _cli: &Self::Cli) {
        let event = match event {
            Ok(event) => event,
            Err(err) => {
                self.record.lock().parse_errors.push(err.to_string());
                return;
            }
        };
        let (value, meta) = event.split();
        let at = meta.at;
        let Cucumber::Feature(feature, ev) = value else {
            return;
        };
        let (scenario, RetryableScenario { event, retries }) = match ev {
            Feature::Scenario(scenario, ev) => (scenario, ev),
            Feature::Rule(_, Rule::Scenario(scenario, ev)) => (scenario, ev),
            _ => return,
        };
        self.record
            .on_scenario(&feature, &scenario, event, retries, at);
    }
}
