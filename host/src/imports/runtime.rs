//! `hzlab:scenario/runtime`: identity, arguments, logs and records.
//!
//! What a guest makes the host keep (recorded values and their names, counter names, kept log
//! lines, checks) counts against the instance's host-side cap; the call that would pass it
//! traps, and the instance fails with "recorded more than N bytes".

use std::time::Duration;

use super::convert::value_to_json;
use super::InstanceState;
use crate::backend::Session;
use crate::bindings::hzlab::scenario::runtime::{Host, Level};
use crate::bindings::WitValue;
use crate::limits::ENTRY_OVERHEAD;
use crate::results::{millis, Check, LogLine};

/// Longest a single `sleep-ms` may wait; the instance's time budget still applies.
const MAX_SLEEP: Duration = Duration::from_secs(3600);

fn level_name(level: Level) -> &'static str {
    match level {
        Level::Debug => "debug",
        Level::Info => "info",
        Level::Warn => "warn",
        Level::Error => "error",
    }
}

/// Bytes a recorded value takes in the host (as [`crate::results::kept_size`] counts its
/// JSON form), known before it is converted.
fn wit_size(v: &WitValue) -> usize {
    match v {
        WitValue::String(s) => s.len(),
        // `0x` and two hex digits per byte.
        WitValue::Bytes(b) => b.len().saturating_mul(2).saturating_add(2),
        _ => 8,
    }
}

impl<S: Session> InstanceState<S> {
    /// Counts `more` bytes kept (and `less` released) against the host-side cap; past it, a
    /// trap that stops the instance.
    fn keep(&mut self, more: usize, less: usize) -> wasmtime::Result<()> {
        self.limits.keep(more, less).map_err(wasmtime::Error::from)
    }
}

impl<S: Session> Host for InstanceState<S> {
    async fn instance_index(&mut self) -> wasmtime::Result<u32> {
        Ok(self.index)
    }

    async fn instance_count(&mut self) -> wasmtime::Result<u32> {
        Ok(self.scenario.instance_count)
    }

    async fn arg(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        Ok(self
            .run
            .args
            .iter()
            .rev()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.clone()))
    }

    async fn args(&mut self) -> wasmtime::Result<Vec<(String, String)>> {
        Ok(self.run.args.clone())
    }

    async fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        let instance = self.record_target();
        if self.run.echo_logs {
            let who = match instance {
                Some(i) => format!("{}#{i}", self.scenario.name),
                None => format!("{}:{:?}", self.scenario.name, self.phase).to_lowercase(),
            };
            let line = format!("[{who}] {}: {message}", level_name(level));
            self.run.progress.echo(&line);
        }
        // Only lines the scenario keeps (see `Recorder::log`) count.
        if !self.scenario.recorder.log_fits(message.len()) {
            self.scenario.recorder.drop_log();
            return Ok(());
        }
        self.keep(message.len().saturating_add(ENTRY_OVERHEAD), 0)?;
        self.scenario.recorder.log(LogLine {
            at_ms: millis(self.run.started.elapsed()),
            phase: self.phase,
            instance,
            level: level_name(level),
            message,
        });
        Ok(())
    }

    async fn record(&mut self, name: String, value: WitValue) -> wasmtime::Result<()> {
        let target = self.record_target();
        let old = self
            .scenario
            .recorder
            .recorded_size(target, &name)
            .map_or(0, |v| v + name.len() + ENTRY_OVERHEAD);
        self.keep(wit_size(&value) + name.len() + ENTRY_OVERHEAD, old)?;
        self.scenario
            .recorder
            .record(target, name, value_to_json(&value));
        Ok(())
    }

    async fn count(&mut self, name: String, delta: i64) -> wasmtime::Result<()> {
        let target = self.record_target();
        if !self.scenario.recorder.has_counter(target, &name) {
            self.keep(name.len() + ENTRY_OVERHEAD, 0)?;
        }
        self.scenario.recorder.count(target, name, delta);
        Ok(())
    }

    async fn total(&mut self, name: String) -> wasmtime::Result<i64> {
        Ok(self.scenario.recorder.total(&name))
    }

    async fn check(&mut self, name: String, ok: bool, detail: String) -> wasmtime::Result<()> {
        let instance = self.record_target();
        self.keep(name.len() + detail.len() + ENTRY_OVERHEAD, 0)?;
        self.scenario.recorder.check(Check {
            name,
            ok,
            detail,
            instance,
        });
        Ok(())
    }

    async fn now_ns(&mut self) -> wasmtime::Result<u64> {
        Ok(self.run.started.elapsed().as_nanos() as u64)
    }

    async fn sleep_ms(&mut self, ms: u64) -> wasmtime::Result<()> {
        tokio::time::sleep(Duration::from_millis(ms).min(MAX_SLEEP)).await;
        Ok(())
    }
}
