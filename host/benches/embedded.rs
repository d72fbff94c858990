//! Speed and memory of the runner on the embedded backend, printed side by side in one run:
//!
//! - one map `get` and one `put` through a guest (the `opsloop` test guest calling the
//!   operation in a loop) against the same call made on the embedded backend directly from
//!   Rust, both with 0 network yields; and the same guest loop on a backend that does nothing
//!   (answers at once), which is what the guest boundary alone costs;
//! - instantiation of a pre-linked component (`race`): a fresh store and an instance;
//! - host memory per live instance: 1,000 concurrent `race` instances in one run;
//! - the seed's 3 × 10,000 increment runs (`race`, `pessimistic`, `optimistic`).
//!
//! ```sh
//! cargo bench -p hzlab --bench embedded                    # 5 rounds
//! cargo bench -p hzlab --bench embedded -- --rounds 9 --ops 200000 --live 1000
//! ```
//!
//! Each figure is the median of its rounds (min and max beside it); the rounds of different
//! measurements are interleaved so that a noisy neighbour hits all of them alike. Not a test:
//! nothing here asserts a time.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hzlab::backend::embedded::{EmbeddedCluster, EmbeddedConfig, EmbeddedSession};
use hzlab::backend::{Backend, BackendInfo, OpResult, OwnerId, Session, Value};
use hzlab::engine::GuestPre;
use hzlab::engine::{InstanceLimits, ScenarioEngine};
use hzlab::imports::{InstanceState, RunShared, ScenarioShared};
use hzlab::limits::Limits;
use hzlab::progress::Progress;
use hzlab::results::{Phase, Recorder, RunResult};
use hzlab::runner::{self, RunSpec, ScenarioSpec};
use hzlab::scenario::ScenarioSource;

struct Options {
    rounds: usize,
    ops: u32,
    live: u32,
    instantiations: u32,
}

fn options() -> Options {
    let mut o = Options {
        rounds: 5,
        // CPU time is accounted in scheduler ticks (4 ms here): 2,000,000 operations make that
        // a resolution of 2 ns per operation.
        ops: 2_000_000,
        live: 1_000,
        instantiations: 2_000,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |name: &str| -> u64 {
            args.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{name} needs a number"))
        };
        match a.as_str() {
            "--rounds" => o.rounds = value("--rounds").max(1) as usize,
            "--ops" => o.ops = value("--ops") as u32,
            "--live" => o.live = value("--live") as u32,
            "--instantiations" => o.instantiations = value("--instantiations") as u32,
            // `cargo bench` passes --bench; anything else is ignored too.
            _ => {}
        }
    }
    o
}

/// Median, min and max of one measurement's rounds.
#[derive(Default)]
struct Samples(Vec<f64>);

impl Samples {
    fn push(&mut self, v: f64) {
        self.0.push(v);
    }
    fn sorted(&self) -> Vec<f64> {
        let mut v = self.0.clone();
        v.sort_by(f64::total_cmp);
        v
    }
    fn median(&self) -> f64 {
        let v = self.sorted();
        let n = v.len();
        if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        }
    }
    fn min(&self) -> f64 {
        self.sorted()[0]
    }
    fn max(&self) -> f64 {
        *self.sorted().last().unwrap()
    }
}

fn runtime() -> tokio::runtime::Runtime {
    // The runtime `hzlab run` uses: one thread.
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn cluster(max_network_yields: u32) -> EmbeddedCluster {
    EmbeddedCluster::new(EmbeddedConfig {
        max_network_yields,
        seed: 42,
        ..EmbeddedConfig::default()
    })
    .unwrap()
}

fn args(pairs: &[(&str, String)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

/// A backend that does nothing: every operation answers at once (a get finds `Int(0)`), so a
/// guest loop over it measures the guest boundary alone.
#[derive(Debug, Clone, Copy)]
struct NullBackend;

impl Backend for NullBackend {
    type Session = NullBackend;

    fn session(&self, _owner: OwnerId) -> NullBackend {
        NullBackend
    }

    fn info(&self) -> BackendInfo {
        BackendInfo {
            kind: "null",
            description: "answers every operation at once".into(),
            members: 0,
            members_at_end: 0,
            partitions: 0,
            backup_count: None,
            async_backup_count: None,
            queue_capacity: None,
        }
    }
}

impl Session for NullBackend {
    async fn get(&self, _: &str, _: &Value) -> OpResult<Option<Value>> {
        Ok(Some(Value::Int(0)))
    }
    async fn put(&self, _: &str, _: &Value, _: &Value) -> OpResult<Option<Value>> {
        Ok(Some(Value::Int(0)))
    }
    async fn set(&self, _: &str, _: &Value, _: &Value) -> OpResult<()> {
        Ok(())
    }
    async fn remove(&self, _: &str, _: &Value) -> OpResult<Option<Value>> {
        Ok(None)
    }
    async fn contains_key(&self, _: &str, _: &Value) -> OpResult<bool> {
        Ok(false)
    }
    async fn size(&self, _: &str) -> OpResult<u64> {
        Ok(0)
    }
    async fn put_if_absent(&self, _: &str, _: &Value, _: &Value) -> OpResult<Option<Value>> {
        Ok(None)
    }
    async fn clear(&self, _: &str) -> OpResult<()> {
        Ok(())
    }
    async fn replace(&self, _: &str, _: &Value, _: &Value) -> OpResult<Option<Value>> {
        Ok(None)
    }
    async fn replace_if_same(&self, _: &str, _: &Value, _: &Value, _: &Value) -> OpResult<bool> {
        Ok(false)
    }
    async fn lock(&self, _: &str, _: &Value) -> OpResult<()> {
        Ok(())
    }
    async fn try_lock(&self, _: &str, _: &Value, _: Duration) -> OpResult<bool> {
        Ok(true)
    }
    async fn unlock(&self, _: &str, _: &Value) -> OpResult<()> {
        Ok(())
    }
    async fn is_locked(&self, _: &str, _: &Value) -> OpResult<bool> {
        Ok(false)
    }
    async fn offer(&self, _: &str, _: &Value, _: Option<Duration>) -> OpResult<bool> {
        Ok(true)
    }
    async fn queue_put(&self, _: &str, _: &Value) -> OpResult<()> {
        Ok(())
    }
    async fn poll(&self, _: &str, _: Option<Duration>) -> OpResult<Option<Value>> {
        Ok(None)
    }
    async fn take(&self, _: &str) -> OpResult<Value> {
        Ok(Value::Int(0))
    }
    async fn queue_size(&self, _: &str) -> OpResult<u64> {
        Ok(0)
    }
}

fn state<S: Session>(
    session: S,
    args: Vec<(String, String)>,
    name: &str,
    phase: Phase,
) -> InstanceState<S> {
    InstanceState::new(
        session,
        Arc::new(RunShared {
            args,
            started: Instant::now(),
            progress: Arc::new(Progress::default()),
            echo_logs: false,
        }),
        Arc::new(ScenarioShared {
            name: name.to_owned(),
            instance_count: 1,
            recorder: Recorder::default(),
            series: Default::default(),
        }),
        0,
        phase,
        Limits::new(&InstanceLimits::default()),
    )
}

/// CPU time this thread has run, in nanoseconds (`/proc/thread-self/schedstat`). The
/// micro-measurements use it rather than wall time: on a shared, loaded machine the wall clock
/// counts the time other processes held the CPU.
fn cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// CPU nanoseconds per operation called directly on an embedded session.
async fn direct(session: &EmbeddedSession, op: &str, ops: u32) -> f64 {
    let key = Value::String("key".into());
    let started = cpu_ns();
    match op {
        "get" => {
            for _ in 0..ops {
                black_box(session.get("bench", &key).await.unwrap());
            }
        }
        "put" => {
            for i in 0..ops {
                black_box(
                    session
                        .put("bench", &key, &Value::Int(i as i32))
                        .await
                        .unwrap(),
                );
            }
        }
        _ => unreachable!(),
    }
    (cpu_ns() - started) as f64 / ops as f64
}

/// CPU nanoseconds of one `run` call of the `opsloop` guest (instantiated beforehand).
async fn guest_run<B: Backend>(
    engine: &ScenarioEngine,
    pre: &GuestPre<InstanceState<B::Session>>,
    cluster: &B,
    op: &str,
    ops: u32,
) -> f64 {
    let a = args(&[("op", op.into()), ("ops", ops.to_string())]);
    let mut store = engine.store(state(cluster.session(1), a, "opsloop", Phase::Run));
    let instance = pre.instantiate_async(&mut store).await.unwrap();
    let started = cpu_ns();
    instance.call_run(&mut store).await.unwrap().unwrap();
    (cpu_ns() - started) as f64
}

/// CPU microseconds per fresh store + instantiation of a pre-linked component (the store
/// dropped before the next one, as when an instance ends).
async fn instantiations(
    engine: &ScenarioEngine,
    pre: &GuestPre<InstanceState<EmbeddedSession>>,
    cluster: &EmbeddedCluster,
    count: u32,
) -> f64 {
    let started = cpu_ns();
    for i in 0..count {
        let mut store = engine.store(state(
            cluster.session(i as u64),
            Vec::new(),
            "race",
            Phase::Run,
        ));
        black_box(pre.instantiate_async(&mut store).await.unwrap());
    }
    (cpu_ns() - started) as f64 / 1e3 / count as f64
}

/// This process's resident set (VmRSS) or its peak (VmHWM), in bytes.
fn proc_status(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn spec(name: &str, instances: u32) -> ScenarioSpec {
    ScenarioSpec::once(ScenarioSource::resolve(name).unwrap(), instances)
}

async fn run(
    engine: &ScenarioEngine,
    cluster: &EmbeddedCluster,
    steps: Vec<Vec<ScenarioSpec>>,
    pairs: &[(&str, String)],
) -> RunResult {
    let spec = RunSpec {
        steps,
        args: args(pairs),
        limits: InstanceLimits {
            time_budget: Duration::from_secs(300),
            ..InstanceLimits::default()
        },
        seed: cluster.config().seed,
        echo_logs: false,
    };
    let r = runner::run(engine, cluster, &spec, Arc::new(Progress::default()))
        .await
        .unwrap();
    assert!(r.passed, "the run did not pass: {r:#?}");
    r
}

/// Peak resident-set growth (bytes) while `live` instances of `race` run together, and the
/// run's wall time (ms). Sampled every millisecond by a thread beside the runtime's.
async fn live_instances(engine: &ScenarioEngine, live: u32) -> (u64, f64) {
    let cluster = cluster(2);
    let pairs = [("iterations", "200".to_string())];
    // Warm the allocator and the code paths with a small run first.
    run(engine, &cluster, vec![vec![spec("race", 2)]], &pairs).await;
    let baseline = proc_status("VmRSS:");
    let peak = Arc::new(AtomicU64::new(baseline));
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, stop) = (peak.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                peak.fetch_max(proc_status("VmRSS:"), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(1));
            }
        })
    };
    let r = run(engine, &cluster, vec![vec![spec("race", live)]], &pairs).await;
    stop.store(true, Ordering::Relaxed);
    sampler.join().unwrap();
    let peak = peak.load(Ordering::Relaxed).max(proc_status("VmRSS:"));
    (peak.saturating_sub(baseline), r.elapsed_ms)
}

/// Wall time (ms) of a whole seed run as `hzlab run` makes it (compile, setup, run, verify),
/// of its run phase alone (the slowest instance), and the CPU time of the runtime's thread
/// for the whole run (compilation threads aside).
async fn seed_run(engine: &ScenarioEngine, name: &str) -> (f64, f64, f64, i64) {
    let cluster = cluster(2);
    let cpu = cpu_ns();
    let r = run(
        engine,
        &cluster,
        vec![vec![spec(name, 3)]],
        &[("iterations", "10000".to_string())],
    )
    .await;
    let cpu_ms = (cpu_ns() - cpu) as f64 / 1e6;
    let s = &r.scenarios[0];
    let slowest = s.instances.iter().map(|i| i.elapsed_ms).fold(0.0, f64::max);
    let final_value = s
        .recorded
        .values
        .get("final")
        .and_then(|v| v.as_i64())
        .unwrap_or(-1);
    (r.elapsed_ms, slowest, cpu_ms, final_value)
}

fn line(what: &str, unit: &str, s: &Samples, target: &str, met: Option<bool>) {
    println!(
        "{what:<46} {:>10.1} {:>10.1} {:>10.1}  {unit:<8} {target:<12} {}",
        s.median(),
        s.min(),
        s.max(),
        match met {
            Some(true) => "met",
            Some(false) => "MISSED",
            None => "",
        }
    );
}

fn main() {
    let o = options();
    let rt = runtime();
    let engine = ScenarioEngine::new().unwrap();
    let opsloop =
        ScenarioSource::resolve(hzlab::testing::component_path("opsloop").to_str().unwrap())
            .unwrap();
    let race = ScenarioSource::resolve("race").unwrap();
    let compile = |source: &ScenarioSource| {
        let component = engine.compile(source).unwrap();
        engine
            .prepare::<EmbeddedSession>(source, &component)
            .unwrap()
    };
    let (opsloop_pre, race_pre) = (compile(&opsloop), compile(&race));
    let null_pre = engine
        .prepare::<NullBackend>(&opsloop, &engine.compile(&opsloop).unwrap())
        .unwrap();

    println!(
        "hzlab embedded benchmark: {} rounds, {} ops per timing, {} live instances, {} cores",
        o.rounds,
        o.ops,
        o.live,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let names = [
        "get direct",
        "get guest",
        "get null guest",
        "put null guest",
        "put direct",
        "put guest",
        "loop guest",
        "instantiate",
        "race",
        "race phase",
        "pessimistic",
        "pessimistic phase",
        "optimistic",
        "optimistic phase",
        "race cpu",
        "pessimistic cpu",
        "optimistic cpu",
        "live bytes",
        "live ms",
    ];
    let mut s: std::collections::HashMap<&str, Samples> =
        names.iter().map(|n| (*n, Samples::default())).collect();
    let mut finals = Vec::new();
    rt.block_on(async {
        let c = cluster(0);
        let direct_session = c.session(1);
        direct_session
            .set("bench", &Value::String("key".into()), &Value::Int(0))
            .await
            .unwrap();
        // Warm-up of every path.
        direct(&direct_session, "get", o.ops / 10).await;
        guest_run(&engine, &opsloop_pre, &c, "get", o.ops / 10).await;
        guest_run(&engine, &null_pre, &NullBackend, "get", o.ops / 10).await;
        instantiations(&engine, &race_pre, &c, 100).await;

        for round in 0..o.rounds {
            eprint!("\rround {}/{}", round + 1, o.rounds);
            let n = o.ops as f64;
            s.get_mut("get direct")
                .unwrap()
                .push(direct(&direct_session, "get", o.ops).await);
            let empty = guest_run(&engine, &opsloop_pre, &c, "none", o.ops).await;
            s.get_mut("loop guest").unwrap().push(empty / n);
            let g = guest_run(&engine, &opsloop_pre, &c, "get", o.ops).await;
            s.get_mut("get guest").unwrap().push((g - empty) / n);
            let g = guest_run(&engine, &null_pre, &NullBackend, "get", o.ops).await;
            s.get_mut("get null guest").unwrap().push((g - empty) / n);
            let p = guest_run(&engine, &null_pre, &NullBackend, "put", o.ops).await;
            s.get_mut("put null guest").unwrap().push((p - empty) / n);
            s.get_mut("put direct")
                .unwrap()
                .push(direct(&direct_session, "put", o.ops).await);
            let p = guest_run(&engine, &opsloop_pre, &c, "put", o.ops).await;
            s.get_mut("put guest").unwrap().push((p - empty) / n);
            s.get_mut("instantiate")
                .unwrap()
                .push(instantiations(&engine, &race_pre, &c, o.instantiations).await);
            for name in ["race", "pessimistic", "optimistic"] {
                let (whole, phase, cpu, final_value) = seed_run(&engine, name).await;
                s.get_mut(name).unwrap().push(whole);
                if let Some(x) = s.get_mut(format!("{name} cpu").as_str()) {
                    x.push(cpu);
                }
                if let Some(x) = s.get_mut(format!("{name} phase").as_str()) {
                    x.push(phase);
                }
                finals.push((name, final_value));
            }
        }
        // Memory last and in rounds of its own: the peak resident set only grows.
        for round in 0..o.rounds.min(3) {
            eprint!("\rlive instances {}/{}", round + 1, o.rounds.min(3));
            let (bytes, ms) = live_instances(&engine, o.live).await;
            s.get_mut("live bytes").unwrap().push(bytes as f64);
            s.get_mut("live ms").unwrap().push(ms);
        }
        eprintln!();
    });

    let ratio = |a: &str, b: &str| {
        let mut r = Samples::default();
        for (x, y) in s[a].0.iter().zip(&s[b].0) {
            r.push(x / y);
        }
        r
    };
    println!(
        "\n{:<46} {:>10} {:>10} {:>10}  {:<8} {:<12}",
        "measurement", "median", "min", "max", "unit", "target"
    );
    line(
        "map get, direct on the backend",
        "ns/op",
        &s["get direct"],
        "",
        None,
    );
    line(
        "map get, through the guest",
        "ns/op",
        &s["get guest"],
        "",
        None,
    );
    let g = ratio("get guest", "get direct");
    line("  guest / direct", "x", &g, "<= 2", Some(g.median() <= 2.0));
    line(
        "  the guest boundary alone (no-op backend)",
        "ns/op",
        &s["get null guest"],
        "",
        None,
    );
    let b = ratio("get null guest", "get direct");
    line("  boundary alone / direct", "x", &b, "", None);
    line(
        "map put, direct on the backend",
        "ns/op",
        &s["put direct"],
        "",
        None,
    );
    line(
        "map put, through the guest",
        "ns/op",
        &s["put guest"],
        "",
        None,
    );
    let p = ratio("put guest", "put direct");
    line("  guest / direct", "x", &p, "<= 2", Some(p.median() <= 2.0));
    line(
        "  the guest boundary alone (no-op backend)",
        "ns/op",
        &s["put null guest"],
        "",
        None,
    );
    let b = ratio("put null guest", "put direct");
    line("  boundary alone / direct", "x", &b, "", None);
    line(
        "  (the guest's empty loop, subtracted)",
        "ns/iter",
        &s["loop guest"],
        "",
        None,
    );
    let inst = &s["instantiate"];
    line(
        "instantiation of race (store + instance, CPU)",
        "us",
        inst,
        "< 50",
        Some(inst.median() < 50.0),
    );
    let mut per_instance = Samples::default();
    for b in &s["live bytes"].0 {
        per_instance.push(b / o.live as f64 / 1024.0);
    }
    line(
        "host memory per live race instance",
        "KiB",
        &per_instance,
        "",
        None,
    );
    let mut total_mib = Samples::default();
    for b in &s["live bytes"].0 {
        total_mib.push(b / (1 << 20) as f64);
    }
    line(
        &format!("  {} live race instances, RSS growth", o.live),
        "MiB",
        &total_mib,
        "< 1024",
        Some(total_mib.median() < 1024.0),
    );
    line(
        &format!("  that run's wall time ({} x 200 increments)", o.live),
        "ms",
        &s["live ms"],
        "",
        None,
    );
    for name in ["race", "pessimistic", "optimistic"] {
        let whole = &s[name];
        line(
            &format!("seed {name} 3 x 10,000, whole run"),
            "ms",
            whole,
            "< 200",
            Some(whole.median() < 200.0),
        );
        line(
            "  run phase (slowest instance)",
            "ms",
            &s[format!("{name} phase").as_str()],
            "",
            None,
        );
        line(
            "  CPU time of the whole run (runtime thread)",
            "ms",
            &s[format!("{name} cpu").as_str()],
            "",
            None,
        );
    }
    let race_finals: Vec<String> = finals
        .iter()
        .filter(|(n, _)| *n == "race")
        .map(|(_, f)| f.to_string())
        .collect();
    println!(
        "\nrace final values (of 30,000): {}; pessimistic and optimistic: every run passed its \
         exact check",
        race_finals.join(", ")
    );
}
