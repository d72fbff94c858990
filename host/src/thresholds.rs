//! Thresholds: pass/fail criteria on a run's figures, as k6's (`p(99)<2ms`) and Simulator's.
//!
//! `[SCENARIO:]METRIC OP NUMBER[UNIT]`, e.g. `latency.map.get.p99 < 2ms`,
//! `iterations.rate >= 4900`, `errors.ratio < 0.001`, `race:iterations.dropped == 0`; the
//! metrics are [`crate::metrics`]'s, the comparison is parsed as plan checks parse theirs.
//!
//! Latencies compare in time: `2ms`, `150us` (or `µs`), `1s`; a bare number is µs. Each
//! threshold becomes a check of every scenario that has the figure (or of the one it names);
//! one that no scenario has fails, so a typo cannot pass silently.

use std::fmt;

use crate::metrics;
use crate::plan::check::{number, split_comparison, Op};
use crate::results::{Check, RunResult, ScenarioResult};

/// A parsed threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    scenario: Option<String>,
    metric: String,
    op: Op,
    /// In the metric's own unit (µs for latencies).
    bound: f64,
    source: String,
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl Threshold {
    pub fn parse(text: &str) -> Result<Threshold, String> {
        let bad = |why: String| format!("threshold `{text}`: {why}");
        let (left, op, right) = split_comparison(text.trim()).map_err(bad)?;
        let (scenario, metric) = match left.split_once(':') {
            Some((s, m)) => (Some(s.trim().to_owned()), m.trim()),
            None => (None, left),
        };
        metrics::check(metric).map_err(bad)?;
        let bound = if metrics::is_latency(metric) {
            metrics::parse_time_us(right).map_err(bad)?
        } else {
            number(right, false).ok_or_else(|| bad(format!("`{right}` is not a number")))?
        };
        Ok(Threshold {
            scenario,
            metric: metric.to_owned(),
            op,
            bound,
            source: text.trim().to_owned(),
        })
    }

    /// Adds this threshold's checks to the scenarios of `run`.
    fn apply(&self, run: &mut RunResult) {
        let mut any = false;
        for s in &mut run.scenarios {
            if self.scenario.as_ref().is_some_and(|n| *n != s.name) {
                continue;
            }
            let Some(value) = metrics::figure(s, &self.metric) else {
                continue;
            };
            any = true;
            let ok = self.op.holds(value, self.bound);
            let shown = metrics::show(&self.metric, value);
            s.checks.push(Check {
                name: format!("threshold {}", self.source),
                ok,
                detail: format!("{} is {shown}", self.metric),
                instance: None,
            });
        }
        if !any {
            let target = match &self.scenario {
                Some(n) if !run.scenarios.iter().any(|s| s.name == *n) => {
                    format!("there is no scenario `{n}` in this run")
                }
                _ => format!("no scenario of this run has the figure `{}`", self.metric),
            };
            if let Some(s) = run.scenarios.first_mut() {
                s.checks.push(Check {
                    name: format!("threshold {}", self.source),
                    ok: false,
                    detail: target,
                    instance: None,
                });
            }
        }
    }
}

/// Adds every threshold's checks to `run` and decides again whether it passed.
pub fn apply(thresholds: &[Threshold], run: &mut RunResult) {
    if thresholds.is_empty() {
        return;
    }
    for t in thresholds {
        t.apply(run);
    }
    run.passed = run.scenarios.iter().all(ScenarioResult::passed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_parse_and_typos_are_named() {
        let t = Threshold::parse("latency.map.get.p99 < 2ms").unwrap();
        assert_eq!(
            (t.metric.as_str(), t.op, t.bound),
            ("latency.map.get.p99", Op::Lt, 2000.0)
        );
        let t = Threshold::parse("race:iterations.rate >= 4900").unwrap();
        assert_eq!(t.scenario.as_deref(), Some("race"));
        assert_eq!((t.op, t.bound), (Op::Ge, 4900.0));
        assert_eq!(Threshold::parse("errors.ratio<=0.001").unwrap().op, Op::Le);
        let e = Threshold::parse("latency.map.gte.p99 < 2ms").unwrap_err();
        assert!(e.contains("`map.gte` is not an operation"), "{e}");
        let e = Threshold::parse("latency.map.get.p95 < 2ms").unwrap_err();
        assert!(e.contains("is not a metric"), "{e}");
        let e = Threshold::parse("iterations.rate 5000").unwrap_err();
        assert!(e.contains("no comparison"), "{e}");
        let e = Threshold::parse("latency.map.get.p99 < soon").unwrap_err();
        assert!(e.contains("not a time"), "{e}");
    }
}
