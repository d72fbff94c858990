//! Latency of cluster operations: a fixed log-linear histogram per operation kind.
//!
//! Recording is on the hot path of every guest operation, so it is one bucket index (a
//! `leading_zeros` and two shifts) and three additions into the instance's own histograms; no
//! lock, no allocation once the bucket vector has grown to the largest latency seen. Each
//! instance's histograms are merged into its scenario's when the instance ends.
//!
//! Buckets: values below 32 ns have a bucket each; above, every power of two is split into 32
//! equal buckets, so a reported percentile is within 1/32 (about 3 %) of the true value.
//! Mean and max are exact.

use std::collections::BTreeMap;

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

/// Every cluster operation of the scenario world, named `interface.function` as in the WIT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OpKind {
    MapGet,
    MapPut,
    MapSet,
    MapRemove,
    MapContainsKey,
    MapSize,
    MapPutIfAbsent,
    MapClear,
    Replace,
    ReplaceIfSame,
    Lock,
    TryLock,
    Unlock,
    IsLocked,
    QueueOffer,
    QueuePut,
    QueuePoll,
    QueueTake,
    QueueSize,
}

impl OpKind {
    pub const COUNT: usize = 19;
    pub const ALL: [OpKind; OpKind::COUNT] = [
        OpKind::MapGet,
        OpKind::MapPut,
        OpKind::MapSet,
        OpKind::MapRemove,
        OpKind::MapContainsKey,
        OpKind::MapSize,
        OpKind::MapPutIfAbsent,
        OpKind::MapClear,
        OpKind::Replace,
        OpKind::ReplaceIfSame,
        OpKind::Lock,
        OpKind::TryLock,
        OpKind::Unlock,
        OpKind::IsLocked,
        OpKind::QueueOffer,
        OpKind::QueuePut,
        OpKind::QueuePoll,
        OpKind::QueueTake,
        OpKind::QueueSize,
    ];

    /// `map.get`, `replace.replace-if-same`, `queue.offer`, …
    pub fn name(self) -> &'static str {
        match self {
            OpKind::MapGet => "map.get",
            OpKind::MapPut => "map.put",
            OpKind::MapSet => "map.set",
            OpKind::MapRemove => "map.remove",
            OpKind::MapContainsKey => "map.contains-key",
            OpKind::MapSize => "map.size",
            OpKind::MapPutIfAbsent => "map.put-if-absent",
            OpKind::MapClear => "map.clear",
            OpKind::Replace => "replace.replace",
            OpKind::ReplaceIfSame => "replace.replace-if-same",
            OpKind::Lock => "lock.lock",
            OpKind::TryLock => "lock.try-lock",
            OpKind::Unlock => "lock.unlock",
            OpKind::IsLocked => "lock.is-locked",
            OpKind::QueueOffer => "queue.offer",
            OpKind::QueuePut => "queue.put",
            OpKind::QueuePoll => "queue.poll",
            OpKind::QueueTake => "queue.take",
            OpKind::QueueSize => "queue.size",
        }
    }

    pub fn from_name(name: &str) -> Option<OpKind> {
        OpKind::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// A cheap timestamp for timing one operation: the processor's time-stamp counter where it is
/// invariant (x86-64 with `constant_tsc` and `nonstop_tsc`, about 10 ns to read), else the
/// monotonic clock (`Instant`, two to four times as costly). The counter's rate is calibrated
/// once per process against `Instant`, over 2 ms.
#[derive(Debug, Clone, Copy)]
pub struct Stamp(u64);

/// Nanoseconds per counter tick, or 0 when the counter is not used.
static NS_PER_TICK: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
static ANCHOR: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();

fn ns_per_tick() -> f64 {
    *NS_PER_TICK.get_or_init(calibrate)
}

#[cfg(target_arch = "x86_64")]
fn calibrate() -> f64 {
    let flags = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let invariant = flags.lines().any(|l| {
        l.starts_with("flags")
            && l.split_whitespace().any(|f| f == "constant_tsc")
            && l.split_whitespace().any(|f| f == "nonstop_tsc")
    });
    if !invariant {
        return 0.0;
    }
    // SAFETY: `rdtsc` has no preconditions on x86-64.
    let tsc = || unsafe { core::arch::x86_64::_rdtsc() };
    let (t0, c0) = (std::time::Instant::now(), tsc());
    while t0.elapsed() < std::time::Duration::from_millis(2) {
        std::hint::spin_loop();
    }
    let (t1, c1) = (std::time::Instant::now(), tsc());
    let ticks = c1.wrapping_sub(c0);
    if ticks == 0 {
        return 0.0;
    }
    (t1 - t0).as_nanos() as f64 / ticks as f64
}

#[cfg(not(target_arch = "x86_64"))]
fn calibrate() -> f64 {
    0.0
}

impl Stamp {
    #[inline]
    pub fn now() -> Stamp {
        #[cfg(target_arch = "x86_64")]
        if ns_per_tick() > 0.0 {
            // SAFETY: `rdtsc` has no preconditions on x86-64.
            return Stamp(unsafe { core::arch::x86_64::_rdtsc() });
        }
        let anchor = ANCHOR.get_or_init(std::time::Instant::now);
        Stamp(anchor.elapsed().as_nanos() as u64)
    }

    /// Nanoseconds from `earlier` to this stamp.
    #[inline]
    pub fn nanos_since(self, earlier: Stamp) -> u64 {
        let d = self.0.saturating_sub(earlier.0);
        let f = ns_per_tick();
        if f > 0.0 {
            (d as f64 * f) as u64
        } else {
            d
        }
    }
}

const SUB_BITS: u32 = 5;
const SUB: u64 = 1 << SUB_BITS;

#[inline]
fn bucket_of(ns: u64) -> usize {
    if ns < SUB {
        ns as usize
    } else {
        let shift = 63 - ns.leading_zeros() - SUB_BITS;
        (((shift as u64 + 1) << SUB_BITS) + ((ns >> shift) - SUB)) as usize
    }
}

/// The highest value that falls in bucket `i`.
fn bucket_high(i: usize) -> u64 {
    let i = i as u64;
    if i < SUB {
        i
    } else {
        let shift = (i >> SUB_BITS) - 1;
        let m = (i & (SUB - 1)) + SUB;
        ((((m + 1) as u128) << shift) - 1).min(u64::MAX as u128) as u64
    }
}

/// A latency histogram in nanoseconds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Histogram {
    counts: Vec<u64>,
    count: u64,
    sum_ns: u64,
    max_ns: u64,
}

impl Histogram {
    #[inline]
    pub fn record(&mut self, ns: u64) {
        let i = bucket_of(ns);
        if i >= self.counts.len() {
            self.counts.resize(i + 1, 0);
        }
        self.counts[i] += 1;
        self.count += 1;
        self.sum_ns = self.sum_ns.saturating_add(ns);
        self.max_ns = self.max_ns.max(ns);
    }

    pub fn merge(&mut self, other: &Histogram) {
        if self.counts.len() < other.counts.len() {
            self.counts.resize(other.counts.len(), 0);
        }
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.count += other.count;
        self.sum_ns = self.sum_ns.saturating_add(other.sum_ns);
        self.max_ns = self.max_ns.max(other.max_ns);
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub fn max_ns(&self) -> u64 {
        self.max_ns
    }

    pub fn mean_ns(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.sum_ns as f64 / self.count as f64
        }
    }

    /// The latency `q` (0..=1) of the operations are at or below: the highest value of the
    /// bucket the quantile falls in, never above the recorded max.
    pub fn quantile_ns(&self, q: f64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.count as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return bucket_high(i).min(self.max_ns);
            }
        }
        self.max_ns
    }

    pub fn stats(&self) -> LatencyStats {
        let us = |ns: u64| ns as f64 / 1e3;
        LatencyStats {
            count: self.count,
            mean_us: round3(self.mean_ns() / 1e3),
            p50_us: us(self.quantile_ns(0.50)),
            p90_us: us(self.quantile_ns(0.90)),
            p99_us: us(self.quantile_ns(0.99)),
            max_us: us(self.max_ns),
        }
    }

    /// Points of the percentile curve (percentile, µs) for plots, at 0, 50, 90, 99, 99.9, …
    /// up to the max.
    pub fn percentile_curve(&self) -> Vec<(f64, f64)> {
        let mut points = Vec::new();
        let mut tail = 1.0f64;
        while tail >= 1e-6 && self.count as f64 * tail >= 1.0 {
            let q = 1.0 - tail;
            points.push((q * 100.0, self.quantile_ns(q) as f64 / 1e3));
            for f in [0.5, 0.2] {
                let t = tail * f;
                if self.count as f64 * t >= 1.0 {
                    points.push(((1.0 - t) * 100.0, self.quantile_ns(1.0 - t) as f64 / 1e3));
                }
            }
            tail /= 10.0;
        }
        // The max is the last of `count` operations: drawn where its rank falls, so that the
        // curve ends where the data does.
        let last = (1.0 - 0.5 / self.count.max(1) as f64) * 100.0;
        let last = last.max(points.last().map_or(0.0, |p| p.0));
        points.push((last, self.max_ns as f64 / 1e3));
        points
    }
}

fn round3(x: f64) -> f64 {
    (x * 1e3).round() / 1e3
}

/// What the report shows of one operation kind's latency (µs).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LatencyStats {
    pub count: u64,
    pub mean_us: f64,
    pub p50_us: f64,
    pub p90_us: f64,
    pub p99_us: f64,
    pub max_us: f64,
}

/// One histogram per operation kind, indexed by kind: what an instance records.
#[derive(Debug, Clone, Default)]
pub struct OpLatencies {
    by_kind: [Histogram; OpKind::COUNT],
}

impl OpLatencies {
    #[inline]
    pub fn record(&mut self, kind: OpKind, ns: u64) {
        self.by_kind[kind as usize].record(ns);
    }

    pub fn get(&self, kind: OpKind) -> &Histogram {
        &self.by_kind[kind as usize]
    }
}

/// Latency histograms by operation name (`map.get`, …), merged over instances. Serializes as
/// `{ "map.get": LatencyStats, … }`; the histograms themselves stay in memory, so that results
/// of repeats can be merged with [`Latencies::merge`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Latencies {
    pub ops: BTreeMap<&'static str, Histogram>,
}

impl Latencies {
    pub fn add(&mut self, ops: &OpLatencies) {
        for kind in OpKind::ALL {
            let h = ops.get(kind);
            if !h.is_empty() {
                self.ops.entry(kind.name()).or_default().merge(h);
            }
        }
    }

    pub fn merge(&mut self, other: &Latencies) {
        for (k, h) in &other.ops {
            self.ops.entry(k).or_default().merge(h);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.ops.values().all(Histogram::is_empty)
    }

    pub fn stats(&self) -> Vec<(&'static str, LatencyStats)> {
        self.ops.iter().map(|(k, h)| (*k, h.stats())).collect()
    }
}

/// An operation's latency as JSON: its [`LatencyStats`] and its percentile curve
/// (`percentiles`: `[percentile, µs]` pairs, as [`Histogram::percentile_curve`] gives them),
/// which `hzlab compare` overlays.
#[derive(Serialize)]
struct OpJson {
    #[serde(flatten)]
    stats: LatencyStats,
    percentiles: Vec<[f64; 2]>,
}

impl Serialize for Latencies {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.ops.len()))?;
        for (k, h) in &self.ops {
            let percentiles = h
                .percentile_curve()
                .into_iter()
                .map(|(p, us)| [round3(p), round3(us)])
                .collect();
            m.serialize_entry(
                k,
                &OpJson {
                    stats: h.stats(),
                    percentiles,
                },
            )?;
        }
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_contiguous_and_tight() {
        let mut last = 0;
        for ns in [
            0u64,
            1,
            31,
            32,
            33,
            63,
            64,
            65,
            1000,
            123_456,
            10u64.pow(12),
            u64::MAX,
        ] {
            let b = bucket_of(ns);
            assert!(b >= last);
            last = b;
            let high = bucket_high(b);
            assert!(high >= ns, "{ns} in bucket {b} up to {high}");
            assert!((high - ns) as f64 <= ns as f64 / 32.0 + 1.0, "{ns}: {high}");
            if b > 0 {
                assert!(bucket_high(b - 1) < ns);
            }
        }
    }

    #[test]
    fn stamps_measure_nanoseconds() {
        let (s0, i0) = (Stamp::now(), std::time::Instant::now());
        std::thread::sleep(std::time::Duration::from_millis(20));
        let (s1, i1) = (Stamp::now(), std::time::Instant::now());
        let by_stamp = s1.nanos_since(s0) as f64;
        let by_instant = (i1 - i0).as_nanos() as f64;
        assert!(
            (by_stamp - by_instant).abs() / by_instant < 0.02,
            "{by_stamp} vs {by_instant}"
        );
        assert_eq!(s0.nanos_since(s1), 0);
    }

    #[test]
    fn quantiles() {
        let mut h = Histogram::default();
        for ns in 1..=1000u64 {
            h.record(ns * 1000);
        }
        let s = h.stats();
        assert_eq!(s.count, 1000);
        assert!((s.mean_us - 500.5).abs() < 1e-6);
        assert!((s.p50_us - 500.0).abs() / 500.0 < 0.04, "{s:?}");
        assert!((s.p90_us - 900.0).abs() / 900.0 < 0.04, "{s:?}");
        assert!((s.p99_us - 990.0).abs() / 990.0 < 0.04, "{s:?}");
        assert_eq!(s.max_us, 1000.0);
        let curve = h.percentile_curve();
        assert_eq!(curve.first().unwrap().0, 0.0);
        assert_eq!(curve.last().unwrap().1, 1000.0);
        assert!(curve.last().unwrap().0 < 100.0);
        assert!(curve
            .windows(2)
            .all(|w| w[0].0 <= w[1].0 && w[0].1 <= w[1].1));
    }

    #[test]
    fn merge_and_serialize() {
        let mut a = OpLatencies::default();
        a.record(OpKind::MapGet, 2_000);
        a.record(OpKind::QueueTake, 5_000);
        let mut b = OpLatencies::default();
        b.record(OpKind::MapGet, 4_000);
        let mut l = Latencies::default();
        l.add(&a);
        l.add(&b);
        let json = serde_json::to_value(&l).unwrap();
        assert_eq!(json["map.get"]["count"], 2);
        assert_eq!(json["map.get"]["max_us"], 4.0);
        assert_eq!(json["queue.take"]["count"], 1);
        assert!(json.get("map.put").is_none());
        assert_eq!(OpKind::from_name("lock.lock"), Some(OpKind::Lock));
        assert_eq!(OpKind::ALL.len(), OpKind::COUNT);
    }
}
