//! The seed lab's scenarios, run as real components through the host on the embedded cluster.

mod common;

use common::{scenario, spec, value, Run};
use hzlab::results::Status;

#[test]
fn race_without_a_lock_loses_updates() {
    let r = Run::new(vec![vec![spec("race", 3)]])
        .args(&[("iterations", "10000")])
        .execute()
        .unwrap();
    let s = scenario(&r, "race");
    assert!(s.passed(), "{s:#?}");
    let final_value = value(s, "final");
    assert_eq!(value(s, "expected"), 30_000);
    assert!(
        final_value < 30_000,
        "no update was lost without a lock: {final_value}"
    );
    assert!(final_value >= 1, "{final_value}");
    assert_eq!(value(s, "lost"), 30_000 - final_value);
    assert!(s.instances.iter().all(|i| i.ops == 20_000));
}

#[test]
fn pessimistic_and_optimistic_lose_nothing() {
    for name in ["pessimistic", "optimistic"] {
        for seed in [1, 2, 3] {
            let mut run = Run::new(vec![vec![spec(name, 3)]]).args(&[("iterations", "10000")]);
            run.config.seed = seed;
            let r = run.execute().unwrap();
            let s = scenario(&r, name);
            assert!(r.passed, "{name} seed {seed}: {s:#?}");
            assert_eq!(value(s, "final"), 30_000, "{name} seed {seed}");
        }
    }
}

/// Final value, retries and each instance's operation count of a 3-instance run.
fn figures(name: &str, seed: u64) -> (i64, Option<i64>, Vec<u64>) {
    let mut run = Run::new(vec![vec![spec(name, 3)]]).args(&[("iterations", "2000")]);
    run.config.seed = seed;
    let r = run.execute().unwrap();
    let s = scenario(&r, name);
    (
        value(s, "final"),
        s.totals.get("retries").copied(),
        s.instances.iter().map(|i| i.ops).collect(),
    )
}

#[test]
fn the_same_seed_gives_the_same_interleaving() {
    for name in ["race", "optimistic"] {
        let first = figures(name, 9);
        for _ in 0..3 {
            assert_eq!(figures(name, 9), first, "{name}, seed 9");
        }
    }
    // And the seed matters: three seeds do not all give one race.
    let races: Vec<i64> = [9, 10, 11].iter().map(|&s| figures("race", s).0).collect();
    assert!(races.iter().any(|r| *r != races[0]), "{races:?}");
}

#[test]
fn optimistic_records_its_retries() {
    let r = Run::new(vec![vec![spec("optimistic", 3)]])
        .args(&[("iterations", "2000")])
        .execute()
        .unwrap();
    let s = scenario(&r, "optimistic");
    let retries = value(s, "retries");
    assert!(retries > 0, "three instances on one key never conflicted");
    assert_eq!(s.totals["retries"], retries);
    let ops: u64 = s.instances.iter().map(|i| i.ops).sum();
    // Each increment is a get and a replace, and each retry another pair.
    assert_eq!(ops as i64, 2 * (6000 + retries));
}

#[test]
fn populate_then_count_finds_every_key() {
    let r = Run::new(vec![vec![spec("populate", 4)], vec![spec("count", 2)]])
        .args(&[("keys", "1000"), ("expect-present", "1000")])
        .execute()
        .unwrap();
    assert!(r.passed, "{r:#?}");
    let count = scenario(&r, "count");
    assert_eq!(value(count, "present"), 1000);
    assert_eq!(value(count, "missing"), 0);
    assert_eq!(scenario(&r, "populate").totals["written"], 1000);
}

#[test]
fn bounded_queue_hands_every_item_to_exactly_one_consumer() {
    let mut run =
        Run::new(vec![vec![spec("producer", 1), spec("consumer", 2)]]).args(&[("items", "100")]);
    run.config.queue_capacity = Some(10);
    let r = run.execute().unwrap();
    assert!(r.passed, "{r:#?}");
    let consumer = scenario(&r, "consumer");
    assert_eq!(value(consumer, "consumed-once"), 100);
    assert_eq!(value(consumer, "duplicates"), 0);
    // Both consumers got items, and together every item 1..=100 exactly once.
    let mut all: Vec<i64> = Vec::new();
    for i in &consumer.instances {
        let items = i.recorded.values["items"].as_str().unwrap();
        let got: Vec<i64> = items
            .split(',')
            .filter(|s| !s.is_empty())
            .map(|s| s.parse().unwrap())
            .collect();
        assert!(!got.is_empty(), "consumer {} got nothing", i.index);
        all.extend(got);
    }
    all.sort();
    assert_eq!(all, (1..=100).collect::<Vec<_>>());
    // The producer found the queue full and blocked.
    let producer = scenario(&r, "producer");
    assert_eq!(value(producer, "produced"), 100);
    assert!(value(producer, "full") > 0, "{producer:#?}");
    assert!(producer.totals["blocked-ns"] > 0);
}

#[test]
fn producer_alone_blocks_on_a_full_queue() {
    let mut run =
        Run::new(vec![vec![spec("producer", 1)]]).args(&[("items", "100"), ("give-up-ms", "200")]);
    run.config.queue_capacity = Some(10);
    let r = run.execute().unwrap();
    let p = scenario(&r, "producer");
    assert!(p.passed(), "{p:#?}");
    let i = &p.instances[0];
    assert_eq!(i.recorded.values["blocked-at"], 11);
    assert_eq!(i.recorded.values["queue-size"], 10);
    assert_eq!(i.recorded.counters["produced"], 10);
    assert!(i.elapsed_ms >= 200.0, "it did not wait: {}", i.elapsed_ms);
    assert_eq!(i.outcome.status, Status::Ok);
}
