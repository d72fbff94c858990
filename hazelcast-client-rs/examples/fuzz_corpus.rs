//! Writes the seed corpora of the client's fuzz targets (`fuzz/corpus/frames`,
//! `fuzz/corpus/responses`) from a real exchange: starts two local members, puts a recording
//! proxy between the client and the first one, runs every operation the client has (including
//! ones that fail on the member), and saves what the member sent.
//!
//! ```text
//! cargo run -p hazelcast-client --example fuzz_corpus -- fuzz/corpus
//! ```
//!
//! `responses` gets one file per kind of message (message type and flags), the wire bytes of
//! its frames; `frames` gets the first bytes the member sent as they arrived (authentication
//! answer, cluster view events) and a run of answers, fragmented and not.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hazelcast_client::codec::frame::decode_frames;
use hazelcast_client::codec::{ClientMessage, MessageAssembler};
use hazelcast_client::{Client, ClientConfig, MapConfig, QueueConfig, Value};
use hazelcast_members::{LocalCluster, LocalClusterConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

type Recorded = Arc<Mutex<Vec<u8>>>;

/// Forwards one client connection to `member`, recording what the member sends.
async fn proxy(listener: TcpListener, member: String, recorded: Recorded) {
    let Ok((client, _)) = listener.accept().await else {
        return;
    };
    let Ok(server) = TcpStream::connect(&member).await else {
        return;
    };
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    tokio::spawn(async move {
        let _ = tokio::io::copy(&mut cr, &mut sw).await;
    });
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match sr.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        recorded.lock().unwrap().extend_from_slice(&buf[..n]);
        if cw.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

async fn exercise(client: &Client) {
    let map = client.map("fuzz-corpus");
    let big = Value::Bytes(vec![7u8; 200]);
    for k in 0..16 {
        let key = Value::Int(k);
        let _ = map.set(&key, &Value::Long(k as i64)).await;
        let _ = map.put(&key, &Value::String(format!("v{k}"))).await;
        let _ = map.get(&key).await;
        let _ = map.contains_key(&key).await;
        let _ = map.put_if_absent(&key, &Value::Bool(true)).await;
        let _ = map.replace(&key, &Value::Short(3)).await;
        let _ = map
            .replace_if_same(&key, &Value::Short(3), &Value::Double(1.5))
            .await;
        let _ = map.lock(&key, 1).await;
        let _ = map.is_locked(&key).await;
        let _ = map.unlock(&key, 1).await;
        // Not the owner any more: an error response.
        let _ = map.unlock(&key, 1).await;
        let _ = map.try_lock(&key, 2, Duration::from_millis(10)).await;
        let _ = map.force_unlock(&key).await;
        let _ = map.remove(&key).await;
        let _ = map.delete(&key).await;
        let _ = map.get(&key).await;
        let _ = map.set(&key, &big).await;
        let _ = map.get(&key).await;
    }
    let _ = map.size().await;
    let _ = map.clear().await;
    let _ = client
        .add_map_config(MapConfig::new("fuzz-corpus-configured"))
        .await;
    let _ = client
        .add_queue_config(QueueConfig::new("fuzz-corpus-q"))
        .await;
    let q = client.queue("fuzz-corpus-q");
    let _ = q.offer(&Value::Int(1), Duration::ZERO).await;
    let _ = q.put(&Value::String("two".into())).await;
    let _ = q.size().await;
    let _ = q.poll(Duration::ZERO).await;
    let _ = q.take().await;
    let _ = q.poll(Duration::from_millis(10)).await;
    let _ = q.clear().await;
    let _ = q.destroy().await;
    let _ = map.destroy().await;
}

/// Splits recorded bytes into whole messages and the wire bytes of each.
fn messages(bytes: &[u8]) -> Vec<(ClientMessage, Vec<u8>)> {
    let frames = decode_frames(bytes).expect("the member sent whole frames");
    let mut assembler = MessageAssembler::new();
    let mut out = Vec::new();
    for f in frames {
        if let Some(msg) = assembler.push(f).expect("the member sent whole messages") {
            let wire = msg.to_bytes();
            out.push((msg, wire));
        }
    }
    out
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = PathBuf::from(
        std::env::args()
            .nth(1)
            .ok_or("usage: fuzz_corpus CORPUS_DIR")?,
    );
    let mut config = LocalClusterConfig::new("fuzz-corpus", 2);
    config.ports = (hazelcast_members::free_port_range(2)?..).take(2).collect();
    let mut cluster = LocalCluster::start(config).await?;
    let member = cluster.address(0).ok_or("no member 1")?;

    let recorded: Recorded = Arc::default();
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let proxy_addr = listener.local_addr()?.to_string();
    tokio::spawn(proxy(listener, member, recorded.clone()));

    let client = Client::connect(ClientConfig::new("fuzz-corpus", [proxy_addr])).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let greeting = recorded.lock().unwrap().clone();
    exercise(&client).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    client.shutdown().await;
    cluster.shutdown();

    let all = recorded.lock().unwrap().clone();
    // Cut at a message boundary: the proxy may have recorded part of a last message.
    let whole: usize = {
        let mut asm_len = 0;
        let mut rest = &all[..];
        while let Ok(Some((_, used))) = hazelcast_client::codec::frame::decode_frame(rest) {
            rest = &rest[used..];
            asm_len += used;
        }
        asm_len
    };
    let msgs = messages(&all[..whole]);

    let responses = out.join("responses");
    let frames = out.join("frames");
    std::fs::create_dir_all(&responses)?;
    std::fs::create_dir_all(&frames)?;
    // One message of each kind, the largest of them.
    let mut kinds: BTreeMap<(i32, u16, bool), Vec<u8>> = BTreeMap::new();
    for (msg, wire) in &msgs {
        let key = (
            msg.message_type(),
            msg.frames[0].flags,
            msg.frames.len() > 1,
        );
        let e = kinds.entry(key).or_default();
        if wire.len() > e.len() {
            *e = wire.clone();
        }
    }
    for ((ty, flags, multi), wire) in &kinds {
        let name = format!(
            "member-{ty:06x}-{flags:04x}{}",
            if *multi { "-frames" } else { "" }
        );
        std::fs::write(responses.join(name), wire)?;
    }
    std::fs::write(frames.join("member-greeting"), &greeting)?;
    // A run of answers, and the same answers as a member fragments them.
    let run: Vec<u8> = msgs
        .iter()
        .skip(msgs.len() / 2)
        .take(12)
        .flat_map(|(_, w)| w.clone())
        .collect();
    std::fs::write(frames.join("member-answers"), &run)?;
    let mut fragmented = Vec::new();
    for (i, (msg, _)) in msgs
        .iter()
        .filter(|(m, _)| m.frames.len() > 2)
        .take(3)
        .enumerate()
    {
        for part in msg.fragment(i as i64 + 1, 40) {
            for f in part {
                f.write_to(&mut fragmented);
            }
        }
    }
    std::fs::write(frames.join("member-answers-fragmented"), &fragmented)?;
    println!(
        "{} messages, {} bytes from the member: {} kinds in {}, 3 streams in {}",
        msgs.len(),
        all.len(),
        kinds.len(),
        responses.display(),
        frames.display()
    );
    Ok(())
}
