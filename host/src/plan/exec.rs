//! Runs a plan: every case, `repeat` times, each time on a fresh cluster; steps in order;
//! faults between or during steps; checks at the end of each repeat.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::{Action, Case, Fault, Plan, Step};
use crate::backend::embedded::{EmbeddedCluster, EmbeddedConfig};
use crate::backend::real::{RealCluster, RealConfig};
use crate::backend::{Backend, Value};
use crate::cluster::distribution::integer_keys;
use crate::cluster::{
    ClusterControl, ClusterError, Distribution, EmbeddedMembers, LocalMembers, LocalMembersConfig,
};
use crate::engine::{InstanceLimits, ScenarioEngine};
use crate::results::{millis, RunResult};
use crate::runner::{self, Progress, RunSpec};
use crate::scenario::LoadError;

/// Which clusters a plan's cases run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanBackend {
    /// A fresh in-process cluster per case and repeat.
    Embedded,
    /// Fresh local Hazelcast members per case and repeat, started from the member jar on
    /// loopback and stopped at the end.
    Local,
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
    /// Faults: the step's own, or those injected during a run step.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<FaultResult>,
    /// Why the step could not be carried out (a fault that could not be injected).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
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
}

/// The numeric value `name` recorded by the step (or run scenario) `label`.
pub fn lookup(steps: &[StepResult], label: &str, name: &str) -> Option<f64> {
    let from_run = |r: &RunResult, scenario: Option<&str>| {
        let s = match scenario {
            Some(n) => r.scenarios.iter().find(|s| s.name == n)?,
            None => r.scenarios.first()?,
        };
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
        let f = step.faults.first()?;
        return match name {
            "predicted" => f.predicted_loss.map(|p| p as f64),
            "observed" => Some(f.observed_loss as f64),
            "running" => Some(f.after.members.iter().filter(|m| m.running).count() as f64),
            _ => None,
        };
    }
    steps
        .iter()
        .filter_map(|s| s.run.as_ref())
        .find_map(|r| from_run(r, Some(label)))
}

/// Applies a fault and measures what it did to `map`: the distribution before, the loss
/// predicted from the replica placement just before a kill, and (once the cluster is safe
/// again) the distribution and the entries lost.
async fn apply_fault<C: ClusterControl>(
    control: &mut C,
    fault: &Fault,
    map: &str,
    keys: &[Value],
) -> Result<FaultResult, ClusterError> {
    let before = control.distribution(map).await?;
    let predicted_loss = match fault {
        Fault::Kill(m) => Some(control.predicted_loss(map, m, keys).await? as u64),
        _ => None,
    };
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
    }
    control.wait_safe(SAFE_TIMEOUT).await?;
    let after = control.distribution(map).await?;
    Ok(FaultResult {
        kind: fault.kind(),
        members: fault.members().to_vec(),
        map: map.to_owned(),
        predicted_loss,
        observed_loss: before.total_owned().saturating_sub(after.total_owned()),
        before,
        after,
    })
}

/// The keys a kill's loss is predicted over on real members: the Integer keys 0..keys-1 of
/// the `keys` argument (default 1000) of the latest run step, as `populate` writes them.
fn plan_keys(args: &[(String, String)]) -> Vec<Value> {
    let n = args
        .iter()
        .rev()
        .find(|(k, _)| k == "keys")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(1000);
    integer_keys(n)
}

#[allow(clippy::too_many_arguments)]
async fn run_step<B: Backend, C: ClusterControl>(
    engine: &ScenarioEngine,
    backend: &B,
    control: &mut C,
    step: &Step,
    keys: &[Value],
    options: &PlanOptions,
    seed: u64,
    progress: &Arc<Progress>,
) -> Result<StepResult, LoadError> {
    let started = Instant::now();
    let mut result = StepResult {
        label: step.label.clone(),
        line: step.line,
        kind: "run",
        elapsed_ms: 0.0,
        run: None,
        faults: Vec::new(),
        error: None,
    };
    match &step.action {
        Action::Run {
            scenarios,
            args,
            faults,
        } => {
            let spec = RunSpec {
                steps: vec![scenarios.clone()],
                args: args.clone(),
                limits: options.limits,
                seed,
                echo_logs: options.echo_logs,
            };
            let injector = async {
                let mut done = Vec::new();
                let mut errors = Vec::new();
                for (after, fault) in faults {
                    tokio::time::sleep_until(tokio::time::Instant::from_std(started + *after))
                        .await;
                    match apply_fault(control, fault, &step.map, keys).await {
                        Ok(f) => done.push(f),
                        Err(e) => {
                            errors.push(format!("{} {:?}: {e}", fault.kind(), fault.members()))
                        }
                    }
                }
                (done, errors)
            };
            let (run, (done, errors)) = tokio::join!(
                runner::run(engine, backend, &spec, progress.clone()),
                injector
            );
            result.run = Some(run?);
            result.faults = done;
            if !errors.is_empty() {
                result.error = Some(errors.join("; "));
            }
        }
        Action::Fault(fault) => {
            result.kind = fault.kind();
            match apply_fault(control, fault, &step.map, keys).await {
                Ok(f) => result.faults.push(f),
                Err(e) => result.error = Some(e.to_string()),
            }
        }
        Action::WaitSafe => {
            result.kind = "wait-safe";
            if let Err(e) = control.wait_safe(SAFE_TIMEOUT).await {
                result.error = Some(e.to_string());
            }
        }
        Action::Sleep(d) => {
            result.kind = "sleep";
            tokio::time::sleep(*d).await;
        }
    }
    result.elapsed_ms = millis(started.elapsed());
    Ok(result)
}

#[allow(clippy::too_many_arguments)]
async fn run_repeat<B: Backend, C: ClusterControl>(
    engine: &ScenarioEngine,
    backend: &B,
    control: &mut C,
    case: &Case,
    index: u32,
    seed: u64,
    options: &PlanOptions,
    progress: &Arc<Progress>,
) -> Result<RepeatResult, LoadError> {
    let mut steps = Vec::new();
    // A kill's loss is predicted over the keys the latest run step wrote.
    let mut keys = plan_keys(&case.args);
    for step in &case.steps {
        if let Action::Run { args, .. } = &step.action {
            keys = plan_keys(args);
        }
        steps.push(
            run_step(
                engine, backend, control, step, &keys, options, seed, progress,
            )
            .await?,
        );
    }
    let checks: Vec<CheckResult> = case
        .checks
        .iter()
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
    let passed = checks.iter().all(|c| c.ok)
        && steps
            .iter()
            .all(|s| s.error.is_none() && s.run.as_ref().is_none_or(|r| r.passed));
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
            error: Some(format!("case `{}`: {error}", case.name)),
        }],
        checks: Vec::new(),
        passed: false,
    }
}

async fn run_case(
    engine: &ScenarioEngine,
    case: &Case,
    case_index: usize,
    repeats: u32,
    options: &PlanOptions,
    progress: &Arc<Progress>,
) -> Result<CaseResult, LoadError> {
    let shape = &case.cluster;
    let mut results = Vec::new();
    for index in 0..repeats {
        let seed = shape
            .seed
            .unwrap_or(options.seed)
            .wrapping_add(index as u64);
        let repeat = match options.backend {
            PlanBackend::Embedded => {
                let config = EmbeddedConfig {
                    members: shape.members,
                    partitions: 271,
                    backup_count: shape.backup_count,
                    async_backup_count: shape.async_backup_count,
                    queue_capacity: shape.queue_capacity,
                    max_network_yields: shape.network_yields,
                    seed,
                };
                match EmbeddedCluster::new(config) {
                    Err(e) => infrastructure(case, index, seed, e.to_string()),
                    Ok(cluster) => {
                        let mut control = EmbeddedMembers::from_cluster(cluster.clone());
                        run_repeat(
                            engine,
                            &cluster,
                            &mut control,
                            case,
                            index,
                            seed,
                            options,
                            progress,
                        )
                        .await?
                    }
                }
            }
            PlanBackend::Local => {
                let mut config = LocalMembersConfig::new(
                    format!("hzlab-plan-{}-{case_index}-{index}", std::process::id()),
                    shape.members,
                );
                config.backup_count = shape.backup_count;
                config.async_backup_count = shape.async_backup_count;
                config.queue_capacity = shape.queue_capacity;
                match LocalMembers::start(config).await {
                    Err(e) => infrastructure(case, index, seed, e.to_string()),
                    Ok(mut members) => {
                        let connected = RealCluster::connect(RealConfig::new(
                            members.addresses(),
                            members.cluster_name(),
                        ))
                        .await;
                        let repeat = match connected {
                            Err(e) => infrastructure(case, index, seed, e.to_string()),
                            Ok(cluster) => {
                                let r = run_repeat(
                                    engine,
                                    &cluster,
                                    &mut members,
                                    case,
                                    index,
                                    seed,
                                    options,
                                    progress,
                                )
                                .await;
                                cluster.shutdown().await;
                                r?
                            }
                        };
                        members.shutdown();
                        repeat
                    }
                }
            }
        };
        results.push(repeat);
    }
    let spread = spread(&results);
    Ok(CaseResult {
        name: case.name.clone(),
        description: case.description.clone(),
        cluster: ClusterInfo {
            backend: match options.backend {
                PlanBackend::Embedded => "embedded",
                PlanBackend::Local => "local",
            },
            members: shape.members,
            backup_count: shape.backup_count,
            async_backup_count: shape.async_backup_count,
            queue_capacity: shape.queue_capacity,
        },
        passed: results.iter().all(|r| r.passed),
        repeats: results,
        spread,
    })
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
            if values.is_empty() {
                return None;
            }
            let mean = values.iter().sum::<f64>() / values.len() as f64;
            let min = values.iter().copied().fold(f64::INFINITY, f64::min);
            let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            Some(ValueSpread {
                label,
                name,
                values,
                mean,
                min,
                max,
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
    let mut cases = Vec::new();
    for (i, case) in plan.cases.iter().enumerate() {
        cases.push(run_case(&engine, case, i, repeats, options, &progress).await?);
    }
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
        passed: cases.iter().all(|c| c.passed),
        infrastructure_failed,
        cases,
    })
}
