//! Runs scenarios through their phases against a backend and gathers the results.
//!
//! 1. Every scenario is compiled and linked once.
//! 2. `setup` of each scenario runs once, in order.
//! 3. Every instance of every scenario is instantiated, then all `run` calls start together,
//!    each instance in its own store, concurrently on the current async runtime.
//! 4. `verify` of each scenario runs once, after all instances ended.
//!
//! A trap, error, timeout or memory overrun in one instance is that instance's result; it does
//! not stop the others.
//!
//! Raising [`Progress::interrupt`] stops the run (see [`crate::interrupt`]): the result then
//! holds what was gathered so far and says `interrupted`.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use wasmtime::Store;

use crate::backend::{Backend, BackendInfo, OwnerId};
use crate::bindings::ScenarioPre;
use crate::engine::{InstanceLimits, ScenarioEngine};
use crate::history::HistoryWriter;
use crate::imports::{InstanceState, RunShared, ScenarioShared};
use crate::interrupt::{Interrupt, Interrupted};
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
    pub instances: u32,
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
    pre: ScenarioPre<InstanceState<S>>,
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
    let mut steps = Vec::new();
    for (step, specs) in spec.steps.iter().enumerate() {
        let mut prepared = Vec::new();
        for s in specs {
            let component = engine.compile(&s.source)?;
            let pre = engine.prepare::<B::Session>(&s.source, &component)?;
            prepared.push(Prepared {
                step,
                spec: s.clone(),
                pre,
                shared: Arc::new(ScenarioShared {
                    name: s.source.name(),
                    instance_count: s.instances,
                    recorder: Recorder::default(),
                }),
            });
        }
        steps.push(prepared);
    }
    let run_shared = Arc::new(RunShared {
        args: spec.args.clone(),
        started,
        progress: progress.clone(),
        echo_logs: spec.echo_logs,
    });
    let mut next_owner: OwnerId = 0;
    let mut owner = || {
        next_owner += 1;
        next_owner
    };
    let new_state = |shared: &Arc<ScenarioShared>, index, phase, owner| {
        InstanceState::new(
            backend.session(owner),
            run_shared.clone(),
            shared.clone(),
            index,
            phase,
            Limits::new(&spec.limits),
        )
        .with_history(history.clone())
    };

    let total: u32 = spec.steps.iter().flatten().map(|s| s.instances).sum();
    progress.instances_total.store(total, Ordering::Relaxed);
    let mut scenarios = Vec::new();
    for prepared in steps.iter() {
        // Setup, once per scenario, in order; the first failure skips the rest of the run.
        let mut setups = Vec::new();
        // What everything after a failed (or interrupted) setup is given instead of running.
        let mut skip: Option<Outcome> = None;
        for p in prepared {
            if skip.is_none() && progress.interrupt.is_raised() {
                skip = Some(Outcome::interrupted("not run"));
            }
            if let Some(outcome) = &skip {
                setups.push(outcome.clone());
                continue;
            }
            let mut store = engine.store(new_state(&p.shared, 0, Phase::Setup, owner()));
            let outcome = call_once(
                &p.pre,
                &mut store,
                Phase::Setup,
                &spec.limits,
                &progress.interrupt,
            )
            .await;
            store.data_mut().release_locks().await;
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

        // Run: instantiate every instance first, then start them together.
        progress.stage.store(1, Ordering::Relaxed);
        let mut instance_results: Vec<Vec<InstanceResult>> =
            prepared.iter().map(|_| Vec::new()).collect();
        if skip.is_none() {
            let mut tasks = tokio::task::JoinSet::new();
            for (si, p) in prepared.iter().enumerate() {
                for index in 0..p.spec.instances {
                    if progress.interrupt.is_raised() {
                        instance_results[si].push(InstanceResult {
                            index,
                            outcome: Outcome::interrupted("not started"),
                            elapsed_ms: 0.0,
                            ops: 0,
                            recorded: Default::default(),
                        });
                        continue;
                    }
                    let mut store = engine.store(new_state(&p.shared, index, Phase::Run, owner()));
                    let instance = match p.pre.instantiate_async(&mut store).await {
                        Ok(i) => Ok(i),
                        Err(e) => Err(instantiation_failed(
                            store.data(),
                            e,
                            &spec.limits,
                            &format!("instance {index}"),
                        )),
                    };
                    let limits = spec.limits;
                    let progress = progress.clone();
                    tasks.spawn(async move {
                        let began = Instant::now();
                        store.data_mut().limits = Limits::new(&limits);
                        let outcome = match instance {
                            Err(outcome) => outcome,
                            Ok(instance) => {
                                let call = instance.call_run(&mut store);
                                let call = tokio::time::timeout(limits.time_budget, call);
                                match progress.interrupt.or_grace(call).await {
                                    None => Outcome::interrupted("stopped"),
                                    Some(Err(_)) => timed_out(&limits),
                                    Some(Ok(Ok(Ok(())))) => Outcome::ok(),
                                    Some(Ok(Ok(Err(message)))) => Outcome {
                                        status: Status::Failed,
                                        error: Some(message),
                                    },
                                    Some(Ok(Err(e))) => classify(store.data(), e, &limits),
                                }
                            }
                        };
                        let elapsed = began.elapsed();
                        store.data_mut().release_locks().await;
                        progress.instances_done.fetch_add(1, Ordering::Relaxed);
                        (si, index, outcome, elapsed, store.data().ops())
                    });
                }
            }
            while let Some(joined) = tasks.join_next().await {
                let (si, index, outcome, elapsed, ops) = match joined {
                    Ok(r) => r,
                    // A panic inside the host while running an instance is a bug; keep the run.
                    Err(e) => {
                        eprintln!("hzlab: an instance task failed: {e}");
                        continue;
                    }
                };
                instance_results[si].push(InstanceResult {
                    index,
                    outcome,
                    elapsed_ms: millis(elapsed),
                    ops,
                    // Filled once verify no longer reads the instances' counters.
                    recorded: Default::default(),
                });
            }
        }
        progress.stage.store(2, Ordering::Relaxed);
        progress.instances_ended.notify_waiters();

        // Verify, once per scenario.
        for ((p, setup), mut instances) in prepared.iter().zip(setups).zip(instance_results) {
            instances.sort_by_key(|i| i.index);
            let verify = if let Some(outcome) = &skip {
                outcome.clone()
            } else if progress.interrupt.is_raised() {
                Outcome::interrupted("not run")
            } else {
                let mut store = engine.store(new_state(&p.shared, 0, Phase::Verify, owner()));
                let outcome = call_once(
                    &p.pre,
                    &mut store,
                    Phase::Verify,
                    &spec.limits,
                    &progress.interrupt,
                )
                .await;
                store.data_mut().release_locks().await;
                outcome
            };
            if verify.status == Status::Failed {
                p.shared.recorder.check(Check {
                    name: "verify".into(),
                    ok: false,
                    detail: verify.error.clone().unwrap_or_default(),
                    instance: None,
                });
            }
            let (recorded, totals, checks, logs, logs_dropped) = p.shared.recorder.finish();
            for i in &mut instances {
                i.recorded = p.shared.recorder.take_instance(i.index);
            }
            scenarios.push(ScenarioResult {
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
            });
        }
    }
    let passed = scenarios.iter().all(ScenarioResult::passed);
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

/// Where a once-only phase call failed.
enum CallError {
    Instantiate(wasmtime::Error),
    Call(wasmtime::Error),
}

/// Instantiates and calls `setup` or `verify` within the time budget.
async fn call_once<S: crate::backend::Session>(
    pre: &ScenarioPre<InstanceState<S>>,
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
        Some(Ok(Ok(Ok(())))) => Outcome::ok(),
        Some(Ok(Ok(Err(message)))) => Outcome {
            status: Status::Failed,
            error: Some(message),
        },
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
