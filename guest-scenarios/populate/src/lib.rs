//! Writes keys 0..keys-1 into a map, each key's value being the key itself (both Integer, as
//! the official Python client writes them). Instance i writes the keys k with k % n == i.
//!
//! Arguments: `map` (default `distributed-map`), `keys` (default 1000), `clear` (default true:
//! empty the map in setup).
//!
//! Iteration form (`--iterations`, `--duration`, `--rate`): iteration `i` writes the key
//! `i % keys`. `all-written` then checks only that the map holds no more than `keys` keys:
//! which keys an open model's dropped iterations left out is not known to the scenario (read
//! them back with `count`).

use hzlab_guest::{runtime, Map, Outcome, Scenario};

struct Populate;

fn map() -> Map {
    Map::new(runtime::arg("map").unwrap_or_else(|| "distributed-map".into()))
}

impl Scenario for Populate {
    fn setup() -> Outcome {
        if runtime::arg_or("clear", true) {
            map().clear()?;
        }
        Ok(())
    }

    fn run() -> Outcome {
        let map = map();
        let keys: i32 = runtime::arg_or("keys", 1000);
        let (index, instances) = (runtime::index() as i32, runtime::instances() as i32);
        let mut written = 0;
        for key in (index..keys).step_by(instances as usize) {
            map.set(key, key)?;
            written += 1;
        }
        runtime::count("written", written);
        Ok(())
    }

    fn iteration(index: u64) -> Outcome {
        let keys: u64 = runtime::arg_or("keys", 1000u64).max(1);
        let key = (index % keys) as i32;
        map().set(key, key)?;
        runtime::count("written", 1);
        runtime::count("iteration-writes", 1);
        Ok(())
    }

    fn verify() -> Outcome {
        let keys: i64 = runtime::arg_or("keys", 1000);
        let size = map().size()? as i64;
        runtime::record("size", size);
        if runtime::total("iteration-writes") > 0 {
            let written = runtime::total("written");
            runtime::check(
                "all-written",
                size <= keys && (written == 0 || size > 0),
                format!("{written} writes of keys 0..{keys}, map size {size}"),
            );
            return Ok(());
        }
        runtime::check(
            "all-written",
            runtime::total("written") == keys && size >= keys,
            format!(
                "wrote {} of {keys} keys, map size {size}",
                runtime::total("written")
            ),
        );
        Ok(())
    }
}

hzlab_guest::scenario!(Populate);
