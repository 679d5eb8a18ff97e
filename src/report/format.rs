//! Number and text formatting shared by the HTML page, summary.md and the comparison table.
//!
//! One place decides how a latency or a duration reads, so the three outputs agree.

/// An agent event's name, with how many arrived per run when a run delivers more than
/// one of its kind (`agent_thinking, 2.00 per run`); the percentiles time the first.
pub(crate) fn event_name(d: &crate::summary::Distribution) -> String {
    match d.occurrences {
        Some(n) if d.count > 0 && n > d.count => {
            format!("{}, {:.2} per run", d.name, n as f64 / d.count as f64)
        }
        _ => d.name.clone(),
    }
}

/// A latency in milliseconds with precision that suits its size: `0.42`, `12.3`, `412`.
pub(crate) fn ms(us: u64) -> String {
    ms_f64(us as f64)
}

pub(crate) fn ms_f64(us: f64) -> String {
    let v = us / 1000.0;
    if v < 10.0 {
        format!("{v:.2}")
    } else if v < 100.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.0}")
    }
}

/// A latency with its unit, for places where units are not in a header: `412 ms`.
pub(crate) fn ms_unit(us: u64) -> String {
    format!("{} ms", ms(us))
}

/// A duration for people: `850 µs`, `12.3 ms`, `1.23 s`, `2 m 03 s`.
pub(crate) fn duration_us(us: u64) -> String {
    if us < 1_000 {
        format!("{us} µs")
    } else if us < 1_000_000 {
        format!("{} ms", ms(us))
    } else if us < 60_000_000 {
        let s = us as f64 / 1e6;
        if s < 10.0 {
            format!("{s:.2} s")
        } else {
            format!("{s:.1} s")
        }
    } else {
        let total_s = us / 1_000_000;
        let (h, m, s) = (total_s / 3600, (total_s / 60) % 60, total_s % 60);
        if h > 0 {
            format!("{h} h {m:02} m {s:02} s")
        } else {
            format!("{m} m {s:02} s")
        }
    }
}

pub(crate) fn duration_s(s: f64) -> String {
    duration_us((s.max(0.0) * 1e6).round() as u64)
}

/// Failures in percent of all attempts: `count` is a distribution's successful samples
/// and `errors` its failures, as the thresholds' `error_rate` counts them.
pub(crate) fn error_rate(errors: u64, count: u64) -> f64 {
    let total = count + errors;
    if total == 0 {
        0.0
    } else {
        errors as f64 * 100.0 / total as f64
    }
}

pub(crate) fn percent(p: f64) -> String {
    if p == 0.0 {
        "0 %".to_owned()
    } else if p < 0.1 {
        format!("{p:.3} %")
    } else {
        format!("{p:.2} %")
    }
}

/// Thousands separators for counts: `1,234,567`.
pub(crate) fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The first line of a message, cut to `max` characters.
pub(crate) fn first_line(s: &str, max: usize) -> String {
    let line = s
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    truncate_chars(line, max)
}

/// Cut to at most `max` characters, marking the cut with `…`.
pub(crate) fn truncate_chars(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s.to_owned(),
        Some((i, _)) => format!("{}…", &s[..i]),
    }
}

/// The last `max_lines` lines of `s`, and at most `max_bytes` of them; returns the kept
/// text and how many lines were dropped from the front.
pub(crate) fn tail(s: &str, max_lines: usize, max_bytes: usize) -> (String, usize) {
    let lines: Vec<&str> = s.lines().collect();
    let mut start = lines.len().saturating_sub(max_lines);
    let mut bytes: usize = lines[start..].iter().map(|l| l.len() + 1).sum();
    while bytes > max_bytes && start < lines.len() {
        bytes -= lines[start].len() + 1;
        start += 1;
    }
    let mut kept = lines[start..].join("\n");
    if kept.len() > max_bytes {
        // One line longer than the whole budget: keep its end.
        let mut cut = kept.len() - max_bytes;
        while !kept.is_char_boundary(cut) {
            cut += 1;
        }
        kept = format!("…{}", &kept[cut..]);
    }
    (kept, start)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_error_rate_counts_failures_among_all_attempts() {
        assert_eq!(error_rate(1, 3), 25.0, "1 failed beside 3 passed");
        assert_eq!(error_rate(2, 0), 100.0, "nothing passed");
        assert_eq!(error_rate(0, 7), 0.0);
        assert_eq!(error_rate(0, 0), 0.0, "nothing measured");
    }

    #[test]
    fn latencies_read_at_their_size() {
        assert_eq!(ms(420), "0.42");
        assert_eq!(ms(12_345), "12.3");
        assert_eq!(ms(412_000), "412");
        assert_eq!(duration_us(850), "850 µs");
        assert_eq!(duration_us(1_230_000), "1.23 s");
        assert_eq!(duration_us(123_000_000), "2 m 03 s");
    }

    #[test]
    fn counts_and_cuts() {
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!(count(12), "12");
        assert_eq!(truncate_chars("héllo", 2), "hé…");
        assert_eq!(first_line("\n  boom\nmore", 10), "boom");
        let (t, dropped) = tail("a\nb\nc\nd", 2, 100);
        assert_eq!((t.as_str(), dropped), ("c\nd", 2));
        let (t, dropped) = tail("aaaa\nbbbb", 10, 6);
        assert_eq!((t.as_str(), dropped), ("bbbb", 1));
    }
}
