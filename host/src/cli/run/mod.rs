//! `hzlab run`: a plan file or scenarios, decided here once; both share the options
//! ([`args`]) and the outputs, runtime, seed and exit code ([`common`]).

mod args;
mod common;
mod plan;
mod scenarios;

pub use args::RunArgs;

pub fn run(args: RunArgs) -> anyhow::Result<u8> {
    args.access.apply()?;
    if let [one] = args.scenarios.as_slice() {
        if let Some(plan) = super::registry_cmd::plan_reference(one)? {
            return plan::run(&plan.plan_path(), &args);
        }
    }
    match args.plan_file() {
        Some(path) => plan::run(path, &args),
        None => scenarios::run(&args),
    }
}
