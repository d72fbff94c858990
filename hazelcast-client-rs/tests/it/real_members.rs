//! Map, queue, lock, routing and error behaviour against two real 5.7.0 members, shared by
//! the tests of this module (one test per operation family).

use std::path::Path;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use hazelcast_client::{Client, ClientConfig, ClientError, MapConfig, QueueConfig, Value};
use hazelcast_members::{LocalCluster, LocalClusterConfig};

/// Fails the test instead of hanging when a step takes too long.
async fn within<T>(secs: u64, what: &str, f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(secs), f)
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish within {secs} s"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_without_members_are_clear_and_quick() {
    // A refused port.
    let port = hazelcast_members::free_ports(1).unwrap()[0];
    let t = Instant::now();
    let err = Client::connect(ClientConfig::new("x", [format!("127.0.0.1:{port}")]))
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Connect { .. }), "{err}");
    assert!(err.to_string().contains(&port.to_string()), "{err}");
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());

    // A server that answers with something other than the protocol.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut s, _)) = listener.accept().await {
            let mut buf = [0u8; 64];
            let _ = s.read(&mut buf).await;
            let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
        }
    });
    let err = Client::connect(ClientConfig::new("x", [addr.to_string()]))
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Protocol { .. }), "{err}");
}

/// Two members shared by this module's tests, started by the first test that needs them;
/// each test uses structures and clients of its own. The members exit with the test binary
/// (they watch a pipe from it), however it ends.
fn shared_members() -> &'static ClientConfig {
    static SHARED: OnceLock<(Mutex<LocalCluster>, ClientConfig)> = OnceLock::new();
    &SHARED
        .get_or_init(|| {
            // A thread of its own: the caller may be inside a test's runtime.
            std::thread::spawn(|| {
                let run_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("rm-ops");
                let _ = std::fs::remove_dir_all(&run_dir);
                let mut cfg = LocalClusterConfig::new("rm-ops", 2);
                cfg.queue_max_size = 0;
                cfg.run_dir = Some(run_dir);
                let rt = tokio::runtime::Runtime::new().unwrap();
                let cluster = rt
                    .block_on(LocalCluster::start(cfg))
                    .expect("members start");
                let config = cluster
                    .client_config()
                    .with_invocation_timeout(Duration::from_secs(20));
                (Mutex::new(cluster), config)
            })
            .join()
            .expect("the shared members start")
        })
        .1
}

/// A client of the shared members, and their client config.
async fn connect() -> (Client, ClientConfig) {
    let config = shared_members().clone();
    let client = within(30, "connect", Client::connect(config.clone()))
        .await
        .unwrap();
    (client, config)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_cluster_name_is_an_authentication_error() {
    let mut wrong = shared_members().clone();
    wrong.cluster_name = "not-rm-ops".into();
    let err = within(10, "wrong-name connect", Client::connect(wrong))
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Authentication { .. }), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_sees_both_members_and_every_partition() {
    let (client, _) = connect().await;
    assert_eq!(client.members().len(), 2);
    assert_eq!(client.partition_count(), 271);
    assert_eq!(client.connected_members().len(), 2);
    assert!(
        client.backup_acks_active(),
        "backup acks to the client are on by default"
    );
    client.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn map_operations_on_two_members() {
    // Map operations.
    let (client, _) = connect().await;
    let map = client.map("ops");
    let k = Value::Int(1);
    within(20, "map ops", async {
        assert_eq!(map.get(&k).await.unwrap(), None);
        assert_eq!(map.put(&k, &Value::from("a")).await.unwrap(), None);
        assert_eq!(
            map.put(&k, &Value::from("b")).await.unwrap(),
            Some(Value::from("a"))
        );
        assert_eq!(map.get(&k).await.unwrap(), Some(Value::from("b")));
        assert!(map.contains_key(&k).await.unwrap());
        assert!(!map.contains_key(&Value::Int(2)).await.unwrap());
        map.set(&Value::Int(2), &Value::Long(7)).await.unwrap();
        assert_eq!(map.size().await.unwrap(), 2);
        assert_eq!(
            map.put_if_absent(&Value::Int(2), &Value::Long(8))
                .await
                .unwrap(),
            Some(Value::Long(7))
        );
        assert_eq!(
            map.put_if_absent(&Value::Int(3), &Value::Bool(true))
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            map.replace(&Value::Int(3), &Value::Double(2.5))
                .await
                .unwrap(),
            Some(Value::Bool(true))
        );
        assert_eq!(
            map.replace(&Value::Int(99), &Value::Int(0)).await.unwrap(),
            None
        );
        assert!(!map.contains_key(&Value::Int(99)).await.unwrap());
        assert!(!map
            .replace_if_same(&Value::Int(2), &Value::Long(8), &Value::Long(9))
            .await
            .unwrap());
        assert!(map
            .replace_if_same(&Value::Int(2), &Value::Long(7), &Value::Long(9))
            .await
            .unwrap());
        assert_eq!(map.get(&Value::Int(2)).await.unwrap(), Some(Value::Long(9)));
        assert_eq!(
            map.remove(&Value::Int(2)).await.unwrap(),
            Some(Value::Long(9))
        );
        assert_eq!(map.remove(&Value::Int(2)).await.unwrap(), None);
        map.delete(&Value::Int(3)).await.unwrap();
        assert_eq!(map.size().await.unwrap(), 1);
        let blob = Value::Bytes(vec![0, 1, 2, 255]);
        map.set(&Value::from("bytes"), &blob).await.unwrap();
        assert_eq!(map.get(&Value::from("bytes")).await.unwrap(), Some(blob));
        map.clear().await.unwrap();
        assert_eq!(map.size().await.unwrap(), 0);
    })
    .await;
    client.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_operations_go_to_the_partition_owner() {
    // Smart routing: key operations go to the partition owner's connection.
    let (client, _) = connect().await;
    let map = client.map("ops-routing");
    within(30, "routing", async {
        // Touch every partition so the table is assigned and known.
        for i in 0..600 {
            map.set(&Value::Int(i), &Value::Int(i)).await.unwrap();
        }
        let t = Instant::now();
        while (0..271).any(|p| client.partition_owner(p).is_none()) {
            assert!(t.elapsed() < Duration::from_secs(10), "partition table");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let members = client.members();
        let target = &members[1];
        let keys: Vec<Value> = (0..2000)
            .map(Value::Int)
            .filter(|k| map.partition_owner(k).map(|m| m.uuid) == Some(target.uuid))
            .take(100)
            .collect();
        assert_eq!(keys.len(), 100);
        let before = client.requests_sent_per_member();
        for k in &keys {
            map.get(k).await.unwrap();
        }
        let after = client.requests_sent_per_member();
        for m in &members {
            let sent = after[&m.uuid] - before[&m.uuid];
            let expected = if m.uuid == target.uuid { 100 } else { 0 };
            assert_eq!(sent, expected, "requests to {}", m.address);
        }
        assert_eq!(
            client.partition_id(Value::Int(1)),
            31,
            "same partition as the official clients"
        );
    })
    .await;
    client.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locks_are_owned_by_thread_reentrant_and_can_be_forced() {
    // Locks: ownership by thread id, reentrancy, non-owner unlock, force unlock.
    let (client, config) = connect().await;
    let map = client.map("ops-locks");
    within(30, "locks", async {
        let key = Value::from("lock-key");
        map.lock(&key, 1).await.unwrap();
        assert!(map.is_locked(&key).await.unwrap());
        // Same thread: reentrant.
        assert!(map
            .try_lock(&key, 1, Duration::from_millis(0))
            .await
            .unwrap());
        // Another thread id of the same client is excluded.
        let t = Instant::now();
        assert!(!map
            .try_lock(&key, 2, Duration::from_millis(300))
            .await
            .unwrap());
        assert!(t.elapsed() >= Duration::from_millis(250));
        // A non-owner unlock fails clearly.
        let err = map.unlock(&key, 2).await.unwrap_err();
        assert!(matches!(err, ClientError::NotLockOwner { .. }), "{err}");
        // The owner writes through a handle with its thread id.
        map.with_thread_id(1)
            .set(&key, &Value::Int(10))
            .await
            .unwrap();
        // Thread 2 blocks in lock() until thread 1 releases both holds.
        let waiter = {
            let map = map.clone();
            let key = key.clone();
            tokio::spawn(async move {
                let t = Instant::now();
                map.lock(&key, 2).await.unwrap();
                let waited = t.elapsed();
                map.unlock(&key, 2).await.unwrap();
                waited
            })
        };
        tokio::time::sleep(Duration::from_millis(500)).await;
        map.unlock(&key, 1).await.unwrap();
        assert!(map.is_locked(&key).await.unwrap(), "still held once");
        tokio::time::sleep(Duration::from_millis(200)).await;
        map.unlock(&key, 1).await.unwrap();
        let waited = waiter.await.unwrap();
        assert!(waited >= Duration::from_millis(600), "waited {waited:?}");
        assert!(!map.is_locked(&key).await.unwrap());
        // A second client is another owner, even with the same thread id.
        let other = Client::connect(config.clone()).await.unwrap();
        map.lock(&key, 1).await.unwrap();
        let omap = other.map("ops-locks");
        assert!(!omap
            .try_lock(&key, 1, Duration::from_millis(100))
            .await
            .unwrap());
        omap.force_unlock(&key).await.unwrap();
        assert!(omap
            .try_lock(&key, 1, Duration::from_millis(100))
            .await
            .unwrap());
        omap.unlock(&key, 1).await.unwrap();
        other.shutdown().await;
    })
    .await;
    client.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_operations_and_a_take_that_waits() {
    // Queue operations.
    let (client, _) = connect().await;
    let q = client.queue("jobs");
    within(30, "queue ops", async {
        assert!(q
            .offer(&Value::Int(1), Duration::from_millis(0))
            .await
            .unwrap());
        q.put(&Value::from("two")).await.unwrap();
        assert_eq!(q.size().await.unwrap(), 2);
        assert_eq!(q.take().await.unwrap(), Value::Int(1));
        assert_eq!(
            q.poll(Duration::from_millis(0)).await.unwrap(),
            Some(Value::from("two"))
        );
        let t = Instant::now();
        assert_eq!(q.poll(Duration::from_millis(300)).await.unwrap(), None);
        assert!(t.elapsed() >= Duration::from_millis(250));
        // take() waits for an item offered later.
        let taker = {
            let q = q.clone();
            tokio::spawn(async move { q.take().await.unwrap() })
        };
        tokio::time::sleep(Duration::from_millis(300)).await;
        q.put(&Value::Long(5)).await.unwrap();
        assert_eq!(taker.await.unwrap(), Value::Long(5));
        q.put(&Value::Int(9)).await.unwrap();
        q.clear().await.unwrap();
        assert_eq!(q.size().await.unwrap(), 0);
    })
    .await;
    client.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bounded_queue_from_dynamic_config_blocks_put_while_full() {
    // Bounded queue from dynamic config: put blocks while full.
    let (client, _) = connect().await;
    within(40, "bounded queue", async {
        client
            .add_queue_config(QueueConfig {
                max_size: 2,
                ..QueueConfig::new("bounded")
            })
            .await
            .unwrap();
        let b = client.queue("bounded");
        b.put(&Value::Int(1)).await.unwrap();
        b.put(&Value::Int(2)).await.unwrap();
        assert!(!b
            .offer(&Value::Int(3), Duration::from_millis(200))
            .await
            .unwrap());
        let putter = {
            let b = b.clone();
            tokio::spawn(async move {
                let t = Instant::now();
                b.put(&Value::Int(3)).await.unwrap();
                t.elapsed()
            })
        };
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(
            !putter.is_finished(),
            "put must wait while the queue is full"
        );
        assert_eq!(b.take().await.unwrap(), Value::Int(1));
        let waited = putter.await.unwrap();
        assert!(waited >= Duration::from_millis(450), "{waited:?}");
        assert_eq!(b.size().await.unwrap(), 2);
        b.destroy().await.unwrap();
        assert_eq!(b.size().await.unwrap(), 0);
    })
    .await;
    client.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn map_config_at_run_time_and_destroy() {
    // Map config at run time, and destroy.
    let (client, _) = connect().await;
    within(20, "map config and destroy", async {
        client
            .add_map_config(MapConfig {
                backup_count: 1,
                async_backup_count: 1,
                ..MapConfig::new("configured")
            })
            .await
            .unwrap();
        let c = client.map("configured");
        c.set(&Value::Int(1), &Value::Int(1)).await.unwrap();
        assert_eq!(c.size().await.unwrap(), 1);
        c.destroy().await.unwrap();
        assert_eq!(c.size().await.unwrap(), 0);
    })
    .await;
    client.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocking_call_outlives_the_invocation_timeout_a_plain_one_does_not() {
    // A blocking call is not cut by the invocation timeout; a non-blocking one is.
    let (client, config) = connect().await;
    within(30, "timeouts", async {
        let short = Client::connect(
            config
                .clone()
                .with_invocation_timeout(Duration::from_millis(800)),
        )
        .await
        .unwrap();
        let sq = short.queue("slow");
        let taker = {
            let sq = sq.clone();
            tokio::spawn(async move { sq.take().await })
        };
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert!(
            !taker.is_finished(),
            "take must wait past the invocation timeout"
        );
        client.queue("slow").put(&Value::Int(1)).await.unwrap();
        assert_eq!(taker.await.unwrap().unwrap(), Value::Int(1));
        short.shutdown().await;
        let err = sq.size().await.unwrap_err();
        assert!(matches!(err, ClientError::ShutDown), "{err}");
    })
    .await;
    client.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unisocket_client_carries_everything_on_one_connection() {
    // Without smart routing: one connection carries everything.
    let (client, config) = connect().await;
    within(20, "unisocket client", async {
        let mut one = config.clone();
        one.smart_routing = false;
        let uni = Client::connect(one).await.unwrap();
        assert_eq!(uni.members().len(), 2);
        assert_eq!(uni.connected_members().len(), 1);
        assert!(!uni.backup_acks_active());
        let m = uni.map("uni");
        for i in 0..50 {
            m.set(&Value::Int(i), &Value::Int(i * 2)).await.unwrap();
        }
        assert_eq!(m.size().await.unwrap(), 50);
        assert_eq!(m.get(&Value::Int(21)).await.unwrap(), Some(Value::Int(42)));
        uni.shutdown().await;
    })
    .await;
    client.shutdown().await;
}
