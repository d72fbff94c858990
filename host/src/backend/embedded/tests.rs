//! The embedded cluster's own behaviour, through its `Backend`/`Session` interface and its
//! fault methods: map semantics as Hazelcast's IMap has them, reentrant per-owner locks,
//! bounded blocking queues, crashes that lose what the partition table predicts, graceful
//! leaves that lose nothing.

use std::time::Duration;

use super::*;

fn cluster(members: usize, backups: u32, async_backups: u32) -> EmbeddedCluster {
    EmbeddedCluster::new(EmbeddedConfig {
        members,
        backup_count: backups,
        async_backup_count: async_backups,
        ..EmbeddedConfig::default()
    })
    .unwrap()
}

fn int(i: i32) -> Value {
    Value::Int(i)
}

async fn fill(s: &EmbeddedSession, map: &str, n: i32) {
    for k in 0..n {
        s.set(map, &int(k), &int(k)).await.unwrap();
    }
}

#[test]
fn invalid_shapes_are_refused_with_the_reason() {
    let e = |config: EmbeddedConfig| EmbeddedCluster::new(config).unwrap_err().to_string();
    let none = e(EmbeddedConfig {
        members: 0,
        ..EmbeddedConfig::default()
    });
    assert!(none.contains("at least one member"), "{none}");
    let many = e(EmbeddedConfig {
        backup_count: 4,
        async_backup_count: 3,
        ..EmbeddedConfig::default()
    });
    assert!(many.contains("at most 6"), "{many}");
    let no_partitions = e(EmbeddedConfig {
        partitions: 0,
        ..EmbeddedConfig::default()
    });
    assert!(no_partitions.contains("partition"), "{no_partitions}");
}

#[tokio::test]
async fn map_operations_answer_as_an_imap_does() {
    let c = cluster(3, 1, 0);
    let s = c.session(1);
    let (m, k) = ("m", &Value::String("k".into()));
    assert_eq!(s.get(m, k).await.unwrap(), None);
    assert_eq!(s.put(m, k, &int(1)).await.unwrap(), None);
    assert_eq!(s.put(m, k, &int(2)).await.unwrap(), Some(int(1)));
    assert_eq!(s.put_if_absent(m, k, &int(9)).await.unwrap(), Some(int(2)));
    assert_eq!(s.get(m, k).await.unwrap(), Some(int(2)));
    // replace only replaces a present key; replace-if-same compares the stored bytes, so an
    // Integer 2 is not a Long 2.
    assert_eq!(
        s.replace(m, &int(77), &int(1)).await.unwrap(),
        None,
        "absent key"
    );
    assert!(!s.contains_key(m, &int(77)).await.unwrap());
    assert!(!s
        .replace_if_same(m, k, &Value::Long(2), &int(3))
        .await
        .unwrap());
    assert!(s.replace_if_same(m, k, &int(2), &int(3)).await.unwrap());
    assert!(!s.replace_if_same(m, k, &int(2), &int(4)).await.unwrap());
    assert_eq!(s.replace(m, k, &int(5)).await.unwrap(), Some(int(3)));
    assert!(s.contains_key(m, k).await.unwrap());
    fill(&s, m, 10).await;
    assert_eq!(s.size(m).await.unwrap(), 11);
    assert_eq!(s.size("other").await.unwrap(), 0, "maps are separate");
    assert_eq!(s.remove(m, k).await.unwrap(), Some(int(5)));
    assert_eq!(s.remove(m, k).await.unwrap(), None);
    s.clear(m).await.unwrap();
    assert_eq!(s.size(m).await.unwrap(), 0);
    // Another session sees the same data.
    s.set(m, k, &int(6)).await.unwrap();
    assert_eq!(c.session(2).get(m, k).await.unwrap(), Some(int(6)));
}

#[tokio::test]
async fn locks_are_reentrant_per_owner_and_refuse_other_owners() {
    let c = cluster(3, 1, 0);
    let (a, b) = (c.session(1), c.session(2));
    let key = &int(1);
    a.lock("m", key).await.unwrap();
    a.lock("m", key).await.unwrap();
    assert!(a.is_locked("m", key).await.unwrap());
    assert!(!b
        .try_lock("m", key, Duration::from_millis(20))
        .await
        .unwrap());
    assert_eq!(b.unlock("m", key).await, Err(OpError::NotLockOwner));
    a.unlock("m", key).await.unwrap();
    assert!(
        a.is_locked("m", key).await.unwrap(),
        "locked twice, unlocked once"
    );
    a.unlock("m", key).await.unwrap();
    assert!(!a.is_locked("m", key).await.unwrap());
    assert_eq!(a.unlock("m", key).await, Err(OpError::NotLockOwner));
    assert!(b.try_lock("m", key, Duration::ZERO).await.unwrap());
    assert!(
        !a.is_locked("m", &int(2)).await.unwrap(),
        "locks are per key"
    );
}

#[tokio::test]
async fn a_waiting_lock_is_granted_when_the_owner_unlocks() {
    let c = cluster(3, 1, 0);
    let (a, b) = (c.session(1), c.session(2));
    let key = int(1);
    a.lock("m", &key).await.unwrap();
    let waiter = async {
        b.lock("m", &key).await.unwrap();
        // b holds it now: a cannot take it back.
        assert!(!a.try_lock("m", &key, Duration::ZERO).await.unwrap());
        b.unlock("m", &key).await.unwrap();
    };
    let owner = async {
        tokio::time::sleep(Duration::from_millis(20)).await;
        a.unlock("m", &key).await.unwrap();
    };
    tokio::time::timeout(Duration::from_secs(5), async {
        tokio::join!(waiter, owner)
    })
    .await
    .expect("the waiting lock was never granted");
    assert!(!a.is_locked("m", &key).await.unwrap());
}

#[tokio::test]
async fn a_bounded_queue_refuses_when_full_and_blocks_put_until_a_take() {
    let c = EmbeddedCluster::new(EmbeddedConfig {
        queue_capacity: Some(2),
        ..EmbeddedConfig::default()
    })
    .unwrap();
    let (p, q) = (c.session(1), c.session(2));
    assert!(p.offer("q", &int(1), None).await.unwrap());
    assert!(p.offer("q", &int(2), None).await.unwrap());
    assert!(!p.offer("q", &int(3), None).await.unwrap(), "full");
    assert!(!p
        .offer("q", &int(3), Some(Duration::from_millis(20)))
        .await
        .unwrap());
    assert_eq!(q.queue_size("q").await.unwrap(), 2);
    let producer = async { p.queue_put("q", &int(3)).await.unwrap() };
    let consumer = async {
        tokio::time::sleep(Duration::from_millis(20)).await;
        q.take("q").await.unwrap()
    };
    let ((), first) = tokio::time::timeout(Duration::from_secs(5), async {
        tokio::join!(producer, consumer)
    })
    .await
    .expect("put never got room");
    assert_eq!(first, int(1), "first in, first out");
    assert_eq!(q.poll("q", None).await.unwrap(), Some(int(2)));
    assert_eq!(q.poll("q", None).await.unwrap(), Some(int(3)));
    assert_eq!(
        q.poll("q", Some(Duration::from_millis(20))).await.unwrap(),
        None
    );
    assert_eq!(q.queue_size("q").await.unwrap(), 0);
}

#[tokio::test]
async fn a_crash_loses_what_the_partition_table_predicts() {
    let c = cluster(3, 1, 0);
    let s = c.session(1);
    fill(&s, "m", 1000).await;
    let spread = c.distribution("m");
    assert_eq!(spread.iter().map(|m| m.owned_entries).sum::<usize>(), 1000);
    assert_eq!(spread.iter().map(|m| m.backup_entries).sum::<usize>(), 1000);
    assert_eq!(
        spread.iter().map(|m| m.owned_partitions).sum::<usize>(),
        271,
        "{spread:?}"
    );
    // One member: every partition has another replica.
    assert_eq!(c.predicted_loss("m", &[1]).unwrap(), 0);
    let predicted = c.predicted_loss("m", &[1, 2]).unwrap();
    assert!(predicted > 0 && predicted < 1000, "{predicted}");
    assert_eq!(c.crash(&[1, 2]).unwrap(), predicted);
    assert_eq!(s.size("m").await.unwrap(), 1000 - predicted as u64);
    assert_eq!(
        c.crash(&[1]).unwrap_err().to_string(),
        "member 1 is not running"
    );
    let live: Vec<bool> = c.distribution("m").iter().map(|m| m.running).collect();
    assert_eq!(live, [false, false, true]);
}

#[tokio::test]
async fn an_extra_async_backup_survives_a_double_crash() {
    let c = cluster(3, 1, 1);
    let s = c.session(1);
    fill(&s, "m", 1000).await;
    assert_eq!(c.predicted_loss("m", &[1, 2]).unwrap(), 0);
    assert_eq!(c.crash(&[1, 2]).unwrap(), 0);
    assert_eq!(s.size("m").await.unwrap(), 1000);
}

#[tokio::test]
async fn graceful_leaves_lose_nothing_and_a_restart_takes_partitions_back() {
    let c = cluster(3, 1, 0);
    let s = c.session(1);
    fill(&s, "m", 1000).await;
    c.leave(1).unwrap();
    c.leave(2).unwrap();
    assert_eq!(s.size("m").await.unwrap(), 1000);
    let spread = c.distribution("m");
    assert_eq!(spread[2].owned_entries, 1000, "{spread:?}");
    c.start(1).unwrap();
    assert_eq!(
        c.start(1).unwrap_err().to_string(),
        "member 1 is already running"
    );
    c.wait_safe(Duration::from_secs(5)).await.unwrap();
    let spread = c.distribution("m");
    assert!(spread[0].owned_partitions > 0, "{spread:?}");
    assert_eq!(spread.iter().map(|m| m.owned_entries).sum::<usize>(), 1000);
    assert!(c.leave(4).unwrap_err().to_string().contains("no member 4"));
}

#[tokio::test]
async fn with_every_member_down_operations_fail_as_unavailable() {
    let c = cluster(1, 0, 0);
    let s = c.session(1);
    s.set("m", &int(1), &int(1)).await.unwrap();
    assert_eq!(c.crash(&[1]).unwrap(), 1);
    assert!(matches!(
        s.get("m", &int(1)).await,
        Err(OpError::Unavailable(_))
    ));
    assert!(matches!(s.size("m").await, Err(OpError::Unavailable(_))));
}
