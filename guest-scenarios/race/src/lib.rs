//! Increments one key with get + put and no lock, in every instance at once: updates are lost
//! when two instances read the same value.

use hzlab_guest::{counter, Map, Outcome, Scenario, Value};

struct Race;

fn increment(map: &Map, key: &Value) -> Result<(), String> {
    let value = counter::read(map, key)?;
    counter::write(|| map.set(key, (value + 1) as i32), |_| true)?;
    Ok(())
}

impl Scenario for Race {
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
        counter::verify(false)
    }
}

hzlab_guest::scenario!(Race);
