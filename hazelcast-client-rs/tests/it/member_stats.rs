//! Member-side statistics from local members: owned and backup entries per member, the
//! replica table (matching the client's partition owners and key hashing), a simultaneous
//! kill of two members losing exactly the partitions whose every replica was on them, and a
//! detached cluster taken over from its run directory.

use std::time::{Duration, Instant};

use hazelcast_client::{Client, Data, Value};
use hazelcast_members::{LocalCluster, LocalClusterConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_replica_table_and_loss_on_three_members() {
    let mut cluster = LocalCluster::start(LocalClusterConfig::new("stats-test", 3))
        .await
        .expect("members start");
    let client = Client::connect(cluster.client_config()).await.unwrap();
    let map = client.map("stats");
    for k in 0..1000 {
        map.set(&Value::Int(k), &Value::Int(k)).await.unwrap();
    }

    // Every member sees the same table; owned entries sum to 1000, so do backups (1 backup).
    let mut tables = Vec::new();
    let (mut owned, mut backup, mut partitions) = (0, 0, 0);
    for i in 0..3 {
        let s = cluster.stats(i, &["stats"]).await.unwrap();
        assert_eq!(s.members.len(), 3);
        assert_eq!(s.partition_count, 271);
        let m = s.map("stats").expect("map known");
        owned += m.owned_entries;
        backup += m.backup_entries;
        partitions += s.owned_partitions();
        tables.push(s.replica_table());
    }
    assert_eq!((owned, backup, partitions), (1000, 1000, 271));
    assert!(tables
        .windows(2)
        .all(|w| w[0].partitions == w[1].partitions));
    let table = &tables[0];
    for p in 0..271 {
        let owner = client
            .partition_owner(p)
            .expect("owner known")
            .uuid
            .to_string();
        assert_eq!(
            table.owner(p),
            Some(owner.as_str()),
            "owner of partition {p}"
        );
        // Replica slots are assigned up to the member count, whatever the backup counts.
        assert_eq!(table.replicas(p).count(), 3);
    }

    // Predict the loss of killing members 0 and 1 together from the table and the keys'
    // partitions, then kill them and count.
    let uuid = |i: usize| {
        let address = cluster.address(i).unwrap();
        table
            .members
            .iter()
            .find(|m| m.address == address)
            .map(|m| m.uuid.clone())
            .unwrap()
    };
    let (u0, u1) = (uuid(0), uuid(1));
    let copies = 1 + cluster
        .stats(2, &["stats"])
        .await
        .unwrap()
        .map("stats")
        .unwrap()
        .backup_count as usize;
    assert_eq!(copies, 2);
    let doomed = table.partitions_only_on(&[&u0, &u1], copies);
    let predicted = (0..1000)
        .filter(|&k| doomed.contains(&Data::from_value(&Value::Int(k)).partition_id(271)))
        .count();
    assert!((200..500).contains(&predicted), "predicted {predicted}");
    cluster.kill_many(&[0, 1]).unwrap();
    assert!(!cluster.is_running(0) && !cluster.is_running(1));
    assert!(matches!(
        cluster.stats(0, &[]).await,
        Err(hazelcast_members::LocalError::NotRunning { index: 0 })
    ));
    let deadline = Instant::now() + Duration::from_secs(90);
    let survivor = loop {
        let s = cluster.stats(2, &["stats"]).await.unwrap();
        if s.members.len() == 1 && !s.migrating && s.owned_partitions() == 271 {
            break s;
        }
        assert!(Instant::now() < deadline, "survivor never settled: {s:?}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let left = survivor.map("stats").unwrap().owned_entries as usize;
    assert_eq!(
        1000 - left,
        predicted,
        "observed loss equals predicted loss"
    );
    client.shutdown().await;

    // Detach, take over from the run directory, restart a member, shut down.
    let mut config = LocalClusterConfig::new("stats-detach", 2);
    let dir = std::env::temp_dir().join(format!("hz-stats-detach-{}", std::process::id()));
    config.run_dir = Some(dir.clone());
    config.own_process_group = true;
    let detached = LocalCluster::start(config).await.unwrap();
    let pid = detached.pid(1).unwrap();
    detached.detach().unwrap();
    // A detached cluster is not killed on drop: a guard does it if an assertion fails.
    struct KillOnDrop(LocalCluster);
    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            self.0.shutdown();
        }
    }
    let mut guard = KillOnDrop(LocalCluster::attach(&dir).unwrap());
    let again = &mut guard.0;
    assert!(again.is_running(0) && again.is_running(1));
    assert_eq!(again.pid(1), Some(pid));
    assert_eq!(again.stats(1, &[]).await.unwrap().members.len(), 2);
    again.kill(1).unwrap();
    assert!(!again.is_running(1));
    again.restart(1).await.unwrap();
    assert!(again.is_running(1));
    again.shutdown();
    assert!(!again.is_running(0) && !again.is_running(1));
    drop(guard);
    let _ = std::fs::remove_dir_all(&dir);
}
