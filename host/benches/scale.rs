//! Many instances in one host: what `hzlab run race:10000 --arg iterations=100` does on the
//! embedded backend (the caps fitted to the memory budget as `hzlab run` fits them), with the
//! process's peak RSS (VmHWM) and the time.
//!
//! ```sh
//! cargo bench -p hzlab --bench scale                          # race:10000, iterations=100
//! cargo bench -p hzlab --bench scale -- --instances 15000 --iterations 100
//! ```
//!
//! Not a test: it asserts nothing, and prints the figures against the issue's targets (every
//! instance ok, peak RSS under 2 GiB).

use std::sync::Arc;
use std::time::{Duration, Instant};

use hzlab::backend::embedded::{EmbeddedCluster, EmbeddedConfig};
use hzlab::engine::budget::{self, Budget};
use hzlab::engine::{InstanceLimits, ScenarioEngine, MAPPINGS_PER_INSTANCE};
use hzlab::progress::Progress;
use hzlab::results::Status;
use hzlab::runner::{self, RunSpec, ScenarioSpec};
use hzlab::scenario::ScenarioSource;

fn proc_status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

fn mappings() -> usize {
    std::fs::read_to_string("/proc/self/maps")
        .map(|m| m.lines().count())
        .unwrap_or(0)
}

fn main() {
    let mut instances: u32 = 10_000;
    let mut iterations: u32 = 100;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |name: &str| -> u32 {
            args.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{name} needs a number"))
        };
        match a.as_str() {
            "--instances" => instances = value("--instances"),
            "--iterations" => iterations = value("--iterations"),
            _ => {}
        }
    }
    let budget = Budget::of_machine();
    let fitted = match budget::fit(
        instances as u64,
        None,
        None,
        &budget,
        budget::max_map_count(),
    ) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("hzlab scale benchmark: {e}");
            std::process::exit(2);
        }
    };
    println!(
        "hzlab scale benchmark: race:{instances} --arg iterations={iterations} on the embedded \
         backend, {} cores",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    if let Some(notice) = &fitted.notice {
        println!("  {notice}");
    }
    let engine = ScenarioEngine::new().unwrap();
    let cluster = EmbeddedCluster::new(EmbeddedConfig {
        seed: 42,
        ..EmbeddedConfig::default()
    })
    .unwrap();
    let spec = RunSpec {
        steps: vec![vec![ScenarioSpec::once(
            ScenarioSource::resolve("race").unwrap(),
            instances,
        )]],
        args: vec![("iterations".into(), iterations.to_string())],
        limits: fitted.apply(InstanceLimits {
            time_budget: Duration::from_secs(300),
            ..InstanceLimits::default()
        }),
        seed: 42,
        echo_logs: false,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let before_kib = proc_status_kib("VmRSS:");
    let progress = Arc::new(Progress::default());
    // The most mappings seen while the instances live, sampled beside the run.
    let peak_maps = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let sampler = {
        let progress = progress.clone();
        let peak_maps = peak_maps.clone();
        std::thread::spawn(move || {
            while progress.stage.load(std::sync::atomic::Ordering::Relaxed) < 2 {
                peak_maps.fetch_max(mappings(), std::sync::atomic::Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    let started = Instant::now();
    let result = runtime
        .block_on(runner::run(&engine, &cluster, &spec, progress.clone()))
        .unwrap();
    let elapsed = started.elapsed();
    progress
        .stage
        .store(2, std::sync::atomic::Ordering::Relaxed);
    sampler.join().unwrap();
    let peak_kib = proc_status_kib("VmHWM:");
    let race = &result.scenarios[0];
    let ok = race
        .instances
        .iter()
        .filter(|i| i.outcome.status == Status::Ok)
        .count();
    let mut others: Vec<String> = race
        .instances
        .iter()
        .filter(|i| i.outcome.status != Status::Ok)
        .take(3)
        .map(|i| format!("#{} {:?}", i.index, i.outcome.error))
        .collect();
    if others.is_empty() {
        others.push("none".into());
    }
    let mib = |kib: u64| kib as f64 / 1024.0;
    println!(
        "  instances ok             {ok} of {instances}   target: all   {}",
        if ok == instances as usize {
            "met"
        } else {
            "MISSED"
        }
    );
    println!("  not ok (first 3)         {}", others.join("; "));
    println!(
        "  peak RSS (VmHWM)         {:.1} MiB   target: < 2048 MiB   {}",
        mib(peak_kib),
        if peak_kib < 2 << 20 { "met" } else { "MISSED" }
    );
    println!(
        "  RSS before the run       {:.1} MiB; per instance at the peak {:.1} KiB",
        mib(before_kib),
        peak_kib.saturating_sub(before_kib) as f64 / instances.max(1) as f64
    );
    println!(
        "  memory mappings (peak)   {} ({} per instance counted; vm.max_map_count {})",
        peak_maps.load(std::sync::atomic::Ordering::Relaxed),
        MAPPINGS_PER_INSTANCE,
        budget::max_map_count().map_or("unknown".into(), |m| m.to_string())
    );
    println!(
        "  time                     {:.2} s (the run: compile, setup, {instances} instances, verify)",
        elapsed.as_secs_f64()
    );
    println!("  passed                   {}", result.passed);
}
