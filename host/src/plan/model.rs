//! The plan file format (TOML), as written by people.
//!
//! ```toml
//! name = "seed-lab"
//! repeat = 1
//!
//! [cluster]             # every case's cluster, unless the case says otherwise
//! members = 3
//! backup-count = 1
//! queue-capacity = 10
//!
//! [args]                # arguments every scenario sees
//! iterations = 10000
//!
//! [[case]]
//! name = "no lock"
//!
//! [[case.step]]
//! run = "race"          # a shipped scenario, a .wasm path (relative to the plan), or a list
//! instances = 3         # run together: run = ["producer:1", "consumer:2"]
//!
//! [[case.check]]
//! that = "race.final < 30000"
//! ```
//!
//! Unknown keys and wrong types are errors that name the file, line and key.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PlanFile {
    pub name: Option<String>,
    pub description: Option<String>,
    /// How many times every case runs (each time on a fresh cluster).
    pub repeat: Option<u32>,
    #[serde(default)]
    pub cluster: ClusterSection,
    /// Arguments every scenario sees (`runtime.arg`).
    #[serde(default)]
    pub args: BTreeMap<String, ArgValue>,
    #[serde(default, rename = "case")]
    pub cases: Vec<Spanned<CaseSection>>,
}

/// A cluster's shape; unset fields fall back to the plan's `[cluster]`, then to defaults.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ClusterSection {
    pub members: Option<Spanned<usize>>,
    pub backup_count: Option<Spanned<u32>>,
    pub async_backup_count: Option<Spanned<u32>>,
    pub queue_capacity: Option<Spanned<u32>>,
    /// Seed of the embedded cluster's interleaving.
    pub seed: Option<u64>,
    /// Most scheduler yields per operation on the embedded cluster.
    pub network_yields: Option<Spanned<u32>>,
    /// Real members (`--local`) each on a host of its own (a network namespace), so that
    /// network faults can cut between them.
    pub hosts: Option<bool>,
    /// Failure detection and merge timing, in seconds (Hazelcast's
    /// `hazelcast.heartbeat.interval.seconds`, `hazelcast.max.no.heartbeat.seconds`,
    /// `hazelcast.merge.first.run.delay.seconds`, `hazelcast.merge.next.run.delay.seconds`).
    pub heartbeat_interval_s: Option<Spanned<u32>>,
    pub max_no_heartbeat_s: Option<Spanned<u32>>,
    pub merge_first_run_delay_s: Option<Spanned<u32>>,
    pub merge_next_run_delay_s: Option<Spanned<u32>>,
    /// Per map (name or wildcard): split-brain protection and merge policy.
    pub map: Option<Spanned<BTreeMap<String, StructureSection>>>,
    /// Per queue: split-brain protection and merge policy.
    pub queue: Option<Spanned<BTreeMap<String, StructureSection>>>,
}

/// A map's or queue's split-brain settings: `[cluster.map.orders]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct StructureSection {
    /// PassThrough, PutIfAbsent, HigherHits, LatestUpdate, LatestAccess, ExpirationTime,
    /// Discard.
    pub merge_policy: Option<String>,
    /// Split-brain protection: operations fail on a side with fewer members.
    pub min_cluster_size: Option<u32>,
    /// `read`, `write` or `read-write` (default).
    pub protect_on: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct CaseSection {
    pub name: String,
    pub description: Option<String>,
    #[serde(default)]
    pub cluster: ClusterSection,
    /// Arguments for this case's scenarios, over the plan's.
    #[serde(default)]
    pub args: BTreeMap<String, ArgValue>,
    #[serde(default, rename = "step")]
    pub steps: Vec<Spanned<StepSection>>,
    #[serde(default, rename = "check")]
    pub checks: Vec<Spanned<CheckSection>>,
}

/// One step: exactly one of `run`, `kill`, `stop`, `start`, `wait-safe`, `sleep-ms`,
/// `partition`, `from` (with `to`), `isolate`, `ring`, `heal`, `pause`, `resume`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct StepSection {
    /// Scenarios to run together: `"race"`, `"race:3"`, or a list.
    pub run: Option<OneOrMany>,
    /// Instances of each scenario given without `:N`.
    pub instances: Option<u32>,
    /// Arguments for this step's scenarios, over the case's.
    #[serde(default)]
    pub args: BTreeMap<String, ArgValue>,
    /// The name checks use for this step's values (default: the scenario's name, or the
    /// fault's kind).
    #[serde(rename = "as")]
    pub label: Option<String>,
    /// A SHA-256 the scenario file must have (hex), for a single-scenario step.
    pub sha256: Option<Spanned<String>>,
    /// Crash these members (1-based) at once, like `kill -9`.
    pub kill: Option<Vec<usize>>,
    /// Stop these members gracefully, one after the other.
    pub stop: Option<Vec<usize>>,
    /// Start these (stopped) members again.
    pub start: Option<Vec<usize>>,
    /// Wait until no partition misses a replica (`true`).
    pub wait_safe: Option<bool>,
    /// Wait this long.
    pub sleep_ms: Option<Spanned<u64>>,
    /// The map whose distribution and loss a fault step reports (default `distributed-map`).
    pub map: Option<String>,
    /// Faults injected while this step's scenarios run.
    #[serde(default)]
    pub faults: Vec<TimedFault>,
    /// Members in different groups cannot reach each other: `[[1], [2, 3]]`.
    pub partition: Option<Vec<Vec<usize>>>,
    /// One-way cut: what `from` sends does not reach `to`.
    pub from: Option<Vec<usize>>,
    pub to: Option<Vec<usize>>,
    /// Cut this member from all others.
    pub isolate: Option<usize>,
    /// Jepsen's majorities ring (`true`).
    pub ring: Option<bool>,
    /// Remove every cut (`true`).
    pub heal: Option<bool>,
    /// Freeze these members (SIGSTOP).
    pub pause: Option<Vec<usize>>,
    /// Let paused members go on (SIGCONT).
    pub resume: Option<Vec<usize>>,
    /// Bind a run step's instances to these members: their client connects to them only,
    /// without smart routing (on real members).
    pub connect: Option<Vec<usize>>,
    /// Executor: iterations in all, shared by the step's instances.
    pub iterations: Option<u64>,
    /// Executor: how long instances loop (or, with `rate`, how long the rate lasts): `"30s"`.
    pub duration: Option<String>,
    /// Executor, open model: iterations started per second (the start rate with `stages`).
    pub rate: Option<f64>,
    /// Executor, open model: `[{ target = 1000, duration = "20s" }, ...]`.
    pub stages: Option<Vec<StageSection>>,
    /// Open models: the most instances the pool grows to.
    pub max_instances: Option<u32>,
    /// Warm-up and cool-down left out of the totals: `["5s", "2s"]`.
    pub trim: Option<Vec<String>>,
}

/// One stage of a ramping rate.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct StageSection {
    pub target: f64,
    pub duration: String,
}

impl StepSection {
    /// Whether it gives any executor field.
    pub fn has_executor(&self) -> bool {
        self.iterations.is_some()
            || self.duration.is_some()
            || self.rate.is_some()
            || self.stages.is_some()
            || self.max_instances.is_some()
            || self.trim.is_some()
    }

    /// Its executor fields, with durations parsed.
    pub fn executor_fields(&self) -> Result<crate::executor::ExecutorFields, String> {
        use crate::executor::{parse_duration, ExecutorFields, Stage};
        let duration = match &self.duration {
            Some(d) => Some(parse_duration(d).map_err(|e| format!("duration: {e}"))?),
            None => None,
        };
        let mut stages = Vec::new();
        for (i, st) in self.stages.iter().flatten().enumerate() {
            stages.push(Stage {
                target: st.target,
                duration: parse_duration(&st.duration)
                    .map_err(|e| format!("stage {}: duration: {e}", i + 1))?,
            });
        }
        if self.stages.as_ref().is_some_and(Vec::is_empty) {
            return Err("stages = [] has no stage".into());
        }
        let trim = match self.trim.as_deref() {
            None => None,
            Some([warm, cool]) => Some(crate::executor::Trim {
                warm_up: parse_duration(warm).map_err(|e| format!("trim: warm-up: {e}"))?,
                cool_down: parse_duration(cool).map_err(|e| format!("trim: cool-down: {e}"))?,
            }),
            Some(other) => {
                return Err(format!(
                    "trim = {other:?} is not [WARM-UP, COOL-DOWN] (e.g. [\"5s\", \"2s\"])"
                ))
            }
        };
        Ok(ExecutorFields {
            iterations: self.iterations,
            duration,
            rate: self.rate,
            stages,
            max_instances: self.max_instances,
            trim,
        })
    }
}

/// Network faults and pauses, as steps and as timed faults.
#[derive(Debug, Clone, Default)]
pub struct NetworkFault {
    /// Members in different groups cannot reach each other: `[[1], [2, 3]]`.
    pub partition: Option<Vec<Vec<usize>>>,
    /// One-way cut: what `from` sends does not reach `to`.
    pub from: Option<Vec<usize>>,
    pub to: Option<Vec<usize>>,
    /// Cut this member from all others.
    pub isolate: Option<usize>,
    /// Jepsen's majorities ring (`true`).
    pub ring: Option<bool>,
    /// Remove every cut (`true`).
    pub heal: Option<bool>,
    /// Freeze these members (SIGSTOP).
    pub pause: Option<Vec<usize>>,
    /// Let paused members go on (SIGCONT).
    pub resume: Option<Vec<usize>>,
}

impl NetworkFault {
    /// How many of the faults are set.
    pub fn count(&self) -> usize {
        [
            self.partition.is_some(),
            self.from.is_some() || self.to.is_some(),
            self.isolate.is_some(),
            self.ring.is_some(),
            self.heal.is_some(),
            self.pause.is_some(),
            self.resume.is_some(),
        ]
        .iter()
        .filter(|x| **x)
        .count()
    }
}

/// A fault at a time offset from the start of a run step.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct TimedFault {
    pub after_ms: Spanned<u64>,
    pub kill: Option<Vec<usize>>,
    pub stop: Option<Vec<usize>>,
    pub start: Option<Vec<usize>>,
    /// Members in different groups cannot reach each other: `[[1], [2, 3]]`.
    pub partition: Option<Vec<Vec<usize>>>,
    /// One-way cut: what `from` sends does not reach `to`.
    pub from: Option<Vec<usize>>,
    pub to: Option<Vec<usize>>,
    /// Cut this member from all others.
    pub isolate: Option<usize>,
    /// Jepsen's majorities ring (`true`).
    pub ring: Option<bool>,
    /// Remove every cut (`true`).
    pub heal: Option<bool>,
    /// Freeze these members (SIGSTOP).
    pub pause: Option<Vec<usize>>,
    /// Let paused members go on (SIGCONT).
    pub resume: Option<Vec<usize>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct CheckSection {
    /// `label.value <op> number-or-label.value`, e.g. `pessimistic.final == 30000`.
    pub that: Option<String>,
    /// Or, with `--history`: the model the history checker holds structure `name` to
    /// (`linearizable`, `lock`, `queue`, `set`), e.g. `history = "linearizable"`,
    /// `name = "inventory"`.
    pub history: Option<String>,
    pub name: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

macro_rules! network_of {
    ($t:ty) => {
        impl $t {
            /// Its network faults and pauses.
            pub fn network(&self) -> NetworkFault {
                NetworkFault {
                    partition: self.partition.clone(),
                    from: self.from.clone(),
                    to: self.to.clone(),
                    isolate: self.isolate,
                    ring: self.ring,
                    heal: self.heal,
                    pause: self.pause.clone(),
                    resume: self.resume.clone(),
                }
            }
        }
    };
}
network_of!(StepSection);
network_of!(TimedFault);

impl OneOrMany {
    pub fn items(&self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

/// An argument value: TOML integers, floats, booleans and strings are all given to
/// scenarios as text.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum ArgValue {
    Int(i64),
    Float(f64),
    Bool(bool),
    Text(String),
}

impl ArgValue {
    pub fn to_text(&self) -> String {
        match self {
            ArgValue::Int(i) => i.to_string(),
            ArgValue::Float(f) => f.to_string(),
            ArgValue::Bool(b) => b.to_string(),
            ArgValue::Text(s) => s.clone(),
        }
    }
}
