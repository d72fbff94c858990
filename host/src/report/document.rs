//! The report document (`report.json`) and the optional sections a plan run adds to it.
//!
//! `report.json` fields (stable; new fields may be added):
//!
//! | field | meaning |
//! | --- | --- |
//! | `hzlab` | hzlab's version |
//! | `title` | what was run (the command line's scenarios, or the plan's name) |
//! | `passed` | every run passed and every check held |
//! | `interrupted` | the run was stopped by Ctrl-C or SIGTERM: the results are what it had gathered by then |
//! | `runs[]` | one per run: `label` (e.g. `race · repeat 2`) and `result`, the [`RunResult`] (`hzlab run --json`'s document: `backend`, `seed`, `elapsed_ms`, `scenarios[]` with `instances[]`, recorded `values` and `counters`, `totals`, `checks`, `logs`, and `latency` by operation: `count`, `mean_us`, `p50_us`, `p90_us`, `p99_us`, `max_us`; and, when queues were used, `queues[]`, each queue's timeline: `name`, `base`, `events[]` (`t_us`, `delta`, `scenario`, `instance`), `full[]` (`t_us`, `scenario`, `instance`), `blocked[]` (`start_us`, `end_us`, `scenario`, `instance`, `added`), `dropped`, `complete_until_us`, as [`crate::timeline`] describes them) |
//! | `runs[].fault_events[]` | (plans) faults put in force during a run step: `kind`, `what`, `at_ms` (from the step's instances' start, the clock of its `series`), `until_ms` (kills, stops, starts: when the cluster was safe again) |
//! | `faults[]` | (plans) per fault: `label`, `map`, `before[]` / `after[]` entries per member (`member`, `address`, `running`, `owned_partitions`, `owned_entries`, `backup_entries`), `predicted_loss`, `observed_loss` |
//! | `checks[]` | (plans) checks on recorded values: `label`, `that`, `ok`, `detail` |
//! | `spread[]` | (plans) a recorded value over repeats: `label`, `name`, `values`, `mean`, `min`, `max` |
//! | `history` | (`--history`) `file`, `events`, and `check`: `ops`, `ok`, `failed`, `unknown`, `counters[]` (`scenario`, `map`, `key`, `initial`, `final`, `updates`, `delta`, `expected_final`, `lost_updates`, `uncertain_writes`), `queues[]` (`queue`, `added`, `taken`, `remaining`, `lost`, `duplicated`, `uncertain`, `unexpected`), `linearizability[]` (`map`, `model`, `keys`, `ops`, `unknown_ops`, `linearizable`, `not_linearizable`, `undecided`, `key_checks[]` with `verdict` and `counterexample`: `culprit`, `window`, `valid_prefix_len`), `locks[]` (`map`, `key`, `holds`, `overlaps`, `examples`, `uncertain`, `lost`), `sets[]` (`map`, `acknowledged`, `present`, `lost`, `uncertain`, `recovered`, `unexpected`) |
//! | `plan` | (plans) `file`, `name`, `description`, `repeat`, `elapsed_ms`, `infrastructure_failed` |

use serde::Serialize;

use crate::cluster::{Distribution, MemberDistribution};
use crate::history::HistoryCheck;
use crate::plan::exec::FaultEvent;
use crate::results::RunResult;

/// One run of the report: a `hzlab run`, or one step of one repeat of a plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportRun {
    pub label: String,
    pub result: RunResult,
    /// (plans) The faults put in force during the run step, on the clock of its series.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fault_events: Vec<FaultEvent>,
}

/// What one fault did to a map's entries: entries per member before and after, and the
/// entries predicted lost (every copy on the crashed members) against those observed lost.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FaultSection {
    /// What the fault was, e.g. `kill members 2 and 3 at once (backup-count 1)`.
    pub label: String,
    pub map: String,
    pub before: Vec<MemberDistribution>,
    pub after: Vec<MemberDistribution>,
    pub predicted_loss: Option<u64>,
    pub observed_loss: Option<u64>,
}

impl FaultSection {
    pub fn new(
        label: impl Into<String>,
        before: &Distribution,
        after: &Distribution,
        predicted_loss: Option<u64>,
        observed_loss: Option<u64>,
    ) -> FaultSection {
        FaultSection {
            label: label.into(),
            map: before.map.clone(),
            before: before.members.clone(),
            after: after.members.clone(),
            predicted_loss,
            observed_loss,
        }
    }
}

/// One recorded value over repeats (plans), e.g. `race.final` of every repeat: the plan
/// runner's own type; in a report, `label` is the case and `name` is `label.value`.
pub use crate::plan::exec::ValueSpread as SpreadRow;

/// A check on recorded values (plans), e.g. `race.final < 30000`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportCheck {
    /// Where it belongs (a case, a repeat).
    pub label: String,
    pub that: String,
    pub ok: bool,
    pub detail: String,
}

/// The operation history of a run and what its checker found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistorySection {
    pub file: String,
    pub events: u64,
    pub check: HistoryCheck,
}

/// Everything `--report DIR` writes. Build it with [`Report::new`] and the `add_*` methods;
/// [`write_report`] writes `report.json`, `report.md` and `report.html`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub hzlab: &'static str,
    pub title: String,
    pub passed: bool,
    /// A run was interrupted (Ctrl-C, SIGTERM): what the report holds is what it had by then.
    pub interrupted: bool,
    pub runs: Vec<ReportRun>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<FaultSection>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<ReportCheck>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub spread: Vec<SpreadRow>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<HistorySection>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<serde_json::Value>,
}

impl Report {
    pub fn new(title: impl Into<String>) -> Report {
        Report {
            hzlab: env!("CARGO_PKG_VERSION"),
            title: title.into(),
            passed: true,
            interrupted: false,
            runs: Vec::new(),
            faults: Vec::new(),
            checks: Vec::new(),
            spread: Vec::new(),
            history: None,
            plan: None,
        }
    }

    /// Adds a run; a run that did not pass fails the report.
    pub fn add_run(&mut self, label: impl Into<String>, result: RunResult) -> &mut Report {
        self.passed &= result.passed;
        self.interrupted |= result.interrupted;
        self.runs.push(ReportRun {
            label: label.into(),
            result,
            fault_events: Vec::new(),
        });
        self
    }

    /// Adds a plan's run step with the faults put in force during it.
    pub fn add_step_run(
        &mut self,
        label: impl Into<String>,
        result: RunResult,
        fault_events: Vec<FaultEvent>,
    ) -> &mut Report {
        self.add_run(label, result);
        if let Some(run) = self.runs.last_mut() {
            run.fault_events = fault_events;
        }
        self
    }

    pub fn add_fault(&mut self, fault: FaultSection) -> &mut Report {
        self.faults.push(fault);
        self
    }

    /// Adds a check; a failed one fails the report.
    pub fn add_check(&mut self, check: ReportCheck) -> &mut Report {
        self.passed &= check.ok;
        self.checks.push(check);
        self
    }

    pub fn add_spread(&mut self, row: SpreadRow) -> &mut Report {
        self.spread.push(row);
        self
    }

    pub fn set_history(&mut self, history: HistorySection) -> &mut Report {
        self.history = Some(history);
        self
    }

    /// Keeps a document about the whole run (for plans: the plan's name, file, repeats) in
    /// `report.json` as `plan`.
    pub fn set_plan<T: Serialize>(&mut self, plan: &T) -> &mut Report {
        self.plan = serde_json::to_value(plan).ok();
        self
    }
}
