//! `hzlab run PLAN.toml --cluster ADDR` on members that already run: a cluster from `hzlab
//! cluster up` (faults injected through its run directory; each case's own backup counts and
//! queue capacity, by dynamic configuration; killed members started again after each case),
//! and the same members seen as a cluster hzlab did not start (faults refused with exit 3,
//! the other cases still run). A guard stops the members if the test fails.

use std::path::Path;
use std::process::{Command, Output};

use crate::common::cluster::{hzlab_cluster as cluster, Guard};

/// `hzlab run ARGS` with `clusters` as the clusters directory.
fn run(clusters: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hzlab"))
        .arg("run")
        .args(args)
        .env("HZLAB_CLUSTERS_DIR", clusters)
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

const PLAN: &str = r#"
[cluster]
members = 3

[args]
keys = 300
iterations = 300

[[case]]
name = "double kill, one backup"

[[case.step]]
run = "populate"
instances = 2

[[case.step]]
kill = [1, 2]

[[case.step]]
run = "count"

[[case.check]]
that = "count.missing == kill.predicted"

[[case.check]]
that = "kill.observed == kill.predicted"

[[case.check]]
that = "count.missing > 0"

[[case]]
name = "double kill, extra async backup"
cluster = { async-backup-count = 1 }

[[case.step]]
run = "populate"
instances = 2

[[case.step]]
kill = [2, 3]

[[case.step]]
run = "count"

[[case.check]]
that = "count.missing == 0"

[[case.check]]
that = "kill.predicted == 0"

[[case]]
name = "pessimistic"

[[case.step]]
run = "pessimistic"
instances = 3

[[case.check]]
that = "pessimistic.final == 900"

[[case]]
name = "bounded queue"
# 400 items: with 40, two consumers sometimes kept up with the producer, and the queue of
# 5 was never full (seen once in CI).
cluster = { queue-capacity = 5 }

[[case.step]]
run = ["producer:1", "consumer:2"]
args = { items = 400 }

[[case.check]]
that = "consumer.consumed-once == 400"

[[case.check]]
that = "producer.full > 0"
"#;

#[test]
fn a_plan_runs_on_given_members_with_faults_only_where_hzlab_started_them() {
    let root = std::env::temp_dir().join(format!("hzlab-plan-cluster-{}", std::process::id()));
    let clusters = root.join("clusters");
    let name = format!("plan-{}", std::process::id());
    let _guard = Guard {
        dir: clusters.clone(),
        name: name.clone(),
    };
    std::fs::create_dir_all(&root).unwrap();
    let plan = root.join("plan.toml");
    std::fs::write(&plan, PLAN).unwrap();
    let base = hazelcast_members::free_port_range(3).unwrap();
    let up = cluster(
        &clusters,
        &name,
        &["up", "--members", "3", "--base-port", &base.to_string()],
    );
    assert!(up.status.success(), "{}", text(&up));
    let address = format!("127.0.0.1:{base}");

    // hzlab's own cluster: found by address (no --cluster-name) under `--dir`, named
    // relatively where `up` had an absolute path (HZLAB_CLUSTERS_DIR points elsewhere);
    // faults injected, the killed members restarted (not mistaken for dead while alive).
    let report = root.join("report");
    let history = root.join("history.jsonl");
    let elsewhere = root.join("no-clusters");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_hzlab"))
        .arg("run")
        .args([
            plan.to_str().unwrap(),
            "--cluster",
            &address,
            "--dir",
            "clusters",
            "-q",
            "--report",
            report.to_str().unwrap(),
            "--history",
            history.to_str().unwrap(),
        ])
        .env("HZLAB_CLUSTERS_DIR", &elsewhere)
        .current_dir(&root)
        .output()
        .unwrap();
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("faults are injected there"), "{out}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report.join("report.json")).unwrap())
            .unwrap();
    let cases = json["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 4);
    assert!(cases.iter().all(|c| c["cluster"]["backend"] == "cluster"));
    let kill = &cases[0]["repeats"][0]["steps"][1]["faults"][0];
    let lost = kill["observed_loss"].as_u64().unwrap();
    assert!(lost > 0 && lost < 300, "{kill}");
    assert_eq!(kill["predicted_loss"].as_u64(), Some(lost), "{kill}");
    // The plan's map name, not the case's name on the cluster.
    assert_eq!(kill["map"], "distributed-map");
    // What the history checker found, per run step.
    let counters = json["history"]["check"]["counters"].as_array().unwrap();
    assert!(
        counters
            .iter()
            .any(|c| c["run"] == "pessimistic #1 / pessimistic" && c["lost_updates"] == 0),
        "{counters:?}"
    );
    let first = std::fs::read_to_string(&history).unwrap();
    let first: serde_json::Value = serde_json::from_str(first.lines().next().unwrap()).unwrap();
    assert_eq!(first["run"], "double kill, one backup #1 / populate");

    // The members the first case killed run again, and the cluster is whole.
    let status = cluster(&clusters, &name, &["status", "--json"]);
    assert!(status.status.success(), "{}", text(&status));
    let doc: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    let running = doc["members"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["running"] == true)
        .count();
    assert_eq!(running, 3, "{doc}");

    // The same members as a cluster hzlab did not start: fault steps fail (exit 3) and say
    // why; the other cases still run and pass.
    let json_path = root.join("foreign.json");
    let o = run(
        &elsewhere,
        &[
            plan.to_str().unwrap(),
            "--cluster",
            &address,
            "--cluster-name",
            &name,
            "-q",
            "--json",
            json_path.to_str().unwrap(),
        ],
    );
    let out = text(&o);
    assert_eq!(o.status.code(), Some(3), "{out}");
    assert!(out.contains("hzlab did not start those members"), "{out}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
    let passed: Vec<bool> = json["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["passed"].as_bool().unwrap())
        .collect();
    assert_eq!(passed, [false, false, true, true], "{out}");
}
