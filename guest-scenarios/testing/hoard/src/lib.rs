//! Makes the host keep `mib` MiB (default 100), `chunk-kib` KiB (default 1024) at a time, each
//! under a name of its own: as recorded values (`kind=record`, the default), check details
//! (`check`), log lines (`log`) or counter names (`counter`, one counter per chunk, its name
//! the chunk). With `same-name=true` every chunk is recorded under one name (each replaces
//! the one before). Counts the KiB the host accepted in `kib`.

use hzlab_guest::{runtime, Outcome, Scenario};

struct Hoard;

impl Scenario for Hoard {
    fn run() -> Outcome {
        let mib: u64 = runtime::arg_or("mib", 100);
        let chunk_kib: u64 = runtime::arg_or("chunk-kib", 1024);
        let kind = runtime::arg_str("kind", "record");
        let same_name: bool = runtime::arg_or("same-name", false);
        let chunks = (mib * 1024).div_ceil(chunk_kib.max(1));
        let text = "x".repeat((chunk_kib * 1024) as usize);
        for i in 0..chunks {
            let name = if same_name {
                "chunk".to_owned()
            } else {
                format!("chunk-{i}")
            };
            match kind.as_str() {
                "record" => runtime::record(&name, text.as_str()),
                "check" => {
                    runtime::check(&name, true, &text);
                }
                "log" => runtime::info(&text),
                "counter" => runtime::count(&format!("{name}-{text}"), 1),
                other => return Err(format!("unknown kind `{other}`")),
            }
            runtime::count("kib", chunk_kib as i64);
        }
        Ok(())
    }
}

hzlab_guest::scenario!(Hoard);
