//! The seed scenarios through the real backend, on local Hazelcast members started by the
//! test (loopback only, a cluster name and free ports of its own, stopped at the end).

use std::time::{Duration, Instant};

use crate::common::{args, scenario, spec, value};
use hazelcast_members::{LocalCluster, LocalClusterConfig};
use hzlab::backend::real::{RealCluster, RealConfig};
use hzlab::engine::{InstanceLimits, ScenarioEngine};
use hzlab::history::HistoryWriter;
use hzlab::results::{RunResult, Status};
use hzlab::runner::{self, RunSpec, ScenarioSpec};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn start(name: &str, members: usize) -> LocalCluster {
    LocalCluster::start(LocalClusterConfig::new(
        format!("{name}-{}", std::process::id()),
        members,
    ))
    .await
    .expect("local Hazelcast members (java and the member jar) are needed")
}

async fn connect(local: &LocalCluster, queue_capacity: Option<u32>) -> RealCluster {
    let mut config = RealConfig::new(local.addresses(), local.cluster_name());
    config.invocation_timeout = Duration::from_secs(30);
    config.queue_capacity = queue_capacity;
    RealCluster::connect(config).await.unwrap()
}

async fn run(
    cluster: &RealCluster,
    steps: Vec<Vec<ScenarioSpec>>,
    pairs: &[(&str, &str)],
) -> RunResult {
    run_recorded(cluster, steps, pairs, None).await
}

async fn run_recorded(
    cluster: &RealCluster,
    steps: Vec<Vec<ScenarioSpec>>,
    pairs: &[(&str, &str)],
    history: Option<std::sync::Arc<HistoryWriter>>,
) -> RunResult {
    let engine = ScenarioEngine::new().unwrap();
    let spec = RunSpec {
        steps,
        args: args(pairs),
        limits: InstanceLimits {
            time_budget: Duration::from_secs(120),
            ..InstanceLimits::default()
        },
        seed: 0,
        echo_logs: false,
    };
    runner::run_with_history(&engine, cluster, &spec, Default::default(), history)
        .await
        .unwrap()
}

#[test]
fn seed_scenarios_on_three_real_members() {
    runtime().block_on(async {
        let local = start("hzlab-seed", 3).await;
        let cluster = connect(&local, Some(10)).await;
        assert_eq!(cluster.client().members().len(), 3);

        let r = run(
            &cluster,
            vec![
                vec![spec("race", 3)],
                vec![spec("pessimistic", 3)],
                vec![spec("optimistic", 3)],
            ],
            &[("iterations", "2000")],
        )
        .await;
        let race = value(scenario(&r, "race"), "final");
        assert!(
            race < 6000,
            "no update lost without a lock on real members: {race}"
        );
        for name in ["pessimistic", "optimistic"] {
            let s = scenario(&r, name);
            assert!(s.passed(), "{s:#?}");
            assert_eq!(value(s, "final"), 6000, "{name}");
        }
        assert_eq!(r.backend.kind, "real");

        let r = run(
            &cluster,
            vec![
                vec![spec("producer", 1), spec("consumer", 2)],
                vec![spec("populate", 3)],
                vec![spec("count", 2)],
            ],
            &[
                ("items", "100"),
                ("keys", "1000"),
                ("expect-present", "1000"),
            ],
        )
        .await;
        assert!(r.passed, "{r:#?}");
        assert_eq!(value(scenario(&r, "consumer"), "consumed-once"), 100);
        assert!(
            value(scenario(&r, "producer"), "full") > 0,
            "the queue of 10 never filled"
        );
        assert_eq!(value(scenario(&r, "count"), "present"), 1000);
        cluster.shutdown().await;
    });
}

#[test]
fn pessimistic_run_survives_a_member_kill() {
    runtime().block_on(async {
        let mut local = start("hzlab-kill", 3).await;
        let cluster = connect(&local, None).await;
        let started = Instant::now();
        // The operations are recorded: the checkers must find no violation in them, where
        // the kill leaves outcomes unknown.
        let history_path =
            std::env::temp_dir().join(format!("hzlab-kill-history-{}.jsonl", std::process::id()));
        let history = std::sync::Arc::new(HistoryWriter::create(&history_path).unwrap());
        let (r, killed) = tokio::join!(
            run_recorded(
                &cluster,
                vec![vec![spec("pessimistic", 3)]],
                &[("iterations", "3000")],
                Some(history.clone()),
            ),
            async {
                tokio::time::sleep(Duration::from_millis(1500)).await;
                local.kill(1)
            }
        );
        killed.unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(100),
            "the run took {:?}",
            started.elapsed()
        );
        let s = scenario(&r, "pessimistic");
        for i in &s.instances {
            match i.outcome.status {
                Status::Ok => {}
                Status::Failed => {
                    let e = i.outcome.error.as_deref().unwrap_or("");
                    assert!(
                        !e.is_empty(),
                        "instance {} failed without a message",
                        i.index
                    );
                }
                other => panic!("instance {} ended {other:?}: {i:#?}", i.index),
            }
        }
        if s.instances.iter().all(|i| i.outcome.status == Status::Ok) {
            assert_eq!(value(s, "final"), 9000, "{s:#?}");
        }
        history.finish().unwrap();
        let events = hzlab::history::read(&history_path).unwrap();
        let check = hzlab::history::check(&events);
        let _ = std::fs::remove_file(&history_path);
        // Outcomes the kill left unknown make no violation of the counter's key. (The lock
        // is another matter: Hazelcast's map locks are not CP, and a lock held on the killed
        // member can be granted again before its owner unlocks; the lock checker reports such
        // overlaps, which this run may or may not show.)
        let summary = hzlab::report::history_summary("kill", &check);
        eprintln!("{summary}");
        assert!(check.counters.iter().all(|c| c.clean()), "{summary}");
        assert_eq!(check.linearizability.len(), 1, "{summary}");
        assert_ne!(
            check.linearizability[0].verdict(),
            hzlab::history::Verdict::NotLinearizable,
            "{summary}"
        );
        assert_eq!(check.locks.len(), 1, "{summary}");
        cluster.shutdown().await;
    });
}

/// Kills the child process when dropped (also when the test fails).
struct ChildGuard(std::process::Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_run_whose_cluster_goes_away_ends_within_the_heartbeat_timeout() {
    use std::process::{Command, Stdio};
    let rt = runtime();
    let mut local = rt.block_on(start("gone", 2));
    let child = Command::new(env!("CARGO_BIN_EXE_hzlab"))
        .args([
            "run",
            "pessimistic:3",
            "--arg",
            "iterations=100000000",
            "-q",
        ])
        .args(["--cluster", &local.addresses().join(",")])
        .args(["--cluster-name", local.cluster_name()])
        .args(["--heartbeat-timeout", "5"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = ChildGuard(child);
    // Let it connect and run a while, then take every member away.
    std::thread::sleep(Duration::from_secs(4));
    assert!(child.0.try_wait().unwrap().is_none(), "hzlab ended early");
    let killed = Instant::now();
    local.kill_many(&[0, 1]).unwrap();
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            killed.elapsed() < Duration::from_secs(60),
            "hzlab still runs 60 s after its cluster went away"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let waited = killed.elapsed();
    let mut stdout = String::new();
    let mut stderr = String::new();
    use std::io::Read;
    child
        .0
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    child
        .0
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let all = format!("{stdout}{stderr}");
    assert_eq!(status.code(), Some(3), "{all}");
    assert!(
        stderr.contains(&format!("the cluster `{}` is gone", local.cluster_name())),
        "{all}"
    );
    assert!(stdout.contains("result: FAILED"), "{all}");
    // The heartbeat timeout (5 s) and a margin, not the invocation timeout (120 s).
    assert!(waited < Duration::from_secs(20), "took {waited:?}: {all}");
    eprintln!("the run ended {waited:?} after every member was killed");
}
