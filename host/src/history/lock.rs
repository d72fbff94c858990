//! Locks: intervals in which two owners both held a lock.
//!
//! An owner (one instance of one scenario in one phase) holds a lock from the
//! acknowledgement (end) of the `lock` or `try-lock` that took it to the start of the `unlock`
//! that released it; a lock taken again by its owner (reentrancy) is released by its last
//! unlock. Unknown outcomes never make a hold longer: an acquire of unknown outcome is counted
//! as uncertain and not as held, an unlock of unknown outcome ends the hold at its start. A
//! lock its owner never unlocked is held until the owner's last operation (the host releases
//! the locks of an instance that ends). Two holds of different owners that overlap are a
//! violation of mutual exclusion.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{key_text, Event, OpOutcome};
use crate::results::Phase;

/// One hold of a lock.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hold {
    pub scenario: String,
    pub instance: u32,
    pub from_us: f64,
    pub to_us: f64,
}

/// A lock (a key of a map) and how its holds went.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LockCheck {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    pub map: String,
    pub key: serde_json::Value,
    /// Holds (first acquire to last release of one owner).
    pub holds: u64,
    /// Acquires acknowledged, reentrant ones included.
    pub acquisitions: u64,
    /// Pairs of holds of different owners that overlap.
    pub overlaps: u64,
    /// The first few overlapping pairs.
    pub examples: Vec<[Hold; 2]>,
    /// Acquires and unlocks of unknown outcome.
    pub uncertain: u64,
    /// Unlocks the cluster refused while the owner thought it held the lock (it was lost).
    pub lost: u64,
    /// Unlocks acknowledged by an owner that held nothing.
    pub unowned_unlocks: u64,
}

impl LockCheck {
    pub fn clean(&self) -> bool {
        self.overlaps == 0
    }
}

type Owner = (String, Phase, u32);

pub(super) fn check_locks(events: &[&Event]) -> Vec<LockCheck> {
    let mut keys: BTreeMap<(String, String), Vec<&Event>> = BTreeMap::new();
    let mut last_op: BTreeMap<Owner, f64> = BTreeMap::new();
    for e in events {
        let owner = (e.scenario.clone(), e.phase, e.instance);
        let end = last_op.entry(owner).or_insert(f64::NEG_INFINITY);
        *end = end.max(e.end_us);
        if matches!(e.op.as_str(), "lock.lock" | "lock.try-lock" | "lock.unlock") {
            if let Some(k) = e.args.first() {
                keys.entry((e.name.clone(), key_text(k)))
                    .or_default()
                    .push(e);
            }
        }
    }
    let mut out = Vec::new();
    for ((map, _), mut evs) in keys {
        evs.sort_by(|a, b| a.start_us.total_cmp(&b.start_us));
        let key = evs[0].args[0].clone();
        // Per owner: reentrancy count, start of the hold, uncertain acquires not yet matched.
        let mut owners: BTreeMap<Owner, (u32, f64, u32)> = BTreeMap::new();
        let mut holds: Vec<Hold> = Vec::new();
        let (mut acquisitions, mut uncertain, mut lost, mut unowned) = (0, 0, 0, 0);
        for e in &evs {
            let owner = (e.scenario.clone(), e.phase, e.instance);
            let st = owners.entry(owner).or_insert((0, 0.0, 0));
            let hold = |from: f64, to: f64| Hold {
                scenario: e.scenario.clone(),
                instance: e.instance,
                from_us: from,
                to_us: to,
            };
            match (e.op.as_str(), e.outcome) {
                ("lock.lock", OpOutcome::Ok) | ("lock.try-lock", OpOutcome::Ok)
                    if e.op == "lock.lock" || e.value == Some(serde_json::Value::Bool(true)) =>
                {
                    acquisitions += 1;
                    if st.0 == 0 {
                        st.1 = e.end_us;
                    }
                    st.0 += 1;
                }
                ("lock.lock" | "lock.try-lock", OpOutcome::Unknown) => {
                    uncertain += 1;
                    st.2 += 1;
                }
                ("lock.unlock", outcome) => {
                    if st.0 == 0 {
                        match outcome {
                            _ if st.2 > 0 => st.2 -= 1,
                            OpOutcome::Ok => unowned += 1,
                            _ => {}
                        }
                        if outcome == OpOutcome::Unknown {
                            uncertain += 1;
                        }
                        continue;
                    }
                    match outcome {
                        OpOutcome::Ok => {
                            st.0 -= 1;
                            if st.0 == 0 {
                                holds.push(hold(st.1, e.start_us));
                            }
                        }
                        OpOutcome::Unknown => {
                            uncertain += 1;
                            st.0 = 0;
                            holds.push(hold(st.1, e.start_us));
                        }
                        OpOutcome::Failed => {
                            // Not the owner any more: when it lost the lock is not known,
                            // so its hold claims nothing.
                            lost += 1;
                            st.0 = 0;
                        }
                    }
                }
                _ => {}
            }
        }
        for ((scenario, phase, instance), (count, from, _)) in &owners {
            if *count > 0 {
                let to = last_op[&(scenario.clone(), *phase, *instance)];
                holds.push(Hold {
                    scenario: scenario.clone(),
                    instance: *instance,
                    from_us: *from,
                    to_us: to,
                });
            }
        }
        holds.sort_by(|a, b| a.from_us.total_cmp(&b.from_us));
        let mut overlaps = 0u64;
        let mut examples = Vec::new();
        for (i, a) in holds.iter().enumerate() {
            for b in &holds[i + 1..] {
                if b.from_us >= a.to_us {
                    break;
                }
                if (a.scenario.as_str(), a.instance) != (b.scenario.as_str(), b.instance) {
                    overlaps += 1;
                    if examples.len() < 5 {
                        examples.push([a.clone(), b.clone()]);
                    }
                }
            }
        }
        out.push(LockCheck {
            run: None,
            map,
            key,
            holds: holds.len() as u64,
            acquisitions,
            overlaps,
            examples,
            uncertain,
            lost,
            unowned_unlocks: unowned,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::test_support::ev;
    use super::super::{check, Phase};
    use super::*;
    use serde_json::json;

    fn op(instance: u32, op: &str, outcome: OpOutcome, t: f64) -> Event {
        let value = (op == "lock.try-lock").then_some(serde_json::Value::Bool(true));
        ev(
            Phase::Run,
            instance,
            op,
            "m",
            vec![json!("k")],
            outcome,
            value,
            t,
        )
    }

    #[test]
    fn exclusive_holds_pass_and_overlaps_are_found() {
        use OpOutcome::Ok;
        // 0 holds [1.5, 3], 1 waits for it and holds [3.5, 5]; reentrant lock by 1.
        let h = vec![
            op(0, "lock.lock", Ok, 1.0),
            op(1, "lock.lock", Ok, 3.0),
            op(0, "lock.unlock", Ok, 3.0),
            op(1, "lock.try-lock", Ok, 4.0),
            op(1, "lock.unlock", Ok, 4.5),
            op(1, "lock.unlock", Ok, 5.0),
        ];
        let c = check(&h);
        let l = &c.locks[0];
        assert_eq!((l.holds, l.acquisitions, l.overlaps), (2, 3, 0), "{l:?}");
        assert!(c.clean());
        // 2 takes it while 1 still holds it.
        let mut h = h;
        h.push(op(2, "lock.lock", Ok, 4.2));
        h.push(op(2, "lock.unlock", Ok, 4.8));
        let c = check(&h);
        let l = &c.locks[0];
        assert_eq!(l.overlaps, 1, "{l:?}");
        assert_eq!(l.examples[0][0].instance, 1);
        assert_eq!(l.examples[0][1].instance, 2);
        assert!(!c.clean());
    }

    #[test]
    fn unknown_outcomes_claim_no_hold() {
        use OpOutcome::{Ok, Unknown};
        // 0's lock timed out (maybe taken); 1 takes it meanwhile; 0's unlock of unknown outcome.
        let h = vec![
            op(0, "lock.lock", Unknown, 1.0),
            op(1, "lock.lock", Ok, 2.0),
            op(0, "lock.unlock", Unknown, 2.2),
            op(1, "lock.unlock", Ok, 3.0),
        ];
        let c = check(&h);
        assert_eq!((c.locks[0].overlaps, c.locks[0].uncertain), (0, 2));
        assert!(c.clean());
    }

    #[test]
    fn a_hold_never_unlocked_lasts_to_the_owners_last_operation() {
        use OpOutcome::Ok;
        let mut h = vec![op(0, "lock.lock", Ok, 1.0)];
        h.push(ev(
            Phase::Run,
            0,
            "map.get",
            "m",
            vec![json!("k")],
            Ok,
            Some(json!(null)),
            5.0,
        ));
        h.push(op(1, "lock.lock", Ok, 3.0));
        let c = check(&h);
        assert_eq!(c.locks[0].overlaps, 1);
    }
}
