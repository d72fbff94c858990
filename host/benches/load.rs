//! One hzlab host driving many instances through one client against 3 local members: `race`
//! as a closed model with 1, 10, 100 and 1,000 instances sharing a fixed number of
//! iterations, then an open model at half the measured saturation rate.
//!
//! ```sh
//! cargo bench -p hzlab --bench load                                # 3 rounds of 20,000 iterations per point
//! cargo bench -p hzlab --bench load -- --rounds 5 --iterations 100000 --instances 1,10,100,1000 --open-secs 10
//! ```
//!
//! Each round runs every point, in an order rotated from round to round so that drift hits
//! them alike; the targets are judged on each point's median round (by iterations/s).
//!
//! `--native` adds, per point, the same increments made by tokio tasks through
//! `hazelcast-client` directly (no guest, no runner): what the client alone costs per
//! operation beside what a scenario instance costs.
//!
//! Per point: iterations/s, operations/s, the operations' p50 / p99, and CPU per operation of
//! the 3 member JVMs and of this process (the client and the guests), from `/proc/PID/stat`.
//! Then the issue's targets: throughput does not fall as instances are added; at the largest
//! point the client uses at most a quarter of the members' CPU per operation; and the open
//! model at half the saturation rate keeps the iterations' p99 response time within 2× their
//! p99 service time. Not a test: it prints figures and asserts nothing.

use std::time::{Duration, Instant};

#[path = "support/proc_cpu.rs"]
mod proc_cpu;

use hazelcast_members::{LocalCluster, LocalClusterConfig};
use hzlab::backend::real::{RealCluster, RealConfig};
use hzlab::engine::{InstanceLimits, ScenarioEngine};
use hzlab::executor::Executor;
use hzlab::progress::Progress;
use hzlab::results::RunResult;
use hzlab::runner::{self, RunSpec, ScenarioSpec};
use hzlab::scenario::ScenarioSource;
use proc_cpu::proc_cpu;

/// CPU seconds of the members and of this process so far.
fn cpu(local: &LocalCluster) -> (f64, f64) {
    let members = (0..3)
        .filter_map(|i| local.pid(i))
        .map(|pid| proc_cpu(&pid.to_string()).0)
        .sum();
    (members, proc_cpu("self").0)
}

struct Point {
    instances: u32,
    secs: f64,
    iterations: u64,
    ops: u64,
    p50_us: f64,
    p99_us: f64,
    members_us_per_op: f64,
    client_us_per_op: f64,
    failed: bool,
}

async fn run(
    engine: &ScenarioEngine,
    cluster: &RealCluster,
    instances: u32,
    executor: Executor,
) -> RunResult {
    let spec = RunSpec {
        steps: vec![vec![ScenarioSpec {
            source: ScenarioSource::resolve("race").unwrap(),
            instances,
            executor,
            trim: None,
        }]],
        args: vec![("map".into(), format!("load-{instances}"))],
        limits: InstanceLimits {
            time_budget: Duration::from_secs(600),
            ..InstanceLimits::default()
        },
        seed: 0,
        echo_logs: false,
    };
    runner::run(
        engine,
        cluster,
        &spec,
        std::sync::Arc::new(Progress::default()),
    )
    .await
    .expect("race loads")
}

async fn closed(
    engine: &ScenarioEngine,
    cluster: &RealCluster,
    local: &LocalCluster,
    instances: u32,
    iterations: u64,
) -> Point {
    let before = cpu(local);
    let started = Instant::now();
    let r = run(
        engine,
        cluster,
        instances,
        Executor::SharedIterations { iterations },
    )
    .await;
    let secs = started.elapsed().as_secs_f64();
    let after = cpu(local);
    let s = &r.scenarios[0];
    let it = s.iterations.as_ref().expect("an iteration summary");
    let ops: u64 = s.latency.ops.values().map(|h| h.count()).sum();
    let all = s
        .latency
        .ops
        .values()
        .fold(hzlab::latency::Histogram::default(), |mut acc, h| {
            acc.merge(h);
            acc
        });
    let st = all.stats();
    let per_op = |cpu_s: f64| cpu_s * 1e6 / ops.max(1) as f64;
    Point {
        instances,
        secs: it.secs.max(secs.min(it.secs + 1.0)),
        iterations: it.counts.completed,
        ops,
        p50_us: st.p50_us,
        p99_us: st.p99_us,
        members_us_per_op: per_op(after.0 - before.0),
        client_us_per_op: per_op(after.1 - before.1),
        failed: !r.passed && it.counts.failed > 0,
    }
}

/// The same work without the guest and the runner: `instances` tasks sharing `iterations`
/// get + set increments through one client; wall time and CPU per operation.
async fn native(
    local: &LocalCluster,
    client: &hazelcast_client::Client,
    instances: u32,
    iterations: u64,
) -> (f64, f64, f64, f64) {
    use hazelcast_client::Value;
    use std::sync::atomic::{AtomicU64, Ordering};
    let left = std::sync::Arc::new(AtomicU64::new(iterations));
    let map = client.map(&format!("native-{instances}"));
    let key = Value::from("key");
    map.set(&key, &Value::Int(0)).await.unwrap();
    let before = cpu(local);
    let started = Instant::now();
    let tasks: Vec<_> = (0..instances)
        .map(|_| {
            let (map, key, left) = (map.clone(), key.clone(), left.clone());
            tokio::spawn(async move {
                while left
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                    .is_ok()
                {
                    let v = match map.get(&key).await.unwrap() {
                        Some(Value::Int(v)) => v,
                        _ => 0,
                    };
                    map.set(&key, &Value::Int(v + 1)).await.unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let secs = started.elapsed().as_secs_f64();
    let after = cpu(local);
    let ops = (2 * iterations) as f64;
    (
        secs,
        iterations as f64 / secs,
        (after.0 - before.0) * 1e6 / ops,
        (after.1 - before.1) * 1e6 / ops,
    )
}

/// Prints a point's figures in the table's columns.
fn row(p: &Point) {
    println!(
        "{:>9} {:>8.2} {:>12.0} {:>10.0} {:>8.1} {:>8.1} {:>14.1} {:>13.1}{}",
        p.instances,
        p.secs,
        p.iterations as f64 / p.secs,
        p.ops as f64 / p.secs,
        p.p50_us,
        p.p99_us,
        p.members_us_per_op,
        p.client_us_per_op,
        if p.failed {
            "  (iterations failed)"
        } else {
            ""
        }
    );
}

fn main() {
    let mut iterations: u64 = 20_000;
    let mut points: Vec<u32> = vec![1, 10, 100, 1000];
    let mut open_secs: u64 = 10;
    let mut rounds: usize = 3;
    let mut with_native = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--iterations" => iterations = args.next().and_then(|v| v.parse().ok()).unwrap(),
            "--instances" => {
                points = args
                    .next()
                    .unwrap()
                    .split(',')
                    .map(|n| n.trim().parse().unwrap())
                    .collect()
            }
            "--open-secs" => open_secs = args.next().and_then(|v| v.parse().ok()).unwrap(),
            "--rounds" => rounds = args.next().and_then(|v| v.parse().ok()).unwrap_or(1).max(1),
            "--native" => with_native = true,
            _ => {}
        }
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let config = LocalClusterConfig::new(format!("hzlab-load-{}", std::process::id()), 3);
        let local = LocalCluster::start(config)
            .await
            .expect("local Hazelcast members (java and the member jar) are needed");
        let engine = ScenarioEngine::new().unwrap();
        let cluster =
            RealCluster::connect(RealConfig::new(local.addresses(), local.cluster_name()))
                .await
                .unwrap();
        println!(
            "3 members at {}, {} cores; race, {iterations} iterations shared by the instances \
             (a get and a set each), one client",
            local.addresses().join(","),
            std::thread::available_parallelism().map_or(0, |n| n.get()),
        );
        // Warm the members' JIT and the client.
        closed(&engine, &cluster, &local, 10, iterations / 4).await;
        println!(
            "\n        {:>9} {:>8} {:>12} {:>10} {:>8} {:>8} {:>14} {:>13}",
            "instances",
            "secs",
            "iterations/s",
            "ops/s",
            "p50 µs",
            "p99 µs",
            "members µs/op",
            "client µs/op"
        );
        let rate = |p: &Point| p.iterations as f64 / p.secs;
        let mut by_point: Vec<Vec<Point>> = points.iter().map(|_| Vec::new()).collect();
        for round in 0..rounds {
            let mut order: Vec<usize> = (0..points.len()).collect();
            order.rotate_left(round % points.len().max(1));
            for i in order {
                let p = closed(&engine, &cluster, &local, points[i], iterations).await;
                print!("round {} ", round + 1);
                row(&p);
                by_point[i].push(p);
            }
        }
        // Each point's median round, by iterations per second.
        let results: Vec<Point> = by_point
            .into_iter()
            .map(|mut ps| {
                ps.sort_by(|a, b| rate(a).total_cmp(&rate(b)));
                let mid = ps.len() / 2;
                ps.swap_remove(mid)
            })
            .collect();
        println!("\nmedian rounds:");
        for p in &results {
            print!("        ");
            row(p);
        }
        if with_native {
            let client = hazelcast_client::Client::connect(hazelcast_client::ClientConfig::new(
                local.cluster_name(),
                local.addresses(),
            ))
            .await
            .unwrap();
            println!("\nnative (tasks through hazelcast-client, no guest, no runner):");
            println!(
                "        {:>9} {:>8} {:>12} {:>14} {:>13}",
                "tasks", "secs", "iterations/s", "members µs/op", "client µs/op"
            );
            for &n in &points {
                let (secs, per_s, members, this) = native(&local, &client, n, iterations).await;
                println!("        {n:>9} {secs:>8.2} {per_s:>12.0} {members:>14.1} {this:>13.1}");
            }
            client.shutdown().await;
        }
        let rates: Vec<f64> = results.iter().map(rate).collect();
        let saturation = rates.iter().copied().fold(0.0, f64::max);
        println!("\ntargets:");
        for w in results.windows(2) {
            let (a, b) = (&w[0], &w[1]);
            let ratio = (b.iterations as f64 / b.secs) / (a.iterations as f64 / a.secs);
            println!(
                "  throughput {} → {} instances: × {ratio:.2} ({})",
                a.instances,
                b.instances,
                if ratio >= 0.95 {
                    "met: does not fall"
                } else {
                    "MISSED: falls"
                }
            );
        }
        if let Some(last) = results.last() {
            let share = last.client_us_per_op / last.members_us_per_op.max(1e-9);
            println!(
                "  at {} instances: client {:.1} µs/op against the members' {:.1}: {share:.2} of \
                 theirs ({})",
                last.instances,
                last.client_us_per_op,
                last.members_us_per_op,
                if share <= 0.25 {
                    "met: ≤ 0.25"
                } else {
                    "MISSED: > 0.25"
                }
            );
        }
        // The open model at half the saturation rate.
        let rate = (saturation / 2.0).round();
        let r = run(
            &engine,
            &cluster,
            10,
            Executor::rate(rate, Duration::from_secs(open_secs), 1000),
        )
        .await;
        let it = r.scenarios[0]
            .iterations
            .clone()
            .expect("an iteration summary");
        let (resp, serv) = (it.response.unwrap(), it.service.unwrap());
        let ratio = resp.p99_us / serv.p99_us.max(1e-9);
        println!(
            "  open model at {rate}/s (half of {saturation:.0}/s) for {open_secs} s: started {}, \
             dropped {}, {:.0}/s; p99 response {:.1} µs, p99 service {:.1} µs: × {ratio:.2} ({})",
            it.counts.started,
            it.counts.dropped,
            it.rate,
            resp.p99_us,
            serv.p99_us,
            if ratio <= 2.0 {
                "met: ≤ 2"
            } else {
                "MISSED: > 2"
            }
        );
        cluster.shutdown().await;
        drop(local);
    });
}
