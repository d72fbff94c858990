//! Thresholds: pass/fail criteria on a run's figures, as k6's (`p(99)<2ms`) and Simulator's.
//!
//! `[SCENARIO:]METRIC OP NUMBER[UNIT]`, e.g. `latency.map.get.p99 < 2ms`,
//! `iterations.rate >= 4900`, `errors.ratio < 0.001`, `race:iterations.dropped == 0`.
//! Metrics:
//! - `latency.OP.STAT`: an operation's latency (`OP` as in the report, `map.get`,
//!   `replace.replace-if-same`; `STAT` one of `mean`, `p50`, `p90`, `p99`, `max`). In open
//!   models this is the operation's response time (from its iteration's intended start).
//! - `service.OP.STAT`: an operation's own time, in every model.
//! - `iterations.response.STAT`, `iterations.service.STAT`: iteration latency.
//! - `iterations.rate` (ended per second), `iterations.started`, `.completed`, `.failed`,
//!   `.dropped`.
//! - `errors.ratio`: failed iterations over ended ones (once per instance: failed instances
//!   over instances); `dropped.ratio`: dropped over due iterations.
//!
//! Latencies compare in time: `2ms`, `150us` (or `µs`), `1s`; a bare number is µs. Each
//! threshold becomes a check of every scenario that has the figure (or of the one it names);
//! one that no scenario has fails, so a typo cannot pass silently.

use std::fmt;

use crate::plan::check::Op;
use crate::results::{Check, RunResult, ScenarioResult, Status};

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

const STATS: [&str; 5] = ["mean", "p50", "p90", "p99", "max"];

fn is_latency(metric: &str) -> bool {
    metric.starts_with("latency.")
        || metric.starts_with("service.")
        || metric.starts_with("iterations.response.")
        || metric.starts_with("iterations.service.")
}

impl Threshold {
    pub fn parse(text: &str) -> Result<Threshold, String> {
        let bad = |why: String| format!("threshold `{text}`: {why}");
        let ops = [
            ("<=", Op::Le),
            (">=", Op::Ge),
            ("==", Op::Eq),
            ("!=", Op::Ne),
            ("<", Op::Lt),
            (">", Op::Gt),
        ];
        let (at, sym, op) = ops
            .iter()
            .filter_map(|(s, o)| text.find(s).map(|i| (i, *s, *o)))
            .min_by_key(|(i, s, _)| (*i, std::cmp::Reverse(s.len())))
            .ok_or_else(|| bad("no comparison (<, <=, >, >=, ==, !=)".into()))?;
        let (left, right) = (text[..at].trim(), text[at + sym.len()..].trim());
        let (scenario, metric) = match left.split_once(':') {
            Some((s, m)) => (Some(s.trim().to_owned()), m.trim()),
            None => (None, left),
        };
        check_metric(metric).map_err(bad)?;
        let bound = if is_latency(metric) {
            parse_time_us(right).map_err(bad)?
        } else {
            right
                .parse::<f64>()
                .ok()
                .filter(|n| n.is_finite())
                .ok_or_else(|| bad(format!("`{right}` is not a number")))?
        };
        Ok(Threshold {
            scenario,
            metric: metric.to_owned(),
            op,
            bound,
            source: text.trim().to_owned(),
        })
    }

    /// The figure this threshold reads from one scenario's result, if it has it.
    fn figure(&self, s: &ScenarioResult) -> Option<f64> {
        let m = self.metric.as_str();
        let it = s.iterations.as_ref();
        let stat = |st: &crate::latency::LatencyStats, name: &str| match name {
            "mean" => st.mean_us,
            "p50" => st.p50_us,
            "p90" => st.p90_us,
            "p99" => st.p99_us,
            _ => st.max_us,
        };
        if let Some(rest) = m.strip_prefix("iterations.") {
            let it = it?;
            let c = it.counts;
            return match rest {
                "rate" => Some(it.rate),
                "started" => Some(c.started as f64),
                "completed" => Some(c.completed as f64),
                "failed" => Some(c.failed as f64),
                "dropped" => Some(c.dropped as f64),
                _ => {
                    let (which, name) = rest.split_once('.')?;
                    let st = if which == "response" {
                        it.response?
                    } else {
                        it.service?
                    };
                    Some(stat(&st, name))
                }
            };
        }
        if m == "errors.ratio" {
            return Some(match it {
                Some(it) => {
                    let ended = it.counts.completed + it.counts.failed;
                    if ended == 0 {
                        return None;
                    }
                    it.counts.failed as f64 / ended as f64
                }
                None => {
                    if s.instances.is_empty() {
                        return None;
                    }
                    let failed = s
                        .instances
                        .iter()
                        .filter(|i| i.outcome.status != Status::Ok)
                        .count();
                    failed as f64 / s.instances.len() as f64
                }
            });
        }
        if m == "dropped.ratio" {
            let c = it?.counts;
            let due = c.started + c.dropped;
            return (due > 0).then(|| c.dropped as f64 / due as f64);
        }
        let (kind, rest) = m.split_once('.')?;
        let (op, name) = rest.rsplit_once('.')?;
        let open = it.is_some_and(|i| !i.op_response.is_empty());
        let latencies = if kind == "latency" && open {
            &it?.op_response
        } else {
            &s.latency
        };
        let h = latencies.ops.get(op)?;
        (!h.is_empty()).then(|| stat(&h.stats(), name))
    }

    /// Adds this threshold's checks to the scenarios of `run`.
    fn apply(&self, run: &mut RunResult) {
        let mut any = false;
        for s in &mut run.scenarios {
            if self.scenario.as_ref().is_some_and(|n| *n != s.name) {
                continue;
            }
            let Some(value) = self.figure(s) else {
                continue;
            };
            any = true;
            let ok = self.op.holds(value, self.bound);
            let shown = if is_latency(&self.metric) {
                show_us(value)
            } else {
                format!("{}", (value * 1e6).round() / 1e6)
            };
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

fn check_metric(metric: &str) -> Result<(), String> {
    let known = "metrics: latency.OP.STAT, service.OP.STAT, iterations.response.STAT, \
                 iterations.service.STAT, iterations.rate|started|completed|failed|dropped, \
                 errors.ratio, dropped.ratio (STAT: mean, p50, p90, p99, max)";
    let ok = match metric {
        "errors.ratio" | "dropped.ratio" => true,
        m if m.starts_with("iterations.") => {
            let rest = &m["iterations.".len()..];
            matches!(
                rest,
                "rate" | "started" | "completed" | "failed" | "dropped"
            ) || rest
                .split_once('.')
                .is_some_and(|(w, s)| (w == "response" || w == "service") && STATS.contains(&s))
        }
        m if m.starts_with("latency.") || m.starts_with("service.") => {
            let rest = m.split_once('.').map(|(_, r)| r).unwrap_or("");
            match rest.rsplit_once('.') {
                Some((op, stat)) if STATS.contains(&stat) => {
                    if crate::latency::OpKind::from_name(op).is_none() {
                        return Err(format!(
                            "`{op}` is not an operation (write it as the report does: \
                             map.get, replace.replace-if-same, queue.offer, ...)"
                        ));
                    }
                    true
                }
                _ => false,
            }
        }
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!("`{metric}` is not a metric ({known})"))
    }
}

/// `2ms`, `150us`, `150µs`, `1.5s`, or a bare number of µs.
fn parse_time_us(text: &str) -> Result<f64, String> {
    let t = text.trim();
    let (number, scale) = if let Some(n) = t.strip_suffix("ms") {
        (n, 1e3)
    } else if let Some(n) = t.strip_suffix("us").or_else(|| t.strip_suffix("µs")) {
        (n, 1.0)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1e6)
    } else {
        (t, 1.0)
    };
    number
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|n| n.is_finite() && *n >= 0.0)
        .map(|n| n * scale)
        .ok_or_else(|| format!("`{text}` is not a time (write e.g. `2ms`, `150us`, `1s`)"))
}

fn show_us(us: f64) -> String {
    if us >= 1e6 {
        format!("{:.3} s", us / 1e6)
    } else if us >= 1e3 {
        format!("{:.3} ms", us / 1e3)
    } else {
        format!("{us:.1} µs")
    }
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
        assert_eq!(parse_time_us("150us"), Ok(150.0));
        assert_eq!(parse_time_us("1.5s"), Ok(1_500_000.0));
    }
}
