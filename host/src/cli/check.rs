//! `hzlab check PLAN.toml`: validates a plan without running it.

use std::path::PathBuf;

use hzlab::plan::Plan;

use super::exit;

/// Validates the plan at `path` and says what it holds.
pub fn run(path: PathBuf) -> anyhow::Result<u8> {
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
