//! Increments one key with get + put and no lock, in every instance at once: updates are lost
//! when two instances read the same value.

use hzlab_guest::{counter, runtime, Outcome, Scenario};

struct Race;

impl Scenario for Race {
    fn setup() -> Outcome {
        counter::setup()
    }

    fn run() -> Outcome {
        let (map, key) = counter::target();
        let iterations = counter::iterations();
        for _ in 0..iterations {
            let value = counter::read(&map, &key)?;
            map.set(&key, (value + 1) as i32)?;
        }
        runtime::count("increments", iterations as i64);
        Ok(())
    }

    fn verify() -> Outcome {
        counter::verify(false)
    }
}

hzlab_guest::scenario!(Race);
