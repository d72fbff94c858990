//! `hzlab history check` and the checkers on recorded runs: the ticket sale (0 lost with
//! replace-if-same, the oversold count with get + put), race's lost updates equal to
//! expected − final, and malformed files named by line and field (exit 2).

use std::path::{Path, PathBuf};

use crate::common::hzlab;

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("history-check-{}", std::process::id()))
        .join(name);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `args` with --history and --report; returns (report.json, the history file).
fn run(dir: &Path, name: &str, args: &[&str]) -> (serde_json::Value, PathBuf) {
    let history = dir.join(format!("{name}.jsonl"));
    let report = dir.join(name);
    let mut all = vec!["run"];
    all.extend_from_slice(args);
    all.extend_from_slice(&[
        "-q",
        "--history",
        history.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
    ]);
    let o = hzlab(&all);
    assert!(
        matches!(o.status.code(), Some(0 | 1)),
        "{name}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let doc = serde_json::from_str(&std::fs::read_to_string(report.join("report.json")).unwrap())
        .unwrap();
    (doc, history)
}

fn recorded(doc: &serde_json::Value, scenario: &str, value: &str) -> i64 {
    doc["runs"][0]["result"]["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == scenario)
        .unwrap_or_else(|| panic!("no scenario {scenario}: {doc}"))["values"][value]
        .as_i64()
        .unwrap_or_else(|| panic!("{scenario} recorded no {value}"))
}

#[test]
fn ticket_sale_exact_and_oversold() {
    let dir = scratch("tickets");
    let (doc, history) = run(
        &dir,
        "cas",
        &["ticket-sale:8", "--arg", "mode=cas", "--seed", "3"],
    );
    assert_eq!(recorded(&doc, "ticket-sale", "oversold"), 0);
    assert_eq!(recorded(&doc, "ticket-sale", "sold"), 100);
    let check = &doc["history"]["check"];
    let c = &check["counters"][0];
    assert_eq!(
        (c["initial"].as_i64(), c["final"].as_i64()),
        (Some(100), Some(0)),
        "{c}"
    );
    assert_eq!(c["updates"], 100, "{c}");
    assert_eq!(c["delta"], -1, "{c}");
    assert_eq!(c["lost_updates"], 0, "{c}");
    assert_eq!(
        check["linearizability"][0]["not_linearizable"], 0,
        "{check}"
    );
    let o = hzlab(&["history", "check", history.to_str().unwrap()]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );

    let (doc, history) = run(
        &dir,
        "blind",
        &["ticket-sale:8", "--arg", "mode=blind", "--seed", "3"],
    );
    let oversold = recorded(&doc, "ticket-sale", "oversold");
    assert!(oversold > 0, "8 blind sellers oversell");
    let c = &doc["history"]["check"]["counters"][0];
    assert_eq!(c["lost_updates"].as_i64(), Some(oversold), "{c}");
    assert_eq!(
        doc["history"]["check"]["linearizability"][0]["not_linearizable"],
        1
    );
    let o = hzlab(&["history", "check", history.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("NOT LINEARIZABLE"), "{text}");
    assert!(text.contains(&format!("lost updates {oversold}")), "{text}");
}

#[test]
fn race_loses_expected_minus_final_and_the_locked_runs_hold() {
    let dir = scratch("seed");
    let (doc, _) = run(
        &dir,
        "seed",
        &[
            "race:3",
            "then",
            "pessimistic:3",
            "then",
            "optimistic:3",
            "--arg",
            "iterations=500",
            "--seed",
            "11",
        ],
    );
    let check = &doc["history"]["check"];
    let counters = check["counters"].as_array().unwrap();
    let race = counters.iter().find(|c| c["scenario"] == "race").unwrap();
    let expected = recorded(&doc, "race", "expected");
    let final_value = recorded(&doc, "race", "final");
    assert!(expected > final_value, "race lost updates");
    assert_eq!(race["lost_updates"].as_i64(), Some(expected - final_value));
    for s in ["pessimistic", "optimistic"] {
        let c = counters.iter().find(|c| c["scenario"] == s).unwrap();
        assert_eq!(c["lost_updates"], 0, "{c}");
    }
    // One key, shared by the three scenarios in turn: race's lost update makes it not
    // linearizable; the lock is exclusive.
    let lin = check["linearizability"].as_array().unwrap();
    assert_eq!(lin[0]["model"], "read-modify-write");
    let cx = &lin[0]["key_checks"][0]["counterexample"];
    let window = cx["window"].as_array().unwrap();
    assert!(window.len() <= 4, "a small window: {cx}");
    assert!(cx["window_alone_invalid"].as_bool().unwrap());
    for o in window {
        assert_eq!(o["scenario"], "race", "{cx}");
    }
    let locks = check["locks"].as_array().unwrap();
    assert_eq!(locks[0]["overlaps"], 0);
    assert_eq!(locks[0]["holds"], 1500);
}

#[test]
fn malformed_histories_exit_2_naming_line_and_field() {
    let dir = scratch("malformed");
    let good = r#"{"scenario":"s","phase":"run","instance":0,"op":"map.set","name":"m","args":["k",1],"outcome":"ok","start_us":1.0,"end_us":2.0}"#;
    for (line2, want) in [
        (
            r#"{"scenario":"s","phase":"run","instance":0,"op":"map.get","name":"m","args":["k"],"outcome":"maybe","start_us":1.0,"end_us":2.0}"#,
            "field `outcome`",
        ),
        (
            r#"{"scenario":"s","phase":"run","instance":0,"op":"map.get","name":"m","args":["k"],"outcome":"ok","start_us":"soon","end_us":2.0}"#,
            "field `start_us`",
        ),
        (
            r#"{"scenario":"s","phase":"run","op":"map.get","name":"m","outcome":"ok","start_us":1.0,"end_us":2.0}"#,
            "missing field `instance`",
        ),
        ("not json", ":2:"),
    ] {
        let file = dir.join("h.jsonl");
        std::fs::write(&file, format!("{good}\n{line2}\n")).unwrap();
        let o = hzlab(&["history", "check", file.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(err.contains("h.jsonl:2:"), "{err}");
        assert!(err.contains(want), "{want}: {err}");
    }
}

#[test]
fn a_plan_holds_a_named_structure_to_its_model() {
    let dir = scratch("plan");
    let plan = |name: &str, scenario: &str, model: &str| {
        let path = dir.join(format!("{name}.toml"));
        std::fs::write(
            &path,
            format!(
                r#"
[args]
iterations = 200

[[case]]
name = "{name}"

[[case.step]]
run = "{scenario}"
instances = 3

[[case.check]]
history = "{model}"
name = "counter"
"#
            ),
        )
        .unwrap();
        path
    };
    let run_plan = |path: &Path| {
        let history = path.with_extension("jsonl");
        hzlab(&[
            "run",
            path.to_str().unwrap(),
            "-q",
            "--seed",
            "5",
            "--history",
            history.to_str().unwrap(),
        ])
    };
    let o = run_plan(&plan("locked", "pessimistic", "linearizable"));
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("linearizable"), "{out}");
    // race passes its own checks, but not the model the plan names for its map.
    let o = run_plan(&plan("unlocked", "race", "linearizable"));
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("NOT LINEARIZABLE"), "{out}");
    let o = run_plan(&plan("locks", "pessimistic", "lock"));
    assert_eq!(o.status.code(), Some(0));
    // A model that does not exist is refused before anything runs.
    let o = hzlab(&[
        "check",
        plan("bad", "race", "serializable").to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("serializable") && err.contains("linearizable"),
        "{err}"
    );
}
