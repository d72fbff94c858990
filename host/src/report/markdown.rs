//! `report.md`: the report's tables as Markdown (no plots). [`run_section`] renders one
//! [`ReportRun`] and can be called on its own.

use std::fmt::Write as _;

use super::document::{HistorySection, Report, ReportRun};
use super::facts;
use crate::format::{num, thousands};
use crate::results::{failed_first, RunResult, ScenarioResult};

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "passed"
    } else {
        "**FAILED**"
    }
}

pub fn render(r: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# hzlab report: {}\n", cell(&r.title));
    let _ = writeln!(
        out,
        "hzlab {} · {} run(s) · {}\n",
        r.hzlab,
        r.runs.len(),
        verdict(r.passed)
    );
    if r.interrupted {
        let _ = writeln!(out, "**{}**\n", crate::results::INTERRUPTED_NOTE);
    }
    overview_section(&mut out, r);
    for run in &r.runs {
        run_section(&mut out, run);
    }
    if !r.faults.is_empty() {
        faults_section(&mut out, r);
    }
    if !r.checks.is_empty() {
        checks_section(&mut out, r);
    }
    if !r.spread.is_empty() {
        spread_section(&mut out, r);
    }
    if let Some(h) = &r.history {
        history_section(&mut out, h);
    }
    out
}

/// The overview table: one row per scenario of each run.
fn overview_section(out: &mut String, r: &Report) {
    out.push_str("## Overview\n\n| run | scenario | instances | result | run elapsed (ms) | final | expected | lost | retries |\n| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |\n");
    for run in &r.runs {
        for s in &run.result.scenarios {
            let v = |n: &str| facts::scenario_number(s, n).map(num).unwrap_or_default();
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                cell(&run.label),
                cell(&s.name),
                s.instances.len(),
                verdict(s.passed()),
                num(facts::run_elapsed_ms(s)),
                v("final"),
                v("expected"),
                v("lost"),
                v("retries")
            );
        }
    }
}

/// Each fault's map spread before and after, with the predicted and observed loss.
fn faults_section(out: &mut String, r: &Report) {
    out.push_str("\n## Faults\n");
    for f in &r.faults {
        let _ = writeln!(out, "\n### {} (map {})\n", cell(&f.label), cell(&f.map));
        out.push_str("| member | owned before | backups before | running after | owned after | backups after |\n| ---: | ---: | ---: | --- | ---: | ---: |\n");
        for b in &f.before {
            let a = f.after.iter().find(|e| e.member == b.member);
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                b.member,
                b.owned_entries,
                b.backup_entries,
                a.map_or("", |a| if a.running { "yes" } else { "no" }),
                a.map(|a| a.owned_entries.to_string()).unwrap_or_default(),
                a.map(|a| a.backup_entries.to_string()).unwrap_or_default()
            );
        }
        let opt = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_else(|| "–".into());
        let _ = writeln!(
            out,
            "\nPredicted loss: {} · observed loss: {}",
            opt(f.predicted_loss),
            opt(f.observed_loss)
        );
    }
}

/// The checks, failed or held.
fn checks_section(out: &mut String, r: &Report) {
    out.push_str("\n## Checks\n\n| | where | check | detail |\n| --- | --- | --- | --- |\n");
    for c in failed_first(&r.checks, |c| c.ok) {
        let _ = writeln!(
            out,
            "| {} | {} | `{}` | {} |",
            if c.ok { "ok" } else { "**FAIL**" },
            cell(&c.label),
            cell(&c.that),
            cell(&c.detail)
        );
    }
}

/// How values spread over a plan's repeats.
fn spread_section(out: &mut String, r: &Report) {
    out.push_str("\n## Spread over repeats\n\n| where | value | min | mean | max | values |\n| --- | --- | ---: | ---: | ---: | --- |\n");
    for s in &r.spread {
        let values: Vec<String> = s.values.iter().map(|v| num(*v)).collect();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            cell(&s.label),
            cell(&s.name),
            num(s.min),
            num(s.mean),
            num(s.max),
            values.join(", ")
        );
    }
}

/// The operation history's checks: counters and queues as tables, then the others.
fn history_section(out: &mut String, h: &HistorySection) {
    let c = &h.check;
    let _ = writeln!(
        out,
        "\n## Operation history\n\n`{}`: {} operations — {} ok, {} failed, {} unknown.",
        h.file, c.ops, c.ok, c.failed, c.unknown
    );
    if !c.counters.is_empty() {
        out.push_str("\n| scenario | map | key | initial | updates | delta | final | expected | lost updates | uncertain writes |\n| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
        for k in &c.counters {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                cell(&format!(
                    "{}{}",
                    super::summary::run_prefix(&k.run),
                    k.scenario
                )),
                cell(&k.map),
                cell(&k.key.to_string()),
                k.initial,
                k.updates,
                k.delta
                    .map(|d| format!("{d:+}"))
                    .unwrap_or_else(|| "mixed".into()),
                k.final_value,
                k.expected_final,
                k.lost_updates,
                k.uncertain_writes
            );
        }
    }
    if !c.queues.is_empty() {
        out.push_str("\n| queue | added | taken | remaining | lost | duplicated | uncertain | unexpected |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
        for q in &c.queues {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                cell(&format!(
                    "{}{}",
                    super::summary::run_prefix(&q.run),
                    q.queue
                )),
                q.added,
                q.taken,
                q.remaining.map(|r| r.to_string()).unwrap_or_default(),
                q.lost,
                q.duplicated,
                q.uncertain,
                q.unexpected
            );
        }
    }
    history_checks(out, c);
}

/// Linearizability, locks and sets of a history, with each counterexample as a list.
fn history_checks(out: &mut String, c: &crate::history::HistoryCheck) {
    use crate::history::Verdict;
    if !c.linearizability.is_empty() {
        out.push_str("\n| map | model | keys | operations | unknown outcome | verdict |\n| --- | --- | ---: | ---: | ---: | --- |\n");
        for l in &c.linearizability {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                cell(&format!("{}{}", super::summary::run_prefix(&l.run), l.map)),
                l.model,
                l.keys,
                l.ops,
                l.unknown_ops,
                match l.verdict() {
                    Verdict::Linearizable => "linearizable".to_string(),
                    v => format!(
                        "**{}** ({} key(s))",
                        v.as_str(),
                        l.not_linearizable + l.undecided
                    ),
                }
            );
        }
        for l in &c.linearizability {
            for k in l.key_checks.iter().filter(|k| k.counterexample.is_some()) {
                let cx = k.counterexample.as_ref().unwrap();
                let _ = writeln!(
                    out,
                    "\nKey {} of `{}` is not linearizable; no valid order{}:\n",
                    cell(&k.key.to_string()),
                    cell(&l.map),
                    if cx.window_alone_invalid {
                        " for"
                    } else {
                        " explains the last of"
                    }
                );
                for o in &cx.window {
                    let _ = writeln!(
                        out,
                        "- instance {} · {} – {} µs · `{}`",
                        o.instance,
                        num(o.start_us),
                        if o.outcome == crate::history::OpOutcome::Unknown {
                            "?".to_string()
                        } else {
                            num(o.end_us)
                        },
                        o.text
                    );
                }
                let _ = writeln!(
                    out,
                    "\nLongest valid prefix: {} operations.",
                    cx.valid_prefix_len
                );
            }
        }
    }
    if !c.locks.is_empty() {
        out.push_str("\n| lock | holds | acquisitions | overlapping holds | uncertain | lost |\n| --- | ---: | ---: | ---: | ---: | ---: |\n");
        for l in &c.locks {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                cell(&format!(
                    "{}{}[{}]",
                    super::summary::run_prefix(&l.run),
                    l.map,
                    l.key
                )),
                l.holds,
                l.acquisitions,
                l.overlaps,
                l.uncertain,
                l.lost
            );
        }
    }
    if !c.sets.is_empty() {
        out.push_str("\n| set | acknowledged | present | lost | uncertain | recovered | unexpected |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n");
        for s in &c.sets {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} |",
                cell(&format!("{}{}", super::summary::run_prefix(&s.run), s.map)),
                s.acknowledged,
                s.present,
                s.lost,
                s.uncertain,
                s.recovered,
                s.unexpected
            );
        }
    }
}

/// One run: per scenario its instances, values, checks and latency.
pub fn run_section(out: &mut String, run: &ReportRun) {
    let r = &run.result;
    let _ = writeln!(
        out,
        "\n## {}\n\n{} · {} · seed {} · {} ms · {}",
        cell(&run.label),
        cell(&r.backend.description),
        cell(&r.backend.members_line()),
        r.seed,
        num(r.elapsed_ms),
        verdict(r.passed)
    );
    for s in &r.scenarios {
        scenario_section(out, s);
    }
    queues_section(out, r);
}

/// Per queue of the run: added, taken, peak fill, time at capacity, refused offers, blocked.
fn queues_section(out: &mut String, r: &RunResult) {
    if r.queues.timelines.is_empty() {
        return;
    }
    let capacity = r.backend.queue_capacity;
    let _ = writeln!(
        out,
        "\n### Queues over time\n\n{}\n",
        facts::QUEUE_LEVEL_NOTE
    );
    out.push_str("| queue | added | taken | peak fill | at (ms) | last fill | capacity | time at capacity (ms) | refused offers | blocked waits | blocked (ms) | dropped entries |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    let mut caveats = Vec::new();
    for q in &r.queues.timelines {
        let s = q.summary(capacity);
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            cell(&q.name),
            s.adds,
            s.takes,
            s.peak,
            num(s.peak_at_us / 1e3),
            s.last,
            capacity
                .map(|c| c.to_string())
                .unwrap_or_else(|| "unknown".into()),
            s.at_capacity_us.map(|t| num(t / 1e3)).unwrap_or_default(),
            s.refused,
            s.blocked,
            num(s.blocked_us / 1e3),
            q.dropped
        );
        caveats.extend(
            facts::queue_caveats(q)
                .into_iter()
                .map(|c| format!("- {}: {c}", cell(&q.name))),
        );
    }
    if r.queues.untracked_ops > 0 {
        caveats.push(format!(
            "- {} operations on queues past the first {} of a scenario are not counted",
            r.queues.untracked_ops,
            crate::timeline::MAX_QUEUES
        ));
    }
    if !caveats.is_empty() {
        out.push('\n');
        for c in caveats {
            let _ = writeln!(out, "{c}");
        }
    }
}

/// An instance column: the recorded number's name, the heading, how the number prints.
type ExtraColumn = (&'static str, &'static str, fn(f64) -> String);

/// Most intervals the over-time table shows (report.json has them all).
const SERIES_ROWS: usize = 120;

/// Iterations and latency per interval of an iteration executor's run.
fn series_table(out: &mut String, s: &ScenarioResult) {
    if s.series.is_empty() {
        return;
    }
    out.push_str(
        "\n| t (s) | started | completed | failed | dropped | operations | response p50 (µs) | response p99 (µs) | response max (µs) |\n| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
    );
    for i in s.series.iter().take(SERIES_ROWS) {
        let ops: u64 = i.ops.values().map(|o| o.latency.count).sum();
        let (p50, p99, max) = match &i.response {
            Some(r) => (num(r.p50_us), num(r.p99_us), num(r.max_us)),
            None => ("-".into(), "-".into(), "-".into()),
        };
        let c = i.iterations;
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {ops} | {p50} | {p99} | {max} |",
            num(i.t_s),
            c.started,
            c.completed,
            c.failed,
            c.dropped
        );
    }
    if s.series.len() > SERIES_ROWS {
        let _ = writeln!(
            out,
            "\n(the first {SERIES_ROWS} of {} intervals; report.json has all of them)",
            s.series.len()
        );
    }
}

pub fn scenario_section(out: &mut String, s: &ScenarioResult) {
    let _ = writeln!(
        out,
        "\n### {} ({}, step {}) — {}\n",
        cell(&s.name),
        cell(&s.source),
        s.step + 1,
        verdict(s.passed())
    );
    if !s.instances.is_empty() {
        // Columns for the numbers the shipped scenarios record, where some instance has them.
        let extra: Vec<ExtraColumn> = [
            ("full", "full", num as fn(f64) -> String),
            ("blocked-ns", "blocked (ms)", |b| num(b / 1e6)),
            ("retries", "retries", num),
        ]
        .into_iter()
        .filter(|(name, _, _)| {
            s.instances
                .iter()
                .any(|i| facts::instance_number(i, name).is_some())
        })
        .collect();
        let _ = writeln!(
            out,
            "| instance | status | elapsed (ms) | ops | ops/s |{}\n| ---: | --- | ---: | ---: | ---: |{}",
            extra.iter().map(|(_, h, _)| format!(" {h} |")).collect::<String>(),
            " ---: |".repeat(extra.len())
        );
        for i in &s.instances {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |{}",
                i.index,
                cell(&match &i.outcome.error {
                    Some(e) => format!("{}: {e}", i.outcome.status.label()),
                    None => i.outcome.status.label().to_owned(),
                }),
                num(i.elapsed_ms),
                thousands(i.ops),
                num(i.ops_per_second().round()),
                extra
                    .iter()
                    .map(|(name, _, show)| format!(
                        " {} |",
                        facts::instance_number(i, name)
                            .map(show)
                            .unwrap_or_default()
                    ))
                    .collect::<String>(),
            );
        }
    }
    let figure = |v: &serde_json::Value| match v {
        serde_json::Value::Number(n) => n.as_f64().map(num).unwrap_or_else(|| n.to_string()),
        other => other.to_string(),
    };
    let mut values: Vec<(String, String)> = s
        .recorded
        .values
        .iter()
        .map(|(k, v)| (k.clone(), figure(v)))
        .collect();
    values.extend(
        s.totals
            .iter()
            .map(|(k, v)| (format!("{k} (total)"), num(*v as f64))),
    );
    if !values.is_empty() {
        out.push_str("\n| value | |\n| --- | ---: |\n");
        for (k, v) in values {
            let _ = writeln!(out, "| {} | {} |", cell(&k), cell(&v));
        }
    }
    if !s.checks.is_empty() {
        out.push('\n');
        for c in failed_first(&s.checks, |c| c.ok) {
            let _ = writeln!(
                out,
                "- {} `{}`: {}",
                if c.ok { "ok" } else { "**FAIL**" },
                cell(&c.name),
                cell(&c.detail)
            );
        }
    }
    if !s.latency.is_empty() {
        out.push_str("\n| latency (µs) | count | mean | p50 | p90 | p99 | max |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n");
        for (op, st) in s.latency.stats() {
            let _ = writeln!(
                out,
                "| {op} | {} | {} | {} | {} | {} | {} |",
                st.count,
                num(st.mean_us),
                num(st.p50_us),
                num(st.p90_us),
                num(st.p99_us),
                num(st.max_us)
            );
        }
    }
    if s.iterations.is_some() {
        series_table(out, s);
    }
    if let Some(rows) = facts::consumed_items(s) {
        out.push('\n');
        for (i, items) in rows {
            let list: Vec<String> = items.iter().map(i64::to_string).collect();
            let _ = writeln!(
                out,
                "- consumer {i} got {} items: {}",
                items.len(),
                list.join(", ")
            );
        }
    }
}
