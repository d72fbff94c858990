//! Takes items from a queue until every producer is done and the queue is empty. Each item it
//! takes is logged in a map beside the queue (item -> consumer); finding an item already
//! logged counts a duplicate. Verify checks that every item was consumed exactly once.
//!
//! The stop condition needs no poison pill: a consumer reads "all producers done" *before*
//! polling, so an empty poll after that means no item is left or still coming.
//!
//! Arguments: see `hzlab_guest::pipeline`; plus `poll-ms` (how long one poll waits, default
//! 100).
//!
//! Iteration form (`--iterations`, `--duration`, `--rate`): each iteration polls once (up to
//! `poll-ms`) and logs the item it takes; verify then checks that no item was taken twice
//! (items still in the queue at the end are counted in `left`, not failed).

use hzlab_guest::{pipeline, runtime, Outcome, Scenario, Value};

struct Consumer;

impl Scenario for Consumer {
    fn setup() -> Outcome {
        pipeline::consumed().clear()?;
        Ok(())
    }

    fn run() -> Outcome {
        let queue = pipeline::queue();
        let consumed = pipeline::consumed();
        let poll_ms: u64 = runtime::arg_or("poll-ms", 100);
        let me = runtime::index() as i32;
        let mut got = Vec::new();
        loop {
            let done = pipeline::producers_done()?;
            match queue.poll_timeout(poll_ms)? {
                Some(item) => {
                    if consumed.put(&item, me)?.is_some() {
                        runtime::count("duplicates", 1);
                    }
                    if let Value::Int(i) = item {
                        got.push(i.to_string());
                    }
                }
                None if done => break,
                None => {}
            }
        }
        runtime::count("consumed", got.len() as i64);
        runtime::record("items", got.join(","));
        Ok(())
    }

    fn iteration(_index: u64) -> Outcome {
        let poll_ms: u64 = runtime::arg_or("poll-ms", 100);
        runtime::count("iteration-polls", 1);
        if let Some(item) = pipeline::queue().poll_timeout(poll_ms)? {
            if pipeline::consumed()
                .put(&item, runtime::index() as i32)?
                .is_some()
            {
                runtime::count("duplicates", 1);
            }
            runtime::count("consumed", 1);
        }
        Ok(())
    }

    fn verify() -> Outcome {
        let expected = pipeline::items() as i64 * pipeline::producers() as i64;
        let distinct = pipeline::consumed().size()? as i64;
        let (consumed, duplicates) = (runtime::total("consumed"), runtime::total("duplicates"));
        runtime::record("consumed", consumed);
        runtime::record("consumed-once", distinct);
        runtime::record("duplicates", duplicates);
        if runtime::total("iteration-polls") > 0 {
            runtime::record("left", pipeline::queue().size()? as i64);
            runtime::check(
                "each-item-once",
                distinct == consumed && duplicates == 0,
                format!("{consumed} taken, {distinct} distinct, {duplicates} duplicates"),
            );
            return Ok(());
        }
        runtime::check(
            "each-item-once",
            distinct == expected && consumed == expected && duplicates == 0,
            format!("{consumed} taken, {distinct} distinct of {expected}, {duplicates} duplicates"),
        );
        Ok(())
    }
}

hzlab_guest::scenario!(Consumer);
