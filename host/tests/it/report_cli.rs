//! `hzlab run … --report DIR --history FILE` through the binary: the three report files and
//! the history, checked for their structure.

use std::path::{Path, PathBuf};
use std::process::Command;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hzlab-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Tags open and close in order (void elements and `/>` aside), so the page is well-formed
/// enough for a browser and an XML reader of its SVG.
fn check_nesting(html: &str) {
    const VOID: [&str; 4] = ["meta", "br", "!doctype", "hr"];
    let mut stack: Vec<String> = Vec::new();
    let mut rest = html;
    while let Some(at) = rest.find('<') {
        rest = &rest[at + 1..];
        let end = rest.find('>').expect("a tag is closed");
        let tag = &rest[..end];
        rest = &rest[end + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            let open = stack
                .pop()
                .unwrap_or_else(|| panic!("</{name}> closes nothing"));
            assert_eq!(open, name, "<{open}> closed by </{name}>");
            continue;
        }
        let name = tag
            .split(|c: char| c.is_whitespace() || c == '/')
            .next()
            .unwrap()
            .to_ascii_lowercase();
        if tag.ends_with('/') || VOID.contains(&name.as_str()) {
            continue;
        }
        stack.push(name);
    }
    assert!(stack.is_empty(), "never closed: {stack:?}");
}

#[test]
fn report_and_history_of_the_seed_scenarios() {
    let dir = scratch("report");
    let report = dir.join("out");
    let history = dir.join("history.jsonl");
    let out = Command::new(env!("CARGO_BIN_EXE_hzlab"))
        .args([
            "run",
            "race:3",
            "then",
            "optimistic:3",
            "then",
            "producer:1",
            "consumer:2",
            "--arg",
            "iterations=300",
            "--queue-capacity",
            "10",
            "--seed",
            "3",
            "--quiet",
            "--report",
        ])
        .arg(&report)
        .arg("--history")
        .arg(&history)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The terminal: the latency table and the history checker's lines.
    assert!(stdout.contains("latency (µs)"), "{stdout}");
    assert!(stdout.contains("replace.replace-if-same"), "{stdout}");
    assert!(stdout.contains("lost updates 0"), "{stdout}");
    assert!(
        stdout.contains("100 added, 100 taken, lost 0, duplicated 0"),
        "{stdout}"
    );

    // report.json: stable field names.
    let json: serde_json::Value = serde_json::from_str(&read(&report.join("report.json"))).unwrap();
    assert_eq!(json["passed"], true);
    let runs = json["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1);
    let scenarios = runs[0]["result"]["scenarios"].as_array().unwrap();
    let names: Vec<&str> = scenarios
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["race", "optimistic", "producer", "consumer"]);
    let get = &scenarios[0]["latency"]["map.get"];
    assert_eq!(get["count"], 901, "900 increments and verify's read");
    for field in ["mean_us", "p50_us", "p90_us", "p99_us", "max_us"] {
        assert!(get[field].as_f64().unwrap() > 0.0, "{field}: {get}");
    }
    assert!(get["p50_us"].as_f64() <= get["p99_us"].as_f64());
    assert!(get["p99_us"].as_f64() <= get["max_us"].as_f64());
    assert!(
        scenarios[3]["latency"]["queue.poll"]["count"]
            .as_u64()
            .unwrap()
            >= 100
    );
    // The queue timeline: every add and take over time, the refused offers and the waits.
    let queues = runs[0]["result"]["queues"].as_array().unwrap();
    assert_eq!(queues.len(), 1, "one queue: {queues:?}");
    let q = &queues[0];
    assert_eq!(q["name"], "queue");
    assert_eq!((&q["base"], &q["dropped"]), (&0.into(), &0.into()));
    assert!(q.get("complete_until_us").is_none());
    let events = q["events"].as_array().unwrap();
    let (mut level, mut peak, mut last_t) = (0i64, 0i64, 0.0f64);
    let (mut adds, mut takes) = (0, 0);
    for e in events {
        let t = e["t_us"].as_f64().unwrap();
        assert!(t >= last_t, "events out of order: {e}");
        last_t = t;
        match e["delta"].as_i64().unwrap() {
            1 => {
                adds += 1;
                assert_eq!(e["scenario"], "producer", "{e}");
            }
            -1 => {
                takes += 1;
                assert_eq!(e["scenario"], "consumer", "{e}");
            }
            d => panic!("delta {d}"),
        }
        assert!(e["instance"].as_u64().is_some(), "{e}");
        level += e["delta"].as_i64().unwrap();
        assert!((0..=10).contains(&level), "fill level {level} at {t} µs");
        peak = peak.max(level);
    }
    assert_eq!((adds, takes, level, peak), (100, 100, 0, 10));
    let full = scenarios[2]["totals"]["full"].as_u64().unwrap();
    assert!(full > 0);
    assert_eq!(q["full"].as_array().unwrap().len() as u64, full);
    let blocked = q["blocked"].as_array().unwrap();
    assert_eq!(
        blocked.len() as u64,
        full,
        "each refused offer's put waited"
    );
    for b in blocked {
        assert!(b["start_us"].as_f64() <= b["end_us"].as_f64(), "{b}");
        assert_eq!(
            (&b["scenario"], &b["added"]),
            (&"producer".into(), &true.into())
        );
    }
    let check = &json["history"]["check"];
    let counters = check["counters"].as_array().unwrap();
    let race = counters.iter().find(|c| c["scenario"] == "race").unwrap();
    assert_eq!(race["updates"], 900);
    assert_eq!(
        race["lost_updates"].as_i64().unwrap(),
        900 - race["final"].as_i64().unwrap(),
        "{race}"
    );
    assert_eq!(
        race["final"], scenarios[0]["values"]["final"],
        "the history agrees with the scenario"
    );
    let opt = counters
        .iter()
        .find(|c| c["scenario"] == "optimistic")
        .unwrap();
    assert_eq!(opt["lost_updates"], 0);
    assert_eq!(check["queues"][0]["added"], 100);
    assert_eq!(check["queues"][0]["lost"], 0);
    assert_eq!(
        json["history"]["events"].as_u64().unwrap(),
        check["ops"].as_u64().unwrap()
    );

    // The history: one JSON object per line, with every field.
    let lines = read(&history);
    for line in lines.lines().take(50) {
        let e: serde_json::Value = serde_json::from_str(line).unwrap();
        for field in [
            "scenario", "phase", "instance", "op", "name", "args", "outcome", "start_us", "end_us",
        ] {
            assert!(e.get(field).is_some(), "{field} missing in {line}");
        }
        assert!(e["start_us"].as_f64() <= e["end_us"].as_f64());
    }
    assert_eq!(lines.lines().count() as u64, check["ops"].as_u64().unwrap());

    // report.md
    let md = read(&report.join("report.md"));
    for part in [
        "# hzlab report",
        "## Overview",
        "### race",
        "| latency (µs) |",
        "## Operation history",
        "consumer 0 got",
        "### Queues over time",
        "| queue | added | taken | peak fill |",
        "| queue | 100 | 100 | 10 |",
    ] {
        assert!(md.contains(part), "report.md lacks {part:?}");
    }

    // report.html: self-contained, sections, inline SVG plots.
    let html = read(&report.join("report.html"));
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.trim_end().ends_with("</html>"));
    check_nesting(&html);
    for section in [
        "id=\"overview\"",
        "id=\"run-0\"",
        "id=\"history\"",
        "Latency per operation",
        "Optimistic retries",
        "Producer blocking",
        "Which consumer got which item",
        "Final values",
        "id=\"run-0-queues\"",
        "Queues over time",
        "<code>queue</code>: fill level and producer blocking over time",
        "<title>queue queue: fill level over time</title>",
        "capacity 10",
        "refused offer(s)",
    ] {
        assert!(html.contains(section), "report.html lacks {section}");
    }
    let svgs = html.matches("<svg ").count();
    assert!(svgs >= 9, "only {svgs} plots");
    assert_eq!(svgs, html.matches("</svg>").count());
    let without_xmlns = html.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
    for external in [
        "http://", "https://", "<script", "<link", "src=", "@import", "url(",
    ] {
        assert!(
            !without_xmlns.contains(external),
            "report.html has {external}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn no_history_no_history_section() {
    let dir = scratch("report-plain");
    let out = Command::new(env!("CARGO_BIN_EXE_hzlab"))
        .args([
            "run",
            "populate:2",
            "--arg",
            "keys=50",
            "--quiet",
            "--report",
        ])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_str(&read(&dir.join("report.json"))).unwrap();
    assert!(json.get("history").is_none());
    assert!(json.get("faults").is_none());
    // A map-only run has no queue timeline, and its JSON no trace of one.
    assert!(json["runs"][0]["result"].get("queues").is_none());
    assert!(json["runs"][0]["result"]
        .get("queue_ops_untracked")
        .is_none());
    assert_eq!(
        json["runs"][0]["result"]["scenarios"][0]["latency"]["map.set"]["count"],
        50
    );
    let html = read(&dir.join("report.html"));
    check_nesting(&html);
    assert!(!html.contains("id=\"history\""));
    std::fs::remove_dir_all(&dir).unwrap();
}

const PLAN: &str = r#"
name = "double kill"
repeat = 2

[cluster]
members = 3

[[case]]
name = "double kill"

[[case.step]]
run = "populate"
instances = 2
args = { keys = 300 }

[[case.step]]
kill = [1, 2]

[[case.step]]
run = "count"
args = { keys = 300 }

[[case.check]]
that = "count.missing == kill.predicted"
"#;

#[test]
fn a_plan_report_has_faults_checks_and_spread() {
    let dir = scratch("report-plan");
    let plan = dir.join("plan.toml");
    std::fs::write(&plan, PLAN).unwrap();
    let report = dir.join("out");
    let out = Command::new(env!("CARGO_BIN_EXE_hzlab"))
        .arg("run")
        .arg(&plan)
        .args(["--quiet", "--seed", "5", "--report"])
        .arg(&report)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // report.json is the plan's own result document.
    let json: serde_json::Value = serde_json::from_str(&read(&report.join("report.json"))).unwrap();
    assert_eq!(json["cases"][0]["repeats"].as_array().unwrap().len(), 2);
    let html = read(&report.join("report.html"));
    check_nesting(&html);
    for part in [
        "id=\"faults\"",
        "Predicted vs observed loss",
        "owned entries per member",
        "id=\"checks\"",
        "count.missing == kill.predicted",
        "id=\"spread\"",
        "repeat 2 · populate",
        "Latency per operation",
    ] {
        assert!(html.contains(part), "report.html lacks {part}");
    }
    let md = read(&report.join("report.md"));
    for part in [
        "## Faults",
        "Predicted loss:",
        "## Checks",
        "## Spread over repeats",
    ] {
        assert!(md.contains(part), "report.md lacks {part}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
