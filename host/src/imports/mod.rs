//! The scenario world's imports, implemented once over any [`Backend`](crate::backend::Backend)
//! session. One file per WIT interface.
//!
//! Expected failures become the WIT `error` a guest can handle; the `wasmtime::Result` layer
//! is kept for traps (host faults), which stop the instance.

mod convert;
mod lock;
mod map;
mod queue;
mod replace;
mod runtime;
mod v0_1;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use crate::backend::{OpResult, Session, Value};
use crate::bindings::hzlab::scenario::types;
use crate::bindings::WitError;
use crate::history::{Event, HistoryWriter, OpOutcome};
use crate::latency::{OpKind, OpLatencies, Stamp};
use crate::limits::Limits;
use crate::progress::Progress;
use crate::results::{Phase, Recorder};
use crate::series::Series;

/// What every instance of a run shares.
#[derive(Debug)]
pub struct RunShared {
    pub args: Vec<(String, String)>,
    pub started: Instant,
    /// Live counts for a progress display.
    pub progress: Arc<Progress>,
    /// Print guest log lines to stderr as they come.
    pub echo_logs: bool,
}

/// What the instances of one scenario share.
#[derive(Debug)]
pub struct ScenarioShared {
    pub name: String,
    pub instance_count: u32,
    pub recorder: Recorder,
    /// The run phase's figures over time.
    pub series: Series,
}

/// The store data of one instance: its session, its identity, its limits.
pub struct InstanceState<S> {
    session: S,
    run: Arc<RunShared>,
    scenario: Arc<ScenarioShared>,
    index: u32,
    phase: Phase,
    ops: u64,
    /// Locks this instance holds (one entry per hold), released when it ends.
    held_locks: Vec<(String, Value)>,
    pub(crate) limits: Limits,
    /// Latency of this instance's operations, merged into the scenario's when it is dropped.
    latency: OpLatencies,
    /// Open models: how late the current iteration started after its intended start; each
    /// operation's response time adds it to the operation's own time (into `response`).
    iteration_lag_ns: Option<u64>,
    response: OpLatencies,
    /// Where every operation goes when the run records a history.
    history: Option<Arc<HistoryWriter>>,
    /// The queue (its index in the scenario's queue timeline) this instance's previous queue
    /// operation found full: a put or timed offer right after it waited for room.
    refused_queue: Option<u32>,
}

impl<S: Session> InstanceState<S> {
    pub fn new(
        session: S,
        run: Arc<RunShared>,
        scenario: Arc<ScenarioShared>,
        index: u32,
        phase: Phase,
        limits: Limits,
    ) -> Self {
        InstanceState {
            session,
            run,
            scenario,
            index,
            phase,
            ops: 0,
            held_locks: Vec::new(),
            limits,
            latency: OpLatencies::default(),
            iteration_lag_ns: None,
            response: OpLatencies::default(),
            history: None,
            refused_queue: None,
        }
    }

    /// Records every operation of this instance in `history`.
    pub fn with_history(mut self, history: Option<Arc<HistoryWriter>>) -> Self {
        self.history = history;
        self
    }

    /// Cluster operations this instance performed.
    pub fn ops(&self) -> u64 {
        self.ops
    }

    /// An iteration starts now: its time budget starts afresh, and in open models its
    /// operations' response times add `lag_ns`, how late it started.
    pub fn begin_iteration(&mut self, budget: std::time::Duration, lag_ns: Option<u64>) {
        self.limits.deadline = Instant::now() + budget;
        self.iteration_lag_ns = lag_ns;
    }

    /// The instance index records are filed under: none outside `run`.
    fn record_target(&self) -> Option<u32> {
        (self.phase == Phase::Run).then_some(self.index)
    }

    /// Records operation `op`, begun at `start` on structure `name`: its latency, and, when the
    /// run keeps a history, an event with the arguments `args` builds (called only then).
    #[inline]
    fn observe<T: HistoryValue>(
        &mut self,
        op: OpKind,
        start: Stamp,
        name: &str,
        result: &OpResult<T>,
        args: impl FnOnce() -> Vec<serde_json::Value>,
    ) {
        let end = Stamp::now();
        let ns = end.nanos_since(start);
        let measured = self.scenario.series.measured(end);
        if measured {
            self.latency.record(op, ns);
        }
        if self.phase == Phase::Run {
            self.scenario.series.op(op, end, ns, result.is_err());
            if let (Some(lag), true) = (self.iteration_lag_ns, measured) {
                self.response.record(op, ns.saturating_add(lag));
            }
        }
        if let Some(history) = &self.history {
            let end_us = self.run.started.elapsed().as_nanos() as f64 / 1e3;
            let (outcome, value, error) = match result {
                Ok(v) => (OpOutcome::Ok, v.history_value(), None),
                Err(e) => (OpOutcome::of_error(e), None, Some(e.to_string())),
            };
            history.write(&Event {
                run: None,
                scenario: self.scenario.name.clone(),
                phase: self.phase,
                instance: self.index,
                op: op.name().to_owned(),
                name: name.to_owned(),
                args: args(),
                outcome,
                value,
                error,
                start_us: ((end_us - ns as f64 / 1e3).max(0.0) * 1e3).round() / 1e3,
                end_us,
            });
        }
    }

    /// Counts an operation and turns its result into what the guest sees; once the run is
    /// interrupted, stops the instance instead (the operation was carried out and recorded).
    fn finish<T>(&mut self, result: OpResult<T>) -> wasmtime::Result<Result<T, WitError>> {
        self.ops += 1;
        self.run.progress.ops.fetch_add(1, Ordering::Relaxed);
        if self.interrupted() {
            return Err(wasmtime::Error::new(crate::interrupt::Interrupted));
        }
        Ok(result.map_err(convert::error_to_wit))
    }

    /// Releases every lock this instance still holds (it ended, maybe in the middle of a
    /// critical section), so other instances are not blocked forever.
    pub async fn release_locks(&mut self) {
        for (map, key) in std::mem::take(&mut self.held_locks) {
            // The lock may have been lost with its partition: nothing more to do then.
            let _ = self.session.unlock(&map, &key).await;
        }
    }

    fn note_locked(&mut self, map: &str, key: &Value) {
        self.held_locks.push((map.to_owned(), key.clone()));
    }

    fn note_unlocked(&mut self, map: &str, key: &Value) {
        if let Some(pos) = self
            .held_locks
            .iter()
            .rposition(|(m, k)| m == map && k == key)
        {
            self.held_locks.swap_remove(pos);
        }
    }
}

impl<S> InstanceState<S> {
    /// Whether the run was interrupted (see [`crate::interrupt`]).
    pub(crate) fn interrupted(&self) -> bool {
        self.run.progress.interrupt.is_raised()
    }
}

impl<S> Drop for InstanceState<S> {
    fn drop(&mut self) {
        self.scenario.recorder.add_latency(&self.latency);
        if self.iteration_lag_ns.is_some() {
            self.scenario.recorder.add_response_latency(&self.response);
        }
    }
}

/// An operation's result as the history shows it.
pub(crate) trait HistoryValue {
    fn history_value(&self) -> Option<serde_json::Value>;
}

impl HistoryValue for () {
    fn history_value(&self) -> Option<serde_json::Value> {
        None
    }
}

impl HistoryValue for bool {
    fn history_value(&self) -> Option<serde_json::Value> {
        Some((*self).into())
    }
}

impl HistoryValue for u64 {
    fn history_value(&self) -> Option<serde_json::Value> {
        Some((*self).into())
    }
}

impl HistoryValue for Value {
    fn history_value(&self) -> Option<serde_json::Value> {
        Some(json(self))
    }
}

impl HistoryValue for Option<Value> {
    fn history_value(&self) -> Option<serde_json::Value> {
        Some(self.as_ref().map_or(serde_json::Value::Null, json))
    }
}

/// A key, value or item as the history shows it (the JSON of recorded values).
pub(crate) fn json(v: &Value) -> serde_json::Value {
    convert::value_to_json(&convert::value_to_wit(v.clone()))
}

impl<S: Session> types::Host for InstanceState<S> {}
