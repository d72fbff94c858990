//! The seed scenarios through the real backend, on local Hazelcast members started by the
//! test (loopback only, a cluster name and free ports of its own, stopped at the end).

mod common;

use std::time::{Duration, Instant};

use common::{args, scenario, spec, value};
use hazelcast_client::local::{LocalCluster, LocalClusterConfig};
use hzlab::backend::real::{RealCluster, RealConfig};
use hzlab::engine::{InstanceLimits, ScenarioEngine};
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
    runner::run(&engine, cluster, &spec, Default::default())
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
        let (r, killed) = tokio::join!(
            run(
                &cluster,
                vec![vec![spec("pessimistic", 3)]],
                &[("iterations", "3000")]
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
        cluster.shutdown().await;
    });
}
