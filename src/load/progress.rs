//! Live progress on stderr: a line redrawn every second on a terminal, a quiet line
//! every ten seconds otherwise (CI logs).

use std::io::{IsTerminal, Write};
use std::time::Duration;

use super::thresholds::format_micros;

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProgressMode {
    /// Redrawn line on a terminal, periodic lines otherwise.
    #[default]
    Auto,
    /// Never.
    Off,
}

/// One second's view of the run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Snapshot {
    pub elapsed: Duration,
    pub users: u64,
    /// Iterations completed during the last second.
    pub iterations_per_s: u64,
    /// Scenario p95 over the last second.
    pub p95_us: Option<u64>,
    pub iterations: u64,
    pub errors: u64,
    pub dropped: u64,
}

impl Snapshot {
    pub fn line(&self) -> String {
        let mut s = format!(
            "{:>5}s  users {:>5}  it/s {:>6}  p95 {:>9}  iterations {:>8}  errors {:>6}",
            self.elapsed.as_secs(),
            self.users,
            self.iterations_per_s,
            self.p95_us.map_or_else(|| "-".to_owned(), format_micros),
            self.iterations,
            self.errors,
        );
        if self.dropped > 0 {
            s.push_str(&format!("  dropped {}", self.dropped));
        }
        s
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    Redraw,
    Lines,
    Off,
}

/// Prints snapshots as the run goes.
#[derive(Debug)]
pub struct Progress {
    style: Style,
    every: Duration,
    next_line_at: Duration,
    drawn: bool,
}

/// Period of the quiet lines when stderr is not a terminal.
pub const QUIET_EVERY: Duration = Duration::from_secs(10);

impl Progress {
    pub fn new(mode: ProgressMode) -> Progress {
        let style = match mode {
            ProgressMode::Off => Style::Off,
            ProgressMode::Auto if std::io::stderr().is_terminal() => Style::Redraw,
            ProgressMode::Auto => Style::Lines,
        };
        Progress {
            style,
            every: QUIET_EVERY,
            next_line_at: QUIET_EVERY,
            drawn: false,
        }
    }

    pub fn update(&mut self, s: &Snapshot) {
        let mut err = std::io::stderr().lock();
        match self.style {
            Style::Off => {}
            Style::Redraw => {
                let _ = write!(err, "\r\x1b[2K{}", s.line());
                let _ = err.flush();
                self.drawn = true;
            }
            Style::Lines => {
                if s.elapsed >= self.next_line_at {
                    let _ = writeln!(
                        err,
                        "load: {}",
                        s.line().split_whitespace().collect::<Vec<_>>().join(" ")
                    );
                    while self.next_line_at <= s.elapsed {
                        self.next_line_at += self.every;
                    }
                }
            }
        }
    }

    /// A message between progress lines (restart, Ctrl-C).
    pub fn note(&mut self, msg: &str) {
        if self.style == Style::Off {
            return;
        }
        let mut err = std::io::stderr().lock();
        if self.drawn {
            let _ = write!(err, "\r\x1b[2K");
        }
        let _ = writeln!(err, "load: {msg}");
    }

    pub fn finish(&mut self) {
        if self.style == Style::Redraw && self.drawn {
            let _ = writeln!(std::io::stderr());
            self.drawn = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_has_the_promised_fields() {
        let s = Snapshot {
            elapsed: Duration::from_secs(12),
            users: 50,
            iterations_per_s: 340,
            p95_us: Some(123_400),
            iterations: 4000,
            errors: 2,
            dropped: 0,
        };
        let line = s.line();
        for part in [
            "12s", "users", "50", "it/s", "340", "p95", "123.4ms", "errors", "2",
        ] {
            assert!(line.contains(part), "{line}");
        }
        assert!(!line.contains("dropped"));
    }
}
