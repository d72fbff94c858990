//! `hzlab run race --cluster ADDR` against a fake member (written here, over std::net) that
//! answers the client's preamble with endless 16 MiB frames, none of them final: hzlab exits
//! with code 3 ("cannot reach the cluster") within 10 s, naming the limit the member went
//! over, and its peak RSS (VmHWM of the child, read while it runs) stays under 200 MB. A
//! client that buffered what it is sent would take gigabytes (the member sends up to 1 GiB
//! per connection, then closes).

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const MIB: usize = 1024 * 1024;

/// Serves every connection with a frame that starts a message, then 16 MiB frames that never
/// end it; returns the port.
fn endless_non_final_frames() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { return };
            std::thread::spawn(move || {
                let mut preamble = [0u8; 3];
                if s.read_exact(&mut preamble).is_err() {
                    return;
                }
                // Length (header included), flags, content: no IS_FINAL flag anywhere.
                let mut first = (6i32 + 13).to_le_bytes().to_vec();
                first.extend_from_slice(&0xc000u16.to_le_bytes());
                first.extend_from_slice(&[0; 13]);
                let mut piece = ((6 + 16 * MIB) as i32).to_le_bytes().to_vec();
                piece.extend_from_slice(&0u16.to_le_bytes());
                piece.resize(6 + 16 * MIB, 7);
                if s.write_all(&first).is_err() {
                    return;
                }
                for _ in 0..64 {
                    if s.write_all(&piece).is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

/// The VmHWM (peak RSS) of process `pid` in KiB, while it runs.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

#[test]
fn endless_non_final_frames_end_the_run_with_exit_3() {
    let port = endless_non_final_frames();
    let clusters = std::env::temp_dir().join(format!("hzlab-hostile-{}", std::process::id()));
    std::fs::create_dir_all(&clusters).unwrap();
    let start = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_hzlab"))
        .args(["run", "race", "--cluster", &format!("127.0.0.1:{port}")])
        .env("HZLAB_CLUSTERS_DIR", &clusters)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut peak = 0;
    let status = loop {
        if let Some(kib) = peak_rss_kib(child.id()) {
            peak = peak.max(kib);
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > Duration::from_secs(30) {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("hzlab still runs after 30 s (peak RSS {} MiB)", peak / 1024);
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let took = start.elapsed();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let _ = std::fs::remove_dir_all(&clusters);
    eprintln!(
        "exit {:?} after {took:?}, peak RSS {} MiB: {stderr}",
        status.code(),
        peak / 1024
    );
    assert_eq!(status.code(), Some(3), "{stderr}");
    assert!(took < Duration::from_secs(10), "{took:?}");
    assert!(peak > 0, "the child's RSS was never read");
    assert!(peak < 200 * 1024, "peak RSS {} MiB", peak / 1024);
    assert!(stderr.contains("cannot reach"), "{stderr}");
    assert!(
        stderr.contains("over the limit of 1048576 bytes (max_auth_message_bytes)"),
        "{stderr}"
    );
}
