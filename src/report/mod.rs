//! Sign-off reports: the self-contained HTML page, summary.md, and baseline comparison.
//!
//! Everything here reads one [`RunSummary`] (plus the `.hlog` files beside it) and writes
//! files a person or CI reads after the run:
//!
//! | file | written by | for |
//! |---|---|---|
//! | `summary.json` | [`write_reports`] | machines: `goldenpath report`, `goldenpath compare`; schema in `schemas/summary.schema.json` |
//! | `report.html` | [`write_reports`], [`rebuild`] | the person signing off: one file, no network, prints |
//! | `summary.md` | [`write_reports`], [`rebuild`] | `$GITHUB_STEP_SUMMARY` |
//! | `reports/latest` | [`write_reports`] | a symlink to the newest run dir (`latest.txt` where symlinks fail) |
//! | `history.html`, `history.md` | [`history`] | many runs on one page: pass rates, scenario grids, load trends |
//!
//! Invariant: rendering never fails on what is inside the summary (a broken `.hlog` falls
//! back to the summary percentiles, with a note on the page); only I/O on the run directory
//! can fail.

mod charts;
mod compare;
mod format;
mod history;
mod hlog;
mod html;
mod junit;
mod markdown;
mod svg;

use std::fs;
use std::path::{Path, PathBuf};

pub use compare::{
    Change, Comparison, Latency, LatencyDelta, LatencyKind, ScenarioDelta, Tolerance, compare,
};
pub use history::{HISTORY_HTML, HISTORY_MD, History, HistoryOptions, SkippedRun, history};

use crate::summary::RunSummary;

/// File name of the machine-readable record of a run, in the run directory.
pub const SUMMARY_JSON: &str = "summary.json";
/// File name of the self-contained HTML report, in the run directory.
pub const REPORT_HTML: &str = "report.html";
/// File name of the Markdown summary (for `$GITHUB_STEP_SUMMARY`), in the run directory.
pub const SUMMARY_MD: &str = "summary.md";
/// File name of an acceptance run's JUnit XML (for CI), in the run directory.
pub const JUNIT_XML: &str = "junit.xml";

/// Where the files of one run's report are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportPaths {
    /// `<run_dir>/summary.json`.
    pub summary_json: PathBuf,
    /// `<run_dir>/report.html`.
    pub html: PathBuf,
    /// `<run_dir>/summary.md`.
    pub markdown: PathBuf,
    /// `<run_dir>/junit.xml`, for an acceptance run.
    pub junit: Option<PathBuf>,
    /// `reports/latest` (or `reports/latest.txt`) when it was updated; `None` from [`rebuild`].
    pub latest: Option<PathBuf>,
}

/// What can fail while writing or reading reports: only I/O and parsing, never rendering.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A file or directory of the run could not be written (or created).
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A `summary.json` could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A `summary.json` that is not JSON or does not match `RunSummary`.
    #[error("{path} is not a goldenpath summary: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The JSON error, with line and column.
        source: serde_json::Error,
    },
    /// [`history`] found no run it could read among its inputs.
    #[error("{}", history::no_runs_message(.inputs, .skipped))]
    NoRuns {
        /// The directories it was given.
        inputs: Vec<PathBuf>,
        /// Each directory it found but could not take, and why.
        skipped: Vec<SkippedRun>,
    },
}

/// Writes `summary.json`, `report.html`, `summary.md` (and an acceptance run's
/// `junit.xml`) into `run_dir` (created if
/// needed) and points `reports/latest` (the parent of `run_dir`) at it. The one call a
/// runner makes after a run.
#[tracing::instrument(skip(summary), fields(run_id = %summary.run_id))]
pub fn write_reports(run_dir: &Path, summary: &RunSummary) -> Result<ReportPaths, ReportError> {
    fs::create_dir_all(run_dir).map_err(|source| ReportError::Write {
        path: run_dir.to_owned(),
        source,
    })?;
    let json = serde_json::to_string_pretty(summary).expect("a RunSummary always serialises");
    let summary_json = run_dir.join(SUMMARY_JSON);
    write_atomic(&summary_json, format!("{json}\n").as_bytes())?;
    let mut paths = render_into(run_dir, summary)?;
    paths.latest = update_latest(run_dir, &summary.run_id)?;
    tracing::info!(html = %paths.html.display(), "report written");
    Ok(paths)
}

/// Rebuilds `report.html` and `summary.md` from the `summary.json` and `.hlog` files already
/// in `run_dir`, without running anything (`goldenpath report RUN_DIR`). Leaves `latest` alone.
pub fn rebuild(run_dir: &Path) -> Result<ReportPaths, ReportError> {
    let summary = read_summary(&run_dir.join(SUMMARY_JSON))?;
    render_into(run_dir, &summary)
}

/// Reads a `summary.json` (also what `goldenpath compare` loads its two runs with).
pub fn read_summary(path: &Path) -> Result<RunSummary, ReportError> {
    let bytes = fs::read(path).map_err(|source| ReportError::Read {
        path: path.to_owned(),
        source,
    })?;
    serde_json::from_slice(&bytes).map_err(|source| ReportError::Parse {
        path: path.to_owned(),
        source,
    })
}

/// The HTML page as a string. `run_dir` is where `.hlog` files are looked for.
pub fn render_html(summary: &RunSummary, run_dir: Option<&Path>) -> String {
    html::render(summary, run_dir)
}

/// `summary.md` as a string.
pub fn render_markdown(summary: &RunSummary) -> String {
    markdown::render(summary)
}

fn render_into(run_dir: &Path, summary: &RunSummary) -> Result<ReportPaths, ReportError> {
    let html = run_dir.join(REPORT_HTML);
    write_atomic(&html, render_html(summary, Some(run_dir)).as_bytes())?;
    let markdown = run_dir.join(SUMMARY_MD);
    write_atomic(&markdown, render_markdown(summary).as_bytes())?;
    let junit = match summary.kind {
        crate::summary::RunKind::Acceptance => {
            let path = run_dir.join(JUNIT_XML);
            write_atomic(&path, junit::render(summary).as_bytes())?;
            Some(path)
        }
        crate::summary::RunKind::Load => None,
    };
    Ok(ReportPaths {
        summary_json: run_dir.join(SUMMARY_JSON),
        html,
        markdown,
        junit,
        latest: None,
    })
}

/// Writes beside the target and renames over it, so a reader never sees half a file.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let err = |source| ReportError::Write {
        path: path.to_owned(),
        source,
    };
    fs::write(&tmp, bytes).map_err(err)?;
    fs::rename(&tmp, path).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        err(e)
    })
}

/// Points `<parent>/latest` at `run_dir` (a relative symlink, swapped in with a rename so
/// it is never missing), or writes `<parent>/latest.txt` holding the run id where the
/// filesystem has no symlinks.
fn update_latest(run_dir: &Path, run_id: &str) -> Result<Option<PathBuf>, ReportError> {
    let Some(name) = run_dir.file_name() else {
        return Ok(None);
    };
    let parent = match run_dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    #[cfg(unix)]
    {
        let link = parent.join("latest");
        let tmp = parent.join(format!(".latest.{}.tmp", std::process::id()));
        let _ = fs::remove_file(&tmp);
        match std::os::unix::fs::symlink(name, &tmp).and_then(|()| fs::rename(&tmp, &link)) {
            Ok(()) => return Ok(Some(link)),
            Err(e) => {
                let _ = fs::remove_file(&tmp);
                tracing::warn!(error = %e, "cannot symlink {}; writing latest.txt", link.display());
            }
        }
    }
    #[cfg(not(unix))]
    let _ = name;
    let txt = parent.join("latest.txt");
    write_atomic(&txt, format!("{run_id}\n").as_bytes())?;
    Ok(Some(txt))
}
