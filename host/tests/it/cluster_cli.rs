//! `hzlab cluster` on real members, each command a separate process as from separate
//! shells: up, status, kill (abrupt), status again (matching the members' own numbers),
//! start, bad input, down (no process left). A guard kills the members if the test fails.

use std::path::Path;
use std::process::{Command, Output};

use crate::common::cluster::{hzlab_cluster as hzlab, Guard};

fn ok(out: Output) -> String {
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "hzlab failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

fn status(dir: &Path, name: &str) -> serde_json::Value {
    let text = ok(hzlab(
        dir,
        name,
        &["status", "--json", "--map", "distributed-map"],
    ));
    serde_json::from_str(&text).unwrap()
}

/// (owned, backup) of map `distributed-map` per member number, from the status document.
fn entries(doc: &serde_json::Value) -> Vec<(u64, u64, u64)> {
    doc["stats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let map = s["stats"]["maps"]
                .as_array()
                .unwrap()
                .iter()
                .find(|m| m["name"] == "distributed-map")
                .unwrap();
            (
                s["member"].as_u64().unwrap(),
                map["owned_entries"].as_u64().unwrap(),
                map["backup_entries"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn up_status_kill_start_down_from_separate_processes() {
    let dir = std::env::temp_dir().join(format!("hzlab-cluster-cli-{}", std::process::id()));
    let name = format!("cli-{}", std::process::id());
    let _guard = Guard {
        dir: dir.clone(),
        name: name.clone(),
    };
    let base = hazelcast_members::free_port_range(3).unwrap().to_string();
    let up = ok(hzlab(
        &dir,
        &name,
        &["up", "--members", "3", "--base-port", &base],
    ));
    assert!(up.contains("running"), "{up}");
    assert_eq!(up.matches("running").count(), 3, "{up}");

    // Write 1000 keys with the real backend, as the seed's script does.
    let addresses: Vec<String> = (0..3)
        .map(|i| format!("127.0.0.1:{}", base.parse::<u16>().unwrap() + i))
        .collect();
    let run = Command::new(env!("CARGO_BIN_EXE_hzlab"))
        .args([
            "run",
            "populate",
            "--cluster",
            &addresses.join(","),
            "--cluster-name",
        ])
        .arg(&name)
        .args(["--arg", "keys=1000", "-q"])
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );

    let before = status(&dir, &name);
    let e = entries(&before);
    assert_eq!(e.len(), 3);
    assert_eq!(e.iter().map(|x| x.1).sum::<u64>(), 1000);
    assert_eq!(e.iter().map(|x| x.2).sum::<u64>(), 1000);
    let text = ok(hzlab(&dir, &name, &["status"]));
    for (m, owned, backup) in &e {
        let row = format!("  {m:<7} {owned:>8} {backup:>8}");
        assert!(text.contains(&row), "status shows {row:?}:\n{text}");
    }
    assert!(text.contains(&format!("  {:<7} {:>8} {:>8}", "total", 1000, 1000)));

    // An abrupt kill of member 3; then the table shows two members holding everything.
    let killed = ok(hzlab(&dir, &name, &["kill", "3", "--wait-safe", "120"]));
    assert!(killed.contains("killed member 3"), "{killed}");
    let after = status(&dir, &name);
    let e = entries(&after);
    assert_eq!(e.len(), 2);
    assert_eq!(e.iter().map(|x| x.1).sum::<u64>(), 1000);
    assert_eq!(e.iter().map(|x| x.2).sum::<u64>(), 1000);
    let text = ok(hzlab(&dir, &name, &["status"]));
    assert!(text.contains("down"), "{text}");
    for (m, owned, backup) in &e {
        let row = format!("  {m:<7} {owned:>8} {backup:>8}");
        assert!(text.contains(&row), "status shows {row:?}:\n{text}");
    }

    // Bad input: a dead member, an unknown one, a second `up`.
    let out = hzlab(&dir, &name, &["kill", "3"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("member 3 is not running"));
    let out = hzlab(&dir, &name, &["kill", "9"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no member 9"));
    let out = hzlab(&dir, &name, &["up", "--base-port", &base]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("already up"));

    // Restart, then a member killed behind hzlab's back is reported.
    ok(hzlab(&dir, &name, &["start", "3"]));
    ok(hzlab(&dir, &name, &["wait-safe"]));
    let doc = status(&dir, &name);
    assert_eq!(entries(&doc).len(), 3);

    // A graceful stop hands member 1's partitions over: nothing lost, backups restored.
    let stopped = ok(hzlab(
        &dir,
        &name,
        &["kill", "1", "--graceful", "--wait-safe", "120"],
    ));
    assert!(stopped.contains("stopped member 1 gracefully"), "{stopped}");
    let e = entries(&status(&dir, &name));
    assert_eq!(e.iter().map(|x| x.0).collect::<Vec<_>>(), vec![2, 3]);
    assert_eq!(e.iter().map(|x| x.1).sum::<u64>(), 1000);
    assert_eq!(e.iter().map(|x| x.2).sum::<u64>(), 1000);
    let pid = doc["members"][1]["pid"].as_u64().unwrap();
    crate::common::cluster::send(pid as u32, rustix::process::Signal::KILL);
    std::thread::sleep(std::time::Duration::from_millis(500));
    let out = hzlab(&dir, &name, &["status"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("member 2 died outside hzlab"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let pids: Vec<u64> = doc["members"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["pid"].as_u64())
        .collect();
    ok(hzlab(&dir, &name, &["down"]));
    assert!(!dir.join(&name).exists());
    for pid in pids {
        // Gone, or a zombie waiting for a parent that does not reap (PID 1 in a container).
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let state = stat.rsplit(')').next().unwrap_or("").trim_start();
        assert!(
            stat.is_empty() || state.starts_with('Z'),
            "member pid {pid} survived: {stat}"
        );
    }
}
