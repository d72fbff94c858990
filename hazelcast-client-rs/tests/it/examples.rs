//! Runs the examples (`examples/map.rs`, `lock.rs`, `queue.rs`) against two real members and
//! checks what they print and their exit status.
//!
//! The example binaries are those `cargo test` builds next to this test's executable
//! (`target/<profile>/examples/`); a run that did not build them (`cargo test --test
//! examples` alone) skips them with a message: build them with `cargo build -p
//! hazelcast-client --examples`.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use hazelcast_members::{LocalCluster, LocalClusterConfig};

/// `target/<profile>/examples/<name>`, from this test's `target/<profile>/deps/` executable.
fn example_path(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("test executable in target/<profile>/deps");
    profile_dir
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
}

/// Runs an example against the cluster, killed if it takes more than 60 s; its stdout.
fn run_example(name: &str, cluster: &LocalCluster) -> Option<String> {
    let path = example_path(name);
    if !path.exists() {
        eprintln!(
            "SKIPPED example `{name}`: {} is not built (run `cargo build -p hazelcast-client \
             --examples`, or the whole `cargo test -p hazelcast-client`)",
            path.display()
        );
        return None;
    }
    let mut child = Command::new(&path)
        .env("HZ_ADDRESSES", cluster.addresses().join(","))
        .env("HZ_CLUSTER", cluster.cluster_name())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", path.display()));
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("example status").is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("example `{name}` did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().expect("example output");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "example `{name}` failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    eprintln!("example `{name}` printed:\n{stdout}");
    Some(stdout)
}

fn assert_lines(name: &str, stdout: &str, expected: &[&str]) {
    for line in expected {
        assert!(
            stdout.lines().any(|l| l == *line),
            "example `{name}` did not print {line:?}; it printed:\n{stdout}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn examples_run_against_two_members() {
    let cluster = LocalCluster::start(LocalClusterConfig::new("examples", 2))
        .await
        .expect("members start");
    // The examples block on their own runtime: run them off this test's workers.
    let cluster = std::sync::Arc::new(cluster);
    let run = |name: &'static str| {
        let cluster = cluster.clone();
        tokio::task::spawn_blocking(move || run_example(name, &cluster))
    };

    if let Some(out) = run("map").await.unwrap() {
        assert_lines(
            "map",
            &out,
            &[
                "connected: 2 member(s)",
                "set \"greeting\" = \"hello\"",
                "put \"greeting\" = \"hi\", previous: \"hello\" (String)",
                "get 1: 3.5 (Double)",
                "get 2: none",
                "size: 2",
                "visits after 3 increments: Some(3)",
                "typed get of \"broken\": map `example-counters`, key \"broken\": the value is of \
                 type String, where this typed map reads Long",
                "done",
            ],
        );
    }
    if let Some(out) = run("lock").await.unwrap() {
        assert_lines(
            "lock",
            &out,
            &[
                "2 owners x 25 locked increments: counter = 50",
                "owner 2 try_lock while owner 1 holds it: timed out",
                "owner 2 try_lock after owner 1 unlocked: locked",
                "after dropping the guard: unlocked",
                "done",
            ],
        );
    }
    if let Some(out) = run("queue").await.unwrap() {
        assert_lines(
            "queue",
            &out,
            &[
                "offered 3 jobs, size: 3",
                "polled \"job-1\"",
                "polled \"job-2\"",
                "polled \"job-3\"",
                "poll on the empty queue for 200 ms: nothing",
                "took 42 (Integer) from the producer",
                "done",
            ],
        );
    }
}
