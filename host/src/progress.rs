//! What a run reports while it goes on: live counts a progress display reads, and the
//! interrupt that stops it.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;

use crate::interrupt::Interrupt;

/// Live counts a progress display can read while the run goes on.
#[derive(Debug, Default)]
pub struct Progress {
    pub ops: AtomicU64,
    /// Iterations ended (iteration executors), and due iterations dropped (open models).
    pub iterations: AtomicU64,
    pub dropped: AtomicU64,
    pub instances_total: AtomicU32,
    pub instances_done: AtomicU32,
    /// 0 before the run phase, 1 during it, 2 after.
    pub stage: AtomicU32,
    /// What runs, for a display (a plan's case and step); empty for a single run.
    pub label: Mutex<String>,
    /// Notified when `stage` becomes 1 (setup is done; the step's instances start).
    pub instances_started: tokio::sync::Notify,
    /// Notified when `stage` becomes 2 (every instance of the step has ended).
    pub instances_ended: tokio::sync::Notify,
    /// Raised to stop the run (Ctrl-C): see [`crate::interrupt`].
    pub interrupt: Interrupt,
    /// The open model's rate now (f64 bits; 0: none).
    target_rate: AtomicU64,
    live: Mutex<Live>,
    /// Where guest log lines go (a display that keeps its line below them); stderr if unset.
    echo: std::sync::OnceLock<LogSink>,
}

/// A function that shows one guest log line.
struct LogSink(Box<dyn Fn(&str) + Send + Sync>);

impl std::fmt::Debug for LogSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LogSink")
    }
}

/// The step under way, as a display shows it beside the counts.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Live {
    /// The step's executor (`shared-iterations`, `constant-arrival-rate`, ...); `None` when
    /// every instance runs once.
    pub executor: Option<&'static str>,
    /// p99 latency of the last interval of the series that ended (µs): iteration response
    /// time where the step has iterations, else the slowest operation's; `None` when nothing
    /// ended in it.
    pub p99_us: Option<f64>,
    /// Which interval `p99_us` is of (several scenarios publish theirs: the largest wins).
    interval: u64,
}

impl Progress {
    /// Names what runs from now on.
    pub fn set_label(&self, label: String) {
        *self.label.lock().unwrap_or_else(|e| e.into_inner()) = label;
    }

    /// What [`Progress::set_label`] last said.
    pub fn label(&self) -> String {
        self.label.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// A new step begins, with the executor of its scenarios.
    pub fn begin_step(&self, executor: Option<&'static str>) {
        *self.live.lock().unwrap_or_else(|e| e.into_inner()) = Live {
            executor,
            ..Live::default()
        };
        self.target_rate.store(0, Ordering::Relaxed);
    }

    /// What the step under way shows.
    pub fn live(&self) -> Live {
        *self.live.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// An interval of a scenario's series ended, with its p99 in µs.
    pub fn interval_ended(&self, interval: u64, p99_us: Option<f64>) {
        let mut live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        if interval > live.interval {
            live.interval = interval;
            live.p99_us = p99_us;
        } else if interval == live.interval {
            live.p99_us = match (live.p99_us, p99_us) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
        }
    }

    /// The open model's intended rate now, in iterations per second.
    pub fn set_target_rate(&self, per_second: f64) {
        self.target_rate
            .store(per_second.max(0.0).to_bits(), Ordering::Relaxed);
    }

    /// What [`Progress::set_target_rate`] last said; `None` outside open models.
    pub fn target_rate(&self) -> Option<f64> {
        let bits = self.target_rate.load(Ordering::Relaxed);
        (bits != 0).then(|| f64::from_bits(bits))
    }

    /// Sends guest log lines to `sink` from now on (once; later calls are ignored).
    pub fn echo_to(&self, sink: Box<dyn Fn(&str) + Send + Sync>) {
        let _ = self.echo.set(LogSink(sink));
    }

    /// Shows a guest's log line: through the sink of [`Progress::echo_to`], else on stderr.
    pub fn echo(&self, line: &str) {
        match self.echo.get() {
            Some(sink) => (sink.0)(line),
            None => eprintln!("{line}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latest_interval_and_the_slowest_scenario_win() {
        let p = Progress::default();
        p.begin_step(Some("constant-arrival-rate"));
        p.interval_ended(0, Some(100.0));
        p.interval_ended(0, Some(300.0));
        p.interval_ended(0, None);
        assert_eq!(p.live().p99_us, Some(300.0));
        p.interval_ended(1, Some(50.0));
        assert_eq!(p.live().p99_us, Some(50.0));
        // A late scenario's earlier interval does not overwrite the newer one.
        p.interval_ended(0, Some(900.0));
        assert_eq!(p.live().p99_us, Some(50.0));
        assert_eq!(p.target_rate(), None);
        p.set_target_rate(2000.0);
        assert_eq!(p.target_rate(), Some(2000.0));
        p.begin_step(None);
        assert_eq!((p.target_rate(), p.live().executor), (None, None));
    }
}
