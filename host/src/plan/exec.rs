//! Runs a plan: every case, `repeat` times, each time on a fresh cluster; steps in order;
//! faults between or during steps; checks at the end of each repeat.

use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use super::{Action, Case, ClusterShape, Fault, Plan, Step};
use crate::backend::embedded::{ClusterError, EmbeddedCluster, EmbeddedConfig, MemberEntries};
use crate::engine::{InstanceLimits, ScenarioEngine};
use crate::results::{millis, RunResult};
use crate::runner::{self, Progress, RunSpec};
use crate::scenario::LoadError;

/// How to run a plan.
#[derive(Debug, Clone)]
pub struct PlanOptions {
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
    pub before: Vec<MemberEntries>,
    pub after: Vec<MemberEntries>,
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
            "running" => Some(f.after.iter().filter(|m| m.running).count() as f64),
            _ => None,
        };
    }
    steps
        .iter()
        .filter_map(|s| s.run.as_ref())
        .find_map(|r| from_run(r, Some(label)))
}

fn owned_entries(rows: &[MemberEntries]) -> u64 {
    rows.iter()
        .filter(|m| m.running)
        .map(|m| m.owned_entries as u64)
        .sum()
}

/// Applies a fault to the embedded cluster and measures what it did to `map`.
fn embedded_fault(
    cluster: &EmbeddedCluster,
    fault: &Fault,
    map: &str,
) -> Result<FaultResult, ClusterError> {
    let before = cluster.distribution(map);
    let predicted_loss = match fault {
        Fault::Kill(m) => Some(cluster.predicted_loss(map, m)? as u64),
        _ => None,
    };
    match fault {
        Fault::Kill(m) => {
            cluster.crash(m)?;
        }
        Fault::Stop(m) => {
            for &member in m {
                cluster.leave(member)?;
            }
        }
        Fault::Start(m) => {
            for &member in m {
                cluster.start(member)?;
            }
        }
    }
    let after = cluster.distribution(map);
    Ok(FaultResult {
        kind: fault.kind(),
        members: fault.members().to_vec(),
        map: map.to_owned(),
        predicted_loss,
        observed_loss: owned_entries(&before).saturating_sub(owned_entries(&after)),
        before,
        after,
    })
}

fn embedded_cluster(shape: &ClusterShape, seed: u64) -> Result<EmbeddedCluster, ClusterError> {
    EmbeddedCluster::new(EmbeddedConfig {
        members: shape.members,
        partitions: 271,
        backup_count: shape.backup_count,
        async_backup_count: shape.async_backup_count,
        queue_capacity: shape.queue_capacity,
        max_network_yields: shape.network_yields,
        seed,
    })
}

async fn run_step(
    engine: &ScenarioEngine,
    cluster: &EmbeddedCluster,
    step: &Step,
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
                    match embedded_fault(cluster, fault, &step.map) {
                        Ok(f) => done.push(f),
                        Err(e) => {
                            errors.push(format!("{} {:?}: {e}", fault.kind(), fault.members()))
                        }
                    }
                }
                (done, errors)
            };
            let (run, (done, errors)) = tokio::join!(
                runner::run(engine, cluster, &spec, progress.clone()),
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
            match embedded_fault(cluster, fault, &step.map) {
                Ok(f) => result.faults.push(f),
                Err(e) => result.error = Some(e.to_string()),
            }
        }
        // The embedded model re-creates missing replicas at once: it is always safe.
        Action::WaitSafe => result.kind = "wait-safe",
        Action::Sleep(d) => {
            result.kind = "sleep";
            tokio::time::sleep(*d).await;
        }
    }
    result.elapsed_ms = millis(started.elapsed());
    Ok(result)
}

async fn run_case(
    engine: &ScenarioEngine,
    case: &Case,
    repeats: u32,
    options: &PlanOptions,
    progress: &Arc<Progress>,
) -> Result<CaseResult, LoadError> {
    let mut results = Vec::new();
    for index in 0..repeats {
        let seed = case
            .cluster
            .seed
            .unwrap_or(options.seed)
            .wrapping_add(index as u64);
        let cluster = embedded_cluster(&case.cluster, seed)
            .map_err(|e| LoadError::Engine(format!("case `{}`: {e}", case.name)))?;
        let mut steps = Vec::new();
        for step in &case.steps {
            steps.push(run_step(engine, &cluster, step, options, seed, progress).await?);
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
        results.push(RepeatResult {
            index,
            seed,
            steps,
            checks,
            passed,
        });
    }
    let spread = spread(&results);
    Ok(CaseResult {
        name: case.name.clone(),
        description: case.description.clone(),
        cluster: ClusterInfo {
            backend: "embedded",
            members: case.cluster.members,
            backup_count: case.cluster.backup_count,
            async_backup_count: case.cluster.async_backup_count,
            queue_capacity: case.cluster.queue_capacity,
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

/// Runs every case of `plan` on the embedded backend.
pub async fn run_embedded(
    plan: &Plan,
    options: &PlanOptions,
    progress: Arc<Progress>,
) -> Result<PlanResult, LoadError> {
    let started = Instant::now();
    let engine = ScenarioEngine::new()?;
    let repeats = options.repeat.unwrap_or(plan.repeat);
    let mut cases = Vec::new();
    for case in &plan.cases {
        cases.push(run_case(&engine, case, repeats, options, &progress).await?);
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
