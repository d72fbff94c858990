//! The summary table printed at the end of a run.

use std::fmt::Write as _;

use crate::format::thousands;
use crate::history::register::OpView;
use crate::history::{
    CounterCheck, HistoryCheck, LinearizabilityCheck, LockCheck, QueueCheck, SetCheck, Verdict,
};
use crate::latency::Latencies;
use crate::results::{RunResult, ScenarioResult};

fn duration(ms: f64) -> String {
    if ms >= 1000.0 {
        format!("{:.2} s", ms / 1000.0)
    } else {
        format!("{ms:.1} ms")
    }
}

fn rate(per_second: f64) -> String {
    if per_second >= 1e6 {
        format!("{:.2}M", per_second / 1e6)
    } else if per_second >= 1e3 {
        format!("{:.1}k", per_second / 1e3)
    } else {
        format!("{per_second:.0}")
    }
}

fn json_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) if s.len() > 60 => {
            format!("{}… ({} chars)", &s[..s.floor_char_boundary(57)], s.len())
        }
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) if i >= 0 => thousands(i as u64),
            _ => n.to_string(),
        },
        other => other.to_string(),
    }
}

fn scenario_section(out: &mut String, s: &ScenarioResult) {
    let verdict = if s.passed() { "passed" } else { "FAILED" };
    let _ = writeln!(
        out,
        "\n{} ({}, step {}) — {verdict}",
        s.name,
        s.source,
        s.step + 1
    );
    if !s.setup.status.is_ok() {
        let _ = writeln!(
            out,
            "  setup {}: {}",
            s.setup.status.label(),
            s.setup.error.as_deref().unwrap_or("")
        );
    }
    if !s.instances.is_empty() {
        let _ = writeln!(
            out,
            "  {:>8}  {:<10}  {:>10}  {:>10}  {:>8}",
            "instance", "status", "elapsed", "ops", "ops/s"
        );
        for i in &s.instances {
            let _ = writeln!(
                out,
                "  {:>8}  {:<10}  {:>10}  {:>10}  {:>8}",
                i.index,
                i.outcome.status.label(),
                duration(i.elapsed_ms),
                thousands(i.ops),
                rate(i.ops_per_second()),
            );
            if let Some(e) = &i.outcome.error {
                let _ = writeln!(out, "  {:>8}  └ {e}", "");
            }
        }
    }
    let mut values: Vec<(String, String)> = Vec::new();
    for (k, v) in &s.recorded.values {
        values.push((k.clone(), json_text(v)));
    }
    for (k, v) in &s.recorded.counters {
        values.push((k.clone(), thousands(*v as u64)));
    }
    for (k, v) in &s.totals {
        if !s.recorded.values.contains_key(k) && !s.recorded.counters.contains_key(k) {
            values.push((format!("{k} (total)"), json_text(&(*v).into())));
        }
    }
    if !values.is_empty() {
        let width = values.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        let _ = writeln!(out, "  values");
        for (k, v) in values {
            let _ = writeln!(out, "    {k:<width$}  {v}");
        }
    }
    if !s.checks.is_empty() {
        let _ = writeln!(out, "  checks");
        for c in crate::results::failed_first(&s.checks, |c| c.ok) {
            let mark = if c.ok { "ok  " } else { "FAIL" };
            let who = c
                .instance
                .map(|i| format!(" (instance {i})"))
                .unwrap_or_default();
            let _ = writeln!(out, "    {mark} {}{who}: {}", c.name, c.detail);
        }
    }
    if let Some(it) = &s.iterations {
        iterations_lines(out, it);
    }
    latency_table(out, &s.latency);
    if let Some(it) = s.iterations.as_ref().filter(|i| !i.op_response.is_empty()) {
        out.push_str("  response times, from each iteration's intended start:\n");
        latency_table(out, &it.op_response);
    }
    if !s.verify.status.is_ok() {
        let _ = writeln!(
            out,
            "  verify {}: {}",
            s.verify.status.label(),
            s.verify.error.as_deref().unwrap_or("")
        );
    }
}

fn micros(us: f64) -> String {
    if us >= 1000.0 {
        thousands(us.round() as u64)
    } else if us >= 10.0 {
        format!("{us:.1}")
    } else {
        format!("{us:.2}")
    }
}

/// What an iteration executor did: counts, rates, iteration latency and failure messages.
pub fn iterations_lines(out: &mut String, it: &crate::runner::IterationSummary) {
    let c = &it.counts;
    let _ = writeln!(out, "  iterations        {} ({})", it.executor, it.schedule);
    let _ = writeln!(
        out,
        "    started {}, completed {}, failed {}, dropped {}; {}/s over {:.1} s{} on {} instances",
        thousands(c.started),
        thousands(c.completed),
        thousands(c.failed),
        thousands(c.dropped),
        thousands(it.rate.round() as u64),
        it.secs,
        it.target_rate
            .map(|t| format!(" (target {}/s)", thousands(t.round() as u64)))
            .unwrap_or_default(),
        it.instances_started,
    );
    if let Some([from, to]) = it.measured {
        let _ = writeln!(
            out,
            "    trimmed: the figures count what ended {from:.1}–{to:.1} s into the run phase"
        );
    }
    for (what, st) in [("response", &it.response), ("service", &it.service)] {
        if let Some(st) = st {
            let _ = writeln!(
                out,
                "    {what:<9} p50 {} µs, p90 {} µs, p99 {} µs, max {} µs",
                micros(st.p50_us),
                micros(st.p90_us),
                micros(st.p99_us),
                micros(st.max_us)
            );
        }
    }
    for e in &it.errors {
        let _ = writeln!(out, "    failed ×{}: {}", thousands(e.count), e.message);
    }
    if it.errors_omitted > 0 {
        let _ = writeln!(
            out,
            "    failed ×{} with other messages",
            thousands(it.errors_omitted)
        );
    }
}

/// The latency table of one scenario: per operation count, mean, p50, p90, p99, max (µs).
pub fn latency_table(out: &mut String, latency: &Latencies) {
    if latency.is_empty() {
        return;
    }
    let stats = latency.stats();
    let width = stats
        .iter()
        .map(|(k, _)| k.len())
        .max()
        .unwrap_or(0)
        .max(10)
        + 2;
    let _ = writeln!(
        out,
        "  {:<width$}  {:>9}  {:>8}  {:>8}  {:>8}  {:>8}  {:>8}",
        "latency (µs)", "count", "mean", "p50", "p90", "p99", "max"
    );
    for (op, st) in stats {
        let _ = writeln!(
            out,
            "    {op:<w2$}  {:>9}  {:>8}  {:>8}  {:>8}  {:>8}  {:>8}",
            thousands(st.count),
            micros(st.mean_us),
            micros(st.p50_us),
            micros(st.p90_us),
            micros(st.p99_us),
            micros(st.max_us),
            w2 = width - 2,
        );
    }
}

/// `run: ` before a checker line of a history with several runs.
pub(super) fn run_prefix(run: &Option<String>) -> String {
    run.as_ref().map(|r| format!("{r}: ")).unwrap_or_default()
}

/// What the history checker found, in a few lines.
pub fn history_summary(path: &str, c: &HistoryCheck) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "
history {path}: {} operations ({} ok, {} failed, {} unknown)",
        thousands(c.ops),
        thousands(c.ok),
        thousands(c.failed),
        thousands(c.unknown)
    );
    for k in &c.counters {
        write_counters(&mut out, k);
    }
    for l in &c.linearizability {
        write_linearizability(&mut out, l);
    }
    for l in &c.locks {
        write_locks(&mut out, l);
    }
    for s in &c.sets {
        write_sets(&mut out, s);
    }
    for q in &c.queues {
        write_queues(&mut out, q);
    }
    out
}

/// Lines for the lost updates of each counter key.
fn write_counters(out: &mut String, k: &CounterCheck) {
    let _ = writeln!(
        out,
        "  {}{}: counter {}[{}]: {} updates{}, {} → {} (expected {}), lost updates {}{}",
        run_prefix(&k.run),
        k.scenario,
        k.map,
        k.key,
        thousands(k.updates),
        k.delta
            .map(|d| format!(" of {d:+}"))
            .unwrap_or_else(|| " of mixed deltas".into()),
        k.initial,
        k.final_value,
        k.expected_final,
        k.lost_updates,
        if k.uncertain_writes > 0 {
            format!(", {} uncertain writes", k.uncertain_writes)
        } else {
            String::new()
        }
    );
}

/// Lines for each map's linearizability verdict, with a counterexample for keys that fail.
fn write_linearizability(out: &mut String, l: &LinearizabilityCheck) {
    let _ = writeln!(
        out,
        "  {}map {} ({}): {} key(s), {} operations{}: {}",
        run_prefix(&l.run),
        l.map,
        l.model,
        thousands(l.keys),
        thousands(l.ops),
        if l.unknown_ops > 0 {
            format!(" ({} of unknown outcome)", thousands(l.unknown_ops))
        } else {
            String::new()
        },
        match l.verdict() {
            Verdict::Linearizable => "linearizable".to_string(),
            Verdict::NotLinearizable => format!(
                "NOT LINEARIZABLE ({} key(s))",
                thousands(l.not_linearizable)
            ),
            Verdict::Unknown => format!(
                "unknown: budget exhausted ({} key(s))",
                thousands(l.undecided)
            ),
        }
    );
    for k in l
        .key_checks
        .iter()
        .filter(|k| k.verdict != Verdict::Linearizable)
    {
        let _ = writeln!(out, "    key {}: {}", k.key, k.verdict.as_str());
        if let Some(cx) = &k.counterexample {
            let _ = writeln!(
                out,
                "      no valid order{}:",
                if cx.window_alone_invalid {
                    " for these operations"
                } else {
                    " explains the last of these operations"
                }
            );
            for o in &cx.window {
                let _ = writeln!(out, "        {}", op_line(o));
            }
            let _ = writeln!(
                out,
                "      longest valid prefix: {} operations{}",
                thousands(cx.valid_prefix_len),
                if cx.valid_prefix_tail.is_empty() {
                    String::new()
                } else {
                    ", ending with:".into()
                }
            );
            for o in &cx.valid_prefix_tail {
                let _ = writeln!(out, "        {}", op_line(o));
            }
        }
    }
}

/// Lines for each lock's exclusivity, with overlapping holds.
fn write_locks(out: &mut String, l: &LockCheck) {
    let _ = writeln!(
        out,
        "  {}lock {}[{}]: {} holds, {}{}{}",
        run_prefix(&l.run),
        l.map,
        l.key,
        thousands(l.holds),
        if l.overlaps == 0 {
            "exclusive".to_string()
        } else {
            format!("NOT EXCLUSIVE: {} overlapping holds", l.overlaps)
        },
        if l.uncertain > 0 {
            format!(", {} uncertain", l.uncertain)
        } else {
            String::new()
        },
        if l.lost > 0 {
            format!(", {} lost by their owner", l.lost)
        } else {
            String::new()
        }
    );
    for [a, b] in &l.examples {
        let _ = writeln!(
            out,
            "    {} #{} held it {:.1}–{:.1} µs while {} #{} held it {:.1}–{:.1} µs",
            a.scenario, a.instance, a.from_us, a.to_us, b.scenario, b.instance, b.from_us, b.to_us
        );
    }
}

/// Lines for each acknowledged-writes set: what was lost, uncertain, recovered.
fn write_sets(out: &mut String, s: &SetCheck) {
    let _ = writeln!(
        out,
        "  {}set {}: {} acknowledged, {} present, lost {}, uncertain {}, recovered {}, unexpected {}{}",
        run_prefix(&s.run),
        s.map,
        thousands(s.acknowledged),
        thousands(s.present),
        s.lost,
        s.uncertain,
        s.recovered,
        s.unexpected,
        if s.lost_keys.is_empty() {
            String::new()
        } else {
            format!(
                " (lost: {})",
                s.lost_keys
                    .iter()
                    .map(|k| k.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    );
}

/// Lines for each queue's items lost, duplicated or uncertain.
fn write_queues(out: &mut String, q: &QueueCheck) {
    let _ = writeln!(
        out,
        "  {}queue {}: {} added, {} taken{}, lost {}, duplicated {}, uncertain {}, unexpected {}",
        run_prefix(&q.run),
        q.queue,
        q.added,
        q.taken,
        q.remaining
            .map(|r| format!(", {r} remaining"))
            .unwrap_or_default(),
        q.lost,
        q.duplicated,
        q.uncertain,
        q.unexpected
    );
}

/// One operation of a counterexample: instance, times, what it did.
fn op_line(o: &OpView) -> String {
    format!(
        "#{} {:>12.1} – {:<12} {}",
        o.instance,
        o.start_us,
        if o.outcome == crate::history::OpOutcome::Unknown {
            "?".to_string()
        } else {
            format!("{:.1} µs", o.end_us)
        },
        o.text
    )
}

/// The end-of-run summary: per instance status, elapsed, ops, ops/s; then recorded values
/// and checks per scenario.
pub fn summary(r: &RunResult) -> String {
    let mut out = String::new();
    let seed = if r.backend.kind == "embedded" {
        format!(" · seed {}", r.seed)
    } else {
        String::new()
    };
    let _ = writeln!(
        out,
        "hzlab {} · {} · {}{seed} · {}",
        r.hzlab,
        r.backend.description,
        r.backend.members_line(),
        duration(r.elapsed_ms)
    );
    for s in &r.scenarios {
        scenario_section(&mut out, s);
    }
    let failed: Vec<&str> = r
        .scenarios
        .iter()
        .filter(|s| !s.passed())
        .map(|s| s.name.as_str())
        .collect();
    if r.interrupted {
        let _ = writeln!(out, "\n{}", crate::results::INTERRUPTED_NOTE);
        let _ = writeln!(out, "\nresult: interrupted");
    } else if failed.is_empty() {
        let _ = writeln!(out, "\nresult: passed");
    } else {
        let _ = writeln!(out, "\nresult: FAILED ({})", failed.join(", "));
    }
    out
}
