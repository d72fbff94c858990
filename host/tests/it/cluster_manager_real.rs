//! The cluster manager and the data-loss experiment on real local members (127.0.0.1 only,
//! cluster names and free ports of their own; every member is killed when the test ends,
//! whether it passed or not).

use std::time::Instant;

use hzlab::cluster::data_loss::{run_case, Case, DataLossOptions, Fault};
use hzlab::cluster::{LocalMembers, LocalMembersConfig};
use hzlab::engine::ScenarioEngine;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

async fn members(name: &str, case: &Case) -> LocalMembers {
    let mut config = LocalMembersConfig::new(format!("{name}-{}", std::process::id()), 3);
    config.backup_count = case.backup_count;
    config.async_backup_count = case.async_backup_count;
    LocalMembers::start(config)
        .await
        .expect("local Hazelcast members (java, javac and the member jar) are needed")
}

#[test]
fn double_kill_loses_what_the_replica_table_predicts() {
    runtime().block_on(async {
        let engine = ScenarioEngine::new().unwrap();
        let options = DataLossOptions::default();
        for (name, async_backups) in [("loss-b1", 0), ("loss-b1a1", 1)] {
            let case = Case {
                backup_count: 1,
                async_backup_count: async_backups,
                fault: Fault::KillTwoAtOnce,
            };
            let t = Instant::now();
            let mut m = members(name, &case).await;
            let r = run_case(&mut m, &engine, case, &options).await.unwrap();
            m.shutdown();
            eprintln!(
                "{}: lost {} (predicted {}); settled in {:?} ms; {:?} in all",
                case.describe(),
                r.observed_loss,
                r.predicted_loss,
                r.kills.iter().map(|k| k.settle_ms).collect::<Vec<_>>(),
                t.elapsed()
            );
            assert_eq!(r.before.total_owned(), 1000);
            assert_eq!(r.before.total_backup(), 1000 * (1 + async_backups as u64));
            assert_eq!(r.predicted_loss, r.observed_loss);
            assert_eq!(r.entries_after, 1000 - r.observed_loss as u64);
            if async_backups == 0 {
                assert!(
                    (250..=420).contains(&r.observed_loss),
                    "about a third lost: {}",
                    r.observed_loss
                );
            } else {
                assert_eq!(r.observed_loss, 0);
            }
        }
    });
}
