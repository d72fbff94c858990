//! What the HTML and Markdown reports read out of a [`ScenarioResult`]: the seed lab's figures,
//! found by the names the shipped scenarios record (any scenario recording the same names gets
//! the same tables and plots).

use crate::results::{InstanceResult, ScenarioResult};

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
