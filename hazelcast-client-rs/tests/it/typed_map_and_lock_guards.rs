//! Typed maps and lock guards against a real 5.7.0 member: stored types, the wrong-type
//! error, guards unlocking explicitly, on drop and when the unlock call is cancelled.

use std::time::Duration;

use hazelcast_client::{Client, ClientError, Map, Value};
use hazelcast_members::{LocalCluster, LocalClusterConfig};

/// Fails the test instead of hanging when a step takes too long.
async fn within<T>(secs: u64, what: &str, f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(secs), f)
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish within {secs} s"))
}

/// Waits until `key` is unlocked; false if it still is after 5 s.
async fn unlocked_soon(map: &Map, key: &Value) -> bool {
    for _ in 0..250 {
        if !map.is_locked(key).await.unwrap() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_maps_and_lock_guards_on_a_member() {
    let cluster = LocalCluster::start(LocalClusterConfig::new("typed-guards", 1))
        .await
        .expect("member starts");
    let client = within(30, "connect", Client::connect(cluster.client_config()))
        .await
        .unwrap();

    within(30, "typed map", async {
        let typed = client.map_of::<i64, String>("typed");
        let untyped = client.map("typed");
        // Keys are stored as K's type: the Long 1, which the Integer 1 is not.
        assert_eq!(typed.put(1, "a").await.unwrap(), None);
        assert_eq!(untyped.get(1i64).await.unwrap(), Some(Value::from("a")));
        assert_eq!(untyped.get(1).await.unwrap(), None);
        assert_eq!(typed.get(1).await.unwrap().as_deref(), Some("a"));
        assert_eq!(typed.get(2).await.unwrap(), None);
        assert!(typed.replace_if_same(1, "a", "b").await.unwrap());
        assert_eq!(
            typed.put_if_absent(1, "c").await.unwrap().as_deref(),
            Some("b")
        );

        // A value of another type: the error names the map, the key and both types.
        untyped.set(2i64, 5).await.unwrap();
        let err = typed.get(2).await.unwrap_err();
        assert!(
            matches!(
                &err,
                ClientError::WrongType { map, key, expected: "String", found: "Integer" }
                    if map == "typed" && key == "2"
            ),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "map `typed`, key 2: the value is of type Integer, where this typed map reads String"
        );
        // A put answering such a value wrote its own all the same.
        assert!(matches!(
            typed.put(2, "d").await,
            Err(ClientError::WrongType { .. })
        ));
        assert_eq!(typed.get(2).await.unwrap().as_deref(), Some("d"));
        assert_eq!(typed.size().await.unwrap(), 2);
        assert_eq!(typed.remove(2).await.unwrap().as_deref(), Some("d"));
        // Value reads anything.
        let any = untyped.typed::<i64, Value>();
        assert_eq!(any.get(1).await.unwrap(), Some(Value::from("b")));
        typed.destroy().await.unwrap();
    })
    .await;

    let map = client.map("guards");
    let key = Value::from("k");
    let first = map.lock_handle(1);
    let second = map.lock_handle(2);

    within(30, "explicit unlock", async {
        let guard = first.lock(&key).await.unwrap();
        assert_eq!(guard.key(), &key);
        assert_eq!(guard.thread_id(), 1);
        // The owner writes the locked key through the guard's map.
        guard.map().set(&key, 1).await.unwrap();
        let other = second
            .try_lock(&key, Duration::from_millis(200))
            .await
            .unwrap();
        assert!(other.is_none(), "another owner cannot lock a held key");
        guard.unlock().await.unwrap();
        assert!(
            !map.is_locked(&key).await.unwrap(),
            "unlock() has completed"
        );
    })
    .await;

    within(30, "unlock on drop", async {
        let guard = second.lock(&key).await.unwrap();
        assert!(map.is_locked(&key).await.unwrap());
        drop(guard);
        assert!(unlocked_soon(&map, &key).await, "a dropped guard unlocks");
        // And so does one dropped by an early return through `?`.
        let failing = async {
            let _guard = first.lock(&key).await?;
            Err::<(), _>(ClientError::Config("stop here".into()))?;
            Ok::<(), ClientError>(())
        };
        assert!(failing.await.is_err());
        assert!(unlocked_soon(&map, &key).await, "an early return unlocks");
    })
    .await;

    within(30, "cancelled unlock", async {
        let guard = first.lock(&key).await.unwrap();
        // Polls unlock() once (the unlock is on its way), then drops it before its answer: the
        // key must end unlocked all the same. (Here the request is already written when the
        // call is dropped; the task also covers a call dropped while waiting to send.)
        let cancelled = tokio::select! {
            biased;
            _ = guard.unlock() => false,
            _ = std::future::ready(()) => true,
        };
        assert!(cancelled, "the unlock call was cancelled");
        assert!(
            unlocked_soon(&map, &key).await,
            "the unlock completed anyway"
        );
    })
    .await;

    within(30, "keep locked", async {
        let kept = first.lock(&key).await.unwrap().keep_locked();
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(
            map.is_locked(&kept).await.unwrap(),
            "a kept lock stays locked"
        );
        let err = second.unlock(&kept).await.unwrap_err();
        assert!(matches!(err, ClientError::NotLockOwner { .. }), "{err}");
        first.unlock(&kept).await.unwrap();
        assert!(!map.is_locked(&kept).await.unwrap());
        // The explicit two-argument calls work as before.
        map.lock(&key, 5).await.unwrap();
        map.unlock(&key, 5).await.unwrap();
    })
    .await;

    map.destroy().await.unwrap();
    client.shutdown().await;
}
