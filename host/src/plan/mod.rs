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
pub mod written;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cluster::split_brain::{
    canonical_policy, ProtectOn, SplitBrainConfig, StructureConfig, StructureKind,
};
use crate::cluster::NetworkCut;
use crate::runner::ScenarioSpec;
use crate::scenario::{LoadError, ScenarioSource};
use check::CheckExpr;
use model::{ArgValue, CaseSection, ClusterSection, NetworkFault, PlanFile, StepSection};

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
    #[error("{file}, line {line}: {cause}")]
    Scenario {
        file: PathBuf,
        line: usize,
        cause: LoadError,
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
    /// Real members each on a host of its own (network namespaces).
    pub hosts: bool,
    /// Split-brain protection, merge policies, failure-detection and merge timing.
    pub split_brain: SplitBrainConfig,
}

/// Most a plan's `sleep-ms` may wait (one hour).
pub const MAX_SLEEP_MS: u64 = 3_600_000;
/// Latest a timed fault's `after-ms` may be (one hour after its step's instances started).
pub const MAX_AFTER_MS: u64 = 3_600_000;
/// Most scheduler yields per operation (`network-yields`, `--network-yields`).
pub const MAX_NETWORK_YIELDS: u32 = 1_000;
/// Most backups of each kind, and in all (Hazelcast's own limit).
pub const MAX_BACKUPS: u32 = 6;
/// Largest queue capacity (a Java `int`).
pub const MAX_QUEUE_CAPACITY: u32 = i32::MAX as u32;
/// Longest `--timeout` and `--invocation-timeout`, in seconds (one day).
pub const MAX_TIMEOUT_SECS: f64 = 86_400.0;

/// Checks `--network-yields` (or a plan's `network-yields`).
pub fn check_network_yields(n: u32) -> Result<(), String> {
    if n > MAX_NETWORK_YIELDS {
        return Err(format!(
            "network-yields = {n} is more than the maximum, {MAX_NETWORK_YIELDS}"
        ));
    }
    Ok(())
}

/// Checks a time budget in seconds (`--timeout`, `--invocation-timeout`): positive, finite,
/// at most [`MAX_TIMEOUT_SECS`].
pub fn check_timeout_secs(flag: &str, secs: f64) -> Result<(), String> {
    if !(secs > 0.0 && secs.is_finite()) {
        return Err(format!("{flag} must be a positive number of seconds"));
    }
    if secs > MAX_TIMEOUT_SECS {
        return Err(format!(
            "{flag} {secs} is more than the maximum, {MAX_TIMEOUT_SECS} seconds (one day)"
        ));
    }
    Ok(())
}

/// Checks a cluster's backup counts: each and their sum at most [`MAX_BACKUPS`].
pub fn check_backups(backup_count: u32, async_backup_count: u32) -> Result<(), String> {
    for (key, n) in [
        ("backup-count", backup_count),
        ("async-backup-count", async_backup_count),
    ] {
        if n > MAX_BACKUPS {
            return Err(format!(
                "{key} = {n} is more than Hazelcast allows ({MAX_BACKUPS})"
            ));
        }
    }
    if backup_count + async_backup_count > MAX_BACKUPS {
        return Err(format!(
            "backup-count + async-backup-count is {}, Hazelcast allows at most {MAX_BACKUPS}",
            backup_count + async_backup_count
        ));
    }
    Ok(())
}

impl ClusterShape {
    /// The case's shape over the plan's; an error names the offending key (and its offset in
    /// the plan's text).
    fn resolve(
        case: &ClusterSection,
        plan: &ClusterSection,
    ) -> Result<ClusterShape, (usize, String)> {
        fn pick<T: Copy>(
            case: &Option<toml::Spanned<T>>,
            plan: &Option<toml::Spanned<T>>,
        ) -> Option<(T, usize)> {
            case.as_ref()
                .or(plan.as_ref())
                .map(|s| (*s.get_ref(), s.span().start))
        }
        let members = pick(&case.members, &plan.members);
        let backups = pick(&case.backup_count, &plan.backup_count);
        let async_backups = pick(&case.async_backup_count, &plan.async_backup_count);
        let queue = pick(&case.queue_capacity, &plan.queue_capacity);
        let yields = pick(&case.network_yields, &plan.network_yields);
        let split_brain = Self::split_brain(case, plan)?;
        let shape = ClusterShape {
            members: members.map_or(3, |m| m.0),
            backup_count: backups.map_or(1, |b| b.0),
            async_backup_count: async_backups.map_or(0, |b| b.0),
            queue_capacity: queue.map(|q| q.0),
            seed: case.seed.or(plan.seed),
            network_yields: yields.map_or(2, |y| y.0),
            hosts: case.hosts.or(plan.hosts).unwrap_or(false),
            split_brain,
        };
        fn at<T>(v: Option<(T, usize)>) -> usize {
            v.map_or(0, |v| v.1)
        }
        if shape.members == 0 {
            return Err((at(members), "a cluster needs at least one member".into()));
        }
        if let Err(m) = check_backups(shape.backup_count, shape.async_backup_count) {
            let offset = match (backups, async_backups) {
                (Some((b, o)), _) if b > MAX_BACKUPS => o,
                (_, Some((_, o))) => o,
                (b, None) => at(b),
            };
            return Err((offset, m));
        }
        if let Some(q) = shape.queue_capacity {
            if q == 0 || q > MAX_QUEUE_CAPACITY {
                return Err((
                    at(queue),
                    format!(
                        "queue-capacity = {q} is out of range: 1..={MAX_QUEUE_CAPACITY} (leave \
                         it out for an unbounded queue)"
                    ),
                ));
            }
        }
        check_network_yields(shape.network_yields).map_err(|m| (at(yields), m))?;
        for s in &shape.split_brain.structures {
            if let Some(min) = s.min_cluster_size {
                if min as usize > shape.members {
                    return Err((
                        at(members),
                        format!(
                            "{} `{}`: split-brain protection of minimum size {min} in a \
                             cluster of {} members refuses every operation",
                            match s.kind {
                                StructureKind::Map => "map",
                                StructureKind::Queue => "queue",
                            },
                            s.name,
                            shape.members
                        ),
                    ));
                }
            }
        }
        Ok(shape)
    }

    /// The split-brain settings: timing keys and `[cluster.map.NAME]`/`[cluster.queue.NAME]`
    /// tables of the case over the plan's (a table of the case replaces the plan's of that
    /// name).
    fn split_brain(
        case: &ClusterSection,
        plan: &ClusterSection,
    ) -> Result<SplitBrainConfig, (usize, String)> {
        fn pick(
            case: &Option<toml::Spanned<u32>>,
            plan: &Option<toml::Spanned<u32>>,
            key: &str,
        ) -> Result<Option<u32>, (usize, String)> {
            match case.as_ref().or(plan.as_ref()) {
                Some(v) if *v.get_ref() == 0 => {
                    Err((v.span().start, format!("{key} = 0: give at least 1 second")))
                }
                Some(v) => Ok(Some(*v.get_ref())),
                None => Ok(None),
            }
        }
        let mut c = SplitBrainConfig {
            heartbeat_interval_secs: pick(
                &case.heartbeat_interval_s,
                &plan.heartbeat_interval_s,
                "heartbeat-interval-s",
            )?,
            max_no_heartbeat_secs: pick(
                &case.max_no_heartbeat_s,
                &plan.max_no_heartbeat_s,
                "max-no-heartbeat-s",
            )?,
            merge_first_run_delay_secs: pick(
                &case.merge_first_run_delay_s,
                &plan.merge_first_run_delay_s,
                "merge-first-run-delay-s",
            )?,
            merge_next_run_delay_secs: pick(
                &case.merge_next_run_delay_s,
                &plan.merge_next_run_delay_s,
                "merge-next-run-delay-s",
            )?,
            structures: Vec::new(),
        };
        for (kind, case_t, plan_t) in [
            (StructureKind::Map, &case.map, &plan.map),
            (StructureKind::Queue, &case.queue, &plan.queue),
        ] {
            let mut merged: BTreeMap<String, (usize, model::StructureSection)> = BTreeMap::new();
            for t in [plan_t, case_t].into_iter().flatten() {
                for (name, section) in t.get_ref() {
                    merged.insert(name.clone(), (t.span().start, section.clone()));
                }
            }
            for (name, (offset, section)) in merged {
                let mut sc = StructureConfig::new(kind, name.clone());
                if let Some(p) = &section.merge_policy {
                    sc.merge_policy =
                        Some(canonical_policy(p).map_err(|m| (offset, format!("`{name}`: {m}")))?);
                }
                sc.min_cluster_size = section.min_cluster_size;
                if let Some(on) = &section.protect_on {
                    sc.protect_on =
                        ProtectOn::parse(on).map_err(|m| (offset, format!("`{name}`: {m}")))?;
                }
                c.structures.push(sc);
                if let Err(e) = c.check() {
                    return Err((offset, e.to_string()));
                }
            }
        }
        Ok(c)
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
    /// Cut the network (replacing the cut in force); `kind` says how it was asked for
    /// (`partition`, `one-way`, `isolate`, `ring`).
    Cut { kind: &'static str, cut: NetworkCut },
    /// Remove every cut.
    Heal,
    /// Freeze members (SIGSTOP).
    Pause(Vec<usize>),
    /// Let paused members go on (SIGCONT).
    Resume(Vec<usize>),
}

impl Fault {
    pub fn kind(&self) -> &'static str {
        match self {
            Fault::Kill(_) => "kill",
            Fault::Stop(_) => "stop",
            Fault::Start(_) => "start",
            Fault::Cut { kind, .. } => kind,
            Fault::Heal => "heal",
            Fault::Pause(_) => "pause",
            Fault::Resume(_) => "resume",
        }
    }

    /// The members it acts on (none for network cuts and heals).
    pub fn members(&self) -> &[usize] {
        match self {
            Fault::Kill(m)
            | Fault::Stop(m)
            | Fault::Start(m)
            | Fault::Pause(m)
            | Fault::Resume(m) => m,
            Fault::Cut { .. } | Fault::Heal => &[],
        }
    }

    /// Whether it changes the network or pauses members (no data moves, the cluster is not
    /// waited for: its effect is what a run observes).
    pub fn is_network(&self) -> bool {
        matches!(
            self,
            Fault::Cut { .. } | Fault::Heal | Fault::Pause(_) | Fault::Resume(_)
        )
    }

    /// What it does, for reports: `partition [1] | [2, 3]`, `pause [2]`.
    pub fn describe(&self) -> String {
        match self {
            Fault::Cut { cut, .. } => cut.to_string(),
            Fault::Heal => "heal (no cut)".into(),
            other => format!("{} {:?}", other.kind(), other.members()),
        }
    }

    /// The network fault or pause `n` asks for (`None` when it asks for none); `cluster`
    /// bounds the member numbers.
    fn network(n: &NetworkFault, cluster: &ClusterShape) -> Result<Option<Fault>, StepError> {
        if n.count() == 0 {
            return Ok(None);
        }
        if n.count() > 1 {
            return Err(msg(
                "partition, from/to, isolate, ring, heal, pause and resume are separate faults: \
                 give one"
                    .into(),
            ));
        }
        let members = cluster.members;
        let cut_error = |e: crate::cluster::ClusterError| msg(e.to_string());
        // The embedded model cuts without hosts; real members need them, which a run with
        // --local checks before starting any (`Case::needs_hosts`).
        let needs_hosts = |f: Fault| Ok(Some(f));
        if let Some(groups) = &n.partition {
            let cut = NetworkCut::partition(groups, members).map_err(cut_error)?;
            needs_hosts(Fault::Cut {
                kind: "partition",
                cut,
            })
        } else if n.from.is_some() || n.to.is_some() {
            let (Some(from), Some(to)) = (&n.from, &n.to) else {
                return Err(msg("a one-way cut needs both from and to".into()));
            };
            let cut = NetworkCut::one_way(from, to, members).map_err(cut_error)?;
            needs_hosts(Fault::Cut {
                kind: "one-way",
                cut,
            })
        } else if let Some(m) = n.isolate {
            let cut = NetworkCut::isolate(m, members).map_err(cut_error)?;
            needs_hosts(Fault::Cut {
                kind: "isolate",
                cut,
            })
        } else if let Some(r) = n.ring {
            if !r {
                return Err(msg("ring = false does nothing: leave it out".into()));
            }
            let cut = NetworkCut::majorities_ring(members).map_err(cut_error)?;
            needs_hosts(Fault::Cut { kind: "ring", cut })
        } else if let Some(h) = n.heal {
            if !h {
                return Err(msg("heal = false does nothing: leave it out".into()));
            }
            needs_hosts(Fault::Heal)
        } else if let Some(m) = &n.pause {
            check_members(m, cluster)?;
            Ok(Some(Fault::Pause(m.clone())))
        } else {
            let m = n.resume.clone().unwrap_or_default();
            check_members(&m, cluster)?;
            Ok(Some(Fault::Resume(m)))
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
        /// Members the instances' client is bound to (`connect`); all, smart, when `None`.
        connect: Option<Vec<usize>>,
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
    /// The map a fault reports on, when the step names one (`map = "..."`); otherwise every
    /// map the case's scenarios wrote before the fault.
    pub map: Option<String>,
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
    /// `[[case.check]] history = "…" name = "…"`: the model the history checker holds a
    /// structure to (map, lock or queue name), with `--history`.
    pub history_models: Vec<(String, crate::history::Model)>,
}

impl Case {
    /// On real members, why this case cannot run without hosts of their own: the first
    /// step that cuts the network (`None` when none does, or the case has `hosts = true`).
    pub fn needs_hosts(&self) -> Option<String> {
        if self.cluster.hosts {
            return None;
        }
        let cuts = |f: &Fault| matches!(f, Fault::Cut { .. } | Fault::Heal);
        self.steps.iter().find_map(|step| {
            let cut = match &step.action {
                Action::Fault(f) => cuts(f),
                Action::Run { faults, .. } => faults.iter().any(|(_, f)| cuts(f)),
                _ => false,
            };
            cut.then(|| {
                format!(
                    "step `{}` (line {}) cuts the network between members, which on real \
                     members needs them on hosts of their own: `hosts = true` in [cluster] \
                     (and root to run it)",
                    step.label, step.line
                )
            })
        })
    }
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
/// The plan's file and text, to name both in errors.
struct Source<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Source<'_> {
    /// An error at `offset` of the text.
    fn invalid(&self, offset: usize, message: String) -> PlanError {
        PlanError::Invalid {
            file: self.path.to_owned(),
            line: line_of(self.text, offset),
            message,
        }
    }

    /// An error about the file as a whole.
    fn syntax(&self, message: &str) -> PlanError {
        PlanError::Syntax {
            file: self.path.to_owned(),
            message: message.to_owned(),
        }
    }
}

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

/// Splits `name:N` into the scenario and its instance count. A reference's own tag is not a
/// count ([`crate::registry::ends_in_tag`]): `host/labs/bank:1` is the tag, `…/bank:1:4` four
/// instances of it.
pub fn split_instances(spec: &str, default: u32) -> Result<(String, u32), String> {
    if crate::registry::ends_in_tag(spec) {
        return Ok((spec.to_owned(), default));
    }
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
/// References are pulled (with `pin`, the step's `sha256`, from the cache when they are there).
fn resolve_scenario(
    plan_dir: &Path,
    name: &str,
    pin: Option<&str>,
) -> Result<ScenarioSource, LoadError> {
    if crate::registry::looks_like_reference(name) {
        return ScenarioSource::resolve_pinned(name, pin);
    }
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
        let src = Source { path, text };
        let repeat = file.repeat.unwrap_or(1);
        if repeat == 0 {
            return Err(src.syntax("repeat must be at least 1"));
        }
        if file.cases.is_empty() {
            return Err(src.syntax("the plan has no [[case]]"));
        }
        let mut cases: Vec<Case> = Vec::new();
        for spanned in &file.cases {
            let (at, c) = (spanned.span().start, spanned.get_ref());
            if cases.iter().any(|k| k.name == c.name) {
                return Err(src.invalid(at, format!("two cases are named `{}`", c.name)));
            }
            cases.push(Self::case(&src, &file, at, c)?);
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

    /// One `[[case]]` (at offset `at`): its cluster, steps and checks.
    fn case(
        src: &Source<'_>,
        file: &PlanFile,
        at: usize,
        c: &CaseSection,
    ) -> Result<Case, PlanError> {
        let cluster = ClusterShape::resolve(&c.cluster, &file.cluster).map_err(|(offset, m)| {
            src.invalid(
                if offset == 0 { at } else { offset },
                format!("case `{}`: {m}", c.name),
            )
        })?;
        let steps = Self::case_steps(src, file, c, &cluster)?;
        if steps.is_empty() {
            return Err(src.invalid(at, format!("case `{}` has no [[case.step]]", c.name)));
        }
        let mut checks = Vec::new();
        let mut history_models = Vec::new();
        for k in &c.checks {
            let at = k.span().start;
            match (&k.get_ref().that, &k.get_ref().history, &k.get_ref().name) {
                (Some(that), None, None) => {
                    checks.push(Self::case_check(src, c, &steps, at, that)?)
                }
                (None, Some(model), Some(name)) => {
                    let model = model
                        .parse::<crate::history::Model>()
                        .ok()
                        .filter(|m| *m != crate::history::Model::Auto)
                        .ok_or_else(|| {
                            src.invalid(
                                at,
                                format!(
                                    "case `{}`: history = \"{model}\" is no model (one of \
                                     linearizable, lock, queue, set)",
                                    c.name
                                ),
                            )
                        })?;
                    history_models.push((name.clone(), model));
                }
                _ => {
                    return Err(src.invalid(
                        at,
                        format!(
                            "case `{}`: a check has either `that` or both `history` and `name`",
                            c.name
                        ),
                    ))
                }
            }
        }
        Ok(Case {
            name: c.name.clone(),
            description: c.description.clone(),
            cluster,
            args: args_of(&[&file.args, &c.args]),
            steps,
            checks,
            history_models,
        })
    }

    /// A case's steps, each validated, with distinct labels.
    fn case_steps(
        src: &Source<'_>,
        file: &PlanFile,
        c: &CaseSection,
        cluster: &ClusterShape,
    ) -> Result<Vec<Step>, PlanError> {
        let plan_dir = src.path.parent().unwrap_or(Path::new("."));
        let mut steps: Vec<Step> = Vec::new();
        for s in &c.steps {
            let at = s.span().start;
            let step = Self::step(plan_dir, s.get_ref(), &file.args, &c.args, cluster).map_err(
                |e| match e {
                    StepError::Message(m) => src.invalid(at, format!("case `{}`: {m}", c.name)),
                    StepError::At(offset, m) => {
                        src.invalid(offset, format!("case `{}`: {m}", c.name))
                    }
                    StepError::Scenario(source) => PlanError::Scenario {
                        file: src.path.to_owned(),
                        line: line_of(src.text, at),
                        cause: source,
                    },
                },
            )?;
            if steps.iter().any(|x| x.label == step.label)
                && !matches!(step.action, Action::WaitSafe | Action::Sleep(_))
            {
                return Err(src.invalid(
                    at,
                    format!(
                        "case `{}` has two steps labelled `{}`: give one `as = \"...\"`",
                        c.name, step.label
                    ),
                ));
            }
            steps.push(Step {
                line: line_of(src.text, at),
                ..step
            });
        }
        Ok(steps)
    }

    /// One `[[case.check]]` (at offset `at`): it parses, and reads only labels and values the
    /// case's steps have.
    fn case_check(
        src: &Source<'_>,
        c: &CaseSection,
        steps: &[Step],
        at: usize,
        that: &str,
    ) -> Result<Check, PlanError> {
        let expr = CheckExpr::parse(that)
            .map_err(|m| src.invalid(at, format!("case `{}`: check {m}", c.name)))?;
        let mut known: Vec<String> = steps.iter().map(|s| s.label.clone()).collect();
        for s in steps {
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
                return Err(src.invalid(
                    at,
                    format!(
                        "case `{}`: check `{}` reads `{label}`, which is no step's label nor \
                         scenario (known: {})",
                        c.name,
                        expr.source,
                        known.join(", ")
                    ),
                ));
            }
        }
        for (label, name) in expr.values() {
            if crate::metrics::is_metric_name(name) {
                // Metrics (checked when the expression was parsed) are figures of a run.
                let runs = steps.iter().any(|s| match &s.action {
                    Action::Run { scenarios, .. } => {
                        s.label == label || scenarios.iter().any(|sc| sc.source.name() == label)
                    }
                    _ => false,
                });
                if !runs {
                    return Err(src.invalid(
                        at,
                        format!(
                            "case `{}`: check `{}` reads the metric `{name}` of `{label}`, \
                             which is not a run step: metrics are figures of a run",
                            c.name, expr.source
                        ),
                    ));
                }
                continue;
            }
            if let Some(values) = readable_values(steps, label) {
                if !values.contains(&name) {
                    return Err(src.invalid(
                        at,
                        format!(
                            "case `{}`: check `{}` reads `{label}.{name}`, but `{label}` has no \
                             value `{name}` (it has: {})",
                            c.name,
                            expr.source,
                            if values.is_empty() {
                                "none".to_owned()
                            } else {
                                values.join(", ")
                            }
                        ),
                    ));
                }
            }
        }
        Ok(Check {
            line: line_of(src.text, at),
            expr,
        })
    }

    fn step(
        plan_dir: &Path,
        s: &StepSection,
        plan_args: &BTreeMap<String, ArgValue>,
        case_args: &BTreeMap<String, ArgValue>,
        cluster: &ClusterShape,
    ) -> Result<Step, StepError> {
        let actions = [
            s.run.is_some(),
            s.kill.is_some(),
            s.stop.is_some(),
            s.start.is_some(),
            s.wait_safe.is_some(),
            s.sleep_ms.is_some(),
        ];
        let n = actions.iter().filter(|a| **a).count() + s.network().count();
        if n != 1 {
            return Err(msg(format!(
                "a step needs exactly one of run, kill, stop, start, wait-safe, sleep-ms, \
                 partition, from/to, isolate, ring, heal, pause, resume (this one has {n})"
            )));
        }
        let run_only = s.instances.is_some()
            || !s.args.is_empty()
            || s.sha256.is_some()
            || !s.faults.is_empty()
            || s.connect.is_some()
            || s.has_executor();
        if s.run.is_none() && run_only {
            return Err(msg(
                "instances, args, sha256, faults, connect, iterations, duration, rate, stages, \
                 max-instances and trim belong to a `run` step"
                    .into(),
            ));
        }
        if let Some(c) = &s.connect {
            check_members(c, cluster)?;
        }
        if s.map.as_ref().is_some_and(String::is_empty) {
            return Err(msg("map = \"\" names no map".into()));
        }
        let (label, action) = if s.run.is_some() {
            Self::run_action(plan_dir, s, plan_args, case_args, cluster)?
        } else {
            let action = Self::other_action(s, cluster)?;
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
            map: s.map.clone(),
            action,
        })
    }

    /// A `run` step: its scenarios (pinned by `sha256` if given), arguments and timed faults;
    /// labelled by its first scenario unless `as` says otherwise.
    fn run_action(
        plan_dir: &Path,
        s: &StepSection,
        plan_args: &BTreeMap<String, ArgValue>,
        case_args: &BTreeMap<String, ArgValue>,
        cluster: &ClusterShape,
    ) -> Result<(String, Action), StepError> {
        let scenarios = Self::step_scenarios(plan_dir, s)?;
        if let Some(pin) = &s.sha256 {
            check_pin(pin, &scenarios)?;
        }
        let faults = Self::timed_faults(s, cluster)?;
        let label = s
            .label
            .clone()
            .unwrap_or_else(|| scenarios[0].source.name());
        let args = args_of(&[plan_args, case_args, &s.args]);
        crate::scenario::check_args(scenarios.iter().map(|sc| &sc.source), &args).map_err(msg)?;
        Ok((
            label,
            Action::Run {
                scenarios,
                args,
                faults,
                connect: s.connect.clone(),
            },
        ))
    }

    /// The scenarios a `run` names, each with its instance count, within the step bound.
    fn step_scenarios(plan_dir: &Path, s: &StepSection) -> Result<Vec<ScenarioSpec>, StepError> {
        let items = s.run.as_ref().map(|r| r.items()).unwrap_or_default();
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
        let fields = s.executor_fields().map_err(msg)?;
        // A well-formed pin of a step's one scenario lets a reference come from the cache
        // (`check_pin` reports a malformed one).
        let pin = s
            .sha256
            .as_ref()
            .map(|p| p.get_ref().trim().to_ascii_lowercase())
            .filter(|p| {
                items.len() == 1 && p.len() == 64 && p.chars().all(|c| c.is_ascii_hexdigit())
            });
        let mut scenarios = Vec::new();
        for item in &items {
            let (name, instances) = split_instances(item, default).map_err(msg)?;
            let source =
                resolve_scenario(plan_dir, &name, pin.as_deref()).map_err(StepError::Scenario)?;
            let executor = fields
                .executor(instances, |f| {
                    if f == "stage" {
                        "stages".into()
                    } else {
                        f.to_owned()
                    }
                })
                .map_err(msg)?;
            scenarios.push(ScenarioSpec {
                source,
                instances,
                executor,
                trim: fields.trim,
            });
        }
        let together: u64 = scenarios.iter().map(|s| s.instance_count() as u64).sum();
        if together > max as u64 {
            return Err(msg(format!(
                "the step starts {together} instances, more than {max}, the most one run \
                 step may start"
            )));
        }
        Ok(scenarios)
    }

    /// A `run` step's timed faults, in the order of their offsets.
    fn timed_faults(
        s: &StepSection,
        cluster: &ClusterShape,
    ) -> Result<Vec<(Duration, Fault)>, StepError> {
        let mut faults = Vec::new();
        for f in &s.faults {
            let set = [f.kill.is_some(), f.stop.is_some(), f.start.is_some()];
            let network = f.network();
            if set.iter().filter(|x| **x).count() + network.count() != 1 {
                return Err(msg(
                    "a timed fault needs exactly one of kill, stop, start, partition, from/to, \
                     isolate, ring, heal, pause, resume"
                        .into(),
                ));
            }
            let fault = if let Some(fault) = Fault::network(&network, cluster)? {
                fault
            } else if let Some(m) = &f.kill {
                Fault::Kill(m.clone())
            } else if let Some(m) = &f.stop {
                Fault::Stop(m.clone())
            } else {
                Fault::Start(f.start.clone().unwrap_or_default())
            };
            if !fault.is_network() {
                check_members(fault.members(), cluster)?;
            }
            let after = *f.after_ms.get_ref();
            if after > MAX_AFTER_MS {
                return Err(StepError::At(
                    f.after_ms.span().start,
                    format!(
                        "after-ms = {after} is later than the maximum, {MAX_AFTER_MS} (one hour)"
                    ),
                ));
            }
            faults.push((Duration::from_millis(after), fault));
        }
        faults.sort_by_key(|(after, _)| *after);
        Ok(faults)
    }

    /// A `kill`, `stop`, `start`, `wait-safe` or `sleep-ms` step.
    fn other_action(s: &StepSection, cluster: &ClusterShape) -> Result<Action, StepError> {
        if let Some(fault) = Fault::network(&s.network(), cluster)? {
            Ok(Action::Fault(fault))
        } else if let Some(m) = &s.kill {
            check_members(m, cluster)?;
            Ok(Action::Fault(Fault::Kill(m.clone())))
        } else if let Some(m) = &s.stop {
            check_members(m, cluster)?;
            Ok(Action::Fault(Fault::Stop(m.clone())))
        } else if let Some(m) = &s.start {
            check_members(m, cluster)?;
            Ok(Action::Fault(Fault::Start(m.clone())))
        } else if let Some(w) = s.wait_safe {
            if !w {
                return Err(msg("wait-safe = false does nothing: leave it out".into()));
            }
            Ok(Action::WaitSafe)
        } else {
            let ms = s.sleep_ms.as_ref().map_or(0, |m| *m.get_ref());
            if ms > MAX_SLEEP_MS {
                let at = s.sleep_ms.as_ref().map_or(0, |m| m.span().start);
                return Err(StepError::At(
                    at,
                    format!("sleep-ms = {ms} is more than the maximum, {MAX_SLEEP_MS} (one hour)"),
                ));
            }
            Ok(Action::Sleep(Duration::from_millis(ms)))
        }
    }
}

fn msg(m: String) -> StepError {
    StepError::Message(m)
}

/// Members named by a step or fault exist, once each.
fn check_members(ms: &[usize], cluster: &ClusterShape) -> Result<(), StepError> {
    if ms.is_empty() {
        return Err(msg("the member list is empty".into()));
    }
    for (i, &m) in ms.iter().enumerate() {
        if m == 0 || m > cluster.members {
            return Err(msg(format!(
                "there is no member {m}: the cluster has members 1..={}",
                cluster.members
            )));
        }
        if ms[..i].contains(&m) {
            return Err(msg(format!("member {m} is named twice")));
        }
    }
    Ok(())
}

/// A step's `sha256` is 64 hex digits and matches its one scenario's bytes.
fn check_pin(spanned: &toml::Spanned<String>, scenarios: &[ScenarioSpec]) -> Result<(), StepError> {
    let pin = spanned.get_ref();
    if scenarios.len() != 1 {
        return Err(msg("sha256 pins a step that runs one scenario".into()));
    }
    let digits = pin.trim();
    if digits.len() != 64 || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(StepError::At(
            spanned.span().start,
            format!(
                "sha256 = {pin:?} is not a SHA-256: 64 hexadecimal digits, as `hzlab inspect` \
                 prints them"
            ),
        ));
    }
    let actual = crate::scenario::sha256_hex(scenarios[0].source.bytes());
    if !actual.eq_ignore_ascii_case(digits) {
        return Err(msg(format!(
            "{} has SHA-256 {actual}, but the plan pins {pin}",
            scenarios[0].source.display_name()
        )));
    }
    Ok(())
}

enum StepError {
    /// At the step's header.
    Message(String),
    /// At this offset of the plan's text (a key's value).
    At(usize, String),
    Scenario(LoadError),
}

/// The values a check may read from the step or scenario `label`, where they are known: a
/// fault step's figures, a shipped scenario's records and counters; `None` when they cannot
/// be known before running (a scenario file).
fn readable_values(steps: &[Step], label: &str) -> Option<Vec<&'static str>> {
    let scenario_values = |sc: &ScenarioSpec| sc.source.contract().map(|c| c.values.to_vec());
    if let Some(step) = steps.iter().find(|s| s.label == label) {
        return match &step.action {
            Action::Fault(Fault::Kill(_)) => Some(vec!["predicted", "observed", "running"]),
            Action::Fault(f) if f.is_network() => Some(Vec::new()),
            Action::Fault(_) => Some(vec!["observed", "running"]),
            Action::WaitSafe | Action::Sleep(_) => Some(Vec::new()),
            Action::Run { scenarios, .. } => {
                // The scenario the label names, else the step's first one.
                let sc = scenarios
                    .iter()
                    .find(|sc| sc.source.name() == label)
                    .unwrap_or(&scenarios[0]);
                scenario_values(sc)
            }
        };
    }
    steps
        .iter()
        .filter_map(|s| match &s.action {
            Action::Run { scenarios, .. } => scenarios.iter().find(|sc| sc.source.name() == label),
            _ => None,
        })
        .next()
        .and_then(scenario_values)
}

#[cfg(test)]
mod tests;
