//! Inline SVG line charts: axes, grid, polylines, an optional shaded band. No fonts, no
//! scripts: the browser draws the text with its own sans-serif face.
//!
//! Written directly (not with `plotters`) because plotters' text needs font files through
//! font-kit, and the page must not depend on what is installed where it is rendered.

use std::fmt::Write as _;

use maud::{Markup, html};

const W: f64 = 960.0;
const H: f64 = 300.0;
const ML: f64 = 64.0;
const MR: f64 = 16.0;
const MT: f64 = 14.0;
const MB: f64 = 36.0;

/// Series colours, told apart in print and by most colour-blind readers (Tableau 10 and two
/// darker ones). Past twelve series the colours repeat, dashed.
pub(crate) const PALETTE: [&str; 12] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf", "#393b79", "#b5651d",
];

pub(crate) struct Series {
    pub name: String,
    pub color: &'static str,
    pub dashed: bool,
    /// Draw a dot on every point (for sparse data such as six summary percentiles).
    pub markers: bool,
    /// Disjoint runs of points; a gap (no data) separates two segments.
    pub segments: Vec<Vec<(f64, f64)>>,
}

impl Series {
    pub fn new(name: impl Into<String>, index: usize, points: Vec<(f64, f64)>) -> Self {
        Series {
            name: name.into(),
            color: PALETTE[index % PALETTE.len()],
            dashed: index >= PALETTE.len(),
            markers: false,
            segments: vec![points],
        }
    }
}

pub(crate) enum XAxis {
    /// x is `log10(1 / (1 - q))`: 0 → 0 %, 1 → 90 %, 2 → 99 %, …, up to `decades`.
    Percentile { decades: u32 },
    /// x is seconds since the start, from 0 to `max`.
    Seconds { max: f64 },
    /// x is the index of a run (0 = the oldest), one label per run; not every label is
    /// written when there are many.
    Runs { labels: Vec<String> },
}

/// At most this many labels on a run axis.
const RUN_LABELS: usize = 12;

/// A horizontal line across the plot at `y`, e.g. a threshold of the series drawn.
pub(crate) struct Reference {
    pub y: f64,
    pub label: String,
    pub color: &'static str,
}

/// A shaded vertical band, e.g. the window in which the stack was restarting.
pub(crate) struct Band {
    pub x0: f64,
    pub x1: f64,
    pub label: String,
}

pub(crate) struct Chart {
    pub title: String,
    pub y_unit: String,
    pub x: XAxis,
    pub series: Vec<Series>,
    pub band: Option<Band>,
    /// A line under the chart, e.g. where its data came from.
    pub note: Option<String>,
    /// A logarithmic y axis, for series whose sizes differ by orders of magnitude.
    pub y_log: bool,
    /// Dashed horizontal lines (thresholds); the y axis always reaches them.
    pub references: Vec<Reference>,
}

/// How y values map to the plot: linear from 0, or log10 between two decades.
enum YScale {
    Linear { max: f64, ticks: Vec<f64> },
    Log { lo: f64, hi: f64, ticks: Vec<f64> },
}

impl YScale {
    /// 0 at the bottom of the plot, 1 at the top.
    fn frac(&self, y: f64) -> f64 {
        match self {
            YScale::Linear { max, .. } => (y / max).clamp(0.0, 1.0),
            YScale::Log { lo, hi, .. } => {
                ((y.max(*lo).log10() - lo.log10()) / (hi.log10() - lo.log10())).clamp(0.0, 1.0)
            }
        }
    }

    fn ticks(&self) -> &[f64] {
        match self {
            YScale::Linear { ticks, .. } | YScale::Log { ticks, .. } => ticks,
        }
    }
}

/// `log10(1 / (1 - q))`, the x of quantile `q` on a percentile axis.
pub(crate) fn percentile_x(q: f64) -> f64 {
    if q >= 1.0 {
        f64::INFINITY
    } else {
        -(1.0 - q).log10()
    }
}

fn percentile_label(decade: u32) -> String {
    match decade {
        0 => "0%".to_owned(),
        1 => "90%".to_owned(),
        d => format!("99.{}%", "9".repeat(d as usize - 2)),
    }
}

/// A round step giving about `target` intervals up to `max`.
fn nice_step(max: f64, target: f64) -> f64 {
    let raw = (max / target).max(f64::MIN_POSITIVE);
    let mag = 10f64.powf(raw.log10().floor());
    let norm = raw / mag;
    let nice = if norm <= 1.0 {
        1.0
    } else if norm <= 2.0 {
        2.0
    } else if norm <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * mag
}

fn seconds_step(max: f64) -> f64 {
    const STEPS: [f64; 12] = [
        1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0,
    ];
    STEPS
        .iter()
        .copied()
        .find(|s| max / s <= 10.0)
        .unwrap_or_else(|| (max / 10.0 / 3600.0).ceil() * 3600.0)
}

fn seconds_label(s: f64, max: f64) -> String {
    if max >= 120.0 {
        let s = s.round() as u64;
        format!("{}:{:02}", s / 60, s % 60)
    } else {
        format!("{}s", trim_number(s))
    }
}

fn trim_number(v: f64) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() {
        "0".to_owned()
    } else {
        s.to_owned()
    }
}

impl Chart {
    fn x_range(&self) -> (f64, f64) {
        match &self.x {
            XAxis::Percentile { decades } => (0.0, f64::from((*decades).max(1))),
            XAxis::Seconds { max } => (0.0, if *max > 0.0 { *max } else { 1.0 }),
            // Half a run of room either side, so the first and last points are not on the frame.
            XAxis::Runs { labels } => (-0.5, labels.len().max(1) as f64 - 0.5),
        }
    }

    fn y_scale(&self) -> YScale {
        let ys = || {
            self.series
                .iter()
                .flat_map(|s| s.segments.iter().flatten())
                .map(|&(_, y)| y)
                .chain(self.references.iter().map(|r| r.y))
                .filter(|y| y.is_finite())
        };
        let data_max = ys().fold(0.0f64, f64::max);
        let data_max = if data_max > 0.0 { data_max } else { 1.0 };
        let data_min = ys().filter(|y| *y > 0.0).fold(f64::INFINITY, f64::min);
        if self.y_log && data_min.is_finite() {
            // Bounds at 1, 2 or 5 × 10^k just around the data.
            let below = |v: f64| {
                let d = 10f64.powf(v.log10().floor());
                [5.0, 2.0, 1.0]
                    .iter()
                    .map(|m| m * d)
                    .find(|b| *b <= v * 1.0001)
                    .unwrap_or(d)
            };
            let above = |v: f64| {
                let d = 10f64.powf(v.log10().floor());
                [1.0, 2.0, 5.0, 10.0]
                    .iter()
                    .map(|m| m * d)
                    .find(|b| *b >= v * 0.9999)
                    .unwrap_or(d * 10.0)
            };
            let lo = below(data_min);
            let hi = above(data_max).max(lo * 10.0);
            let decades = (hi / lo).log10().ceil() as i32;
            let mults: &[f64] = if decades > 4 {
                &[1.0]
            } else {
                &[1.0, 2.0, 5.0]
            };
            let mut ticks = Vec::new();
            let mut d = 10f64.powf(lo.log10().floor());
            while d <= hi * 1.0001 {
                for m in mults {
                    let t = d * m;
                    if t >= lo * 0.9999 && t <= hi * 1.0001 {
                        ticks.push(t);
                    }
                }
                d *= 10.0;
            }
            return YScale::Log { lo, hi, ticks };
        }
        let step = nice_step(data_max, 5.0);
        let max = (data_max / step).ceil() * step;
        let ticks = (0..)
            .map(|i| f64::from(i) * step)
            .take_while(|v| *v <= max + step * 1e-6)
            .collect();
        YScale::Linear { max, ticks }
    }

    pub fn is_empty(&self) -> bool {
        self.series
            .iter()
            .all(|s| s.segments.iter().all(|seg| seg.is_empty()))
    }

    pub fn render(&self) -> Markup {
        let (x0, x1) = self.x_range();
        let scale = self.y_scale();
        let pw = W - ML - MR;
        let ph = H - MT - MB;
        let px = |x: f64| ML + ((x.clamp(x0, x1) - x0) / (x1 - x0)) * pw;
        let py = |y: f64| MT + (1.0 - scale.frac(y)) * ph;

        let mut x_ticks: Vec<(f64, String)> = Vec::new();
        match &self.x {
            XAxis::Percentile { decades } => {
                for d in 0..=(*decades).max(1) {
                    x_ticks.push((f64::from(d), percentile_label(d)));
                }
            }
            XAxis::Seconds { max } => {
                let step = seconds_step(x1);
                let mut t = 0.0;
                while t <= x1 + 1e-9 {
                    x_ticks.push((t, seconds_label(t, *max)));
                    t += step;
                }
            }
            XAxis::Runs { labels } => {
                // Every k-th run, counted back from the newest so that it is always labelled.
                let every = labels.len().div_ceil(RUN_LABELS).max(1);
                let last = labels.len().saturating_sub(1);
                for (i, label) in labels.iter().enumerate() {
                    if (last - i).is_multiple_of(every) {
                        x_ticks.push((i as f64, label.clone()));
                    }
                }
            }
        }
        let y_ticks = scale.ticks();
        let x_title = match self.x {
            XAxis::Percentile { .. } => "percentile",
            XAxis::Seconds { .. } => "time since start",
            XAxis::Runs { .. } => "run, oldest to newest",
        };

        html! {
            figure.chart {
                figcaption { (self.title) }
                svg xmlns="http://www.w3.org/2000/svg" viewBox={ "0 0 " (W) " " (H) }
                    role="img" aria-label=(self.title) preserveAspectRatio="xMidYMid meet" {
                    @if let Some(band) = &self.band {
                        @let bx0 = px(band.x0);
                        @let bx1 = px(band.x1).max(bx0 + 2.0);
                        rect.band x=(f1(bx0)) y=(f1(MT)) width=(f1(bx1 - bx0)) height=(f1(ph))
                            fill="#f2cc60" fill-opacity="0.35" {}
                        text x=(f1(bx0 + 4.0)) y=(f1(MT + 12.0)) font-size="11" fill="#7a5c00" { (band.label) }
                    }
                    @for v in y_ticks {
                        line x1=(f1(ML)) x2=(f1(W - MR)) y1=(f1(py(*v))) y2=(f1(py(*v)))
                            stroke="#e4e4e4" stroke-width="1" {}
                        text x=(f1(ML - 6.0)) y=(f1(py(*v) + 4.0)) font-size="11" text-anchor="end" fill="#444" {
                            (trim_number(*v))
                        }
                    }
                    @for (x, label) in &x_ticks {
                        line x1=(f1(px(*x))) x2=(f1(px(*x))) y1=(f1(MT)) y2=(f1(MT + ph + 4.0))
                            stroke="#e4e4e4" stroke-width="1" {}
                        text x=(f1(px(*x))) y=(f1(MT + ph + 17.0)) font-size="11" fill="#444"
                            text-anchor=(if (x1 - *x).abs() < 1e-9 { "end" } else { "middle" }) {
                            (label)
                        }
                    }
                    line x1=(f1(ML)) x2=(f1(ML)) y1=(f1(MT)) y2=(f1(MT + ph)) stroke="#888" {}
                    line x1=(f1(ML)) x2=(f1(W - MR)) y1=(f1(MT + ph)) y2=(f1(MT + ph)) stroke="#888" {}
                    text x="14" y=(f1(MT + ph / 2.0)) font-size="11" fill="#444" text-anchor="middle"
                        transform={ "rotate(-90 14 " (f1(MT + ph / 2.0)) ")" } {
                        (self.y_unit) @if self.y_log { " (log scale)" }
                    }
                    text x=(f1(ML + pw / 2.0)) y=(f1(H - 4.0)) font-size="11" fill="#444" text-anchor="middle" { (x_title) }
                    @for s in &self.series {
                        g.series data-name=(s.name) {
                            @for seg in &s.segments {
                                @if seg.len() > 1 {
                                    polyline points=(polyline(seg, &px, &py)) fill="none" stroke=(s.color)
                                        stroke-width="2" stroke-linejoin="round"
                                        stroke-dasharray=[s.dashed.then_some("6 3")] {}
                                }
                                @if s.markers || seg.len() == 1 {
                                    @for &(x, y) in seg {
                                        circle cx=(f1(px(x))) cy=(f1(py(y))) r="3" fill=(s.color) {}
                                    }
                                }
                            }
                        }
                    }
                    @for r in &self.references {
                        g.reference data-label=(r.label) {
                            line x1=(f1(ML)) x2=(f1(W - MR)) y1=(f1(py(r.y))) y2=(f1(py(r.y)))
                                stroke=(r.color) stroke-width="2" stroke-dasharray="8 4" {}
                            // A white halo keeps the label legible over the series.
                            text x=(f1(W - MR - 4.0)) y=(f1(py(r.y) - 4.0)) font-size="11"
                                text-anchor="end" fill=(r.color) stroke="#fff" stroke-width="3"
                                paint-order="stroke" { (r.label) }
                        }
                    }
                    @if self.is_empty() {
                        text x=(f1(ML + pw / 2.0)) y=(f1(MT + ph / 2.0)) font-size="14" fill="#666" text-anchor="middle" {
                            "no data"
                        }
                    }
                }
                @if self.series.len() > 1 || self.band.is_some() || !self.references.is_empty() {
                    ul.legend {
                        @for s in &self.series {
                            li {
                                svg width="22" height="10" aria-hidden="true" {
                                    line x1="1" x2="21" y1="5" y2="5" stroke=(s.color) stroke-width="3"
                                        stroke-dasharray=[s.dashed.then_some("6 3")] {}
                                }
                                " " (s.name)
                            }
                        }
                        @if let Some(band) = &self.band {
                            li {
                                svg width="22" height="10" aria-hidden="true" {
                                    rect x="1" y="0" width="20" height="10" fill="#f2cc60" fill-opacity="0.5" {}
                                }
                                " " (band.label)
                            }
                        }
                        @for r in &self.references {
                            li {
                                svg width="22" height="10" aria-hidden="true" {
                                    line x1="1" x2="21" y1="5" y2="5" stroke=(r.color) stroke-width="2"
                                        stroke-dasharray="5 3" {}
                                }
                                " " (r.label)
                            }
                        }
                    }
                }
                @if let Some(note) = &self.note {
                    p.note { (note) }
                }
            }
        }
    }
}

fn f1(v: f64) -> String {
    let s = format!("{v:.1}");
    s.strip_suffix(".0").map(str::to_owned).unwrap_or(s)
}

fn polyline(points: &[(f64, f64)], px: &impl Fn(f64) -> f64, py: &impl Fn(f64) -> f64) -> String {
    let mut out = String::with_capacity(points.len() * 12);
    for (i, &(x, y)) in points.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let _ = write!(out, "{},{}", f1(px(x)), f1(py(y)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_are_round() {
        assert_eq!(nice_step(412.0, 5.0), 100.0);
        assert_eq!(nice_step(9.0, 5.0), 2.0);
        assert_eq!(seconds_step(600.0), 60.0);
        assert_eq!(percentile_label(4), "99.99%");
        assert!((percentile_x(0.999) - 3.0).abs() < 1e-9);
        assert_eq!(seconds_label(90.0, 600.0), "1:30");
    }

    #[test]
    fn a_run_axis_labels_the_newest_run_and_reaches_the_reference_line() {
        let chart = Chart {
            title: "t".into(),
            y_unit: "ms".into(),
            x: XAxis::Runs {
                labels: (1..=30).map(|i| format!("#{i}")).collect(),
            },
            series: vec![Series::new("p95", 1, vec![(0.0, 10.0), (29.0, 20.0)])],
            band: None,
            note: None,
            y_log: false,
            references: vec![Reference {
                y: 300.0,
                label: "p95 < 300ms".into(),
                color: "#bf3989",
            }],
        };
        let svg = chart.render().into_string();
        assert!(svg.contains("data-label=\"p95 &lt; 300ms\""), "{svg}");
        assert!(matches!(chart.y_scale(), YScale::Linear { max, .. } if max >= 300.0));
        assert!(svg.contains(">#30<") && svg.contains(">#27<"));
        assert!(!svg.contains(">#29<"), "not every run is labelled");
    }
}
