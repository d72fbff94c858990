//! Small inline SVG plots for the HTML report: horizontal bars, latency bars on a log scale,
//! percentile curves, and strips (which consumer got which item). No scripts, no external
//! resources: every plot is one `<svg>` element.

use std::fmt::Write as _;

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

/// A number for a label: thousands separators for large values, a few decimals for small ones.
pub fn num(v: f64) -> String {
    if !v.is_finite() {
        return v.to_string();
    }
    if v.abs() >= 1000.0 {
        let s = super::thousands(v.abs().round() as u64);
        if v < 0.0 {
            format!("-{s}")
        } else {
            s
        }
    } else if v.fract() == 0.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn open(out: &mut String, w: f64, h: f64, title: &str) {
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

fn log_x(v: f64, lo: f64, hi: f64, w: f64) -> f64 {
    let v = v.max(lo);
    (v / lo).log10() / (hi / lo).log10() * w
}

/// Decade bounds around `min..=max` (µs), for log axes.
fn decades(min: f64, max: f64) -> (f64, f64) {
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
        for svg in [b, l, p, s, g] {
            assert!(svg.starts_with("<svg "));
            assert!(svg.ends_with("</svg>"));
            assert_eq!(svg.matches("<svg").count(), 1);
            assert!(!svg.contains("<x>"));
            assert!(!svg.contains("NaN"));
        }
    }
}
