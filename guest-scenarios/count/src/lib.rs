//! Reads keys 0..keys-1 back from a map and counts how many are present, missing, or hold a
//! value other than the key (as `populate` wrote them). Instance i reads the keys k with
//! k % n == i.
//!
//! Arguments: `map` (default `distributed-map`), `keys` (default 1000), `expect-present`
//! (optional: check that exactly this many keys are present).
//!
//! Iteration form (`--iterations`, `--duration`, `--rate`): iteration `i` reads the key
//! `i % keys`; `present`, `missing` and `wrong` then count reads, not keys (`expect-present`
//! does not apply).

use hzlab_guest::{runtime, Map, Outcome, Scenario};

struct Count;

fn read(map: &Map, key: i32) -> Result<&'static str, String> {
    Ok(match map.get(key)? {
        Some(v) if v.as_i64() == Some(key as i64) => "present",
        Some(_) => "wrong",
        None => "missing",
    })
}

impl Scenario for Count {
    fn iteration(index: u64) -> Outcome {
        let map = Map::new(runtime::arg("map").unwrap_or_else(|| "distributed-map".into()));
        let keys: u64 = runtime::arg_or("keys", 1000u64).max(1);
        runtime::count(read(&map, (index % keys) as i32)?, 1);
        runtime::count("reads", 1);
        Ok(())
    }

    fn run() -> Outcome {
        let map = Map::new(runtime::arg("map").unwrap_or_else(|| "distributed-map".into()));
        let keys: i32 = runtime::arg_or("keys", 1000);
        let (index, instances) = (runtime::index() as i32, runtime::instances() as i32);
        let (mut present, mut missing, mut wrong) = (0, 0, 0);
        for key in (index..keys).step_by(instances as usize) {
            match map.get(key)? {
                Some(v) if v.as_i64() == Some(key as i64) => present += 1,
                Some(_) => wrong += 1,
                None => missing += 1,
            }
        }
        runtime::count("present", present);
        runtime::count("missing", missing);
        runtime::count("wrong", wrong);
        Ok(())
    }

    fn verify() -> Outcome {
        let (present, missing, wrong) = (
            runtime::total("present"),
            runtime::total("missing"),
            runtime::total("wrong"),
        );
        runtime::record("present", present);
        runtime::record("missing", missing);
        runtime::check(
            "values-intact",
            wrong == 0,
            format!("{wrong} keys hold a value other than the key"),
        );
        let iteration_form = runtime::total("reads") > 0;
        if let Some(expected) = runtime::arg("expect-present").filter(|_| !iteration_form) {
            let expected: i64 = expected
                .parse()
                .map_err(|_| format!("expect-present={expected:?} is not a number"))?;
            runtime::check(
                "expected-present",
                present == expected,
                format!("{present} present, expected {expected}"),
            );
        }
        Ok(())
    }
}

hzlab_guest::scenario!(Count);
