//! Graceful member shutdown (SIGTERM) under locked increments, and a whole-cluster restart:
//! the client keeps working through the first and reconnects after the second.

use std::time::{Duration, Instant};

use hazelcast_client::{Client, Value};
use hazelcast_members::{LocalCluster, LocalClusterConfig};

use super::workload::locked_increments;

async fn wait_until(what: &str, secs: u64, mut ok: impl FnMut() -> bool) {
    let t = Instant::now();
    while !ok() {
        assert!(
            t.elapsed() < Duration::from_secs(secs),
            "{what} not reached in {secs} s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_stop_and_full_restart() {
    let mut cluster = LocalCluster::start(LocalClusterConfig::new("restart-test", 2))
        .await
        .expect("members start");
    let client = Client::connect(
        cluster
            .client_config()
            .with_invocation_timeout(Duration::from_secs(30)),
    )
    .await
    .unwrap();
    let map = client.map("restart");
    let key = Value::from("counter");
    map.set(&key, &Value::Int(0)).await.unwrap();

    // A member leaving gracefully: every instance finishes or fails with a clear
    // connection error (a write caught by the closing connection is not re-sent without
    // redo_operation), nothing hangs, and no increment is lost or doubled: the final value
    // is the number of completed increments, plus at most one per failed instance (its
    // last write may have been applied before the connection closed).
    let tasks: Vec<_> = (1..=2)
        .map(|t| tokio::spawn(locked_increments(map.clone(), key.clone(), t, 300)))
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let owner = map.partition_owner(&key).unwrap().address.to_string();
    let leaving = cluster
        .addresses()
        .iter()
        .position(|a| *a == owner)
        .unwrap();
    let run_start = Instant::now();
    let stopper = tokio::spawn(async move {
        let t = Instant::now();
        cluster
            .stop(leaving, Duration::from_secs(60))
            .await
            .unwrap();
        eprintln!("member stopped in {:?}", t.elapsed());
        cluster
    });
    let (mut completed, mut failed) = (0, 0);
    for t in tasks {
        let r = tokio::time::timeout(Duration::from_secs(90), t)
            .await
            .expect("an instance hung during the graceful stop")
            .unwrap();
        match r {
            Ok(n) => completed += n,
            Err((n, e)) => {
                eprintln!("instance failed after {n} increments: {e}");
                assert!(e.is_connection_error(), "unclear error: {e:?}");
                completed += n;
                failed += 1;
            }
        }
    }
    eprintln!(
        "instances done {:?} after the stop began",
        run_start.elapsed()
    );
    let mut cluster = stopper.await.unwrap();
    let t0 = Instant::now();
    let Some(Value::Int(final_value)) = map.get(&key).await.unwrap() else {
        panic!("counter missing");
    };
    eprintln!("graceful stop: {completed} increments completed, {failed} instances failed, final {final_value}");
    assert!(
        (completed..=completed + failed).contains(&final_value),
        "final {final_value}, completed {completed}, failed {failed}"
    );
    wait_until("one member left", 60, || {
        client.members().len() == 1 && client.connected_members().len() == 1
    })
    .await;

    eprintln!("member list updated {:?} after the stop", t0.elapsed());
    // The whole cluster goes away and comes back (new member UUIDs, same addresses).
    cluster.kill(0).unwrap();
    cluster.kill(1).unwrap();
    wait_until("no connection", 30, || {
        client.connected_members().is_empty()
    })
    .await;
    let t0 = Instant::now();
    cluster.restart(0).await.unwrap();
    cluster.restart(1).await.unwrap();
    eprintln!("members restarted in {:?}", t0.elapsed());
    wait_until("reconnected to both members", 90, || {
        client.members().len() == 2 && client.connected_members().len() == 2
    })
    .await;
    eprintln!(
        "client reconnected {:?} after the restart began",
        t0.elapsed()
    );
    // The data died with the members; the client works on the new cluster.
    map.set(&key, &Value::Int(1)).await.unwrap();
    assert_eq!(map.get(&key).await.unwrap(), Some(Value::Int(1)));
    client.shutdown().await;
}
