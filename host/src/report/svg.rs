//! Small inline SVG plots for the HTML report: horizontal bars, latency bars on a log scale,
//! percentile curves, strips (which consumer got which item), and timelines (a queue's fill
//! level over time with its producers' waits). No scripts, no external resources: every plot
//! is one `<svg>` element.

use std::fmt::Write as _;

use crate::format::num;

/// Colours of series, in order.
pub const PALETTE: [&str; 8] = [
    "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#9c755f",
];

pub fn color(i: usize) -> &'static str {
    PALETTE[i % PALETTE.len()]
}

/// Escapes text for HTML and SVG.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

pub(super) fn open(out: &mut String, w: f64, h: f64, title: &str) {
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" font-family="sans-serif" font-size="12"><title>{}</title>"#,
        esc(title)
    );
}

/// One bar of a bar chart.
pub struct Bar {
    pub label: String,
    pub value: f64,
    pub color: &'static str,
    /// Text after the bar (the value, formatted); empty: the value.
    pub note: String,
}

/// Horizontal bars on a linear scale from 0.
pub fn bars(title: &str, rows: &[Bar]) -> String {
    let label_w = 8.0
        * rows
            .iter()
            .map(|r| r.label.chars().count())
            .max()
            .unwrap_or(4) as f64;
    let label_w = label_w.clamp(60.0, 260.0);
    let plot_w = 420.0;
    let row_h = 22.0;
    let note_w = rows
        .iter()
        .map(|r| {
            if r.note.is_empty() {
                num(r.value).len()
            } else {
                r.note.chars().count()
            }
        })
        .max()
        .unwrap_or(4) as f64
        * 7.0;
    let w = label_w + plot_w + note_w + 20.0;
    let h = row_h * rows.len() as f64 + 10.0;
    let max = rows.iter().map(|r| r.value).fold(0.0f64, f64::max);
    let mut out = String::new();
    open(&mut out, w, h, title);
    for (i, r) in rows.iter().enumerate() {
        let y = 5.0 + i as f64 * row_h;
        let len = if max > 0.0 {
            (r.value.max(0.0) / max * plot_w).max(1.0)
        } else {
            1.0
        };
        let note = if r.note.is_empty() {
            num(r.value)
        } else {
            r.note.clone()
        };
        let _ = write!(
            out,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text><rect x="{label_w}" y="{:.1}" width="{len:.1}" height="{:.1}" fill="{}"><title>{}: {}</title></rect><text x="{:.1}" y="{:.1}">{}</text>"#,
            label_w - 6.0,
            y + 15.0,
            esc(&r.label),
            y + 3.0,
            row_h - 6.0,
            r.color,
            esc(&r.label),
            esc(&note),
            label_w + len + 5.0,
            y + 15.0,
            esc(&note)
        );
    }
    out.push_str("</svg>");
    out
}

/// Groups of bars side by side (e.g. entries per member before and after a fault): one row
/// group per label, one bar per series.
pub fn grouped_bars(title: &str, series: &[&str], groups: &[(String, Vec<f64>)]) -> String {
    let label_w = 110.0;
    let plot_w = 420.0;
    let bar_h = 14.0;
    let group_h = bar_h * series.len() as f64 + 10.0;
    let legend_h = 22.0;
    let w = label_w + plot_w + 90.0;
    let h = legend_h + group_h * groups.len() as f64 + 6.0;
    let max = groups
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .fold(0.0f64, f64::max);
    let mut out = String::new();
    open(&mut out, w, h, title);
    let mut x = label_w;
    for (i, s) in series.iter().enumerate() {
        let _ = write!(
            out,
            r#"<rect x="{x:.1}" y="4" width="12" height="12" fill="{}"/><text x="{:.1}" y="14">{}</text>"#,
            color(i),
            x + 16.0,
            esc(s)
        );
        x += 24.0 + 7.5 * s.len() as f64;
    }
    for (g, (label, values)) in groups.iter().enumerate() {
        let y0 = legend_h + g as f64 * group_h;
        let _ = write!(
            out,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            label_w - 6.0,
            y0 + group_h / 2.0 + 2.0,
            esc(label)
        );
        for (i, v) in values.iter().enumerate() {
            let y = y0 + i as f64 * bar_h;
            let len = if max > 0.0 {
                (v / max * plot_w).max(1.0)
            } else {
                1.0
            };
            let _ = write!(
                out,
                r#"<rect x="{label_w}" y="{y:.1}" width="{len:.1}" height="{:.1}" fill="{}"><title>{}: {}</title></rect><text x="{:.1}" y="{:.1}" font-size="11">{}</text>"#,
                bar_h - 2.0,
                color(i),
                esc(series.get(i).copied().unwrap_or("")),
                num(*v),
                label_w + len + 4.0,
                y + bar_h - 4.0,
                num(*v)
            );
        }
    }
    out.push_str("</svg>");
    out
}

pub(super) fn log_x(v: f64, lo: f64, hi: f64, w: f64) -> f64 {
    let v = v.max(lo);
    (v / lo).log10() / (hi / lo).log10() * w
}

/// Decade bounds around `min..=max` (µs), for log axes.
pub(super) fn decades(min: f64, max: f64) -> (f64, f64) {
    let lo = 10f64.powf(min.max(0.01).log10().floor());
    let mut hi = 10f64.powf(max.max(0.01).log10().ceil());
    if hi <= lo {
        hi = lo * 10.0;
    }
    (lo, hi)
}

/// Per operation: p50, p90, p99 and max as nested bars on a log scale of microseconds.
pub fn latency_bars(title: &str, ops: &[(String, [f64; 4])]) -> String {
    let names = ["p50", "p90", "p99", "max"];
    let label_w = 170.0;
    let plot_w = 440.0;
    let row_h = 26.0;
    let top = 24.0;
    let bottom = 22.0;
    let w = label_w + plot_w + 30.0;
    let h = top + row_h * ops.len() as f64 + bottom;
    let min = ops.iter().map(|(_, v)| v[0]).fold(f64::INFINITY, f64::min);
    let max = ops.iter().map(|(_, v)| v[3]).fold(0.0f64, f64::max);
    let (lo, hi) = decades(if min.is_finite() { min } else { 1.0 }, max);
    let mut out = String::new();
    open(&mut out, w, h, title);
    // Legend: the darkest is p50, the lightest max.
    let shades = ["1", "0.75", "0.5", "0.28"];
    let mut x = label_w;
    for (i, n) in names.iter().enumerate() {
        let _ = write!(
            out,
            r##"<rect x="{x:.1}" y="4" width="12" height="12" fill="#4e79a7" fill-opacity="{}"/><text x="{:.1}" y="14">{n}</text>"##,
            shades[i],
            x + 16.0
        );
        x += 60.0;
    }
    // Decade grid.
    let mut d = lo;
    while d <= hi * 1.0001 {
        let gx = label_w + log_x(d, lo, hi, plot_w);
        let _ = write!(
            out,
            r##"<line x1="{gx:.1}" y1="{top}" x2="{gx:.1}" y2="{:.1}" stroke="#ddd"/><text x="{gx:.1}" y="{:.1}" text-anchor="middle" font-size="10">{} µs</text>"##,
            h - bottom,
            h - 8.0,
            num(d)
        );
        d *= 10.0;
    }
    for (r, (name, v)) in ops.iter().enumerate() {
        let y = top + r as f64 * row_h;
        let _ = write!(
            out,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            label_w - 6.0,
            y + 16.0,
            esc(name)
        );
        // Longest first, so shorter (darker) bars are drawn over it.
        for i in (0..4).rev() {
            let len = log_x(v[i], lo, hi, plot_w).max(1.0);
            let _ = write!(
                out,
                r##"<rect x="{label_w}" y="{:.1}" width="{len:.1}" height="{:.1}" fill="#4e79a7" fill-opacity="{}"><title>{} {}: {} µs</title></rect>"##,
                y + 4.0,
                row_h - 8.0,
                shades[i],
                esc(name),
                names[i],
                num(v[i])
            );
        }
    }
    out.push_str("</svg>");
    out
}

/// Percentile curves: x is the percentile on a "nines" scale (50, 90, 99, 99.9, …), y the
/// latency on a log scale of microseconds; one line per series.
pub fn percentile_curves(title: &str, series: &[(String, Vec<(f64, f64)>)]) -> String {
    let (left, right, top, bottom) = (60.0, 160.0, 12.0, 30.0);
    let (plot_w, plot_h) = (460.0, 220.0);
    let w = left + plot_w + right;
    let h = top + plot_h + bottom;
    let nines = |p: f64| -> f64 { (-(1.0 - (p / 100.0).min(0.999_999)).log10()).max(0.0) };
    let max_x = series
        .iter()
        .flat_map(|(_, pts)| pts.iter().map(|(p, _)| nines(*p)))
        .fold(1.0f64, f64::max)
        .ceil();
    let ys = series
        .iter()
        .flat_map(|(_, pts)| pts.iter().map(|(_, v)| *v));
    let (mut min_y, mut max_y) = (f64::INFINITY, 0.0f64);
    for v in ys {
        if v > 0.0 {
            min_y = min_y.min(v);
        }
        max_y = max_y.max(v);
    }
    let (lo, hi) = decades(if min_y.is_finite() { min_y } else { 1.0 }, max_y);
    let px = |p: f64| left + nines(p) / max_x * plot_w;
    let py = |v: f64| top + plot_h - log_x(v, lo, hi, plot_h);
    let mut out = String::new();
    open(&mut out, w, h, title);
    for k in 0..=(max_x as u32) {
        let x = left + k as f64 / max_x * plot_w;
        let label = match k {
            0 => "0".to_owned(),
            1 => "90".to_owned(),
            2 => "99".to_owned(),
            k => format!("99.{}", "9".repeat(k as usize - 2)),
        };
        let _ = write!(
            out,
            r##"<line x1="{x:.1}" y1="{top}" x2="{x:.1}" y2="{:.1}" stroke="#ddd"/><text x="{x:.1}" y="{:.1}" text-anchor="middle" font-size="10">p{label}</text>"##,
            top + plot_h,
            top + plot_h + 14.0
        );
    }
    let mut d = lo;
    while d <= hi * 1.0001 {
        let y = py(d);
        let _ = write!(
            out,
            r##"<line x1="{left}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end" font-size="10">{} µs</text>"##,
            left + plot_w,
            left - 4.0,
            y + 3.0,
            num(d)
        );
        d *= 10.0;
    }
    for (i, (name, pts)) in series.iter().enumerate() {
        let path: Vec<String> = pts
            .iter()
            .map(|(p, v)| format!("{:.1},{:.1}", px(*p), py(*v)))
            .collect();
        let _ = write!(
            out,
            r#"<polyline fill="none" stroke="{}" stroke-width="2" points="{}"><title>{}</title></polyline><rect x="{:.1}" y="{:.1}" width="12" height="12" fill="{}"/><text x="{:.1}" y="{:.1}">{}</text>"#,
            color(i),
            path.join(" "),
            esc(name),
            left + plot_w + 12.0,
            top + i as f64 * 18.0,
            color(i),
            left + plot_w + 28.0,
            top + i as f64 * 18.0 + 10.0,
            esc(name)
        );
    }
    out.push_str("</svg>");
    out
}

/// One row per series over items 1..=n: a mark at every item the series holds (e.g. which
/// consumer got which item). Items held by two rows are marked red in both.
pub fn strips(title: &str, rows: &[(String, Vec<i64>)], n: i64) -> String {
    let label_w = 110.0;
    let cell = (620.0 / n.max(1) as f64).clamp(2.0, 12.0);
    let row_h = 20.0;
    let top = 6.0;
    let w = label_w + cell * n as f64 + 20.0;
    let h = top + row_h * rows.len() as f64 + 20.0;
    let mut holders = vec![0u32; n.max(0) as usize + 1];
    for (_, items) in rows {
        for &i in items {
            if (1..=n).contains(&i) {
                holders[i as usize] += 1;
            }
        }
    }
    let mut out = String::new();
    open(&mut out, w, h, title);
    for (r, (label, items)) in rows.iter().enumerate() {
        let y = top + r as f64 * row_h;
        let _ = write!(
            out,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text><rect x="{label_w}" y="{:.1}" width="{:.1}" height="{:.1}" fill="#f4f4f4"/>"##,
            label_w - 6.0,
            y + 14.0,
            esc(label),
            y + 2.0,
            cell * n as f64,
            row_h - 4.0
        );
        for &i in items {
            if !(1..=n).contains(&i) {
                continue;
            }
            let fill = if holders[i as usize] > 1 {
                "#e15759"
            } else {
                color(r)
            };
            let _ = write!(
                out,
                r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{fill}"><title>item {i}: {}</title></rect>"#,
                label_w + (i - 1) as f64 * cell,
                y + 2.0,
                (cell - 0.5).max(1.0),
                row_h - 4.0,
                esc(label)
            );
        }
    }
    let y = top + row_h * rows.len() as f64 + 12.0;
    for k in [1, n / 2, n] {
        if k >= 1 {
            let _ = write!(
                out,
                r#"<text x="{:.1}" y="{y:.1}" text-anchor="middle" font-size="10">{k}</text>"#,
                label_w + (k as f64 - 0.5) * cell
            );
        }
    }
    out.push_str("</svg>");
    out
}

/// A row under a [`timeline`] plot: spans (bars from start to end) and ticks (short marks) on
/// the plot's time axis, e.g. one producer's waits for room and its refused offers.
pub struct Track {
    pub label: String,
    /// `(start, end)` on the x axis.
    pub spans: Vec<(f64, f64)>,
    /// Points on the x axis.
    pub ticks: Vec<f64>,
}

/// What a [`timeline`] plot shows.
pub struct TimelinePlot<'a> {
    pub title: &'a str,
    /// The x axis (ms): from, to.
    pub x: (f64, f64),
    /// The level from `x.0`, before the first step.
    pub start: f64,
    /// `(x, level)` in order of x: the level from each point to the next (a step line).
    pub steps: &'a [(f64, f64)],
    /// A horizontal line at a level, with its label (e.g. the queue's capacity).
    pub limit: Option<(f64, String)>,
    /// Rows under the plot; their spans are also shaded behind the step line.
    pub tracks: &'a [Track],
}

/// Ticks at round values (1, 2 or 5 × a power of ten) over `lo..=hi`, about `n` of them.
pub(super) fn round_ticks(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    let span = (hi - lo).max(f64::MIN_POSITIVE);
    let raw = span / n.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let mut t = (lo / step).ceil() * step;
    let mut out = Vec::new();
    while t <= hi + step * 1e-9 && out.len() <= 4 * n {
        out.push(t);
        t += step;
    }
    out
}

/// Spans in pixels, merged where they touch (within half a pixel), at least a pixel wide.
fn merged_spans(mut spans: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    spans.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut out: Vec<(f64, f64)> = Vec::new();
    for (a, b) in spans {
        let b = b.max(a + 1.0);
        match out.last_mut() {
            Some(last) if a <= last.1 + 0.5 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

/// A step line over time (e.g. a queue's fill level) with an optional limit line, and tracks
/// of spans (lower half of a row) and ticks (upper half) below it on the same time axis (ms). Steps closer than a pixel are drawn
/// as one vertical stroke over the levels they pass through, so the line stays small whatever
/// the number of steps; spans and ticks are merged per pixel the same way.
pub fn timeline(p: &TimelinePlot) -> String {
    let f = TimelineFrame::of(p);
    let mut out = String::new();
    open(&mut out, f.width(), f.axis_y + 30.0, p.title);
    timeline_legend(&mut out, p, &f);
    // Y grid and labels.
    for y in round_ticks(f.y_min, f.y_max, 4) {
        let gy = f.py(y);
        let _ = write!(
            out,
            r##"<line x1="{}" y1="{gy:.1}" x2="{:.1}" y2="{gy:.1}" stroke="#e4e4e4"/><text x="{:.1}" y="{:.1}" text-anchor="end" font-size="10">{}</text>"##,
            f.left,
            f.left + f.plot_w,
            f.left - 4.0,
            gy + 3.0,
            num(y)
        );
    }
    // Every track's spans, shaded behind the line.
    let all: Vec<(f64, f64)> = p
        .tracks
        .iter()
        .flat_map(|t| t.spans.iter().map(|&(a, b)| (f.px(a), f.px(b))))
        .collect();
    for (a, b) in merged_spans(all) {
        let _ = write!(
            out,
            r#"<rect x="{a:.1}" y="{}" width="{:.1}" height="{}" fill="{}" fill-opacity="0.15"/>"#,
            f.top,
            b - a,
            f.plot_h,
            color(1)
        );
    }
    if let Some((level, label)) = &p.limit {
        let ly = f.py(*level);
        let _ = write!(
            out,
            r##"<line x1="{}" y1="{ly:.1}" x2="{:.1}" y2="{ly:.1}" stroke="#888" stroke-dasharray="4 3"><title>{}</title></line>"##,
            f.left,
            f.left + f.plot_w,
            esc(label)
        );
    }
    let _ = write!(
        out,
        r#"<path d="{}" fill="none" stroke="{}" stroke-width="1.5"/>"#,
        step_path(p, &f),
        color(0)
    );
    let _ = write!(
        out,
        r##"<rect x="{}" y="{}" width="{}" height="{}" fill="none" stroke="#bbb"/>"##,
        f.left, f.top, f.plot_w, f.plot_h
    );
    for (i, t) in p.tracks.iter().enumerate() {
        timeline_track(&mut out, t, f.tracks_top + i as f64 * f.track_h, &f);
    }
    // X axis (ms).
    for x in round_ticks(f.x0, f.x1, 6) {
        let gx = f.px(x);
        let _ = write!(
            out,
            r##"<line x1="{gx:.1}" y1="{:.1}" x2="{gx:.1}" y2="{:.1}" stroke="#999"/><text x="{gx:.1}" y="{:.1}" text-anchor="middle" font-size="10">{} ms</text>"##,
            f.axis_y,
            f.axis_y + 4.0,
            f.axis_y + 16.0,
            num(x)
        );
    }
    out.push_str("</svg>");
    out
}

/// Where a [`timeline`] draws: the plot's box, its tracks and axis, and its scales.
struct TimelineFrame {
    left: f64,
    right: f64,
    top: f64,
    plot_w: f64,
    plot_h: f64,
    track_h: f64,
    tracks_top: f64,
    axis_y: f64,
    x0: f64,
    x1: f64,
    y_min: f64,
    y_max: f64,
}

impl TimelineFrame {
    fn of(p: &TimelinePlot) -> TimelineFrame {
        let (left, right, top) = (150.0, 24.0, 26.0);
        let (plot_w, plot_h, track_h) = (600.0, 170.0, 18.0);
        let tracks_top = top + plot_h + 8.0;
        let (x0, x1) = if p.x.1 > p.x.0 {
            p.x
        } else {
            (p.x.0, p.x.0 + 1.0)
        };
        let y_max = p
            .steps
            .iter()
            .map(|s| s.1)
            .chain([p.start, p.limit.as_ref().map_or(0.0, |l| l.0), 1.0])
            .fold(0.0f64, f64::max);
        TimelineFrame {
            left,
            right,
            top,
            plot_w,
            plot_h,
            track_h,
            tracks_top,
            axis_y: tracks_top + track_h * p.tracks.len() as f64,
            x0,
            x1,
            y_min: p.steps.iter().map(|s| s.1).fold(p.start.min(0.0), f64::min),
            // Headroom, so a level at the top is not drawn on the frame.
            y_max: y_max + (y_max * 0.06).max(0.5),
        }
    }

    fn width(&self) -> f64 {
        self.left + self.plot_w + self.right
    }

    fn px(&self, x: f64) -> f64 {
        self.left + ((x - self.x0) / (self.x1 - self.x0)).clamp(0.0, 1.0) * self.plot_w
    }

    fn py(&self, y: f64) -> f64 {
        self.top + self.plot_h - (y - self.y_min) / (self.y_max - self.y_min) * self.plot_h
    }
}

/// The legend above the plot: the level, the limit line if any, blocked spans and refused
/// offers if there are tracks.
fn timeline_legend(out: &mut String, p: &TimelinePlot, f: &TimelineFrame) {
    let left = f.left;
    let _ = write!(
        out,
        r##"<line x1="{left}" y1="10" x2="{:.1}" y2="10" stroke="{}" stroke-width="2"/><text x="{:.1}" y="14">level</text>"##,
        left + 18.0,
        color(0),
        left + 22.0
    );
    if let Some((_, label)) = &p.limit {
        let _ = write!(
            out,
            r##"<line x1="{:.1}" y1="10" x2="{:.1}" y2="10" stroke="#888" stroke-dasharray="4 3"/><text x="{:.1}" y="14">{}</text>"##,
            left + 70.0,
            left + 88.0,
            left + 92.0,
            esc(label)
        );
    }
    if !p.tracks.is_empty() {
        let _ = write!(
            out,
            r##"<rect x="{:.1}" y="4" width="14" height="12" fill="{}" fill-opacity="0.6"/><text x="{:.1}" y="14">blocked</text><line x1="{:.1}" y1="4" x2="{:.1}" y2="16" stroke="{}" stroke-width="2"/><text x="{:.1}" y="14">refused offer</text>"##,
            left + 230.0,
            color(1),
            left + 248.0,
            left + 318.0,
            left + 318.0,
            color(3),
            left + 324.0
        );
    }
}

/// The step line: per pixel column, a vertical stroke through the levels it passes.
fn step_path(p: &TimelinePlot, f: &TimelineFrame) -> String {
    let mut path = format!("M{:.1},{:.1}", f.left, f.py(p.start));
    let mut column: Option<(i64, f64)> = None;
    let (mut lo, mut hi) = (p.start, p.start);
    let flush = |path: &mut String, x: f64, lo: f64, hi: f64, last: f64| {
        let _ = write!(
            path,
            "H{x:.1}V{:.1}V{:.1}V{:.1}",
            f.py(lo),
            f.py(hi),
            f.py(last)
        );
    };
    let mut last = p.start;
    for &(x, y) in p.steps {
        let sx = f.px(x);
        let col = sx.floor() as i64;
        match column {
            Some((c, _)) if c == col => {}
            Some((_, cx)) => {
                flush(&mut path, cx, lo, hi, last);
                (lo, hi) = (last, last);
                column = Some((col, sx));
            }
            None => column = Some((col, sx)),
        }
        lo = lo.min(y);
        hi = hi.max(y);
        last = y;
    }
    if let Some((_, cx)) = column {
        flush(&mut path, cx, lo, hi, last);
    }
    let _ = write!(path, "H{:.1}", f.left + f.plot_w);
    path
}

/// One track under the plot, at `y`: its label, its spans and its ticks.
fn timeline_track(out: &mut String, t: &Track, y: f64, f: &TimelineFrame) {
    let (left, plot_w, track_h) = (f.left, f.plot_w, f.track_h);
    let _ = write!(
        out,
        r##"<text x="{:.1}" y="{:.1}" text-anchor="end" font-size="11">{}</text><rect x="{left}" y="{:.1}" width="{plot_w}" height="{:.1}" fill="#f4f4f4"/>"##,
        left - 6.0,
        y + 12.0,
        esc(&t.label),
        y + 2.0,
        track_h - 4.0
    );
    let spans = merged_spans(t.spans.iter().map(|&(a, b)| (f.px(a), f.px(b))).collect());
    for (a, b) in spans {
        let _ = write!(
            out,
            r#"<rect x="{a:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{}" fill-opacity="0.6"/>"#,
            y + 8.0,
            b - a,
            track_h - 10.0,
            color(1)
        );
    }
    let mut ticks: Vec<i64> = t.ticks.iter().map(|&x| f.px(x).round() as i64).collect();
    ticks.sort_unstable();
    ticks.dedup();
    if !ticks.is_empty() {
        let _ = write!(
            out,
            r#"<g stroke="{}" stroke-width="1"><title>{}: {} refused offer(s)</title>"#,
            color(3),
            esc(&t.label),
            t.ticks.len()
        );
        for x in ticks {
            let _ = write!(
                out,
                r#"<line x1="{x}" y1="{:.1}" x2="{x}" y2="{:.1}"/>"#,
                y + 2.0,
                y + 7.0
            );
        }
        out.push_str("</g>");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_and_numbers() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(num(30000.0), "30,000");
        assert_eq!(num(12.34), "12.3");
        assert_eq!(num(1.234), "1.23");
        assert_eq!(num(7.0), "7");
    }

    #[test]
    fn plots_are_single_svg_elements() {
        let b = bars(
            "t",
            &[Bar {
                label: "<x>".into(),
                value: 3.0,
                color: color(0),
                note: String::new(),
            }],
        );
        let l = latency_bars("l", &[("map.get".into(), [1.0, 2.0, 10.0, 300.0])]);
        let p = percentile_curves(
            "p",
            &[(
                "map.get".into(),
                vec![(0.0, 1.0), (99.0, 5.0), (100.0, 9.0)],
            )],
        );
        let s = strips(
            "s",
            &[("c0".into(), vec![1, 3]), ("c1".into(), vec![2, 3])],
            3,
        );
        let g = grouped_bars(
            "g",
            &["before", "after"],
            &[("member 1".into(), vec![300.0, 0.0])],
        );
        let steps: Vec<(f64, f64)> = (0..5000)
            .map(|i| (i as f64 / 10.0, (i % 11) as f64))
            .collect();
        let tracks = [Track {
            label: "producer 0 <p>".into(),
            spans: vec![(1.0, 2.0), (1.5, 3.0), (400.0, 450.0)],
            ticks: vec![0.9, 0.95, 399.0],
        }];
        let t = timeline(&TimelinePlot {
            title: "fill",
            x: (0.0, 500.0),
            start: 0.0,
            steps: &steps,
            limit: Some((10.0, "capacity 10".into())),
            tracks: &tracks,
        });
        // 5,000 steps over 600 pixels: at most a few strokes per pixel column.
        assert!(t.len() < 40_000, "{} bytes", t.len());
        assert!(t.contains("capacity 10") && t.contains("producer 0 &lt;p&gt;"));
        assert!(t.contains("3 refused offer(s)"));
        // The two overlapping spans near the start are one bar in the track.
        assert_eq!(t.matches("fill-opacity=\"0.6\"/>").count(), 2 + 1);
        let empty = timeline(&TimelinePlot {
            title: "empty",
            x: (5.0, 5.0),
            start: 0.0,
            steps: &[],
            limit: None,
            tracks: &[],
        });
        for svg in [b, l, p, s, g, t, empty] {
            assert!(svg.starts_with("<svg "));
            assert!(svg.ends_with("</svg>"));
            assert_eq!(svg.matches("<svg").count(), 1);
            assert!(!svg.contains("<x>"));
            assert!(!svg.contains("NaN"));
        }
    }
}
