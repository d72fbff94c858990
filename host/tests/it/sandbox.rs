//! Bad and hostile guests: each gets a clear error or a per-instance failure, never a hang.

use std::time::{Duration, Instant};

use crate::common::{scenario, spec, test_guest, Run};
use hzlab::engine::InstanceLimits;
use hzlab::results::Status;
use hzlab::scenario::{LoadError, ScenarioSource};

fn file(name: &str, bytes: &[u8]) -> ScenarioSource {
    let dir = std::env::temp_dir().join(format!("hzlab-sandbox-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    ScenarioSource::resolve(path.to_str().unwrap()).unwrap()
}

fn load_error(source: ScenarioSource) -> LoadError {
    let run = Run::new(vec![vec![hzlab::runner::ScenarioSpec::once(source, 1)]]);
    run.execute().expect_err("the file was accepted")
}

#[test]
fn endless_loop_is_stopped_at_its_time_budget_and_others_finish() {
    // Spinning guests take their time slices from the others, who still finish in time. Each
    // spinner holds the thread for 3 epoch ticks of 2 ms (longer when the ticker itself waits
    // for a CPU), so the others' operations wait: 5 locked increments (20 operations) fit a
    // 4 s budget with room for a loaded machine (20 did not fit 1.5 s at load 8, debug build:
    // 45 and 70 of 80 operations done).
    let mut run = Run::new(vec![vec![test_guest("spin", 2), spec("pessimistic", 2)]])
        .args(&[("iterations", "5")]);
    run.limits = InstanceLimits {
        time_budget: Duration::from_millis(4000),
        ..InstanceLimits::default()
    };
    let started = Instant::now();
    let r = run.execute().unwrap();
    assert!(started.elapsed() < Duration::from_secs(20));
    let spin = scenario(&r, "spin");
    for i in &spin.instances {
        assert_eq!(i.outcome.status, Status::TimedOut, "{i:#?}");
        assert!(i.outcome.error.as_ref().unwrap().contains("time budget"));
    }
    let p = scenario(&r, "pessimistic");
    assert!(
        p.passed(),
        "a spinning neighbour broke another scenario: {p:#?}"
    );
    assert!(!r.passed);
}

#[test]
fn guest_blocked_in_a_host_call_is_stopped_at_its_budget() {
    // A consumer waiting for a producer that never comes polls forever.
    let mut run = Run::new(vec![vec![spec("consumer", 1)]]);
    run.limits.time_budget = Duration::from_millis(400);
    let r = run.execute().unwrap();
    let c = scenario(&r, "consumer");
    assert_eq!(c.instances[0].outcome.status, Status::TimedOut);
}

#[test]
fn memory_hog_fails_cleanly_at_its_cap() {
    let mut run = Run::new(vec![vec![test_guest("hog", 2)]]);
    run.limits.memory_cap = 16 << 20;
    let r = run.execute().unwrap();
    let hog = scenario(&r, "hog");
    for i in &hog.instances {
        assert_eq!(i.outcome.status, Status::MemoryExceeded, "{i:#?}");
        assert!(i.outcome.error.as_ref().unwrap().contains("16 MiB"));
        let mib = i.recorded.counters["mib"];
        assert!((10..16).contains(&mib), "grew {mib} MiB under a 16 MiB cap");
    }
}

#[test]
fn a_file_that_is_not_wasm_is_rejected() {
    let e = load_error(file("text.wasm", b"not wasm at all"));
    assert!(matches!(e, LoadError::NotWasm { .. }), "{e}");
    assert!(e.to_string().contains("text.wasm"));
}

#[test]
fn a_plain_core_module_is_rejected() {
    let module = wat::parse_str("(module (func (export \"run\")))").unwrap();
    let e = load_error(file("core.wasm", &module));
    assert!(matches!(e, LoadError::CoreModule { .. }), "{e}");
}

#[test]
fn a_component_of_another_world_is_rejected() {
    let component = wat::parse_str(
        r#"(component
            (import "wasi:filesystem/preopens@0.2.0" (instance))
        )"#,
    )
    .unwrap();
    let e = load_error(file("wasi.wasm", &component));
    let msg = e.to_string();
    assert!(matches!(e, LoadError::WrongWorld { .. }), "{msg}");
    assert!(msg.contains("wasi:filesystem/preopens"), "{msg}");
}

#[test]
fn a_component_without_the_scenario_exports_is_rejected() {
    let component = wat::parse_str("(component)").unwrap();
    let msg = load_error(file("empty.wasm", &component)).to_string();
    assert!(msg.contains("does not export setup, run, verify"), "{msg}");
}

#[test]
fn a_scenario_that_returns_an_error_fails_only_itself() {
    // `count` with a non-numeric expectation fails its verify with a message.
    let r = Run::new(vec![vec![spec("count", 1)]])
        .args(&[("keys", "10"), ("expect-present", "ten")])
        .execute()
        .unwrap();
    let c = scenario(&r, "count");
    assert_eq!(c.verify.status, Status::Failed);
    assert!(c.verify.error.as_ref().unwrap().contains("expect-present"));
    assert!(c.checks.iter().any(|k| k.name == "verify" && !k.ok));
}

#[test]
fn a_bad_argument_traps_with_its_name_in_the_log() {
    let r = Run::new(vec![vec![spec("race", 1)]])
        .args(&[("iterations", "many")])
        .execute()
        .unwrap();
    let s = scenario(&r, "race");
    assert_eq!(s.instances[0].outcome.status, Status::Trapped);
    assert!(
        s.logs.iter().any(|l| l.message.contains("iterations")),
        "{:#?}",
        s.logs
    );
}

#[test]
fn every_kind_of_kept_bytes_counts_against_the_host_side_cap() {
    // 2 MiB in 16 KiB pieces against a 256 KiB cap: as records, check details, log lines and
    // counter names.
    for kind in ["record", "check", "log", "counter"] {
        let mut run = Run::new(vec![vec![test_guest("hoard", 2)]]).args(&[
            ("kind", kind),
            ("mib", "2"),
            ("chunk-kib", "16"),
        ]);
        run.limits.host_cap = 256 << 10;
        let r = run.execute().unwrap();
        let hoard = scenario(&r, "hoard");
        for i in &hoard.instances {
            assert_eq!(i.outcome.status, Status::MemoryExceeded, "{kind}: {i:#?}");
            let error = i.outcome.error.as_deref().unwrap();
            assert!(error.contains("recorded more than 262144 bytes"), "{error}");
            let kib = i.recorded.counters["kib"];
            assert!((128..256).contains(&kib), "{kind}: kept {kib} KiB");
        }
    }
}

#[test]
fn a_value_recorded_again_replaces_the_old_one_in_the_count() {
    // 8 MiB recorded in 16 KiB pieces under one name hold 16 KiB at a time.
    let mut run = Run::new(vec![vec![test_guest("hoard", 1)]]).args(&[
        ("mib", "8"),
        ("chunk-kib", "16"),
        ("same-name", "true"),
    ]);
    run.limits.host_cap = 256 << 10;
    let r = run.execute().unwrap();
    let hoard = scenario(&r, "hoard");
    assert!(hoard.passed(), "{:#?}", hoard.instances);
    assert_eq!(hoard.instances[0].recorded.counters["kib"], 8 * 1024);
}

/// A component's first run compiles it into the cache; later runs load it; a damaged entry
/// is compiled again, never run.
#[test]
fn compiled_components_are_cached_and_damaged_entries_replaced() {
    let dir = std::env::temp_dir().join(format!("hzlab-component-cache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let run = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_hzlab"))
            .args(["run", "race", "-n", "2", "-q", "--arg", "iterations=50"])
            .env("HZLAB_CACHE_DIR", &dir)
            .output()
            .expect("hzlab runs")
    };
    let entries = || -> Vec<std::path::PathBuf> {
        std::fs::read_dir(&dir)
            .map(|r| r.flatten().map(|e| e.path()).collect())
            .unwrap_or_default()
    };
    let o = run();
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let first = entries();
    assert_eq!(first.len(), 1, "one entry for race: {first:?}");
    let stamp = std::fs::metadata(&first[0]).unwrap().len();
    let o = run();
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert_eq!(entries(), first, "the second run reused the entry");
    std::fs::write(&first[0], b"\x7fELF damaged").unwrap();
    let o = run();
    assert_eq!(
        o.status.code(),
        Some(0),
        "a damaged entry is compiled again: {o:?}"
    );
    assert_eq!(
        std::fs::metadata(&first[0]).unwrap().len(),
        stamp,
        "and written again whole"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
