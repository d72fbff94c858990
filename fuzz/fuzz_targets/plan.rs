#![no_main]
//! Plan text through parsing and validation (`hzlab::plan::Plan::parse`, what `hzlab check`
//! and `hzlab run PLAN` do before anything runs).
//!
//! The plan sits in a temporary folder holding one scenario file, `a.wasm`, so that relative
//! scenario paths resolve. Inputs naming a path under /dev, /proc or /sys are skipped: reading
//! a scenario from `/dev/zero` would never end, which is the file size limit's business, not
//! the parser's.

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

fn plan_path() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("hzlab-fuzz-plan-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("creating the plan folder");
        std::fs::write(dir.join("a.wasm"), b"\0asm\x0d\0\x01\0").expect("writing a.wasm");
        dir.join("plan.toml")
    })
}

/// Whether any string of the document names a special file system.
fn names_special_files(v: &toml::Value) -> bool {
    match v {
        toml::Value::String(s) => ["dev", "proc", "sys"].iter().any(|d| s.contains(d)),
        toml::Value::Array(a) => a.iter().any(names_special_files),
        toml::Value::Table(t) => t.iter().any(|(k, v)| {
            ["dev", "proc", "sys"].iter().any(|d| k.contains(d)) || names_special_files(v)
        }),
        _ => false,
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(doc) = text.parse::<toml::Table>() {
        if names_special_files(&toml::Value::Table(doc)) {
            return;
        }
    }
    if let Ok(plan) = hzlab::plan::Plan::parse(plan_path(), text) {
        for case in &plan.cases {
            for step in &case.steps {
                let _ = (step.line, step.label.len(), step.map.len());
            }
            for check in &case.checks {
                let _ = check.expr.to_string();
                let _ = check
                    .expr
                    .evaluate(|label, name| Some((label.len() + name.len()) as f64));
            }
        }
    }
});
