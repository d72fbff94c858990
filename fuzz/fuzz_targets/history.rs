#![no_main]
//! History lines through the reader (`hzlab::history::read_from`, what `hzlab run --history`
//! files are read with) and the checker (`hzlab::history::check`).

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(events) = hzlab::history::read_from(Path::new("history.jsonl"), data) else {
        return;
    };
    let check = hzlab::history::check(&events);
    let _ = check.clean();
    let _ = serde_json::to_string(&check);
});
