//! `hzlab compare`: runs, or a plan's repeats, side by side.

use std::path::PathBuf;

use anyhow::{Context, Result};

use super::{exit, out};

#[derive(Debug, clap::Args)]
pub struct CompareArgs {
    /// JSON documents hzlab wrote: a run's `--json` or `report.json`, or a plan's. One plan
    /// document with repeats compares its repeats.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Also write DIR/compare.html: the tables, latency-percentile curves overlaid, and
    /// throughput over time.
    #[arg(long, value_name = "DIR")]
    report: Option<PathBuf>,
}

pub fn run(args: CompareArgs) -> Result<u8> {
    let inputs = args
        .files
        .iter()
        .map(|f| hzlab::compare::load(f))
        .collect::<Result<Vec<_>, _>>()?;
    let comparison = hzlab::compare::compare(&inputs)?;
    out::print(&hzlab::compare::render_text(&comparison));
    if let Some(dir) = &args.report {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the report directory {}", dir.display()))?;
        let path = hzlab::compare::html_path(dir);
        std::fs::write(&path, hzlab::compare::render_html(&comparison))
            .with_context(|| format!("cannot write {}", path.display()))?;
        out::eprint(&format!("comparison written to {}\n", path.display()));
    }
    Ok(exit::OK)
}
