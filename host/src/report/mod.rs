//! Reports of a run: the terminal summary and the JSON document.

mod summary;

pub use summary::{summary, thousands};

use crate::results::RunResult;

/// The run as a JSON document (the format of `hzlab run --json`).
pub fn to_json(result: &RunResult) -> String {
    serde_json::to_string_pretty(result).expect("run results always serialize")
}
