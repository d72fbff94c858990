//! Synthetic register histories with known answers, for the checkers' tests and benchmarks.
//!
//! [`register_history`] simulates clients running `get`, `set`, `put`, `put-if-absent`,
//! `replace-if-same`, `remove` and `contains-key` on one key of a map, concurrently: each
//! operation takes effect at a random instant between its start and end, and its answer is
//! what the register held at that instant, so the history is linearizable by construction.
//! Writes of unknown outcome took effect or not, at random, and are recorded without answer.
//! [`with_impossible_read`] then makes one read answer a value no one wrote: no order explains
//! it.

use super::{Event, OpOutcome};
use crate::results::Phase;
use serde_json::json;

/// A small deterministic generator (splitmix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// What to generate.
#[derive(Debug, Clone, Copy)]
pub struct Synth {
    pub ops: usize,
    pub clients: u32,
    /// Share of writes whose outcome is unknown (0.01: 1 %).
    pub unknown_rate: f64,
    /// Distinct values written (few: compare-and-sets then succeed often).
    pub values: i64,
    pub seed: u64,
}

impl Default for Synth {
    fn default() -> Synth {
        Synth {
            ops: 1000,
            clients: 3,
            unknown_rate: 0.0,
            values: 4,
            seed: 1,
        }
    }
}

/// A linearizable history of one key (`map` "m", key "k"), every operation in phase `run`.
pub fn register_history(s: &Synth) -> Vec<Event> {
    let mut rng = Rng(s.seed);
    struct Planned {
        client: u32,
        start: f64,
        end: f64,
        at: f64,
        kind: u64,
        a: i64,
        b: i64,
        unknown: bool,
    }
    let mut clock = vec![0.0f64; s.clients as usize];
    let mut planned = Vec::with_capacity(s.ops);
    for _ in 0..s.ops {
        let client = rng.below(u64::from(s.clients)) as u32;
        let start = clock[client as usize] + 1.0 + rng.unit() * 20.0;
        let end = start + 1.0 + rng.unit() * 40.0;
        clock[client as usize] = end;
        let kind = rng.below(10);
        let is_write = !matches!(kind, 0..=2 | 9);
        planned.push(Planned {
            client,
            start,
            end,
            at: start + rng.unit() * (end - start),
            kind,
            a: 1 + rng.below(s.values as u64) as i64,
            b: 1 + rng.below(s.values as u64) as i64,
            unknown: is_write && rng.unit() < s.unknown_rate,
        });
    }
    let mut order: Vec<usize> = (0..planned.len()).collect();
    order.sort_by(|&x, &y| planned[x].at.total_cmp(&planned[y].at));
    let mut value: Option<i64> = None;
    let mut events: Vec<Option<Event>> = (0..planned.len()).map(|_| None).collect();
    let v = |x: Option<i64>| x.map_or(serde_json::Value::Null, |x| json!(x));
    for i in order {
        let p = &planned[i];
        // An unknown write took effect or not.
        let applies = !p.unknown || rng.below(2) == 0;
        let before = value;
        let (op, args, answer) = match p.kind {
            0..=2 => ("map.get", vec![json!("k")], Some(v(before))),
            3 | 4 => {
                if applies {
                    value = Some(p.a);
                }
                ("map.set", vec![json!("k"), json!(p.a)], None)
            }
            5 => {
                if applies {
                    value = Some(p.a);
                }
                ("map.put", vec![json!("k"), json!(p.a)], Some(v(before)))
            }
            6 | 7 => {
                let ok = before == Some(p.a);
                if ok && applies {
                    value = Some(p.b);
                }
                (
                    "replace.replace-if-same",
                    vec![json!("k"), json!(p.a), json!(p.b)],
                    Some(json!(ok)),
                )
            }
            8 => {
                if rng.below(2) == 0 {
                    if applies && before.is_none() {
                        value = Some(p.a);
                    }
                    (
                        "map.put-if-absent",
                        vec![json!("k"), json!(p.a)],
                        Some(v(before)),
                    )
                } else {
                    if applies {
                        value = None;
                    }
                    ("map.remove", vec![json!("k")], Some(v(before)))
                }
            }
            _ => (
                "map.contains-key",
                vec![json!("k")],
                Some(json!(before.is_some())),
            ),
        };
        events[i] = Some(Event {
            run: None,
            scenario: "synth".into(),
            phase: Phase::Run,
            instance: p.client,
            op: op.into(),
            name: "m".into(),
            args,
            outcome: if p.unknown {
                OpOutcome::Unknown
            } else {
                OpOutcome::Ok
            },
            value: if p.unknown { None } else { answer },
            error: p.unknown.then(|| "timed out".into()),
            start_us: (p.start * 1e3).round() / 1e3,
            end_us: (p.end * 1e3).round() / 1e3,
        });
    }
    let mut events: Vec<Event> = events.into_iter().flatten().collect();
    events.sort_by(|a, b| a.start_us.total_cmp(&b.start_us));
    events
}

/// `events` with one `get` (the first ok one past the middle that starts after an ok write
/// ended) answering a value that no operation wrote: not linearizable.
pub fn with_impossible_read(mut events: Vec<Event>) -> Vec<Event> {
    let first_write_end = events
        .iter()
        .filter(|e| e.outcome == OpOutcome::Ok && e.op == "map.set")
        .map(|e| e.end_us)
        .fold(f64::INFINITY, f64::min);
    let half = events.len() / 2;
    if let Some(e) = events
        .iter_mut()
        .skip(half)
        .find(|e| e.op == "map.get" && e.outcome == OpOutcome::Ok && e.start_us > first_write_end)
    {
        e.value = Some(json!(-424242));
    }
    events
}
