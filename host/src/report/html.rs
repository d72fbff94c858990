//! `report.html`: one self-contained page (inline CSS, inline SVG plots, no scripts, no
//! external resources). [`run_section`] renders one [`ReportRun`] and can be called on its own.

use std::fmt::Write as _;

use super::document::{FaultSection, HistorySection, Report, ReportCheck, ReportRun, SpreadRow};
use super::facts;
use super::svg::{self, esc, Bar};
use crate::format::num;
use crate::plan::exec::FaultEvent;
use crate::results::{RunResult, ScenarioResult};

const CSS: &str = "
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem auto;max-width:1100px;padding:0 1rem;color:#222;line-height:1.4}
h1{font-size:1.6rem}h2{margin-top:2.2rem;border-bottom:2px solid #4e79a7;padding-bottom:.2rem}
h3{margin-top:1.6rem}h4{margin:1rem 0 .3rem;color:#444}
table{border-collapse:collapse;margin:.4rem 0 1rem;font-size:.9rem}
th,td{border:1px solid #ddd;padding:.25rem .55rem;text-align:left;vertical-align:top}
th{background:#f3f5f8}td.n{text-align:right;font-variant-numeric:tabular-nums}
.ok{color:#2e7d32;font-weight:600}.fail{color:#c62828;font-weight:600}
.meta{color:#555}.plot{margin:.4rem 0 1rem;overflow-x:auto}
nav ul{columns:2}code{background:#f3f3f3;padding:0 .2rem}
";

fn verdict(ok: bool) -> &'static str {
    if ok {
        r#"<span class="ok">passed</span>"#
    } else {
        r#"<span class="fail">FAILED</span>"#
    }
}

fn mark(ok: bool) -> &'static str {
    if ok {
        r#"<span class="ok">ok</span>"#
    } else {
        r#"<span class="fail">FAIL</span>"#
    }
}

fn value_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) if s.chars().count() > 80 => {
            let head: String = s.chars().take(77).collect();
            format!("{head}… ({} chars)", s.len())
        }
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Number(n) => n.as_f64().map_or_else(|| n.to_string(), num),
        other => other.to_string(),
    }
}

fn slug(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

/// The whole page.
pub fn render(r: &Report) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>hzlab report: {}</title><style>{CSS}</style></head><body>\n",
        esc(&r.title)
    );
    let _ = writeln!(
        out,
        "<h1>hzlab report: {}</h1><p class=\"meta\">hzlab {} · {} run(s) · {}</p>",
        esc(&r.title),
        esc(r.hzlab),
        r.runs.len(),
        verdict(r.passed)
    );
    if r.interrupted {
        let _ = writeln!(
            out,
            "<p class=\"fail\" id=\"interrupted\">{}</p>",
            esc(crate::results::INTERRUPTED_NOTE)
        );
    }
    out.push_str("<nav><ul><li><a href=\"#overview\">Overview</a></li>");
    for (i, run) in r.runs.iter().enumerate() {
        let _ = write!(out, "<li><a href=\"#run-{i}\">{}</a></li>", esc(&run.label));
    }
    if !r.faults.is_empty() {
        out.push_str("<li><a href=\"#faults\">Faults</a></li>");
    }
    if !r.checks.is_empty() {
        out.push_str("<li><a href=\"#checks\">Checks</a></li>");
    }
    if !r.spread.is_empty() {
        out.push_str("<li><a href=\"#spread\">Spread over repeats</a></li>");
    }
    if r.history.is_some() {
        out.push_str("<li><a href=\"#history\">History</a></li>");
    }
    out.push_str("</ul></nav>\n");
    overview(&mut out, &r.runs);
    for (i, run) in r.runs.iter().enumerate() {
        run_section(&mut out, run, &format!("run-{i}"));
    }
    if !r.faults.is_empty() {
        out.push_str("<section id=\"faults\"><h2>Faults</h2>");
        for f in &r.faults {
            fault_section(&mut out, f);
        }
        out.push_str("</section>\n");
    }
    if !r.checks.is_empty() {
        checks_section(&mut out, &r.checks);
    }
    if !r.spread.is_empty() {
        spread_section(&mut out, &r.spread);
    }
    if let Some(h) = &r.history {
        history_section(&mut out, h);
    }
    out.push_str("</body></html>\n");
    out
}

/// Every scenario of every run side by side: elapsed time and final values.
fn overview(out: &mut String, runs: &[ReportRun]) {
    out.push_str("<section id=\"overview\"><h2>Overview</h2>");
    out.push_str("<table><tr><th>run</th><th>scenario</th><th>instances</th><th>result</th><th>run elapsed (ms)</th><th>ops</th><th>final</th><th>expected</th><th>lost</th><th>retries</th></tr>");
    let mut elapsed = Vec::new();
    let mut finals = Vec::new();
    for run in runs {
        for s in &run.result.scenarios {
            let cell = |name: &str| facts::scenario_number(s, name).map(num).unwrap_or_default();
            let ops: u64 = s.instances.iter().map(|i| i.ops).sum();
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                esc(&run.label),
                esc(&s.name),
                s.instances.len(),
                verdict(s.passed()),
                num(facts::run_elapsed_ms(s)),
                crate::format::thousands(ops),
                cell("final"),
                cell("expected"),
                cell("lost"),
                cell("retries"),
            );
            let label = if runs.len() > 1 {
                format!("{} · {}", s.name, run.label)
            } else {
                s.name.clone()
            };
            if !s.instances.is_empty() {
                elapsed.push(Bar {
                    label: label.clone(),
                    value: facts::run_elapsed_ms(s),
                    color: svg::color(elapsed.len()),
                    note: format!("{} ms", num(facts::run_elapsed_ms(s))),
                });
            }
            if let Some(f) = facts::scenario_number(s, "final") {
                let note = match facts::scenario_number(s, "expected") {
                    Some(e) => format!("{} of {}", num(f), num(e)),
                    None => num(f),
                };
                finals.push(Bar {
                    label,
                    value: f,
                    color: svg::color(finals.len()),
                    note,
                });
            }
        }
    }
    out.push_str("</table>");
    if !elapsed.is_empty() {
        let _ = write!(
            out,
            "<h4>Run elapsed time per scenario (longest instance)</h4><div class=\"plot\">{}</div>",
            svg::bars("run elapsed per scenario (ms)", &elapsed)
        );
    }
    if !finals.is_empty() {
        let _ = write!(
            out,
            "<h4>Final values</h4><div class=\"plot\">{}</div>",
            svg::bars("final value per scenario", &finals)
        );
    }
    out.push_str("</section>\n");
}

/// One run: its backend and every scenario's tables and plots.
pub fn run_section(out: &mut String, run: &ReportRun, id: &str) {
    let r = &run.result;
    let seed = if r.backend.kind == "embedded" {
        format!(" · seed {}", r.seed)
    } else {
        String::new()
    };
    let _ = write!(
        out,
        "<section class=\"run\" id=\"{}\"><h2>{}</h2><p class=\"meta\">{} · {}{} · {} ms · {}</p>",
        esc(id),
        esc(&run.label),
        esc(&r.backend.description),
        esc(&r.backend.members_line()),
        seed,
        num(r.elapsed_ms),
        verdict(r.passed)
    );
    if !r.args.is_empty() {
        let args: Vec<String> = r
            .args
            .iter()
            .map(|(k, v)| format!("<code>{}={}</code>", esc(k), esc(v)))
            .collect();
        let _ = write!(out, "<p class=\"meta\">arguments: {}</p>", args.join(" "));
    }
    for s in &r.scenarios {
        scenario_section(
            out,
            s,
            &format!("{id}-{}", slug(&s.name)),
            &run.fault_events,
        );
    }
    queues_section(out, r, &format!("{id}-queues"));
    out.push_str("</section>\n");
}

/// Most producer rows under a queue's plot; past that, one row for all of them.
const MAX_TRACKS: usize = 8;

/// Every queue of a run over time: its figures, and its fill level with the producers' waits
/// for room and refused offers.
fn queues_section(out: &mut String, r: &RunResult, id: &str) {
    let timelines = &r.queues.timelines;
    if timelines.is_empty() {
        return;
    }
    let capacity = r.backend.queue_capacity;
    let _ = write!(
        out,
        "<section class=\"queues\" id=\"{}\"><h3>Queues over time</h3><p class=\"meta\">{}</p>",
        esc(id),
        esc(facts::QUEUE_LEVEL_NOTE)
    );
    if r.queues.untracked_ops > 0 {
        let _ = write!(
            out,
            "<p class=\"meta\">{} operations on queues past the first {} of a scenario are not in the timelines.</p>",
            crate::format::thousands(r.queues.untracked_ops),
            crate::timeline::MAX_QUEUES
        );
    }
    out.push_str("<table><tr><th>queue</th><th>added</th><th>taken</th><th>peak fill</th><th>last fill</th><th>capacity</th><th>time at capacity (ms)</th><th>refused offers</th><th>blocked waits</th><th>blocked (ms)</th><th>dropped entries</th></tr>");
    for q in timelines {
        let s = q.summary(capacity);
        let _ = write!(
            out,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{} <small class=\"meta\">at {} ms</small></td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            esc(&q.name),
            crate::format::thousands(s.adds),
            crate::format::thousands(s.takes),
            s.peak,
            num(s.peak_at_us / 1e3),
            s.last,
            capacity.map(|c| c.to_string()).unwrap_or_else(|| "unknown".into()),
            s.at_capacity_us.map(|t| num(t / 1e3)).unwrap_or_default(),
            crate::format::thousands(s.refused),
            crate::format::thousands(s.blocked),
            num(s.blocked_us / 1e3),
            crate::format::thousands(q.dropped)
        );
    }
    out.push_str("</table>");
    for q in timelines {
        let s = q.summary(capacity);
        let steps: Vec<(f64, f64)> = q
            .levels()
            .into_iter()
            .map(|(t, l)| (t / 1e3, l as f64))
            .collect();
        let mut rows = facts::queue_waiters(q);
        if rows.len() > MAX_TRACKS {
            let label = format!("all {} instances", rows.len());
            let mut all = facts::QueueWaiter {
                label,
                blocked: Vec::new(),
                refused: Vec::new(),
            };
            for r in rows.drain(..) {
                all.blocked.extend(r.blocked);
                all.refused.extend(r.refused);
            }
            rows.push(all);
        }
        let tracks: Vec<svg::Track> = rows
            .into_iter()
            .map(|r| svg::Track {
                label: r.label,
                spans: r.blocked.iter().map(|&(a, b)| (a / 1e3, b / 1e3)).collect(),
                ticks: r.refused.iter().map(|t| t / 1e3).collect(),
            })
            .collect();
        let title = format!("queue {}: fill level over time", q.name);
        let plot = svg::timeline(&svg::TimelinePlot {
            title: &title,
            x: (s.start_us / 1e3, s.end_us / 1e3),
            start: q.base as f64,
            steps: &steps,
            limit: capacity.map(|c| (c as f64, format!("capacity {c}"))),
            tracks: &tracks,
        });
        let _ = write!(
            out,
            "<h4>Queue <code>{}</code>: fill level and producer blocking over time</h4>",
            esc(&q.name)
        );
        for c in facts::queue_caveats(q) {
            let _ = write!(out, "<p class=\"meta\">{}</p>", esc(&c));
        }
        let _ = write!(out, "<div class=\"plot\">{plot}</div>");
    }
    out.push_str("</section>\n");
}

/// One scenario: instances, recorded values, checks, latency, its figures over time with
/// the step's `faults` shaded, and the seed lab's plots.
pub fn scenario_section(out: &mut String, s: &ScenarioResult, id: &str, faults: &[FaultEvent]) {
    let _ = write!(
        out,
        "<section class=\"scenario\" id=\"{}\"><h3>{} <small class=\"meta\">({}, step {})</small> — {}</h3>",
        esc(id),
        esc(&s.name),
        esc(&s.source),
        s.step + 1,
        verdict(s.passed())
    );
    for (phase, o) in [("setup", &s.setup), ("verify", &s.verify)] {
        if !o.status.is_ok() {
            let _ = write!(
                out,
                "<p class=\"fail\">{phase} {}: {}</p>",
                o.status.label(),
                esc(o.error.as_deref().unwrap_or(""))
            );
        }
    }
    instances_table(out, s);
    values_table(out, s);
    checks_table(out, s);
    latency(out, s);
    super::over_time::plots(out, s, faults);
    retries_plot(out, s);
    producer_blocking(out, s);
    consumed_items(out, s);
    out.push_str("</section>\n");
}

/// Each instance: its outcome, time, operations and what it recorded.
fn instances_table(out: &mut String, s: &ScenarioResult) {
    if !s.instances.is_empty() {
        out.push_str("<h4>Instances</h4><table><tr><th>instance</th><th>status</th><th>elapsed (ms)</th><th>ops</th><th>ops/s</th><th>recorded</th></tr>");
        for i in &s.instances {
            let mut rec: Vec<String> = i
                .recorded
                .values
                .iter()
                .map(|(k, v)| format!("{}={}", esc(k), esc(&value_text(v))))
                .collect();
            rec.extend(
                i.recorded
                    .counters
                    .iter()
                    .map(|(k, v)| format!("{}={}", esc(k), num(*v as f64))),
            );
            let status = match &i.outcome.error {
                Some(e) => format!("{}: {}", i.outcome.status.label(), esc(e)),
                None => i.outcome.status.label().to_owned(),
            };
            let _ = write!(
                out,
                "<tr><td class=\"n\">{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
                i.index,
                status,
                num(i.elapsed_ms),
                crate::format::thousands(i.ops),
                num(i.ops_per_second().round()),
                rec.join("<br>")
            );
        }
        out.push_str("</table>");
    }
}

/// What the scenario recorded, its counters, and totals over its instances.
fn values_table(out: &mut String, s: &ScenarioResult) {
    let mut values: Vec<(String, String)> = s
        .recorded
        .values
        .iter()
        .map(|(k, v)| (k.clone(), value_text(v)))
        .collect();
    values.extend(
        s.recorded
            .counters
            .iter()
            .map(|(k, v)| (k.clone(), num(*v as f64))),
    );
    for (k, v) in &s.totals {
        if !s.recorded.values.contains_key(k) && !s.recorded.counters.contains_key(k) {
            values.push((format!("{k} (total)"), num(*v as f64)));
        }
    }
    if !values.is_empty() {
        out.push_str("<h4>Recorded values</h4><table><tr><th>name</th><th>value</th></tr>");
        for (k, v) in values {
            let _ = write!(
                out,
                "<tr><td>{}</td><td class=\"n\">{}</td></tr>",
                esc(&k),
                esc(&v)
            );
        }
        out.push_str("</table>");
    }
}

/// The scenario's checks.
fn checks_table(out: &mut String, s: &ScenarioResult) {
    if !s.checks.is_empty() {
        out.push_str("<h4>Checks</h4><table><tr><th></th><th>check</th><th>instance</th><th>detail</th></tr>");
        for c in crate::results::failed_first(&s.checks, |c| c.ok) {
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                mark(c.ok),
                esc(&c.name),
                c.instance.map(|i| i.to_string()).unwrap_or_default(),
                esc(&c.detail)
            );
        }
        out.push_str("</table>");
    }
}

/// Optimistic retries per instance (the scenarios that record `retries`).
fn retries_plot(out: &mut String, s: &ScenarioResult) {
    if let Some(rows) = facts::retries(s) {
        let bars: Vec<Bar> = rows
            .iter()
            .map(|(i, r)| Bar {
                label: format!("instance {i}"),
                value: *r,
                color: svg::color(0),
                note: String::new(),
            })
            .collect();
        let _ = write!(
            out,
            "<h4>Optimistic retries</h4><div class=\"plot\">{}</div>",
            svg::bars("retries per instance", &bars)
        );
    }
}

/// How often and how long each producer found its queue full.
fn producer_blocking(out: &mut String, s: &ScenarioResult) {
    if let Some(rows) = facts::producer_blocking(s) {
        out.push_str("<h4>Producer blocking</h4><table><tr><th>instance</th><th>found the queue full</th><th>blocked (ms)</th></tr>");
        for (i, full, ms) in &rows {
            let _ = write!(
                out,
                "<tr><td class=\"n\">{i}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                num(*full),
                num(*ms)
            );
        }
        out.push_str("</table>");
        let bars: Vec<Bar> = rows
            .iter()
            .map(|(i, full, ms)| Bar {
                label: format!("instance {i}"),
                value: *ms,
                color: svg::color(1),
                note: format!("{} ms blocked, full {} times", num(*ms), num(*full)),
            })
            .collect();
        let _ = write!(
            out,
            "<div class=\"plot\">{}</div>",
            svg::bars("time blocked waiting for room (ms)", &bars)
        );
    }
}

/// Which consumer took which item, items taken twice in red.
fn consumed_items(out: &mut String, s: &ScenarioResult) {
    if let Some(rows) = facts::consumed_items(s) {
        let n = rows
            .iter()
            .flat_map(|(_, items)| items.iter().copied())
            .max()
            .unwrap_or(1)
            .max(1);
        let strips: Vec<(String, Vec<i64>)> = rows
            .iter()
            .map(|(i, items)| (format!("consumer {i} ({})", items.len()), items.clone()))
            .collect();
        let _ = write!(
            out,
            "<h4>Which consumer got which item (items 1..{n}; red: taken twice)</h4><div class=\"plot\">{}</div>",
            svg::strips("items per consumer", &strips, n)
        );
    }
}

fn latency(out: &mut String, s: &ScenarioResult) {
    if s.latency.is_empty() {
        return;
    }
    out.push_str("<h4>Latency per operation (µs)</h4><table><tr><th>operation</th><th>count</th><th>mean</th><th>p50</th><th>p90</th><th>p99</th><th>max</th></tr>");
    let mut bars = Vec::new();
    let mut curves = Vec::new();
    for (op, h) in &s.latency.ops {
        let st = h.stats();
        let _ = write!(
            out,
            "<tr><td>{op}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            crate::format::thousands(st.count),
            num(st.mean_us),
            num(st.p50_us),
            num(st.p90_us),
            num(st.p99_us),
            num(st.max_us)
        );
        bars.push((op.to_string(), [st.p50_us, st.p90_us, st.p99_us, st.max_us]));
        if st.count >= 10 {
            curves.push((op.to_string(), h.percentile_curve()));
        }
    }
    out.push_str("</table>");
    let _ = write!(
        out,
        "<div class=\"plot\">{}</div>",
        svg::latency_bars("latency per operation (µs, log scale)", &bars)
    );
    if !curves.is_empty() {
        let _ = write!(
            out,
            "<div class=\"plot\">{}</div>",
            svg::percentile_curves("latency by percentile (µs, log scale)", &curves)
        );
    }
}

fn fault_section(out: &mut String, f: &FaultSection) {
    let _ = write!(
        out,
        "<section class=\"fault\"><h3>{} <small class=\"meta\">(map {})</small></h3>",
        esc(&f.label),
        esc(&f.map)
    );
    out.push_str("<table><tr><th>member</th><th>running before</th><th>owned before</th><th>backups before</th><th>running after</th><th>owned after</th><th>backups after</th></tr>");
    let members: Vec<usize> = {
        let mut m: Vec<usize> = f.before.iter().chain(&f.after).map(|e| e.member).collect();
        m.sort_unstable();
        m.dedup();
        m
    };
    let mut groups = Vec::new();
    for m in members {
        let b = f.before.iter().find(|e| e.member == m);
        let a = f.after.iter().find(|e| e.member == m);
        let cells = |e: Option<&crate::cluster::MemberDistribution>| match e {
            Some(e) => format!(
                "<td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>",
                if e.running { "yes" } else { "no" },
                e.owned_entries,
                e.backup_entries
            ),
            None => "<td></td><td></td><td></td>".to_owned(),
        };
        let _ = write!(
            out,
            "<tr><td class=\"n\">{m}</td>{}{}</tr>",
            cells(b),
            cells(a)
        );
        groups.push((
            format!("member {m}"),
            vec![
                b.map_or(0.0, |e| e.owned_entries as f64),
                a.map_or(0.0, |e| e.owned_entries as f64),
            ],
        ));
    }
    out.push_str("</table>");
    let _ = write!(
        out,
        "<div class=\"plot\">{}</div>",
        svg::grouped_bars(
            "owned entries per member",
            &["owned before", "owned after"],
            &groups
        )
    );
    if f.predicted_loss.is_some() || f.observed_loss.is_some() {
        let bars: Vec<Bar> = [
            ("predicted loss", f.predicted_loss, 3),
            ("observed loss", f.observed_loss, 0),
        ]
        .into_iter()
        .filter_map(|(label, v, c)| {
            v.map(|v| Bar {
                label: label.into(),
                value: v as f64,
                color: svg::color(c),
                note: String::new(),
            })
        })
        .collect();
        let _ = write!(
            out,
            "<h4>Predicted vs observed loss</h4><div class=\"plot\">{}</div>",
            svg::bars("predicted and observed loss (entries)", &bars)
        );
    }
    out.push_str("</section>\n");
}

fn checks_section(out: &mut String, checks: &[ReportCheck]) {
    out.push_str("<section id=\"checks\"><h2>Checks</h2><table><tr><th></th><th>where</th><th>check</th><th>detail</th></tr>");
    for c in crate::results::failed_first(checks, |c| c.ok) {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td></tr>",
            mark(c.ok),
            esc(&c.label),
            esc(&c.that),
            esc(&c.detail)
        );
    }
    out.push_str("</table></section>\n");
}

fn spread_section(out: &mut String, rows: &[SpreadRow]) {
    out.push_str("<section id=\"spread\"><h2>Spread over repeats</h2><table><tr><th>where</th><th>value</th><th>min</th><th>mean</th><th>max</th><th>values</th></tr>");
    let mut bars = Vec::new();
    for r in rows {
        let values: Vec<String> = r.values.iter().map(|v| num(*v)).collect();
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
            esc(&r.label),
            esc(&r.name),
            num(r.min),
            num(r.mean),
            num(r.max),
            values.join(", ")
        );
        if r.name.ends_with(".final") || r.name.ends_with(".elapsed_ms") {
            bars.push(Bar {
                label: format!("{} · {}", r.label, r.name),
                value: r.mean,
                color: svg::color(bars.len()),
                note: format!("{} (min {}, max {})", num(r.mean), num(r.min), num(r.max)),
            });
        }
    }
    out.push_str("</table>");
    if !bars.is_empty() {
        let _ = write!(
            out,
            "<div class=\"plot\">{}</div>",
            svg::bars("mean over repeats", &bars)
        );
    }
    out.push_str("</section>\n");
}

fn history_section(out: &mut String, h: &HistorySection) {
    let c = &h.check;
    let _ = write!(
        out,
        "<section id=\"history\"><h2>Operation history</h2><p class=\"meta\"><code>{}</code>: {} operations — {} ok, {} failed, {} unknown · {}</p>",
        esc(&h.file),
        crate::format::thousands(c.ops),
        crate::format::thousands(c.ok),
        crate::format::thousands(c.failed),
        crate::format::thousands(c.unknown),
        if c.clean() {
            r#"<span class="ok">every check holds</span>"#
        } else if c.violated() {
            r#"<span class="fail">a check is violated</span>"#
        } else {
            r#"<span class="fail">undecided: budget exhausted</span>"#
        }
    );
    if !c.counters.is_empty() {
        out.push_str("<h4>Counters (lost updates)</h4><table><tr><th>scenario</th><th>map</th><th>key</th><th>initial</th><th>updates</th><th>delta</th><th>final</th><th>expected</th><th>lost updates</th><th>uncertain writes</th></tr>");
        for k in &c.counters {
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                esc(&format!("{}{}", super::summary::run_prefix(&k.run), k.scenario)),
                esc(&k.map),
                esc(&k.key.to_string()),
                num(k.initial as f64),
                crate::format::thousands(k.updates),
                k.delta.map(|d| format!("{d:+}")).unwrap_or_else(|| "mixed".into()),
                num(k.final_value as f64),
                num(k.expected_final as f64),
                num(k.lost_updates as f64),
                k.uncertain_writes
            );
        }
        out.push_str("</table>");
    }
    if !c.queues.is_empty() {
        out.push_str("<h4>Queues</h4><table><tr><th>queue</th><th>added</th><th>taken</th><th>remaining</th><th>lost</th><th>duplicated</th><th>uncertain</th><th>unexpected</th></tr>");
        for q in &c.queues {
            let _ = write!(
                out,
                "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                esc(&format!("{}{}", super::summary::run_prefix(&q.run), q.queue)),
                q.added,
                q.taken,
                q.remaining.map(|r| r.to_string()).unwrap_or_default(),
                q.lost,
                q.duplicated,
                q.uncertain,
                q.unexpected
            );
        }
        out.push_str("</table>");
    }
    history_checks(out, c);
    out.push_str("</section>\n");
}

/// Linearizability (with each counterexample drawn as a timeline), locks and sets.
fn history_checks(out: &mut String, c: &crate::history::HistoryCheck) {
    use crate::history::Verdict;
    if !c.linearizability.is_empty() {
        out.push_str("<h4>Linearizability</h4><table><tr><th>map</th><th>model</th><th>keys</th><th>operations</th><th>unknown outcome</th><th>verdict</th></tr>");
        for l in &c.linearizability {
            let verdict = match l.verdict() {
                Verdict::Linearizable => r#"<span class="ok">linearizable</span>"#.to_string(),
                v => format!(
                    r#"<span class="fail">{} ({} key(s))</span>"#,
                    v.as_str(),
                    l.not_linearizable + l.undecided
                ),
            };
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{verdict}</td></tr>",
                esc(&format!("{}{}", super::summary::run_prefix(&l.run), l.map)),
                esc(&l.model),
                l.keys,
                crate::format::thousands(l.ops),
                l.unknown_ops
            );
        }
        out.push_str("</table>");
        for l in &c.linearizability {
            for k in &l.key_checks {
                if let Some(cx) = &k.counterexample {
                    let _ = write!(
                        out,
                        "<p>Key <code>{}</code> of <code>{}</code>: no valid order {} these operations; the longest valid prefix holds {} operations.</p>",
                        esc(&k.key.to_string()),
                        esc(&l.map),
                        if cx.window_alone_invalid { "for" } else { "explains the last of" },
                        cx.valid_prefix_len
                    );
                    out.push_str(&counterexample_svg(&cx.window));
                }
            }
        }
    }
    if !c.locks.is_empty() {
        out.push_str("<h4>Locks</h4><table><tr><th>lock</th><th>holds</th><th>acquisitions</th><th>overlapping holds</th><th>uncertain</th><th>lost</th></tr>");
        for l in &c.locks {
            let _ = write!(
                out,
                "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                esc(&format!("{}{}[{}]", super::summary::run_prefix(&l.run), l.map, l.key)),
                l.holds,
                l.acquisitions,
                if l.overlaps == 0 { "0".to_string() } else { format!(r#"<span class="fail">{}</span>"#, l.overlaps) },
                l.uncertain,
                l.lost
            );
        }
        out.push_str("</table>");
    }
    if !c.sets.is_empty() {
        out.push_str("<h4>Sets</h4><table><tr><th>map</th><th>acknowledged</th><th>present</th><th>lost</th><th>uncertain</th><th>recovered</th><th>unexpected</th></tr>");
        for s in &c.sets {
            let _ = write!(
                out,
                "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                esc(&format!("{}{}", super::summary::run_prefix(&s.run), s.map)),
                s.acknowledged,
                s.present,
                s.lost,
                s.uncertain,
                s.recovered,
                s.unexpected
            );
        }
        out.push_str("</table>");
    }
}

/// A counterexample's operations as a timeline, one lane per instance (as Jepsen's
/// timeline.html draws them): a bar from start to end, labelled with what it did; an
/// operation of unknown outcome runs to the right edge.
fn counterexample_svg(ops: &[crate::history::register::OpView]) -> String {
    let mut lanes: Vec<(String, u32)> = ops
        .iter()
        .map(|o| (o.scenario.clone().unwrap_or_default(), o.instance))
        .collect();
    lanes.sort();
    lanes.dedup();
    let t0 = ops.iter().map(|o| o.start_us).fold(f64::INFINITY, f64::min);
    let t1 = ops
        .iter()
        .map(|o| {
            if o.outcome == crate::history::OpOutcome::Unknown {
                o.start_us
            } else {
                o.end_us
            }
        })
        .fold(f64::NEG_INFINITY, f64::max)
        .max(t0 + 1e-3);
    let (left, width, lane_h) = (120.0, 640.0, 34.0);
    let x = |t: f64| left + (t - t0) / (t1 - t0) * width;
    let height = lanes.len() as f64 * lane_h + 24.0;
    let mut svg = format!(
        r#"<svg class="timeline" width="{}" height="{height}" viewBox="0 0 {} {height}" role="img" aria-label="counterexample timeline">"#,
        left + width + 20.0,
        left + width + 20.0
    );
    for (i, (scenario, instance)) in lanes.iter().enumerate() {
        let y = i as f64 * lane_h + 4.0;
        let _ = write!(
            svg,
            r#"<text x="4" y="{}" font-size="11">{} #{}</text>"#,
            y + 18.0,
            esc(scenario),
            instance
        );
    }
    for o in ops {
        let lane = lanes
            .iter()
            .position(|l| l.0 == o.scenario.clone().unwrap_or_default() && l.1 == o.instance)
            .unwrap_or(0);
        let y = lane as f64 * lane_h + 4.0;
        let end = if o.outcome == crate::history::OpOutcome::Unknown {
            left + width
        } else {
            x(o.end_us)
        };
        let start = x(o.start_us);
        let _ = write!(
            svg,
            r##"<rect x="{start:.1}" y="{y:.1}" width="{:.1}" height="24" rx="3" fill="{}" fill-opacity="0.35" stroke="#555"><title>{} – {} µs</title></rect><text x="{:.1}" y="{:.1}" font-size="11">{}</text>"##,
            (end - start).max(2.0),
            if o.outcome == crate::history::OpOutcome::Unknown {
                "#e0a030"
            } else {
                "#4a90d9"
            },
            num(o.start_us),
            num(o.end_us),
            start + 3.0,
            y + 16.0,
            esc(&o.text)
        );
    }
    let _ = write!(
        svg,
        r#"<text x="{left}" y="{}" font-size="10">{} µs</text><text x="{}" y="{}" font-size="10" text-anchor="end">{} µs</text></svg>"#,
        height - 4.0,
        num(t0),
        left + width,
        height - 4.0,
        num(t1)
    );
    svg
}
