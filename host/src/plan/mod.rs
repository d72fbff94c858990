//! Experiment plans: shareable TOML files that say which cluster, which scenarios with how
//! many instances and which arguments, which faults when, which checks must hold, and how many
//! repeats.
//!
//! [`Plan::load`] parses and validates a plan completely (scenarios resolved and compiled
//! later by the runner) so that `hzlab check` finds every mistake without running anything.

pub mod check;
pub mod exec;
pub mod model;
pub mod summary;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::runner::ScenarioSpec;
use crate::scenario::{LoadError, ScenarioSource};
use check::CheckExpr;
use model::{ArgValue, ClusterSection, PlanFile, StepSection};

/// Why a plan cannot be used. Every variant names the file; most name the line.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    // The cause is in the message (and not also a `source`, which would print it twice).
    #[error("cannot read plan {file}: {cause}")]
    Read {
        file: PathBuf,
        cause: std::io::Error,
    },
    #[error("{file}: {message}")]
    Syntax { file: PathBuf, message: String },
    #[error("{file}, line {line}: {message}")]
    Invalid {
        file: PathBuf,
        line: usize,
        message: String,
    },
    #[error("{file}, line {line}: {source}")]
    Scenario {
        file: PathBuf,
        line: usize,
        source: LoadError,
    },
}

/// A cluster's shape, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterShape {
    pub members: usize,
    pub backup_count: u32,
    pub async_backup_count: u32,
    pub queue_capacity: Option<u32>,
    pub seed: Option<u64>,
    pub network_yields: u32,
}

impl ClusterShape {
    fn resolve(case: &ClusterSection, plan: &ClusterSection) -> ClusterShape {
        ClusterShape {
            members: case.members.or(plan.members).unwrap_or(3),
            backup_count: case.backup_count.or(plan.backup_count).unwrap_or(1),
            async_backup_count: case
                .async_backup_count
                .or(plan.async_backup_count)
                .unwrap_or(0),
            queue_capacity: case.queue_capacity.or(plan.queue_capacity),
            seed: case.seed.or(plan.seed),
            network_yields: case.network_yields.or(plan.network_yields).unwrap_or(2),
        }
    }
}

/// A fault on members (1-based numbers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Crash at once, like `kill -9`.
    Kill(Vec<usize>),
    /// Graceful stops, one after the other.
    Stop(Vec<usize>),
    /// Start stopped members.
    Start(Vec<usize>),
}

impl Fault {
    pub fn kind(&self) -> &'static str {
        match self {
            Fault::Kill(_) => "kill",
            Fault::Stop(_) => "stop",
            Fault::Start(_) => "start",
        }
    }

    pub fn members(&self) -> &[usize] {
        match self {
            Fault::Kill(m) | Fault::Stop(m) | Fault::Start(m) => m,
        }
    }
}

/// What a step does.
#[derive(Debug, Clone)]
pub enum Action {
    /// Runs scenarios together, with faults at offsets from the step's start.
    Run {
        scenarios: Vec<ScenarioSpec>,
        args: Vec<(String, String)>,
        faults: Vec<(Duration, Fault)>,
    },
    Fault(Fault),
    WaitSafe,
    Sleep(Duration),
}

#[derive(Debug, Clone)]
pub struct Step {
    pub line: usize,
    /// What checks call this step's values.
    pub label: String,
    /// The map a fault step reports on.
    pub map: String,
    pub action: Action,
}

#[derive(Debug, Clone)]
pub struct Check {
    pub line: usize,
    pub expr: CheckExpr,
}

#[derive(Debug, Clone)]
pub struct Case {
    pub name: String,
    pub description: Option<String>,
    pub cluster: ClusterShape,
    /// The plan's and the case's arguments.
    pub args: Vec<(String, String)>,
    pub steps: Vec<Step>,
    pub checks: Vec<Check>,
}

/// A validated plan.
#[derive(Debug, Clone)]
pub struct Plan {
    pub path: PathBuf,
    pub name: String,
    pub description: Option<String>,
    pub repeat: u32,
    pub cases: Vec<Case>,
}

/// Largest plan file read: plans are a few KiB of text.
pub const MAX_PLAN_BYTES: u64 = 1 << 20;

/// 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

fn args_of(maps: &[&BTreeMap<String, ArgValue>]) -> Vec<(String, String)> {
    let mut merged: BTreeMap<&str, String> = BTreeMap::new();
    for m in maps {
        for (k, v) in *m {
            merged.insert(k, v.to_text());
        }
    }
    merged.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// Splits `name:N` into the scenario and its instance count.
pub fn split_instances(spec: &str, default: u32) -> Result<(String, u32), String> {
    if let Some((name, count)) = spec.rsplit_once(':') {
        if !name.is_empty() && !count.is_empty() && count.chars().all(|c| c.is_ascii_digit()) {
            let max = crate::engine::budget::MAX_INSTANCES;
            let n: u32 = match count.parse::<u64>() {
                Ok(n) if n <= max as u64 => n as u32,
                _ => {
                    return Err(format!(
                        "`{spec}` asks for more than {max} instances, the most one run step \
                         may start"
                    ))
                }
            };
            if n == 0 {
                return Err(format!("`{spec}` asks for 0 instances"));
            }
            return Ok((name.to_owned(), n));
        }
    }
    Ok((spec.to_owned(), default))
}

/// Resolves a scenario named in a plan: shipped names as they are, paths relative to the
/// plan's folder (so a folder with a plan and its `.wasm` files can be shared).
fn resolve_scenario(plan_dir: &Path, name: &str) -> Result<ScenarioSource, LoadError> {
    let looks_like_path = name.contains('/') || name.ends_with(".wasm");
    if looks_like_path && Path::new(name).is_relative() {
        let joined = plan_dir.join(name);
        return ScenarioSource::resolve(&joined.to_string_lossy());
    }
    ScenarioSource::resolve(name)
}

impl Plan {
    /// Reads and validates a plan file (at most [`MAX_PLAN_BYTES`]).
    pub fn load(path: &Path) -> Result<Plan, PlanError> {
        let read_error = |cause| PlanError::Read {
            file: path.to_owned(),
            cause,
        };
        let bytes = crate::scenario::read_limited(path, MAX_PLAN_BYTES).map_err(read_error)?;
        let text = String::from_utf8(bytes).map_err(|e| {
            read_error(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                e.utf8_error(),
            ))
        })?;
        Plan::parse(path, &text)
    }

    /// The most instances any run step of the plan starts together.
    pub fn most_instances_at_once(&self) -> u64 {
        self.cases
            .iter()
            .flat_map(|c| &c.steps)
            .map(|s| match &s.action {
                Action::Run { scenarios, .. } => scenarios.iter().map(|s| s.instances as u64).sum(),
                _ => 0,
            })
            .max()
            .unwrap_or(0)
    }

    /// Validates plan text; `path` names it in errors and anchors relative scenario paths.
    pub fn parse(path: &Path, text: &str) -> Result<Plan, PlanError> {
        let file: PlanFile = toml::from_str(text).map_err(|e| PlanError::Syntax {
            file: path.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        let invalid = |offset: usize, message: String| PlanError::Invalid {
            file: path.to_owned(),
            line: line_of(text, offset),
            message,
        };
        let plan_dir = path.parent().unwrap_or(Path::new("."));
        let repeat = file.repeat.unwrap_or(1);
        if repeat == 0 {
            return Err(PlanError::Syntax {
                file: path.to_owned(),
                message: "repeat must be at least 1".into(),
            });
        }
        if file.cases.is_empty() {
            return Err(PlanError::Syntax {
                file: path.to_owned(),
                message: "the plan has no [[case]]".into(),
            });
        }
        let mut cases = Vec::new();
        let mut case_names = Vec::new();
        for spanned in &file.cases {
            let case_at = spanned.span().start;
            let c = spanned.get_ref();
            if case_names.contains(&c.name) {
                return Err(invalid(
                    case_at,
                    format!("two cases are named `{}`", c.name),
                ));
            }
            case_names.push(c.name.clone());
            let cluster = ClusterShape::resolve(&c.cluster, &file.cluster);
            if cluster.members == 0 {
                return Err(invalid(
                    case_at,
                    "a cluster needs at least one member".into(),
                ));
            }
            let mut steps = Vec::new();
            for s in &c.steps {
                let at = s.span().start;
                let step = Self::step(plan_dir, s.get_ref(), &file.args, &c.args, &cluster)
                    .map_err(|e| match e {
                        StepError::Message(m) => invalid(at, format!("case `{}`: {m}", c.name)),
                        StepError::Scenario(source) => PlanError::Scenario {
                            file: path.to_owned(),
                            line: line_of(text, at),
                            source,
                        },
                    })?;
                if steps.iter().any(|x: &Step| x.label == step.label)
                    && !matches!(step.action, Action::WaitSafe | Action::Sleep(_))
                {
                    return Err(invalid(
                        at,
                        format!(
                            "case `{}` has two steps labelled `{}`: give one `as = \"...\"`",
                            c.name, step.label
                        ),
                    ));
                }
                steps.push(Step {
                    line: line_of(text, at),
                    ..step
                });
            }
            if steps.is_empty() {
                return Err(invalid(
                    case_at,
                    format!("case `{}` has no [[case.step]]", c.name),
                ));
            }
            let mut checks = Vec::new();
            for k in &c.checks {
                let at = k.span().start;
                let expr = CheckExpr::parse(&k.get_ref().that)
                    .map_err(|m| invalid(at, format!("case `{}`: check {m}", c.name)))?;
                let mut known: Vec<String> = steps.iter().map(|s| s.label.clone()).collect();
                for s in &steps {
                    if let Action::Run { scenarios, .. } = &s.action {
                        for sc in scenarios {
                            let name = sc.source.name();
                            if !known.contains(&name) {
                                known.push(name);
                            }
                        }
                    }
                }
                for label in expr.labels() {
                    if !known.iter().any(|k| k == label) {
                        return Err(invalid(
                            at,
                            format!(
                                "case `{}`: check `{}` reads `{label}`, which is no step's \
                                 label nor scenario (known: {})",
                                c.name,
                                expr.source,
                                known.join(", ")
                            ),
                        ));
                    }
                }
                checks.push(Check {
                    line: line_of(text, at),
                    expr,
                });
            }
            cases.push(Case {
                name: c.name.clone(),
                description: c.description.clone(),
                cluster,
                args: args_of(&[&file.args, &c.args]),
                steps,
                checks,
            });
        }
        Ok(Plan {
            path: path.to_owned(),
            name: file.name.clone().unwrap_or_else(|| {
                path.file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "plan".into())
            }),
            description: file.description.clone(),
            repeat,
            cases,
        })
    }

    fn step(
        plan_dir: &Path,
        s: &StepSection,
        plan_args: &BTreeMap<String, ArgValue>,
        case_args: &BTreeMap<String, ArgValue>,
        cluster: &ClusterShape,
    ) -> Result<Step, StepError> {
        let msg = |m: String| StepError::Message(m);
        let actions = [
            s.run.is_some(),
            s.kill.is_some(),
            s.stop.is_some(),
            s.start.is_some(),
            s.wait_safe.is_some(),
            s.sleep_ms.is_some(),
        ];
        let n = actions.iter().filter(|a| **a).count();
        if n != 1 {
            return Err(msg(format!(
                "a step needs exactly one of run, kill, stop, start, wait-safe, sleep-ms \
                 (this one has {n})"
            )));
        }
        let check_members = |ms: &[usize]| -> Result<(), StepError> {
            if ms.is_empty() {
                return Err(msg("the member list is empty".into()));
            }
            for &m in ms {
                if m == 0 || m > cluster.members {
                    return Err(msg(format!(
                        "there is no member {m}: the cluster has members 1..={}",
                        cluster.members
                    )));
                }
            }
            Ok(())
        };
        let run_only = s.instances.is_some()
            || !s.args.is_empty()
            || s.sha256.is_some()
            || !s.faults.is_empty();
        if s.run.is_none() && run_only {
            return Err(msg(
                "instances, args, sha256 and faults belong to a `run` step".into(),
            ));
        }
        let map = s.map.clone().unwrap_or_else(|| "distributed-map".into());
        let (label, action) = if let Some(run) = &s.run {
            let items = run.items();
            if items.is_empty() {
                return Err(msg("`run` names no scenario".into()));
            }
            let default = s.instances.unwrap_or(1);
            if default == 0 {
                return Err(msg("instances must be at least 1".into()));
            }
            let max = crate::engine::budget::MAX_INSTANCES;
            if default > max {
                return Err(msg(format!(
                    "instances = {default} is more than {max}, the most one run step may start"
                )));
            }
            let mut scenarios = Vec::new();
            for item in &items {
                let (name, instances) = split_instances(item, default).map_err(msg)?;
                let source = resolve_scenario(plan_dir, &name).map_err(StepError::Scenario)?;
                scenarios.push(ScenarioSpec { source, instances });
            }
            let together: u64 = scenarios.iter().map(|s| s.instances as u64).sum();
            if together > max as u64 {
                return Err(msg(format!(
                    "the step starts {together} instances, more than {max}, the most one run \
                     step may start"
                )));
            }
            if let Some(pin) = &s.sha256 {
                if scenarios.len() != 1 {
                    return Err(msg("sha256 pins a step that runs one scenario".into()));
                }
                let actual = crate::scenario::sha256_hex(scenarios[0].source.bytes());
                if !actual.eq_ignore_ascii_case(pin.trim()) {
                    return Err(msg(format!(
                        "{} has SHA-256 {actual}, but the plan pins {pin}",
                        scenarios[0].source.display_name()
                    )));
                }
            }
            let mut faults = Vec::new();
            for f in &s.faults {
                let set = [f.kill.is_some(), f.stop.is_some(), f.start.is_some()];
                if set.iter().filter(|x| **x).count() != 1 {
                    return Err(msg(
                        "a timed fault needs exactly one of kill, stop, start".into()
                    ));
                }
                let fault = if let Some(m) = &f.kill {
                    Fault::Kill(m.clone())
                } else if let Some(m) = &f.stop {
                    Fault::Stop(m.clone())
                } else {
                    Fault::Start(f.start.clone().unwrap_or_default())
                };
                check_members(fault.members())?;
                faults.push((Duration::from_millis(f.after_ms), fault));
            }
            let label = s
                .label
                .clone()
                .unwrap_or_else(|| scenarios[0].source.name());
            (
                label,
                Action::Run {
                    scenarios,
                    args: args_of(&[plan_args, case_args, &s.args]),
                    faults,
                },
            )
        } else {
            let action = if let Some(m) = &s.kill {
                check_members(m)?;
                Action::Fault(Fault::Kill(m.clone()))
            } else if let Some(m) = &s.stop {
                check_members(m)?;
                Action::Fault(Fault::Stop(m.clone()))
            } else if let Some(m) = &s.start {
                check_members(m)?;
                Action::Fault(Fault::Start(m.clone()))
            } else if let Some(w) = s.wait_safe {
                if !w {
                    return Err(msg("wait-safe = false does nothing: leave it out".into()));
                }
                Action::WaitSafe
            } else {
                Action::Sleep(Duration::from_millis(s.sleep_ms.unwrap_or(0)))
            };
            let default_label = match &action {
                Action::Fault(f) => f.kind().to_owned(),
                Action::WaitSafe => "wait-safe".to_owned(),
                _ => "sleep".to_owned(),
            };
            (s.label.clone().unwrap_or(default_label), action)
        };
        Ok(Step {
            line: 0,
            label,
            map,
            action,
        })
    }
}

enum StepError {
    Message(String),
    Scenario(LoadError),
}

#[cfg(test)]
mod tests;
