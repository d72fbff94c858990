//! What a run produces: per-instance outcomes, recorded values and counters, checks, logs.
//!
//! The field names here are the JSON document's (`hzlab run --json`): keep them stable.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::backend::BackendInfo;
use crate::latency::{Latencies, OpLatencies};
use crate::timeline::{QueueRecording, QueueTimelines};

/// The line a summary or report gives an interrupted run.
pub const INTERRUPTED_NOTE: &str = "interrupted: the run was stopped by Ctrl-C (SIGINT) or SIGTERM; these results are what it had gathered by then";

/// The phase a scenario is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Setup,
    Run,
    Verify,
}

/// How an instance (or a once-only phase) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Returned `ok`.
    Ok,
    /// Returned `err` with a message.
    Failed,
    /// Trapped (a panic, an invalid operation).
    Trapped,
    /// Ran past its time budget.
    TimedOut,
    /// Tried to grow its memory past its cap, or to make the host keep more than its
    /// host-side cap (`--record-limit`).
    MemoryExceeded,
    /// The host failed it: could not allocate its memory or stack, say.
    HostError,
    /// Not run, because an earlier phase failed.
    Skipped,
    /// Stopped, or not started, because the run was interrupted (Ctrl-C, SIGTERM).
    Interrupted,
}

impl Status {
    pub fn is_ok(self) -> bool {
        self == Status::Ok
    }

    pub fn label(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Failed => "failed",
            Status::Trapped => "trapped",
            Status::TimedOut => "timed out",
            Status::MemoryExceeded => "memory cap",
            Status::HostError => "host error",
            Status::Skipped => "skipped",
            Status::Interrupted => "interrupted",
        }
    }
}

/// How one phase call ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    pub status: Status,
    /// Why it did not end `ok`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Outcome {
    pub fn ok() -> Outcome {
        Outcome {
            status: Status::Ok,
            error: None,
        }
    }

    pub fn skipped(why: impl Into<String>) -> Outcome {
        Outcome {
            status: Status::Skipped,
            error: Some(why.into()),
        }
    }

    /// Stopped (or not started: `what` says which) because the run was interrupted.
    pub fn interrupted(what: &str) -> Outcome {
        Outcome {
            status: Status::Interrupted,
            error: Some(format!("{what}: the run was interrupted")),
        }
    }
}

/// An invariant a scenario reported with `runtime.check`, or a failed `verify`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    pub name: String,
    pub ok: bool,
    pub detail: String,
    /// The instance that reported it, when reported from `run`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<u32>,
}

/// A line a scenario logged.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogLine {
    pub at_ms: f64,
    pub phase: Phase,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<u32>,
    pub level: &'static str,
    pub message: String,
}

/// Values and counters recorded by one instance, or by the scenario outside `run`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Recorded {
    pub values: BTreeMap<String, serde_json::Value>,
    pub counters: BTreeMap<String, i64>,
}

/// The result of one instance's `run`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InstanceResult {
    pub index: u32,
    #[serde(flatten)]
    pub outcome: Outcome,
    pub elapsed_ms: f64,
    /// Cluster operations the instance performed.
    pub ops: u64,
    #[serde(flatten)]
    pub recorded: Recorded,
}

impl InstanceResult {
    pub fn ops_per_second(&self) -> f64 {
        if self.elapsed_ms > 0.0 {
            self.ops as f64 / (self.elapsed_ms / 1000.0)
        } else {
            0.0
        }
    }
}

/// The result of one scenario in a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScenarioResult {
    /// The step it ran in, from 0 (steps run one after the other).
    pub step: usize,
    pub name: String,
    /// `shipped:<name>` or the path of the component.
    pub source: String,
    pub setup: Outcome,
    pub instances: Vec<InstanceResult>,
    pub verify: Outcome,
    /// Values and counters recorded in `setup` and `verify`.
    #[serde(flatten)]
    pub recorded: Recorded,
    /// Each counter summed over the instances.
    pub totals: BTreeMap<String, i64>,
    pub checks: Vec<Check>,
    pub logs: Vec<LogLine>,
    /// Log lines dropped past the per-scenario cap.
    pub logs_dropped: u64,
    /// Latency of the cluster operations of every phase and instance, by operation
    /// (`map.get`, …): `count`, `mean_us`, `p50_us`, `p90_us`, `p99_us`, `max_us`. In
    /// open models this is their service time; `iterations.op_response` their response time.
    pub latency: Latencies,
    /// What an iteration executor did (none when each instance ran once).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iterations: Option<crate::executor::IterationSummary>,
    /// The run phase's figures per interval, on the clock of the step's faults.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub series: Vec<crate::series::Interval>,
}

impl ScenarioResult {
    /// Whether every phase and instance ended ok and every check held.
    pub fn passed(&self) -> bool {
        self.setup.status.is_ok()
            && self.verify.status.is_ok()
            && self.instances.iter().all(|i| i.outcome.status.is_ok())
            && self.checks.iter().all(|c| c.ok)
            && self.iterations.as_ref().is_none_or(|i| {
                // Iterations that fail are counted, not fatal; none completing is.
                i.counts.completed > 0 || i.counts.failed == 0
            })
    }
}

/// The result of a whole run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunResult {
    /// hzlab's version.
    pub hzlab: &'static str,
    pub backend: BackendInfo,
    pub seed: u64,
    pub args: Vec<(String, String)>,
    pub elapsed_ms: f64,
    pub scenarios: Vec<ScenarioResult>,
    pub passed: bool,
    /// The run was interrupted (Ctrl-C, SIGTERM): instances were stopped, later phases not
    /// run; the results are what it had gathered by then.
    pub interrupted: bool,
    /// What the run did to each queue over time (see [`crate::timeline`]): `queues[]`
    /// (`name`, `base`, `events[]`, `full[]`, `blocked[]`, `dropped`, `complete_until_us`)
    /// and `queue_ops_untracked`, both absent when no queue was used.
    #[serde(flatten)]
    pub queues: QueueTimelines,
}

pub(crate) fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

/// Most log lines kept per scenario.
pub const MAX_LOG_LINES: usize = 1000;

/// Most bytes of log text kept per scenario.
pub const MAX_LOG_BYTES: usize = 1 << 20;

/// Bytes the host keeps for a recorded value (its JSON text's payload; the entry's overhead
/// apart).
pub fn kept_size(v: &serde_json::Value) -> usize {
    match v {
        serde_json::Value::String(s) => s.len(),
        serde_json::Value::Array(a) => a.iter().map(|x| kept_size(x) + 8).sum(),
        serde_json::Value::Object(o) => o.iter().map(|(k, x)| k.len() + kept_size(x) + 8).sum(),
        _ => 8,
    }
}

/// What the instances of one scenario record while the run goes on.
#[derive(Debug, Default)]
pub struct Recorder {
    inner: Mutex<RecorderState>,
    /// Queue operations, for the run's queue timelines (its own lock: queue operations do
    /// not wait on records and logs).
    queues: QueueRecording,
}

#[derive(Debug, Default)]
struct RecorderState {
    scenario: Recorded,
    instances: BTreeMap<u32, Recorded>,
    checks: Vec<Check>,
    logs: Vec<LogLine>,
    logs_dropped: u64,
    /// Bytes of the messages in `logs`.
    log_bytes: usize,
    latency: Latencies,
    response: Latencies,
}

impl Recorder {
    fn with<R>(&self, f: impl FnOnce(&mut RecorderState) -> R) -> R {
        f(&mut self.inner.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn target(state: &mut RecorderState, instance: Option<u32>) -> &mut Recorded {
        match instance {
            Some(i) => state.instances.entry(i).or_default(),
            None => &mut state.scenario,
        }
    }

    pub fn record(&self, instance: Option<u32>, name: String, value: serde_json::Value) {
        self.with(|s| {
            Self::target(s, instance).values.insert(name, value);
        })
    }

    /// Bytes `name`'s value takes now in `instance`'s records (none: not recorded).
    pub fn recorded_size(&self, instance: Option<u32>, name: &str) -> Option<usize> {
        self.with(|s| {
            let r = match instance {
                Some(i) => s.instances.get(&i),
                None => Some(&s.scenario),
            };
            r.and_then(|r| r.values.get(name)).map(kept_size)
        })
    }

    /// Whether `instance` has a counter `name`.
    pub fn has_counter(&self, instance: Option<u32>, name: &str) -> bool {
        self.with(|s| {
            let r = match instance {
                Some(i) => s.instances.get(&i),
                None => Some(&s.scenario),
            };
            r.is_some_and(|r| r.counters.contains_key(name))
        })
    }

    pub fn count(&self, instance: Option<u32>, name: String, delta: i64) {
        self.with(|s| {
            let c = Self::target(s, instance).counters.entry(name).or_default();
            *c = c.saturating_add(delta);
        })
    }

    /// The counter summed over every instance (not the scenario-level one).
    pub fn total(&self, name: &str) -> i64 {
        self.with(|s| {
            s.instances
                .values()
                .filter_map(|r| r.counters.get(name))
                .fold(0i64, |a, b| a.saturating_add(*b))
        })
    }

    pub fn check(&self, check: Check) {
        self.with(|s| s.checks.push(check))
    }

    /// Whether a log line of `bytes` would be kept (the scenario's lines and bytes are
    /// capped at [`MAX_LOG_LINES`] and [`MAX_LOG_BYTES`]).
    pub fn log_fits(&self, bytes: usize) -> bool {
        self.with(|s| {
            s.logs.len() < MAX_LOG_LINES && s.log_bytes.saturating_add(bytes) <= MAX_LOG_BYTES
        })
    }

    /// Counts a log line dropped without looking at it (past the scenario's caps).
    pub fn drop_log(&self) {
        self.with(|s| s.logs_dropped += 1)
    }

    /// Keeps `line`, or counts it dropped past the scenario's caps; whether it was kept.
    pub fn log(&self, line: LogLine) -> bool {
        self.with(|s| {
            let bytes = line.message.len();
            if s.logs.len() < MAX_LOG_LINES && s.log_bytes.saturating_add(bytes) <= MAX_LOG_BYTES {
                s.log_bytes += bytes;
                s.logs.push(line);
                true
            } else {
                s.logs_dropped += 1;
                false
            }
        })
    }

    /// Merges an instance's (or a phase call's) operation latencies.
    pub fn add_latency(&self, ops: &OpLatencies) {
        self.with(|s| s.latency.add(ops))
    }

    /// Operation latencies merged so far.
    pub fn latency(&self) -> Latencies {
        self.with(|s| s.latency.clone())
    }

    /// Merges an instance's operation response times (open models: from the intended start
    /// of their iteration's lateness on; see [`crate::imports::InstanceState::begin_iteration`]).
    pub fn add_response_latency(&self, ops: &OpLatencies) {
        self.with(|s| s.response.add(ops))
    }

    /// Operation response times merged so far (empty outside open models).
    pub fn response_latency(&self) -> Latencies {
        self.with(|s| s.response.clone())
    }

    /// The scenario's queue operations so far ([`crate::timeline::collect`] takes them).
    pub fn queues(&self) -> &QueueRecording {
        &self.queues
    }

    /// What instance `index` recorded.
    pub fn instance(&self, index: u32) -> Recorded {
        self.with(|s| s.instances.get(&index).cloned().unwrap_or_default())
    }

    /// What instance `index` recorded, taken out (no copy kept): for the results, once
    /// nothing reads it any more.
    pub fn take_instance(&self, index: u32) -> Recorded {
        self.with(|s| s.instances.remove(&index).unwrap_or_default())
    }

    /// Scenario-level records, totals, checks and logs.
    pub fn finish(
        &self,
    ) -> (
        Recorded,
        BTreeMap<String, i64>,
        Vec<Check>,
        Vec<LogLine>,
        u64,
    ) {
        self.with(|s| {
            let mut totals = BTreeMap::new();
            for r in s.instances.values() {
                for (k, v) in &r.counters {
                    let t: &mut i64 = totals.entry(k.clone()).or_default();
                    *t = t.saturating_add(*v);
                }
            }
            (
                s.scenario.clone(),
                totals,
                s.checks.clone(),
                std::mem::take(&mut s.logs),
                s.logs_dropped,
            )
        })
    }
}

/// One figure over several samples (a plan's repeats): mean, min, max, how many.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    pub mean: f64,
    pub min: f64,
    pub max: f64,
    pub n: usize,
}

impl Spread {
    /// The spread of `values`; `None` when there are none.
    pub fn of(values: &[f64]) -> Option<Spread> {
        if values.is_empty() {
            return None;
        }
        let n = values.len();
        Some(Spread {
            mean: values.iter().sum::<f64>() / n as f64,
            min: values.iter().copied().fold(f64::INFINITY, f64::min),
            max: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            n,
        })
    }

    /// Whether `self` and `other` differ beyond what their repeats show: both have repeats
    /// and their ranges do not overlap.
    pub fn apart(&self, other: &Spread) -> bool {
        self.n >= 2 && other.n >= 2 && (self.max < other.min || other.max < self.min)
    }
}

/// `items` with those that failed first, then the others, each group in its order: failed
/// checks and thresholds lead the lists they are shown in.
pub fn failed_first<T>(items: &[T], ok: fn(&T) -> bool) -> impl Iterator<Item = &T> {
    let failed = items.iter().filter(move |i| !ok(i));
    failed.chain(items.iter().filter(move |i| ok(i)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_sum_instance_counters_only() {
        let r = Recorder::default();
        r.count(Some(0), "n".into(), 2);
        r.count(Some(1), "n".into(), 3);
        r.count(None, "n".into(), 100);
        assert_eq!(r.total("n"), 5);
        let (scenario, totals, ..) = r.finish();
        assert_eq!(totals["n"], 5);
        assert_eq!(scenario.counters["n"], 100);
    }

    #[test]
    fn logs_are_capped() {
        let r = Recorder::default();
        for i in 0..MAX_LOG_LINES + 5 {
            r.log(LogLine {
                at_ms: 0.0,
                phase: Phase::Run,
                instance: Some(0),
                level: "info",
                message: i.to_string(),
            });
        }
        let (.., logs, dropped) = r.finish();
        assert_eq!(logs.len(), MAX_LOG_LINES);
        assert_eq!(dropped, 5);
    }

    #[test]
    fn log_text_is_capped_in_bytes() {
        let r = Recorder::default();
        let line = |n: usize| LogLine {
            at_ms: 0.0,
            phase: Phase::Run,
            instance: Some(0),
            level: "info",
            message: "x".repeat(n),
        };
        assert!(r.log(line(MAX_LOG_BYTES / 2)));
        assert!(r.log(line(MAX_LOG_BYTES / 2)));
        assert!(!r.log_fits(1));
        assert!(!r.log(line(1)));
        let (.., logs, dropped) = r.finish();
        assert_eq!(logs.len(), 2);
        assert_eq!(dropped, 1);
    }
}
