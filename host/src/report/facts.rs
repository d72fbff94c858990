//! What the HTML and Markdown reports read out of a [`ScenarioResult`]: the seed lab's figures,
//! found by the names the shipped scenarios record (any scenario recording the same names gets
//! the same tables and plots).

use crate::results::{InstanceResult, ScenarioResult};
use crate::timeline::{QueueTimeline, MAX_EVENTS_PER_QUEUE};

/// A numeric value an instance recorded or counted.
pub fn instance_number(i: &InstanceResult, name: &str) -> Option<f64> {
    i.recorded
        .values
        .get(name)
        .and_then(|v| v.as_f64())
        .or_else(|| i.recorded.counters.get(name).map(|c| *c as f64))
}

/// A numeric value the scenario recorded (setup/verify), counted, or summed over instances.
pub fn scenario_number(s: &ScenarioResult, name: &str) -> Option<f64> {
    s.recorded
        .values
        .get(name)
        .and_then(|v| v.as_f64())
        .or_else(|| s.recorded.counters.get(name).map(|c| *c as f64))
        .or_else(|| s.totals.get(name).map(|c| *c as f64))
}

/// The longest instance's elapsed time: how long the scenario's run phase took.
pub fn run_elapsed_ms(s: &ScenarioResult) -> f64 {
    s.instances.iter().map(|i| i.elapsed_ms).fold(0.0, f64::max)
}

/// Which instance took which items: instances that recorded `items` (a comma-separated list
/// of integers, as the `consumer` scenario does).
pub fn consumed_items(s: &ScenarioResult) -> Option<Vec<(u32, Vec<i64>)>> {
    let rows: Vec<(u32, Vec<i64>)> = s
        .instances
        .iter()
        .filter_map(|i| {
            let text = i.recorded.values.get("items")?.as_str()?;
            let items = text
                .split(',')
                .filter(|t| !t.trim().is_empty())
                .map(|t| t.trim().parse::<i64>().ok())
                .collect::<Option<Vec<i64>>>()?;
            Some((i.index, items))
        })
        .collect();
    (!rows.is_empty()).then_some(rows)
}

/// Per instance: puts that found the queue full, and time blocked waiting for room (ms), for
/// instances that counted `full` or `blocked-ns` (the `producer` scenario).
pub fn producer_blocking(s: &ScenarioResult) -> Option<Vec<(u32, f64, f64)>> {
    let rows: Vec<(u32, f64, f64)> = s
        .instances
        .iter()
        .filter_map(|i| {
            let full = instance_number(i, "full");
            let blocked = instance_number(i, "blocked-ns");
            (full.is_some() || blocked.is_some())
                .then(|| (i.index, full.unwrap_or(0.0), blocked.unwrap_or(0.0) / 1e6))
        })
        .collect();
    (!rows.is_empty()).then_some(rows)
}

/// Per instance retries of an optimistic update loop (`retries`).
pub fn retries(s: &ScenarioResult) -> Option<Vec<(u32, f64)>> {
    let rows: Vec<(u32, f64)> = s
        .instances
        .iter()
        .filter_map(|i| instance_number(i, "retries").map(|r| (i.index, r)))
        .collect();
    (!rows.is_empty()).then_some(rows)
}

/// What a queue timeline's fill level is, for the reports.
pub const QUEUE_LEVEL_NOTE: &str = "Fill level: items added (an offer that returned true, a put) minus items taken (a poll that returned an item, a take), in the order the operations completed as hzlab saw them, from the run's start; plus the base, the fewest items the queue must have held before the run for the level never to go below 0. Blocked: a put or an offer with a timeout that waited for room (right after the same instance's refused offer, or lasting 1 ms or more, or an offer whose timeout ran out). Refused: an offer that found the queue full.";

/// What a timeline lacks or assumes, in a sentence each (empty when nothing).
pub fn queue_caveats(q: &QueueTimeline) -> Vec<String> {
    let mut out = Vec::new();
    if q.base > 0 {
        out.push(format!(
            "more items were taken than added early on: the queue held at least {} before the run (the base)",
            q.base
        ));
    }
    if q.dropped > 0 {
        out.push(format!(
            "{} entries after {} ms not kept (at most {} per queue and run): the timeline is complete up to then",
            crate::format::thousands(q.dropped),
            crate::format::num(q.complete_until_us.unwrap_or(0.0) / 1e3),
            crate::format::thousands(MAX_EVENTS_PER_QUEUE as u64)
        ));
    }
    out
}

/// One instance that waited for room or was refused on a queue.
pub struct QueueWaiter {
    /// `scenario instance`.
    pub label: String,
    /// Its waits for room: `(start_us, end_us)`.
    pub blocked: Vec<(f64, f64)>,
    /// Its refused offers (µs).
    pub refused: Vec<f64>,
}

/// Who waited for room or was refused on a queue: per `(scenario, instance)`, in first-seen
/// order.
pub fn queue_waiters(q: &QueueTimeline) -> Vec<QueueWaiter> {
    fn row<'r>(
        rows: &'r mut Vec<QueueWaiter>,
        scenario: &str,
        instance: Option<u32>,
    ) -> &'r mut QueueWaiter {
        let label = match instance {
            Some(i) => format!("{scenario} {i}"),
            None => format!("{scenario} (setup/verify)"),
        };
        let i = match rows.iter().position(|r| r.label == label) {
            Some(i) => i,
            None => {
                rows.push(QueueWaiter {
                    label,
                    blocked: Vec::new(),
                    refused: Vec::new(),
                });
                rows.len() - 1
            }
        };
        &mut rows[i]
    }
    let mut rows = Vec::new();
    for b in &q.blocked {
        row(&mut rows, &b.scenario, b.instance)
            .blocked
            .push((b.start_us, b.end_us));
    }
    for f in &q.full {
        row(&mut rows, &f.scenario, f.instance).refused.push(f.t_us);
    }
    rows
}
