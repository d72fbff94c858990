//! A write whose backup never acknowledges it (the backup member frozen with SIGSTOP): by
//! default the call completes with the primary's answer once the backup timeout has passed,
//! as the official clients do; with `fail_on_indeterminate_state` it fails with
//! `ClientError::Indeterminate`, so that a caller (and hzlab's operation history) can count the
//! write as uncertain rather than done.

use std::time::{Duration, Instant};

use hazelcast_client::{Client, ClientError, Value};
use hazelcast_members::{LocalCluster, LocalClusterConfig};

/// Waits until `client` sends writes backup-aware (connections to every member, each
/// listening for backup acknowledgements).
async fn backup_acks_on(client: &Client) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !client.backup_acks_active() {
        assert!(
            Instant::now() < deadline,
            "backup acknowledgements never became active"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_whose_backup_is_frozen_completes_or_is_indeterminate() {
    let mut cluster = LocalCluster::start(LocalClusterConfig::new("backup-timeout-test", 2))
        .await
        .expect("members start");
    let backup_timeout = Duration::from_millis(600);
    let mut config = cluster.client_config();
    config.operation_backup_timeout = backup_timeout;
    let lenient = Client::connect(config.clone()).await.unwrap();
    config.fail_on_indeterminate_state = true;
    let strict = Client::connect(config).await.unwrap();
    backup_acks_on(&lenient).await;
    backup_acks_on(&strict).await;

    let key = Value::from("k");
    let (lenient_map, strict_map) = (lenient.map("backup-timeout"), strict.map("backup-timeout"));
    // Proxies created and both backups acknowledging while every member runs.
    lenient_map.set(&key, &Value::Int(1)).await.unwrap();
    strict_map.set(&key, &Value::Int(2)).await.unwrap();

    // The partition table reaches the client in a cluster-view event after the first
    // partition operation assigned the partitions.
    let deadline = Instant::now() + Duration::from_secs(20);
    let owner = loop {
        if let Some(m) = lenient_map.partition_owner(&key) {
            break m.address.to_string();
        }
        assert!(Instant::now() < deadline, "no partition owner known");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let backup = cluster
        .addresses()
        .iter()
        .position(|a| *a != owner)
        .expect("two members");
    cluster.freeze(backup).unwrap();

    let t = Instant::now();
    let r = lenient_map.set(&key, &Value::Int(3)).await;
    let lenient_took = t.elapsed();
    let t = Instant::now();
    let e = strict_map.set(&key, &Value::Int(4)).await;
    let strict_took = t.elapsed();
    cluster.thaw(backup).unwrap();

    assert!(
        r.is_ok(),
        "the default completes with the primary's answer: {r:?}"
    );
    assert!(lenient_took >= backup_timeout, "{lenient_took:?}");
    match e {
        Err(ClientError::Indeterminate {
            expected, missing, ..
        }) => {
            assert_eq!((expected, missing), (1, 1));
        }
        other => panic!("expected an indeterminate outcome, got {other:?}"),
    }
    assert!(strict_took >= backup_timeout, "{strict_took:?}");
    assert!(strict_took < backup_timeout * 10, "{strict_took:?}");
    // The write did run on the primary.
    assert_eq!(lenient_map.get(&key).await.unwrap(), Some(Value::Int(4)));

    // Once the backup runs again, writes complete at once.
    let t = Instant::now();
    strict_map.set(&key, &Value::Int(5)).await.unwrap();
    assert!(t.elapsed() < backup_timeout, "{:?}", t.elapsed());
    lenient.shutdown().await;
    strict.shutdown().await;
}
