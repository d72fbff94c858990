//! Figures over time: per interval (1 s by default) of a step, each scenario's iterations
//! started, completed, failed and dropped, their latency, and each operation's count, failures
//! and latency percentiles.
//!
//! Instances record into one accumulator per scenario for the current interval, under a lock
//! held for a few additions; the first record of a later interval closes the current one
//! into its figures (percentiles), and intervals in which nothing happened are kept as
//! zeros, so that a stall (a partition, a pause) shows as a gap. Memory stays bounded: only
//! the open interval keeps histograms. A record is filed under the interval in which it was
//! made (an operation under the one it ended in).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use serde::Serialize;

use crate::latency::{Histogram, LatencyStats, OpKind, OpLatencies, Stamp};
use crate::progress::Progress;

/// The default interval.
pub const INTERVAL: Duration = Duration::from_secs(1);

/// Iterations of one interval.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct IterationCounts {
    pub started: u64,
    /// Ended without an error.
    pub completed: u64,
    pub failed: u64,
    /// Open models: due, but no instance was free.
    pub dropped: u64,
}

/// One operation kind within an interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct OpInterval {
    pub failed: u64,
    #[serde(flatten)]
    pub latency: LatencyStats,
}

/// The figures of one interval.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Interval {
    /// Start of the interval, seconds from the step's start (the clock of its faults).
    pub t_s: f64,
    /// Its length (the last one may be shorter).
    pub secs: f64,
    pub iterations: IterationCounts,
    /// Iteration latency from the intended start (open models; else from the start).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<LatencyStats>,
    /// Iteration latency from the actual start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<LatencyStats>,
    pub ops: BTreeMap<&'static str, OpInterval>,
}

#[derive(Default)]
struct Open {
    index: u64,
    iterations: IterationCounts,
    response: Histogram,
    service: Histogram,
    ops: OpLatencies,
    failed: [u64; OpKind::COUNT],
}

struct Inner {
    open: Open,
    closed: Vec<Interval>,
}

/// A scenario's figures over time in one step.
pub struct Series {
    interval_ns: u64,
    origin: OnceLock<Stamp>,
    inner: Mutex<Inner>,
    /// Told each interval's p99 as it ends, for a live display.
    progress: Option<Arc<Progress>>,
    /// The window the step's totals count (a trim's), from the start: from, to (ns).
    window: Option<(u64, u64)>,
}

impl std::fmt::Debug for Series {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Series")
            .field("interval_ns", &self.interval_ns)
            .finish_non_exhaustive()
    }
}

impl Default for Series {
    fn default() -> Self {
        Series::new(INTERVAL)
    }
}

impl Series {
    pub fn new(interval: Duration) -> Series {
        Series {
            interval_ns: (interval.as_nanos() as u64).max(1_000_000),
            origin: OnceLock::new(),
            inner: Mutex::new(Inner {
                open: Open::default(),
                closed: Vec::new(),
            }),
            progress: None,
            window: None,
        }
    }

    /// Totals count only what ends between `from` and `to` after the start (see
    /// [`crate::executor::Trim`]).
    pub fn measuring(mut self, window: Option<(Duration, Duration)>) -> Series {
        self.window = window.map(|(a, b)| (a.as_nanos() as u64, b.as_nanos() as u64));
        self
    }

    /// The measured window, in seconds from the start, when the totals are trimmed.
    pub fn window_s(&self) -> Option<[f64; 2]> {
        self.window
            .map(|(a, b)| [round6(a as f64 / 1e9), round6(b as f64 / 1e9)])
    }

    /// Whether a record made at `at` counts in the step's totals: always without a trim;
    /// with one, only inside its window (never before the start).
    #[inline]
    pub fn measured(&self, at: Stamp) -> bool {
        let Some((from, to)) = self.window else {
            return true;
        };
        let Some(origin) = self.origin.get() else {
            return false;
        };
        let t = at.nanos_since(*origin);
        (from..=to).contains(&t)
    }

    /// Tells `progress` the p99 of each interval as it ends ([`Progress::interval_ended`]).
    pub fn publishing_to(mut self, progress: Arc<Progress>) -> Series {
        self.progress = Some(progress);
        self
    }

    /// Starts the clock (the step's run phase began); records before it are ignored.
    pub fn start(&self, at: Stamp) {
        let _ = self.origin.set(at);
    }

    fn index(&self, at: Stamp) -> Option<u64> {
        let origin = *self.origin.get()?;
        Some(at.nanos_since(origin) / self.interval_ns)
    }

    /// Runs `f` on the open interval that `at` falls in, closing earlier ones first.
    #[inline]
    fn with(&self, at: Stamp, f: impl FnOnce(&mut Open)) {
        let Some(index) = self.index(at) else {
            return;
        };
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if index > inner.open.index {
            let interval_ns = self.interval_ns;
            inner.close_until(index, interval_ns);
            if let (Some(p), Some(last)) = (&self.progress, inner.closed.last()) {
                p.interval_ended(inner.closed.len() as u64 - 1, last.p99_us());
            }
        }
        f(&mut inner.open);
    }

    /// An operation that ended at `end` after `ns`.
    #[inline]
    pub fn op(&self, kind: OpKind, end: Stamp, ns: u64, failed: bool) {
        self.with(end, |o| {
            o.ops.record(kind, ns);
            o.failed[kind as usize] += failed as u64;
        });
    }

    pub fn iteration_started(&self, at: Stamp) {
        self.with(at, |o| o.iterations.started += 1);
    }

    /// An iteration that ended at `end`: its response time (from the intended start) and
    /// service time (from the actual start).
    pub fn iteration_ended(&self, end: Stamp, response_ns: u64, service_ns: u64, ok: bool) {
        self.with(end, |o| {
            if ok {
                o.iterations.completed += 1;
            } else {
                o.iterations.failed += 1;
            }
            o.response.record(response_ns);
            o.service.record(service_ns);
        });
    }

    /// An iteration due at `at` that found no free instance.
    pub fn dropped(&self, at: Stamp) {
        self.with(at, |o| o.iterations.dropped += 1);
    }

    /// Closes the open interval at `end` and returns every interval.
    pub fn finish(&self, end: Stamp) -> Vec<Interval> {
        let Some(origin) = self.origin.get().copied() else {
            return Vec::new();
        };
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let elapsed = end.nanos_since(origin);
        let last = inner.open.index;
        let index = (elapsed / self.interval_ns).max(last);
        let interval_ns = self.interval_ns;
        inner.close_until(index, interval_ns);
        // The open one, ending at `end`.
        let open = std::mem::take(&mut inner.open);
        let secs = (elapsed.saturating_sub(index * interval_ns)) as f64 / 1e9;
        if secs > 0.0 || !open.is_empty() {
            let mut interval = open.close(interval_ns);
            interval.secs = round6(secs.max(1e-6));
            inner.closed.push(interval);
        }
        std::mem::take(&mut inner.closed)
    }
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

impl Interval {
    /// Its p99 in µs: of the iterations' response time where it has iterations, else of
    /// its slowest operation; `None` when nothing ended in it.
    pub fn p99_us(&self) -> Option<f64> {
        self.response
            .map(|r| r.p99_us)
            .or_else(|| self.ops.values().map(|o| o.latency.p99_us).reduce(f64::max))
    }
}

impl Open {
    fn is_empty(&self) -> bool {
        self.iterations == IterationCounts::default()
            && OpKind::ALL.iter().all(|k| self.ops.get(*k).is_empty())
    }

    fn close(&self, interval_ns: u64) -> Interval {
        let stats = |h: &Histogram| (!h.is_empty()).then(|| h.stats());
        Interval {
            t_s: round6((self.index * interval_ns) as f64 / 1e9),
            secs: round6(interval_ns as f64 / 1e9),
            iterations: self.iterations,
            response: stats(&self.response),
            service: stats(&self.service),
            ops: OpKind::ALL
                .iter()
                .filter(|k| !self.ops.get(**k).is_empty())
                .map(|k| {
                    (
                        k.name(),
                        OpInterval {
                            failed: self.failed[*k as usize],
                            latency: self.ops.get(*k).stats(),
                        },
                    )
                })
                .collect(),
        }
    }
}

impl Inner {
    /// Closes the open interval and any empty ones after it, up to `index` (then open).
    fn close_until(&mut self, index: u64, interval_ns: u64) {
        while self.open.index < index {
            let next = self.open.index + 1;
            let done = std::mem::take(&mut self.open);
            self.closed.push(done.close(interval_ns));
            self.open.index = next;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ended_interval_tells_the_display_its_p99() {
        let progress = Arc::new(Progress::default());
        let s = Series::new(Duration::from_millis(10)).publishing_to(progress.clone());
        s.start(Stamp::now());
        s.iteration_ended(Stamp::now(), 800_000, 700_000, true);
        assert_eq!(progress.live().p99_us, None, "the interval is still open");
        std::thread::sleep(Duration::from_millis(12));
        s.op(OpKind::MapGet, Stamp::now(), 1_000, false);
        let p99 = progress
            .live()
            .p99_us
            .expect("published when the interval ended");
        assert!((790.0..=810.0).contains(&p99), "{p99}");
    }

    #[test]
    fn records_fall_into_their_intervals_and_gaps_are_kept() {
        let s = Series::new(Duration::from_millis(10));
        let origin = Stamp::now();
        s.start(origin);
        // Interval 0: two gets, one failed.
        s.op(OpKind::MapGet, Stamp::now(), 1_000, false);
        s.op(OpKind::MapGet, Stamp::now(), 3_000, true);
        s.iteration_started(Stamp::now());
        s.iteration_ended(Stamp::now(), 5_000, 4_000, true);
        // Nothing for three intervals, then a put.
        std::thread::sleep(Duration::from_millis(35));
        s.op(OpKind::MapPut, Stamp::now(), 2_000, false);
        s.dropped(Stamp::now());
        let all = s.finish(Stamp::now());
        assert!(all.len() >= 4, "{all:#?}");
        let first = &all[0];
        assert_eq!(first.t_s, 0.0);
        assert_eq!(first.ops["map.get"].latency.count, 2);
        assert_eq!(first.ops["map.get"].failed, 1);
        assert_eq!(first.iterations.completed, 1);
        assert_eq!(first.response.unwrap().count, 1);
        assert!(all[1].ops.is_empty() && all[1].iterations == IterationCounts::default());
        let last = all.last().unwrap();
        assert_eq!(last.ops["map.put"].latency.count, 1);
        assert_eq!(last.iterations.dropped, 1);
        // Intervals follow each other without holes.
        for w in all.windows(2) {
            assert!((w[1].t_s - w[0].t_s - 0.01).abs() < 1e-9, "{all:#?}");
        }
    }

    #[test]
    fn nothing_is_recorded_before_the_start() {
        let s = Series::new(Duration::from_millis(10));
        s.op(OpKind::MapGet, Stamp::now(), 1_000, false);
        assert!(s.finish(Stamp::now()).is_empty());
    }
}
