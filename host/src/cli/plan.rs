//! `hzlab run PLAN.toml` and `hzlab check PLAN.toml`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use hzlab::history::HistoryWriter;
use hzlab::plan::exec::{self, ClusterTarget, PlanBackend, PlanOptions, PlanResult};
use hzlab::plan::{summary, Plan};
use hzlab::report::HistorySection;
use hzlab::runner::Progress;

use super::out::Human;
use super::outputs::{self, JsonOut};
use super::{exit, interrupt, progress};

/// Whether the positional arguments name a plan file rather than scenarios.
pub fn is_plan(scenarios: &[String]) -> bool {
    matches!(scenarios, [one] if one.ends_with(".toml"))
}

/// Options `hzlab run` passes on to a plan.
pub struct PlanRun<'a> {
    pub path: &'a Path,
    pub repeat: Option<u32>,
    /// Run only the cases whose name contains one of these (all when empty).
    pub cases: &'a [String],
    pub seed: Option<u64>,
    pub timeout: f64,
    pub memory: super::run::MemoryOptions,
    pub quiet: bool,
    pub report: Option<&'a Path>,
    pub json: Option<&'a Path>,
    /// Members that run already (`--cluster`); empty: none.
    pub cluster: &'a [String],
    pub cluster_name: Option<&'a str>,
    /// Where `hzlab cluster up` run directories live (`--dir`).
    pub clusters_dir: Option<&'a Path>,
    pub invocation_timeout: f64,
    /// `--heartbeat-timeout`, with `--cluster`.
    pub heartbeat_timeout: f64,
    /// Record every operation of every run step here (`--history`).
    pub history: Option<&'a Path>,
    pub fail_on_indeterminate: bool,
    /// Start local members per case instead of using the embedded cluster.
    pub local: bool,
}

pub fn run(p: PlanRun<'_>) -> anyhow::Result<u8> {
    let mut plan = Plan::load(p.path)?;
    select_cases(&mut plan, p.cases)?;
    if p.repeat == Some(0) {
        anyhow::bail!("--repeat must be at least 1");
    }
    super::check_positive("--timeout", p.timeout)?;
    let backend = if !p.cluster.is_empty() {
        super::check_positive("--invocation-timeout", p.invocation_timeout)?;
        super::check_positive("--heartbeat-timeout", p.heartbeat_timeout)?;
        let (cluster_name, run_dir) =
            super::cluster::identify(p.cluster, p.cluster_name, p.clusters_dir);
        match &run_dir {
            Some(dir) => eprintln!(
                "hzlab: members at {} are hzlab's cluster in {}: faults are injected there",
                p.cluster.join(","),
                dir.display()
            ),
            None => eprintln!(
                "hzlab: members at {} were not started by `hzlab cluster up`: steps that kill, \
                 stop, start or observe members will fail (exit 3)",
                p.cluster.join(",")
            ),
        }
        PlanBackend::Cluster(ClusterTarget {
            addresses: p.cluster.to_vec(),
            cluster_name,
            invocation_timeout: Duration::from_secs_f64(p.invocation_timeout),
            heartbeat_timeout: Duration::from_secs_f64(p.heartbeat_timeout),
            run_dir,
        })
    } else if p.local {
        PlanBackend::Local
    } else {
        PlanBackend::Embedded
    };
    // Every output is checked before anything runs: an unwritable target is found now.
    let json = p.json.map(JsonOut::open).transpose()?;
    if let Some(dir) = p.report {
        outputs::check_report_dir(dir)?;
    }
    // With `--json -`, standard output carries the JSON only; the summary goes to stderr.
    let human = if json.as_ref().is_some_and(JsonOut::is_stdout) {
        Human::Stderr
    } else {
        Human::Stdout
    };
    let options = PlanOptions {
        backend,
        repeat: p.repeat,
        limits: p.memory.limits(
            Duration::from_secs_f64(p.timeout),
            plan.most_instances_at_once(),
            p.quiet,
        )?,
        echo_logs: !p.quiet,
        seed: p.seed.unwrap_or_else(super::run::random_seed),
        fail_on_indeterminate: p.fail_on_indeterminate,
        history: match p.history {
            Some(path) => Some(Arc::new(HistoryWriter::create(path)?)),
            None => None,
        },
    };
    let state = Arc::new(Progress::default());
    interrupt::watch(&state)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let result = runtime.block_on(async {
        let line = progress::spawn(state.clone(), !p.quiet);
        let result = exec::run_plan(&plan, &options, state).await;
        progress::stop(line);
        result
    })?;
    human.print(&summary::summary(&result));
    let history = match (&options.history, p.history) {
        (Some(writer), Some(path)) => Some(super::run::finish_history(writer, path, human)?),
        _ => None,
    };
    let document = PlanDocument {
        result: &result,
        history: history.as_ref(),
    };
    if let Some(json) = json {
        json.write(&to_json(&document))?;
    }
    if let Some(dir) = p.report {
        let mut doc = hzlab::report::from_plan(&result);
        if let Some(h) = history.clone() {
            doc.set_history(h);
        }
        hzlab::report::write_report_as(dir, &doc, &document)?;
        human.print(&format!("report written to {}\n", dir.display()));
    }
    Ok(if result.interrupted {
        exit::INTERRUPTED
    } else if result.infrastructure_failed {
        exit::UNREACHABLE
    } else if result.passed {
        exit::OK
    } else {
        exit::CHECK_FAILED
    })
}

/// What `--json` and `report.json` hold for a plan: its result and, with `--history`, what
/// the history checker found.
#[derive(serde::Serialize)]
struct PlanDocument<'a> {
    #[serde(flatten)]
    result: &'a PlanResult,
    #[serde(skip_serializing_if = "Option::is_none")]
    history: Option<&'a HistorySection>,
}

fn to_json(r: &PlanDocument<'_>) -> String {
    serde_json::to_string_pretty(r).expect("plan results always serialize")
}

/// Keeps the cases whose name contains one of `patterns` (every case when there is none); an
/// error naming the plan's cases when no case matches.
fn select_cases(plan: &mut Plan, patterns: &[String]) -> anyhow::Result<()> {
    if patterns.is_empty() {
        return Ok(());
    }
    let names: Vec<String> = plan.cases.iter().map(|c| format!("`{}`", c.name)).collect();
    plan.cases
        .retain(|c| patterns.iter().any(|p| c.name.contains(p.as_str())));
    if plan.cases.is_empty() {
        anyhow::bail!(
            "no case of {} matches --case {}: its cases are {}",
            plan.path.display(),
            patterns.join(", --case "),
            names.join(", ")
        );
    }
    Ok(())
}

/// `hzlab check PLAN.toml`: validates without running.
pub fn check(path: PathBuf) -> anyhow::Result<u8> {
    let plan = Plan::load(&path)?;
    let steps: usize = plan.cases.iter().map(|c| c.steps.len()).sum();
    let checks: usize = plan.cases.iter().map(|c| c.checks.len()).sum();
    println!(
        "{}: plan `{}` is valid: {} case(s), {steps} step(s), {checks} check(s), repeat {}",
        path.display(),
        plan.name,
        plan.cases.len(),
        plan.repeat
    );
    Ok(exit::OK)
}
