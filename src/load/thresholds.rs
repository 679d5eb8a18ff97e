//! Pass/fail rules over a load run's measurements: `p95 < 300ms`, `error_rate < 0.1%`,
//! `lost_messages == 0`, evaluated once at the end of the run.
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
    fn holds<T: PartialOrd>(self, measured: T, bound: T) -> bool {
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

fn trim_decimal(v: f64) -> String {
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

/// One measured thing a rule is evaluated against (a step or the whole run).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Measured {
    /// Latencies in microseconds, `None` when nothing succeeded.
    pub latency: Option<LatencyStats>,
    pub count: u64,
    pub errors: u64,
    /// Global only.
    pub throughput_per_s: f64,
    pub dropped: u64,
    pub lost_messages: u64,
    pub misdelivered_events: u64,
}

/// Quantile lookup over a histogram, abstracted so rules can be tested without one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatencyStats {
    pub min: u64,
    pub max: u64,
    pub mean: f64,
    /// Value at each quantile in thousandths, filled by the caller for the rules in use.
    quantiles: [(u16, u64); 16],
    n: usize,
}

impl LatencyStats {
    /// Stats from a histogram: quantiles are read on demand for the rules given.
    pub fn from_histogram(
        h: &hdrhistogram::Histogram<u64>,
        rules: &[Rule],
    ) -> Option<LatencyStats> {
        if h.is_empty() {
            return None;
        }
        let mut stats = LatencyStats {
            min: h.min(),
            max: h.max(),
            mean: h.mean(),
            quantiles: [(0, 0); 16],
            n: 0,
        };
        for rule in rules {
            if let Metric::Quantile(q) = rule.metric
                && stats.quantile(q).is_none()
                && stats.n < stats.quantiles.len()
            {
                stats.quantiles[stats.n] = (q, h.value_at_quantile(f64::from(q) / 1000.0));
                stats.n += 1;
            }
        }
        Some(stats)
    }

    fn quantile(&self, q: u16) -> Option<u64> {
        self.quantiles[..self.n]
            .iter()
            .find(|(k, _)| *k == q)
            .map(|(_, v)| *v)
    }
}

/// The outcome of one rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub passed: bool,
    /// The measured value in the rule's unit (`412.3ms`, `0.25%`, `3`), or `no data`.
    pub measured: String,
}

impl Rule {
    /// Evaluates the rule. A latency rule over a scope with no successful execution
    /// fails ("no data"): a threshold is a promise that something was measured.
    pub fn evaluate(&self, m: &Measured) -> Evaluation {
        let no_data = || Evaluation {
            passed: false,
            measured: "no data".to_owned(),
        };
        let latency = |f: &dyn Fn(&LatencyStats) -> Option<u64>| -> Evaluation {
            let Bound::Micros(bound) = self.bound else {
                return no_data();
            };
            match m.latency.as_ref().and_then(f) {
                Some(v) => Evaluation {
                    passed: self.op.holds(v, bound),
                    measured: format_micros(v),
                },
                None => no_data(),
            }
        };
        let count = |v: u64| match self.bound {
            Bound::Count(bound) => Evaluation {
                passed: self.op.holds(v, bound),
                measured: v.to_string(),
            },
            _ => no_data(),
        };
        match self.metric {
            Metric::Quantile(q) => latency(&|s| s.quantile(q)),
            Metric::Min => latency(&|s| Some(s.min)),
            Metric::Max => latency(&|s| Some(s.max)),
            Metric::Mean => latency(&|s| Some(s.mean.round() as u64)),
            Metric::ErrorRate => {
                let Bound::Ppm(bound) = self.bound else {
                    return no_data();
                };
                let total = m.count + m.errors;
                if total == 0 {
                    return no_data();
                }
                // Compare exactly: errors / total  op  bound / 1e6.
                let lhs = u128::from(m.errors) * 1_000_000;
                let rhs = u128::from(bound) * u128::from(total);
                Evaluation {
                    passed: self.op.holds(lhs, rhs),
                    measured: format!("{}%", trim_decimal(m.errors as f64 * 100.0 / total as f64)),
                }
            }
            Metric::Errors => count(m.errors),
            Metric::Count => count(m.count),
            Metric::Dropped => count(m.dropped),
            Metric::LostMessages => count(m.lost_messages),
            Metric::MisdeliveredEvents => count(m.misdelivered_events),
            Metric::Throughput => {
                let Bound::MilliPerSecond(bound) = self.bound else {
                    return no_data();
                };
                Evaluation {
                    passed: self.op.holds(m.throughput_per_s * 1000.0, bound as f64),
                    measured: format!("{}/s", trim_decimal(m.throughput_per_s)),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(s: &str) -> Rule {
        s.parse().unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn parses_the_documented_rules() {
        assert_eq!(
            rule("p95 < 300ms"),
            Rule {
                metric: Metric::Quantile(950),
                op: Op::Lt,
                bound: Bound::Micros(300_000)
            }
        );
        assert_eq!(
            rule("error_rate < 0.1%"),
            Rule {
                metric: Metric::ErrorRate,
                op: Op::Lt,
                bound: Bound::Ppm(1_000)
            }
        );
        assert_eq!(
            rule("lost_messages == 0"),
            Rule {
                metric: Metric::LostMessages,
                op: Op::Eq,
                bound: Bound::Count(0)
            }
        );
        assert_eq!(
            rule("misdelivered_events==0").metric,
            Metric::MisdeliveredEvents
        );
        assert_eq!(rule("p99.9 <= 1.5s").bound, Bound::Micros(1_500_000));
        assert_eq!(rule("p99.9 <= 1.5s").metric, Metric::Quantile(999));
        assert_eq!(rule("max < 800us").bound, Bound::Micros(800));
        assert_eq!(rule("error_rate <= 0.001").bound, Bound::Ppm(1_000));
        assert_eq!(
            rule("throughput >= 12.5/s").bound,
            Bound::MilliPerSecond(12_500)
        );
        assert_eq!(rule("p50 >= 2ms").op, Op::Ge);
    }

    #[test]
    fn round_trips_through_display() {
        for s in [
            "p95 < 300ms",
            "error_rate < 0.1%",
            "lost_messages == 0",
            "p99.9 <= 1.5s",
            "max != 800µs",
        ] {
            assert_eq!(rule(s).to_string(), s);
            assert_eq!(rule(&rule(s).to_string()), rule(s));
        }
    }

    #[test]
    fn rejects_bad_rules_with_a_reason() {
        for bad in [
            "p95 300ms",
            "p95 < 300",
            "p0 < 1ms",
            "p101 < 1ms",
            "latency < 3ms",
            "error_rate < 2",
            "errors < 1.5",
            "p95 < -1ms",
        ] {
            let e = bad.parse::<Rule>().expect_err(bad);
            assert!(!e.reason.is_empty(), "{bad}");
        }
    }

    #[test]
    fn evaluates_latency_rates_and_counts() {
        let mut h = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).unwrap();
        for v in 1..=100u64 {
            h.record(v * 10_000).unwrap(); // 10ms .. 1s
        }
        let rules = [rule("p95 < 300ms"), rule("p50 < 600ms")];
        let m = Measured {
            latency: LatencyStats::from_histogram(&h, &rules),
            count: 999,
            errors: 1,
            ..Measured::default()
        };
        let e = rules[0].evaluate(&m);
        assert!(!e.passed);
        assert_eq!(e.measured, "950.271ms");
        assert!(rules[1].evaluate(&m).passed);
        // 1 error in 1000 is 0.1%: `< 0.1%` fails, `<= 0.1%` passes.
        assert!(!rule("error_rate < 0.1%").evaluate(&m).passed);
        assert!(rule("error_rate <= 0.1%").evaluate(&m).passed);
        assert_eq!(rule("error_rate <= 0.1%").evaluate(&m).measured, "0.1%");
        assert!(rule("lost_messages == 0").evaluate(&m).passed);
        let lost = Measured {
            lost_messages: 2,
            ..m
        };
        let e = rule("lost_messages == 0").evaluate(&lost);
        assert_eq!((e.passed, e.measured.as_str()), (false, "2"));
    }

    #[test]
    fn no_data_fails_a_latency_rule() {
        let e = rule("p95 < 300ms").evaluate(&Measured::default());
        assert!(!e.passed);
        assert_eq!(e.measured, "no data");
    }
}
