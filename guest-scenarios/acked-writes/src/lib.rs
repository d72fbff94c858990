//! Writes keys `first`..`first + keys - 1` into a map, each key's value being the key itself
//! (as `populate`, so `count` reads them back), and counts what the cluster acknowledged
//! (`acked`) and what it refused (`refused`): unlike `populate` it goes on after a refused
//! write, so that a run across a network partition says how many writes each side took. The
//! first refusal's error is logged (e.g. a split-brain protection's). Instance i writes the
//! keys k with (k - first) % n == i.
//!
//! Arguments: `map` (default `distributed-map`), `keys` (default 1000), `first` (default 0),
//! `clear` (default false: empty the map in setup).
//!
//! Iteration form (`--iterations`, `--duration`, `--rate`): iteration `i` writes the key
//! `first + i % keys`; a refused write is counted and the iteration still completes.

use hzlab_guest::{describe, runtime, Map, Outcome, Scenario};

struct AckedWrites;

fn map() -> Map {
    Map::new(runtime::arg("map").unwrap_or_else(|| "distributed-map".into()))
}

impl Scenario for AckedWrites {
    fn setup() -> Outcome {
        if runtime::arg_or("clear", false) {
            map().clear()?;
        }
        Ok(())
    }

    fn run() -> Outcome {
        let map = map();
        let keys: i32 = runtime::arg_or("keys", 1000);
        let first: i32 = runtime::arg_or("first", 0);
        let (index, instances) = (runtime::index() as i32, runtime::instances() as i32);
        let (mut acked, mut refused) = (0, 0);
        for key in (first + index..first + keys).step_by(instances as usize) {
            match map.set(key, key) {
                Ok(()) => acked += 1,
                Err(e) => {
                    if refused == 0 {
                        runtime::warn(&format!("write of key {key} refused: {}", describe(&e)));
                        runtime::record("first-refusal", describe(&e));
                    }
                    refused += 1;
                }
            }
        }
        runtime::count("acked", acked);
        runtime::count("refused", refused);
        Ok(())
    }

    fn iteration(index: u64) -> Outcome {
        let keys: i64 = runtime::arg_or("keys", 1000i64).max(1);
        let first: i64 = runtime::arg_or("first", 0);
        let key = (first + index as i64 % keys) as i32;
        match map().set(key, key) {
            Ok(()) => runtime::count("acked", 1),
            Err(e) => {
                if runtime::total("refused") == 0 {
                    runtime::record("first-refusal", describe(&e));
                }
                runtime::count("refused", 1);
            }
        }
        Ok(())
    }

    fn verify() -> Outcome {
        runtime::record("acked", runtime::total("acked"));
        runtime::record("refused", runtime::total("refused"));
        Ok(())
    }
}

hzlab_guest::scenario!(AckedWrites);
