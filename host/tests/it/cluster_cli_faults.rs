//! `hzlab cluster` when its own commands are interrupted or race: `up` killed with SIGINT and
//! with SIGKILL part-way (after the first member's pid is recorded), two `up` of one name at
//! once, and the run directory named by an absolute path at `up` and by a relative one (or
//! `HZLAB_CLUSTERS_DIR`) afterwards. Afterwards no member of the cluster is alive once `down`
//! has run, and `down` names what it stopped. A guard kills whatever carries the cluster's
//! mark if a test fails.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::cluster::{exited, member_pids_under, send, Guard};
use rustix::process::Signal;

/// A fresh absolute root for run directories, and its name relative to its parent.
fn root(test: &str) -> (PathBuf, PathBuf) {
    let name = format!("hzlab-faults-{}-{test}", std::process::id());
    let root = std::env::temp_dir().canonicalize().unwrap().join(&name);
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    (root, PathBuf::from(name))
}

fn hzlab() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_hzlab"));
    c.env_remove("HZLAB_CLUSTERS_DIR");
    c
}

/// `hzlab cluster up` of 3 members in `root` (absolute), started in the background.
fn spawn_up(root: &Path, name: &str, base: u16) -> Child {
    hzlab()
        .args(["cluster", "up", "--members", "3", "--base-port"])
        .arg(base.to_string())
        .args(["--name", name, "--dir"])
        .arg(root)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// `hzlab cluster ARGS --name NAME --dir RELATIVE`, run from the root's parent directory.
fn relative(relative_root: &Path, name: &str, args: &[&str]) -> Output {
    hzlab()
        .arg("cluster")
        .args(args)
        .args(["--name", name, "--dir"])
        .arg(relative_root)
        .current_dir(std::env::temp_dir().canonicalize().unwrap())
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Waits for `child` to exit (at most `limit`), then collects its output.
fn finish(mut child: Child, limit: Duration) -> Output {
    let deadline = Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("hzlab did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

/// Waits until `cluster.json` in `run_dir` records a pid for member 1 that carries the mark;
/// returns it.
fn first_pid_recorded(run_dir: &Path, root: &Path, up: &mut Child) -> u32 {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        assert!(
            up.try_wait().unwrap().is_none(),
            "up exited before member 1 started"
        );
        let pid = std::fs::read_to_string(run_dir.join("cluster.json"))
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .and_then(|v| v["member"][0]["pid"].as_u64());
        if let Some(pid) = pid {
            if member_pids_under(root).contains(&(pid as u32)) {
                return pid as u32;
            }
        }
        assert!(Instant::now() < deadline, "no pid recorded for member 1");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn sigint_during_up_stops_the_members_it_started() {
    let (root, rel) = root("sigint");
    let name = "int".to_string();
    let _guard = Guard {
        dir: root.clone(),
        name: name.clone(),
    };
    let base = hazelcast_members::free_port_range(3).unwrap();
    let mut up = spawn_up(&root, &name, base);
    let pid = first_pid_recorded(&root.join(&name), &root, &mut up);
    send(up.id(), Signal::INT);
    let out = finish(up, Duration::from_secs(30));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{}", text(&out));
    assert!(
        stderr.contains(&format!(
            "interrupted (SIGINT): stopped member 1 (127.0.0.1:{base}, pid {pid})"
        )),
        "{}",
        text(&out)
    );
    // `up` itself stopped them: nothing of the cluster runs.
    assert!(
        exited(pid),
        "member 1 (pid {pid}) survived the interrupted up"
    );
    assert_eq!(member_pids_under(&root), Vec::<u32>::new());

    // Named relatively now: no cluster state left, nothing to stop, the directory removed.
    let status = relative(&rel, &name, &["status"]);
    assert_eq!(status.status.code(), Some(2), "{}", text(&status));
    assert!(
        String::from_utf8_lossy(&status.stderr).contains("no cluster `int`"),
        "{}",
        text(&status)
    );
    let down = relative(&rel, &name, &["down"]);
    assert!(down.status.success(), "{}", text(&down));
    assert!(
        String::from_utf8_lossy(&down.stdout).contains("0 member(s) stopped"),
        "{}",
        text(&down)
    );
    assert!(!root.join(&name).exists());
}

#[test]
fn sigkill_during_up_leaves_members_that_down_finds_by_their_mark() {
    let (root, rel) = root("sigkill");
    let name = "kill".to_string();
    let _guard = Guard {
        dir: root.clone(),
        name: name.clone(),
    };
    let base = hazelcast_members::free_port_range(3).unwrap();
    let mut up = spawn_up(&root, &name, base);
    let run_dir = root.join(&name);
    let pid = first_pid_recorded(&run_dir, &root, &mut up);
    up.kill().unwrap();
    up.wait().unwrap();
    // A SIGKILL cannot be handled: member 1 outlives `up`.
    assert!(!exited(pid));

    // Named relatively, the cluster is found: member 1 runs, and the unfinished `up` is
    // reported.
    let status = relative(&rel, &name, &["status"]);
    assert!(status.status.success(), "{}", text(&status));
    let stdout = String::from_utf8_lossy(&status.stdout);
    let row = stdout
        .lines()
        .find(|l| l.starts_with("1 "))
        .unwrap_or_else(|| panic!("{}", text(&status)));
    assert!(
        row.contains(&pid.to_string()) && row.contains("running"),
        "{row}"
    );
    assert!(
        String::from_utf8_lossy(&status.stderr).contains("did not finish"),
        "{}",
        text(&status)
    );
    // Member 1 is alive however the directory is named: no second process for it.
    let start = relative(&rel, &name, &["start", "1"]);
    assert_eq!(start.status.code(), Some(2), "{}", text(&start));
    assert!(
        String::from_utf8_lossy(&start.stderr).contains("member 1 is already running"),
        "{}",
        text(&start)
    );

    // A half-written cluster.json: status says members run and which.
    let state = std::fs::read(run_dir.join("cluster.json")).unwrap();
    std::fs::write(run_dir.join("cluster.json"), &state[..state.len() / 2]).unwrap();
    let status = hzlab()
        .args(["cluster", "status", "--name", &name])
        .env("HZLAB_CLUSTERS_DIR", &rel)
        .current_dir(std::env::temp_dir().canonicalize().unwrap())
        .output()
        .unwrap();
    assert_eq!(status.status.code(), Some(2), "{}", text(&status));
    let stderr = String::from_utf8_lossy(&status.stderr);
    assert!(
        stderr.contains("unreadable cluster.json")
            && stderr.contains(&format!("member 1 (pid {pid})"))
            && stderr.contains("hzlab cluster down"),
        "{}",
        text(&status)
    );
    // Another `up` is refused, naming the member that runs.
    let again = finish(spawn_up(&root, &name, base), Duration::from_secs(60));
    assert_eq!(again.status.code(), Some(2), "{}", text(&again));
    assert!(
        String::from_utf8_lossy(&again.stderr).contains(&format!("member 1 (pid {pid})")),
        "{}",
        text(&again)
    );

    let down = relative(&rel, &name, &["down"]);
    assert!(down.status.success(), "{}", text(&down));
    assert!(
        String::from_utf8_lossy(&down.stdout).contains(&format!("stopped member 1 (pid {pid})")),
        "{}",
        text(&down)
    );
    assert!(exited(pid), "member 1 (pid {pid}) survived down");
    assert_eq!(member_pids_under(&root), Vec::<u32>::new());
    assert!(!run_dir.exists());
}

#[test]
fn two_ups_of_one_name_at_once_start_one_cluster_and_down_stops_it() {
    let (root, rel) = root("twice");
    let name = "twice".to_string();
    let _guard = Guard {
        dir: root.clone(),
        name: name.clone(),
    };
    let base = hazelcast_members::free_port_range(3).unwrap();
    let first = spawn_up(&root, &name, base);
    let second = spawn_up(&root, &name, base);
    let outs = [
        finish(first, Duration::from_secs(240)),
        finish(second, Duration::from_secs(240)),
    ];
    let ok: Vec<&Output> = outs.iter().filter(|o| o.status.success()).collect();
    assert_eq!(ok.len(), 1, "{}\n{}", text(&outs[0]), text(&outs[1]));
    let refused = outs.iter().find(|o| !o.status.success()).unwrap();
    assert_eq!(refused.status.code(), Some(2), "{}", text(refused));
    let why = String::from_utf8_lossy(&refused.stderr);
    let run_dir = root.join(&name);
    // Refused either while the first still starts (it holds the run directory's lock: "busy")
    // or after it is up ("already up"), depending on which came first; both name the cluster.
    assert!(
        (why.contains("already up") || why.contains("is busy"))
            && why.contains(&run_dir.display().to_string()),
        "{}",
        text(refused)
    );

    // The cluster that started is intact, and found by its relative name.
    let status = relative(&rel, &name, &["status", "--json"]);
    assert!(status.status.success(), "{}", text(&status));
    let doc: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    let pids: Vec<u64> = doc["members"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["running"] == true)
        .map(|m| m["pid"].as_u64().unwrap())
        .collect();
    assert_eq!(pids.len(), 3, "{doc}");
    let mut marked = member_pids_under(&root);
    marked.sort();
    let mut sorted: Vec<u32> = pids.iter().map(|&p| p as u32).collect();
    sorted.sort();
    assert_eq!(marked, sorted, "only one cluster's members run");

    let down = relative(&rel, &name, &["down"]);
    assert!(down.status.success(), "{}", text(&down));
    let said = String::from_utf8_lossy(&down.stdout);
    for (i, pid) in pids.iter().enumerate() {
        let line = format!(
            "stopped member {} (127.0.0.1:{}, pid {pid})",
            i + 1,
            base + i as u16
        );
        assert!(said.contains(&line), "{line:?} in {}", text(&down));
    }
    assert!(said.contains("3 member(s) stopped"), "{}", text(&down));
    for pid in pids {
        assert!(exited(pid as u32), "member pid {pid} survived down");
    }
    assert_eq!(member_pids_under(&root), Vec::<u32>::new());
}
