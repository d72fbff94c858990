//! Figures over time in report.html: a scenario's throughput and latency percentiles per
//! interval of its series, with the faults put in force during the step shaded on the same
//! clock (the step's instances' start).

use std::fmt::Write as _;

use super::svg::{self, color, esc};
use crate::format::num;
use crate::plan::exec::FaultEvent;
use crate::results::ScenarioResult;
use crate::series::Interval;

/// A stretch of time a fault was in force, in seconds from the step's start.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    pub from_s: f64,
    pub to_s: f64,
    pub label: String,
}

/// The windows of `events`: a kill, stop or start until the cluster was safe again; a
/// network cut until the next heal, a pause until the next resume (or `end_s`).
pub fn fault_windows(events: &[FaultEvent], end_s: f64) -> Vec<Window> {
    let mut sorted: Vec<&FaultEvent> = events.iter().collect();
    sorted.sort_by(|a, b| a.at_ms.total_cmp(&b.at_ms));
    let mut windows = Vec::new();
    let mut cuts: Vec<(f64, String)> = Vec::new();
    let mut pauses: Vec<(f64, String)> = Vec::new();
    let close = |open: &mut Vec<(f64, String)>, to_s: f64, windows: &mut Vec<Window>| {
        for (from_s, label) in open.drain(..) {
            windows.push(Window {
                from_s,
                to_s,
                label,
            });
        }
    };
    for e in sorted {
        let at = e.at_ms / 1e3;
        match (e.kind, e.until_ms) {
            (_, Some(until)) => windows.push(Window {
                from_s: at,
                to_s: (until / 1e3).max(at),
                label: e.what.clone(),
            }),
            ("heal", None) => close(&mut cuts, at, &mut windows),
            ("resume", None) => close(&mut pauses, at, &mut windows),
            ("pause", None) => pauses.push((at, e.what.clone())),
            (_, None) => cuts.push((at, e.what.clone())),
        }
    }
    close(&mut cuts, end_s, &mut windows);
    close(&mut pauses, end_s, &mut windows);
    windows.sort_by(|a, b| a.from_s.total_cmp(&b.from_s));
    windows
}

/// A line of a plot: a name and one value per interval (`None`: nothing to show there, a
/// gap in the line).
type Line = (String, Vec<Option<f64>>);

/// A line with its own times: a name and `(s, value)` points (`None`: a gap).
type TimedLine = (String, Vec<(f64, Option<f64>)>);

fn timed(x: &[f64], lines: Vec<Line>) -> Vec<TimedLine> {
    lines
        .into_iter()
        .map(|(name, values)| (name, x.iter().copied().zip(values).collect()))
        .collect()
}

/// Lines over time (`(s, value)` points, each line its own times) without fault windows:
/// `hzlab compare`'s throughput of several runs.
pub fn lines_chart(title: &str, lines: &[(String, Vec<(f64, f64)>)]) -> String {
    let timed: Vec<TimedLine> = lines
        .iter()
        .map(|(n, pts)| (n.clone(), pts.iter().map(|(t, v)| (*t, Some(*v))).collect()))
        .collect();
    let end_s = lines
        .iter()
        .flat_map(|(_, pts)| pts.iter().map(|(t, _)| *t))
        .fold(0.0f64, f64::max)
        * 1.02;
    chart(&Chart {
        title,
        unit: "/s",
        end_s,
        lines: &timed,
        windows: &[],
        log: false,
    })
}

/// Throughput per second: completed (and failed, dropped) iterations where the scenario has
/// iterations, else operations.
fn throughput(s: &ScenarioResult, series: &[Interval]) -> Vec<Line> {
    let full = series.first().map_or(1.0, |i| i.secs);
    // A last interval cut short (the step ended a few ms into it) holds only stragglers:
    // its rate would show a plunge that did not happen, so it is left out.
    let per_s = |f: &dyn Fn(&Interval) -> u64| -> Vec<Option<f64>> {
        series
            .iter()
            .map(|i| (i.secs >= full / 2.0).then(|| f(i) as f64 / i.secs.max(1e-6)))
            .collect()
    };
    if s.iterations.is_none() {
        return vec![(
            "operations/s".into(),
            per_s(&|i| i.ops.values().map(|o| o.latency.count).sum()),
        )];
    }
    let mut lines = vec![("completed/s".into(), per_s(&|i| i.iterations.completed))];
    if series.iter().any(|i| i.iterations.failed > 0) {
        lines.push(("failed/s".into(), per_s(&|i| i.iterations.failed)));
    }
    if series.iter().any(|i| i.iterations.dropped > 0) {
        lines.push(("dropped/s".into(), per_s(&|i| i.iterations.dropped)));
    }
    lines
}

/// Latency percentiles per interval (µs): the iterations' response time where the scenario
/// has iterations, else each operation's p99 (the four busiest operations).
fn latency(s: &ScenarioResult, series: &[Interval]) -> Vec<Line> {
    if s.iterations.is_some() {
        let pick = |f: fn(&Interval) -> Option<f64>| series.iter().map(f).collect();
        return vec![
            ("p50".into(), pick(|i| i.response.map(|r| r.p50_us))),
            ("p99".into(), pick(|i| i.response.map(|r| r.p99_us))),
            ("max".into(), pick(|i| i.response.map(|r| r.max_us))),
        ];
    }
    let mut ops: Vec<(&str, u64)> = s
        .latency
        .ops
        .iter()
        .map(|(name, h)| (*name, h.count()))
        .filter(|(_, n)| *n > 0)
        .collect();
    ops.sort_by_key(|o| std::cmp::Reverse(o.1));
    ops.into_iter()
        .take(4)
        .map(|(op, _)| {
            let values = series
                .iter()
                .map(|i| i.ops.get(op).map(|o| o.latency.p99_us))
                .collect();
            (format!("{op} p99"), values)
        })
        .collect()
}

/// The two plots of a scenario over time, when it has a series.
pub fn plots(out: &mut String, s: &ScenarioResult, events: &[FaultEvent]) {
    let Some(last) = s.series.last() else {
        return;
    };
    let end_s = last.t_s + last.secs;
    let windows = fault_windows(events, end_s);
    let mids: Vec<f64> = s.series.iter().map(|i| i.t_s + i.secs / 2.0).collect();
    let what = if s.iterations.is_some() {
        "iterations"
    } else {
        "operations"
    };
    out.push_str("<h4>Over time</h4><div class=\"plots\">");
    out.push_str(&chart(&Chart {
        title: &format!("{what} per second"),
        unit: "/s",
        end_s,
        lines: &timed(&mids, throughput(s, &s.series)),
        windows: &windows,
        log: false,
    }));
    let title = if s.iterations.is_some() {
        "iteration response time (µs, log scale)"
    } else {
        "operation p99 (µs, log scale)"
    };
    out.push_str(&chart(&Chart {
        title,
        unit: " µs",
        end_s,
        lines: &timed(&mids, latency(s, &s.series)),
        windows: &windows,
        log: true,
    }));
    out.push_str("</div>");
    if !windows.is_empty() {
        out.push_str("<p class=\"meta\">Shaded: ");
        let shown: Vec<String> = windows
            .iter()
            .map(|w| format!("{} ({:.2}–{:.2} s)", esc(&w.label), w.from_s, w.to_s))
            .collect();
        out.push_str(&shown.join("; "));
        out.push_str("</p>");
    }
}

/// A tick of a latency axis: `500 µs`, `20 ms`, `3 s`.
fn compact_us(us: f64) -> String {
    if us >= 1e6 {
        format!("{} s", num(us / 1e6))
    } else if us >= 1e3 {
        format!("{} ms", num(us / 1e3))
    } else {
        format!("{} µs", num(us))
    }
}

/// What [`chart`] draws.
struct Chart<'a> {
    title: &'a str,
    unit: &'a str,
    end_s: f64,
    lines: &'a [TimedLine],
    windows: &'a [Window],
    /// A log scale (latencies, which a fault can raise a hundredfold), else linear from 0.
    log: bool,
}

/// Lines over time on linear axes, with fault windows shaded behind them.
fn chart(c: &Chart) -> String {
    let (left, right, top, bottom) = (64.0, 120.0, 12.0, 30.0);
    let (plot_w, plot_h) = (460.0, 180.0);
    let (w, h) = (left + plot_w + right, top + plot_h + bottom);
    let max_y = c
        .lines
        .iter()
        .flat_map(|(_, v)| v.iter().filter_map(|(_, y)| *y))
        .fold(0.0f64, f64::max);
    let min_y = c
        .lines
        .iter()
        .flat_map(|(_, v)| v.iter().filter_map(|(_, y)| *y))
        .filter(|v| *v > 0.0)
        .fold(f64::INFINITY, f64::min);
    let (lo, hi) = svg::decades(if min_y.is_finite() { min_y } else { 1.0 }, max_y);
    let y_ticks = if c.log {
        std::iter::successors(Some(lo), |d| Some(d * 10.0))
            .take_while(|d| *d <= hi * 1.0001)
            .collect()
    } else {
        let mut ticks = svg::round_ticks(0.0, max_y.max(1.0), 4);
        // A tick at or above the largest value, so the plot's top is labelled.
        if let ([.., a, b], true) = (ticks.as_slice(), ticks.last().is_some_and(|t| *t < max_y)) {
            let next = *b + (*b - *a);
            ticks.push(next);
        }
        ticks
    };
    let y_top = y_ticks.last().copied().unwrap_or(1.0).max(max_y).max(1.0);
    let x_end = c.end_s.max(1e-3);
    let px = |t: f64| left + (t / x_end).clamp(0.0, 1.0) * plot_w;
    let py = |v: f64| {
        let up = if c.log {
            svg::log_x(v, lo, hi, plot_h)
        } else {
            (v / y_top).clamp(0.0, 1.0) * plot_h
        };
        top + plot_h - up
    };
    let mut out = String::new();
    svg::open(&mut out, w, h, c.title);
    for win in c.windows {
        let (x0, x1) = (px(win.from_s), px(win.to_s));
        let _ = write!(
            out,
            r##"<rect x="{x0:.1}" y="{top}" width="{:.1}" height="{plot_h}" fill="#e15759" fill-opacity="0.18"><title>{}</title></rect>"##,
            (x1 - x0).max(1.5),
            esc(&win.label)
        );
    }
    for y in &y_ticks {
        let gy = py(*y);
        let _ = write!(
            out,
            r##"<line x1="{left}" y1="{gy:.1}" x2="{:.1}" y2="{gy:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end" font-size="10">{}</text>"##,
            left + plot_w,
            left - 4.0,
            gy + 3.0,
            if c.log {
                compact_us(*y)
            } else {
                format!("{}{}", num(*y), c.unit)
            }
        );
    }
    for t in svg::round_ticks(0.0, x_end, 6) {
        let gx = px(t);
        let _ = write!(
            out,
            r##"<line x1="{gx:.1}" y1="{:.1}" x2="{gx:.1}" y2="{:.1}" stroke="#999"/><text x="{gx:.1}" y="{:.1}" text-anchor="middle" font-size="10">{} s</text>"##,
            top + plot_h,
            top + plot_h + 4.0,
            top + plot_h + 15.0,
            num(t)
        );
    }
    for (i, (name, values)) in c.lines.iter().enumerate() {
        // One polyline per run of values without a gap.
        let mut runs: Vec<Vec<String>> = vec![Vec::new()];
        for (x, v) in values {
            match v {
                Some(v) => runs.last_mut().expect("at least one run").push(format!(
                    "{:.1},{:.1}",
                    px(*x),
                    py(*v)
                )),
                None if runs.last().is_some_and(|r| !r.is_empty()) => runs.push(Vec::new()),
                None => {}
            }
        }
        for points in runs.iter().filter(|r| !r.is_empty()) {
            let _ = write!(
                out,
                r#"<polyline fill="none" stroke="{}" stroke-width="1.8" points="{}"><title>{}</title></polyline>"#,
                color(i),
                points.join(" "),
                esc(name)
            );
        }
        let ly = top + i as f64 * 18.0;
        let _ = write!(
            out,
            r#"<rect x="{:.1}" y="{ly:.1}" width="12" height="12" fill="{}"/><text x="{:.1}" y="{:.1}">{}</text>"#,
            left + plot_w + 10.0,
            color(i),
            left + plot_w + 26.0,
            ly + 10.0,
            esc(name)
        );
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: &'static str, what: &str, at_ms: f64, until_ms: Option<f64>) -> FaultEvent {
        FaultEvent {
            kind,
            what: what.into(),
            at_ms,
            until_ms,
        }
    }

    #[test]
    fn faults_become_windows_on_the_series_clock() {
        let events = [
            event("heal", "heal", 4_000.0, None),
            event("partition", "partition [1] | [2, 3]", 1_000.0, None),
            event("kill", "kill [2]", 2_500.0, Some(3_200.0)),
            event("pause", "pause [3]", 5_000.0, None),
        ];
        let w = fault_windows(&events, 8.0);
        assert_eq!(
            w,
            vec![
                Window {
                    from_s: 1.0,
                    to_s: 4.0,
                    label: "partition [1] | [2, 3]".into()
                },
                Window {
                    from_s: 2.5,
                    to_s: 3.2,
                    label: "kill [2]".into()
                },
                // Never resumed: until the end.
                Window {
                    from_s: 5.0,
                    to_s: 8.0,
                    label: "pause [3]".into()
                },
            ]
        );
    }

    #[test]
    fn a_chart_breaks_its_line_at_gaps_and_shades_windows() {
        let svg = chart(&Chart {
            title: "t",
            unit: " µs",
            end_s: 4.0,
            lines: &timed(
                &[0.5, 1.5, 2.5, 3.5],
                vec![(
                    "p99".into(),
                    vec![Some(100.0), None, Some(300.0), Some(200.0)],
                )],
            ),
            windows: &[Window {
                from_s: 1.0,
                to_s: 2.0,
                label: "kill [2]".into(),
            }],
            log: true,
        });
        assert_eq!(svg.matches("<polyline").count(), 2, "{svg}");
        assert!(svg.contains("<title>kill [2]</title></rect>"), "{svg}");
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
    }
}
