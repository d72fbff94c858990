//! The client's diagnostics: against a fake member (tests/fake), the events a subscriber
//! sees when a connection drops under a pending call (closed, reconnect, the call re-sent)
//! and when a member goes silent (heartbeat timeout, the call giving up), at their levels.

// A binary of its own: tracing keeps which callsites are enabled process-wide, and the
// other tests' events (no subscriber on their threads) made this one miss its spans when
// they ran in the same process.
#[path = "it/fake/mod.rs"]
#[allow(dead_code)] // the fake member serves several test files
mod fake;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fake::{empty_answer, Reply};
use hazelcast_client::protocol::map::UNLOCK;
use hazelcast_client::{Client, ClientConfig, ClientError, Value};
use tracing::subscriber::DefaultGuard;

/// The text of the events written so far.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    /// The captured lines containing every one of `parts`.
    fn lines_with(&self, parts: &[&str]) -> Vec<String> {
        self.text()
            .lines()
            .filter(|l| parts.iter().all(|p| l.contains(p)))
            .map(str::to_owned)
            .collect()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Captures the client's events up to debug on this thread (the tests run on a
/// current-thread runtime, so the client's tasks run here too) while the guard lives.
fn capture() -> (Captured, DefaultGuard) {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    (captured, tracing::subscriber::set_default(subscriber))
}

#[tokio::test]
async fn a_dropped_connection_is_reported_with_its_reconnect_and_the_resent_call() {
    let (events, _guard) = capture();
    // The first connection drops with the unlock pending; the next one answers it.
    let addr = fake::serve(Arc::new(|conn, msg| {
        if msg.message_type() == UNLOCK && conn == 0 {
            Reply::Close
        } else {
            Reply::Answer(empty_answer(msg))
        }
    }))
    .await;
    let mut config = ClientConfig::new("tracing-reconnect", [addr.clone()]);
    config.invocation_timeout = Duration::from_secs(10);
    config.retry_pause = Duration::from_millis(50);
    let client = Client::connect(config).await.unwrap();
    let r = tokio::time::timeout(
        Duration::from_secs(20),
        client.map("m").unlock(&Value::from("k"), 1),
    )
    .await
    .expect("the unlock must not hang");
    assert!(r.is_ok(), "{r:?}");
    client.shutdown().await;

    let all = events.text();
    let conn = format!("address={addr}");
    assert_eq!(
        events
            .lines_with(&[" INFO ", &conn, "connection authenticated"])
            .len(),
        2,
        "the first connection and the reconnect authenticate:\n{all}"
    );
    assert!(
        !events
            .lines_with(&[" INFO ", &conn, "connection closed", "closed by the member"])
            .is_empty(),
        "the drop is reported with its reason:\n{all}"
    );
    for (level, what) in [
        (" INFO ", "no connection to the cluster left"),
        (" INFO ", "reconnected to the cluster"),
        (" INFO ", "sending it again"),
        (" DEBUG ", "retrying"),
    ] {
        assert!(
            !events.lines_with(&[level, what]).is_empty(),
            "no {level:?} event {what:?}:\n{all}"
        );
    }
    // The re-send and the retry are the unlock's, inside its invocation span.
    let resent = events.lines_with(&["sending it again"]);
    assert!(resent[0].contains("invocation{op="), "{resent:?}");
    assert!(resent[0].contains("attempt=1"), "{resent:?}");
    assert!(
        events.lines_with(&["retrying"])[0].contains("attempt=1"),
        "{all}"
    );
    // Nothing was lost or given up.
    assert!(events.lines_with(&[" WARN "]).is_empty(), "{all}");
}

#[tokio::test]
async fn a_silent_member_is_reported_as_a_heartbeat_timeout_then_the_call_gives_up() {
    let (events, _guard) = capture();
    // Authenticates, then answers nothing.
    let addr = fake::serve(Arc::new(|_, _| Reply::Silent)).await;
    let mut config = ClientConfig::new("tracing-silent", [addr]);
    config.connect_timeout = Duration::from_millis(500);
    config.heartbeat_interval = Duration::from_millis(200);
    config.heartbeat_timeout = Duration::from_millis(1000);
    config.invocation_timeout = Duration::from_secs(3);
    let client = Client::connect(config).await.unwrap();
    let err = tokio::time::timeout(Duration::from_secs(10), client.map("m").get(&Value::Int(1)))
        .await
        .expect("the call must not hang")
        .unwrap_err();
    assert!(matches!(err, ClientError::Timeout { .. }), "{err}");
    client.shutdown().await;

    let all = events.text();
    assert!(
        !events
            .lines_with(&[" WARN ", "connection{", "heartbeat timeout"])
            .is_empty(),
        "{all}"
    );
    assert!(
        !events
            .lines_with(&[" INFO ", "connection closed", "nothing heard for"])
            .is_empty(),
        "{all}"
    );
    assert!(
        !events
            .lines_with(&[" WARN ", "invocation{op=", "giving up"])
            .is_empty(),
        "{all}"
    );
    // The only warnings are those two kinds.
    assert!(
        events
            .lines_with(&[" WARN "])
            .iter()
            .all(|l| l.contains("heartbeat timeout") || l.contains("giving up")),
        "{all}"
    );
}
