//! Hostile fake members (tests/fake): endless frames that never end a message (before
//! authentication and after a valid one), fragmented messages that never end, a frame whose
//! header declares a huge length, garbage after a valid authentication, and a member that
//! answers nothing once it authenticated. Each ends with a clear error within a bounded time,
//! and the process's memory stays small: its peak RSS (VmHWM, reset through
//! /proc/self/clear_refs before each case) grows by less than a bound that buffering what
//! these members send would exceed (each sends up to 1 GiB).
//!
//! The cases run one at a time (they share the process's RSS), with the client's default
//! size limits.

// SERIAL is held for a whole test, across its awaits, on purpose: it keeps the tests, which
// run on threads of their own, from measuring each other's RSS.
#![allow(clippy::await_holding_lock)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::fake::{empty_answer, Reply};
use hazelcast_client::codec::frame::flags;
use hazelcast_client::codec::Limit;
use hazelcast_client::protocol::map::GET;
use hazelcast_client::{Client, ClientConfig, ClientError, Value};

const MIB: usize = 1024 * 1024;
/// What each hostile member sends at most (it then closes): far more than any limit.
const FLOOD: usize = 1024 * MIB;

/// One case at a time: they measure the whole process.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn status_kib(field: &str) -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"))
}

/// Peak RSS growth while `case` runs, in MiB.
async fn peak_growth_mib<T>(case: impl std::future::Future<Output = T>) -> (T, usize) {
    // Resets VmHWM to the current RSS.
    std::fs::write("/proc/self/clear_refs", "5").expect("cannot reset the peak RSS");
    let before = status_kib("VmRSS:");
    let out = case.await;
    let peak = status_kib("VmHWM:");
    (out, peak.saturating_sub(before) / 1024)
}

fn config(addr: String) -> ClientConfig {
    let mut config = ClientConfig::new("hostile", [addr]);
    config.connect_timeout = Duration::from_secs(5);
    config.invocation_timeout = Duration::from_secs(10);
    config
}

/// The wire form of one frame with `flags` and `len` bytes of `byte`.
fn filled_frame(flags: u16, len: usize, byte: u8) -> Vec<u8> {
    let mut out = frame(flags, &[]);
    out[..4].copy_from_slice(&((6 + len) as i32).to_le_bytes());
    out.resize(6 + len, byte);
    out
}

/// The wire form of one frame with `flags` and `content`.
fn frame(flags: u16, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(6 + content.len());
    out.extend_from_slice(&((6 + content.len()) as i32).to_le_bytes());
    out.extend_from_slice(&flags.to_le_bytes());
    out.extend_from_slice(content);
    out
}

/// Frames of 16 MiB, none of them final, up to [`FLOOD`] bytes.
fn endless_non_final_frames() -> Reply {
    let first = Arc::new(frame(flags::UNFRAGMENTED, &[0; 13]));
    let piece = Arc::new(filled_frame(0, 16 * MIB, 7));
    let pieces = std::iter::once(first).chain(std::iter::repeat_n(piece, FLOOD / (16 * MIB)));
    Reply::Stream(Box::new(pieces))
}

/// Fragmented messages of 8 MiB, each begun and none ended, up to [`FLOOD`] bytes.
fn endless_fragmented_messages() -> Reply {
    let body = Arc::new(filled_frame(flags::IS_FINAL, 8 * MIB, 7));
    let pieces = (0..(FLOOD / (8 * MIB)) as i64).flat_map(move |id| {
        let begin = Arc::new(frame(flags::BEGIN_FRAGMENT, &id.to_le_bytes()));
        [begin, body.clone()]
    });
    Reply::Stream(Box::new(pieces))
}

/// A member that authenticates the client and answers everything but a map get, which it
/// answers with `hostile()`.
async fn member_hostile_on_get(hostile: fn() -> Reply) -> String {
    crate::fake::serve(Arc::new(move |_, msg| {
        if msg.message_type() == GET {
            hostile()
        } else {
            Reply::Answer(empty_answer(msg))
        }
    }))
    .await
}

/// A map get against `addr`: its error, the time it took, the peak RSS growth.
async fn failed_get(addr: String) -> (ClientError, Duration, usize) {
    let client = Client::connect(config(addr)).await.unwrap();
    let t = Instant::now();
    let (result, growth) = peak_growth_mib(tokio::time::timeout(
        Duration::from_secs(30),
        client.map("m").get(&Value::Int(1)),
    ))
    .await;
    let err = result.expect("the get must not hang").unwrap_err();
    client.shutdown().await;
    (err, t.elapsed(), growth)
}

fn limit_of(err: &ClientError) -> Option<(Limit, usize, usize)> {
    match err {
        ClientError::MessageLimit { exceeded, .. } => {
            Some((exceeded.limit, exceeded.max, exceeded.size))
        }
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_non_final_frames_before_authentication() {
    let _serial = SERIAL.lock().await;
    let addr = crate::fake::serve_with(
        Arc::new(|_, _| endless_non_final_frames()),
        Arc::new(|_, _| Reply::Silent),
    )
    .await;
    let t = Instant::now();
    let (result, growth) = peak_growth_mib(Client::connect(config(addr))).await;
    let took = t.elapsed();
    let err = result.unwrap_err();
    eprintln!("{err} ({took:?}, peak RSS +{growth} MiB)");
    assert_eq!(
        limit_of(&err),
        Some((Limit::AuthMessageBytes, MIB, (13 + 32) + (16 * MIB + 32))),
        "{err}"
    );
    assert!(
        err.chain().to_string().contains("max_auth_message_bytes"),
        "{err}"
    );
    assert!(took < Duration::from_secs(3), "{took:?}");
    assert!(growth < 40, "peak RSS grew by {growth} MiB");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_non_final_frames_after_authentication() {
    let _serial = SERIAL.lock().await;
    let addr = member_hostile_on_get(endless_non_final_frames).await;
    let (err, took, growth) = failed_get(addr).await;
    eprintln!("{err} ({took:?}, peak RSS +{growth} MiB)");
    let (limit, max, size) = limit_of(&err).unwrap_or_else(|| panic!("{err}"));
    assert_eq!((limit, max), (Limit::MessageBytes, 64 * MIB), "{err}");
    assert!(size > 64 * MIB && size <= 80 * MIB + 100, "{err}");
    assert!(
        err.chain().to_string().contains("max_message_bytes"),
        "{err}"
    );
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert!(growth < 160, "peak RSS grew by {growth} MiB");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fragmented_messages_that_never_end() {
    let _serial = SERIAL.lock().await;
    let addr = member_hostile_on_get(endless_fragmented_messages).await;
    let (err, took, growth) = failed_get(addr).await;
    eprintln!("{err} ({took:?}, peak RSS +{growth} MiB)");
    let (limit, max, _) = limit_of(&err).unwrap_or_else(|| panic!("{err}"));
    assert_eq!((limit, max), (Limit::UnfinishedBytes, 64 * MIB), "{err}");
    assert!(
        err.chain().to_string().contains("max_unfinished_bytes"),
        "{err}"
    );
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert!(growth < 160, "peak RSS grew by {growth} MiB");
}

/// The header of a frame declaring `len` bytes, and nothing of its content.
fn header_only(len: i32) -> Vec<u8> {
    let mut h = len.to_le_bytes().to_vec();
    h.extend_from_slice(&flags::UNFRAGMENTED.to_le_bytes());
    h
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_declared_length_is_refused_from_the_header() {
    let _serial = SERIAL.lock().await;
    // After authentication: 2 GiB - 1, the most a frame can declare.
    let addr = member_hostile_on_get(|| Reply::Raw(header_only(i32::MAX))).await;
    let (err, took, growth) = failed_get(addr).await;
    eprintln!("{err} ({took:?}, peak RSS +{growth} MiB)");
    assert_eq!(
        limit_of(&err),
        Some((Limit::MessageBytes, 64 * MIB, i32::MAX as usize + 26)),
        "{err}"
    );
    assert!(err.chain().to_string().contains("2147483673"), "{err}");
    assert!(took < Duration::from_secs(1), "{took:?}");

    // Before authentication: 60 MiB, and then the member waits.
    let addr = crate::fake::serve_with(
        Arc::new(|_, _| Reply::Raw(header_only(60 * MIB as i32))),
        Arc::new(|_, _| Reply::Silent),
    )
    .await;
    let t = Instant::now();
    let err = Client::connect(config(addr)).await.unwrap_err();
    let took = t.elapsed();
    eprintln!("{err} ({took:?})");
    assert_eq!(
        limit_of(&err),
        Some((Limit::AuthMessageBytes, MIB, 60 * MIB + 26)),
        "{err}"
    );
    assert!(took < Duration::from_secs(1), "{took:?}");
}

/// Deterministic garbage: frames of random lengths up to 4 MiB with random flags, whose
/// content is random too, up to [`FLOOD`] bytes.
fn plausible_garbage() -> Reply {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let filler = vec![0x5a; 4 * MIB];
    let mut sent = 0;
    let pieces = std::iter::from_fn(move || {
        if sent >= FLOOD {
            return None;
        }
        let len = 6 + (next() % (4 * MIB as u64)) as usize;
        let mut flags = next() as u16;
        if next() % 4 != 0 {
            flags &= !flags::IS_FINAL;
        }
        sent += len;
        Some(Arc::new(frame(flags, &filler[..len - 6])))
    });
    Reply::Stream(Box::new(pieces))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_after_authentication() {
    let _serial = SERIAL.lock().await;
    // Text: its first four bytes read as a length of 1.9 GB.
    let addr =
        member_hostile_on_get(|| Reply::Raw(b"this is not the Hazelcast protocol".repeat(1000)))
            .await;
    let (err, took, _) = failed_get(addr).await;
    eprintln!("{err} ({took:?})");
    let (limit, _, size) = limit_of(&err).unwrap_or_else(|| panic!("{err}"));
    assert_eq!(limit, Limit::MessageBytes);
    assert_eq!(size, u32::from_le_bytes(*b"this") as usize + 26);
    assert!(took < Duration::from_secs(1), "{took:?}");

    // Frames of plausible lengths with random flags: an error, whichever the garbage
    // meets first (a fragment without its beginning, too many open, a limit...).
    let addr = member_hostile_on_get(plausible_garbage).await;
    let (err, took, growth) = failed_get(addr).await;
    eprintln!("{err} ({took:?}, peak RSS +{growth} MiB)");
    assert!(
        matches!(
            err,
            ClientError::Protocol { .. } | ClientError::MessageLimit { .. }
        ),
        "{err}"
    );
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert!(growth < 160, "peak RSS grew by {growth} MiB");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_that_answers_nothing_after_authenticating() {
    let _serial = SERIAL.lock().await;
    let addr = crate::fake::serve(Arc::new(|_, _| Reply::Silent)).await;
    let mut config = config(addr);
    config.connect_timeout = Duration::from_millis(300);
    config.heartbeat_interval = Duration::from_millis(200);
    config.heartbeat_timeout = Duration::from_millis(1000);
    config.invocation_timeout = Duration::from_secs(3);
    // Connections are then usable as soon as authenticated (no listener registration to
    // wait for), so the call's last error is the heartbeat's, not "no open connection".
    config.backup_ack_to_client = false;
    let client = Client::connect(config).await.unwrap();
    // A lock waits as long as the member holds it; a member that never answers is dropped by
    // the heartbeat, and the call's retries end at the invocation timeout.
    let t = Instant::now();
    let (result, growth) = peak_growth_mib(tokio::time::timeout(
        Duration::from_secs(20),
        client.map("m").lock(&Value::Int(1), 1),
    ))
    .await;
    let took = t.elapsed();
    let err = result.expect("the lock must not hang").unwrap_err();
    eprintln!("{err} ({took:?}, peak RSS +{growth} MiB)");
    assert!(matches!(err, ClientError::Timeout { .. }), "{err}");
    assert!(
        err.chain().to_string().contains("nothing heard for 1s"),
        "{err}"
    );
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert!(growth < 32, "peak RSS grew by {growth} MiB");
    client.shutdown().await;
}
