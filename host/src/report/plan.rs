//! A plan's result as a [`Report`]: one run per run step of every repeat of every case, its
//! faults, checks and the spread of values over repeats.

use super::document::{FaultSection, Report, ReportCheck, SpreadRow};
use crate::plan::exec::PlanResult;

/// The report of a plan run: `write_report(dir, &from_plan(&result))`.
pub fn from_plan(r: &PlanResult) -> Report {
    let mut report = Report::new(r.name.clone());
    let cases = r.cases.len();
    for case in &r.cases {
        let repeats = case.repeats.len();
        for repeat in &case.repeats {
            let mut place = Vec::new();
            if cases > 1 {
                place.push(case.name.clone());
            }
            if repeats > 1 {
                place.push(format!("repeat {}", repeat.index + 1));
            }
            let prefix = |label: &str| {
                let mut parts = place.clone();
                parts.push(label.to_owned());
                parts.join(" · ")
            };
            for step in &repeat.steps {
                if let Some(run) = &step.run {
                    report.add_step_run(
                        prefix(&step.label),
                        run.clone(),
                        step.fault_events.clone(),
                    );
                }
                for f in &step.faults {
                    let members: Vec<String> = f.members.iter().map(usize::to_string).collect();
                    report.add_fault(FaultSection::new(
                        prefix(&if step.label == f.kind || step.label.is_empty() {
                            format!("{} {}", f.kind, members.join(", "))
                        } else {
                            format!("{} ({} {})", step.label, f.kind, members.join(", "))
                        }),
                        &f.before,
                        &f.after,
                        f.predicted_loss,
                        Some(f.observed_loss),
                    ));
                }
                if let Some(e) = &step.error {
                    report.add_check(ReportCheck {
                        label: prefix(&step.label),
                        that: format!("step `{}` carried out", step.label),
                        ok: false,
                        detail: e.clone(),
                    });
                }
            }
            for c in &repeat.checks {
                report.add_check(ReportCheck {
                    label: prefix(&format!("line {}", c.line)),
                    that: c.that.clone(),
                    ok: c.ok,
                    detail: c.detail.clone(),
                });
            }
        }
        if repeats > 1 {
            for s in &case.spread {
                report.add_spread(SpreadRow {
                    label: case.name.clone(),
                    name: format!("{}.{}", s.label, s.name),
                    values: s.values.clone(),
                    mean: s.mean,
                    min: s.min,
                    max: s.max,
                });
            }
        }
    }
    report.passed = r.passed;
    report.interrupted |= r.interrupted;
    report.set_plan(&serde_json::json!({
        "file": r.plan,
        "name": r.name,
        "description": r.description,
        "repeat": r.repeat,
        "elapsed_ms": r.elapsed_ms,
        "infrastructure_failed": r.infrastructure_failed,
        "interrupted": r.interrupted,
    }));
    report
}
