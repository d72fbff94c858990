//! Increments one key optimistically: read it, then `replace-if-same` with the value read,
//! retried whenever another instance wrote in between.

use hzlab_guest::{counter, runtime, Map, Outcome, Scenario, Value};

struct Optimistic;

/// One increment, retried until no other writer came in between.
fn increment(map: &Map, key: &Value) -> Result<(), String> {
    loop {
        let current = map.get(key)?;
        let next = Value::Int(current.as_ref().and_then(Value::as_i64).unwrap_or(0) as i32 + 1);
        let applied = match current {
            Some(old) => counter::write(|| map.replace_if_same(key, old, &next), |ok| *ok)?,
            None => counter::write(|| map.put_if_absent(key, &next), Option::is_none)?.is_none(),
        };
        if applied {
            return Ok(());
        }
        runtime::count("retries", 1);
    }
}

impl Scenario for Optimistic {
    fn setup() -> Outcome {
        counter::setup()
    }

    fn run() -> Outcome {
        runtime::count("retries", 0);
        counter::run(increment)
    }

    fn iteration(_index: u64) -> Outcome {
        counter::iteration(increment)
    }

    fn verify() -> Outcome {
        runtime::record("retries", runtime::total("retries"));
        counter::verify(true)
    }
}

hzlab_guest::scenario!(Optimistic);
