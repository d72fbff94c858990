//! Plan parsing and validation: every mistake names the file, the line and the key.

use std::path::Path;

use super::{Action, Fault, Plan, PlanError};

fn parse(text: &str) -> Result<Plan, PlanError> {
    Plan::parse(Path::new("experiments/test.toml"), text)
}

fn error(text: &str) -> String {
    parse(text).expect_err("the plan was accepted").to_string()
}

const GOOD: &str = r#"
name = "lab"
repeat = 2

[cluster]
members = 3
queue-capacity = 10

[args]
iterations = 100

[[case]]
name = "locks"
cluster = { backup-count = 2 }

[[case.step]]
run = ["producer:1", "consumer:2"]
args = { items = 50 }

[[case.step]]
run = "pessimistic"
instances = 3
faults = [{ after-ms = 10, kill = [3] }]

[[case.step]]
kill = [1, 2]

[[case.check]]
that = "pessimistic.final == 300"

[[case.check]]
that = "consumer.consumed-once == 50"
"#;

#[test]
fn a_good_plan_resolves() {
    let plan = parse(GOOD).unwrap();
    assert_eq!(plan.name, "lab");
    assert_eq!(plan.repeat, 2);
    let case = &plan.cases[0];
    assert_eq!(case.cluster.members, 3);
    assert_eq!(case.cluster.backup_count, 2);
    assert_eq!(case.cluster.queue_capacity, Some(10));
    assert_eq!(case.steps.len(), 3);
    match &case.steps[0].action {
        Action::Run {
            scenarios, args, ..
        } => {
            assert_eq!(scenarios.len(), 2);
            assert_eq!(scenarios[1].instances, 2);
            assert!(args.contains(&("items".into(), "50".into())));
            assert!(args.contains(&("iterations".into(), "100".into())));
        }
        other => panic!("{other:?}"),
    }
    match &case.steps[1].action {
        Action::Run { faults, .. } => assert_eq!(faults[0].1, Fault::Kill(vec![3])),
        other => panic!("{other:?}"),
    }
    assert_eq!(case.steps[2].label, "kill");
    assert_eq!(
        case.steps[2].line, 25,
        "the line of its [[case.step]] header"
    );
    assert_eq!(case.checks.len(), 2);
}

#[test]
fn a_typo_in_a_key_names_the_line_and_the_key() {
    let e = error(&GOOD.replace("instances = 3", "instnces = 3"));
    assert!(e.contains("experiments/test.toml"), "{e}");
    assert!(e.contains("line 22"), "{e}");
    assert!(e.contains("instnces"), "{e}");
}

#[test]
fn a_wrong_type_names_the_key() {
    let e = error(&GOOD.replace("members = 3", "members = \"three\""));
    assert!(e.contains("members"), "{e}");
    assert!(e.contains("line 6"), "{e}");
}

#[test]
fn a_missing_scenario_file_names_it() {
    let e = error(&GOOD.replace("run = \"pessimistic\"", "run = \"scenarios/gone.wasm\""));
    assert!(e.contains("line 20"), "{e}");
    assert!(e.contains("experiments/scenarios/gone.wasm"), "{e}");
}

#[test]
fn unknown_members_and_labels_are_refused() {
    let e = error(&GOOD.replace("kill = [1, 2]", "kill = [4]"));
    assert!(e.contains("no member 4"), "{e}");
    let e = error(&GOOD.replace("pessimistic.final", "optimistic.final"));
    assert!(e.contains("reads `optimistic`"), "{e}");
    let e = error(&GOOD.replace("kill = [1, 2]", "kill = [1]\nstop = [2]"));
    assert!(e.contains("exactly one of"), "{e}");
    let e = error(&GOOD.replace(
        "that = \"pessimistic.final == 300\"",
        "that = \"pessimistic.final\"",
    ));
    assert!(e.contains("no comparison"), "{e}");
}

#[test]
fn a_pinned_hash_must_match() {
    let zeros = "0".repeat(64);
    let text = GOOD.replace(
        "run = \"pessimistic\"",
        &format!("run = \"pessimistic\"\nsha256 = \"{zeros}\""),
    );
    let e = error(&text);
    assert!(e.contains(&format!("pins {zeros}")), "{e}");
    let real =
        crate::scenario::sha256_hex(crate::scenario::shipped("pessimistic").unwrap().component);
    let text = GOOD.replace(
        "run = \"pessimistic\"",
        &format!("run = \"pessimistic\"\nsha256 = \"{real}\""),
    );
    parse(&text).unwrap();
}

#[test]
fn scenario_instance_counts() {
    use super::split_instances;
    assert_eq!(split_instances("race", 3).unwrap(), ("race".into(), 3));
    assert_eq!(
        split_instances("consumer:2", 1).unwrap(),
        ("consumer".into(), 2)
    );
    assert_eq!(
        split_instances("./x/y.wasm:4", 1).unwrap(),
        ("./x/y.wasm".into(), 4)
    );
    assert_eq!(
        split_instances("c:/x.wasm", 1).unwrap(),
        ("c:/x.wasm".into(), 1)
    );
    assert!(split_instances("race:0", 1)
        .unwrap_err()
        .contains("0 instances"));
}

#[test]
fn a_pin_that_is_no_sha256_is_refused_at_its_key() {
    for pin in ["zz", "00", &"g".repeat(64)] {
        let text = GOOD.replace(
            "run = \"pessimistic\"",
            &format!("run = \"pessimistic\"\nsha256 = \"{pin}\""),
        );
        let e = error(&text);
        assert!(e.contains("is not a SHA-256"), "{e}");
        assert!(e.contains("line 22"), "{e}");
    }
}

#[test]
fn backup_counts_beyond_hazelcast_are_refused_at_their_key() {
    let e = error(&GOOD.replace("backup-count = 2", "backup-count = 99"));
    assert!(e.contains("backup-count = 99"), "{e}");
    assert!(e.contains("line 14"), "{e}");
    let e = error(&GOOD.replace(
        "backup-count = 2 }",
        "backup-count = 4, async-backup-count = 3 }",
    ));
    assert!(e.contains("at most 6"), "{e}");
    // Large enough to overflow a sum.
    let e = error(&GOOD.replace(
        "backup-count = 2 }",
        "backup-count = 4294967295, async-backup-count = 1 }",
    ));
    assert!(e.contains("more than Hazelcast allows"), "{e}");
    let e = error(&GOOD.replace("queue-capacity = 10", "queue-capacity = 0"));
    assert!(e.contains("queue-capacity = 0"), "{e}");
    assert!(e.contains("line 7"), "{e}");
}

#[test]
fn a_member_named_twice_is_refused() {
    let e = error(&GOOD.replace("kill = [1, 2]", "kill = [2, 2]"));
    assert!(e.contains("member 2 is named twice"), "{e}");
    let e = error(&GOOD.replace("kill = [3]", "stop = [3, 3]"));
    assert!(e.contains("member 3 is named twice"), "{e}");
}

#[test]
fn waits_beyond_their_maxima_are_refused_at_their_key() {
    let e = error(&GOOD.replace("kill = [1, 2]", "sleep-ms = 99999999999"));
    assert!(e.contains("sleep-ms = 99999999999"), "{e}");
    assert!(e.contains("3600000"), "{e}");
    assert!(e.contains("line 26"), "{e}");
    parse(&GOOD.replace("kill = [1, 2]", "sleep-ms = 3600000")).unwrap();
    let e = error(&GOOD.replace("after-ms = 10", "after-ms = 31536000000"));
    assert!(e.contains("after-ms = 31536000000"), "{e}");
    assert!(e.contains("line 23"), "{e}");
    let e = error(&GOOD.replace("queue-capacity = 10", "network-yields = 4294967295"));
    assert!(e.contains("network-yields = 4294967295"), "{e}");
    assert!(e.contains("line 7"), "{e}");
}

#[test]
fn checks_may_read_only_values_a_shipped_scenario_or_fault_has() {
    let e = error(&GOOD.replace("pessimistic.final == 300", "pessimistic.fnal == 300"));
    assert!(e.contains("`pessimistic` has no value `fnal`"), "{e}");
    assert!(e.contains("final"), "{e}");
    let e = error(&GOOD.replace("pessimistic.final == 300", "kill.predictd == 0"));
    assert!(e.contains("`kill` has no value `predictd`"), "{e}");
    assert!(e.contains("predicted, observed"), "{e}");
    // The counters' totals count too.
    parse(&GOOD.replace("pessimistic.final == 300", "pessimistic.increments == 300")).unwrap();
    parse(&GOOD.replace(
        "pessimistic.final == 300",
        "kill.observed <= kill.predicted",
    ))
    .unwrap();
}

#[test]
fn a_bad_argument_for_a_shipped_scenario_is_refused() {
    let e = error(&GOOD.replace("iterations = 100", "iterations = \"many\""));
    assert!(e.contains("iterations=\"many\""), "{e}");
    assert!(e.contains("shipped scenario `pessimistic`"), "{e}");
    let e = error(&GOOD.replace("args = { items = 50 }", "args = { items = 1.5 }"));
    assert!(e.contains("items=\"1.5\""), "{e}");
    // Arguments no scenario of the step reads are left alone.
    parse(&GOOD.replace("args = { items = 50 }", "args = { items = 50, colour = 3 }")).unwrap();
}

#[test]
fn timed_faults_run_in_time_order() {
    let plan = parse(&GOOD.replace(
        "faults = [{ after-ms = 10, kill = [3] }]",
        "faults = [{ after-ms = 50, start = [3] }, { after-ms = 10, kill = [3] }]",
    ))
    .unwrap();
    match &plan.cases[0].steps[1].action {
        Action::Run { faults, .. } => {
            assert_eq!(faults[0].1, Fault::Kill(vec![3]));
            assert_eq!(faults[1].1, Fault::Start(vec![3]));
        }
        other => panic!("{other:?}"),
    }
}

const SPLIT: &str = r#"
[cluster]
members = 3
hosts = true
max-no-heartbeat-s = 4
merge-first-run-delay-s = 5
merge-next-run-delay-s = 5

[cluster.map.accounts]
merge-policy = "latest-update"
min-cluster-size = 2
protect-on = "write"

[cluster.queue.jobs]
merge-policy = "Discard"

[[case]]
name = "split"

[[case.step]]
run = "pessimistic"
connect = [2, 3]
faults = [{ after-ms = 2000, partition = [[1], [2, 3]] }, { after-ms = 12000, heal = true }]

[[case.step]]
isolate = 2

[[case.step]]
ring = true

[[case.step]]
from = [1]
to = [2, 3]

[[case.step]]
heal = true

[[case.step]]
pause = [2]

[[case.step]]
resume = [2]
"#;

#[test]
fn network_faults_and_split_brain_settings_resolve() {
    use crate::cluster::split_brain::{ProtectOn, StructureKind};
    let plan = parse(SPLIT).unwrap();
    let case = &plan.cases[0];
    assert!(case.cluster.hosts);
    let sb = &case.cluster.split_brain;
    assert_eq!(sb.max_no_heartbeat_secs, Some(4));
    assert_eq!(sb.merge_first_run_delay_secs, Some(5));
    assert_eq!(sb.structures.len(), 2);
    let map = &sb.structures[0];
    assert_eq!(map.kind, StructureKind::Map);
    assert_eq!(map.name, "accounts");
    assert_eq!(map.merge_policy.as_deref(), Some("LatestUpdate"));
    assert_eq!(
        (map.min_cluster_size, map.protect_on),
        (Some(2), ProtectOn::Write)
    );
    match &case.steps[0].action {
        Action::Run {
            faults, connect, ..
        } => {
            assert_eq!(connect.as_deref(), Some(&[2, 3][..]));
            assert_eq!(faults[0].0.as_millis(), 2000);
            assert_eq!(faults[0].1.describe(), "partition [1] | [2, 3]");
            assert_eq!(faults[1].1, Fault::Heal);
        }
        other => panic!("{other:?}"),
    }
    let kinds: Vec<&str> = case.steps[1..]
        .iter()
        .map(|s| match &s.action {
            Action::Fault(f) => f.kind(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        kinds,
        ["isolate", "ring", "one-way", "heal", "pause", "resume"]
    );
    match &case.steps[3].action {
        Action::Fault(Fault::Cut { cut, .. }) => {
            assert!(cut.blocks(1, 2) && !cut.blocks(2, 1));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn network_faults_need_hosts_on_real_members_and_sound_settings() {
    // The embedded model cuts without hosts; real members need them (checked by --local).
    let no_hosts = SPLIT.replace("hosts = true\n", "");
    let plan = parse(&no_hosts).unwrap();
    let why = plan.cases[0]
        .needs_hosts()
        .expect("a cut needs hosts on real members");
    assert!(
        why.contains("hosts = true") && why.contains("line 19"),
        "{why}"
    );
    assert_eq!(parse(SPLIT).unwrap().cases[0].needs_hosts(), None);
    // Pauses work on loopback members too.
    let pause_only = "[[case]]\nname = \"p\"\n[[case.step]]\npause = [2]\n";
    parse(pause_only).unwrap();
    let e = error(&SPLIT.replace("partition = [[1], [2, 3]]", "partition = [[1], [2]]"));
    assert!(e.contains("member(s) 3 are in none"), "{e}");
    let e = error(&SPLIT.replace("\"latest-update\"", "\"newest\""));
    assert!(e.contains("not one of Hazelcast's built-in"), "{e}");
    let e = error(&SPLIT.replace("\"Discard\"", "\"HigherHits\""));
    assert!(e.contains("cannot merge with HigherHits"), "{e}");
    let e = error(&SPLIT.replace("min-cluster-size = 2", "min-cluster-size = 4"));
    assert!(e.contains("refuses every operation"), "{e}");
    let e = error(&SPLIT.replace("max-no-heartbeat-s = 4", "max-no-heartbeat-s = 0"));
    assert!(e.contains("at least 1 second"), "{e}");
    let e = error(&SPLIT.replace("isolate = 2", "isolate = 2\nheal = true"));
    assert!(e.contains("exactly one of"), "{e}");
    let e = error(&SPLIT.replace("isolate = 2", "isolate = 2\nconnect = [1]"));
    assert!(e.contains("connect, iterations"), "{e}");
    let e = error(&SPLIT.replace("connect = [2, 3]", "connect = [4]"));
    assert!(e.contains("no member 4"), "{e}");
}

#[test]
fn run_steps_take_a_trim_and_a_bad_one_is_named() {
    let step = |extra: &str| {
        format!(
            "[[case]]\nname = \"c\"\n[[case.step]]\nrun = \"race\"\nrate = 100\nduration = \"10s\"\n{extra}\n"
        )
    };
    let plan = parse(&step("trim = [\"2s\", \"1s\"]")).unwrap();
    match &plan.cases[0].steps[0].action {
        Action::Run { scenarios, .. } => {
            let t = scenarios[0].trim.unwrap();
            assert_eq!(
                (t.warm_up.as_secs(), t.cool_down.as_secs()),
                (2, 1),
                "{t:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    let e = error(&step("trim = [\"2s\"]"));
    assert!(e.contains("is not [WARM-UP, COOL-DOWN]"), "{e}");
    let e = error(&step("trim = [\"6s\", \"5s\"]"));
    assert!(
        e.contains("trim: trimming 6s and 5s leaves nothing of 10s"),
        "{e}"
    );
    let e = error(&step("trim = [\"1s\", \"soon\"]"));
    assert!(e.contains("trim: cool-down"), "{e}");
}
