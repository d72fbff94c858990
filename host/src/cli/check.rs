//! `hzlab check PLAN.toml`: validates a plan without running it.

use std::path::PathBuf;

use hzlab::plan::Plan;

use super::exit;

/// Validates the plan at `path` and says what it holds.
pub fn run(spec: String) -> anyhow::Result<u8> {
    let (path, plan) = match super::registry_cmd::plan_reference(&spec)? {
        Some(pulled) => (PathBuf::from(&spec), Plan::load(&pulled.plan_path())?),
        None => {
            let path = PathBuf::from(&spec);
            let plan = Plan::load(&path)?;
            (path, plan)
        }
    };
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
