//! Heartbeats against a fake member (tests/fake) that authenticates the client and then
//! never answers again: the client pings the idle
//! connection, closes it when nothing is heard within the heartbeat timeout, and a call
//! pending on it ends with a clear error instead of hanging.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::fake::Reply;
use hazelcast_client::protocol::client::PING;
use hazelcast_client::{Client, ClientConfig, ClientError, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_connection_is_pinged_then_dropped() {
    let pings = Arc::new(AtomicUsize::new(0));
    let p = pings.clone();
    // Answers authentication, counts pings, answers nothing else.
    let addr = crate::fake::serve(Arc::new(move |_, msg| {
        if msg.message_type() == PING {
            p.fetch_add(1, Ordering::Relaxed);
        }
        Reply::Silent
    }))
    .await;
    let mut config = ClientConfig::new("capture", [addr]);
    config.connect_timeout = Duration::from_millis(500);
    config.heartbeat_interval = Duration::from_millis(200);
    config.heartbeat_timeout = Duration::from_millis(1500);
    config.invocation_timeout = Duration::from_secs(4);
    let client = Client::connect(config).await.unwrap();

    let t = Instant::now();
    let err = tokio::time::timeout(Duration::from_secs(10), client.map("m").get(&Value::Int(1)))
        .await
        .expect("the call must not hang")
        .unwrap_err();
    let took = t.elapsed();
    assert!(pings.load(Ordering::Relaxed) >= 1, "no ping sent");
    // The silent connection was dropped by the heartbeat; the read was retried on new
    // connections until its budget ran out.
    assert!(matches!(err, ClientError::Timeout { .. }), "{err}");
    assert!(
        err.chain().to_string().contains("nothing heard"),
        "the heartbeat should have closed the connection: {err}"
    );
    assert!(took < Duration::from_secs(6), "{took:?}");
    client.shutdown().await;
}
