//! From a [`LoadResult`] to the charts of the page: latency distributions (from the `.hlog`
//! files when they can be read, else from the summary percentiles) and the timeline charts.

use std::path::Path;

use hdrhistogram::Histogram;

use super::hlog;
use super::svg::{Band, Chart, Series, XAxis, percentile_x};
use crate::summary::{Distribution, LoadResult, TimelinePoint};

/// At most this many points per timeline chart; longer runs are bucketed.
pub(crate) const MAX_TIMELINE_POINTS: usize = 600;
/// Points per decade on a percentile curve read from a full histogram.
const POINTS_PER_DECADE: f64 = 40.0;

/// One latency distribution ready to plot.
struct Curve {
    name: String,
    points: Vec<(f64, f64)>,
    /// Drawn from six summary percentiles rather than the full histogram.
    sparse: bool,
}

/// Every chart of a load run, in page order.
pub(crate) fn load_charts(load: &LoadResult, run_dir: Option<&Path>) -> Vec<Chart> {
    let mut charts = timeline_charts(load);
    let all: Vec<&Distribution> = std::iter::once(&load.scenario)
        .chain(&load.scenarios)
        .chain(&load.steps)
        .chain(&load.events)
        .collect();
    let max_count = all.iter().map(|d| d.count).max().unwrap_or(0);
    let decades = ((max_count.max(1) as f64).log10().floor() as u32).clamp(2, 5);
    let groups: [(&str, Vec<&Distribution>); 3] = [
        (
            "Latency distribution: whole iteration",
            std::iter::once(&load.scenario)
                .chain(&load.scenarios)
                .collect(),
        ),
        (
            "Latency distribution: steps",
            load.steps.iter().filter(|d| d.not_run.is_none()).collect(),
        ),
        (
            "Latency distribution: agent events",
            load.events.iter().collect(),
        ),
    ];
    for (title, dists) in groups {
        if dists.iter().all(|d| d.count == 0) {
            continue;
        }
        charts.push(percentile_chart(title, &dists, decades, run_dir));
    }
    charts
}

fn percentile_chart(
    title: &str,
    dists: &[&Distribution],
    decades: u32,
    run_dir: Option<&Path>,
) -> Chart {
    let mut problems = Vec::new();
    let curves: Vec<Curve> = dists
        .iter()
        .filter(|d| d.count > 0)
        .map(|d| {
            let full = match (&d.hlog, run_dir) {
                (Some(rel), Some(dir)) => match hlog::read_total(dir, rel) {
                    Ok(h) => Some(h),
                    Err(e) => {
                        problems.push(e);
                        None
                    }
                },
                _ => None,
            };
            match full {
                Some(h) => Curve {
                    name: d.name.clone(),
                    points: curve_from_histogram(&h, decades),
                    sparse: false,
                },
                None => Curve {
                    name: d.name.clone(),
                    points: curve_from_summary(d, decades),
                    sparse: true,
                },
            }
        })
        .collect();
    let sparse = curves.iter().filter(|c| c.sparse).count();
    let mut note = match sparse {
        0 => "From the full histograms (.hlog).".to_owned(),
        n if n == curves.len() => {
            "From the summary percentiles (min, p50, p90, p95, p99, p99.9, max); no .hlog read."
                .to_owned()
        }
        n => format!(
            "{n} of {} series from summary percentiles only (dots).",
            curves.len()
        ),
    };
    if !problems.is_empty() {
        note.push_str(" Unreadable: ");
        note.push_str(&problems.join("; "));
    }
    // Steps of 10 ms and 2 s on one linear axis leave the fast ones flat on the floor.
    let smallest_median = dists
        .iter()
        .filter(|d| d.count > 0)
        .map(|d| d.p50_us)
        .min()
        .unwrap_or(0);
    let largest_max = dists.iter().map(|d| d.max_us).max().unwrap_or(0);
    let y_log = dists.len() > 1 && largest_max > smallest_median.max(1).saturating_mul(30);
    Chart {
        title: title.to_owned(),
        y_unit: "ms".to_owned(),
        y_log,
        x: XAxis::Percentile { decades },
        series: curves
            .into_iter()
            .enumerate()
            .map(|(i, c)| {
                let mut s = Series::new(c.name, i, c.points);
                s.markers = c.sparse;
                s
            })
            .collect(),
        band: None,
        note: Some(note),
        references: Vec::new(),
    }
}

fn curve_from_histogram(h: &Histogram<u64>, decades: u32) -> Vec<(f64, f64)> {
    let n = h.len().max(1) as f64;
    // Past 1 - 1/n every quantile is the max.
    let x_end = n.log10().min(f64::from(decades));
    let steps = (x_end * POINTS_PER_DECADE).ceil() as usize;
    let mut points: Vec<(f64, f64)> = Vec::with_capacity(steps + 2);
    for i in 0..=steps {
        let x = (i as f64 / POINTS_PER_DECADE).min(x_end);
        let q = 1.0 - 10f64.powf(-x);
        points.push((x, h.value_at_quantile(q) as f64 / 1000.0));
    }
    points.push((x_end, h.max() as f64 / 1000.0));
    drop_flat_interior(points)
}

fn curve_from_summary(d: &Distribution, decades: u32) -> Vec<(f64, f64)> {
    let max_x = f64::from(decades);
    let ms = |us: u64| us as f64 / 1000.0;
    let mut points = vec![
        (0.0, ms(d.min_us)),
        (percentile_x(0.5), ms(d.p50_us)),
        (percentile_x(0.9), ms(d.p90_us)),
        (percentile_x(0.95), ms(d.p95_us)),
        (percentile_x(0.99), ms(d.p99_us)),
        (percentile_x(0.999), ms(d.p999_us)),
    ];
    points.retain(|&(x, _)| x <= max_x + 1e-9);
    let last_x = points.last().map_or(0.0, |p| p.0);
    let max_at = (d.count.max(1) as f64)
        .log10()
        .max(last_x + 0.25)
        .min(max_x);
    points.push((max_at, ms(d.max_us)));
    points
}

/// Removes points in the middle of horizontal runs: they draw nothing.
fn drop_flat_interior(points: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    let mut out: Vec<(f64, f64)> = Vec::with_capacity(points.len());
    for (i, p) in points.iter().enumerate() {
        let same_as_prev = i > 0 && points[i - 1].1 == p.1;
        let same_as_next = i + 1 < points.len() && points[i + 1].1 == p.1;
        if !(same_as_prev && same_as_next) {
            out.push(*p);
        }
    }
    out
}

/// A timeline point covering `width_s` seconds (several points when bucketed).
pub(crate) struct Bucket {
    pub t_s: f64,
    pub width_s: f64,
    pub iterations: u64,
    pub errors: u64,
    pub p50_us: u64,
    pub p95_us: u64,
    pub p99_us: u64,
}

/// At most `max` buckets: consecutive points are merged, counts added, p50 averaged and
/// p95/p99 taking the worst (a merged chart must not hide a spike).
pub(crate) fn downsample(points: &[TimelinePoint], max: usize) -> Vec<Bucket> {
    let per = points.len().div_ceil(max.max(1)).max(1);
    points
        .chunks(per)
        .map(|chunk| {
            let active: Vec<&TimelinePoint> = chunk.iter().filter(|p| p.iterations > 0).collect();
            let p50 = if active.is_empty() {
                0
            } else {
                active.iter().map(|p| p.p50_us).sum::<u64>() / active.len() as u64
            };
            Bucket {
                t_s: chunk[0].t_s,
                width_s: chunk.len() as f64,
                iterations: chunk.iter().map(|p| p.iterations).sum(),
                errors: chunk.iter().map(|p| p.errors).sum(),
                p50_us: p50,
                p95_us: chunk.iter().map(|p| p.p95_us).max().unwrap_or(0),
                p99_us: chunk.iter().map(|p| p.p99_us).max().unwrap_or(0),
            }
        })
        .collect()
}

fn timeline_charts(load: &LoadResult) -> Vec<Chart> {
    if load.timeline.is_empty() {
        return Vec::new();
    }
    let buckets = downsample(&load.timeline, MAX_TIMELINE_POINTS);
    let end = buckets
        .last()
        .map(|b| b.t_s + b.width_s)
        .unwrap_or(0.0)
        .max(load.duration_s);
    let band = load.restart.as_ref().map(|r| {
        let (x1, label) = match r.back_at_s {
            Some(back) => (back, "restart".to_owned()),
            None => (end, "restart (not back)".to_owned()),
        };
        Band {
            x0: r.requested_at_s,
            x1,
            label,
        }
    });
    let band_copy = || {
        band.as_ref().map(|b| Band {
            x0: b.x0,
            x1: b.x1,
            label: b.label.clone(),
        })
    };

    // Latency lines break where nothing completed (a 0 there would read as "fast").
    let latency = |pick: fn(&Bucket) -> u64| -> Vec<Vec<(f64, f64)>> {
        let mut segments = vec![Vec::new()];
        for b in &buckets {
            if b.iterations == 0 {
                if !segments.last().is_some_and(Vec::is_empty) {
                    segments.push(Vec::new());
                }
            } else if let Some(seg) = segments.last_mut() {
                seg.push((b.t_s, pick(b) as f64 / 1000.0));
            }
        }
        segments.retain(|s| !s.is_empty());
        segments
    };
    let latency_series = [
        ("p50", 0usize, latency(|b| b.p50_us)),
        ("p95", 1, latency(|b| b.p95_us)),
        ("p99", 3, latency(|b| b.p99_us)),
    ]
    .into_iter()
    .map(|(name, color, segments)| {
        let mut s = Series::new(name, color, Vec::new());
        s.segments = segments;
        s
    })
    .collect();
    let rate_label = if buckets.first().is_some_and(|b| b.width_s > 1.0) {
        format!(" (buckets of {} s)", buckets[0].width_s)
    } else {
        String::new()
    };
    vec![
        Chart {
            title: format!("Iteration latency over time{rate_label}"),
            y_unit: "ms".to_owned(),
            x: XAxis::Seconds { max: end },
            series: latency_series,
            band: band_copy(),
            note: None,
            y_log: false,
            references: Vec::new(),
        },
        Chart {
            title: format!("Throughput over time{rate_label}"),
            y_unit: "iterations/s".to_owned(),
            x: XAxis::Seconds { max: end },
            series: vec![Series::new(
                "iterations/s",
                2,
                buckets
                    .iter()
                    .map(|b| (b.t_s, b.iterations as f64 / b.width_s))
                    .collect(),
            )],
            band: band_copy(),
            note: None,
            y_log: false,
            references: Vec::new(),
        },
        Chart {
            title: format!("Errors over time{rate_label}"),
            y_unit: "errors/s".to_owned(),
            x: XAxis::Seconds { max: end },
            series: vec![Series::new(
                "errors/s",
                3,
                buckets
                    .iter()
                    .map(|b| (b.t_s, b.errors as f64 / b.width_s))
                    .collect(),
            )],
            band,
            note: None,
            y_log: false,
            references: Vec::new(),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(t: f64, iterations: u64, p99: u64) -> TimelinePoint {
        TimelinePoint {
            t_s: t,
            iterations,
            errors: 1,
            p50_us: 10,
            p95_us: 20,
            p99_us: p99,
        }
    }

    #[test]
    fn downsampling_keeps_counts_and_spikes() {
        let points: Vec<TimelinePoint> = (0..1200)
            .map(|i| point(f64::from(i), 5, if i == 777 { 9_000 } else { 30 }))
            .collect();
        let b = downsample(&points, 600);
        assert_eq!(b.len(), 600);
        assert_eq!(b.iter().map(|b| b.iterations).sum::<u64>(), 6000);
        assert_eq!(b.iter().map(|b| b.p99_us).max(), Some(9_000));
        assert_eq!(downsample(&points[..10], 600).len(), 10);
    }

    #[test]
    fn histogram_curve_ends_at_max() {
        let mut h = Histogram::<u64>::new(3).unwrap();
        for v in 1..=10_000u64 {
            h.record(v).unwrap();
        }
        let c = curve_from_histogram(&h, 4);
        assert_eq!(c.first().map(|p| p.0), Some(0.0));
        let last = *c.last().unwrap();
        assert!((last.0 - 4.0).abs() < 1e-9);
        assert!((last.1 - 10.0).abs() < 0.02, "{last:?}");
    }
}
