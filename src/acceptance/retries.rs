//! Retried scenarios in `cucumber.json`: cucumber's JSON writer appends the steps of
//! every attempt to the scenario's one element, so a scenario that failed and then passed
//! would read as failed to every tool that reads the file. Once the run is over, the
//! element of a scenario whose last attempt passed keeps that attempt's steps only; its
//! earlier failures are in `summary.json`, `report.html` and `junit.xml`
//! (`<flakyFailure>`). A scenario that failed every time is left as written: failed.

use std::io;
use std::path::Path;

use cucumber::gherkin;
use serde_json::Value;

use crate::summary::FeatureResult;

/// Trims, in `path`, the elements of the flaky scenarios of `results` to their last
/// attempt (the last as many steps as the scenario and its background have).
pub(crate) fn keep_last_attempts(
    path: &Path,
    features: &[gherkin::Feature],
    results: &[FeatureResult],
) -> io::Result<()> {
    let flaky: Vec<(&str, usize)> = results
        .iter()
        .flat_map(|f| {
            f.scenarios
                .iter()
                .filter(|s| s.flaky)
                .map(move |s| (f.path.as_str(), s.line))
        })
        .collect();
    if flaky.is_empty() {
        return Ok(());
    }
    let text = std::fs::read_to_string(path)?;
    let mut json: Vec<Value> = serde_json::from_str(&text).map_err(io::Error::other)?;
    for (uri, line) in flaky {
        let Some((background, steps)) = step_counts(features, uri, line) else {
            continue;
        };
        // cucumber writes the path relative to the working directory.
        let Some(feature) = json.iter_mut().find(|f| {
            f["uri"]
                .as_str()
                .is_some_and(|u| u == uri || uri.ends_with(&format!("/{u}")))
        }) else {
            continue;
        };
        for element in feature["elements"].as_array_mut().into_iter().flatten() {
            if element["line"].as_u64() != Some(line as u64) {
                continue;
            }
            let keep = match element["type"].as_str() {
                Some("background") => background,
                _ => steps,
            };
            if let Some(all) = element["steps"].as_array_mut() {
                let drop = all.len().saturating_sub(keep);
                all.drain(..drop);
            }
        }
    }
    let text = serde_json::to_string_pretty(&json).map_err(io::Error::other)?;
    std::fs::write(path, text)
}

/// The background's and the scenario's own step counts of the scenario at `line`.
fn step_counts(features: &[gherkin::Feature], uri: &str, line: usize) -> Option<(usize, usize)> {
    let feature = features
        .iter()
        .find(|f| crate::acceptance::recorder::feature_key(f) == uri)?;
    let background = feature.background.as_ref().map_or(0, |b| b.steps.len());
    if let Some(s) = feature.scenarios.iter().find(|s| s.position.line == line) {
        return Some((background, s.steps.len()));
    }
    feature.rules.iter().find_map(|r| {
        let s = r.scenarios.iter().find(|s| s.position.line == line)?;
        let rule_background = r.background.as_ref().map_or(0, |b| b.steps.len());
        Some((background + rule_background, s.steps.len()))
    })
}
