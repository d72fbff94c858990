//! Queues: every acknowledged `offer`/`put` item is taken exactly once or is still in the
//! queue at the end (by the last `size` read after the last add, or a final drain), items taken
//! that were never offered, and duplicates; lost, duplicated, unexpected and uncertain items are
//! counted apart.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{key_text, Event, OpOutcome};

/// A queue: items added, taken, and those lost, duplicated or uncertain.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueCheck {
    /// The run it belongs to, in a history of several (see [`Event::run`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    pub queue: String,
    /// Distinct items added (offer true, put ok).
    pub added: u64,
    /// Distinct items taken (poll with an item, take ok).
    pub taken: u64,
    /// Items still in the queue at the end, by the last `size` read after the last add.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remaining: Option<u64>,
    /// Items added but never taken and not accounted for by `remaining`.
    pub lost: u64,
    /// Extra takes of items added once.
    pub duplicated: u64,
    /// Items whose add had an unknown outcome and that were never taken, plus takes with an
    /// unknown outcome (an item may have been removed and not delivered).
    pub uncertain: u64,
    /// Items taken that this history never added (left over from before, or added by
    /// another client).
    pub unexpected: u64,
}

impl QueueCheck {
    /// Whether no item was lost or duplicated (unexpected items may be left over from
    /// before the history, so they are reported, not failed).
    pub fn clean(&self) -> bool {
        self.lost == 0 && self.duplicated == 0
    }
}

pub(super) fn check_queues(events: &[&Event]) -> Vec<QueueCheck> {
    #[derive(Default)]
    struct Q {
        added: BTreeMap<String, u64>,
        add_unknown: BTreeMap<String, u64>,
        taken: BTreeMap<String, u64>,
        take_unknown: u64,
        last_add_end: f64,
        sizes: Vec<(f64, f64, u64)>,
    }
    let mut queues: BTreeMap<String, Q> = BTreeMap::new();
    for e in events {
        match e.op.as_str() {
            "queue.offer" | "queue.put" => {
                let q = queues.entry(e.name.clone()).or_default();
                let Some(item) = e.args.first() else { continue };
                let added = e.op == "queue.put" || e.value == Some(serde_json::Value::Bool(true));
                match e.outcome {
                    OpOutcome::Ok if added => {
                        *q.added.entry(key_text(item)).or_default() += 1;
                        q.last_add_end = q.last_add_end.max(e.end_us);
                    }
                    OpOutcome::Unknown => {
                        *q.add_unknown.entry(key_text(item)).or_default() += 1;
                    }
                    _ => {}
                }
            }
            "queue.poll" | "queue.take" => {
                let Some(q) = queues.get_mut(&e.name) else {
                    // Taken before anything was added (draining leftovers): not checked.
                    continue;
                };
                match (e.outcome, &e.value) {
                    (OpOutcome::Ok, Some(v)) if !v.is_null() => {
                        *q.taken.entry(key_text(v)).or_default() += 1;
                    }
                    (OpOutcome::Unknown, _) => q.take_unknown += 1,
                    _ => {}
                }
            }
            "queue.size" if e.outcome == OpOutcome::Ok => {
                if let Some(n) = e.value.as_ref().and_then(|v| v.as_u64()) {
                    queues
                        .entry(e.name.clone())
                        .or_default()
                        .sizes
                        .push((e.start_us, e.end_us, n));
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    for (name, q) in queues {
        if q.added.is_empty() && q.add_unknown.is_empty() {
            continue;
        }
        let remaining = q
            .sizes
            .iter()
            .filter(|(start, _, _)| *start >= q.last_add_end)
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(_, _, n)| *n);
        let mut not_taken = 0u64;
        let mut duplicated = 0u64;
        for (item, n) in &q.added {
            match q.taken.get(item) {
                None => not_taken += 1,
                Some(t) if t > n => duplicated += t - n,
                Some(_) => {}
            }
        }
        let uncertain = q
            .add_unknown
            .keys()
            .filter(|k| !q.added.contains_key(*k) && !q.taken.contains_key(*k))
            .count() as u64
            + q.take_unknown;
        let unexpected = q
            .taken
            .keys()
            .filter(|k| !q.added.contains_key(*k) && !q.add_unknown.contains_key(*k))
            .count() as u64;
        out.push(QueueCheck {
            run: None,
            queue: name,
            added: q.added.len() as u64,
            taken: q.taken.keys().filter(|k| q.added.contains_key(*k)).count() as u64,
            remaining,
            lost: not_taken.saturating_sub(remaining.unwrap_or(0)),
            duplicated,
            uncertain,
            unexpected,
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

    #[test]
    fn queue_items_lost_duplicated_uncertain() {
        use OpOutcome::{Ok, Unknown};
        let q = "q";
        let mut h = Vec::new();
        // Draining leftovers before anything was added is not checked.
        h.push(ev(
            Phase::Setup,
            0,
            "queue.poll",
            q,
            vec![json!(null)],
            Ok,
            Some(json!(99)),
            0.0,
        ));
        for i in 1..=5 {
            h.push(ev(
                Phase::Run,
                0,
                "queue.offer",
                q,
                vec![json!(i), json!(null)],
                Ok,
                Some(json!(true)),
                i as f64,
            ));
        }
        // A refused offer adds nothing; an unknown one is uncertain.
        h.push(ev(
            Phase::Run,
            0,
            "queue.offer",
            q,
            vec![json!(6), json!(null)],
            Ok,
            Some(json!(false)),
            6.0,
        ));
        h.push(ev(
            Phase::Run,
            0,
            "queue.put",
            q,
            vec![json!(7)],
            Unknown,
            None,
            7.0,
        ));
        // 1 and 2 taken, 2 twice; 3 lost; 4 and 5 remain (size 2 after the last add).
        h.push(ev(
            Phase::Run,
            1,
            "queue.take",
            q,
            vec![],
            Ok,
            Some(json!(1)),
            8.0,
        ));
        h.push(ev(
            Phase::Run,
            1,
            "queue.poll",
            q,
            vec![json!(100)],
            Ok,
            Some(json!(2)),
            9.0,
        ));
        h.push(ev(
            Phase::Run,
            2,
            "queue.poll",
            q,
            vec![json!(100)],
            Ok,
            Some(json!(2)),
            9.2,
        ));
        h.push(ev(
            Phase::Run,
            2,
            "queue.poll",
            q,
            vec![json!(100)],
            Ok,
            Some(json!(null)),
            9.4,
        ));
        h.push(ev(
            Phase::Run,
            0,
            "queue.size",
            q,
            vec![],
            Ok,
            Some(json!(2)),
            10.0,
        ));
        let c = check(&h);
        let q = &c.queues[0];
        assert_eq!((q.added, q.taken, q.remaining), (5, 2, Some(2)));
        assert_eq!(
            (q.lost, q.duplicated, q.uncertain, q.unexpected),
            (1, 1, 1, 0)
        );
        assert!(c.counters.is_empty());
    }
}
