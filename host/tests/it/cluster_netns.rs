//! `hzlab cluster` with members on hosts of their own (network namespaces): a partition
//! shows two views in the members' own member lists and a heal merges them into one; `down`
//! and an interrupted `up` leave no namespace or link behind; without CAP_NET_ADMIN `up
//! --hosts` fails at once saying so. Pause and resume on loopback members. Each test has a
//! cluster name, run directory and ports of its own, and a guard that brings the cluster down
//! and removes what is left of its network, also when the test fails.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::cluster::{hzlab_cluster, send, Guard};

fn root(test: &str) -> PathBuf {
    let root = std::env::temp_dir()
        .canonicalize()
        .unwrap()
        .join(format!("hzlab-netns-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    root
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn ok(out: Output) -> String {
    assert!(out.status.success(), "{}", text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Whether `program -V`-like `args` runs.
fn runs(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether this process may make network namespaces (CAP_NET_ADMIN and CAP_SYS_ADMIN);
/// when it may, `ip` and `nft` are installed from Debian's packages if missing (once per
/// test binary). Without the privileges the test says so and does not run; with them, a
/// tool that cannot be installed fails the test (CI runs as root: a skip would hide it).
fn can_make_hosts(test: &str) -> bool {
    let caps = std::fs::read_to_string("/proc/self/status").unwrap();
    let eff = caps
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .unwrap_or(0);
    if eff & (1 << 12) == 0 || eff & (1 << 21) == 0 {
        eprintln!("{test}: not run: needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN)");
        return false;
    }
    static INSTALLED: std::sync::Mutex<bool> = std::sync::Mutex::new(false);
    let mut installed = INSTALLED.lock().unwrap_or_else(|p| p.into_inner());
    if !*installed {
        let missing: Vec<&str> = [("ip", "iproute2"), ("nft", "nftables")]
            .into_iter()
            .filter(|(tool, _)| !runs(tool, &["-V"]))
            .map(|(_, package)| package)
            .collect();
        if !missing.is_empty() {
            eprintln!("{test}: installing {}", missing.join(" "));
            let install = || {
                Command::new("apt-get")
                    .args(["install", "-y", "--no-install-recommends"])
                    .args(&missing)
                    .env("DEBIAN_FRONTEND", "noninteractive")
                    .stdout(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success())
            };
            // A fresh machine may have no package lists yet.
            let ok = install() || (runs("apt-get", &["update"]) && install());
            assert!(
                ok && runs("ip", &["-V"]) && runs("nft", &["-V"]),
                "cannot install {} with apt-get",
                missing.join(" ")
            );
        }
        *installed = true;
    }
    true
}

fn left_of(tag: &str) -> Vec<String> {
    let mut left = Vec::new();
    for args in [&["netns", "list"][..], &["-o", "link", "show"][..]] {
        let out = Command::new("ip").args(args).output().unwrap();
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            if line.contains(&format!("hzl{tag}")) {
                left.push(line.trim().to_owned());
            }
        }
    }
    left
}

/// The tag naming a run directory's network, from its record.
fn tag(run_dir: &Path) -> String {
    let text = std::fs::read_to_string(run_dir.join("netns.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["tag"].as_str().unwrap().to_owned()
}

/// Brings the cluster down (the inner guard), then removes whatever namespace or link of
/// `tag` is left (a failed test's leftovers), without judging.
struct NetGuard {
    tag: Option<String>,
    _inner: Guard,
}

impl Drop for NetGuard {
    fn drop(&mut self) {
        // The inner guard runs `down` after this body: take the network down after it.
        let Some(tag) = self.tag.clone() else { return };
        let _ = hzlab_cluster(&self._inner.dir, &self._inner.name, &["down"]);
        for n in 1..=8 {
            let _ = Command::new("ip")
                .args(["netns", "del", &format!("hzl{tag}-{n}")])
                .stderr(Stdio::null())
                .status();
        }
        let _ = Command::new("ip")
            .args(["link", "del", &format!("hzl{tag}b")])
            .stderr(Stdio::null())
            .status();
    }
}

/// Each running member's own member list, from `status --json`, by member number.
fn views(dir: &Path, name: &str) -> Vec<(u64, Option<Vec<u64>>)> {
    let out = ok(hzlab_cluster(dir, name, &["status", "--json"]));
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    doc["views"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            let sees = v["sees"]
                .as_array()
                .map(|s| s.iter().map(|m| m.as_u64().unwrap()).collect());
            (v["member"].as_u64().unwrap(), sees)
        })
        .collect()
}

/// Polls the members' views until `wanted` holds (at most `limit`); the last views.
fn wait_views(
    dir: &Path,
    name: &str,
    limit: Duration,
    wanted: impl Fn(&[(u64, Option<Vec<u64>>)]) -> bool,
) -> Vec<(u64, Option<Vec<u64>>)> {
    let deadline = Instant::now() + limit;
    loop {
        let v = views(dir, name);
        if wanted(&v) || Instant::now() > deadline {
            return v;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn sees(v: &[(u64, Option<Vec<u64>>)], member: u64) -> Option<Vec<u64>> {
    v.iter()
        .find(|(m, _)| *m == member)
        .and_then(|(_, s)| s.clone())
}

#[test]
fn a_partition_splits_the_members_views_and_a_heal_merges_them() {
    if !can_make_hosts("partition") {
        return;
    }
    let dir = root("split");
    let name = format!("nts{}", std::process::id());
    let mut guard = NetGuard {
        tag: None,
        _inner: Guard {
            dir: dir.clone(),
            name: name.clone(),
        },
    };
    let up = ok(hzlab_cluster(
        &dir,
        &name,
        &[
            "up",
            "--hosts",
            "--members",
            "3",
            "--heartbeat-interval",
            "1",
            "--max-no-heartbeat",
            "4",
            "--merge-first-delay",
            "3",
            "--merge-next-delay",
            "3",
        ],
    ));
    let run_dir = dir.join(&name);
    let tag = tag(&run_dir);
    guard.tag = Some(tag.clone());
    assert!(up.contains("each on a host of its own"), "{up}");
    // Every member has an address of its own on the cluster's subnet.
    let addresses: Vec<&str> = up
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1))
        .filter(|a| a.starts_with("10.250."))
        .collect();
    assert_eq!(addresses.len(), 3, "{up}");
    assert!(addresses.iter().all(|a| a.ends_with(":5701")), "{up}");
    assert_eq!(left_of(&tag).len(), 3 + 1 + 3, "{:?}", left_of(&tag));

    let all = vec![1, 2, 3];
    let v = wait_views(&dir, &name, Duration::from_secs(30), |v| {
        (1..=3).all(|m| sees(v, m) == Some(all.clone()))
    });
    assert!((1..=3).all(|m| sees(&v, m) == Some(all.clone())), "{v:?}");

    let cut = ok(hzlab_cluster(
        &dir,
        &name,
        &["partition", "1", "/", "2", "3"],
    ));
    assert!(cut.contains("partition [1] | [2, 3]"), "{cut}");
    let split = |v: &[(u64, Option<Vec<u64>>)]| {
        sees(v, 1) == Some(vec![1])
            && sees(v, 2) == Some(vec![2, 3])
            && sees(v, 3) == Some(vec![2, 3])
    };
    let v = wait_views(&dir, &name, Duration::from_secs(60), split);
    assert!(split(&v), "no split seen within 60 s: {v:?}");
    let status = ok(hzlab_cluster(&dir, &name, &["status"]));
    assert!(status.contains("2 distinct (split)"), "{status}");
    assert!(status.contains("member 1 sees [1]"), "{status}");
    assert!(status.contains("members 2, 3 see [2, 3]"), "{status}");
    assert!(
        status.contains("network: partition [1] | [2, 3]"),
        "{status}"
    );

    let healed = ok(hzlab_cluster(&dir, &name, &["heal"]));
    assert!(healed.contains("no cut"), "{healed}");
    let merged = |v: &[(u64, Option<Vec<u64>>)]| (1..=3).all(|m| sees(v, m) == Some(all.clone()));
    let v = wait_views(&dir, &name, Duration::from_secs(90), merged);
    assert!(merged(&v), "not merged within 90 s of the heal: {v:?}");
    let status = ok(hzlab_cluster(&dir, &name, &["status"]));
    assert!(status.contains("1 distinct"), "{status}");
    assert!(status.contains("network: no cut"), "{status}");

    let down = ok(hzlab_cluster(&dir, &name, &["down"]));
    assert!(down.contains("removed the cluster's network"), "{down}");
    assert!(down.contains("3 member(s) stopped"), "{down}");
    assert_eq!(left_of(&tag), Vec::<String>::new());
}

#[test]
fn down_removes_the_network_an_interrupted_up_left() {
    if !can_make_hosts("interrupted") {
        return;
    }
    let dir = root("crash");
    let name = format!("ntc{}", std::process::id());
    let mut guard = NetGuard {
        tag: None,
        _inner: Guard {
            dir: dir.clone(),
            name: name.clone(),
        },
    };
    let mut up = Command::new(env!("CARGO_BIN_EXE_hzlab"))
        .args([
            "cluster",
            "up",
            "--hosts",
            "--members",
            "2",
            "--name",
            &name,
            "--dir",
        ])
        .arg(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let run_dir = dir.join(&name);
    // SIGKILL once the network is recorded and its first namespace exists.
    let deadline = Instant::now() + Duration::from_secs(60);
    let tag = loop {
        if let Ok(text) = std::fs::read_to_string(run_dir.join("netns.json")) {
            let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
            if let Some(t) = v["tag"].as_str() {
                if Path::new(&format!("/run/netns/hzl{t}-1")).exists() {
                    break t.to_owned();
                }
            }
        }
        assert!(Instant::now() < deadline, "no network recorded within 60 s");
        std::thread::sleep(Duration::from_millis(20));
    };
    guard.tag = Some(tag.clone());
    send(up.id(), rustix::process::Signal::KILL);
    let _ = up.wait();
    assert!(
        !left_of(&tag).is_empty(),
        "the killed up left nothing to clean"
    );
    let down = ok(hzlab_cluster(&dir, &name, &["down"]));
    assert!(down.contains("removed the cluster's network"), "{down}");
    assert_eq!(left_of(&tag), Vec::<String>::new(), "{down}");
}

#[test]
fn up_on_hosts_without_cap_net_admin_fails_at_once_saying_so() {
    if !can_make_hosts("unprivileged") {
        return;
    }
    let setpriv = Command::new("setpriv").arg("--version").output();
    if !setpriv.is_ok_and(|o| o.status.success()) {
        eprintln!("unprivileged: not run: needs setpriv (util-linux) to drop capabilities");
        return;
    }
    let dir = root("unpriv");
    let name = format!("ntu{}", std::process::id());
    let _guard = Guard {
        dir: dir.clone(),
        name: name.clone(),
    };
    let started = Instant::now();
    let out = Command::new("setpriv")
        .args([
            "--bounding-set=-net_admin,-sys_admin",
            "--inh-caps=-net_admin,-sys_admin",
        ])
        .arg(env!("CARGO_BIN_EXE_hzlab"))
        .args(["cluster", "up", "--hosts", "--name", &name, "--dir"])
        .arg(&dir)
        .output()
        .unwrap();
    let all = text(&out);
    assert!(!out.status.success(), "{all}");
    assert!(started.elapsed() < Duration::from_secs(10), "{all}");
    assert!(all.contains("need CAP_NET_ADMIN"), "{all}");
    assert!(all.contains("run hzlab as root"), "{all}");
    assert!(!dir.join(&name).join("netns.json").exists(), "{all}");
}

/// The state letter of process `pid` (`T` when stopped).
fn state(pid: u32) -> char {
    hazelcast_members::process_state(pid).expect("the member process exists")
}

/// The state of `pid` once `wanted` accepts it (a signal takes a moment to stop every thread
/// of a JVM), or the last one seen after 10 s.
fn wait_state(pid: u32, wanted: impl Fn(char) -> bool) -> char {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let s = state(pid);
        if wanted(s) || Instant::now() > deadline {
            return s;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn pause_and_resume_freeze_and_thaw_a_loopback_member() {
    let dir = root("pause");
    let name = format!("ntp{}", std::process::id());
    let _guard = Guard {
        dir: dir.clone(),
        name: name.clone(),
    };
    let base = hazelcast_members::free_port_range(2).unwrap().to_string();
    ok(hzlab_cluster(
        &dir,
        &name,
        &["up", "--members", "2", "--base-port", &base],
    ));
    let out = ok(hzlab_cluster(&dir, &name, &["status", "--json"]));
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    let pid = doc["members"][1]["pid"].as_u64().unwrap() as u32;
    assert_ne!(state(pid), 'T');

    let paused = ok(hzlab_cluster(&dir, &name, &["pause", "2"]));
    assert!(paused.contains("paused member(s) 2"), "{paused}");
    assert_eq!(wait_state(pid, |s| s == 'T'), 'T');
    let status = ok(hzlab_cluster(&dir, &name, &["status"]));
    assert!(status.contains("member 2 is paused"), "{status}");
    // Partitions need hosts of their own: refused on loopback, saying why.
    let out = hzlab_cluster(&dir, &name, &["partition", "1", "/", "2"]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("hosts of their own"), "{}", text(&out));

    let resumed = ok(hzlab_cluster(&dir, &name, &["resume", "2"]));
    assert!(resumed.contains("resumed member(s) 2"), "{resumed}");
    assert_ne!(wait_state(pid, |s| s != 'T'), 'T');
    // Back in the cluster: member 2 answers again and sees both.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let v = views(&dir, &name);
        if sees(&v, 2) == Some(vec![1, 2]) && sees(&v, 1) == Some(vec![1, 2]) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "member 2 did not come back: {v:?}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    ok(hzlab_cluster(&dir, &name, &["down"]));
}

/// The split-brain lab's two ends on real members in namespaces, as CI runs it: without
/// protection the minority's acknowledged writes are lost on merge (Discard); with a
/// protection of minimum 2 the minority refuses them with a clear error and nothing
/// acknowledged is lost. The plan's own checks state what must hold (exit 0).
#[test]
fn the_split_brain_lab_loses_the_minoritys_writes_unless_protected() {
    if !can_make_hosts("split-brain lab") {
        return;
    }
    let dir = root("lab");
    let plan = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../experiments/split-brain.toml"
    );
    let json = dir.join("lab.json");
    let out = Command::new(env!("CARGO_BIN_EXE_hzlab"))
        .args(["run", plan, "--local", "-q", "--case"])
        .arg("Discard, no protection")
        .arg("--case")
        .arg("Discard, split-brain protection minimum 2")
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    let all = text(&out);
    assert_eq!(out.status.code(), Some(0), "{all}");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let value = |case: usize, label: &str, name: &str| -> serde_json::Value {
        let steps = doc["cases"][case]["repeats"][0]["steps"]
            .as_array()
            .unwrap();
        let step = steps.iter().find(|s| s["label"] == label).unwrap();
        let scenario = &step["run"]["scenarios"][0];
        match scenario["values"].get(name) {
            Some(v) => v.clone(),
            // Per-instance records (the first refusal of each instance).
            None => scenario["instances"][0]["values"][name].clone(),
        }
    };
    // Unprotected: both sides acknowledged 300 writes; the minority's are gone.
    assert_eq!(value(0, "minority", "acked"), 300, "{doc}");
    assert_eq!(value(0, "count", "present"), 300, "{doc}");
    // Protected: the minority refused every write, saying why; nothing acknowledged lost.
    assert_eq!(value(1, "minority", "acked"), 0, "{doc}");
    let refusal = value(1, "minority", "first-refusal");
    assert!(
        refusal
            .as_str()
            .is_some_and(|r| r.contains("SplitBrainProtectionException")),
        "{refusal}"
    );
    assert_eq!(value(1, "count", "present"), value(1, "majority", "acked"));
    // The partition and the heal are recorded with their times.
    let steps = doc["cases"][0]["repeats"][0]["steps"].as_array().unwrap();
    assert_eq!(steps[0]["fault_events"][0]["kind"], "partition", "{doc}");
    assert_eq!(
        steps[0]["fault_events"][0]["what"],
        "partition [1] | [2, 3]"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
