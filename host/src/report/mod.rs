//! Reports of a run: the terminal summary, the JSON document, and `--report DIR`'s
//! `report.json`, `report.md` and `report.html` (see [`Report`] for the fields).
//!
//! The renderers work per [`RunResult`] ([`html::run_section`], [`markdown::run_section`],
//! [`summary::latency_table`]), so a plan's report is the same pieces, one per run, plus the
//! optional [`FaultSection`]s, [`ReportCheck`]s and [`HistorySection`].

mod document;
mod facts;
mod files;
pub mod html;
pub mod markdown;
mod over_time;
mod plan;
#[cfg(test)]
mod snapshots;
pub mod summary;
pub mod svg;

pub use document::{FaultSection, HistorySection, Report, ReportCheck, ReportRun, SpreadRow};
pub use files::{write_report, write_report_as, ReportError};
pub use over_time::lines_chart as over_time_lines;
pub use plan::from_plan;
pub use summary::{history_summary, summary};

use crate::results::RunResult;

/// The run as a JSON document (the format of `hzlab run --json`).
pub fn to_json(result: &RunResult) -> String {
    serde_json::to_string_pretty(result).expect("run results always serialize")
}
