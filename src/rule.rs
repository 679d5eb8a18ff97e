//! A threshold rule's text, typed: `p95 < 300ms`, `error_rate < 0.1%`, `lost_messages
//! == 0`. A leaf: the load mode evaluates rules (`load::thresholds`), the history page
//! draws them (`report::history`), both from this one reading of the text.
//!
//! A rule is typed when the configuration is read ([`Rule`] implements `FromStr` and
//! serde), so a misspelt metric or unit is a configuration error, not a silent pass.
//! Bounds are integers (microseconds, parts per million, counts, milli-per-second) so that
//! the configuration stays `Eq`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What a rule measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Metric {
    /// A latency quantile (`p50`, `p95`, `p99.9`): the value is the quantile in
    /// thousandths (`p99.9` is 999).
    Quantile(u16),
    Min,
    Max,
    Mean,
    /// Failed executions / executions (iterations globally, the step's executions when scoped).
    ErrorRate,
    /// Failed executions, as a count.
    Errors,
    /// Completed executions, as a count.
    Count,
    /// Completed iterations per second of measured run time (global only).
    Throughput,
    /// Open model: scheduled iterations that found no free user (global only).
    Dropped,
    /// Acknowledged messages missing at the end (global only).
    LostMessages,
    /// Agent events delivered to a user that did not start the run (global only).
    MisdeliveredEvents,
}

impl Metric {
    fn kind(self) -> ValueKind {
        match self {
            Metric::Quantile(_) | Metric::Min | Metric::Max | Metric::Mean => ValueKind::Latency,
            Metric::ErrorRate => ValueKind::Ratio,
            Metric::Throughput => ValueKind::PerSecond,
            Metric::Errors
            | Metric::Count
            | Metric::Dropped
            | Metric::LostMessages
            | Metric::MisdeliveredEvents => ValueKind::Count,
        }
    }

    /// Whether the metric can be scoped to one step.
    pub fn step_scoped(self) -> bool {
        matches!(
            self,
            Metric::Quantile(_)
                | Metric::Min
                | Metric::Max
                | Metric::Mean
                | Metric::ErrorRate
                | Metric::Errors
                | Metric::Count
        )
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Metric::Quantile(q) if q.is_multiple_of(10) => write!(f, "p{}", q / 10),
            Metric::Quantile(q) => write!(f, "p{}.{}", q / 10, q % 10),
            Metric::Min => f.write_str("min"),
            Metric::Max => f.write_str("max"),
            Metric::Mean => f.write_str("mean"),
            Metric::ErrorRate => f.write_str("error_rate"),
            Metric::Errors => f.write_str("errors"),
            Metric::Count => f.write_str("count"),
            Metric::Throughput => f.write_str("throughput"),
            Metric::Dropped => f.write_str("dropped"),
            Metric::LostMessages => f.write_str("lost_messages"),
            Metric::MisdeliveredEvents => f.write_str("misdelivered_events"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ValueKind {
    Latency,
    Ratio,
    Count,
    PerSecond,
}

/// A comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl Op {
    pub(crate) fn holds<T: PartialOrd>(self, measured: T, bound: T) -> bool {
        match self {
            Op::Lt => measured < bound,
            Op::Le => measured <= bound,
            Op::Gt => measured > bound,
            Op::Ge => measured >= bound,
            Op::Eq => measured == bound,
            Op::Ne => measured != bound,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Eq => "==",
            Op::Ne => "!=",
        }
    }
}

/// The right-hand side of a rule, in the metric's integer unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    Micros(u64),
    /// A ratio in parts per million (`0.1%` is 1000).
    Ppm(u64),
    Count(u64),
    /// Per second, in thousandths (`12.5/s` is 12500).
    MilliPerSecond(u64),
}

/// A parsed rule such as `p95 < 300ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub metric: Metric,
    pub op: Op,
    pub bound: Bound,
}

/// Why a rule could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid threshold rule {rule:?}: {reason}")]
pub struct RuleError {
    pub rule: String,
    pub reason: String,
}

impl FromStr for Rule {
    type Err = RuleError;

    fn from_str(s: &str) -> Result<Rule, RuleError> {
        let err = |reason: &str| RuleError {
            rule: s.to_owned(),
            reason: reason.to_owned(),
        };
        let text = s.trim();
        let (at, op_text) = ["<=", ">=", "==", "!=", "<", ">"]
            .iter()
            .filter_map(|op| text.find(op).map(|i| (i, *op)))
            .min_by_key(|(i, op)| (*i, std::cmp::Reverse(op.len())))
            .ok_or_else(|| {
                err("expected `<metric> <op> <value>` with op one of < <= > >= == !=")
            })?;
        let op = match op_text {
            "<" => Op::Lt,
            "<=" => Op::Le,
            ">" => Op::Gt,
            ">=" => Op::Ge,
            "==" => Op::Eq,
            _ => Op::Ne,
        };
        let metric = parse_metric(text[..at].trim()).ok_or_else(|| {
            err("unknown metric; expected p50/p90/p95/p99/p99.9 (any pNN), min, max, mean, \
                 error_rate, errors, count, throughput, dropped, lost_messages, misdelivered_events")
        })?;
        let value = text[at + op_text.len()..].trim();
        let bound = parse_bound(metric.kind(), value).ok_or_else(|| {
            err(match metric.kind() {
                ValueKind::Latency => "expected a duration such as 300ms, 1.5s, 800us",
                ValueKind::Ratio => "expected a percentage (0.1%) or a fraction (0.001)",
                ValueKind::Count => "expected a whole number",
                ValueKind::PerSecond => "expected a rate such as 100/s or 100",
            })
        })?;
        Ok(Rule { metric, op, bound })
    }
}

fn parse_metric(s: &str) -> Option<Metric> {
    Some(match s {
        "min" => Metric::Min,
        "max" => Metric::Max,
        "mean" | "avg" => Metric::Mean,
        "error_rate" => Metric::ErrorRate,
        "errors" => Metric::Errors,
        "count" | "iterations" => Metric::Count,
        "throughput" | "rps" => Metric::Throughput,
        "dropped" => Metric::Dropped,
        "lost_messages" => Metric::LostMessages,
        "misdelivered_events" => Metric::MisdeliveredEvents,
        _ => {
            let q = s.strip_prefix('p')?;
            let thousandths = parse_fixed(q, 1)?;
            if thousandths == 0 || thousandths > 1000 {
                return None;
            }
            Metric::Quantile(u16::try_from(thousandths).ok()?)
        }
    })
}

/// Parses a non-negative decimal into an integer scaled by 10^`decimals`
/// (`parse_fixed("99.9", 1) == Some(999)`); rejects more decimals than that.
fn parse_fixed(s: &str, decimals: u32) -> Option<u64> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if frac.len() > decimals as usize {
        return None;
    }
    let int: u64 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let mut frac_val: u64 = if frac.is_empty() {
        0
    } else {
        frac.parse().ok()?
    };
    frac_val *= 10u64.pow(decimals - frac.len() as u32);
    int.checked_mul(10u64.pow(decimals))?.checked_add(frac_val)
}

fn parse_bound(kind: ValueKind, v: &str) -> Option<Bound> {
    match kind {
        ValueKind::Latency => {
            let (num, scale) = [
                ("us", 1u64),
                ("µs", 1),
                ("ms", 1_000),
                ("s", 1_000_000),
                ("m", 60_000_000),
            ]
            .iter()
            .find_map(|(unit, scale)| v.strip_suffix(unit).map(|n| (n.trim(), *scale)))?;
            // Up to three decimals of the unit (1.5ms, 0.25s).
            let thousandths = parse_fixed(num, 3)?;
            Some(Bound::Micros(thousandths.checked_mul(scale)? / 1000))
        }
        ValueKind::Ratio => match v.strip_suffix('%') {
            Some(pct) => {
                // 1% is 10_000 ppm: four decimals of a percent are whole ppm.
                let ppm = parse_fixed(pct.trim(), 4)?;
                (ppm <= 1_000_000).then_some(Bound::Ppm(ppm))
            }
            None => {
                let ppm = parse_fixed(v, 6)?;
                (ppm <= 1_000_000).then_some(Bound::Ppm(ppm))
            }
        },
        ValueKind::Count => v.parse().ok().map(Bound::Count),
        ValueKind::PerSecond => {
            let n = v.strip_suffix("/s").unwrap_or(v).trim();
            Some(Bound::MilliPerSecond(parse_fixed(n, 3)?))
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {}",
            self.metric,
            self.op.as_str(),
            BoundDisplay(self.bound)
        )
    }
}

struct BoundDisplay(Bound);

impl fmt::Display for BoundDisplay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Bound::Micros(us) => f.write_str(&format_micros(us)),
            Bound::Ppm(ppm) => write!(f, "{}%", trim_decimal(ppm as f64 / 10_000.0)),
            Bound::Count(n) => write!(f, "{n}"),
            Bound::MilliPerSecond(m) => write!(f, "{}/s", trim_decimal(m as f64 / 1000.0)),
        }
    }
}

pub(crate) fn trim_decimal(v: f64) -> String {
    let s = format!("{v:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_owned()
}

/// `412µs`, `3.2ms`, `1.25s`: a human-readable latency.
pub fn format_micros(us: u64) -> String {
    if us < 1_000 {
        format!("{us}µs")
    } else if us < 1_000_000 {
        format!("{}ms", trim_decimal(us as f64 / 1_000.0))
    } else {
        format!("{}s", trim_decimal(us as f64 / 1_000_000.0))
    }
}

impl Serialize for Rule {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Rule {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Rule, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}
