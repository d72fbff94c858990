//! `hzlab build`: a scenario project to a component.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use hzlab::kit::{self, BuildOptions};

use super::exit;

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The project directory (made with `hzlab new`).
    #[arg(default_value = ".")]
    pub dir: PathBuf,
}

/// Builds `args.dir`; `verbose` (`-v`) shows the output of cargo or componentize-py as
/// they run.
pub fn run(args: BuildArgs, verbose: bool) -> Result<u8> {
    let options = BuildOptions {
        verbose,
        ..BuildOptions::default()
    };
    match kit::build(&args.dir, &options) {
        Ok(b) => {
            println!(
                "built {} ({} scenario, {} bytes): run it with `hzlab run {} --instances 4`",
                b.component.display(),
                b.lang.name(),
                b.size,
                b.component.display()
            );
            Ok(exit::OK)
        }
        Err(e) => Ok(super::new::report(e)),
    }
}
