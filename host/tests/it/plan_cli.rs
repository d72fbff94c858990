//! `hzlab run PLAN.toml` and `hzlab check PLAN.toml` through the binary: exit codes and
//! messages, and the seed lab plan itself.

use std::path::PathBuf;
use std::process::Output;

use crate::common::hzlab;

fn temp_plan(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hzlab-plan-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

const SMALL: &str = r#"
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

[[case.check]]
that = "count.missing > 0"
"#;

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn a_passing_plan_exits_0_and_writes_its_report() {
    let plan = temp_plan("small.toml", SMALL);
    let report = plan.with_file_name("small-report");
    let o = hzlab(&[
        "run",
        plan.to_str().unwrap(),
        "-q",
        "--plan-report",
        report.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("predicted loss"), "{}", text(&o));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report.join("report.json")).unwrap())
            .unwrap();
    assert_eq!(json["passed"], true);
    let kill = &json["cases"][0]["repeats"][0]["steps"][1]["faults"][0];
    assert_eq!(kill["predicted_loss"], kill["observed_loss"]);
    assert!(report.join("report.md").exists());
}

#[test]
fn a_failing_check_exits_1() {
    let plan = temp_plan(
        "failing.toml",
        &SMALL.replace("count.missing > 0", "count.missing > 1000"),
    );
    let o = hzlab(&["run", plan.to_str().unwrap(), "-q"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("FAIL count.missing > 1000"),
        "{}",
        text(&o)
    );
}

#[test]
fn a_typo_exits_2_naming_file_line_and_key() {
    let plan = temp_plan(
        "typo.toml",
        &SMALL.replace("instances = 2", "instanses = 2"),
    );
    for cmd in ["check", "run"] {
        let o = hzlab(&[cmd, plan.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(2), "{cmd}: {}", text(&o));
        let t = text(&o);
        assert!(t.contains("typo.toml"), "{t}");
        assert!(t.contains("line 10"), "{t}");
        assert!(t.contains("instanses"), "{t}");
    }
}

#[test]
fn a_missing_scenario_file_exits_2() {
    let plan = temp_plan(
        "missing.toml",
        &SMALL.replace("run = \"count\"", "run = \"lost/count.wasm\""),
    );
    let o = hzlab(&["check", plan.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("lost/count.wasm"), "{}", text(&o));
}

#[test]
fn a_plan_on_an_unreachable_cluster_exits_3_naming_it() {
    let plan = temp_plan("unreachable.toml", SMALL);
    // A free port nobody listens on.
    let port = hazelcast_members::free_ports(1).unwrap()[0];
    let address = format!("127.0.0.1:{port}");
    let o = hzlab(&[
        "run",
        plan.to_str().unwrap(),
        "--cluster",
        &address,
        "--cluster-name",
        "nobody",
        "-q",
    ]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(3), "{t}");
    assert!(
        t.contains(&format!(
            "cannot reach the Hazelcast cluster `nobody` at {address}"
        )),
        "{t}"
    );
    assert!(t.contains("case `double kill`"), "{t}");
}

#[test]
fn case_patterns_select_cases_and_an_unmatched_one_exits_2() {
    let plan = concat!(env!("CARGO_MANIFEST_DIR"), "/../experiments/seed-lab.toml");
    let json = temp_plan("selected.json", "");
    let o = hzlab(&[
        "run",
        plan,
        "--case",
        "no lock",
        "--case",
        "two consumers",
        "-q",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let names: Vec<&str> = doc["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["no lock", "one producer, two consumers"]);

    let o = hzlab(&["run", plan, "--case", "no such case", "-q"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(t.contains("no case of"), "{t}");
    assert!(t.contains("`pessimistic lock`"), "{t}");
}

#[test]
fn the_seed_lab_plan_is_valid() {
    let plan = concat!(env!("CARGO_MANIFEST_DIR"), "/../experiments/seed-lab.toml");
    let o = hzlab(&["check", plan]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[test]
fn a_plan_runs_on_local_members_and_predicts_their_loss() {
    // The same plan on real members that hzlab starts (and stops) for the case.
    let plan = temp_plan("local.toml", SMALL);
    let report = plan.with_file_name("local-report");
    let o = hzlab(&[
        "run",
        plan.to_str().unwrap(),
        "--local",
        "-q",
        "--plan-report",
        report.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report.join("report.json")).unwrap())
            .unwrap();
    assert_eq!(json["cases"][0]["cluster"]["backend"], "local");
    let kill = &json["cases"][0]["repeats"][0]["steps"][1]["faults"][0];
    let predicted = kill["predicted_loss"].as_u64().unwrap();
    assert!(predicted > 0, "{kill}");
    assert_eq!(kill["observed_loss"].as_u64(), Some(predicted), "{kill}");
    // The distribution came from the members: 300 entries owned before the kill.
    let owned: u64 = kill["before"]["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["owned_entries"].as_u64().unwrap())
        .sum();
    assert_eq!(owned, 300);
}

#[test]
fn check_refuses_what_run_refuses() {
    let cases = [
        (
            "backup-count = 99",
            "backup-count = 99 is more than Hazelcast allows",
        ),
        ("async-backup-count = 6", "at most 6"),
        ("network-yields = 4294967295", "more than the maximum, 1000"),
    ];
    for (i, (key, message)) in cases.iter().enumerate() {
        let plan = temp_plan(
            &format!("range{i}.toml"),
            &SMALL.replace("members = 3", &format!("members = 3\n{key}")),
        );
        for cmd in ["check", "run"] {
            let o = match cmd {
                "run" => hzlab(&[cmd, plan.to_str().unwrap(), "-q"]),
                _ => hzlab(&[cmd, plan.to_str().unwrap()]),
            };
            let t = text(&o);
            assert_eq!(o.status.code(), Some(2), "{cmd} {key}: {t}");
            assert!(t.contains(message), "{cmd} {key}: {t}");
            assert!(t.contains("line 4"), "{cmd} {key}: {t}");
        }
    }
    let edits = [
        ("kill = [1, 2]", "kill = [2, 2]", "member 2 is named twice"),
        (
            "run = \"count\"",
            "run = \"count\"\nsha256 = \"zz\"",
            "sha256 = \"zz\" is not a SHA-256",
        ),
        (
            "count.missing > 0",
            "count.mising > 0",
            "`count` has no value `mising`",
        ),
        (
            "kill = [1, 2]",
            "sleep-ms = 31536000000",
            "sleep-ms = 31536000000",
        ),
        ("{ keys = 300 }", "{ keys = \"lots\" }", "keys=\"lots\""),
    ];
    for (i, (from, to, message)) in edits.iter().enumerate() {
        let plan = temp_plan(&format!("edit{i}.toml"), &SMALL.replace(from, to));
        for cmd in ["check", "run"] {
            let o = match cmd {
                "run" => hzlab(&[cmd, plan.to_str().unwrap(), "-q"]),
                _ => hzlab(&[cmd, plan.to_str().unwrap()]),
            };
            let t = text(&o);
            assert_eq!(o.status.code(), Some(2), "{cmd} {to}: {t}");
            assert!(t.contains(message), "{cmd} {to}: {t}");
            assert!(t.contains("line "), "{cmd} {to}: {t}");
        }
    }
}

#[test]
fn a_kill_is_measured_on_the_maps_the_case_wrote() {
    let plan = temp_plan(
        "maps.toml",
        r#"
[cluster]
members = 3

[[case]]
name = "counter only"

[[case.step]]
run = "race"
instances = 2
args = { iterations = 50 }

[[case.step]]
kill = [1, 2]

[[case.step]]
run = "populate"
args = { keys = 200, map = "other" }

[[case.step]]
kill = [3]
as = "named"
map = "distributed-map"
"#,
    );
    let json = plan.with_file_name("maps.json");
    let o = hzlab(&[
        "run",
        plan.to_str().unwrap(),
        "-q",
        "--json",
        json.to_str().unwrap(),
    ]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let steps = &doc["cases"][0]["repeats"][0]["steps"];
    let faults = steps[1]["faults"].as_array().unwrap();
    let maps: Vec<&str> = faults.iter().map(|f| f["map"].as_str().unwrap()).collect();
    assert_eq!(maps, ["counter"], "{t}");
    assert!(!t.contains("distributed-map` : predicted"), "{t}");
    // The named map has no entries: no figures, not zeros.
    assert!(steps[3].get("faults").is_none(), "{}", steps[3]);
    assert!(t.contains("no map with entries to measure"), "{t}");
}

#[test]
fn a_fault_after_the_instances_ended_is_reported_not_waited_for() {
    let plan = temp_plan(
        "late.toml",
        r#"
[[case]]
name = "late fault"

[[case.step]]
run = "race"
args = { iterations = 10 }
faults = [{ after-ms = 3000000, kill = [3] }]
"#,
    );
    let started = std::time::Instant::now();
    let o = hzlab(&["run", plan.to_str().unwrap(), "-q"]);
    let t = text(&o);
    assert!(
        started.elapsed().as_secs() < 60,
        "waited for the fault: {t}"
    );
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.contains("kill [3] at 3000000 ms: not injected: the step's instances ended at"),
        "{t}"
    );
}

#[test]
fn instances_that_fail_count_what_they_did() {
    let plan = temp_plan(
        "all-die.toml",
        r#"
[[case]]
name = "every member dies"

[[case.step]]
run = "race"
instances = 3
args = { iterations = 100000000 }
faults = [{ after-ms = 1500, kill = [1, 2, 3] }]
"#,
    );
    let json = plan.with_file_name("all-die.json");
    let history = plan.with_file_name("all-die.jsonl");
    let o = hzlab(&[
        "run",
        plan.to_str().unwrap(),
        "-q",
        "--json",
        json.to_str().unwrap(),
        "--history",
        history.to_str().unwrap(),
    ]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let step = &doc["cases"][0]["repeats"][0]["steps"][0];
    let race = &step["run"]["scenarios"][0];
    let mut acknowledged = 0;
    for i in race["instances"].as_array().unwrap() {
        assert_eq!(i["status"], "failed", "{i}");
        let error = i["error"].as_str().unwrap();
        assert!(error.contains("stopped at increment"), "{error}");
        assert!(error.contains("of 100000000"), "{error}");
        assert!(error.contains("no cluster member is running"), "{error}");
        let done = i["counters"]["increments"].as_i64().unwrap();
        assert!(done > 0 && done < 100_000_000, "{i}");
        assert!(error.contains(&format!("({done} acknowledged)")), "{error}");
        acknowledged += done;
    }
    assert_eq!(
        race["totals"]["increments"], acknowledged,
        "totals against the instances' counters: {race:#}"
    );
    // As the history checker counts them: writes that ended ok, and those whose outcome is
    // unknown (the write each instance was sending when the members died).
    let totals = &race["totals"];
    let uncertain =
        totals["attempts"].as_i64().unwrap() - acknowledged - totals["refused"].as_i64().unwrap();
    let counter = &doc["history"]["check"]["counters"][0];
    assert_eq!(counter["updates"], acknowledged, "{counter}");
    assert_eq!(counter["uncertain_writes"], uncertain, "{counter}");
    // The run started with three members and ended with none.
    assert_eq!(step["run"]["backend"]["members"], 3);
    assert_eq!(step["run"]["backend"]["members_at_end"], 0);
    assert!(t.contains("[3 members at the start, 0 at the end]"), "{t}");
}

#[test]
fn the_split_brain_lab_on_the_embedded_model_loses_what_real_members_lose() {
    // The same plan as on real members in namespaces (cluster_netns.rs): Discard loses the
    // minority's acknowledged writes, PutIfAbsent keeps them, protection refuses them.
    let plan = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../experiments/split-brain.toml"
    );
    let out = hzlab(&["run", plan, "--json", "-"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let cases = report["cases"].as_array().expect("cases");
    assert_eq!(cases.len(), 3, "{report}");
    let value = |case: usize, step: &str, name: &str| -> i64 {
        let steps = cases[case]["repeats"][0]["steps"].as_array().unwrap();
        let s = steps
            .iter()
            .find(|s| s["label"] == step)
            .unwrap_or_else(|| panic!("no step {step} in case {case}"));
        s["run"]["scenarios"][0]["values"][name]
            .as_i64()
            .unwrap_or_else(|| panic!("no {name} in {step}: {s}"))
    };
    // Discard: the majority's 300 only; PutIfAbsent: both sides' 600; protection: the
    // minority's writes refused, the majority's kept.
    assert_eq!(value(0, "count", "present"), 300);
    assert_eq!(value(1, "count", "present"), 600);
    assert_eq!(value(2, "minority", "refused"), 300);
    assert_eq!(value(2, "minority", "acked"), 0);
    assert_eq!(value(2, "count", "present"), 300);
}

#[test]
fn plan_thresholds_read_a_steps_metrics_and_failed_ones_come_first() {
    let plan = temp_plan(
        "thresholds.toml",
        r#"
[[case]]
name = "load"

[[case.step]]
run = "race"
as = "load"
instances = 2
rate = 300
duration = "1s"

[[case.check]]
that = "load.iterations.completed == 300"

[[case.check]]
that = "load.latency.map.get.p99 < 1s"

[[case.check]]
that = "load.service.map.get.p50 < 0.001us"

[[case.check]]
that = "load.dropped.ratio == 0"
"#,
    );
    let o = hzlab(&["run", plan.to_str().unwrap()]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    let failed = out
        .find("FAIL load.service.map.get.p50 < 0.001us")
        .unwrap_or_else(|| panic!("{out}"));
    let held = out
        .find("ok   load.iterations.completed == 300")
        .unwrap_or_else(|| panic!("{out}"));
    assert!(failed < held, "the failed check comes first: {out}");
    assert!(out.contains("ok   load.latency.map.get.p99 < 1s"), "{out}");
    assert!(out.contains("ok   load.dropped.ratio == 0"), "{out}");
    // Its figure, in its unit.
    assert!(out.contains("load.service.map.get.p50 = "), "{out}");
    assert!(out.contains(" µs, 0.0 µs)"), "{out}");

    // A metric with a typo is refused when the plan is read.
    let plan = temp_plan(
        "threshold-typo.toml",
        r#"
[[case]]
name = "load"

[[case.step]]
run = "race"
as = "load"

[[case.check]]
that = "load.latency.map.gte.p99 < 2ms"
"#,
    );
    let o = hzlab(&["check", plan.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("`map.gte` is not an operation"),
        "{}",
        text(&o)
    );
}

#[test]
fn an_open_model_runs_on_local_members_with_a_kill_shaded_and_compares_with_embedded() {
    // The issue's "must show" on real members: a rate over time with a kill during it,
    // plotted; a threshold below what was measured fails; the same plan on the embedded
    // cluster compares with it.
    let plan = temp_plan(
        "rate-local.toml",
        r#"
[[case]]
name = "rate"

[[case.step]]
run = "race"
as = "load"
instances = 4
rate = 150
duration = "3s"
faults = [{ after-ms = 1500, kill = [3] }]

[[case.check]]
that = "load.iterations.started > 0"

[[case.check]]
that = "load.latency.map.get.p99 < 0.001us"
"#,
    );
    let report = plan.with_file_name("rate-local-report");
    let real_json = plan.with_file_name("rate-local.json");
    let o = hzlab(&[
        "run",
        plan.to_str().unwrap(),
        "--local",
        "-q",
        "--report",
        report.to_str().unwrap(),
        "--json",
        real_json.to_str().unwrap(),
    ]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "the threshold fails: {out}");
    assert!(
        out.find("FAIL load.latency.map.get.p99 < 0.001us")
            .unwrap_or(usize::MAX)
            < out.find("ok   load.iterations.started > 0").unwrap_or(0),
        "{out}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&real_json).unwrap()).unwrap();
    let step = &json["cases"][0]["repeats"][0]["steps"][0];
    assert_eq!(step["fault_events"][0]["kind"], "kill", "{step}");
    let series = step["run"]["scenarios"][0]["series"].as_array().unwrap();
    let due: u64 = series
        .iter()
        .map(|i| {
            i["iterations"]["started"].as_u64().unwrap()
                + i["iterations"]["dropped"].as_u64().unwrap()
        })
        .sum();
    assert_eq!(due, 450, "150/s for 3 s, started or dropped: {series:?}");
    let html = std::fs::read_to_string(report.join("report.html")).unwrap();
    assert!(
        html.contains("<title>kill [3]</title></rect>"),
        "no shaded kill"
    );
    // The same plan on the embedded cluster, compared with the real run.
    let embedded_json = plan.with_file_name("rate-embedded.json");
    let o = hzlab(&[
        "run",
        plan.to_str().unwrap(),
        "-q",
        "--json",
        embedded_json.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let o = hzlab(&[
        "compare",
        embedded_json.to_str().unwrap(),
        real_json.to_str().unwrap(),
    ]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(
        out.contains("embedded cluster") && out.contains("Hazelcast cluster"),
        "{out}"
    );
    assert!(out.contains("rate · load · race"), "{out}");
    assert!(out.contains("iterations/s"), "{out}");
}
