//! Queue timelines: what a run's operations did to each queue, over time, so a report can show
//! the fill level and producer blocking over time whatever the scenarios are.
//!
//! The queue imports record, for every phase of every scenario (times are µs since the run
//! started, taken when the operation returned to the host):
//!
//! - `events[]` (`t_us`, `delta`, `scenario`, `instance`): `delta` is +1 for an offer that
//!   returned true or a put, −1 for a poll that returned an item or a take. Operations that
//!   failed (an error) are not recorded; `size` is not either.
//! - `full[]` (`t_us`, `scenario`, `instance`): an offer that returned false (the queue was
//!   full; with a timeout: still full when the timeout ran out).
//! - `blocked[]` (`start_us`, `end_us`, `scenario`, `instance`, `added`): a put or an offer
//!   with a timeout that had to wait for room: one that came right after the same instance's
//!   refused offer on that queue (its previous queue operation; the `producer` scenario's
//!   pattern), one that lasted at least [`BLOCKED_MIN_US`] (a put straight into a full queue
//!   on real members), and every offer with a timeout that ran out (`added` false). A put
//!   that needed no room but took 1 ms for other reasons (a slow member) counts too, so read
//!   `blocked` as "waited, most likely for room".
//! - `base`: the fewest items the queue must have held when the run started for the fill
//!   level never to go below 0 (0 on a fresh cluster, when every take follows its add).
//! - `dropped` and `complete_until_us`: at most [`MAX_EVENTS_PER_QUEUE`] entries (events,
//!   full and blocked together) are kept per queue and run; past that the timeline is cut at
//!   the first entry not kept: everything before `complete_until_us` is there, everything
//!   after it is counted in `dropped`.
//!
//! `instance` is absent for setup and verify. The fill level at a time is `base` plus the sum
//! of the `delta`s up to it, in the order the operations completed as the host saw them:
//! operations of concurrent instances that complete within microseconds of each other may be
//! seen in either order (on the embedded backend, whose instances share one thread, the
//! order is exact). At most [`MAX_QUEUES`] queues are followed per scenario; operations on
//! others are only counted (`queue_ops_untracked`).
//!
//! Recording is one clock read and a push into a vector under the scenario's lock per queue
//! operation; map, lock and replace operations do not pass through here.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde::{Serialize, Serializer};

/// Most entries kept per queue and run (events, refused offers and blocked waits together).
pub const MAX_EVENTS_PER_QUEUE: usize = 20_000;

/// Most queues followed per scenario of a run.
pub const MAX_QUEUES: usize = 16;

/// A put or timed offer lasting at least this long (µs) counts as blocked even when no
/// refused offer came before it.
pub const BLOCKED_MIN_US: f64 = 1000.0;

const NO_INSTANCE: u32 = u32::MAX;

/// What one successful queue operation did, as the imports report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueNote {
    /// An offer returned true, or a put returned. `waited_from`: when it began (ns since the
    /// run started), for operations that can wait for room (a put, an offer with a timeout).
    Added { waited_from: Option<u64> },
    /// An offer returned false; `waited_from` as for [`QueueNote::Added`].
    Refused { waited_from: Option<u64> },
    /// A poll returned an item, or a take returned.
    Removed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Add,
    Remove,
    Full,
    /// A wait for room, from `start_ns`; `true`: it ended with the item added.
    Blocked(bool),
}

#[derive(Debug, Clone, Copy)]
struct Raw {
    end_ns: u64,
    start_ns: u64,
    instance: u32,
    kind: Kind,
}

#[derive(Debug)]
struct RawQueue {
    name: String,
    entries: Vec<Raw>,
    dropped: u64,
    /// Completion time of the first entry not kept (`u64::MAX`: none).
    first_dropped_ns: u64,
}

impl RawQueue {
    fn push(&mut self, raw: Raw) {
        if self.entries.len() < MAX_EVENTS_PER_QUEUE {
            self.entries.push(raw);
        } else {
            self.dropped += 1;
            self.first_dropped_ns = self.first_dropped_ns.min(raw.end_ns);
        }
    }
}

#[derive(Debug, Default)]
struct RecordingState {
    queues: Vec<RawQueue>,
    untracked: u64,
}

/// What one scenario's instances did to queues while the run goes on (kept by its
/// [`Recorder`](crate::results::Recorder)); [`collect`] turns every scenario's into the run's
/// [`QueueTimelines`].
#[derive(Debug, Default)]
pub struct QueueRecording {
    inner: Mutex<RecordingState>,
}

impl QueueRecording {
    /// Records `note` on `queue`, completed at `end_ns` (ns since the run started) by
    /// `instance` (none outside `run`). `refused_before` is the instance's own memory of the
    /// queue its previous queue operation found full: read to tell a wait for room, updated
    /// for the next call.
    pub fn note(
        &self,
        queue: &str,
        note: QueueNote,
        end_ns: u64,
        instance: Option<u32>,
        refused_before: &mut Option<u32>,
    ) {
        let mut s = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let index = match s.queues.iter().position(|q| q.name == queue) {
            Some(i) => i,
            None if s.queues.len() < MAX_QUEUES => {
                s.queues.push(RawQueue {
                    name: queue.to_owned(),
                    entries: Vec::new(),
                    dropped: 0,
                    first_dropped_ns: u64::MAX,
                });
                s.queues.len() - 1
            }
            None => {
                s.untracked += 1;
                *refused_before = None;
                return;
            }
        };
        let after_refusal = *refused_before == Some(index as u32);
        let instance = instance.unwrap_or(NO_INSTANCE);
        let q = &mut s.queues[index];
        let raw = |kind, start_ns| Raw {
            end_ns,
            start_ns,
            instance,
            kind,
        };
        let waited = |from: Option<u64>, ran_out: bool| {
            from.filter(|&start| {
                ran_out
                    || after_refusal
                    || end_ns.saturating_sub(start) as f64 >= BLOCKED_MIN_US * 1e3
            })
        };
        *refused_before = None;
        match note {
            QueueNote::Added { waited_from } => {
                if let Some(start) = waited(waited_from, false) {
                    q.push(raw(Kind::Blocked(true), start));
                }
                q.push(raw(Kind::Add, end_ns));
            }
            QueueNote::Refused { waited_from } => {
                if let Some(start) = waited(waited_from, true) {
                    q.push(raw(Kind::Blocked(false), start));
                }
                q.push(raw(Kind::Full, end_ns));
                *refused_before = Some(index as u32);
            }
            QueueNote::Removed => q.push(raw(Kind::Remove, end_ns)),
        }
    }

    fn take(&self) -> RecordingState {
        std::mem::take(&mut *self.inner.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// A scenario's name, shared by every entry of its timeline (serialized as the name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioName(Arc<str>);

impl std::ops::Deref for ScenarioName {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl Serialize for ScenarioName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// An item added (+1) or taken (−1).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueEvent {
    /// When the operation completed, µs since the run started.
    pub t_us: f64,
    pub delta: i8,
    pub scenario: ScenarioName,
    /// The instance; absent in setup and verify.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<u32>,
}

/// An offer the queue refused (it was full).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueFull {
    pub t_us: f64,
    pub scenario: ScenarioName,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<u32>,
}

/// A put or an offer with a timeout that waited (see the module's documentation).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueBlocked {
    pub start_us: f64,
    pub end_us: f64,
    pub scenario: ScenarioName,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<u32>,
    /// Whether the wait ended with the item added (false: an offer's timeout ran out).
    pub added: bool,
}

/// One queue over one run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueTimeline {
    pub name: String,
    /// Items the queue held when the run started, at least (see the module's documentation).
    pub base: u64,
    /// Adds and takes, in completion order.
    pub events: Vec<QueueEvent>,
    /// Refused offers, in completion order.
    pub full: Vec<QueueFull>,
    /// Waits for room, in order of their end.
    pub blocked: Vec<QueueBlocked>,
    /// Entries not kept past [`MAX_EVENTS_PER_QUEUE`].
    pub dropped: u64,
    /// When entries were dropped: the time up to which the timeline is complete.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub complete_until_us: Option<f64>,
}

/// Every queue timeline of a run (in [`RunResult`](crate::results::RunResult), flattened:
/// `queues` and `queue_ops_untracked`, each absent when empty).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct QueueTimelines {
    /// One per queue, by name.
    #[serde(rename = "queues", skip_serializing_if = "Vec::is_empty")]
    pub timelines: Vec<QueueTimeline>,
    /// Operations on queues past the [`MAX_QUEUES`] followed per scenario.
    #[serde(rename = "queue_ops_untracked", skip_serializing_if = "is_zero")]
    pub untracked_ops: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn us(ns: u64) -> f64 {
    ns as f64 / 1e3
}

/// The run's queue timelines from what each scenario (by name) recorded; takes the records.
pub fn collect<'a>(
    scenarios: impl IntoIterator<Item = (&'a str, &'a QueueRecording)>,
) -> QueueTimelines {
    struct Acc {
        entries: Vec<(Raw, usize)>,
        recorded: u64,
        cut_ns: u64,
    }
    let mut names: Vec<ScenarioName> = Vec::new();
    let mut queues: BTreeMap<String, Acc> = BTreeMap::new();
    let mut untracked = 0;
    for (scenario, recording) in scenarios {
        let state = recording.take();
        untracked += state.untracked;
        if state.queues.is_empty() {
            continue;
        }
        names.push(ScenarioName(scenario.into()));
        let who = names.len() - 1;
        for q in state.queues {
            let acc = queues.entry(q.name).or_insert(Acc {
                entries: Vec::new(),
                recorded: 0,
                cut_ns: u64::MAX,
            });
            acc.recorded += q.entries.len() as u64 + q.dropped;
            acc.cut_ns = acc.cut_ns.min(q.first_dropped_ns);
            acc.entries.extend(q.entries.into_iter().map(|r| (r, who)));
        }
    }
    let timelines = queues
        .into_iter()
        .map(|(name, mut acc)| {
            acc.entries.sort_by_key(|(r, _)| r.end_ns);
            if acc.entries.len() > MAX_EVENTS_PER_QUEUE {
                acc.cut_ns = acc.cut_ns.min(acc.entries[MAX_EVENTS_PER_QUEUE].0.end_ns);
            }
            let cut = acc.cut_ns;
            acc.entries.retain(|(r, _)| r.end_ns < cut);
            let mut t = QueueTimeline {
                name,
                base: 0,
                events: Vec::new(),
                full: Vec::new(),
                blocked: Vec::new(),
                dropped: acc.recorded - acc.entries.len() as u64,
                complete_until_us: (cut != u64::MAX).then(|| us(cut)),
            };
            let (mut level, mut lowest) = (0i64, 0i64);
            for (r, who) in acc.entries {
                let scenario = names[who].clone();
                let instance = (r.instance != NO_INSTANCE).then_some(r.instance);
                match r.kind {
                    Kind::Add | Kind::Remove => {
                        let delta = if r.kind == Kind::Add { 1 } else { -1 };
                        level += delta as i64;
                        lowest = lowest.min(level);
                        t.events.push(QueueEvent {
                            t_us: us(r.end_ns),
                            delta,
                            scenario,
                            instance,
                        });
                    }
                    Kind::Full => t.full.push(QueueFull {
                        t_us: us(r.end_ns),
                        scenario,
                        instance,
                    }),
                    Kind::Blocked(added) => t.blocked.push(QueueBlocked {
                        start_us: us(r.start_ns),
                        end_us: us(r.end_ns),
                        scenario,
                        instance,
                        added,
                    }),
                }
            }
            t.base = lowest.unsigned_abs();
            t
        })
        .collect();
    QueueTimelines {
        timelines,
        untracked_ops: untracked,
    }
}

/// A queue timeline's figures, as the reports show them.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueSummary {
    pub adds: u64,
    pub takes: u64,
    /// Highest fill level (with `base`) and when it was first reached (µs).
    pub peak: i64,
    pub peak_at_us: f64,
    /// The fill level after the last event.
    pub last: i64,
    /// First and last time anything was recorded on the queue (µs).
    pub start_us: f64,
    pub end_us: f64,
    /// Time the fill level was at (or above) the capacity, within `start_us..end_us`, when
    /// the capacity is known.
    pub at_capacity_us: Option<f64>,
    pub refused: u64,
    pub blocked: u64,
    /// Blocked time summed over the waits (two producers waiting at once count twice).
    pub blocked_us: f64,
}

impl QueueTimeline {
    /// The fill level after each event: `(t_us, level)`, starting from `base`.
    pub fn levels(&self) -> Vec<(f64, i64)> {
        let mut level = self.base as i64;
        self.events
            .iter()
            .map(|e| {
                level += e.delta as i64;
                (e.t_us, level)
            })
            .collect()
    }

    /// The figures, with the queue's `capacity` when known.
    pub fn summary(&self, capacity: Option<u32>) -> QueueSummary {
        let levels = self.levels();
        let times = self
            .events
            .iter()
            .map(|e| e.t_us)
            .chain(self.full.iter().map(|f| f.t_us))
            .chain(self.blocked.iter().flat_map(|b| [b.start_us, b.end_us]));
        let (start_us, end_us) = times.fold((f64::INFINITY, 0.0f64), |(lo, hi), t| {
            (lo.min(t), hi.max(t))
        });
        let start_us = if start_us.is_finite() { start_us } else { 0.0 };
        let (mut peak, mut peak_at_us) = (self.base as i64, start_us);
        for &(t, l) in &levels {
            if l > peak {
                (peak, peak_at_us) = (l, t);
            }
        }
        let at_capacity_us = capacity.map(|c| {
            let mut total = 0.0;
            for (i, &(t, l)) in levels.iter().enumerate() {
                let next = levels.get(i + 1).map_or(end_us, |n| n.0);
                if l >= c as i64 {
                    total += (next - t).max(0.0);
                }
            }
            total
        });
        QueueSummary {
            adds: self.events.iter().filter(|e| e.delta > 0).count() as u64,
            takes: self.events.iter().filter(|e| e.delta < 0).count() as u64,
            peak,
            peak_at_us,
            last: levels.last().map_or(self.base as i64, |l| l.1),
            start_us,
            end_us,
            at_capacity_us,
            refused: self.full.len() as u64,
            blocked: self.blocked.len() as u64,
            blocked_us: self
                .blocked
                .iter()
                .map(|b| (b.end_us - b.start_us).max(0.0))
                .sum(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(r: &QueueRecording, q: &str, n: QueueNote, at_us: u64, mem: &mut Option<u32>) {
        r.note(q, n, at_us * 1000, Some(0), mem);
    }

    #[test]
    fn a_wait_after_a_refused_offer_is_blocked_and_levels_add_up() {
        let (producer, consumer) = (QueueRecording::default(), QueueRecording::default());
        let (mut p, mut c) = (None, None);
        let add = QueueNote::Added { waited_from: None };
        note(&producer, "q", add, 10, &mut p);
        note(&producer, "q", add, 20, &mut p);
        let refused = QueueNote::Refused { waited_from: None };
        note(&producer, "q", refused, 30, &mut p);
        note(&consumer, "q", QueueNote::Removed, 45, &mut c);
        // The put after the refusal waited from 31 to 46 µs: blocked, though short.
        let put = QueueNote::Added {
            waited_from: Some(31_000),
        };
        note(&producer, "q", put, 46, &mut p);
        // A put straight away, quick: not blocked; one that took 2 ms: blocked.
        note(&consumer, "q", QueueNote::Removed, 50, &mut c);
        note(&producer, "q", put, 60, &mut p);
        let slow = QueueNote::Added {
            waited_from: Some(100_000),
        };
        note(&producer, "q", slow, 2_100, &mut p);
        // An offer with a timeout that ran out is blocked however long it took.
        let timed_out = QueueNote::Refused {
            waited_from: Some(2_150_000),
        };
        note(&producer, "q", timed_out, 2_200, &mut p);

        let all = collect([("producer", &producer), ("consumer", &consumer)]);
        assert_eq!(all.untracked_ops, 0);
        let [t] = &all.timelines[..] else {
            panic!("{all:?}")
        };
        assert_eq!(t.name, "q");
        assert_eq!((t.base, t.dropped, t.complete_until_us), (0, 0, None));
        let levels: Vec<i64> = t.levels().iter().map(|l| l.1).collect();
        assert_eq!(levels, [1, 2, 1, 2, 1, 2, 3]);
        let times: Vec<f64> = t.events.iter().map(|e| e.t_us).collect();
        assert_eq!(times, [10.0, 20.0, 45.0, 46.0, 50.0, 60.0, 2100.0]);
        assert_eq!(&*t.events[2].scenario, "consumer");
        assert_eq!(t.full.len(), 2);
        let spans: Vec<(f64, f64, bool)> = t
            .blocked
            .iter()
            .map(|b| (b.start_us, b.end_us, b.added))
            .collect();
        assert_eq!(
            spans,
            [
                (31.0, 46.0, true),
                (100.0, 2100.0, true),
                (2150.0, 2200.0, false)
            ]
        );
        let s = t.summary(Some(2));
        assert_eq!((s.adds, s.takes, s.peak, s.last), (5, 2, 3, 3));
        assert_eq!((s.refused, s.blocked), (2, 3));
        assert_eq!(s.blocked_us, 15.0 + 2000.0 + 50.0);
        assert_eq!((s.start_us, s.end_us), (10.0, 2200.0));
        // At 2 or more: 20..45, 46..50, 60..2100 and 2100..2200 (at 3).
        assert_eq!(s.at_capacity_us, Some(25.0 + 4.0 + 2040.0 + 100.0));
        assert_eq!(t.summary(None).at_capacity_us, None);
    }

    #[test]
    fn takes_before_any_add_raise_the_base() {
        let r = QueueRecording::default();
        let mut m = None;
        note(&r, "q", QueueNote::Removed, 1, &mut m);
        note(&r, "q", QueueNote::Removed, 2, &mut m);
        note(&r, "q", QueueNote::Added { waited_from: None }, 3, &mut m);
        let all = collect([("drain", &r)]);
        let t = &all.timelines[0];
        assert_eq!(t.base, 2);
        let levels: Vec<i64> = t.levels().iter().map(|l| l.1).collect();
        assert_eq!(levels, [1, 0, 1]);
    }

    #[test]
    fn the_cap_drops_and_counts_and_cuts_every_source_at_the_same_time() {
        let (a, b) = (QueueRecording::default(), QueueRecording::default());
        let (mut ma, mut mb) = (None, None);
        let add = QueueNote::Added { waited_from: None };
        // `a` fills its share at t = 0..MAX µs (even µs); `b` writes at odd µs, but only 10.
        for i in 0..MAX_EVENTS_PER_QUEUE as u64 + 5 {
            note(&a, "q", add, 2 * i, &mut ma);
        }
        for i in 0..10 {
            note(&b, "q", QueueNote::Removed, 2 * i + 1, &mut mb);
        }
        let all = collect([("a", &a), ("b", &b)]);
        let t = &all.timelines[0];
        let kept = t.events.len() + t.full.len() + t.blocked.len();
        assert!(kept <= MAX_EVENTS_PER_QUEUE, "{kept}");
        assert_eq!(kept as u64 + t.dropped, MAX_EVENTS_PER_QUEUE as u64 + 15);
        let until = t.complete_until_us.expect("entries were dropped");
        assert!(t.events.iter().all(|e| e.t_us < until));
        // Both sources are complete before the cut: b's 10 takes all came early.
        assert_eq!(t.events.iter().filter(|e| e.delta < 0).count(), 10);
        assert!(t.dropped >= 5);
    }

    #[test]
    fn queues_past_the_limit_are_only_counted() {
        let r = QueueRecording::default();
        let mut m = None;
        for q in 0..MAX_QUEUES + 3 {
            note(&r, &format!("q{q}"), QueueNote::Removed, 1, &mut m);
        }
        let all = collect([("s", &r)]);
        assert_eq!(all.timelines.len(), MAX_QUEUES);
        assert_eq!(all.untracked_ops, 3);
        let json = serde_json::to_value(&all).unwrap();
        assert_eq!(json["queue_ops_untracked"], 3);
        assert_eq!(json["queues"][0]["events"][0]["delta"], -1);
        assert_eq!(json["queues"][0]["events"][0]["scenario"], "s");
        assert!(json["queues"][0].get("complete_until_us").is_none());
        let empty = serde_json::to_value(QueueTimelines::default()).unwrap();
        assert_eq!(empty, serde_json::json!({}));
    }

    /// The seed lab's bounded queue on the embedded backend: one producer, two consumers,
    /// 100 items through a queue of 10.
    #[test]
    fn a_bounded_queue_fills_to_its_capacity_and_drains() {
        use crate::backend::embedded::{EmbeddedCluster, EmbeddedConfig};
        use crate::engine::{InstanceLimits, ScenarioEngine};
        use crate::runner::{self, RunSpec, ScenarioSpec};
        use crate::scenario::ScenarioSource;

        let cluster = EmbeddedCluster::new(EmbeddedConfig {
            queue_capacity: Some(10),
            seed: 42,
            ..EmbeddedConfig::default()
        })
        .unwrap();
        let scenario = |name: &str, instances| {
            ScenarioSpec::once(ScenarioSource::resolve(name).unwrap(), instances)
        };
        let spec = RunSpec {
            steps: vec![vec![scenario("producer", 1), scenario("consumer", 2)]],
            args: vec![("items".into(), "100".into())],
            limits: InstanceLimits::default(),
            seed: 42,
            echo_logs: false,
        };
        let engine = ScenarioEngine::new().unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let r = rt
            .block_on(runner::run(&engine, &cluster, &spec, Default::default()))
            .unwrap();
        assert!(r.passed, "{r:#?}");
        let [q] = &r.queues.timelines[..] else {
            panic!("one queue expected: {:?}", r.queues)
        };
        assert_eq!((q.name.as_str(), q.base, q.dropped), ("queue", 0, 0));
        let adds: Vec<&QueueEvent> = q.events.iter().filter(|e| e.delta == 1).collect();
        let takes: Vec<&QueueEvent> = q.events.iter().filter(|e| e.delta == -1).collect();
        assert_eq!((adds.len(), takes.len()), (100, 100));
        assert!(adds
            .iter()
            .all(|e| &*e.scenario == "producer" && e.instance == Some(0)));
        assert!(takes
            .iter()
            .all(|e| &*e.scenario == "consumer" && matches!(e.instance, Some(0 | 1))));
        assert!(q.events.windows(2).all(|w| w[0].t_us <= w[1].t_us));
        let levels = q.levels();
        let peak = levels.iter().map(|l| l.1).max().unwrap();
        assert_eq!(peak, 10, "the queue of 10 never filled, or overflowed");
        assert!(levels.iter().all(|l| l.1 >= 0), "{levels:?}");
        assert_eq!(levels.last().unwrap().1, 0, "items left in the queue");
        // Every refused offer is one the producer counted, followed by a put that waited.
        let producer = r.scenarios.iter().find(|s| s.name == "producer").unwrap();
        let full = producer.totals["full"];
        assert!(full > 0, "the producer never found the queue full");
        assert_eq!(q.full.len() as i64, full);
        assert_eq!(q.blocked.len() as i64, full);
        assert!(q.blocked.iter().all(|b| b.added && b.start_us <= b.end_us));
        // Each wait is inside the producer's own measurement of it (same clock).
        let s = q.summary(r.backend.queue_capacity);
        let slack_us = 0.001 * q.blocked.len() as f64;
        assert!(
            s.blocked_us <= producer.totals["blocked-ns"] as f64 / 1e3 + slack_us,
            "{} µs blocked against the producer's {} ns",
            s.blocked_us,
            producer.totals["blocked-ns"]
        );
        assert!(s.at_capacity_us.unwrap() > 0.0);
        assert_eq!((s.peak, s.last, s.refused), (10, 0, full as u64));
        // The queue's timeline is in the run's JSON.
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["queues"][0]["events"].as_array().unwrap().len(), 200);
        assert!(json.get("queue_ops_untracked").is_none());
    }
}
