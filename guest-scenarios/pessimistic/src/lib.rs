//! Increments one key under a pessimistic lock: lock, get, put, unlock.

use hzlab_guest::{counter, runtime, Outcome, Scenario};

struct Pessimistic;

impl Scenario for Pessimistic {
    fn setup() -> Outcome {
        counter::setup()
    }

    fn run() -> Outcome {
        let (map, key) = counter::target();
        let iterations = counter::iterations();
        for _ in 0..iterations {
            let guard = map.lock(&key)?;
            let value = counter::read(&map, &key)?;
            map.set(&key, (value + 1) as i32)?;
            guard.unlock()?;
        }
        runtime::count("increments", iterations as i64);
        Ok(())
    }

    fn verify() -> Outcome {
        counter::verify(true)
    }
}

hzlab_guest::scenario!(Pessimistic);
