//! The seed's workloads on one local 3-member Hazelcast cluster, side by side in one run:
//!
//! - `native`: hzlab's client (`hazelcast-client`) called from Rust, one client, one task per
//!   worker, on the single-threaded runtime `hzlab run` uses;
//! - `wasm`: the shipped scenarios through the host's real backend (`hzlab::backend::real`),
//!   as `hzlab run --cluster` runs them;
//! - `java`: the official Java client (inside the member jar), one client, a thread per
//!   worker (`host/benches/java/HzBench.java`, compiled with javac into `target/`);
//! - `python`: the official Python client, a process per worker as the seed ran them
//!   (`host/benches/python/workloads.py`).
//!
//! Workloads (the same algorithm in every column): populate 1,000 keys (one worker, `set`);
//! 3 × 10,000 increments without a lock (get + set), with a lock (lock, get, set, unlock) and
//! optimistically (get + replace-if-same, retried); 100 items through a queue of max-size 10,
//! one producer (offer, then put when full) and two consumers (read the producer's done flag,
//! poll 100 ms, log the item in a map; stop on an empty poll after the flag was set).
//!
//! Time is the workers' wall time from their common start to the last one's end (connecting,
//! resetting and checking are outside it); p50/p99 are of single client operations, timed by
//! the caller (in the `wasm` column, by the host around each backend call). Every column warms
//! up with a short run of each workload first.
//!
//! ```sh
//! cargo bench -p hzlab --bench real                       # 3 rounds, all columns
//! cargo bench -p hzlab --bench real -- --rounds 1 --columns native,wasm --iterations 2000
//! ```
//!
//! Needs java 17+ (and javac), the member jar (fetched with mvn if missing) and python3 with
//! `hazelcast-python-client` 5.7.0; a column whose tool is missing is skipped with a note.
//! Members listen on free loopback ports under a cluster name of their own and are killed when
//! the benchmark ends (also on a panic).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[path = "support/proc_cpu.rs"]
mod proc_cpu;

use hazelcast_client::{Client, ClientConfig, Value};
use hazelcast_members::{member_jar, LocalCluster, LocalClusterConfig};
use hzlab::backend::real::{RealCluster, RealConfig, RealSession};
use hzlab::backend::{Backend, BackendInfo, OpResult, OwnerId, Session};
use hzlab::engine::{InstanceLimits, ScenarioEngine};
use hzlab::progress::Progress;
use hzlab::results::RunResult;
use hzlab::runner::{self, RunSpec, ScenarioSpec};
use hzlab::scenario::ScenarioSource;
use proc_cpu::proc_cpu;

const WORKLOADS: [&str; 5] = ["populate", "race", "pessimistic", "optimistic", "queue"];
const COLUMNS: [&str; 4] = ["native", "wasm", "java", "python"];

#[derive(Clone)]
struct Options {
    rounds: usize,
    iterations: u32,
    keys: u32,
    items: u32,
    warmup: u32,
    columns: Vec<String>,
}

fn options() -> Options {
    let mut o = Options {
        rounds: 3,
        iterations: 10_000,
        keys: 1_000,
        items: 100,
        warmup: 300,
        columns: COLUMNS.iter().map(|c| c.to_string()).collect(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut next = || args.next().unwrap_or_else(|| panic!("{a} needs a value"));
        match a.as_str() {
            "--rounds" => o.rounds = next().parse::<usize>().unwrap().max(1),
            "--iterations" => o.iterations = next().parse().unwrap(),
            "--keys" => o.keys = next().parse().unwrap(),
            "--items" => o.items = next().parse().unwrap(),
            "--warmup" => o.warmup = next().parse().unwrap(),
            "--columns" => o.columns = next().split(',').map(str::to_owned).collect(),
            _ => {} // `cargo bench` passes --bench
        }
    }
    o
}

/// One workload's figures in one column.
#[derive(Debug, Clone, Default)]
struct Figures {
    secs: f64,
    ops: u64,
    p50_us: f64,
    p99_us: f64,
    /// The workload's own check: the counter's final value, keys present, items consumed once.
    check: i64,
}

fn figures(secs: f64, mut lats_ns: Vec<u32>, check: i64) -> Figures {
    lats_ns.sort_unstable();
    let pct = |p: f64| {
        if lats_ns.is_empty() {
            return 0.0;
        }
        let i = ((p / 100.0) * (lats_ns.len() - 1) as f64).round() as usize;
        lats_ns[i.min(lats_ns.len() - 1)] as f64 / 1e3
    };
    Figures {
        secs,
        ops: lats_ns.len() as u64,
        p50_us: pct(50.0),
        p99_us: pct(99.0),
        check,
    }
}

// ---------------------------------------------------------------------------------------------
// native: hzlab's client from Rust

/// Latencies of one worker's operations.
#[derive(Default)]
struct Lats(Vec<u32>);

impl Lats {
    async fn time<T>(&mut self, f: impl std::future::Future<Output = T>) -> T {
        let t = Instant::now();
        let r = f.await;
        self.0
            .push(t.elapsed().as_nanos().min(u32::MAX as u128) as u32);
        r
    }
}

fn int(v: Option<Value>) -> i32 {
    match v {
        Some(Value::Int(i)) => i,
        None => 0,
        other => panic!("expected an Integer, got {other:?}"),
    }
}

async fn native_reset(c: &Client, workload: &str) {
    match workload {
        "populate" => c.map("distributed-map").clear().await.unwrap(),
        "queue" => {
            c.map("queue.state").clear().await.unwrap();
            c.map("queue.consumed").clear().await.unwrap();
            let q = c.queue("queue");
            while q.poll(Duration::ZERO).await.unwrap().is_some() {}
        }
        _ => c
            .map("counter")
            .set(&Value::from("key"), &Value::Int(0))
            .await
            .unwrap(),
    }
}

async fn native_check(c: &Client, workload: &str) -> i64 {
    match workload {
        "populate" => c.map("distributed-map").size().await.unwrap() as i64,
        "queue" => c.map("queue.consumed").size().await.unwrap() as i64,
        _ => int(c.map("counter").get(&Value::from("key")).await.unwrap()) as i64,
    }
}

/// One worker's share of a workload; returns its latencies.
async fn native_work(c: Client, workload: &'static str, index: u32, o: Options) -> Lats {
    let mut l = Lats::default();
    let key = Value::from("key");
    // Each worker is its own lock owner (thread id), as each scenario instance is.
    let thread_id = index as i64 + 1;
    let counter = c.map("counter").with_thread_id(thread_id);
    match workload {
        "populate" if index == 0 => {
            let m = c.map("distributed-map");
            for k in 0..o.keys as i32 {
                l.time(m.set(&Value::Int(k), &Value::Int(k))).await.unwrap();
            }
        }
        "populate" => {}
        "race" => {
            for _ in 0..o.iterations {
                let v = int(l.time(counter.get(&key)).await.unwrap());
                l.time(counter.set(&key, &Value::Int(v + 1))).await.unwrap();
            }
        }
        "pessimistic" => {
            for _ in 0..o.iterations {
                l.time(counter.lock(&key, thread_id)).await.unwrap();
                let v = int(l.time(counter.get(&key)).await.unwrap());
                l.time(counter.set(&key, &Value::Int(v + 1))).await.unwrap();
                l.time(counter.unlock(&key, thread_id)).await.unwrap();
            }
        }
        "optimistic" => {
            for _ in 0..o.iterations {
                loop {
                    let v = int(l.time(counter.get(&key)).await.unwrap());
                    let swapped = l
                        .time(counter.replace_if_same(&key, &Value::Int(v), &Value::Int(v + 1)))
                        .await
                        .unwrap();
                    if swapped {
                        break;
                    }
                }
            }
        }
        "queue" => {
            let q = c.queue("queue");
            let state = c.map("queue.state");
            if index == 0 {
                for item in 1..=o.items as i32 {
                    let item = Value::Int(item);
                    if !l.time(q.offer(&item, Duration::ZERO)).await.unwrap() {
                        l.time(q.put(&item)).await.unwrap();
                    }
                }
                l.time(state.set(&Value::from("done-0"), &Value::Bool(true)))
                    .await
                    .unwrap();
            } else {
                let consumed = c.map("queue.consumed");
                loop {
                    let done = l
                        .time(state.get(&Value::from("done-0")))
                        .await
                        .unwrap()
                        .is_some();
                    match l.time(q.poll(Duration::from_millis(100))).await.unwrap() {
                        Some(item) => {
                            l.time(consumed.put(&item, &Value::Int(index as i32)))
                                .await
                                .unwrap();
                        }
                        None if done => break,
                        None => {}
                    }
                }
            }
        }
        other => panic!("unknown workload {other}"),
    }
    l
}

async fn native_workload(c: &Client, workload: &'static str, o: &Options) -> Figures {
    native_reset(c, workload).await;
    let started = Instant::now();
    let tasks: Vec<_> = (0..3)
        .map(|i| tokio::spawn(native_work(c.clone(), workload, i, o.clone())))
        .collect();
    let mut lats = Vec::new();
    for t in tasks {
        lats.extend(t.await.unwrap().0);
    }
    let secs = started.elapsed().as_secs_f64();
    figures(secs, lats, native_check(c, workload).await)
}

async fn native_column(local: &LocalCluster, o: &Options) -> HashMap<&'static str, Figures> {
    let c = Client::connect(ClientConfig::new(local.cluster_name(), local.addresses()))
        .await
        .unwrap();
    let warm = warmup_options(o);
    let mut out = HashMap::new();
    for w in WORKLOADS {
        native_workload(&c, w, &warm).await;
        out.insert(w, native_workload(&c, w, o).await);
    }
    c.shutdown().await;
    out
}

fn warmup_options(o: &Options) -> Options {
    Options {
        iterations: o.warmup,
        keys: o.warmup,
        items: 20,
        ..o.clone()
    }
}

// ---------------------------------------------------------------------------------------------
// wasm: the shipped scenarios through the real backend, each backend call timed

/// The real backend, timing each operation made during a run phase.
#[derive(Clone)]
struct Timed {
    inner: RealCluster,
    lats: Arc<Mutex<Vec<u32>>>,
    progress: Arc<Progress>,
}

struct TimedSession {
    inner: RealSession,
    lats: Arc<Mutex<Vec<u32>>>,
    progress: Arc<Progress>,
}

impl Backend for Timed {
    type Session = TimedSession;

    fn session(&self, owner: OwnerId) -> TimedSession {
        TimedSession {
            inner: self.inner.session(owner),
            lats: self.lats.clone(),
            progress: self.progress.clone(),
        }
    }

    fn info(&self) -> BackendInfo {
        self.inner.info()
    }
}

impl TimedSession {
    async fn timed<T>(&self, f: impl std::future::Future<Output = OpResult<T>>) -> OpResult<T> {
        let t = Instant::now();
        let r = f.await;
        // Only the run phase (stage 1), not setup or verify.
        if self.progress.stage.load(Ordering::Relaxed) == 1 {
            let ns = t.elapsed().as_nanos().min(u32::MAX as u128) as u32;
            self.lats.lock().unwrap().push(ns);
        }
        r
    }
}

impl Session for TimedSession {
    async fn get(&self, map: &str, key: &Value) -> OpResult<Option<Value>> {
        self.timed(self.inner.get(map, key)).await
    }
    async fn put(&self, map: &str, key: &Value, value: &Value) -> OpResult<Option<Value>> {
        self.timed(self.inner.put(map, key, value)).await
    }
    async fn set(&self, map: &str, key: &Value, value: &Value) -> OpResult<()> {
        self.timed(self.inner.set(map, key, value)).await
    }
    async fn remove(&self, map: &str, key: &Value) -> OpResult<Option<Value>> {
        self.timed(self.inner.remove(map, key)).await
    }
    async fn contains_key(&self, map: &str, key: &Value) -> OpResult<bool> {
        self.timed(self.inner.contains_key(map, key)).await
    }
    async fn size(&self, map: &str) -> OpResult<u64> {
        self.timed(self.inner.size(map)).await
    }
    async fn put_if_absent(
        &self,
        map: &str,
        key: &Value,
        value: &Value,
    ) -> OpResult<Option<Value>> {
        self.timed(self.inner.put_if_absent(map, key, value)).await
    }
    async fn clear(&self, map: &str) -> OpResult<()> {
        self.timed(self.inner.clear(map)).await
    }
    async fn replace(&self, map: &str, key: &Value, value: &Value) -> OpResult<Option<Value>> {
        self.timed(self.inner.replace(map, key, value)).await
    }
    async fn replace_if_same(
        &self,
        map: &str,
        key: &Value,
        expected: &Value,
        new: &Value,
    ) -> OpResult<bool> {
        self.timed(self.inner.replace_if_same(map, key, expected, new))
            .await
    }
    async fn lock(&self, map: &str, key: &Value) -> OpResult<()> {
        self.timed(self.inner.lock(map, key)).await
    }
    async fn try_lock(&self, map: &str, key: &Value, timeout: Duration) -> OpResult<bool> {
        self.timed(self.inner.try_lock(map, key, timeout)).await
    }
    async fn unlock(&self, map: &str, key: &Value) -> OpResult<()> {
        self.timed(self.inner.unlock(map, key)).await
    }
    async fn is_locked(&self, map: &str, key: &Value) -> OpResult<bool> {
        self.timed(self.inner.is_locked(map, key)).await
    }
    async fn offer(&self, queue: &str, item: &Value, timeout: Option<Duration>) -> OpResult<bool> {
        self.timed(self.inner.offer(queue, item, timeout)).await
    }
    async fn queue_put(&self, queue: &str, item: &Value) -> OpResult<()> {
        self.timed(self.inner.queue_put(queue, item)).await
    }
    async fn poll(&self, queue: &str, timeout: Option<Duration>) -> OpResult<Option<Value>> {
        self.timed(self.inner.poll(queue, timeout)).await
    }
    async fn take(&self, queue: &str) -> OpResult<Value> {
        self.timed(self.inner.take(queue)).await
    }
    async fn queue_size(&self, queue: &str) -> OpResult<u64> {
        self.timed(self.inner.queue_size(queue)).await
    }
}

fn spec(name: &str, instances: u32) -> ScenarioSpec {
    ScenarioSpec::once(ScenarioSource::resolve(name).unwrap(), instances)
}

fn recorded(r: &RunResult, scenario: &str, name: &str) -> i64 {
    let s = r.scenarios.iter().find(|s| s.name == scenario).unwrap();
    s.recorded
        .values
        .get(name)
        .and_then(|v| v.as_i64())
        .unwrap_or(-1)
}

async fn wasm_workload(
    engine: &ScenarioEngine,
    backend: &Timed,
    workload: &str,
    o: &Options,
) -> Figures {
    let (steps, check) = match workload {
        "populate" => (vec![spec("populate", 1)], ("populate", "size")),
        "queue" => (
            vec![spec("producer", 1), spec("consumer", 2)],
            ("consumer", "consumed-once"),
        ),
        w => (vec![spec(w, 3)], (w, "final")),
    };
    let args = [
        ("iterations", o.iterations.to_string()),
        ("keys", o.keys.to_string()),
        ("items", o.items.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let spec = RunSpec {
        steps: vec![steps],
        args,
        limits: InstanceLimits {
            time_budget: Duration::from_secs(600),
            ..InstanceLimits::default()
        },
        seed: 0,
        echo_logs: false,
    };
    backend.lats.lock().unwrap().clear();
    backend.progress.stage.store(0, Ordering::Relaxed);
    let r = runner::run(engine, backend, &spec, backend.progress.clone())
        .await
        .unwrap();
    assert!(
        r.scenarios
            .iter()
            .all(|s| s.instances.iter().all(|i| i.outcome.status.is_ok())),
        "a wasm instance failed: {r:#?}"
    );
    let secs = r
        .scenarios
        .iter()
        .flat_map(|s| &s.instances)
        .map(|i| i.elapsed_ms)
        .fold(0.0, f64::max)
        / 1e3;
    let lats = std::mem::take(&mut *backend.lats.lock().unwrap());
    figures(secs, lats, recorded(&r, check.0, check.1))
}

async fn wasm_column(local: &LocalCluster, o: &Options) -> HashMap<&'static str, Figures> {
    let engine = ScenarioEngine::new().unwrap();
    let cluster = RealCluster::connect(RealConfig::new(local.addresses(), local.cluster_name()))
        .await
        .unwrap();
    let backend = Timed {
        inner: cluster.clone(),
        lats: Default::default(),
        progress: Default::default(),
    };
    let warm = warmup_options(o);
    let mut out = HashMap::new();
    for w in WORKLOADS {
        wasm_workload(&engine, &backend, w, &warm).await;
        out.insert(w, wasm_workload(&engine, &backend, w, o).await);
    }
    cluster.shutdown().await;
    out
}

// ---------------------------------------------------------------------------------------------
// java and python: a process per round, one JSON line per workload

fn parse_lines(stdout: &str, prefix: &str) -> HashMap<&'static str, Figures> {
    let mut out = HashMap::new();
    for line in stdout.lines() {
        let Some(json) = line.strip_prefix(prefix) else {
            continue;
        };
        let Ok(v) = serde_json::from_str::<serde_json::Value>(json) else {
            continue;
        };
        let Some(w) = WORKLOADS.iter().find(|w| v["workload"] == **w) else {
            continue;
        };
        out.insert(
            *w,
            Figures {
                secs: v["secs"].as_f64().unwrap(),
                ops: v["ops"].as_u64().unwrap(),
                p50_us: v["p50_us"].as_f64().unwrap(),
                p99_us: v["p99_us"].as_f64().unwrap(),
                check: v["check"].as_i64().unwrap_or(-1),
            },
        );
    }
    out
}

/// Runs a column's process off the runtime's thread, so the other clients' heartbeats go on.
async fn external(mut cmd: Command, prefix: &'static str) -> HashMap<&'static str, Figures> {
    let what = format!("{cmd:?}");
    let output = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        panic!(
            "{what} failed ({}):\n{stdout}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    parse_lines(&stdout, prefix)
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

fn benches_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("benches")
}

/// Compiles HzBench.java against the member jar; the class directory.
fn compile_java(jar: &Path) -> Result<PathBuf, String> {
    let out = target_dir().join("hzlab-bench/java");
    std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;
    let status = Command::new("javac")
        .arg("-cp")
        .arg(jar)
        .arg("-d")
        .arg(&out)
        .arg(benches_dir().join("java/HzBench.java"))
        .status()
        .map_err(|e| format!("cannot run javac: {e}"))?;
    if !status.success() {
        return Err(format!("javac failed: {status}"));
    }
    Ok(out)
}

fn java_command(jar: &Path, classes: &Path, local: &LocalCluster, o: &Options) -> Command {
    let mut cmd = Command::new("java");
    cmd.arg("-Xmx256m")
        .arg("-Dhazelcast.logging.type=none")
        .arg("-cp")
        .arg(format!("{}:{}", jar.display(), classes.display()))
        .arg("HzBench")
        .arg(local.cluster_name())
        .arg(local.addresses().join(","))
        .args(
            [o.iterations, o.keys, o.items, o.warmup]
                .iter()
                .map(u32::to_string),
        );
    cmd
}

fn python_ready() -> Result<(), String> {
    let out = Command::new("python3")
        .args(["-c", "import hazelcast; print(hazelcast.__version__)"])
        .output()
        .map_err(|e| format!("cannot run python3: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err("python3 cannot import hazelcast (pip install hazelcast-python-client==5.7.0)".into())
    }
}

fn python_command(local: &LocalCluster, o: &Options) -> Command {
    let mut cmd = Command::new("python3");
    cmd.arg(benches_dir().join("python/workloads.py"))
        .arg("--cluster-name")
        .arg(local.cluster_name())
        .arg("--addresses")
        .arg(local.addresses().join(","))
        .arg("--iterations")
        .arg(o.iterations.to_string())
        .arg("--keys")
        .arg(o.keys.to_string())
        .arg("--items")
        .arg(o.items.to_string())
        .arg("--warmup")
        .arg(o.warmup.to_string());
    cmd
}

// ---------------------------------------------------------------------------------------------
// the report

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

type Results = HashMap<(String, &'static str), Vec<Figures>>;

/// CPU time the members, this process and its finished child processes have used so far.
#[derive(Debug, Clone, Copy, Default)]
struct Cpu {
    members: f64,
    this: f64,
    children: f64,
}

impl Cpu {
    fn now(local: &LocalCluster) -> Cpu {
        let members = (0..3)
            .filter_map(|i| local.pid(i))
            .map(|pid| proc_cpu(&pid.to_string()).0)
            .sum();
        let (this, children) = proc_cpu("self");
        Cpu {
            members,
            this,
            children,
        }
    }

    fn since(self, earlier: Cpu) -> Cpu {
        Cpu {
            members: self.members - earlier.members,
            this: self.this - earlier.this,
            children: self.children - earlier.children,
        }
    }
}

fn print_round(round: usize, column: &str, figures: &HashMap<&'static str, Figures>) {
    for w in WORKLOADS {
        if let Some(f) = figures.get(w) {
            println!(
                "round {round} {column:<7} {w:<12} {:>8.3} s {:>7} ops {:>8.0} ops/s  p50 {:>7.1} us  p99 {:>8.1} us  check {}",
                f.secs,
                f.ops,
                f.ops as f64 / f.secs,
                f.p50_us,
                f.p99_us,
                f.check
            );
        }
    }
}

fn report(results: &Results, columns: &[String], o: &Options) {
    let med = |c: &str, w: &'static str, f: fn(&Figures) -> f64| {
        results
            .get(&(c.to_owned(), w))
            .map(|v| median(v.iter().map(f).collect()))
    };
    println!(
        "\nmedians of {} round(s); time = workers' wall time; p50/p99 = one client operation",
        o.rounds
    );
    println!(
        "{:<12} {:<7} {:>9} {:>8} {:>9} {:>9} {:>9}  check",
        "workload", "column", "time s", "ops", "ops/s", "p50 us", "p99 us"
    );
    for w in WORKLOADS {
        for c in columns {
            let Some(secs) = med(c, w, |f| f.secs) else {
                continue;
            };
            let checks: Vec<String> = results[&(c.clone(), w)]
                .iter()
                .map(|f| f.check.to_string())
                .collect();
            println!(
                "{w:<12} {c:<7} {secs:>9.3} {:>8.0} {:>9.0} {:>9.1} {:>9.1}  {}",
                med(c, w, |f| f.ops as f64).unwrap(),
                med(c, w, |f| f.ops as f64 / f.secs).unwrap(),
                med(c, w, |f| f.p50_us).unwrap(),
                med(c, w, |f| f.p99_us).unwrap(),
                checks.join(",")
            );
        }
    }
    // Ratios of times, per round then the median (side by side in the same round).
    let ratio = |a: &str, b: &str, w: &'static str| -> Option<f64> {
        let (x, y) = (
            results.get(&(a.to_owned(), w))?,
            results.get(&(b.to_owned(), w))?,
        );
        Some(median(
            x.iter().zip(y).map(|(x, y)| x.secs / y.secs).collect(),
        ))
    };
    let cell = |r: Option<f64>, target: f64| match r {
        None => format!("{:>16}", "-"),
        Some(r) => format!(
            "{:>8.2} {:<7}",
            r,
            if r <= target { "met" } else { "MISSED" }
        ),
    };
    println!("\ntime ratios (median of per-round ratios; lower is faster for the first named)");
    println!(
        "{:<12} {:>16} {:>16} {:>16}",
        "workload", "wasm/native", "native/java", "native/python"
    );
    println!(
        "{:<12} {:>16} {:>16} {:>16}",
        "  target", "<= 1.20", "<= 1.00", "<= 0.33"
    );
    for w in WORKLOADS {
        println!(
            "{w:<12} {} {} {}",
            cell(ratio("wasm", "native", w), 1.2),
            cell(ratio("native", "java", w), 1.0),
            cell(ratio("native", "python", w), 1.0 / 3.0),
        );
    }
}

fn main() {
    let o = options();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let jar = member_jar().expect("the Hazelcast member jar is needed");
        let mut columns: Vec<String> = Vec::new();
        let mut java_classes = None;
        for c in &o.columns {
            let ready = match c.as_str() {
                "native" | "wasm" => Ok(()),
                "java" => compile_java(&jar).map(|classes| java_classes = Some(classes)),
                "python" => python_ready(),
                other => Err(format!("unknown column {other}")),
            };
            match ready {
                Ok(()) => columns.push(c.clone()),
                Err(e) => println!("column {c} skipped: {e}"),
            }
        }
        let mut config = LocalClusterConfig::new(format!("hzlab-bench-{}", std::process::id()), 3);
        config.queue_max_size = 10;
        let local = LocalCluster::start(config)
            .await
            .expect("local Hazelcast members (java and the member jar) are needed");
        println!(
            "3 members at {} (cluster {}), {} round(s), {} cores, columns {}",
            local.addresses().join(","),
            local.cluster_name(),
            o.rounds,
            std::thread::available_parallelism().map_or(0, |n| n.get()),
            columns.join(",")
        );
        // Warm the members' JIT before any column is measured: otherwise the column that runs
        // first meets cold code paths on the members in its short workloads (populate, queue).
        let members_warmup = Options {
            iterations: 2_000,
            ..o.clone()
        };
        let started = Instant::now();
        native_column(&local, &members_warmup).await;
        eprintln!(
            "members warmed up in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        let mut results: Results = HashMap::new();
        let mut cpus: HashMap<String, Vec<(f64, f64, u64)>> = HashMap::new();
        for round in 0..o.rounds {
            // A different column first in every round, so drift hits them alike.
            let mut order = columns.clone();
            order.rotate_left(round % columns.len().max(1));
            for c in &order {
                let started = Instant::now();
                let cpu_before = Cpu::now(&local);
                let figures = match c.as_str() {
                    "native" => native_column(&local, &o).await,
                    "wasm" => wasm_column(&local, &o).await,
                    "java" => {
                        let classes = java_classes.as_ref().unwrap();
                        external(java_command(&jar, classes, &local, &o), "RESULT ").await
                    }
                    "python" => external(python_command(&local, &o), "").await,
                    _ => unreachable!(),
                };
                let cpu = Cpu::now(&local).since(cpu_before);
                eprintln!(
                    "round {} {c}: {:.1} s in all",
                    round + 1,
                    started.elapsed().as_secs_f64()
                );
                print_round(round + 1, c, &figures);
                // The client's CPU: this process for native and wasm, the child for the others.
                let client = if matches!(c.as_str(), "native" | "wasm") {
                    cpu.this
                } else {
                    cpu.children
                };
                let ops: u64 = figures.values().map(|f| f.ops).sum();
                let wall: f64 = figures.values().map(|f| f.secs).sum();
                println!(
                    "round {} {c:<7} CPU over the column (warm-up passes included): members \
                     {:.1} s, client {:.1} s for {ops} ops in {wall:.1} s of workload time: \
                     members {:.1} us/op, client {:.1} us/op",
                    round + 1,
                    cpu.members,
                    client,
                    cpu.members * 1e6 / ops.max(1) as f64,
                    client * 1e6 / ops.max(1) as f64,
                );
                cpus.entry(c.clone())
                    .or_default()
                    .push((cpu.members, client, ops));
                for (w, f) in figures {
                    results.entry((c.clone(), w)).or_default().push(f);
                }
            }
        }
        report(&results, &columns, &o);
        println!(
            "\nCPU per operation over each column (median of rounds; members = the 3 member \
             JVMs, client = the client's process)"
        );
        println!(
            "{:<7} {:>14} {:>14}",
            "column", "members us/op", "client us/op"
        );
        for c in &columns {
            if let Some(v) = cpus.get(c) {
                let per = |f: fn(&(f64, f64, u64)) -> f64| {
                    median(v.iter().map(|x| f(x) * 1e6 / x.2.max(1) as f64).collect())
                };
                println!("{c:<7} {:>14.1} {:>14.1}", per(|x| x.0), per(|x| x.1));
            }
        }
        drop(local);
    });
}
