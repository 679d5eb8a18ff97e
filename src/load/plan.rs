//! What a load run executes: the feature files' scenarios selected by a tag expression,
//! outlines expanded, each step resolved once against the World's step definitions.
//!
//! Resolution happens before the run so that an undefined or ambiguous step stops the
//! run before any load is sent, and so that an iteration does no regex matching.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;

use cucumber::gherkin::{self, tagexpr::TagOperation};
use cucumber::tag::Ext as _;

/// The selected scenarios with their steps resolved.
pub struct Plan<W> {
    pub scenarios: Vec<PlannedScenario<W>>,
    /// Every step position of every scenario (background steps included), indexed by
    /// [`PlannedStep::id`].
    pub steps: Vec<StepInfo>,
}

impl<W> fmt::Debug for Plan<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Plan")
            .field(
                "scenarios",
                &self.scenarios.iter().map(|s| &s.name).collect::<Vec<_>>(),
            )
            .field("steps", &self.steps)
            .finish()
    }
}

pub struct PlannedScenario<W> {
    pub name: String,
    /// Background steps first.
    pub steps: Vec<PlannedStep<W>>,
}

/// A step bound to its definition and the context cucumber would pass it.
pub struct PlannedStep<W> {
    pub id: usize,
    pub func: cucumber::Step<W>,
    pub context: cucumber::step::Context,
    /// Virtual users do not run it (`VirtualUser::not_run_under_load`).
    pub not_run: bool,
}

/// A step position, for reports and thresholds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepInfo {
    /// Keyword and text (`When the health endpoint is asked`), made unique within the
    /// run by appending ` (file:line)` when the same text appears twice.
    pub name: String,
    /// The text without keyword.
    pub text: String,
    pub scenario: usize,
    pub location: String,
    /// Why virtual users do not run this step, when they do not.
    pub not_run: Option<&'static str>,
}

impl StepInfo {
    /// Whether a threshold's `step = "..."` designates this step: the name, or the text
    /// with or without keyword.
    pub fn matches(&self, selector: &str) -> bool {
        let selector = selector.trim();
        self.name == selector || self.text == selector || self.keyword_and_text() == selector
    }

    /// The name without the ` (file:line)` that makes it unique.
    pub fn keyword_and_text(&self) -> &str {
        self.name
            .strip_suffix(&format!(" ({})", self.location))
            .unwrap_or(&self.name)
    }
}

/// Why no plan could be made.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// A feature that does not parse, a missing path, or a step without a definition:
    /// the same checks and words as an acceptance run.
    #[error(transparent)]
    Preflight(#[from] crate::session::preflight::PreflightError),
    /// The `--tags` (or profile `tags`) expression does not parse.
    #[error("invalid tag expression {expr:?}: {message}")]
    Tags {
        /// The expression as given.
        expr: String,
        /// What the tag-expression parser objects to.
        message: String,
    },
    /// No scenario of the feature files matches the tag expression.
    #[error("no scenario matches the tag expression {expr:?}")]
    NoScenario {
        /// The expression as given.
        expr: String,
    },
    /// A step that no step definition matches.
    #[error("step {step:?} at {location} has no step definition")]
    Undefined {
        /// Keyword and text of the step.
        step: String,
        /// `file:line` of the step.
        location: String,
    },
    /// A step that several step definitions match.
    #[error("step {step:?} at {location} matches several step definitions: {matches}")]
    Ambiguous {
        /// Keyword and text of the step.
        step: String,
        /// `file:line` of the step.
        location: String,
        /// The matching definitions, as cucumber lists them.
        matches: String,
    },
}

/// Parses a tag expression such as `@load and not @slow`.
pub fn parse_tags(expr: &str) -> Result<TagOperation, PlanError> {
    expr.parse::<TagOperation>().map_err(|e| PlanError::Tags {
        expr: expr.to_owned(),
        message: e.to_string(),
    })
}

impl<W: super::VirtualUser> Plan<W> {
    /// Parses `paths`, keeps the scenarios whose tags (feature, rule and scenario tags
    /// together) satisfy `tags`, and resolves every step in `W::collection()`.
    pub fn build(paths: &[PathBuf], tags: &str) -> Result<Plan<W>, PlanError> {
        let filter = parse_tags(tags)?;
        let collection = W::collection();
        let mut plan = Plan {
            scenarios: Vec::new(),
            steps: Vec::new(),
        };
        for feature in crate::session::preflight::check::<W>(paths)? {
            let path = feature.path.clone().unwrap_or_default();
            let feature_bg: Vec<gherkin::Step> = feature
                .background
                .iter()
                .flat_map(|b| b.steps.clone())
                .collect();
            let mut groups: Vec<(Vec<String>, Vec<gherkin::Step>, &[gherkin::Scenario])> =
                vec![(Vec::new(), feature_bg.clone(), &feature.scenarios)];
            for rule in &feature.rules {
                let mut bg = feature_bg.clone();
                bg.extend(rule.background.iter().flat_map(|b| b.steps.clone()));
                groups.push((rule.tags.clone(), bg, &rule.scenarios));
            }
            for (rule_tags, background, scenarios) in groups {
                for scenario in scenarios {
                    let all_tags: Vec<&String> = feature
                        .tags
                        .iter()
                        .chain(&rule_tags)
                        .chain(&scenario.tags)
                        .collect();
                    if !filter.eval(all_tags.iter().map(|t| t.as_str())) {
                        continue;
                    }
                    let index = plan.scenarios.len();
                    let mut steps = Vec::new();
                    for step in background.iter().chain(&scenario.steps) {
                        let file = path.file_name().map_or_else(
                            || path.display().to_string(),
                            |f| f.to_string_lossy().into_owned(),
                        );
                        let location = format!("{file}:{}", step.position.line);
                        let name = format!("{} {}", step.keyword.trim(), step.value);
                        let (func, _, _, context) = match collection.find(step) {
                            Ok(Some(found)) => found,
                            Ok(None) => {
                                return Err(PlanError::Undefined {
                                    step: name,
                                    location,
                                });
                            }
                            Err(e) => {
                                return Err(PlanError::Ambiguous {
                                    step: name,
                                    location,
                                    matches: e.to_string().replace('\n', " "),
                                });
                            }
                        };
                        let id = plan.steps.len();
                        let not_run = W::not_run_under_load(step);
                        plan.steps.push(StepInfo {
                            name,
                            text: step.value.clone(),
                            scenario: index,
                            location,
                            not_run,
                        });
                        steps.push(PlannedStep {
                            id,
                            func: *func,
                            context,
                            not_run: not_run.is_some(),
                        });
                    }
                    plan.scenarios.push(PlannedScenario {
                        name: scenario.name.clone(),
                        steps,
                    });
                }
            }
        }
        if plan.scenarios.is_empty() {
            return Err(PlanError::NoScenario {
                expr: tags.to_owned(),
            });
        }
        plan.disambiguate_names();
        Ok(plan)
    }
}

impl<W> Plan<W> {
    fn disambiguate_names(&mut self) {
        let mut seen: HashMap<String, usize> = HashMap::new();
        for s in &self.steps {
            *seen.entry(s.name.clone()).or_default() += 1;
        }
        for s in &mut self.steps {
            if seen[&s.name] > 1 {
                s.name = format!("{} ({})", s.name, s.location);
            }
        }
    }
}
