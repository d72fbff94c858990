//! Increments one key optimistically: read it, then `replace-if-same` with the value read,
//! retried whenever another instance wrote in between.

use hzlab_guest::{counter, runtime, Outcome, Scenario, Value};

struct Optimistic;

impl Scenario for Optimistic {
    fn setup() -> Outcome {
        counter::setup()
    }

    fn run() -> Outcome {
        let (map, key) = counter::target();
        let iterations = counter::iterations();
        let mut retries = 0;
        for _ in 0..iterations {
            let (_, failed) = map.update(&key, |v| {
                Value::Int(v.and_then(Value::as_i64).unwrap_or(0) as i32 + 1)
            })?;
            retries += failed;
        }
        runtime::count("increments", iterations as i64);
        runtime::count("retries", retries as i64);
        Ok(())
    }

    fn verify() -> Outcome {
        runtime::record("retries", runtime::total("retries"));
        counter::verify(true)
    }
}

hzlab_guest::scenario!(Optimistic);
