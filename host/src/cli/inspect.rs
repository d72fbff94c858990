//! `hzlab inspect`: what a scenario file targets, imports and exports, its size and hash; for
//! a plan artifact in a registry, its plan file and each of its components.

use anyhow::Result;
use hzlab::scenario::ScenarioSource;

use super::exit;

pub fn run(spec: String) -> Result<u8> {
    if let Some(plan) = super::registry_cmd::plan_reference(&spec)? {
        return inspect_plan(&plan);
    }
    let source = match ScenarioSource::resolve(&spec) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("hzlab: error: {e}");
            return Ok(exit::BAD_INPUT);
        }
    };
    match hzlab::kit::inspect(&source.display_name(), source.bytes()) {
        Ok(i) => {
            println!("{i}");
            Ok(exit::OK)
        }
        Err(e) => {
            eprintln!("hzlab: error: {e}");
            Ok(exit::BAD_INPUT)
        }
    }
}

/// The plan artifact's files, and each component inspected as a file is; exit 2 when one
/// does not pass.
fn inspect_plan(plan: &hzlab::registry::PulledPlan) -> Result<u8> {
    println!("plan     {}", plan.reference);
    println!("manifest {}", plan.manifest_digest);
    println!("file     {}", plan.plan);
    println!("holds    {} component(s)", plan.components.len());
    let mut code = exit::OK;
    for component in &plan.components {
        let bytes = std::fs::read(plan.folder.join(component))?;
        println!();
        match hzlab::kit::inspect(component, &bytes) {
            Ok(i) => println!("{i}"),
            Err(e) => {
                eprintln!("hzlab: error: {e}");
                code = exit::BAD_INPUT;
            }
        }
    }
    Ok(code)
}
