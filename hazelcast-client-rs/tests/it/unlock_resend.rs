//! An unlock re-sent after its connection closed: a member that ran the first send answers
//! the second with "not the lock owner" (Hazelcast's unlock cannot tell a re-send from a
//! stray unlock). Against a fake member (tests/fake) that runs the unlock, then drops the
//! connection before answering, the call succeeds; an unlock answered "not the lock
//! owner" on its first send still fails.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::fake::{empty_answer, error_answer, Reply};
use hazelcast_client::error::codes::ILLEGAL_MONITOR_STATE;
use hazelcast_client::protocol::map::UNLOCK;
use hazelcast_client::{Client, ClientConfig, ClientError, Value};

/// A member whose answer to an unlock on connection `n` is `unlock(n)`; every other
/// request gets an empty answer. Returns the client and the number of unlocks received.
async fn client_of(unlock: fn(usize) -> Option<bool>) -> (Client, Arc<AtomicUsize>) {
    let unlocks = Arc::new(AtomicUsize::new(0));
    let seen = unlocks.clone();
    let addr = crate::fake::serve(Arc::new(move |conn, msg| {
        if msg.message_type() != UNLOCK {
            return Reply::Answer(empty_answer(msg));
        }
        seen.fetch_add(1, Ordering::Relaxed);
        match unlock(conn) {
            None => Reply::Close,
            Some(true) => Reply::Answer(empty_answer(msg)),
            Some(false) => Reply::Answer(error_answer(
                msg,
                ILLEGAL_MONITOR_STATE,
                "java.lang.IllegalMonitorStateException",
                "Current thread is not owner of the lock!",
            )),
        }
    }))
    .await;
    let mut config = ClientConfig::new("unlock-resend", [addr]);
    config.invocation_timeout = Duration::from_secs(10);
    config.retry_pause = Duration::from_millis(50);
    (Client::connect(config).await.unwrap(), unlocks)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resent_unlock_that_finds_the_lock_gone_succeeds() {
    // First connection: the unlock "runs" and the connection drops before the answer;
    // on the next connection the lock is no longer ours.
    let (client, unlocks) = client_of(|conn| (conn > 0).then_some(false)).await;
    let r = tokio::time::timeout(
        Duration::from_secs(20),
        client.map("m").unlock(&Value::from("k"), 1),
    )
    .await
    .expect("the unlock must not hang");
    assert!(r.is_ok(), "{r:?}");
    assert_eq!(unlocks.load(Ordering::Relaxed), 2, "sent once, then again");
    client.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unlock_of_a_lock_never_held_fails() {
    let (client, unlocks) = client_of(|_| Some(false)).await;
    let r = client.map("m").unlock(&Value::from("k"), 1).await;
    assert!(matches!(r, Err(ClientError::NotLockOwner { .. })), "{r:?}");
    assert_eq!(unlocks.load(Ordering::Relaxed), 1);
    client.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resent_unlock_that_succeeds_succeeds() {
    let (client, unlocks) = client_of(|conn| (conn > 0).then_some(true)).await;
    let r = client.map("m").unlock(&Value::from("k"), 1).await;
    assert!(r.is_ok(), "{r:?}");
    assert_eq!(unlocks.load(Ordering::Relaxed), 2);
    client.shutdown().await;
}
