//! Cross-checks with the official Python client (hazelcast-python-client 5.7.0) on two
//! real members: values written by either client read back unchanged by the other, both
//! agree on the partition (and owner) of 10,000 keys, and a lock held here blocks Python.
//!
//! Needs `python3` with `hazelcast` importable (`pip install hazelcast-python-client==5.7.0`);
//! set HZ_SKIP_PYTHON=1 to skip. The pinned client is installed with pip when missing.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use hazelcast_client::{Client, Value};
use hazelcast_members::{LocalCluster, LocalClusterConfig};

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/crosscheck.py")
}

/// Runs the Python script (off the async runtime's threads) and returns its stdout.
async fn python(cluster: &LocalCluster, args: &[&str]) -> String {
    let mut cmd_args = vec![
        script().display().to_string(),
        cluster.cluster_name().to_owned(),
        cluster.address(0).unwrap(),
    ];
    cmd_args.extend(args.iter().map(|s| s.to_string()));
    let out = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .args(&cmd_args)
            .output()
            .expect("python3 runs")
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "crosscheck.py {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn python_available() -> bool {
    if std::env::var("HZ_SKIP_PYTHON").as_deref() == Ok("1") {
        eprintln!("HZ_SKIP_PYTHON=1: skipping the Python cross-checks");
        return false;
    }
    let importable = || {
        Command::new("python3")
            .args(["-c", "import hazelcast"])
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    };
    if !importable() {
        // A fresh machine lacks the official client: install the pinned version.
        let installed = Command::new("python3")
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "hazelcast-python-client==5.7.0",
            ])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(
            installed && importable(),
            "python3 cannot import hazelcast and `python3 -m pip install \
             hazelcast-python-client==5.7.0` did not fix it (set HZ_SKIP_PYTHON=1 to skip \
             these checks)"
        );
    }
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_client_agrees() {
    if !python_available() {
        return;
    }
    let cluster = LocalCluster::start(LocalClusterConfig::new("py-cross", 2))
        .await
        .expect("member starts");
    let client = Client::connect(
        cluster
            .client_config()
            .with_invocation_timeout(Duration::from_secs(20)),
    )
    .await
    .unwrap();

    // Rust writes, Python reads.
    let map = client.map("cross");
    let s = |k: &str| Value::from(k);
    map.set(&s("int"), &Value::Int(42)).await.unwrap();
    map.set(&s("neg-int"), &Value::Int(-7)).await.unwrap();
    map.set(&s("long"), &Value::Long(1 << 40)).await.unwrap();
    map.set(&s("string"), &s("héllo ✓")).await.unwrap();
    map.set(&s("bytes"), &Value::Bytes(vec![0, 1, 255]))
        .await
        .unwrap();
    map.set(&s("bool"), &Value::Bool(true)).await.unwrap();
    map.set(&s("double"), &Value::Double(2.5)).await.unwrap();
    map.set(&Value::Int(12345), &s("int key")).await.unwrap();
    assert_eq!(
        python(&cluster, &["check-rust-values", "cross"])
            .await
            .trim(),
        "ok"
    );

    // Python writes, Rust reads.
    python(&cluster, &["write-python-values", "cross"]).await;
    let expected = [
        ("py-int", Value::Int(42)),
        ("py-neg-int", Value::Int(-7)),
        ("py-long", Value::Long(1 << 40)),
        ("py-string", s("héllo ✓")),
        ("py-bytes", Value::Bytes(vec![0, 1, 255])),
        ("py-bool", Value::Bool(false)),
        ("py-double", Value::Double(-0.125)),
    ];
    for (k, v) in expected {
        assert_eq!(map.get(&s(k)).await.unwrap(), Some(v), "key {k}");
    }
    assert_eq!(map.get(&Value::Int(777)).await.unwrap(), Some(s("int key")));

    // Both agree on the partition of 10,000 keys and on every partition's owner (the
    // table is complete once both clients have touched the cluster).
    let t = std::time::Instant::now();
    while (0..client.partition_count()).any(|p| client.partition_owner(p).is_none()) {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "partition table incomplete"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let out = python(&cluster, &["partitions"]).await;
    eprintln!(
        "python partitions output: {} bytes, starts {:?}",
        out.len(),
        &out[..40]
    );
    let mut lines = out.lines();
    let theirs: Vec<u32> = lines
        .next()
        .unwrap()
        .split(',')
        .map(|p| p.parse().unwrap())
        .collect();
    let ours: Vec<u32> = (0..10_000)
        .map(|i| client.partition_id(Value::Int(i)))
        .collect();
    assert_eq!(theirs.len(), 10_000);
    assert_eq!(ours, theirs);
    let owners: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(owners.len(), client.partition_count() as usize);
    let distinct: std::collections::HashSet<&&str> = owners.iter().collect();
    assert_eq!(distinct.len(), 2, "both members own partitions");
    for (p, owner) in owners.iter().enumerate() {
        let ours = client.partition_owner(p as u32).map(|m| m.uuid.to_string());
        assert_eq!(ours.as_deref(), Some(*owner), "owner of partition {p}");
    }

    // A lock held here blocks the Python client until it is released.
    let key = s("guarded");
    map.lock(&key, 1).await.unwrap();
    assert_eq!(
        python(&cluster, &["try-lock", "cross", "guarded", "0.5"])
            .await
            .trim(),
        "busy"
    );
    map.unlock(&key, 1).await.unwrap();
    assert_eq!(
        python(&cluster, &["try-lock", "cross", "guarded", "0.5"])
            .await
            .trim(),
        "locked"
    );
    client.shutdown().await;
}
