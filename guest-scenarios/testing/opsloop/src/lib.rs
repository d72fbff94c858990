//! Calls one map operation `ops` times in `run`, nothing else, so that the host's benchmark
//! (`host/benches/embedded.rs`) can time one operation through the guest boundary.
//!
//! Arguments: `op` (`get`, `put` or `none`: the loop alone), `ops` (default 100000), `map`
//! (default `bench`), `key` (a string, default `key`).

use hzlab_guest::{runtime, Map, Outcome, Scenario, Value};

struct OpsLoop;

impl Scenario for OpsLoop {
    fn setup() -> Outcome {
        let map = Map::new(runtime::arg("map").unwrap_or_else(|| "bench".into()));
        map.set(runtime::arg("key").unwrap_or_else(|| "key".into()), 0)?;
        Ok(())
    }

    fn run() -> Outcome {
        let map = Map::new(runtime::arg("map").unwrap_or_else(|| "bench".into()));
        let key = Value::String(runtime::arg("key").unwrap_or_else(|| "key".into()));
        let ops: i32 = runtime::arg_or("ops", 100_000);
        match runtime::arg("op").as_deref().unwrap_or("get") {
            "get" => {
                for _ in 0..ops {
                    std::hint::black_box(map.get(&key)?);
                }
            }
            "put" => {
                for i in 0..ops {
                    std::hint::black_box(map.put(&key, i)?);
                }
            }
            "none" => {
                for i in 0..ops {
                    std::hint::black_box(i);
                }
            }
            other => return Err(format!("op={other:?}: expected get, put or none")),
        }
        Ok(())
    }
}

hzlab_guest::scenario!(OpsLoop);
