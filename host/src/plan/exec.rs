//! Runs a plan: every case, `repeat` times, each time on a fresh cluster; steps in order;
//! faults between or during steps; checks at the end of each repeat.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::written::{Tracked, Written};
use super::{Action, Case, Fault, Plan, Step};
use crate::backend::embedded::{EmbeddedCluster, EmbeddedConfig};
use crate::backend::real::{RealCluster, RealConfig};
use crate::backend::{Backend, Value};
use crate::cluster::{
    ClusterControl, ClusterError, Distribution, EmbeddedMembers, LocalMembers, LocalMembersConfig,
    RemoteMembers,
};
use crate::engine::{InstanceLimits, ScenarioEngine};
use crate::format::error_chain;
use crate::history::HistoryWriter;
use crate::metrics;
use crate::progress::Progress;
use crate::results::{millis, RunResult};
use crate::runner::{self, RunSpec, ScenarioSpec};
use crate::scenario::LoadError;

/// Which clusters a plan's cases run on.
#[derive(Debug, Clone, PartialEq)]
pub enum PlanBackend {
    /// A fresh in-process cluster per case and repeat.
    Embedded,
    /// Fresh local Hazelcast members per case and repeat, started from the member jar on
    /// loopback and stopped at the end.
    Local,
    /// Members that already run (`--cluster`): every case and repeat on them, each with maps
    /// and queues of its own (a name prefix, configured with the case's backup counts and
    /// queue capacity); members a case killed are started again after it.
    Cluster(ClusterTarget),
}

impl PlanBackend {
    /// The name reports give it.
    pub fn name(&self) -> &'static str {
        match self {
            PlanBackend::Embedded => "embedded",
            PlanBackend::Local => "local",
            PlanBackend::Cluster(_) => "cluster",
        }
    }
}

/// Running members a plan is given.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterTarget {
    /// `host:port` of the members.
    pub addresses: Vec<String>,
    pub cluster_name: String,
    /// Longest a non-blocking operation may take, retries included.
    pub invocation_timeout: Duration,
    /// A member connection silent this long closes; no member for this long: the cluster
    /// is gone.
    pub heartbeat_timeout: Duration,
    /// The run directory of the members, when `hzlab cluster up` started them: faults and
    /// member statistics need it. Without it, steps that fault or observe members fail.
    pub run_dir: Option<PathBuf>,
}

/// How long a `wait-safe` step (and the settling after a fault on real members) may wait.
const SAFE_TIMEOUT: Duration = Duration::from_secs(120);

/// How to run a plan.
#[derive(Debug, Clone)]
pub struct PlanOptions {
    pub backend: PlanBackend,
    /// Overrides the plan's `repeat`.
    pub repeat: Option<u32>,
    pub limits: InstanceLimits,
    pub echo_logs: bool,
    /// Seed for cases that set none (each repeat adds its index).
    pub seed: u64,
    /// Where every operation of every run step goes (each event names its run step).
    pub history: Option<Arc<HistoryWriter>>,
    /// On real members: writes whose backups did not acknowledge fail as outcome unknown
    /// (see [`RealConfig::fail_on_indeterminate`]).
    pub fail_on_indeterminate: bool,
}

/// What a fault did to a map.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FaultResult {
    pub kind: &'static str,
    pub members: Vec<usize>,
    pub map: String,
    /// Entries whose every copy was on the crashed members just before the crash.
    pub predicted_loss: Option<u64>,
    /// Entries of the map that are gone after the fault.
    pub observed_loss: u64,
    pub before: Distribution,
    pub after: Distribution,
}

/// One step of one repeat.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepResult {
    pub label: String,
    pub line: usize,
    /// `run`, `kill`, `stop`, `start`, `wait-safe` or `sleep`.
    pub kind: &'static str,
    pub elapsed_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run: Option<RunResult>,
    /// Faults: the step's own, or those injected during a run step; one entry per map the
    /// fault was measured on (the maps the case's scenarios wrote, or the step's `map`),
    /// none for a map without entries.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<FaultResult>,
    /// Timed faults that were not injected, and why (the step's instances had ended).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_injected: Vec<String>,
    /// Why the step could not be carried out (a fault that could not be injected).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Faults put in force by the step (its own, or timed during a run step), with when: a
    /// partition's window runs from its event to the next heal, a kill's until the cluster
    /// was safe again.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fault_events: Vec<FaultEvent>,
}

/// A check of one repeat.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckResult {
    pub line: usize,
    pub that: String,
    pub ok: bool,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RepeatResult {
    pub index: u32,
    pub seed: u64,
    pub steps: Vec<StepResult>,
    pub checks: Vec<CheckResult>,
    pub passed: bool,
}

/// One value over the repeats of a case.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ValueSpread {
    pub label: String,
    pub name: String,
    pub values: Vec<f64>,
    pub mean: f64,
    pub min: f64,
    pub max: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseResult {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub cluster: ClusterInfo,
    pub repeats: Vec<RepeatResult>,
    /// Every numeric value checks can read, over the repeats.
    pub spread: Vec<ValueSpread>,
    pub passed: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterInfo {
    pub backend: &'static str,
    pub members: usize,
    /// Members on hosts of their own (network namespaces).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub hosts: bool,
    pub backup_count: u32,
    pub async_backup_count: u32,
    pub queue_capacity: Option<u32>,
}

/// The whole plan's result: what `report.json` holds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanResult {
    pub hzlab: &'static str,
    pub plan: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub repeat: u32,
    pub elapsed_ms: f64,
    pub cases: Vec<CaseResult>,
    /// Every check held and every instance ended ok.
    pub passed: bool,
    /// A fault could not be injected or the cluster was unreachable.
    pub infrastructure_failed: bool,
    /// The plan was interrupted (Ctrl-C, SIGTERM): the step under way was stopped, and no
    /// later step, repeat or case was run (see [`crate::interrupt`]).
    pub interrupted: bool,
}

/// The numeric value `name` recorded by the step (or run scenario) `label`, or its metric
/// `name` (see [`crate::metrics`]).
pub fn lookup(steps: &[StepResult], label: &str, name: &str) -> Option<f64> {
    let from_run = |r: &RunResult, scenario: Option<&str>| {
        let s = match scenario {
            Some(n) => r.scenarios.iter().find(|s| s.name == n)?,
            None => r.scenarios.first()?,
        };
        if metrics::is_metric_name(name) {
            return metrics::figure(s, name);
        }
        let number = |r: &crate::results::Recorded| {
            r.values
                .get(name)
                .and_then(|v| v.as_f64())
                .or_else(|| r.counters.get(name).map(|c| *c as f64))
        };
        number(&s.recorded)
            .or_else(|| s.totals.get(name).map(|c| *c as f64))
            // A single instance's own records stand for the scenario.
            .or_else(|| match s.instances.as_slice() {
                [only] => number(&only.recorded),
                _ => None,
            })
    };
    if let Some(step) = steps.iter().find(|s| s.label == label) {
        if let Some(r) = &step.run {
            return from_run(r, Some(label)).or_else(|| from_run(r, None));
        }
        // Over every map the fault was measured on.
        let f = step.faults.first()?;
        return match name {
            "predicted" => step
                .faults
                .iter()
                .map(|f| f.predicted_loss)
                .sum::<Option<u64>>()
                .map(|p| p as f64),
            "observed" => Some(step.faults.iter().map(|f| f.observed_loss).sum::<u64>() as f64),
            "running" => Some(f.after.members.iter().filter(|m| m.running).count() as f64),
            _ => None,
        };
    }
    steps
        .iter()
        .filter_map(|s| s.run.as_ref())
        .find_map(|r| from_run(r, Some(label)))
}

/// The maps a fault is measured on, with their keys where known: the step's `map`, or
/// every map the case's scenarios wrote so far.
fn fault_maps(named: Option<&str>, written: &Written) -> Vec<(String, Option<Vec<Value>>)> {
    match named {
        Some(m) => vec![(m.to_owned(), written.keys(m))],
        None => written
            .maps()
            .into_iter()
            .map(|m| {
                let keys = written.keys(&m);
                (m, keys)
            })
            .collect(),
    }
}

/// Applies a fault and measures what it did to each of `maps`: the distribution before, the
/// loss predicted from the replica placement just before a kill, and (once the cluster is
/// safe again) the distribution and the entries lost. A map without entries before the fault
/// is left out; so is a kill's prediction on real members for a map whose keys are unknown.
///
/// `prefix` is the run's structure-name prefix on the cluster (see [`RealConfig::namespace`]);
/// results name the maps without it.
async fn apply_fault<C: ClusterControl>(
    control: &mut C,
    fault: &Fault,
    maps: &[(String, Option<Vec<Value>>)],
    prefix: &str,
) -> Result<Vec<FaultResult>, ClusterError> {
    control.can_fault()?;
    if fault.is_network() {
        apply_network_fault(control, fault).await?;
        return Ok(Vec::new());
    }
    let mut measured = Vec::new();
    for (map, keys) in maps {
        let full = format!("{prefix}{map}");
        let before = control.distribution(&full).await?;
        if before.total_owned() == 0 {
            continue;
        }
        let predicted_loss = match (fault, keys) {
            (Fault::Kill(m), Some(keys)) => {
                Some(control.predicted_loss(&full, m, keys).await? as u64)
            }
            // The embedded model counts its own entries.
            (Fault::Kill(m), None) if control.kind() == "embedded" => {
                Some(control.predicted_loss(&full, m, &[]).await? as u64)
            }
            _ => None,
        };
        measured.push((map, full, before, predicted_loss));
    }
    match fault {
        Fault::Kill(m) => control.kill(m).await?,
        Fault::Stop(m) => {
            for &member in m {
                control.stop(member).await?;
            }
        }
        Fault::Start(m) => {
            for &member in m {
                control.start(member).await?;
            }
        }
        _ => unreachable!("network faults are applied above"),
    }
    control.wait_safe(SAFE_TIMEOUT).await?;
    let mut results = Vec::new();
    for (map, full, mut before, predicted_loss) in measured {
        let mut after = control.distribution(&full).await?;
        before.map = map.clone();
        after.map = map.clone();
        results.push(FaultResult {
            kind: fault.kind(),
            members: fault.members().to_vec(),
            map: map.clone(),
            predicted_loss,
            observed_loss: before.total_owned().saturating_sub(after.total_owned()),
            before,
            after,
        });
    }
    Ok(results)
}

/// Cuts or heals the network, or pauses or resumes members: at once, without waiting for
/// the cluster (what the cut does is what the run observes).
async fn apply_network_fault<C: ClusterControl>(
    control: &mut C,
    fault: &Fault,
) -> Result<(), ClusterError> {
    match fault {
        Fault::Cut { cut, .. } => control.cut_network(cut).await,
        Fault::Heal => control.heal_network().await,
        Fault::Pause(m) => control.pause(m).await,
        Fault::Resume(m) => control.resume(m).await,
        _ => unreachable!("not a network fault"),
    }
}

/// When a network fault or pause was put in force.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FaultEvent {
    /// `partition`, `one-way`, `isolate`, `ring`, `heal`, `pause`, `resume`, `kill`,
    /// `stop`, `start`.
    pub kind: &'static str,
    /// What it did, e.g. `partition [1] | [2, 3]`.
    pub what: String,
    /// Milliseconds from the start of the step's instances (the clock of `after-ms` and of
    /// the step's series) to when the fault was in force (a kill, stop or start: when it
    /// began); for a fault step, from the start of the step.
    pub at_ms: f64,
    /// A kill, stop or start: when the cluster was safe again after it (its migrations
    /// done). Network faults and pauses last until the next heal or resume instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until_ms: Option<f64>,
}

/// Backends whose instances a run step can bind to some members (`connect`).
trait Bind: Sized {
    /// A connection to `members` only (1-based; their `addresses` on real clusters).
    fn bind(
        &self,
        members: &[usize],
        addresses: Vec<String>,
    ) -> impl Future<Output = Result<Self, String>>;
    /// Closes a connection [`Bind::bind`] made.
    fn unbind(self) -> impl Future<Output = ()>;
}

impl Bind for RealCluster {
    async fn bind(&self, _members: &[usize], addresses: Vec<String>) -> Result<Self, String> {
        self.bound_to(addresses).await.map_err(|e| error_chain(&e))
    }

    async fn unbind(self) {
        self.shutdown().await
    }
}

impl Bind for EmbeddedCluster {
    async fn bind(&self, members: &[usize], _addresses: Vec<String>) -> Result<Self, String> {
        self.bound_to(members).map_err(|e| e.to_string())
    }

    async fn unbind(self) {}
}

/// What every step of a plan run shares.
struct PlanCtx<'a> {
    engine: &'a ScenarioEngine,
    options: &'a PlanOptions,
    progress: &'a Arc<Progress>,
    cases: usize,
}

/// One repeat of one case: its cluster, its seed, its structure-name prefix.
struct RepeatCtx<'a, B, C> {
    plan: &'a PlanCtx<'a>,
    backend: &'a B,
    control: &'a mut C,
    seed: u64,
    /// Prefixed to the maps faults observe (see [`RealConfig::namespace`]).
    prefix: &'a str,
    /// The case's index in the plan (from 0), for the progress display.
    case_index: usize,
    /// What the case's scenarios wrote so far: the maps faults are measured on.
    written: Arc<Written>,
}

/// What the timed faults of a run step came to.
#[derive(Default)]
struct Injected {
    /// The faults carried out, one entry per map measured.
    done: Vec<FaultResult>,
    /// Faults that could not be carried out, with why.
    errors: Vec<String>,
    /// Faults due after the step's instances ended, with when they ended.
    skipped: Vec<String>,
    /// Network faults and pauses, with when they were put in force.
    events: Vec<FaultEvent>,
}

/// How waiting for a timed fault's offset ended.
enum Due {
    /// The offset was reached with the instances still running.
    Now,
    /// The step's instances ended first, this long after they started.
    Ended(Duration),
    Interrupted,
}

/// Waits until the step's instances start (`after-ms` counts from then, not from compiling
/// and setup, whose time depends on the machine and its load); `None` when interrupted.
async fn instances_started(progress: &Progress, faults: &[(Duration, Fault)]) -> Option<Instant> {
    loop {
        let started = progress.instances_started.notified();
        tokio::pin!(started);
        started.as_mut().enable();
        if faults.is_empty() || progress.stage.load(std::sync::atomic::Ordering::Relaxed) >= 1 {
            return Some(Instant::now());
        }
        tokio::select! {
            _ = started => {}
            _ = progress.interrupt.raised() => return None,
        }
    }
}

/// Waits until `at`, unless the step's instances (started at `began`) end or an interrupt
/// comes first.
async fn fault_due(progress: &Progress, began: Instant, at: Instant) -> Due {
    let at = tokio::time::Instant::from_std(at);
    loop {
        let ended = progress.instances_ended.notified();
        tokio::pin!(ended);
        ended.as_mut().enable();
        // The runner sets stage 2 when the step's instances have ended.
        if progress.stage.load(std::sync::atomic::Ordering::Relaxed) == 2 {
            return Due::Ended(began.elapsed());
        }
        tokio::select! {
            _ = tokio::time::sleep_until(at) => return Due::Now,
            _ = ended => {}
            _ = progress.interrupt.raised() => return Due::Interrupted,
        }
    }
}

/// Injects a run step's timed faults at their offsets from when its instances start; a
/// fault due after they ended is reported as not injected, and an interrupt stops the
/// injection.
async fn inject_timed_faults<C: ClusterControl>(
    control: &mut C,
    faults: &[(Duration, Fault)],
    step: &Step,
    written: &Written,
    prefix: &str,
    progress: &Progress,
) -> Injected {
    let mut injected = Injected::default();
    let Some(began) = instances_started(progress, faults).await else {
        return injected;
    };
    let mut ended_at: Option<Duration> = None;
    for (after, fault) in faults {
        if ended_at.is_none() {
            match fault_due(progress, began, began + *after).await {
                Due::Now => {}
                Due::Ended(at) => ended_at = Some(at),
                Due::Interrupted => break,
            }
        }
        if let Some(ended) = ended_at {
            injected.skipped.push(format!(
                "{} {:?} at {} ms: not injected: the step's instances ended at {} ms, \
                 before it",
                fault.kind(),
                fault.members(),
                after.as_millis(),
                ended.as_millis()
            ));
            continue;
        }
        // Interrupted: a fault under way has its grace to be carried out; the wait
        // for the cluster to settle and its measurement are dropped.
        let maps = fault_maps(step.map.as_deref(), written);
        let applied = Instant::now();
        let apply = apply_fault(&mut *control, fault, &maps, prefix);
        match progress.interrupt.or_grace(apply).await {
            None => break,
            Some(Ok(f)) => {
                injected.events.push(fault_event(fault, began, applied));
                injected.done.extend(f)
            }
            Some(Err(e)) => injected.errors.push(format!("{}: {e}", fault.describe())),
        }
    }
    injected
}

/// The event of a fault applied from `applied` until now, timed from `since`: a network
/// fault or pause from now on; a kill, stop or start from `applied` until now (the cluster
/// was safe again).
fn fault_event(fault: &Fault, since: Instant, applied: Instant) -> FaultEvent {
    let now = millis(since.elapsed());
    if fault.is_network() {
        FaultEvent {
            kind: fault.kind(),
            what: fault.describe(),
            at_ms: now,
            until_ms: None,
        }
    } else {
        FaultEvent {
            kind: fault.kind(),
            what: fault.describe(),
            at_ms: millis(applied.saturating_duration_since(since)),
            until_ms: Some(now),
        }
    }
}

/// Instances bound to some members (a run step's `connect`) get a connection of their own
/// to them; `None` when the step binds none.
async fn bind_step<B: Backend + Clone + Bind, C: ClusterControl>(
    ctx: &mut RepeatCtx<'_, B, C>,
    connect: Option<&[usize]>,
) -> Result<Option<B>, String> {
    let Some(members) = connect else {
        return Ok(None);
    };
    let statuses = ctx.control.members();
    let addresses: Vec<String> = members
        .iter()
        .filter_map(|m| statuses.get(m - 1).and_then(|s| s.address.clone()))
        .collect();
    ctx.backend
        .bind(members, addresses)
        .await
        .map(Some)
        .map_err(|e| format!("connect {members:?}: {e}"))
}

/// Runs one step; `run_label` names the case and repeat in the history.
async fn run_step<B: Backend + Clone + Bind, C: ClusterControl>(
    ctx: &mut RepeatCtx<'_, B, C>,
    step: &Step,
    run_label: &str,
) -> Result<StepResult, LoadError> {
    let started = Instant::now();
    let mut result = StepResult {
        label: step.label.clone(),
        line: step.line,
        kind: "run",
        elapsed_ms: 0.0,
        run: None,
        faults: Vec::new(),
        not_injected: Vec::new(),
        error: None,
        fault_events: Vec::new(),
    };
    let interrupt = &ctx.plan.progress.interrupt;
    match &step.action {
        Action::Run {
            scenarios,
            args,
            faults,
            connect,
        } => {
            let run = RunAction {
                scenarios,
                args,
                faults,
                connect: connect.as_deref(),
            };
            run_scenarios(ctx, step, &run, run_label, &mut result).await?
        }
        Action::Fault(fault) => {
            result.kind = fault.kind();
            let maps = fault_maps(step.map.as_deref(), &ctx.written);
            let applied = Instant::now();
            let apply = apply_fault(ctx.control, fault, &maps, ctx.prefix);
            match interrupt.or_grace(apply).await {
                None => {}
                Some(Ok(f)) => {
                    result.faults = f;
                    result
                        .fault_events
                        .push(fault_event(fault, started, applied));
                }
                Some(Err(e)) => result.error = Some(e.to_string()),
            }
        }
        Action::WaitSafe => {
            result.kind = "wait-safe";
            let wait = ctx.control.wait_safe(SAFE_TIMEOUT);
            if let Some(Err(e)) = interrupt.or_raised(wait).await {
                result.error = Some(e.to_string());
            }
        }
        Action::Sleep(d) => {
            result.kind = "sleep";
            let _ = interrupt.or_raised(tokio::time::sleep(*d)).await;
        }
    }
    result.elapsed_ms = millis(started.elapsed());
    Ok(result)
}

/// The parts of a run step ([`Action::Run`]).
struct RunAction<'a> {
    scenarios: &'a [ScenarioSpec],
    args: &'a [(String, String)],
    faults: &'a [(Duration, Fault)],
    connect: Option<&'a [usize]>,
}

/// Carries out a run step: its scenarios' instances, with its timed faults injected beside
/// them; fills `result` with the run and the faults.
async fn run_scenarios<B: Backend + Clone + Bind, C: ClusterControl>(
    ctx: &mut RepeatCtx<'_, B, C>,
    step: &Step,
    action: &RunAction<'_>,
    run_label: &str,
    result: &mut StepResult,
) -> Result<(), LoadError> {
    let (options, progress) = (ctx.plan.options, ctx.plan.progress);
    let bound = match bind_step(ctx, action.connect).await {
        Ok(b) => b,
        Err(e) => {
            result.error = Some(e);
            return Ok(());
        }
    };
    let spec = RunSpec {
        steps: vec![action.scenarios.to_vec()],
        args: action.args.to_vec(),
        limits: options.limits,
        seed: ctx.seed,
        echo_logs: options.echo_logs,
    };
    let tracked = Tracked {
        inner: bound.clone().unwrap_or_else(|| ctx.backend.clone()),
        written: ctx.written.clone(),
    };
    // The runner sets stage 2 when the step's instances have ended.
    progress
        .stage
        .store(0, std::sync::atomic::Ordering::Relaxed);
    let injector = inject_timed_faults(
        &mut *ctx.control,
        action.faults,
        step,
        &ctx.written,
        ctx.prefix,
        progress,
    );
    let history = options.history.clone();
    if let Some(h) = &history {
        h.set_run(Some(format!("{run_label} / {}", step.label)));
    }
    let run = runner::run_with_history(ctx.plan.engine, &tracked, &spec, progress.clone(), history);
    let (run, mut injected) = tokio::join!(run, injector);
    if let Some(b) = bound {
        b.unbind().await;
    }
    result.run = Some(run?);
    result.faults = injected.done;
    result.not_injected = injected.skipped;
    result.fault_events = injected.events;
    if let Some(gone) = ctx.backend.gone() {
        injected.errors.push(gone);
    }
    if !injected.errors.is_empty() {
        result.error = Some(injected.errors.join("; "));
    }
    Ok(())
}

async fn run_repeat<B: Backend + Clone + Bind, C: ClusterControl>(
    mut ctx: RepeatCtx<'_, B, C>,
    case: &Case,
    index: u32,
) -> Result<RepeatResult, LoadError> {
    let seed = ctx.seed;
    let mut steps = Vec::new();
    for step in &case.steps {
        if ctx.plan.progress.interrupt.is_raised() {
            break;
        }
        let run_label = format!("{} #{}", case.name, index + 1);
        ctx.plan.progress.set_label(format!(
            "case {}/{} {run_label} · step {}/{} {}",
            ctx.case_index + 1,
            ctx.plan.cases,
            steps.len() + 1,
            case.steps.len(),
            step.label
        ));
        steps.push(run_step(&mut ctx, step, &run_label).await?);
    }
    // An interrupted repeat's checks would judge steps that did not run to their end.
    let interrupted = ctx.plan.progress.interrupt.is_raised();
    let checks: Vec<CheckResult> = case
        .checks
        .iter()
        .filter(|_| !interrupted)
        .map(|c| {
            let (ok, detail) = match c.expr.evaluate(|l, n| lookup(&steps, l, n)) {
                Ok(r) => r,
                Err(e) => (false, e),
            };
            CheckResult {
                line: c.line,
                that: c.expr.source.clone(),
                ok,
                detail,
            }
        })
        .collect();
    // A timed fault that was not injected did not test what the case says: not passed.
    let passed = !interrupted
        && checks.iter().all(|c| c.ok)
        && steps.iter().all(|s| {
            s.error.is_none()
                && s.not_injected.is_empty()
                && s.run.as_ref().is_none_or(|r| r.passed)
        });
    Ok(RepeatResult {
        index,
        seed,
        steps,
        checks,
        passed,
    })
}

/// Why a case's cluster could not be had.
fn infrastructure(case: &Case, index: u32, seed: u64, error: String) -> RepeatResult {
    RepeatResult {
        index,
        seed,
        steps: vec![StepResult {
            label: "cluster".into(),
            line: 0,
            kind: "cluster",
            elapsed_ms: 0.0,
            run: None,
            faults: Vec::new(),
            not_injected: Vec::new(),
            fault_events: Vec::new(),
            error: Some(format!("case `{}`: {error}", case.name)),
        }],
        checks: Vec::new(),
        passed: false,
    }
}

async fn run_case(
    ctx: &PlanCtx<'_>,
    case: &Case,
    case_index: usize,
    repeats: u32,
    run_tag: &str,
) -> Result<CaseResult, LoadError> {
    let shape = &case.cluster;
    let options = ctx.options;
    let mut results = Vec::new();
    for index in 0..repeats {
        if ctx.progress.interrupt.is_raised() {
            break;
        }
        let seed = shape
            .seed
            .unwrap_or(options.seed)
            .wrapping_add(index as u64);
        let repeat = match &options.backend {
            PlanBackend::Embedded => repeat_on_embedded(ctx, case, case_index, index, seed).await?,
            PlanBackend::Local if case.needs_hosts().is_some() => {
                let why = case.needs_hosts().unwrap_or_default();
                infrastructure(case, index, seed, why)
            }
            PlanBackend::Local => repeat_on_local(ctx, case, case_index, index, seed).await?,
            PlanBackend::Cluster(target) => {
                let prefix = format!("{run_tag}.c{case_index}r{index}.");
                repeat_on_cluster(ctx, target, case, case_index, index, seed, &prefix).await?
            }
        };
        results.push(repeat);
    }
    let spread = spread(&results);
    Ok(CaseResult {
        name: case.name.clone(),
        description: case.description.clone(),
        cluster: ClusterInfo {
            backend: options.backend.name(),
            members: shape.members,
            hosts: shape.hosts,
            backup_count: shape.backup_count,
            async_backup_count: shape.async_backup_count,
            queue_capacity: shape.queue_capacity,
        },
        passed: results.iter().all(|r| r.passed),
        repeats: results,
        spread,
    })
}

/// One repeat of `case` on a fresh embedded cluster.
async fn repeat_on_embedded(
    ctx: &PlanCtx<'_>,
    case: &Case,
    case_index: usize,
    index: u32,
    seed: u64,
) -> Result<RepeatResult, LoadError> {
    let shape = &case.cluster;
    let mut config = EmbeddedConfig {
        members: shape.members,
        partitions: 271,
        backup_count: shape.backup_count,
        async_backup_count: shape.async_backup_count,
        queue_capacity: shape.queue_capacity,
        max_network_yields: shape.network_yields,
        seed,
        ..EmbeddedConfig::default()
    };
    let made = shape
        .split_brain
        .apply_to_embedded(&mut config)
        .map_err(|e| e.to_string())
        .and_then(|()| EmbeddedCluster::new(config).map_err(|e| e.to_string()));
    match made {
        Err(e) => Ok(infrastructure(case, index, seed, e)),
        Ok(cluster) => {
            let mut control = EmbeddedMembers::from_cluster(cluster.clone());
            let repeat = RepeatCtx {
                plan: ctx,
                backend: &cluster,
                control: &mut control,
                seed,
                prefix: "",
                case_index,
                written: Arc::default(),
            };
            run_repeat(repeat, case, index).await
        }
    }
}

/// One repeat of `case` on fresh local members (on hosts of their own with `hosts = true`),
/// stopped at the end.
async fn repeat_on_local(
    ctx: &PlanCtx<'_>,
    case: &Case,
    case_index: usize,
    index: u32,
    seed: u64,
) -> Result<RepeatResult, LoadError> {
    let (shape, options) = (&case.cluster, ctx.options);
    let mut config = LocalMembersConfig::new(
        format!("hzlab-plan-{}-{case_index}-{index}", std::process::id()),
        shape.members,
    );
    config.backup_count = shape.backup_count;
    config.async_backup_count = shape.async_backup_count;
    config.queue_capacity = shape.queue_capacity;
    config.hosts = shape.hosts;
    config.split_brain = shape.split_brain.clone();
    match LocalMembers::start(config).await {
        Err(e) => Ok(infrastructure(case, index, seed, error_chain(&e))),
        Ok(mut members) => {
            let mut config = RealConfig::new(members.addresses(), members.cluster_name());
            config.fail_on_indeterminate = options.fail_on_indeterminate;
            let connected = RealCluster::connect(config).await;
            let repeat = match connected {
                Err(e) => infrastructure(case, index, seed, error_chain(&e)),
                Ok(cluster) => {
                    let repeat = RepeatCtx {
                        plan: ctx,
                        backend: &cluster,
                        control: &mut members,
                        seed,
                        prefix: "",
                        case_index,
                        written: Arc::default(),
                    };
                    let r = run_repeat(repeat, case, index).await;
                    cluster.shutdown().await;
                    r?
                }
            };
            members.shutdown();
            Ok(repeat)
        }
    }
}

/// Whether a case faults or observes members (which needs members hzlab manages, as many as
/// the case says).
fn touches_members(case: &Case) -> bool {
    case.steps.iter().any(|s| match &s.action {
        Action::Run { faults, .. } => !faults.is_empty(),
        Action::Fault(_) | Action::WaitSafe => true,
        Action::Sleep(_) => false,
    })
}

/// Starts every member that does not run and waits until the cluster is safe: how a case on
/// given members starts, and how it leaves them.
async fn restore_members(members: &mut LocalMembers) -> Result<(), ClusterError> {
    let stopped: Vec<usize> = members
        .members()
        .iter()
        .filter(|m| !m.running)
        .map(|m| m.member)
        .collect();
    for m in stopped {
        members.start(m).await?;
    }
    members.wait_safe(SAFE_TIMEOUT).await
}

/// One repeat of `case` on running members: a fresh client whose maps and queues carry
/// `prefix` and the case's configuration; faults through the members' run directory when
/// hzlab started them. The case's structures are destroyed at the end and killed members
/// started again.
async fn repeat_on_cluster(
    ctx: &PlanCtx<'_>,
    target: &ClusterTarget,
    case: &Case,
    case_index: usize,
    index: u32,
    seed: u64,
    prefix: &str,
) -> Result<RepeatResult, LoadError> {
    let fail = |e: String| Ok(infrastructure(case, index, seed, e));
    let mut attached = match take_over_members(target, case).await {
        Ok(m) => m,
        Err(e) => return fail(e),
    };
    let cluster = match connect_case_namespace(ctx, target, case, prefix).await {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    let result = match attached.as_mut() {
        Some(members) => {
            let repeat = RepeatCtx {
                plan: ctx,
                backend: &cluster,
                control: members,
                seed,
                prefix,
                case_index,
                written: Arc::default(),
            };
            run_repeat(repeat, case, index).await
        }
        None => {
            let label = format!(
                "cluster `{}` at {}",
                target.cluster_name,
                target.addresses.join(",")
            );
            let mut control = RemoteMembers::new(cluster.clone(), label);
            let repeat = RepeatCtx {
                plan: ctx,
                backend: &cluster,
                control: &mut control,
                seed,
                prefix,
                case_index,
                written: Arc::default(),
            };
            run_repeat(repeat, case, index).await
        }
    };
    let cleanup = release_cluster(attached, &cluster, prefix).await;
    let mut repeat = result?;
    if !cleanup.is_empty() {
        repeat.steps.push(StepResult {
            label: "restore".into(),
            line: 0,
            kind: "restore",
            elapsed_ms: 0.0,
            run: None,
            faults: Vec::new(),
            not_injected: Vec::new(),
            fault_events: Vec::new(),
            error: Some(cleanup.join("; ")),
        });
        repeat.passed = false;
    }
    Ok(repeat)
}

/// The members behind `target` when hzlab started them (`hzlab cluster up`): taken over
/// through their run directory, checked against the case's size when it faults members, and
/// all started and safe. `None` for members hzlab did not start.
async fn take_over_members(
    target: &ClusterTarget,
    case: &Case,
) -> Result<Option<LocalMembers>, String> {
    let Some(dir) = &target.run_dir else {
        return Ok(None);
    };
    let mut members = LocalMembers::attach(dir).map_err(|e| {
        format!(
            "cannot take over the members in {}: {}",
            dir.display(),
            error_chain(&e)
        )
    })?;
    let have = members.members().len();
    if touches_members(case) && have != case.cluster.members {
        return Err(format!(
            "the case faults members of a {}-member cluster; the cluster at {} has {have}",
            case.cluster.members,
            target.addresses.join(",")
        ));
    }
    restore_members(&mut members)
        .await
        .map_err(|e| format!("the members are not ready: {}", error_chain(&e)))?;
    Ok(Some(members))
}

/// A client of `target` whose maps and queues carry `prefix`, configured with the case's
/// backup counts and queue capacity.
async fn connect_case_namespace(
    ctx: &PlanCtx<'_>,
    target: &ClusterTarget,
    case: &Case,
    prefix: &str,
) -> Result<RealCluster, String> {
    let shape = &case.cluster;
    let mut config = RealConfig::new(target.addresses.clone(), target.cluster_name.clone());
    config.invocation_timeout = target.invocation_timeout;
    config.heartbeat_timeout = target.heartbeat_timeout;
    config.namespace = prefix.to_owned();
    config.fail_on_indeterminate = ctx.options.fail_on_indeterminate;
    let cluster = RealCluster::connect(config)
        .await
        .map_err(|e| error_chain(&e))?;
    if let Err(e) = cluster
        .configure_namespace(
            shape.backup_count,
            shape.async_backup_count,
            shape.queue_capacity,
        )
        .await
    {
        cluster.shutdown().await;
        return Err(format!(
            "cannot configure the case's maps and queues ({prefix}*): {}",
            e.chain()
        ));
    }
    Ok(cluster)
}

/// After a repeat on given members: killed members started again, the run directory's state
/// recorded, the case's structures destroyed, the client closed. What failed, if anything.
async fn release_cluster(
    attached: Option<LocalMembers>,
    cluster: &RealCluster,
    prefix: &str,
) -> Vec<String> {
    let mut cleanup = Vec::new();
    if let Some(mut members) = attached {
        if let Err(e) = restore_members(&mut members).await {
            cleanup.push(format!(
                "cannot start the killed members again: {}",
                error_chain(&e)
            ));
        }
        if let Err(e) = members.detach() {
            cleanup.push(format!(
                "cannot record the members' state: {}",
                error_chain(&e)
            ));
        }
    }
    if let Err(e) = cluster.destroy_used().await {
        cleanup.push(format!(
            "cannot destroy the case's maps and queues ({prefix}*): {}",
            e.chain()
        ));
    }
    cluster.shutdown().await;
    cleanup
}

/// Every numeric scenario-level value and fault figure, over the repeats.
fn spread(repeats: &[RepeatResult]) -> Vec<ValueSpread> {
    let mut names: Vec<(String, String)> = Vec::new();
    if let Some(first) = repeats.first() {
        for step in &first.steps {
            if let Some(run) = &step.run {
                for s in &run.scenarios {
                    let keys = s
                        .recorded
                        .values
                        .iter()
                        .filter(|(_, v)| v.is_number())
                        .map(|(k, _)| k)
                        .chain(s.totals.keys());
                    for k in keys {
                        let pair = (s.name.clone(), k.clone());
                        if !names.contains(&pair) {
                            names.push(pair);
                        }
                    }
                }
            } else if !step.faults.is_empty() {
                for k in ["predicted", "observed"] {
                    names.push((step.label.clone(), k.to_owned()));
                }
            }
        }
    }
    names
        .into_iter()
        .filter_map(|(label, name)| {
            let values: Vec<f64> = repeats
                .iter()
                .filter_map(|r| lookup(&r.steps, &label, &name))
                .collect();
            let s = crate::results::Spread::of(&values)?;
            Some(ValueSpread {
                label,
                name,
                values,
                mean: s.mean,
                min: s.min,
                max: s.max,
            })
        })
        .collect()
}

/// Runs every case of `plan`, each repeat on a fresh cluster of `options.backend`.
pub async fn run_plan(
    plan: &Plan,
    options: &PlanOptions,
    progress: Arc<Progress>,
) -> Result<PlanResult, LoadError> {
    let started = Instant::now();
    let engine = ScenarioEngine::new()?;
    let repeats = options.repeat.unwrap_or(plan.repeat);
    let ctx = PlanCtx {
        engine: &engine,
        options,
        progress: &progress,
        cases: plan.cases.len(),
    };
    // Names this run's structures on shared clusters apart from other runs'.
    let run_tag = format!(
        "hzlab.{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis())
            ^ (std::process::id() as u128) << 48
    );
    let mut cases = Vec::new();
    for (i, case) in plan.cases.iter().enumerate() {
        if progress.interrupt.is_raised() {
            break;
        }
        cases.push(run_case(&ctx, case, i, repeats, &run_tag).await?);
    }
    let interrupted = progress.interrupt.is_raised();
    let infrastructure_failed = cases
        .iter()
        .flat_map(|c| &c.repeats)
        .flat_map(|r| &r.steps)
        .any(|s| s.error.is_some());
    Ok(PlanResult {
        hzlab: env!("CARGO_PKG_VERSION"),
        plan: plan.path.display().to_string(),
        name: plan.name.clone(),
        description: plan.description.clone(),
        repeat: repeats,
        elapsed_ms: millis(started.elapsed()),
        passed: !interrupted && cases.iter().all(|c| c.passed),
        infrastructure_failed,
        interrupted,
        cases,
    })
}
