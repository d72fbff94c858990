#![no_main]
//! History lines through the reader (`hzlab::history::read_from`, what `hzlab run --history`
//! files are read with) and the checker (`hzlab::history::check`).

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(events) = hzlab::history::read_from(Path::new("history.jsonl"), data) else {
        return;
    };
    // A budget well inside libFuzzer's 1 s timeout: a hard history must end undecided, in
    // time, not hang.
    let models = hzlab::history::Models {
        budget: hzlab::history::Budget {
            time: std::time::Duration::from_millis(200),
            max_states: 1_000_000,
        },
        ..Default::default()
    };
    let check = hzlab::history::check_with(&events, &models);
    let _ = check.clean();
    let _ = serde_json::to_string(&check);
});
