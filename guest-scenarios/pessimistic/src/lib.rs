//! Increments one key under a pessimistic lock: lock, get, put, unlock.

use hzlab_guest::{counter, Outcome, Scenario};

struct Pessimistic;

impl Scenario for Pessimistic {
    fn setup() -> Outcome {
        counter::setup()
    }

    fn run() -> Outcome {
        counter::run(|map, key| {
            let guard = map.lock(key)?;
            let value = counter::read(map, key)?;
            counter::write(|| map.set(key, (value + 1) as i32), |_| true)?;
            guard.unlock()?;
            Ok(())
        })
    }

    fn verify() -> Outcome {
        counter::verify(true)
    }
}

hzlab_guest::scenario!(Pessimistic);
