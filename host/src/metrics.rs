//! The figures of a scenario's result that thresholds and plan checks read by name.
//!
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
//! Latencies are in µs; written bounds take a unit (`2ms`, `150us`, `1s`).

use crate::latency::{LatencyStats, OpKind};
use crate::results::{ScenarioResult, Status};

const STATS: [&str; 5] = ["mean", "p50", "p90", "p99", "max"];

/// The metrics, for error messages.
pub const KNOWN: &str = "metrics: latency.OP.STAT, service.OP.STAT, iterations.response.STAT, \
                         iterations.service.STAT, iterations.rate|started|completed|failed|\
                         dropped, errors.ratio, dropped.ratio (STAT: mean, p50, p90, p99, max)";

/// Whether `name` is in a metric's namespace (`latency.`, `service.`, `iterations.`,
/// `errors.`, `dropped.`): such a name is read as a metric, and one that is not a metric is
/// an error rather than a value a scenario recorded.
pub fn is_metric_name(name: &str) -> bool {
    ["latency.", "service.", "iterations.", "errors.", "dropped."]
        .iter()
        .any(|p| name.starts_with(p))
}

/// Whether the metric is a latency (in µs, compared with times).
pub fn is_latency(metric: &str) -> bool {
    metric.starts_with("latency.")
        || metric.starts_with("service.")
        || metric.starts_with("iterations.response.")
        || metric.starts_with("iterations.service.")
}

/// `Ok` when `metric` is one of the metrics; otherwise says why not.
pub fn check(metric: &str) -> Result<(), String> {
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
                    if OpKind::from_name(op).is_none() {
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
        Err(format!("`{metric}` is not a metric ({KNOWN})"))
    }
}

fn stat(st: &LatencyStats, name: &str) -> f64 {
    match name {
        "mean" => st.mean_us,
        "p50" => st.p50_us,
        "p90" => st.p90_us,
        "p99" => st.p99_us,
        _ => st.max_us,
    }
}

/// The figure `metric` (one [`check`] accepts) of one scenario's result, if it has it.
pub fn figure(s: &ScenarioResult, metric: &str) -> Option<f64> {
    let it = s.iterations.as_ref();
    if let Some(rest) = metric.strip_prefix("iterations.") {
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
    if metric == "errors.ratio" {
        return match it {
            Some(it) => {
                let ended = it.counts.completed + it.counts.failed;
                (ended > 0).then(|| it.counts.failed as f64 / ended as f64)
            }
            None => {
                let failed = s
                    .instances
                    .iter()
                    .filter(|i| i.outcome.status != Status::Ok)
                    .count();
                (!s.instances.is_empty()).then(|| failed as f64 / s.instances.len() as f64)
            }
        };
    }
    if metric == "dropped.ratio" {
        let c = it?.counts;
        let due = c.started + c.dropped;
        return (due > 0).then(|| c.dropped as f64 / due as f64);
    }
    let (kind, rest) = metric.split_once('.')?;
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

/// `2ms`, `150us`, `150µs`, `1.5s`, or a bare number of µs.
pub fn parse_time_us(text: &str) -> Result<f64, String> {
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
        .replace('_', "")
        .parse::<f64>()
        .ok()
        .filter(|n| n.is_finite() && *n >= 0.0)
        .map(|n| n * scale)
        .ok_or_else(|| format!("`{text}` is not a time (write e.g. `2ms`, `150us`, `1s`)"))
}

/// A latency in µs, in the unit that suits it.
pub fn show_us(us: f64) -> String {
    if us >= 1e6 {
        format!("{:.3} s", us / 1e6)
    } else if us >= 1e3 {
        format!("{:.3} ms", us / 1e3)
    } else {
        format!("{us:.1} µs")
    }
}

/// A metric's value as a person reads it: latencies with their unit, other figures rounded
/// to six decimals.
pub fn show(metric: &str, value: f64) -> String {
    if is_latency(metric) {
        show_us(value)
    } else {
        format!("{}", (value * 1e6).round() / 1e6)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_are_told_from_typos() {
        assert!(check("latency.map.get.p99").is_ok());
        assert!(check("iterations.response.p90").is_ok());
        assert!(check("dropped.ratio").is_ok());
        let e = check("latency.map.gte.p99").unwrap_err();
        assert!(e.contains("`map.gte` is not an operation"), "{e}");
        let e = check("latency.map.get.p95").unwrap_err();
        assert!(e.contains("is not a metric"), "{e}");
        assert!(is_metric_name("iterations.rate") && !is_metric_name("final"));
        assert_eq!(parse_time_us("150us"), Ok(150.0));
        assert_eq!(parse_time_us("1.5s"), Ok(1_500_000.0));
        assert_eq!(parse_time_us("2ms"), Ok(2_000.0));
        assert!(parse_time_us("soon").unwrap_err().contains("not a time"));
        assert_eq!(show("latency.map.get.p99", 2_500.0), "2.500 ms");
        assert_eq!(show("errors.ratio", 0.25), "0.25");
    }
}
