//! Scenarios left out of a run because they cannot run against its target, shown in
//! every report as *not run* with the reason, never as passed and never missing.
//!
//! The recorder puts them in `summary.json` (and so `report.html`, `summary.md` and
//! `junit.xml`, where they are skipped test cases with the reason); cucumber's own JSON
//! writer never saw them, so they are added to `cucumber.json` (as scenarios whose
//! steps are skipped, the reason as the description) once cucumber has written it.

use std::io;
use std::path::Path;

use cucumber::gherkin;
use serde_json::{Value, json};

/// Why an `@engine` scenario is not run against a stack goldenpath did not start.
pub(crate) const NEEDS_ENGINE: &str = "it needs the container engine (it stops and starts the \
     stack's container), and this run targets a stack goldenpath did not start (a base URL)";

/// One scenario left out, with what the reports need of it.
#[derive(Debug, Clone)]
pub(crate) struct NotRun {
    feature: String,
    uri: String,
    scenario: String,
    line: usize,
    tags: Vec<String>,
    steps: Vec<(String, String, usize)>,
    reason: String,
}

impl NotRun {
    pub(crate) fn new(
        feature: &gherkin::Feature,
        rule: Option<&gherkin::Rule>,
        scenario: &gherkin::Scenario,
        reason: &str,
    ) -> Self {
        let background = feature
            .background
            .iter()
            .chain(rule.and_then(|r| r.background.as_ref()))
            .flat_map(|b| &b.steps);
        NotRun {
            feature: feature.name.clone(),
            uri: super::recorder::feature_key(feature),
            scenario: scenario.name.clone(),
            line: scenario.position.line,
            tags: feature.tags.iter().chain(&scenario.tags).cloned().collect(),
            steps: background
                .chain(&scenario.steps)
                .map(|s| (s.keyword.clone(), s.value.clone(), s.position.line))
                .collect(),
            reason: reason.to_owned(),
        }
    }
}

/// Every scenario of a feature, with its rule.
pub(crate) fn scenarios(
    feature: &gherkin::Feature,
) -> impl Iterator<Item = (Option<&gherkin::Rule>, &gherkin::Scenario)> {
    feature.scenarios.iter().map(|s| (None, s)).chain(
        feature
            .rules
            .iter()
            .flat_map(|r| r.scenarios.iter().map(move |s| (Some(r), s))),
    )
}

/// Add the scenarios to `cucumber.json`, under their features, with skipped steps.
pub(crate) fn add_to_cucumber_json(path: &Path, not_run: &[NotRun]) -> io::Result<()> {
    if not_run.is_empty() {
        return Ok(());
    }
    let text = std::fs::read_to_string(path)?;
    let mut features: Vec<Value> = serde_json::from_str(&text).unwrap_or_default();
    for s in not_run {
        let element = json!({
            "id": format!("{};{}", s.feature, s.scenario).to_lowercase().replace(' ', "-"),
            "keyword": "Scenario",
            "type": "scenario",
            "name": s.scenario,
            "line": s.line,
            "description": format!("not run: {}", s.reason),
            "tags": s.tags.iter().map(|t| json!({"name": format!("@{t}"), "line": s.line})).collect::<Vec<_>>(),
            "steps": s.steps.iter().map(|(keyword, name, line)| json!({
                "keyword": keyword,
                "name": name,
                "line": line,
                "result": {"status": "skipped"},
            })).collect::<Vec<_>>(),
        });
        let feature = match features
            .iter_mut()
            .position(|f| f["uri"] == s.uri.as_str() || f["name"] == s.feature.as_str())
        {
            Some(i) => &mut features[i],
            None => {
                features.push(json!({
                    "uri": s.uri,
                    "id": s.feature.to_lowercase().replace(' ', "-"),
                    "keyword": "Feature",
                    "name": s.feature,
                    "line": 1,
                    "description": "",
                    "tags": [],
                    "elements": [],
                }));
                features.last_mut().expect("pushed above")
            }
        };
        match feature["elements"].as_array_mut() {
            Some(elements) => elements.push(element),
            None => feature["elements"] = json!([element]),
        }
    }
    let text = serde_json::to_string_pretty(&features).map_err(io::Error::other)?;
    std::fs::write(path, text)
}
