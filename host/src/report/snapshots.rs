//! Snapshot tests: the terminal summary, report.md and report.html of a fixed run, compared line for line
//! with the files in `snapshots/`, so a change to what people read shows in review (the
//! `contains` checks elsewhere miss most of it). `HZLAB_UPDATE_SNAPSHOTS=1 cargo test -p hzlab
//! --lib snapshots` rewrites the files after an intended change.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::backend::BackendInfo;
use crate::latency::{Latencies, OpKind, OpLatencies};
use crate::results::{
    Check, InstanceResult, LogLine, Outcome, Phase, Recorded, RunResult, ScenarioResult, Status,
};
use crate::timeline::QueueTimelines;

use super::{markdown, summary, Report};

/// A run of `race:3` that lost updates, with one instance that failed part-way.
fn run() -> RunResult {
    let mut ops = OpLatencies::default();
    for (i, ns) in [80_000u64, 95_000, 110_000, 150_000, 2_400_000]
        .iter()
        .enumerate()
    {
        ops.record(OpKind::MapGet, *ns);
        ops.record(OpKind::MapPut, ns + 10_000 * i as u64);
    }
    let mut latency = Latencies::default();
    latency.add(&ops);
    let instance = |index: u32, outcome: Outcome, ops: u64, increments: i64| InstanceResult {
        index,
        outcome,
        elapsed_ms: 12.5 + index as f64,
        ops,
        recorded: Recorded {
            values: BTreeMap::new(),
            counters: BTreeMap::from([("increments".to_owned(), increments)]),
        },
    };
    let scenario = ScenarioResult {
        step: 0,
        name: "race".into(),
        source: "shipped:race".into(),
        setup: Outcome::ok(),
        instances: vec![
            instance(0, Outcome::ok(), 20_000, 10_000),
            instance(1, Outcome::ok(), 20_000, 10_000),
            instance(
                2,
                Outcome {
                    status: Status::Failed,
                    error: Some(
                        "run: stopped at increment 4,001 of 10000 (4000 acknowledged): timeout"
                            .into(),
                    ),
                },
                8_001,
                4_000,
            ),
        ],
        verify: Outcome::ok(),
        recorded: Recorded {
            values: BTreeMap::from([
                ("expected".to_owned(), serde_json::json!(24_000)),
                ("final".to_owned(), serde_json::json!(13_983)),
                ("lost".to_owned(), serde_json::json!(10_017)),
            ]),
            counters: BTreeMap::new(),
        },
        totals: BTreeMap::from([("increments".to_owned(), 24_000)]),
        checks: vec![Check {
            name: "no-lost-updates".into(),
            ok: false,
            detail: "final 13983, expected 24000 acknowledged".into(),
            instance: None,
        }],
        logs: vec![LogLine {
            at_ms: 3.25,
            phase: Phase::Setup,
            instance: None,
            level: "info",
            message: "counter reset to 0".into(),
        }],
        logs_dropped: 0,
        latency,
        iterations: None,
        series: Vec::new(),
    };
    RunResult {
        hzlab: "0.0.0-snapshot",
        backend: BackendInfo {
            kind: "embedded",
            description: "embedded cluster: 271 partitions, backup-count 1, async-backup-count 0"
                .into(),
            members: 3,
            members_at_end: 2,
            partitions: 271,
            backup_count: Some(1),
            async_backup_count: Some(0),
            queue_capacity: None,
        },
        seed: 42,
        args: vec![("iterations".into(), "10000".into())],
        elapsed_ms: 48.75,
        scenarios: vec![scenario],
        passed: false,
        interrupted: false,
        queues: QueueTimelines::default(),
    }
}

fn compare(name: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("src/report/snapshots")
        .join(name);
    if std::env::var_os("HZLAB_UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (HZLAB_UPDATE_SNAPSHOTS=1 writes it)",
            path.display()
        )
    });
    if expected != actual {
        let first = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(expected.lines().count().min(actual.lines().count()));
        panic!(
            "{} differs from the output, first at line {}:\n  expected: {:?}\n  actual:   {:?}\n\
             whole output:\n{actual}\n(HZLAB_UPDATE_SNAPSHOTS=1 rewrites the file after an \
             intended change)",
            path.display(),
            first + 1,
            expected.lines().nth(first),
            actual.lines().nth(first),
        );
    }
}

#[test]
fn the_terminal_summary() {
    compare("summary.txt", &summary::summary(&run()));
}

#[test]
fn report_html() {
    let mut report = Report::new("race:3");
    report.hzlab = "0.0.0-snapshot";
    report.add_run("run", run());
    compare("report.html", &super::html::render(&report));
}

/// A queue's fill level with a capacity line, two producers' blocked spans and refused
/// offers, and more steps than pixel columns (merged per column).
#[test]
fn queue_timeline_svg() {
    use super::svg::{timeline, TimelinePlot, Track};
    let steps: Vec<(f64, f64)> = (0..2000)
        .map(|i| (i as f64 * 0.25, ((i * 7) % 11) as f64))
        .collect();
    let tracks = [
        Track {
            label: "producer 0".into(),
            spans: vec![(10.0, 60.0), (55.0, 90.0), (300.0, 320.0)],
            ticks: vec![5.0, 5.1, 200.0],
        },
        Track {
            label: "producer <1>".into(),
            spans: vec![(400.0, 480.0)],
            ticks: vec![],
        },
    ];
    let svg = timeline(&TimelinePlot {
        title: "queue `q` fill level",
        x: (0.0, 500.0),
        start: 0.0,
        steps: &steps,
        limit: Some((10.0, "capacity 10".into())),
        tracks: &tracks,
    });
    compare("timeline.svg", &(svg + "\n"));
}

#[test]
fn report_md() {
    let mut report = Report::new("race:3");
    report.hzlab = "0.0.0-snapshot";
    report.add_run("run", run());
    compare("report.md", &markdown::render(&report));
}
