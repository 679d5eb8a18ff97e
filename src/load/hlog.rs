//! HdrHistogram interval logs (`.hlog`): one file per measured thing, one histogram per
//! second, V2 deflate-compressed: the standard format that HdrHistogram's own tools
//! (`HistogramLogProcessor`, HdrHistogramVisualizer) read, so that runs from many
//! machines can be merged exactly by adding their histograms.
//!
//! Values are microseconds. Interval timestamps are seconds since the run start, which
//! the `BaseTime` and `StartTime` headers give as seconds since the epoch.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use hdrhistogram::Histogram;
use hdrhistogram::serialization::interval_log::{
    IntervalLogIterator, IntervalLogWriterBuilder, LogEntry,
};
use hdrhistogram::serialization::{Deserializer, V2DeflateSerializer};

/// Writes one interval log incrementally.
pub struct HlogWriter {
    out: BufWriter<File>,
    serializer: V2DeflateSerializer,
    path: PathBuf,
}

impl HlogWriter {
    /// Creates the file and writes the headers.
    pub fn create(path: &Path, what: &str, run_start: SystemTime) -> io::Result<HlogWriter> {
        let mut out = BufWriter::new(File::create(path)?);
        let mut serializer = V2DeflateSerializer::new();
        IntervalLogWriterBuilder::new()
            .add_comment(&format!("goldenpath load: {}", what.replace('\n', " ")))
            .add_comment("values in microseconds")
            .add_comment("[Histogram log format version 1.3]")
            .with_start_time(run_start)
            .with_base_time(run_start)
            .begin_log_with(&mut out, &mut serializer)?;
        out.write_all(b"\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\n")?;
        Ok(HlogWriter {
            out,
            serializer,
            path: path.to_owned(),
        })
    }

    /// Appends the histogram of the interval starting `offset` after the run start.
    pub fn write(
        &mut self,
        h: &Histogram<u64>,
        offset: Duration,
        length: Duration,
    ) -> io::Result<()> {
        let mut w =
            IntervalLogWriterBuilder::new().begin_log_with(&mut self.out, &mut self.serializer)?;
        w.write_histogram(h, offset, length, None)
            .map_err(|e| io::Error::other(format!("{e:?}")))
    }

    /// Flushes buffered intervals to the file.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Where the log is written.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// One interval read back from a log.
#[derive(Debug, Clone)]
pub struct Interval {
    /// Seconds since the log's base time.
    pub offset: Duration,
    /// Length of the interval (one second for goldenpath's logs).
    pub length: Duration,
    /// The interval's samples, in µs.
    pub histogram: Histogram<u64>,
}

/// Why a log could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The log file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// The file is not in the interval log format.
    #[error("{path}: not an interval log (parse error at byte {offset})")]
    Parse {
        /// The log file.
        path: PathBuf,
        /// Byte offset in the file where parsing failed.
        offset: usize,
    },
    /// An interval's histogram could not be decoded (bad base64 or encoding) or merged.
    #[error("{path}: bad histogram in interval at {offset:?}: {reason}")]
    Histogram {
        /// The log file.
        path: PathBuf,
        /// Start of the interval, since the log's base time.
        offset: Duration,
        /// What was wrong, as the decoder says it.
        reason: String,
    },
}

/// Reads every interval of a log.
pub fn read(path: &Path) -> Result<Vec<Interval>, ReadError> {
    let bytes = std::fs::read(path).map_err(|source| ReadError::Io {
        path: path.to_owned(),
        source,
    })?;
    let mut deserializer = Deserializer::new();
    let mut out = Vec::new();
    for entry in IntervalLogIterator::new(&bytes) {
        let entry = entry.map_err(|e| match e {
            hdrhistogram::serialization::interval_log::LogIteratorError::ParseError { offset } => {
                ReadError::Parse {
                    path: path.to_owned(),
                    offset,
                }
            }
        })?;
        if let LogEntry::Interval(i) = entry {
            let bad = |reason: String| ReadError::Histogram {
                path: path.to_owned(),
                offset: i.start_timestamp(),
                reason,
            };
            let raw =
                base64_decode(i.encoded_histogram()).ok_or_else(|| bad("invalid base64".into()))?;
            let histogram: Histogram<u64> = deserializer
                .deserialize(&mut io::Cursor::new(raw))
                .map_err(|e| bad(format!("{e:?}")))?;
            out.push(Interval {
                offset: i.start_timestamp(),
                length: i.duration(),
                histogram,
            });
        }
    }
    Ok(out)
}

/// The whole run's histogram of one or more logs (e.g. the same step measured on many
/// machines): the exact sum of all their intervals.
pub fn merge(paths: &[&Path]) -> Result<Histogram<u64>, ReadError> {
    let mut total = super::metrics::histogram();
    for path in paths {
        for i in read(path)? {
            total.add(&i.histogram).map_err(|e| ReadError::Histogram {
                path: path.to_path_buf(),
                offset: i.offset,
                reason: format!("{e:?}"),
            })?;
        }
    }
    Ok(total)
}

fn base64_decode(s: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .ok()
}

/// A file name for a measured thing: `step-03-the-health-endpoint-is-asked.hlog`.
pub fn file_name(prefix: &str, index: Option<usize>, name: &str) -> String {
    let mut slug = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
        if slug.len() >= 60 {
            break;
        }
    }
    let slug = slug.trim_end_matches('-');
    match (index, slug.is_empty()) {
        (Some(i), true) => format!("{prefix}-{i:02}.hlog"),
        (Some(i), false) => format!("{prefix}-{i:02}-{slug}.hlog"),
        (None, true) => format!("{prefix}.hlog"),
        (None, false) => format!("{prefix}-{slug}.hlog"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::metrics::histogram;

    #[test]
    fn round_trip_reads_back_the_same_percentiles() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(file_name(
            "step",
            Some(3),
            "When the health endpoint is asked",
        ));
        assert!(path.ends_with("step-03-when-the-health-endpoint-is-asked.hlog"));
        let start = SystemTime::now();
        let mut whole = histogram();
        let mut w = HlogWriter::create(&path, "When the health endpoint is asked", start).unwrap();
        for second in 0..5u64 {
            let mut h = histogram();
            for i in 1..=1000u64 {
                let v = (i * 7919 + second * 104_729) % 900_000 + 1;
                h.record(v).unwrap();
                whole.record(v).unwrap();
            }
            w.write(&h, Duration::from_secs(second), Duration::from_secs(1))
                .unwrap();
        }
        // An empty second is written too, so logs of many machines line up.
        w.write(&histogram(), Duration::from_secs(5), Duration::from_secs(1))
            .unwrap();
        w.flush().unwrap();

        let intervals = read(&path).unwrap();
        assert_eq!(intervals.len(), 6);
        assert_eq!(intervals[2].offset, Duration::from_secs(2));
        let back = merge(&[&path]).unwrap();
        assert_eq!(back.len(), whole.len());
        for q in [0.5, 0.9, 0.95, 0.99, 0.999, 1.0] {
            assert_eq!(
                back.value_at_quantile(q),
                whole.value_at_quantile(q),
                "q={q}"
            );
        }
        // Two machines' logs merge into the sum.
        let twice = merge(&[&path, &path]).unwrap();
        assert_eq!(twice.len(), 2 * whole.len());
        assert_eq!(twice.value_at_quantile(0.95), whole.value_at_quantile(0.95));

        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("#[StartTime: "));
        assert!(text.contains("#[BaseTime: "));
        assert!(text.contains("\"StartTimestamp\""));
    }
}
