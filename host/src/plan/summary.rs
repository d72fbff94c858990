//! The terminal summary of a plan's result.

use std::fmt::Write as _;

use super::exec::{FaultResult, PlanResult};
use crate::format::thousands;

fn distribution(out: &mut String, f: &FaultResult) {
    let _ = writeln!(
        out,
        "      {} {:?} on map `{}`: predicted loss {}, observed loss {}",
        f.kind,
        f.members,
        f.map,
        f.predicted_loss
            .map(thousands)
            .unwrap_or_else(|| "-".into()),
        thousands(f.observed_loss)
    );
    let _ = writeln!(
        out,
        "        {:>6}  {:>14}  {:>14}",
        "member", "owned before→after", "backup before→after"
    );
    for (b, a) in f.before.members.iter().zip(&f.after.members) {
        let state = if a.running { "" } else { " (down)" };
        let _ = writeln!(
            out,
            "        {:>6}  {:>8} → {:<6}  {:>8} → {:<6}{state}",
            b.member, b.owned_entries, a.owned_entries, b.backup_entries, a.backup_entries
        );
    }
}

/// What the terminal shows at the end of a plan.
pub fn summary(r: &PlanResult) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "hzlab {} · plan {} ({}) · {} case(s) × {} repeat(s) · {:.2} s",
        r.hzlab,
        r.name,
        r.plan,
        r.cases.len(),
        r.repeat,
        r.elapsed_ms / 1000.0
    );
    for c in &r.cases {
        let verdict = if c.passed { "passed" } else { "FAILED" };
        let _ = writeln!(
            out,
            "\n{} — {verdict}  [{} members, backup-count {}, async-backup-count {}{}]",
            c.name,
            c.cluster.members,
            c.cluster.backup_count,
            c.cluster.async_backup_count,
            c.cluster
                .queue_capacity
                .map(|q| format!(", queue capacity {q}"))
                .unwrap_or_default()
        );
        for rep in &c.repeats {
            if r.repeat > 1 {
                let _ = writeln!(out, "  repeat {} (seed {})", rep.index + 1, rep.seed);
            }
            for step in &rep.steps {
                let mut line = format!(
                    "    {:<10} {:<14} {:>9.1} ms",
                    step.kind, step.label, step.elapsed_ms
                );
                if let Some(run) = &step.run {
                    let failed: Vec<String> = run
                        .scenarios
                        .iter()
                        .flat_map(|s| {
                            s.instances
                                .iter()
                                .filter(|i| !i.outcome.status.is_ok())
                                .map(move |i| {
                                    format!("{}#{} {}", s.name, i.index, i.outcome.status.label())
                                })
                        })
                        .collect();
                    if !failed.is_empty() {
                        line.push_str(&format!("  ({})", failed.join(", ")));
                    }
                    if run.backend.members != run.backend.members_at_end {
                        line.push_str(&format!("  [{}]", run.backend.members_line()));
                    }
                }
                let _ = writeln!(out, "{line}");
                if let Some(e) = &step.error {
                    let _ = writeln!(out, "      error: {e}");
                }
                for f in &step.faults {
                    distribution(&mut out, f);
                }
                let fault_step = matches!(step.kind, "kill" | "stop" | "start");
                if fault_step && step.faults.is_empty() && step.error.is_none() {
                    let _ = writeln!(
                        out,
                        "      no map with entries to measure (no loss figures)"
                    );
                }
                for n in &step.not_injected {
                    let _ = writeln!(out, "      {n}");
                }
            }
            for k in crate::results::failed_first(&rep.checks, |k| k.ok) {
                let mark = if k.ok { "ok  " } else { "FAIL" };
                let _ = writeln!(out, "    {mark} {}  ({})", k.that, k.detail);
            }
        }
        if r.repeat > 1 && !c.spread.is_empty() {
            let _ = writeln!(out, "  over {} repeats: mean [min, max]", r.repeat);
            for v in &c.spread {
                let _ = writeln!(
                    out,
                    "    {}.{:<14} {:>12.1} [{}, {}]",
                    v.label, v.name, v.mean, v.min, v.max
                );
            }
        }
    }
    if r.interrupted {
        let _ = writeln!(out, "\n{}", crate::results::INTERRUPTED_NOTE);
    }
    let _ = writeln!(
        out,
        "\nresult: {}",
        if r.interrupted {
            "interrupted"
        } else if r.passed {
            "passed"
        } else {
            "FAILED"
        }
    );
    out
}
