//! The cluster manager and the data-loss experiment on the embedded model.

use hzlab::backend::embedded::EmbeddedConfig;
use hzlab::cluster::data_loss::{run_case, Case, DataLossOptions, Fault};
use hzlab::cluster::{ClusterControl, ClusterError, EmbeddedMembers};
use hzlab::engine::ScenarioEngine;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn cluster(case: &Case) -> EmbeddedMembers {
    EmbeddedMembers::new(EmbeddedConfig {
        backup_count: case.backup_count,
        async_backup_count: case.async_backup_count,
        seed: 7,
        ..EmbeddedConfig::default()
    })
    .unwrap()
}

#[test]
fn data_loss_experiment_has_the_seed_shape() {
    runtime().block_on(async {
        let engine = ScenarioEngine::new().unwrap();
        let options = DataLossOptions::default();
        for case in Case::seed_cases() {
            let mut c = cluster(&case);
            let r = run_case(&mut c, &engine, case, &options).await.unwrap();
            assert_eq!(r.before.total_owned(), 1000, "{}", case.describe());
            let copies = 1 + case.backup_count + case.async_backup_count;
            assert_eq!(r.before.total_backup(), 1000 * (copies as u64 - 1));
            assert_eq!(r.predicted_loss, r.observed_loss, "{}", case.describe());
            assert_eq!(r.entries_after, 1000 - r.observed_loss as u64);
            let lossy = case.fault == Fault::KillTwoAtOnce && case.async_backup_count == 0;
            if lossy {
                assert!(
                    (250..=420).contains(&r.observed_loss),
                    "about a third lost: {}",
                    r.observed_loss
                );
            } else {
                assert_eq!(r.observed_loss, 0, "{}", case.describe());
            }
        }
    });
}

#[test]
fn faults_on_bad_members_are_clear_errors() {
    runtime().block_on(async {
        let mut c = EmbeddedMembers::new(EmbeddedConfig::default()).unwrap();
        assert!(matches!(
            c.kill(&[4]).await,
            Err(ClusterError::NoSuchMember {
                member: 4,
                members: 3
            })
        ));
        assert!(matches!(c.kill(&[]).await, Err(ClusterError::NoMembers)));
        assert!(matches!(
            c.kill(&[1, 1]).await,
            Err(ClusterError::Duplicate(1))
        ));
        c.kill(&[1]).await.unwrap();
        assert!(c.kill(&[1]).await.is_err());
        assert!(!c.members()[0].running);
        c.start(1).await.unwrap();
        c.stop(2).await.unwrap();
        let d = c.distribution("m").await.unwrap();
        assert_eq!(d.members.iter().filter(|m| m.running).count(), 2);
        assert_eq!(
            d.members.iter().map(|m| m.owned_partitions).sum::<usize>(),
            271
        );
    });
}
