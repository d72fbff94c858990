//! `hzlab run PLAN.toml` and `hzlab check PLAN.toml`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use hzlab::engine::InstanceLimits;
use hzlab::plan::exec::{self, PlanBackend, PlanOptions, PlanResult};
use hzlab::plan::{summary, Plan};
use hzlab::runner::Progress;

use super::{exit, progress};

/// Whether the positional arguments name a plan file rather than scenarios.
pub fn is_plan(scenarios: &[String]) -> bool {
    matches!(scenarios, [one] if one.ends_with(".toml"))
}

/// Options `hzlab run` passes on to a plan.
pub struct PlanRun<'a> {
    pub path: &'a Path,
    pub repeat: Option<u32>,
    pub seed: Option<u64>,
    pub timeout: f64,
    pub memory_limit_mib: usize,
    pub quiet: bool,
    pub report: Option<&'a Path>,
    pub json: Option<&'a Path>,
    pub cluster: &'a [String],
    /// Start local members per case instead of using the embedded cluster.
    pub local: bool,
}

pub fn run(p: PlanRun<'_>) -> anyhow::Result<u8> {
    let plan = Plan::load(p.path)?;
    if !p.cluster.is_empty() {
        eprintln!(
            "hzlab: error: a plan starts its own clusters (embedded, or local members with \
             --local) so that it can inject faults; running one against members given with \
             --cluster is not supported yet"
        );
        return Ok(exit::UNREACHABLE);
    }
    if p.repeat == Some(0) {
        anyhow::bail!("--repeat must be at least 1");
    }
    let options = PlanOptions {
        backend: if p.local {
            PlanBackend::Local
        } else {
            PlanBackend::Embedded
        },
        repeat: p.repeat,
        limits: InstanceLimits {
            time_budget: Duration::from_secs_f64(p.timeout),
            memory_cap: p.memory_limit_mib << 20,
        },
        echo_logs: !p.quiet,
        seed: p.seed.unwrap_or_else(super::run::random_seed),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let result = runtime.block_on(async {
        let state = Arc::new(Progress::default());
        let line = progress::spawn(state.clone(), !p.quiet);
        let result = exec::run_plan(&plan, &options, state).await;
        progress::stop(line);
        result
    })?;
    print!("{}", summary::summary(&result));
    if let Some(path) = p.json {
        write(path, &to_json(&result))?;
    }
    if let Some(dir) = p.report {
        write_report(dir, &result)?;
        println!("report written to {}", dir.display());
    }
    Ok(if result.infrastructure_failed {
        exit::UNREACHABLE
    } else if result.passed {
        exit::OK
    } else {
        exit::CHECK_FAILED
    })
}

fn to_json(r: &PlanResult) -> String {
    serde_json::to_string_pretty(r).expect("plan results always serialize")
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    if path.as_os_str() == "-" {
        println!("{text}");
        return Ok(());
    }
    std::fs::write(path, format!("{text}\n"))
        .with_context(|| format!("cannot write {}", path.display()))
}

/// report.json (the plan's result), report.md and report.html: every run step of every
/// repeat, the faults (entries per member before and after, predicted and observed loss),
/// checks and spread over repeats.
fn write_report(dir: &Path, r: &PlanResult) -> anyhow::Result<()> {
    hzlab::report::write_report_as(dir, &hzlab::report::from_plan(r), r)?;
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
