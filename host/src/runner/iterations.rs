//! The executors that call `iteration` (see [`crate::executor`]): closed models, where each
//! instance takes its next iteration when its last one ended, and the open model, where a
//! driver starts iterations on schedule on free instances of a pool and counts those that
//! find none as dropped.
//!
//! An iteration gets the instance's time budget afresh. An error it returns fails that
//! iteration only (counted, with its message); a trap, a spent budget or a memory overrun
//! ends the instance, as in `run`, and is its result.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use wasmtime::Store;

use super::ticker::{Tick, Ticker};
use super::{classify, instantiation_failed, timed_out, Prepared, Run};
use crate::backend::{Backend, Session};
use crate::engine::{Guest, InstanceLimits};
use crate::executor::{ErrorCount, Executor, IterationSummary, Schedule};
use crate::imports::{InstanceState, ScenarioShared};
use crate::latency::{Histogram, Stamp};
use crate::progress::Progress;
use crate::results::{millis, InstanceResult, Outcome, Phase, Status};
use crate::series::IterationCounts;

/// Distinct failure messages a summary keeps; the others are only counted.
const MAX_ERRORS: usize = 10;

#[derive(Default)]
struct Tally {
    counts: IterationCounts,
    response: Histogram,
    service: Histogram,
    errors: BTreeMap<String, u64>,
    errors_omitted: u64,
}

/// What the instances of one driven scenario share.
#[derive(Default)]
struct Driven {
    /// The next iteration index (closed models).
    next: AtomicU64,
    tally: Mutex<Tally>,
    /// Instances still able to run iterations.
    live: AtomicU32,
}

impl Driven {
    fn tally(&self) -> std::sync::MutexGuard<'_, Tally> {
        self.tally.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// An iteration the open model's driver hands to a free instance.
struct Job {
    index: u64,
    intended: Instant,
}

/// Where an instance gets its iterations from.
enum Work {
    /// The next of `total` shared iterations.
    Shared { total: u64 },
    /// The next iteration, until `end`.
    Until(Instant),
    /// Jobs from the driver; after each, the instance says it is free again.
    Jobs {
        jobs: mpsc::Receiver<Job>,
        free: mpsc::UnboundedSender<u32>,
    },
}

/// Everything a worker task owns.
struct Worker<S: Session> {
    store: Store<InstanceState<S>>,
    guest: Guest,
    index: u32,
    work: Work,
    driven: Arc<Driven>,
    scenario: Arc<ScenarioShared>,
    limits: InstanceLimits,
    progress: Arc<Progress>,
}

/// How one iteration ended.
enum Ended {
    Ok,
    Failed(String),
    /// The instance cannot go on: its outcome.
    Instance(Outcome),
    /// Interrupted: not counted.
    Interrupted,
}

impl<S: Session> Worker<S> {
    async fn iteration(&mut self, index: u64, lag: Option<Duration>) -> Ended {
        let began = Instant::now();
        self.scenario.series.iteration_started(Stamp::now());
        let lag_ns = lag.map(|l| l.as_nanos() as u64);
        self.store
            .data_mut()
            .begin_iteration(self.limits.time_budget, lag_ns);
        let call = self.guest.call_iteration(&mut self.store, index);
        let result = self
            .progress
            .interrupt
            .or_grace(tokio::time::timeout(self.limits.time_budget, call))
            .await;
        let ended = match result {
            None => return Ended::Interrupted,
            Some(Err(_)) => Ended::Instance(timed_out(&self.limits)),
            Some(Ok(Ok(Ok(())))) => Ended::Ok,
            Some(Ok(Ok(Err(message)))) => Ended::Failed(message),
            Some(Ok(Err(e))) => {
                let outcome = classify(self.store.data(), e, &self.limits);
                if outcome.status == Status::Interrupted {
                    return Ended::Interrupted;
                }
                Ended::Instance(outcome)
            }
        };
        let service = began.elapsed();
        let response = service + lag.unwrap_or_default();
        let ok = matches!(ended, Ended::Ok);
        self.scenario.series.iteration_ended(
            Stamp::now(),
            response.as_nanos() as u64,
            service.as_nanos() as u64,
            ok,
        );
        self.progress.iterations.fetch_add(1, Ordering::Relaxed);
        // A trimmed step counts the iterations that ended inside its window.
        if !self.scenario.series.measured(Stamp::now()) {
            return ended;
        }
        let mut tally = self.driven.tally();
        tally.response.record(response.as_nanos() as u64);
        tally.service.record(service.as_nanos() as u64);
        if ok {
            tally.counts.completed += 1;
        } else {
            tally.counts.failed += 1;
            let message = match &ended {
                Ended::Failed(m) => m.clone(),
                Ended::Instance(o) => o
                    .error
                    .clone()
                    .unwrap_or_else(|| o.status.label().to_owned()),
                _ => String::new(),
            };
            if let Some(n) = tally.errors.get_mut(&message) {
                *n += 1;
            } else if tally.errors.len() < MAX_ERRORS {
                tally.errors.insert(message, 1);
            } else {
                tally.errors_omitted += 1;
            }
        }
        tally.counts.started += 1;
        ended
    }

    /// Runs iterations until the work ends or the instance cannot go on.
    async fn run(mut self) -> InstanceResult {
        let began = Instant::now();
        let mut outcome = Outcome::ok();
        loop {
            let (index, lag) = match &mut self.work {
                Work::Shared { total } => {
                    let i = self.driven.next.fetch_add(1, Ordering::Relaxed);
                    if i >= *total {
                        break;
                    }
                    (i, None)
                }
                Work::Until(end) => {
                    if Instant::now() >= *end {
                        break;
                    }
                    (self.driven.next.fetch_add(1, Ordering::Relaxed), None)
                }
                Work::Jobs { jobs, .. } => match jobs.recv().await {
                    None => break,
                    Some(job) => (
                        job.index,
                        Some(Instant::now().saturating_duration_since(job.intended)),
                    ),
                },
            };
            if self.progress.interrupt.is_raised() {
                outcome = Outcome::interrupted("stopped");
                break;
            }
            match self.iteration(index, lag).await {
                Ended::Ok | Ended::Failed(_) => {}
                Ended::Interrupted => {
                    outcome = Outcome::interrupted("stopped");
                    break;
                }
                Ended::Instance(o) => {
                    outcome = o;
                    break;
                }
            }
            if let Work::Jobs { free, .. } = &self.work {
                let _ = free.send(self.index);
            }
        }
        self.driven.live.fetch_sub(1, Ordering::Relaxed);
        let elapsed = began.elapsed();
        self.store.data_mut().release_locks().await;
        self.progress.instances_done.fetch_add(1, Ordering::Relaxed);
        InstanceResult {
            index: self.index,
            outcome,
            elapsed_ms: millis(elapsed),
            ops: self.store.data().ops(),
            recorded: Default::default(),
        }
    }
}

/// The worker tasks of one scenario.
struct Pool<'r, 'a, B: Backend> {
    run: &'r Run<'a, B>,
    p: &'r Prepared<B::Session>,
    driven: Arc<Driven>,
    tasks: tokio::task::JoinSet<InstanceResult>,
    spawned: std::collections::HashMap<tokio::task::Id, u32>,
    /// Instances that could not start.
    failed: Vec<InstanceResult>,
    started: u32,
}

impl<B: Backend> Pool<'_, '_, B> {
    /// Instantiates instance `index` and starts its task; false when it could not start
    /// (its result is kept).
    async fn start(&mut self, index: u32, work: Work) -> bool {
        let limits = self.run.spec.limits;
        let mut store = self.run.store(&self.p.shared, index, Phase::Run);
        let guest = match self.p.pre.instantiate_async(&mut store).await {
            Ok(g) => g,
            Err(e) => {
                let outcome =
                    instantiation_failed(store.data(), e, &limits, &format!("instance {index}"));
                self.failed.push(InstanceResult {
                    index,
                    outcome,
                    elapsed_ms: 0.0,
                    ops: 0,
                    recorded: Default::default(),
                });
                return false;
            }
        };
        self.started += 1;
        self.driven.live.fetch_add(1, Ordering::Relaxed);
        let worker = Worker {
            store,
            guest,
            index,
            work,
            driven: self.driven.clone(),
            scenario: self.p.shared.clone(),
            limits,
            progress: self.run.progress.clone(),
        };
        let task = self.tasks.spawn(worker.run());
        self.spawned.insert(task.id(), index);
        true
    }

    /// Waits for every worker; their results by index.
    async fn finish(mut self) -> (Vec<InstanceResult>, u32) {
        let mut results = std::mem::take(&mut self.failed);
        while let Some(joined) = self.tasks.join_next_with_id().await {
            match joined {
                Ok((_, r)) => results.push(r),
                Err(e) => {
                    let index = self.spawned.get(&e.id()).copied().unwrap_or(u32::MAX);
                    results.push(InstanceResult {
                        index,
                        outcome: super::host_failure(e),
                        elapsed_ms: 0.0,
                        ops: 0,
                        recorded: Default::default(),
                    });
                }
            }
        }
        results.sort_by_key(|r| r.index);
        (results, self.started)
    }
}

/// Runs one scenario with an executor that calls `iteration`; its instance results and
/// what the executor did.
pub(super) async fn drive<B: Backend>(
    run: &Run<'_, B>,
    p: &Prepared<B::Session>,
) -> (Vec<InstanceResult>, IterationSummary) {
    let clock = Instant::now();
    let mut pool = Pool {
        run,
        p,
        driven: Arc::new(Driven::default()),
        tasks: tokio::task::JoinSet::new(),
        spawned: Default::default(),
        failed: Vec::new(),
        started: 0,
    };
    let executor = &p.spec.executor;
    let mut dropped = 0u64;
    match executor {
        Executor::Once => {}
        Executor::SharedIterations { iterations } => {
            for index in 0..p.spec.instances {
                pool.start(index, Work::Shared { total: *iterations }).await;
            }
        }
        Executor::ConstantInstances { duration } => {
            for index in 0..p.spec.instances {
                pool.start(index, Work::Until(clock + *duration)).await;
            }
        }
        Executor::ArrivalRate {
            start_rate,
            stages,
            max_instances,
        } => {
            dropped = arrivals(
                &mut pool,
                Schedule::new(*start_rate, stages),
                *max_instances,
            )
            .await;
        }
    }
    let driven = pool.driven.clone();
    let (instances, started) = pool.finish().await;
    let window = p.shared.series.window_s();
    let secs = match window {
        Some([from, to]) => to - from,
        None => clock.elapsed().as_secs_f64(),
    };
    let tally = std::mem::take(&mut *driven.tally());
    let mut counts = tally.counts;
    counts.dropped = dropped;
    let ended = counts.completed + counts.failed;
    let target_rate = executor.target_rate().map(round3);
    let stats = |h: &Histogram| (!h.is_empty()).then(|| h.stats());
    let summary = IterationSummary {
        executor: executor.kind(),
        schedule: executor.to_string(),
        counts,
        secs: round3(secs),
        rate: if secs > 0.0 {
            round3(ended as f64 / secs)
        } else {
            0.0
        },
        target_rate,
        instances_started: started,
        response: stats(&tally.response),
        service: stats(&tally.service),
        op_response: p.shared.recorder.response_latency(),
        errors: tally
            .errors
            .into_iter()
            .map(|(message, count)| ErrorCount { message, count })
            .collect(),
        errors_omitted: tally.errors_omitted,
        measured: window,
    };
    tracing::info!(
        scenario = %p.shared.name,
        executor = summary.executor,
        completed = counts.completed,
        failed = counts.failed,
        dropped,
        rate = summary.rate,
        "iterations ended"
    );
    (instances, summary)
}

fn round3(x: f64) -> f64 {
    (x * 1e3).round() / 1e3
}

/// The open model: starts iterations on `schedule`, each on a free instance, growing the
/// pool up to `max_instances`; returns how many found no free instance (dropped).
async fn arrivals<B: Backend>(
    pool: &mut Pool<'_, '_, B>,
    schedule: Schedule,
    max_instances: u32,
) -> u64 {
    let progress = pool.run.progress.clone();
    let (free_tx, mut free_rx) = mpsc::unbounded_channel::<u32>();
    let mut senders: Vec<Option<mpsc::Sender<Job>>> = Vec::new();
    let add = |pool_len: u32| {
        let (tx, rx) = mpsc::channel::<Job>(1);
        (
            tx,
            Work::Jobs {
                jobs: rx,
                free: free_tx.clone(),
            },
            pool_len,
        )
    };
    for index in 0..pool.p.spec.instances.min(max_instances) {
        let (tx, work, _) = add(index);
        if pool.start(index, work).await {
            senders.push(Some(tx));
            let _ = free_tx.send(index);
        } else {
            senders.push(None);
        }
    }
    // The clock starts once the pre-started instances are ready.
    let clock = Instant::now();
    let mut ticker = Ticker::start(clock, schedule.clone());
    let mut dropped = 0u64;
    while let Some(Some(Tick { index: k, at })) = progress.interrupt.or_raised(ticker.next()).await
    {
        if progress.interrupt.is_raised() {
            break;
        }
        if k.is_multiple_of(64) {
            progress.set_target_rate(schedule.rate_at(at));
        }
        let mut job = Some(Job {
            index: k,
            intended: clock + at,
        });
        while let Some(j) = job.take() {
            let Ok(w) = free_rx.try_recv() else {
                job = Some(j);
                break;
            };
            if let Some(Some(tx)) = senders.get(w as usize) {
                if let Err(e) = tx.try_send(j) {
                    job = Some(match e {
                        mpsc::error::TrySendError::Full(j)
                        | mpsc::error::TrySendError::Closed(j) => j,
                    });
                }
            } else {
                job = Some(j);
            }
        }
        if let Some(j) = job {
            let index = senders.len() as u32;
            let grown = if index < max_instances {
                let (tx, work, _) = add(index);
                let ok = pool.start(index, work).await;
                if ok {
                    let sent = tx.try_send(j).is_ok();
                    senders.push(Some(tx));
                    sent
                } else {
                    senders.push(None);
                    false
                }
            } else {
                false
            };
            if !grown {
                let now = Stamp::now();
                dropped += u64::from(pool.p.shared.series.measured(now));
                pool.p.shared.series.dropped(now);
                progress.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    // No more jobs: each instance ends after the one it runs.
    drop(senders);
    dropped
}
