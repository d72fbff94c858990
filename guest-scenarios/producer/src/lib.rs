//! Puts items 1..items into a bounded queue (producer i puts i*items+1 ..= (i+1)*items).
//! Before each put it offers without waiting: a refused offer means the queue was full, and
//! the put that follows blocks until a consumer makes room. It counts `full` (puts that found
//! the queue full) and `blocked-ns` (time spent waiting for room).
//!
//! Arguments: see `hzlab_guest::pipeline`; plus `give-up-ms` (optional: stop when one put has
//! waited this long, recording the item in `blocked-at`: the seed's "queue full, nobody
//! reading" case).
//!
//! Iteration form (`--iterations`, `--duration`, `--rate`): iteration `i` adds the item
//! `i + 1` the same way (an offer, then a put that waits for room when the queue is full);
//! no "done" flag is set, so pair it with `consumer` in its iteration form.

use hzlab_guest::{pipeline, runtime, Outcome, Scenario};

struct Producer;

impl Scenario for Producer {
    fn setup() -> Outcome {
        let state = pipeline::state();
        state.clear()?;
        let queue = pipeline::queue();
        while queue.poll()?.is_some() {}
        Ok(())
    }

    fn run() -> Outcome {
        let queue = pipeline::queue();
        let items = pipeline::items();
        let give_up_ms: Option<u64> = runtime::arg("give-up-ms")
            .map(|v| {
                v.parse()
                    .map_err(|_| format!("give-up-ms={v:?} is not a number"))
            })
            .transpose()?;
        let first = runtime::index() as i32 * items + 1;
        let (mut produced, mut full, mut blocked_ns) = (0i64, 0i64, 0u64);
        for item in first..first + items {
            if !queue.offer(item)? {
                full += 1;
                let started = runtime::now_ns();
                let added = match give_up_ms {
                    Some(ms) => queue.offer_timeout(item, ms)?,
                    None => {
                        queue.put(item)?;
                        true
                    }
                };
                blocked_ns += runtime::now_ns() - started;
                if !added {
                    runtime::record("blocked-at", item);
                    runtime::record("queue-size", queue.size()? as i64);
                    break;
                }
            }
            produced += 1;
        }
        runtime::count("produced", produced);
        runtime::count("full", full);
        runtime::count("blocked-ns", blocked_ns as i64);
        pipeline::state().set(pipeline::done_key(runtime::index()), true)?;
        Ok(())
    }

    fn iteration(index: u64) -> Outcome {
        let queue = pipeline::queue();
        let item =
            i32::try_from(index + 1).map_err(|_| format!("item {} is past i32", index + 1))?;
        if !queue.offer(item)? {
            runtime::count("full", 1);
            let started = runtime::now_ns();
            queue.put(item)?;
            runtime::count("blocked-ns", (runtime::now_ns() - started) as i64);
        }
        runtime::count("produced", 1);
        runtime::count("iteration-produced", 1);
        Ok(())
    }

    fn verify() -> Outcome {
        let expected = pipeline::items() as i64 * runtime::instances() as i64;
        let produced = runtime::total("produced");
        runtime::record("produced", produced);
        runtime::record("full", runtime::total("full"));
        let iteration_form = runtime::total("iteration-produced") > 0;
        if runtime::arg("give-up-ms").is_none() && !iteration_form {
            runtime::check(
                "all-produced",
                produced == expected,
                format!("produced {produced} of {expected} items"),
            );
        }
        Ok(())
    }
}

hzlab_guest::scenario!(Producer);
