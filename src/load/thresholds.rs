//! Pass/fail rules over a load run's measurements, evaluated once at the end of the run;
//! the rules themselves (their text, typed) are `crate::rule`.

use crate::rule::trim_decimal;
pub use crate::rule::{Bound, Metric, Rule, RuleError, format_micros};

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
    use crate::rule::Op;

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
