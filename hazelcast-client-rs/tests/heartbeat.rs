//! Heartbeats against a fake member that authenticates the client (with an answer captured
//! from a real 5.7.0 member) and then never answers again: the client pings the idle
//! connection, closes it when nothing is heard within the heartbeat timeout, and a call
//! pending on it ends with a clear error instead of hanging.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hazelcast_client::codec::frame::decode_frame;
use hazelcast_client::codec::MessageAssembler;
use hazelcast_client::protocol::client::{AUTHENTICATION, PING};
use hazelcast_client::{Client, ClientConfig, ClientError, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

// A 5.7.0 member's authentication answer (see tests/codec.rs).
const AUTH_RESP: &str = "4400000000c0010100000100000000000000000000384714716593917c3854d025a627f281010f010000000646911cdba05280e29e155a6580d5830001000000ffffffff0600000000100a0000000000553d00000f00000000003132372e302e302e310600000000080b0000000000352e372e3006000000000006000000000406000000001006000000001018000000000000384714716593917c3854d025a627f281000600000000100a0000000000553d00000f00000000003132372e302e302e310600000000080600000000100600000000080600000000100900000000000507000600000000080600000000100600000000100a0000000000000000000600000000040600000000080600000000100a0000000000553d00000f00000000003132372e302e302e31060000000008060000000008060000000008060000000008060000000010060000000008060000000000060000000010140000000000636c757374657256657273696f6e090000000000352e37060000000028";

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Serves one connection: answers authentication, counts pings, answers nothing else.
async fn silent_member(mut s: tokio::net::TcpStream, pings: Arc<AtomicUsize>) {
    let mut preamble = [0u8; 3];
    if s.read_exact(&mut preamble).await.is_err() {
        return;
    }
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let mut asm = MessageAssembler::new();
    loop {
        let n = match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        while let Ok(Some((frame, used))) = decode_frame(&buf) {
            buf.drain(..used);
            let Ok(Some(msg)) = asm.push(frame) else {
                continue;
            };
            if msg.message_type() == AUTHENTICATION {
                let mut answer = hazelcast_client::codec::ClientMessage::from_frames(
                    hazelcast_client::codec::frame::decode_frames(&unhex(AUTH_RESP)).unwrap(),
                )
                .unwrap();
                answer.set_correlation_id(msg.correlation_id());
                if s.write_all(&answer.to_bytes()).await.is_err() {
                    return;
                }
            } else if msg.message_type() == PING {
                pings.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_connection_is_pinged_then_dropped() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let pings = Arc::new(AtomicUsize::new(0));
    let p = pings.clone();
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            tokio::spawn(silent_member(s, p.clone()));
        }
    });
    let mut config = ClientConfig::new("capture", [addr.to_string()]);
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
        err.to_string().contains("nothing heard"),
        "the heartbeat should have closed the connection: {err}"
    );
    assert!(took < Duration::from_secs(6), "{took:?}");
    client.shutdown().await;
}
