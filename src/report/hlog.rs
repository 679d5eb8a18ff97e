//! Reading the HdrHistogram interval logs (`.hlog`) that a load run leaves beside its
//! `summary.json`, to plot full latency distributions instead of six summary percentiles.
//!
//! A file holds the per-interval histograms of one measured thing (values in µs). Its
//! intervals are added into one histogram; tags, if any, are ignored.

use std::path::{Component, Path};

use base64::Engine as _;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};

/// Reads `rel` (relative to `run_dir`) and adds up all its intervals.
///
/// Errors are strings for the page to show next to the chart: a broken `.hlog` makes the
/// chart fall back to the summary percentiles, it never stops a report from being written.
pub(crate) fn read_total(run_dir: &Path, rel: &str) -> Result<Histogram<u64>, String> {
    let rel_path = Path::new(rel);
    if !rel_path
        .components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(format!("{rel}: not a path inside the run directory"));
    }
    let path = run_dir.join(rel_path);
    let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut total = Histogram::<u64>::new(3).map_err(|e| format!("{}: {e:?}", path.display()))?;
    let mut deserializer = Deserializer::new();
    let mut intervals = 0usize;
    for entry in IntervalLogIterator::new(&bytes) {
        let entry =
            entry.map_err(|e| format!("{}: unreadable interval log: {e:?}", path.display()))?;
        let LogEntry::Interval(interval) = entry else {
            continue;
        };
        let encoded = base64::engine::general_purpose::STANDARD
            .decode(interval.encoded_histogram())
            .map_err(|e| format!("{}: interval {intervals}: {e}", path.display()))?;
        let h: Histogram<u64> = deserializer
            .deserialize(&mut encoded.as_slice())
            .map_err(|e| format!("{}: interval {intervals}: {e:?}", path.display()))?;
        total
            .add(&h)
            .map_err(|e| format!("{}: interval {intervals}: {e:?}", path.display()))?;
        intervals += 1;
    }
    if intervals == 0 {
        return Err(format!("{}: no intervals", path.display()));
    }
    Ok(total)
}
