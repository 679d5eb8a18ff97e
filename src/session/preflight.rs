//! Preflight: every feature file parses and every step has a definition, checked
//! before any container starts.
//!
//! cucumber itself reports an unknown step as *skipped* and a syntax error as a
//! parser event in the middle of a run; a person writing a feature wants to hear
//! about both at once, with `file:line` and the closest step that does exist.

use std::fmt;
use std::path::{Path, PathBuf};

use cucumber::feature::Ext as _;
use cucumber::gherkin::{self, GherkinEnv};
use include_dir::{Dir, include_dir};

/// The features that ship with goldenpath: the catalogue that "closest known step"
/// suggestions come from, whatever features a team runs.
static BUNDLED_FEATURES: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/features");

/// Why the feature files cannot be run: reported before any container starts.
#[derive(Debug, thiserror::Error)]
pub enum PreflightError {
    /// A path that does not exist, or a directory with no `.feature` file in it.
    #[error("no feature files found at {}", .0.display())]
    NoFeatures(PathBuf),
    /// A feature file or directory that cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A feature file that is not valid Gherkin.
    #[error("{}:{line}:{col}: Gherkin syntax error: expected {expected}", path.display())]
    Syntax {
        /// The feature file.
        path: PathBuf,
        /// Line of the error (1-based; 0 when the parser did not say).
        line: usize,
        /// Column of the error (1-based; 0 when the parser did not say).
        col: usize,
        /// What the parser expected there, in words.
        expected: String,
    },
    /// A scenario outline whose examples cannot be expanded.
    #[error("{}: {message}", path.display())]
    Outline {
        /// The feature file.
        path: PathBuf,
        /// What is wrong with the outline, as the parser says it.
        message: String,
    },
    /// Steps that have no step definition, or more than one; every one of them.
    #[error("{}", UnknownStepsDisplay(.0))]
    UnknownSteps(Vec<UnknownStep>),
}

/// A step that no definition matches (or that more than one matches).
#[derive(Debug, Clone)]
pub struct UnknownStep {
    /// The feature file.
    pub path: PathBuf,
    /// Line of the step in the file (1-based).
    pub line: usize,
    /// The step's keyword as written (`Given `, `When `, ...).
    pub keyword: String,
    /// The step's text after the keyword.
    pub text: String,
    /// True when several definitions match (false: none does).
    pub ambiguous: bool,
    /// The closest step text that does have a definition, with where it is used.
    pub closest: Option<(String, String)>,
}

struct UnknownStepsDisplay<'a>(&'a [UnknownStep]);

impl fmt::Display for UnknownStepsDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        write!(
            f,
            "{n} step{} without a definition",
            if n == 1 { "" } else { "s" }
        )?;
        for step in self.0 {
            let what = if step.ambiguous {
                "matches more than one step definition"
            } else {
                "no step definition matches"
            };
            write!(
                f,
                "\n  {}:{}: {what}: {} {}",
                step.path.display(),
                step.line,
                step.keyword.trim(),
                step.text
            )?;
            if let Some((text, place)) = &step.closest {
                write!(f, "\n      closest known step: {text}   ({place})")?;
            }
        }
        Ok(())
    }
}

/// Every `.feature` file under `paths` (files or directories), sorted.
pub fn feature_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, PreflightError> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            collect_dir(path, &mut files)?;
        } else if path.exists() {
            files.push(path.clone());
        } else {
            return Err(PreflightError::NoFeatures(path.clone()));
        }
    }
    files.sort();
    if files.is_empty() {
        let shown = paths.first().cloned().unwrap_or_default();
        return Err(PreflightError::NoFeatures(shown));
    }
    Ok(files)
}

fn collect_dir(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), PreflightError> {
    let entries = std::fs::read_dir(dir).map_err(|source| PreflightError::Read {
        path: dir.to_owned(),
        source,
    })?;
    for entry in entries {
        let path = entry
            .map_err(|source| PreflightError::Read {
                path: dir.to_owned(),
                source,
            })?
            .path();
        // Hidden entries are skipped: a Kubernetes ConfigMap volume holds every file
        // twice more, under `..data/` and `..<timestamp>/`, beside the visible links.
        if path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        {
            continue;
        }
        if path.is_dir() {
            collect_dir(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "feature") {
            out.push(path);
        }
    }
    Ok(())
}

/// Parse one feature file and expand its outlines.
pub fn parse_feature(path: &Path) -> Result<gherkin::Feature, PreflightError> {
    let text = std::fs::read_to_string(path).map_err(|source| PreflightError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse_feature_text(path, &text)
}

fn parse_feature_text(path: &Path, text: &str) -> Result<gherkin::Feature, PreflightError> {
    let mut feature = gherkin::Feature::parse(text, GherkinEnv::default()).map_err(|e| {
        // gherkin's ParseError displays as "Error at L:C: {expected tokens}".
        let shown = e.to_string();
        let (line, col, expected) = parse_error_parts(&shown);
        PreflightError::Syntax {
            path: path.to_owned(),
            line,
            col,
            expected,
        }
    })?;
    feature.path = Some(path.to_owned());
    feature
        .expand_examples()
        .map_err(|e| PreflightError::Outline {
            path: path.to_owned(),
            message: e.to_string(),
        })
}

fn parse_error_parts(shown: &str) -> (usize, usize, String) {
    let rest = shown.trim_start_matches("Error at ");
    let (pos, expected) = rest.split_once(": ").unwrap_or((rest, ""));
    let mut nums = pos.split(':').map(|n| n.trim().parse().unwrap_or(0));
    let line = nums.next().unwrap_or(0);
    let col = nums.next().unwrap_or(0);
    let expected = expected
        .trim_matches(|c| c == '{' || c == '}')
        .replace('"', "");
    let expected = if expected.is_empty() {
        "a Feature, Scenario or step keyword".to_owned()
    } else {
        format!("one of {expected}")
    };
    (line, col, expected)
}

/// All steps of a feature with their keyword, including backgrounds and rules.
fn steps_of(feature: &gherkin::Feature) -> impl Iterator<Item = &gherkin::Step> {
    let background = feature.background.iter().flat_map(|b| b.steps.iter());
    let scenarios = feature.scenarios.iter().flat_map(|s| s.steps.iter());
    let rules = feature.rules.iter().flat_map(|r| {
        r.background
            .iter()
            .flat_map(|b| b.steps.iter())
            .chain(r.scenarios.iter().flat_map(|s| s.steps.iter()))
    });
    background.chain(scenarios).chain(rules)
}

/// Parse every feature under `paths` and check that each step has exactly one
/// definition in `W`'s step collection.
pub fn check<W: cucumber::World + cucumber::codegen::WorldInventory + std::fmt::Debug>(
    paths: &[PathBuf],
) -> Result<Vec<gherkin::Feature>, PreflightError> {
    let files = feature_files(paths)?;
    let features = files
        .iter()
        .map(|p| parse_feature(p))
        .collect::<Result<Vec<_>, _>>()?;
    let collection = W::collection();

    let mut unknown = Vec::new();
    for feature in &features {
        let path = feature.path.clone().unwrap_or_default();
        for step in steps_of(feature) {
            let found = collection.find(step);
            if matches!(found, Ok(Some(_))) {
                continue;
            }
            unknown.push(UnknownStep {
                path: path.clone(),
                line: step.position.line,
                keyword: step.keyword.clone(),
                text: step.value.clone(),
                ambiguous: found.is_err(),
                closest: None,
            });
        }
    }
    if unknown.is_empty() {
        return Ok(features);
    }

    // Suggestions come from steps that do match (those of the bundled features and of
    // the features being checked), then from every step definition of `W`: a team's
    // own step may be used by no feature of this run.
    let mut catalogue = known_steps::<W>(&collection, &features);
    catalogue.extend(definitions::<W>());
    for step in &mut unknown {
        step.closest = closest(&step.text, &catalogue);
    }
    Err(PreflightError::UnknownSteps(unknown))
}

fn known_steps<W>(
    collection: &cucumber::step::Collection<W>,
    checked: &[gherkin::Feature],
) -> Vec<(String, String)> {
    let bundled = BUNDLED_FEATURES.files().filter_map(|file| {
        let name = Path::new("features").join(file.path());
        let text = file.contents_utf8()?;
        parse_feature_text(&name, text).ok()
    });
    let mut out: Vec<(String, String)> = Vec::new();
    for feature in bundled.chain(checked.iter().cloned()) {
        let path = feature.path.clone().unwrap_or_default();
        for step in steps_of(&feature) {
            if matches!(collection.find(step), Ok(Some(_)))
                && !out.iter().any(|(text, _)| *text == step.value)
            {
                let place = format!("{}:{}", path.display(), step.position.line);
                out.push((step.value.clone(), place));
            }
        }
    }
    out
}

/// Every step definition of `W`, as a readable template (each parameter `…`) with the
/// place of its function.
fn definitions<W: cucumber::codegen::WorldInventory>() -> Vec<(String, String)> {
    use cucumber::codegen::{StepConstructor, inventory};
    let mut out = Vec::new();
    let mut add = |(loc, regex, _): (cucumber::step::Location, cucumber::codegen::LazyRegex, _)| {
        let place = format!("{}:{}", loc.path, loc.line);
        out.push((template(regex().as_str()), place));
    };
    inventory::iter::<W::Given>
        .into_iter()
        .for_each(|s| add(s.inner()));
    inventory::iter::<W::When>
        .into_iter()
        .for_each(|s| add(s.inner()));
    inventory::iter::<W::Then>
        .into_iter()
        .for_each(|s| add(s.inner()));
    out
}

/// A step definition's regex as a person reads it: anchors dropped, escapes undone,
/// each top-level group (a parameter) shown as `"…"`.
fn template(regex: &str) -> String {
    let body = regex.strip_prefix('^').unwrap_or(regex);
    let body = body.strip_suffix('$').unwrap_or(body);
    let mut out = String::new();
    let mut depth = 0usize;
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(next) = chars.next()
                    && depth == 0
                {
                    out.push(next);
                }
            }
            '(' => {
                if depth == 0 {
                    out.push_str("\"…\"");
                }
                depth += 1;
            }
            ')' => depth = depth.saturating_sub(1),
            c if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// Quoted arguments compare as equal, whatever they say: `"Eve"` and `"…"` alike.
fn shape(text: &str) -> String {
    let mut out = String::new();
    let mut quoted = false;
    for c in text.chars() {
        if c == '"' {
            if !quoted {
                out.push_str("\"…\"");
            }
            quoted = !quoted;
        } else if !quoted {
            out.push(c);
        }
    }
    out
}

fn closest(text: &str, catalogue: &[(String, String)]) -> Option<(String, String)> {
    let text = shape(text);
    // `max_by` keeps the last of equals: reversed, the first wins, so a step as a feature
    // uses it comes before its definition's template.
    catalogue
        .iter()
        .rev()
        .map(|(known, place)| {
            let score = strsim::normalized_levenshtein(&text, &shape(known));
            (score, known, place)
        })
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, known, place)| (known.clone(), place.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_configmap_volume_yields_each_feature_once() {
        // The layout the kubelet writes: visible links into `..data`, which links to a
        // timestamped directory holding the files.
        let dir = tempfile::tempdir().unwrap();
        let stamped = dir.path().join("..2026_12_04_02_00_00.1");
        std::fs::create_dir(&stamped).unwrap();
        std::fs::write(stamped.join("golden_path.feature"), "Feature: x\n").unwrap();
        std::os::unix::fs::symlink("..2026_12_04_02_00_00.1", dir.path().join("..data")).unwrap();
        std::os::unix::fs::symlink(
            "..data/golden_path.feature",
            dir.path().join("golden_path.feature"),
        )
        .unwrap();
        let files = feature_files(&[dir.path().to_owned()]).unwrap();
        assert_eq!(files, [dir.path().join("golden_path.feature")]);
    }

    #[test]
    fn parse_error_positions_are_extracted() {
        let (line, col, expected) =
            parse_error_parts(r#"Error at 4:5: {"Scenario", "Background"}"#);
        assert_eq!((line, col), (4, 5));
        assert!(expected.contains("Scenario"), "{expected}");
    }

    #[test]
    fn closest_prefers_the_most_similar_text() {
        let catalogue = vec![
            ("the health endpoint is asked".to_owned(), "a:1".to_owned()),
            (
                "\"Alice\" receives the five agent events in order".to_owned(),
                "b:2".to_owned(),
            ),
        ];
        let (text, place) = closest("\"Alice\" receive five agent events", &catalogue).unwrap();
        assert_eq!(place, "b:2", "{text}");
    }

    #[test]
    fn a_definition_reads_as_a_template_and_quoted_arguments_do_not_count() {
        // What `#[then(expr = "{string}'s newest thread is titled {string}")]` compiles to.
        let regex = r#"^(?:"([^"\\]*(\\.[^"\\]*)*)"|'([^'\\]*(\\.[^'\\]*)*)')'s newest thread is titled (?:"([^"\\]*(\\.[^"\\]*)*)"|'([^'\\]*(\\.[^'\\]*)*)')$"#;
        let shown = template(regex);
        assert_eq!(shown, "\"…\"'s newest thread is titled \"…\"");
        let catalogue = vec![
            (
                "\"Alice\" has started a thread titled \"Groceries\"".to_owned(),
                "features/threads.feature:8".to_owned(),
            ),
            (shown, "tests/golden.rs:16".to_owned()),
        ];
        let (_, place) = closest("\"Eve\"'s newest thred is titled \"Hello\"", &catalogue).unwrap();
        assert_eq!(place, "tests/golden.rs:16");
    }
}
