//! Increments one key under a pessimistic lock: lock, get, put, unlock.

use hzlab_guest::{counter, Map, Outcome, Scenario, Value};

struct Pessimistic;

fn increment(map: &Map, key: &Value) -> Result<(), String> {
    let guard = map.lock(key)?;
    let value = counter::read(map, key)?;
    counter::write(|| map.set(key, (value + 1) as i32), |_| true)?;
    guard.unlock()?;
    Ok(())
}

impl Scenario for Pessimistic {
    fn setup() -> Outcome {
        counter::setup()
    }

    fn run() -> Outcome {
        counter::run(increment)
    }

    fn iteration(_index: u64) -> Outcome {
        counter::iteration(increment)
    }

    fn verify() -> Outcome {
        counter::verify(true)
    }
}

hzlab_guest::scenario!(Pessimistic);
