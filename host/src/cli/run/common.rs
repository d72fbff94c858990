//! What scenario runs and plan runs share: their outputs, opened and checked before the run
//! starts and written after it, the async runtime, the seed and the exit code.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;

use hzlab::history::HistoryWriter;
use hzlab::report::{self, HistorySection};

use super::args::RunArgs;
use crate::cli::exit;
use crate::cli::out::Human;
use crate::cli::outputs::{self, JsonOut};

/// A run's outputs (`--json`, `--report`, `--history`), every one checked before anything
/// runs: an unwritable target is bad input found at once, not after the run.
pub(super) struct Outputs {
    /// Taken when the document is written.
    pub json: Option<JsonOut>,
    pub report: Option<PathBuf>,
    history: Option<(Arc<HistoryWriter>, PathBuf)>,
    /// Where the summary goes: standard error when `--json -` takes standard output.
    pub human: Human,
}

impl Outputs {
    pub fn open(args: &RunArgs) -> anyhow::Result<Outputs> {
        let json = args.json.as_deref().map(JsonOut::open).transpose()?;
        let report = args.report_dir().map(Path::to_owned);
        if let Some(dir) = &report {
            outputs::check_report_dir(dir)?;
        }
        let history = match &args.history {
            Some(path) => Some((Arc::new(HistoryWriter::create(path)?), path.clone())),
            None => None,
        };
        let human = if json.as_ref().is_some_and(JsonOut::is_stdout) {
            Human::Stderr
        } else {
            Human::Stdout
        };
        Ok(Outputs {
            json,
            report,
            history,
            human,
        })
    }

    /// The history writer the run records its operations with, if `--history` was given.
    pub fn history_writer(&self) -> Option<Arc<HistoryWriter>> {
        self.history.as_ref().map(|(w, _)| w.clone())
    }

    /// Flushes the history, checks it with `models`, prints what the checkers found and
    /// returns it for the report (None without `--history`).
    pub fn finish_history(
        &self,
        models: &hzlab::history::Models,
    ) -> anyhow::Result<Option<HistorySection>> {
        let Some((writer, path)) = &self.history else {
            return Ok(None);
        };
        let events = writer.finish()?;
        let check = hzlab::history::check_with(&hzlab::history::read(path)?, models);
        let file = path.display().to_string();
        self.human.print(&report::history_summary(&file, &check));
        Ok(Some(HistorySection {
            file,
            events,
            check,
        }))
    }
}

/// The runtime a run goes on: one thread, so that instances interleave only at their
/// operations (as the seed draws them on the embedded cluster); on real members the client's
/// connections share it.
pub(super) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// A seed for the embedded cluster's interleaving when none is given.
pub(super) fn random_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    (nanos ^ (std::process::id() as u64).rotate_left(32)) % 1_000_000_000
}

/// The exit code of a run that ended: interrupted comes first, then a lost cluster, then the
/// checks.
pub(super) fn exit_code(interrupted: bool, cluster_lost: bool, passed: bool) -> u8 {
    if interrupted {
        exit::INTERRUPTED
    } else if cluster_lost {
        exit::UNREACHABLE
    } else if passed {
        exit::OK
    } else {
        exit::CHECK_FAILED
    }
}
