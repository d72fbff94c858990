//! `hzlab history check FILE`: checks a history file offline with the same checkers as
//! `hzlab run --history`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};
use hzlab::history::{self, Model, Models};

use super::exit;

#[derive(Debug, Args)]
pub struct HistoryArgs {
    #[command(subcommand)]
    command: HistoryCommand,
}

#[derive(Debug, Subcommand)]
enum HistoryCommand {
    /// Check a history (written by `hzlab run --history FILE`): counters, linearizability of
    /// map keys, locks, queues, sets. Exit 0 when every check holds, 1 when one is violated
    /// or undecided (the counterexample is printed), 2 when the file is malformed.
    Check {
        /// The history: one JSON event per line.
        file: PathBuf,
        /// Which checker: auto (each structure by its operations), register (every map key
        /// as a register, linearizability), lock, queue or set.
        #[arg(long, default_value = "auto", value_parser = parse_model)]
        model: Model,
        /// Also write what the checkers found as JSON to OUT (`-` for standard output).
        #[arg(long, value_name = "OUT")]
        json: Option<PathBuf>,
        /// Time the linearizability search may spend on the whole history, in seconds (keys
        /// left when it runs out are undecided).
        #[arg(long, default_value_t = 20.0, value_name = "SECS")]
        budget_secs: f64,
    },
}

fn parse_model(s: &str) -> Result<Model, String> {
    s.parse()
}

pub fn run(args: HistoryArgs) -> anyhow::Result<u8> {
    let HistoryCommand::Check {
        file,
        model,
        json,
        budget_secs,
    } = args.command;
    super::check_positive("--budget-secs", budget_secs)?;
    let events = history::read(&file)?;
    let mut models = Models {
        model,
        ..Models::default()
    };
    models.budget.time = Duration::from_secs_f64(budget_secs);
    let check = history::check_with(&events, &models);
    let text = hzlab::report::history_summary(&file.display().to_string(), &check);
    let to_stdout = json.as_deref().is_some_and(|p| p.as_os_str() == "-");
    if to_stdout {
        super::out::eprint(&text);
    } else {
        super::out::print(&text);
    }
    if let Some(path) = json {
        let doc = serde_json::to_string_pretty(&check).context("cannot serialize the check")?;
        if to_stdout {
            super::out::print(&format!("{doc}\n"));
        } else {
            std::fs::write(&path, doc + "\n")
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
    }
    Ok(if check.clean() {
        exit::OK
    } else {
        exit::CHECK_FAILED
    })
}
