//! Counters: map keys updated by read-modify-write in `run` (a read, then a write of a value
//! computed from it), and how many of those updates were lost.
//!
//! Each write is traced back to the value it was based on: the `expected` argument of a
//! `replace-if-same`, nothing (0) for a `put-if-absent` that applied, and otherwise the last
//! value the same instance read from (or wrote to) the key. Its delta is `written − base`, so
//! increments, decrements and arbitrary updates are all followed:
//!
//! - `expected_final = initial + Σ delta` over the acknowledged updates;
//! - when every acknowledged update has the same delta `d` (a counter incremented by one, a
//!   stock decremented by one), `lost_updates = (expected_final − final) / d`: the number of
//!   updates whose effect is missing from the final value, i.e. that were overwritten by a
//!   write based on an older read;
//! - otherwise each written value is matched with the updates that read it (and with the final
//!   value): an acknowledged write nobody based an update on, and that is not the final value,
//!   was overwritten.
//!
//! A key is a counter when at least two acknowledged writes of `run` are read-modify-writes of
//! integers that all move it the same way (every delta positive, or every delta negative), and
//! none is a blind write (a write with no operation on the key before it: a register, checked
//! by the linearizability checker instead).

use std::collections::BTreeMap;

use serde::Serialize;

use super::{key_text, Event, OpOutcome};
use crate::results::Phase;

/// A counter key: updates acknowledged in `run`, and how many of them were lost.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CounterCheck {
    /// The run it belongs to, in a history of several (see [`Event::run`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    /// The scenario that wrote it (each scenario's writes are checked apart).
    pub scenario: String,
    pub map: String,
    pub key: serde_json::Value,
    /// The value before `run`: the last write of setup, or 0.
    pub initial: i64,
    /// The value read after the last write (verify), or the value of the last write.
    #[serde(rename = "final")]
    pub final_value: i64,
    /// Read-modify-writes in `run` that ended ok and took effect.
    pub updates: u64,
    /// The delta of every acknowledged update, when they all have the same one (1 for a
    /// counter, −1 for a stock sold one by one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delta: Option<i64>,
    /// `initial + Σ delta` over the acknowledged updates: the final value had none been lost.
    pub expected_final: i64,
    /// Acknowledged updates whose effect is missing from the final value; negative only when
    /// writes of unknown outcome took effect.
    pub lost_updates: i64,
    /// Writes whose outcome is unknown, or whose delta is (made after a read of unknown
    /// outcome): not counted in `updates`.
    pub uncertain_writes: u64,
}

impl CounterCheck {
    /// No acknowledged update lost (a counter may be ahead by up to its uncertain writes).
    pub fn clean(&self) -> bool {
        self.lost_updates <= 0 && -self.lost_updates <= self.uncertain_writes as i64
    }
}

/// Whether an ok write took effect, and the value it wrote (any JSON).
fn effect(e: &Event) -> Option<(bool, Option<&serde_json::Value>)> {
    let took_effect = match e.op.as_str() {
        "map.put" | "map.set" => true,
        "replace.replace-if-same" => e.value == Some(serde_json::Value::Bool(true)),
        "replace.replace" => e.value.as_ref().is_some_and(|v| !v.is_null()),
        "map.put-if-absent" => e.value.as_ref().is_none_or(serde_json::Value::is_null),
        _ => return None,
    };
    let value = match e.op.as_str() {
        "replace.replace-if-same" => e.args.get(2),
        _ => e.args.get(1),
    };
    Some((took_effect, value))
}

/// The value a map operation wrote, if it was a write that succeeded (or may have).
pub(super) fn written(e: &Event) -> Option<&serde_json::Value> {
    let (took_effect, value) = effect(e)?;
    if e.outcome == OpOutcome::Ok && !took_effect {
        return None;
    }
    value
}

/// A counter read as an integer: absent counts as 0, as the guests' `counter::read` does.
fn counter_value(v: Option<&serde_json::Value>) -> Option<i64> {
    match v {
        None => Some(0),
        Some(v) if v.is_null() => Some(0),
        Some(v) => v.as_i64(),
    }
}

/// One write of `run` traced to the value it was based on.
struct Update {
    base: Option<i64>,
    written: i64,
    acknowledged: bool,
}

fn to_i64(v: i128) -> i64 {
    v.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

pub(super) fn check_counters(events: &[&Event]) -> Vec<CounterCheck> {
    // (scenario, map, key) -> the events touching it: scenarios that share a counter (race,
    // then pessimistic) each reset it in setup and are checked apart.
    let mut keys: BTreeMap<(String, String, String), Vec<&Event>> = BTreeMap::new();
    for e in events {
        if e.op.starts_with("map.") || e.op.starts_with("replace.") {
            if let Some(k) = e.args.first() {
                keys.entry((e.scenario.clone(), e.name.clone(), key_text(k)))
                    .or_default()
                    .push(e);
            }
        }
    }
    let mut out = Vec::new();
    for ((scenario, map, _), mut evs) in keys {
        evs.sort_by(|a, b| a.start_us.total_cmp(&b.start_us));
        // What each instance last knew the key to hold, per phase.
        let mut known: BTreeMap<(Phase, u32), Option<i64>> = BTreeMap::new();
        let mut updates: Vec<Update> = Vec::new();
        let mut blind = 0u64;
        for e in &evs {
            let who = (e.phase, e.instance);
            if e.op == "map.get" {
                let v = match e.outcome {
                    OpOutcome::Ok => counter_value(e.value.as_ref()),
                    _ => None,
                };
                known.insert(who, v);
                continue;
            }
            let Some((took_effect, value)) = effect(e) else {
                // A remove, a contains-key: what the key holds now is not known.
                known.insert(who, None);
                continue;
            };
            let base = match e.op.as_str() {
                "replace.replace-if-same" => counter_value(e.args.get(1)),
                "map.put-if-absent" => Some(0),
                _ => known.get(&who).copied().flatten(),
            };
            // Blind: the instance wrote without any operation on the key before (in this
            // phase). A write after an operation whose answer is unknown is no blind write, but
            // its delta is unknown: it counts as uncertain.
            let never_read = !known.contains_key(&who);
            let value = value.and_then(|v| v.as_i64());
            let applied = e.outcome == OpOutcome::Ok && took_effect;
            known.insert(who, if applied { value } else { None });
            // An unknown write may have applied; a failed or refused one did not.
            let counted = e.phase == Phase::Run
                && match e.outcome {
                    OpOutcome::Ok => took_effect,
                    OpOutcome::Unknown => true,
                    OpOutcome::Failed => false,
                };
            if !counted {
                continue;
            }
            let Some(written) = value else { continue };
            if base.is_none() && never_read && e.outcome == OpOutcome::Ok {
                blind += 1;
            }
            updates.push(Update {
                base,
                written,
                acknowledged: e.outcome == OpOutcome::Ok && base.is_some(),
            });
        }
        let acked: Vec<&Update> = updates.iter().filter(|u| u.acknowledged).collect();
        if acked.len() < 2 || blind > 0 {
            continue;
        }
        let first_run = evs
            .iter()
            .filter(|e| e.phase == Phase::Run)
            .map(|e| e.start_us)
            .fold(f64::INFINITY, f64::min);
        let last_write_end = evs
            .iter()
            .filter(|e| e.outcome == OpOutcome::Ok && written(e).is_some())
            .map(|e| e.end_us)
            .fold(f64::NEG_INFINITY, f64::max);
        let initial = evs
            .iter()
            .filter(|e| e.phase == Phase::Setup && e.outcome == OpOutcome::Ok)
            .filter(|e| e.end_us <= first_run)
            .filter_map(|e| written(e).and_then(|v| v.as_i64()).map(|v| (e.end_us, v)))
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map_or(0, |(_, v)| v);
        let read_after = evs
            .iter()
            .filter(|e| e.op == "map.get" && e.outcome == OpOutcome::Ok)
            .filter(|e| e.start_us >= last_write_end)
            .filter_map(|e| counter_value(e.value.as_ref()).map(|v| (e.end_us, v)))
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, v)| v);
        let last_written = evs
            .iter()
            .filter(|e| e.outcome == OpOutcome::Ok)
            .filter_map(|e| written(e).and_then(|v| v.as_i64()).map(|v| (e.end_us, v)))
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, v)| v);
        let final_value = read_after.or(last_written).unwrap_or(initial);
        let deltas: Vec<i128> = acked
            .iter()
            .map(|u| i128::from(u.written) - i128::from(u.base.unwrap_or(0)))
            .collect();
        // A counter moves one way: every update adds, or every update takes away (a register
        // written with values read and changed at random is checked for linearizability
        // only).
        if !(deltas.iter().all(|d| *d > 0) || deltas.iter().all(|d| *d < 0)) {
            continue;
        }
        // Wide arithmetic: a guest may write any i64 (i64::MIN, then i64::MAX).
        let expected_final = i128::from(initial) + deltas.iter().sum::<i128>();
        let missing = expected_final - i128::from(final_value);
        let uniform = deltas
            .first()
            .filter(|d| **d != 0 && deltas.iter().all(|x| x == *d))
            .copied()
            .filter(|d| missing % d == 0);
        let lost_updates = match uniform {
            Some(d) => to_i64(missing / d),
            None => to_i64(acked.len() as i128 - matched_writes(&updates, final_value) as i128),
        };
        out.push(CounterCheck {
            run: None,
            scenario,
            map,
            key: evs[0].args[0].clone(),
            initial,
            final_value,
            updates: acked.len() as u64,
            delta: uniform.map(to_i64),
            expected_final: to_i64(expected_final),
            lost_updates,
            uncertain_writes: updates.iter().filter(|u| !u.acknowledged).count() as u64,
        });
    }
    out
}

/// Acknowledged writes whose value some update was based on, or that the counter ended
/// with: those that were not overwritten unseen.
fn matched_writes(updates: &[Update], final_value: i64) -> u64 {
    let mut written: BTreeMap<i64, u64> = BTreeMap::new();
    let mut readers: BTreeMap<i64, u64> = BTreeMap::new();
    for u in updates {
        if u.acknowledged {
            *written.entry(u.written).or_default() += 1;
        }
        if let Some(b) = u.base {
            *readers.entry(b).or_default() += 1;
        }
    }
    *readers.entry(final_value).or_default() += 1;
    written
        .iter()
        .map(|(v, n)| (*n).min(readers.get(v).copied().unwrap_or(0)))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::super::test_support::ev;
    use super::super::{check, Phase};
    use super::*;
    use serde_json::json;

    fn get(instance: u32, v: serde_json::Value, t: f64) -> Event {
        ev(
            Phase::Run,
            instance,
            "map.get",
            "c",
            vec![json!("k")],
            OpOutcome::Ok,
            Some(v),
            t,
        )
    }

    fn set(phase: Phase, instance: u32, v: serde_json::Value, t: f64) -> Event {
        ev(
            phase,
            instance,
            "map.set",
            "c",
            vec![json!("k"), v],
            OpOutcome::Ok,
            None,
            t,
        )
    }

    fn cas(instance: u32, old: i64, new: i64, ok: bool, t: f64) -> Event {
        ev(
            Phase::Run,
            instance,
            "replace.replace-if-same",
            "c",
            vec![json!("k"), json!(old), json!(new)],
            OpOutcome::Ok,
            Some(json!(ok)),
            t,
        )
    }

    /// A guest may write any integer: `final − initial` and the deltas overflow i64.
    #[test]
    fn counters_at_the_ends_of_i64_do_not_overflow() {
        let events = vec![
            set(Phase::Setup, 0, json!(i64::MIN), 1.0),
            get(0, json!(i64::MIN), 2.0),
            set(Phase::Run, 0, json!(1), 3.0),
            get(1, json!(1), 4.0),
            set(Phase::Run, 1, json!(i64::MAX), 5.0),
        ];
        let c = check(&events);
        assert_eq!(c.counters.len(), 1);
        let k = &c.counters[0];
        assert_eq!((k.initial, k.final_value), (i64::MIN, i64::MAX));
        assert_eq!(k.expected_final, i64::MAX);
        assert_eq!(k.lost_updates, 0, "two different deltas, both read");
        assert_eq!(k.delta, None);
    }

    #[test]
    fn lost_updates_on_a_counter() {
        let mut h = vec![set(Phase::Setup, 0, json!(0), 0.0)];
        // Two instances read 0 and both write 1: one increment lost. Then instance 0 reads 1
        // and writes 2; an unknown write of 3 does not count.
        h.push(get(0, json!(0), 1.0));
        h.push(get(1, json!(0), 1.1));
        h.push(set(Phase::Run, 0, json!(1), 2.0));
        h.push(set(Phase::Run, 1, json!(1), 2.1));
        h.push(get(0, json!(1), 3.0));
        h.push(ev(
            Phase::Run,
            0,
            "map.put",
            "c",
            vec![json!("k"), json!(2)],
            OpOutcome::Ok,
            Some(json!(1)),
            4.0,
        ));
        h.push(get(1, json!(2), 4.2));
        let mut unknown = set(Phase::Run, 1, json!(3), 4.5);
        unknown.outcome = OpOutcome::Unknown;
        unknown.error = Some("cluster unavailable".into());
        h.push(unknown);
        h.push(ev(
            Phase::Verify,
            0,
            "map.get",
            "c",
            vec![json!("k")],
            OpOutcome::Ok,
            Some(json!(2)),
            9.0,
        ));
        // A key written once per instance (populate) is no counter.
        h.push(ev(
            Phase::Run,
            0,
            "map.set",
            "m",
            vec![json!(1), json!(1)],
            OpOutcome::Ok,
            None,
            1.0,
        ));
        let c = check(&h);
        assert_eq!(c.ops, 11);
        assert_eq!(c.unknown, 1);
        assert_eq!(c.counters.len(), 1);
        let k = &c.counters[0];
        assert_eq!((k.initial, k.final_value, k.updates), (0, 2, 3));
        assert_eq!((k.delta, k.expected_final), (Some(1), 3));
        assert_eq!(k.lost_updates, 1);
        assert_eq!(k.uncertain_writes, 1);
        assert!(!c.clean());
    }

    #[test]
    fn optimistic_writes_count_only_when_replaced() {
        let mut h = vec![set(Phase::Setup, 0, json!(0), 0.0)];
        for (i, (new, replaced)) in [(1, true), (1, false), (2, true)].iter().enumerate() {
            h.push(cas(i as u32, new - 1, *new, *replaced, 1.0 + i as f64));
        }
        let c = check(&h);
        assert_eq!(c.counters[0].updates, 2);
        assert_eq!(c.counters[0].final_value, 2);
        assert_eq!(c.counters[0].lost_updates, 0);
        assert!(c.clean());
    }

    /// The ticket sale: a stock of 100 decremented by replace-if-same is 0 lost, not 200;
    /// the blind variant (get + put) loses exactly the oversold tickets.
    #[test]
    fn decrements_are_followed() {
        let mut h = vec![set(Phase::Setup, 0, json!(100), 0.0)];
        for (i, s) in (1..=100).rev().enumerate() {
            // A refused attempt by another instance, with a stale value, before each sale.
            h.push(cas(1, s + 1, s, false, i as f64 * 3.0 + 1.0));
            h.push(cas(0, s, s - 1, true, i as f64 * 3.0 + 2.0));
        }
        let c = check(&h);
        let k = &c.counters[0];
        assert_eq!((k.initial, k.final_value, k.updates), (100, 0, 100));
        assert_eq!((k.delta, k.lost_updates), (Some(-1), 0), "{k:?}");
        assert!(c.clean());

        // Blind: two instances read each stock level and both sell: 100 → 50 with 100 sales,
        // then one sells 50 alone: 150 sold, 50 oversold.
        let mut h = vec![set(Phase::Setup, 0, json!(100), 0.0)];
        let mut t = 1.0;
        for s in (51..=100).rev() {
            for i in 0..2 {
                h.push(get(i, json!(s), t));
                t += 1.0;
            }
            for i in 0..2 {
                h.push(ev(
                    Phase::Run,
                    i,
                    "map.put",
                    "c",
                    vec![json!("k"), json!(s - 1)],
                    OpOutcome::Ok,
                    Some(json!(s)),
                    t,
                ));
                t += 1.0;
            }
        }
        for s in (1..=50).rev() {
            h.push(get(0, json!(s), t));
            h.push(set(Phase::Run, 0, json!(s - 1), t + 1.0));
            t += 2.0;
        }
        let c = check(&h);
        let k = &c.counters[0];
        assert_eq!((k.final_value, k.updates, k.expected_final), (0, 150, -50));
        assert_eq!(k.lost_updates, 50, "{k:?}");
        assert!(!c.clean());
    }

    #[test]
    fn mixed_deltas_match_written_values_with_reads() {
        // 0 → +5 (read) → +2 by two instances from 5: one of the two is lost.
        let h = vec![
            set(Phase::Setup, 0, json!(0), 0.0),
            get(0, json!(0), 1.0),
            set(Phase::Run, 0, json!(5), 2.0),
            get(0, json!(5), 3.0),
            get(1, json!(5), 3.1),
            set(Phase::Run, 0, json!(7), 4.0),
            set(Phase::Run, 1, json!(7), 4.1),
        ];
        let k = &check(&h).counters[0];
        assert_eq!(k.delta, None);
        assert_eq!(
            (k.updates, k.final_value, k.lost_updates),
            (3, 7, 1),
            "{k:?}"
        );
    }

    #[test]
    fn blind_writes_are_no_counter() {
        let h = vec![
            set(Phase::Run, 0, json!(1), 1.0),
            set(Phase::Run, 1, json!(2), 2.0),
            set(Phase::Run, 0, json!(3), 3.0),
        ];
        assert!(check(&h).counters.is_empty());
    }
}
