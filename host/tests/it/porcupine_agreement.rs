//! hzlab's linearizability checker and Porcupine agree on every history: `hzlab history
//! check` and `tools/porcupine-check` (a Go program over github.com/anishathalye/porcupine,
//! built here) read the same files and must give every key the same verdict. The histories:
//! a handcrafted stale read, synthetic ones with known answers (linearizable by construction,
//! with and without writes of unknown outcome, and the same with one impossible read), and
//! histories recorded from runs of race, pessimistic and optimistic on the embedded cluster,
//! with and without a member killed mid-run.
//!
//! Skipped, saying so, only when `go` is not installed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use hzlab::history::synth::{register_history, with_impossible_read, Synth};
use hzlab::history::Event;

use crate::common::hzlab;

/// Builds tools/porcupine-check; None when Go is missing.
fn porcupine() -> Option<PathBuf> {
    if Command::new("go").arg("version").output().is_err() {
        eprintln!("SKIPPED: `go` is not installed, so Porcupine cannot be built");
        return None;
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tools/porcupine-check");
    let bin = Path::new(env!("CARGO_TARGET_TMPDIR")).join("porcupine-check");
    let out = Command::new("go")
        .current_dir(&src)
        .args(["build", "-buildvcs=false", "-o"])
        .arg(&bin)
        .arg(".")
        .output()
        .expect("go runs");
    assert!(
        out.status.success(),
        "building tools/porcupine-check failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(bin)
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("porcupine-agreement-{}", std::process::id()))
        .join(name);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write_history(path: &Path, events: &[Event]) {
    let text: String = events
        .iter()
        .map(|e| serde_json::to_string(e).unwrap() + "\n")
        .collect();
    std::fs::write(path, text).unwrap();
}

type Verdicts = BTreeMap<(String, String, String), String>;

/// hzlab's verdict per (run, map, key), and its exit code.
fn hzlab_verdicts(file: &Path, model: &str) -> (Verdicts, i32) {
    let json = file.with_extension(format!("{model}.hzlab.json"));
    let o = hzlab(&[
        "history",
        "check",
        file.to_str().unwrap(),
        "--model",
        model,
        "--json",
        json.to_str().unwrap(),
    ]);
    let code = o.status.code().unwrap();
    assert!(
        code == 0 || code == 1,
        "{}: {}",
        file.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let mut v = Verdicts::new();
    for l in doc["linearizability"].as_array().unwrap() {
        let checks = l["key_checks"].as_array().unwrap();
        assert_eq!(
            checks.len() as u64,
            l["keys"].as_u64().unwrap(),
            "every key listed"
        );
        for k in checks {
            v.insert(
                (
                    l["run"].as_str().unwrap_or("").to_owned(),
                    l["map"].as_str().unwrap().to_owned(),
                    k["key"].to_string(),
                ),
                k["verdict"].as_str().unwrap().to_owned(),
            );
        }
    }
    (v, code)
}

fn porcupine_verdicts(bin: &Path, file: &Path, model: &str) -> Verdicts {
    let o = Command::new(bin)
        .args(["-model", model])
        .arg(file)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "porcupine-check {}: {}",
        file.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    doc["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                (
                    k["run"].as_str().unwrap().to_owned(),
                    k["map"].as_str().unwrap().to_owned(),
                    k["key"].as_str().unwrap().to_owned(),
                ),
                k["verdict"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Both checkers on `file` in both models: they must agree key by key, and decide every key.
/// Returns hzlab's verdicts in `auto` and its exit code there.
fn agree(bin: &Path, file: &Path) -> (Verdicts, i32) {
    let mut auto = None;
    for model in ["auto", "register"] {
        let (ours, code) = hzlab_verdicts(file, model);
        let theirs = porcupine_verdicts(bin, file, model);
        assert_eq!(
            ours,
            theirs,
            "{} (model {model}): hzlab and Porcupine disagree",
            file.display()
        );
        assert!(
            ours.values().all(|v| v != "unknown"),
            "{}: undecided {ours:?}",
            file.display()
        );
        if model == "auto" {
            auto = Some((ours, code));
        }
    }
    auto.unwrap()
}

fn only_verdict(v: &Verdicts) -> &str {
    assert_eq!(v.len(), 1, "{v:?}");
    v.values().next().unwrap()
}

#[test]
fn stale_read_is_not_linearizable_for_both() {
    let Some(bin) = porcupine() else { return };
    let dir = scratch("stale");
    let file = dir.join("stale.jsonl");
    std::fs::write(
        &file,
        r#"{"scenario":"s","phase":"run","instance":0,"op":"map.set","name":"m","args":["k",1],"outcome":"ok","start_us":1.0,"end_us":2.0}
{"scenario":"s","phase":"run","instance":1,"op":"map.set","name":"m","args":["k",2],"outcome":"ok","start_us":3.0,"end_us":4.0}
{"scenario":"s","phase":"run","instance":2,"op":"map.get","name":"m","args":["k"],"outcome":"ok","value":1,"start_us":5.0,"end_us":6.0}
"#,
    )
    .unwrap();
    let (v, code) = agree(&bin, &file);
    assert_eq!(only_verdict(&v), "not-linearizable");
    assert_eq!(code, 1);
    // The counterexample names the write of 2 and the read of 1.
    let o = hzlab(&["history", "check", file.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("set 2") && text.contains("get → 1"), "{text}");
    // Reading 2 instead is fine.
    let fixed = std::fs::read_to_string(&file)
        .unwrap()
        .replace(r#""value":1"#, r#""value":2"#);
    std::fs::write(&file, fixed).unwrap();
    let (v, code) = agree(&bin, &file);
    assert_eq!((only_verdict(&v), code), ("linearizable", 0));
}

#[test]
fn synthetic_histories_with_known_answers() {
    let Some(bin) = porcupine() else { return };
    let dir = scratch("synth");
    for seed in 1..=12u64 {
        for unknown_rate in [0.0, 0.05] {
            let s = Synth {
                ops: 400,
                clients: 3 + (seed % 3) as u32,
                unknown_rate,
                values: 2 + (seed % 4) as i64,
                seed,
            };
            let good = register_history(&s);
            let file = dir.join(format!("good-{seed}-{unknown_rate}.jsonl"));
            write_history(&file, &good);
            let (v, _) = agree(&bin, &file);
            assert_eq!(only_verdict(&v), "linearizable", "{}", file.display());
            // With one impossible read: every order must be tried and refuted, which grows
            // with the writes of unknown outcome (each may take effect anywhere after its
            // start, or never): fewer of them here, so that Porcupine decides too.
            let bad = with_impossible_read(if unknown_rate > 0.0 {
                register_history(&Synth {
                    unknown_rate: 0.015,
                    ..s
                })
            } else {
                good
            });
            let file = dir.join(format!("bad-{seed}-{unknown_rate}.jsonl"));
            write_history(&file, &bad);
            let (v, code) = agree(&bin, &file);
            assert_eq!(
                (only_verdict(&v), code),
                ("not-linearizable", 1),
                "{}",
                file.display()
            );
        }
    }
    // Mutations without a known answer: one answer of a compare-and-set flipped, one read
    // shifted to another written value. Both checkers must still agree.
    let mut violations = 0;
    for seed in 20..=35u64 {
        let mut h = register_history(&Synth {
            ops: 200,
            seed,
            unknown_rate: 0.02,
            ..Synth::default()
        });
        let at = (seed as usize * 7) % h.len();
        if let Some(e) = h[at..].iter_mut().find(|e| {
            e.outcome == hzlab::history::OpOutcome::Ok
                && (e.op == "replace.replace-if-same" || e.op == "map.get")
        }) {
            e.value = Some(match &e.value {
                Some(serde_json::Value::Bool(b)) => serde_json::json!(!b),
                Some(v) => serde_json::json!(v.as_i64().unwrap_or(0) % 4 + 1),
                None => serde_json::json!(1),
            });
        }
        let file = dir.join(format!("mutated-{seed}.jsonl"));
        write_history(&file, &h);
        let (v, _) = agree(&bin, &file);
        violations += usize::from(only_verdict(&v) == "not-linearizable");
    }
    assert!(violations > 0, "some mutation is a violation");
}

/// Runs `hzlab run` with `args` and --history into `dir/name.jsonl`.
fn record(dir: &Path, name: &str, args: &[&str]) -> PathBuf {
    let file = dir.join(format!("{name}.jsonl"));
    let mut all: Vec<&str> = vec!["run"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-q", "--history", file.to_str().unwrap()]);
    let o = hzlab(&all);
    assert!(
        matches!(o.status.code(), Some(0 | 1)),
        "{name}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    file
}

#[test]
fn recorded_runs_with_and_without_member_kills() {
    let Some(bin) = porcupine() else { return };
    let dir = scratch("runs");
    let iterations = "iterations=300";
    for (scenario, linearizable) in [("race", false), ("pessimistic", true), ("optimistic", true)] {
        let file = record(
            &dir,
            scenario,
            &[&format!("{scenario}:3"), "--arg", iterations, "--seed", "7"],
        );
        let (v, code) = agree(&bin, &file);
        let verdict = v[&(String::new(), "counter".into(), "\"key\"".into())].as_str();
        assert_eq!(
            verdict == "linearizable",
            linearizable,
            "{scenario}: {verdict}"
        );
        assert_eq!(code == 0, linearizable, "{scenario}");
    }
    // A member killed in the middle of the increments: unknown outcomes, no false violation.
    let plan = dir.join("kill.toml");
    std::fs::write(
        &plan,
        r#"
[cluster]
members = 3

[args]
iterations = 400

[[case]]
name = "kill"
cluster = { backup-count = 1 }

[[case.step]]
run = "pessimistic"
instances = 3
faults = [{ after-ms = 20, kill = [2] }]

[[case.step]]
run = "optimistic"
instances = 3
faults = [{ after-ms = 20, kill = [3] }]
"#,
    )
    .unwrap();
    let file = record(&dir, "kill", &[plan.to_str().unwrap()]);
    let (v, code) = agree(&bin, &file);
    assert!(!v.is_empty());
    assert!(v.values().all(|v| v == "linearizable"), "{v:?}");
    assert_eq!(code, 0, "no false violation after a kill");
}
