//! Runs scenarios through their phases against a backend and gathers the results.
//!
//! 1. Every scenario is compiled and linked once.
//! 2. `setup` of each scenario runs once, in order.
//! 3. Every instance of every scenario is instantiated, then all `run` calls start together,
//!    each instance in its own store, concurrently on the current async runtime.
//! 4. `verify` of each scenario runs once, after all instances ended.
//!
//! Each scenario of a step has an executor ([`crate::executor`]): by default step 3 calls `run`
//! once per instance; the other executors call `iteration` instead (see [`iterations`]).
//!
//! A trap, error, timeout or memory overrun in one instance is that instance's result; it does
//! not stop the others.
//!
//! Raising [`Progress::interrupt`] stops the run (see [`crate::interrupt`]): the result then
//! holds what was gathered so far and says `interrupted`.

mod iterations;
mod ticker;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use wasmtime::Store;

use crate::backend::{Backend, BackendInfo, OwnerId};
use crate::engine::{Guest, GuestPre, InstanceLimits, ScenarioEngine};
use crate::executor::Executor;
pub use crate::executor::IterationSummary;
use crate::history::HistoryWriter;
use crate::imports::{InstanceState, RunShared, ScenarioShared};
use crate::interrupt::{Interrupt, Interrupted};
use crate::latency::Stamp;
use crate::limits::Limits;
use crate::progress::Progress;
use crate::results::{
    millis, Check, InstanceResult, Outcome, Phase, Recorder, RunResult, ScenarioResult, Status,
};
use crate::scenario::{LoadError, ScenarioSource};

/// One scenario of a run.
#[derive(Debug, Clone)]
pub struct ScenarioSpec {
    pub source: ScenarioSource,
    /// Instances started with the step (open models: the pool's pre-started instances).
    pub instances: u32,
    pub executor: Executor,
    /// Warm-up and cool-down left out of the totals (executors that run for a time).
    pub trim: Option<crate::executor::Trim>,
}

impl ScenarioSpec {
    /// `instances` instances that each run once (the default executor).
    pub fn once(source: ScenarioSource, instances: u32) -> ScenarioSpec {
        ScenarioSpec {
            source,
            instances,
            executor: Executor::Once,
            trim: None,
        }
    }

    /// Instances whose indices the scenario sees (`instance-count`): the pool's largest size
    /// in open models.
    pub fn instance_count(&self) -> u32 {
        match &self.executor {
            Executor::ArrivalRate { max_instances, .. } => (*max_instances).max(self.instances),
            _ => self.instances,
        }
    }
}

/// Everything a run needs besides the backend.
#[derive(Debug, Clone)]
pub struct RunSpec {
    /// Steps run one after the other on the same cluster; the scenarios of a step run
    /// together.
    pub steps: Vec<Vec<ScenarioSpec>>,
    /// `--arg key=value`, given to every scenario.
    pub args: Vec<(String, String)>,
    pub limits: InstanceLimits,
    /// Recorded in the report; the backend was built with it.
    pub seed: u64,
    /// Print guest log lines to stderr as they come.
    pub echo_logs: bool,
}

struct Prepared<S: crate::backend::Session> {
    step: usize,
    spec: ScenarioSpec,
    pre: GuestPre<InstanceState<S>>,
    shared: Arc<ScenarioShared>,
}

/// Runs `spec` against `backend`. A scenario that cannot be loaded is an error (bad input);
/// everything that happens after loading is in the result.
pub async fn run<B: Backend>(
    engine: &ScenarioEngine,
    backend: &B,
    spec: &RunSpec,
    progress: Arc<Progress>,
) -> Result<RunResult, LoadError> {
    run_with_history(engine, backend, spec, progress, None).await
}

/// [`run`], writing every cluster operation of every phase to `history` when given.
pub async fn run_with_history<B: Backend>(
    engine: &ScenarioEngine,
    backend: &B,
    spec: &RunSpec,
    progress: Arc<Progress>,
    history: Option<Arc<HistoryWriter>>,
) -> Result<RunResult, LoadError> {
    let started = Instant::now();
    let info_at_start = backend.info();
    // Load everything first: a bad scenario stops the run before anything touches the cluster.
    let steps = prepare::<B>(engine, spec, &progress)?;
    let mut run = Run {
        engine,
        backend,
        spec,
        shared: Arc::new(RunShared {
            args: spec.args.clone(),
            started,
            progress: progress.clone(),
            echo_logs: spec.echo_logs,
        }),
        progress: &progress,
        history,
        last_owner: AtomicU64::new(0),
    };
    let total: u32 = spec.steps.iter().flatten().map(|s| s.instances).sum();
    progress.instances_total.store(total, Ordering::Relaxed);
    let mut scenarios = Vec::new();
    for (step, prepared) in steps.iter().enumerate() {
        tracing::info!(
            step = step + 1,
            scenarios = %prepared
                .iter()
                .map(|p| format!("{}:{}", p.shared.name, p.spec.instances))
                .collect::<Vec<_>>()
                .join(" "),
            "step started"
        );
        let executor = prepared
            .iter()
            .map(|p| &p.spec.executor)
            .find(|e| e.calls_iteration())
            .map(Executor::kind);
        progress.begin_step(executor);
        let (setups, skip) = run.setup_step(prepared).await;
        progress.stage.store(1, Ordering::Relaxed);
        progress.instances_started.notify_waiters();
        let ran = match &skip {
            None => run.run_step(prepared).await,
            Some(_) => prepared.iter().map(|_| (Vec::new(), None)).collect(),
        };
        progress.stage.store(2, Ordering::Relaxed);
        progress.instances_ended.notify_waiters();
        for ((p, setup), (instances, summary)) in prepared.iter().zip(setups).zip(ran) {
            let mut result = run.verify(p, setup, instances, skip.as_ref()).await;
            result.iterations = summary;
            scenarios.push(result);
        }
    }
    let passed = scenarios.iter().all(ScenarioResult::passed);
    tracing::info!(
        elapsed_ms = millis(started.elapsed()),
        passed,
        interrupted = progress.interrupt.is_raised(),
        "run ended"
    );
    Ok(RunResult {
        hzlab: env!("CARGO_PKG_VERSION"),
        backend: BackendInfo {
            members_at_end: backend.info().members,
            ..info_at_start
        },
        seed: spec.seed,
        args: spec.args.clone(),
        elapsed_ms: millis(started.elapsed()),
        scenarios,
        passed,
        interrupted: progress.interrupt.is_raised(),
        queues: crate::timeline::collect(
            steps
                .iter()
                .flatten()
                .map(|p| (&*p.shared.name, p.shared.recorder.queues())),
        ),
    })
}

/// Compiles and links every scenario of every step.
fn prepare<B: Backend>(
    engine: &ScenarioEngine,
    spec: &RunSpec,
    progress: &Arc<Progress>,
) -> Result<Vec<Vec<Prepared<B::Session>>>, LoadError> {
    let mut steps = Vec::new();
    for (step, specs) in spec.steps.iter().enumerate() {
        let mut prepared = Vec::new();
        for s in specs {
            let compiled = engine.compile(&s.source)?;
            if s.executor.calls_iteration() && !compiled.version.has_iteration() {
                return Err(LoadError::WrongWorld {
                    what: s.source.display_name(),
                    detail: format!(
                        "it targets {}, which has no `iteration` export, so it runs only with \
                         each instance calling `run` once, not {} ({}); rebuild it against \
                         the current world to run it so",
                        compiled.version,
                        s.executor.kind(),
                        s.executor
                    ),
                });
            }
            let pre = engine.prepare::<B::Session>(&s.source, &compiled)?;
            prepared.push(Prepared {
                step,
                spec: s.clone(),
                pre,
                shared: Arc::new(ScenarioShared {
                    name: s.source.name(),
                    instance_count: s.instance_count(),
                    recorder: Recorder::default(),
                    series: crate::series::Series::default()
                        .publishing_to(progress.clone())
                        .measuring(
                            s.trim
                                .zip(s.executor.duration())
                                .and_then(|(t, d)| t.window(d).ok()),
                        ),
                }),
            });
        }
        steps.push(prepared);
    }
    Ok(steps)
}

/// What the phases of one run share.
struct Run<'a, B: Backend> {
    engine: &'a ScenarioEngine,
    backend: &'a B,
    spec: &'a RunSpec,
    shared: Arc<RunShared>,
    progress: &'a Arc<Progress>,
    history: Option<Arc<HistoryWriter>>,
    /// Every store gets an owner of its own (locks are per owner).
    last_owner: AtomicU64,
}

impl<B: Backend> Run<'_, B> {
    /// A store for one call of one instance, with a lock owner of its own.
    fn store(
        &self,
        scenario: &Arc<ScenarioShared>,
        index: u32,
        phase: Phase,
    ) -> Store<InstanceState<B::Session>> {
        let owner: OwnerId = self.last_owner.fetch_add(1, Ordering::Relaxed) + 1;
        let state = InstanceState::new(
            self.backend.session(owner),
            self.shared.clone(),
            scenario.clone(),
            index,
            phase,
            Limits::new(&self.spec.limits),
        )
        .with_history(self.history.clone());
        self.engine.store(state)
    }

    /// Calls `setup` or `verify` once, then frees the locks the call left held.
    async fn call_once(&mut self, p: &Prepared<B::Session>, phase: Phase) -> Outcome {
        let mut store = self.store(&p.shared, 0, phase);
        let outcome = call_once(
            &p.pre,
            &mut store,
            phase,
            &self.spec.limits,
            &self.progress.interrupt,
        )
        .await;
        store.data_mut().release_locks().await;
        tracing::debug!(
            scenario = %p.shared.name,
            ?phase,
            status = ?outcome.status,
            error = outcome.error.as_deref().unwrap_or(""),
            "phase ended"
        );
        outcome
    }

    /// Setup, once per scenario, in order. Returns each scenario's outcome and, after a
    /// failed (or interrupted) setup, what everything after it is given instead of running.
    async fn setup_step(
        &mut self,
        prepared: &[Prepared<B::Session>],
    ) -> (Vec<Outcome>, Option<Outcome>) {
        let mut setups = Vec::new();
        let mut skip: Option<Outcome> = None;
        for p in prepared {
            if skip.is_none() && self.progress.interrupt.is_raised() {
                skip = Some(Outcome::interrupted("not run"));
            }
            if let Some(outcome) = &skip {
                setups.push(outcome.clone());
                continue;
            }
            let outcome = self.call_once(p, Phase::Setup).await;
            if outcome.status == Status::Interrupted {
                skip = Some(Outcome::interrupted("not run"));
            } else if !outcome.status.is_ok() {
                skip = Some(Outcome::skipped(format!(
                    "setup of {} failed",
                    p.shared.name
                )));
            }
            setups.push(outcome);
        }
        (setups, skip)
    }

    /// Run: every scenario of the step together, each with its executor; each scenario's
    /// instance results and, for iteration executors, what they did. The step's figures
    /// over time start now.
    async fn run_step(
        &self,
        prepared: &[Prepared<B::Session>],
    ) -> Vec<(Vec<InstanceResult>, Option<IterationSummary>)> {
        let origin = Stamp::now();
        for p in prepared {
            p.shared.series.start(origin);
        }
        let once = self.run_once(prepared);
        let drivers = futures_util::future::join_all(
            prepared
                .iter()
                .filter(|p| p.spec.executor.calls_iteration())
                .map(|p| iterations::drive(self, p)),
        );
        let (mut once, driven) = tokio::join!(once, drivers);
        let mut driven = driven.into_iter();
        let end = Stamp::now();
        let mut out = Vec::new();
        for (si, p) in prepared.iter().enumerate() {
            let ran = if p.spec.executor.calls_iteration() {
                let (instances, summary) = driven.next().unwrap_or_default();
                (instances, Some(summary))
            } else {
                (std::mem::take(&mut once[si]), None)
            };
            out.push(ran);
        }
        let _ = end;
        out
    }

    /// The scenarios whose instances each run once: instantiates every instance first,
    /// then runs them together; their results, in the order they ended (empty for the other
    /// scenarios).
    async fn run_once(&self, prepared: &[Prepared<B::Session>]) -> Vec<Vec<InstanceResult>> {
        let mut results: Vec<Vec<InstanceResult>> = prepared.iter().map(|_| Vec::new()).collect();
        let mut tasks = tokio::task::JoinSet::new();
        // Which instance each task runs, to report one whose task panicked.
        let mut spawned = std::collections::HashMap::new();
        for (si, p) in prepared.iter().enumerate() {
            if p.spec.executor.calls_iteration() {
                continue;
            }
            for index in 0..p.spec.instances {
                if self.progress.interrupt.is_raised() {
                    results[si].push(InstanceResult {
                        index,
                        outcome: Outcome::interrupted("not started"),
                        elapsed_ms: 0.0,
                        ops: 0,
                        recorded: Default::default(),
                    });
                    continue;
                }
                let mut store = self.store(&p.shared, index, Phase::Run);
                let instance = match p.pre.instantiate_async(&mut store).await {
                    Ok(i) => Ok(i),
                    Err(e) => Err(instantiation_failed(
                        store.data(),
                        e,
                        &self.spec.limits,
                        &format!("instance {index}"),
                    )),
                };
                let limits = self.spec.limits;
                let progress = self.progress.clone();
                let task = tasks.spawn(async move {
                    let (outcome, elapsed, ops) =
                        run_instance(store, instance, limits, &progress).await;
                    (si, index, outcome, elapsed, ops)
                });
                spawned.insert(task.id(), (si, index));
            }
        }
        while let Some(joined) = tasks.join_next_with_id().await {
            let (si, index, outcome, elapsed, ops) = match joined {
                Ok((_, r)) => r,
                // A panic inside the host while running an instance is a bug: the instance
                // is reported as the host's failure (not dropped from the results), and the
                // run goes on.
                Err(e) => {
                    let Some(&(si, index)) = spawned.get(&e.id()) else {
                        continue;
                    };
                    (si, index, host_failure(e), std::time::Duration::ZERO, 0)
                }
            };
            tracing::debug!(
                scenario = %prepared[si].shared.name,
                instance = index,
                status = ?outcome.status,
                elapsed_ms = millis(elapsed),
                ops,
                "instance ended"
            );
            results[si].push(InstanceResult {
                index,
                outcome,
                elapsed_ms: millis(elapsed),
                ops,
                // Filled once verify no longer reads the instances' counters.
                recorded: Default::default(),
            });
        }
        results
    }

    /// Verify, once per scenario, then the scenario's result with everything it recorded.
    async fn verify(
        &mut self,
        p: &Prepared<B::Session>,
        setup: Outcome,
        mut instances: Vec<InstanceResult>,
        skip: Option<&Outcome>,
    ) -> ScenarioResult {
        instances.sort_by_key(|i| i.index);
        let verify = if let Some(outcome) = skip {
            outcome.clone()
        } else if self.progress.interrupt.is_raised() {
            Outcome::interrupted("not run")
        } else {
            self.call_once(p, Phase::Verify).await
        };
        if verify.status == Status::Failed {
            p.shared.recorder.check(Check {
                name: "verify".into(),
                ok: false,
                detail: verify.error.clone().unwrap_or_default(),
                instance: None,
            });
        }
        let series = p.shared.series.finish(Stamp::now());
        let (recorded, totals, checks, logs, logs_dropped) = p.shared.recorder.finish();
        for i in &mut instances {
            i.recorded = p.shared.recorder.take_instance(i.index);
        }
        ScenarioResult {
            step: p.step,
            name: p.shared.name.clone(),
            source: p.spec.source.origin(),
            setup,
            instances,
            verify,
            recorded,
            totals,
            checks,
            logs,
            logs_dropped,
            latency: p.shared.recorder.latency(),
            iterations: None,
            series,
        }
    }
}

/// Runs one instance's `run` within its time budget (its clock starts now, after every
/// instance of the step was instantiated); its outcome, time and operation count.
async fn run_instance<S: crate::backend::Session>(
    mut store: Store<InstanceState<S>>,
    instance: Result<Guest, Outcome>,
    limits: InstanceLimits,
    progress: &Progress,
) -> (Outcome, std::time::Duration, u64) {
    let began = Instant::now();
    store.data_mut().limits = Limits::new(&limits);
    let outcome = match instance {
        Err(outcome) => outcome,
        Ok(instance) => {
            let call = instance.call_run(&mut store);
            let result = progress
                .interrupt
                .or_grace(tokio::time::timeout(limits.time_budget, call))
                .await;
            match result {
                None => Outcome::interrupted("stopped"),
                Some(Err(_)) => timed_out(&limits),
                Some(Ok(Ok(returned))) => returned_outcome(returned),
                Some(Ok(Err(e))) => classify(store.data(), e, &limits),
            }
        }
    };
    let elapsed = began.elapsed();
    store.data_mut().release_locks().await;
    progress.instances_done.fetch_add(1, Ordering::Relaxed);
    (outcome, elapsed, store.data().ops())
}

/// The outcome of an instance whose host task failed (a panic inside the host is a bug):
/// reported as the host's failure, with the panic's message, rather than dropped.
pub(crate) fn host_failure(e: tokio::task::JoinError) -> Outcome {
    let why = match e.try_into_panic() {
        Ok(panic) => panic
            .downcast_ref::<&str>()
            .map(|m| m.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic".into()),
        Err(e) => e.to_string(),
    };
    Outcome {
        status: Status::HostError,
        error: Some(format!("the host failed while running it: {why}")),
    }
}

/// What a phase that returned says: ok, or failed with the guest's message.
fn returned_outcome(returned: Result<(), String>) -> Outcome {
    match returned {
        Ok(()) => Outcome::ok(),
        Err(message) => Outcome {
            status: Status::Failed,
            error: Some(message),
        },
    }
}

/// Where a once-only phase call failed.
enum CallError {
    Instantiate(wasmtime::Error),
    Call(wasmtime::Error),
}

/// Instantiates and calls `setup` or `verify` within the time budget.
async fn call_once<S: crate::backend::Session>(
    pre: &GuestPre<InstanceState<S>>,
    store: &mut Store<InstanceState<S>>,
    phase: Phase,
    limits: &InstanceLimits,
    interrupt: &Interrupt,
) -> Outcome {
    let call = async {
        let instance = match pre.instantiate_async(&mut *store).await {
            Ok(i) => i,
            Err(e) => return Err(CallError::Instantiate(e)),
        };
        match phase {
            Phase::Setup => instance.call_setup(&mut *store).await,
            Phase::Verify => instance.call_verify(&mut *store).await,
            Phase::Run => instance.call_run(&mut *store).await,
        }
        .map_err(CallError::Call)
    };
    let result = interrupt
        .or_grace(tokio::time::timeout(limits.time_budget, call))
        .await;
    match result {
        None => Outcome::interrupted("stopped"),
        Some(Err(_)) => timed_out(limits),
        Some(Ok(Ok(returned))) => returned_outcome(returned),
        Some(Ok(Err(CallError::Call(e)))) => classify(store.data(), e, limits),
        Some(Ok(Err(CallError::Instantiate(e)))) => {
            let what = format!(
                "the instance of its {} call",
                format!("{phase:?}").to_lowercase()
            );
            instantiation_failed(store.data(), e, limits, &what)
        }
    }
}

fn timed_out(limits: &InstanceLimits) -> Outcome {
    Outcome {
        status: Status::TimedOut,
        error: Some(format!(
            "stopped after its time budget of {:?}",
            limits.time_budget
        )),
    }
}

/// Names what stopped an instance from starting: the guest (its cap, a trap in its start
/// code), or the host (memory or a stack it could not map for the instance).
fn instantiation_failed<S>(
    state: &InstanceState<S>,
    e: wasmtime::Error,
    limits: &InstanceLimits,
    what: &str,
) -> Outcome {
    if state.limits.memory_refused
        || state.limits.host_refused
        || e.downcast_ref::<wasmtime::Trap>().is_some()
    {
        return classify(state, e, limits);
    }
    Outcome {
        status: Status::HostError,
        error: Some(format!(
            "the host could not set up {what} (its memory, stack and tables): {} (the \
             host's own limits: free memory, `ulimit -v`, vm.max_map_count)",
            root_cause(&e)
        )),
    }
}

/// Names what stopped a guest: its memory cap, its host-side cap, its time budget, or a trap.
fn classify<S>(state: &InstanceState<S>, e: wasmtime::Error, limits: &InstanceLimits) -> Outcome {
    let interrupt_trap = matches!(
        e.downcast_ref::<wasmtime::Trap>(),
        Some(wasmtime::Trap::Interrupt)
    ) && state.interrupted()
        && Instant::now() < state.limits.deadline;
    if e.downcast_ref::<Interrupted>().is_some() || interrupt_trap {
        return Outcome::interrupted("stopped");
    }
    if state.limits.host_refused {
        let message = match e.downcast_ref::<crate::limits::HostCapExceeded>() {
            Some(cap) => cap.to_string(),
            None => format!(
                "recorded more than {} bytes and stopped: {}",
                state.limits.host_cap(),
                root_cause(&e)
            ),
        };
        return Outcome {
            status: Status::MemoryExceeded,
            error: Some(message),
        };
    }
    if state.limits.memory_refused {
        return Outcome {
            status: Status::MemoryExceeded,
            error: Some(format!(
                "tried to grow its memory past the cap of {} MiB and stopped: {}",
                state.limits.memory_cap() >> 20,
                root_cause(&e)
            )),
        };
    }
    if matches!(
        e.downcast_ref::<wasmtime::Trap>(),
        Some(wasmtime::Trap::Interrupt)
    ) || Instant::now() >= state.limits.deadline
    {
        return timed_out(limits);
    }
    let mut message = root_cause(&e);
    if message.contains("unreachable") {
        message.push_str(" (a Rust guest that panics traps this way; see its log lines)");
    }
    Outcome {
        status: Status::Trapped,
        error: Some(message),
    }
}

fn root_cause(e: &wasmtime::Error) -> String {
    match e.downcast_ref::<wasmtime::Trap>() {
        Some(trap) => trap.to_string(),
        None => format!("{e:#}"),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::backend::embedded::{EmbeddedCluster, EmbeddedConfig, EmbeddedSession};
    use crate::backend::{OpResult, Session, Value};

    /// The embedded cluster, with a host bug: `put` and `set` panic for one lock owner.
    struct PanicsOnPut {
        cluster: EmbeddedCluster,
        owner: OwnerId,
    }

    struct Sess {
        inner: EmbeddedSession,
        panics: bool,
    }

    impl Backend for PanicsOnPut {
        type Session = Sess;
        fn session(&self, owner: OwnerId) -> Sess {
            Sess {
                inner: self.cluster.session(owner),
                panics: owner == self.owner,
            }
        }
        fn info(&self) -> BackendInfo {
            self.cluster.info()
        }
    }

    impl Session for Sess {
        async fn get(&self, m: &str, k: &Value) -> OpResult<Option<Value>> {
            self.inner.get(m, k).await
        }
        async fn put(&self, m: &str, k: &Value, v: &Value) -> OpResult<Option<Value>> {
            assert!(!self.panics, "a host bug in put");
            self.inner.put(m, k, v).await
        }
        async fn set(&self, m: &str, k: &Value, v: &Value) -> OpResult<()> {
            assert!(!self.panics, "a host bug in set");
            self.inner.set(m, k, v).await
        }
        async fn remove(&self, m: &str, k: &Value) -> OpResult<Option<Value>> {
            self.inner.remove(m, k).await
        }
        async fn contains_key(&self, m: &str, k: &Value) -> OpResult<bool> {
            self.inner.contains_key(m, k).await
        }
        async fn size(&self, m: &str) -> OpResult<u64> {
            self.inner.size(m).await
        }
        async fn put_if_absent(&self, m: &str, k: &Value, v: &Value) -> OpResult<Option<Value>> {
            self.inner.put_if_absent(m, k, v).await
        }
        async fn clear(&self, m: &str) -> OpResult<()> {
            self.inner.clear(m).await
        }
        async fn replace(&self, m: &str, k: &Value, v: &Value) -> OpResult<Option<Value>> {
            self.inner.replace(m, k, v).await
        }
        async fn replace_if_same(
            &self,
            m: &str,
            k: &Value,
            e: &Value,
            n: &Value,
        ) -> OpResult<bool> {
            self.inner.replace_if_same(m, k, e, n).await
        }
        async fn lock(&self, m: &str, k: &Value) -> OpResult<()> {
            self.inner.lock(m, k).await
        }
        async fn try_lock(&self, m: &str, k: &Value, t: Duration) -> OpResult<bool> {
            self.inner.try_lock(m, k, t).await
        }
        async fn unlock(&self, m: &str, k: &Value) -> OpResult<()> {
            self.inner.unlock(m, k).await
        }
        async fn is_locked(&self, m: &str, k: &Value) -> OpResult<bool> {
            self.inner.is_locked(m, k).await
        }
        async fn offer(&self, q: &str, i: &Value, t: Option<Duration>) -> OpResult<bool> {
            self.inner.offer(q, i, t).await
        }
        async fn queue_put(&self, q: &str, i: &Value) -> OpResult<()> {
            self.inner.queue_put(q, i).await
        }
        async fn poll(&self, q: &str, t: Option<Duration>) -> OpResult<Option<Value>> {
            self.inner.poll(q, t).await
        }
        async fn take(&self, q: &str) -> OpResult<Value> {
            self.inner.take(q).await
        }
        async fn queue_size(&self, q: &str) -> OpResult<u64> {
            self.inner.queue_size(q).await
        }
    }

    #[tokio::test]
    async fn an_instance_whose_host_task_panics_is_reported_not_dropped() {
        let engine = ScenarioEngine::new().unwrap();
        // Owners: setup 1, instances 2..=4, verify 5; the second instance's write panics.
        let backend = PanicsOnPut {
            cluster: EmbeddedCluster::new(EmbeddedConfig::default()).unwrap(),
            owner: 3,
        };
        let spec = RunSpec {
            steps: vec![vec![ScenarioSpec::once(
                ScenarioSource::resolve("race").unwrap(),
                3,
            )]],
            args: vec![("iterations".into(), "50".into())],
            limits: InstanceLimits::default(),
            seed: 1,
            echo_logs: false,
        };
        let r = run(&engine, &backend, &spec, Arc::new(Progress::default()))
            .await
            .unwrap();
        let race = &r.scenarios[0];
        let statuses: Vec<Status> = race.instances.iter().map(|i| i.outcome.status).collect();
        assert_eq!(
            statuses,
            [Status::Ok, Status::HostError, Status::Ok],
            "{race:#?}"
        );
        let error = race.instances[1].outcome.error.as_deref().unwrap();
        assert!(error.contains("a host bug in"), "{error}");
        assert!(!r.passed);
    }
}
