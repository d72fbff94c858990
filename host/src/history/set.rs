//! Sets (Jepsen's set checker over a map): acknowledged writes to distinct keys that a final
//! read finds missing.
//!
//! A map is checked as a set when at least two of its keys were written and read again after
//! their last write. For each such key: an acknowledged write (`put`, `set`, a
//! `put-if-absent` or `replace` that applied, a `replace-if-same` that answered true) that no
//! `remove` or `clear` may have undone, followed by a read (`get` or `contains-key`, started
//! after every write of the key ended) that finds nothing, is lost. A write of unknown outcome
//! is uncertain when the final read finds nothing and recovered when it finds the key. Keys the
//! final reads find that the history never wrote are unexpected (they may be left over from
//! before the history: reported, not failed).

use std::collections::BTreeMap;

use serde::Serialize;

use super::counter::written;
use super::{key_text, Event, OpOutcome};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SetCheck {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    pub map: String,
    /// Keys written with an acknowledgement and read again at the end.
    pub acknowledged: u64,
    /// Of those, found by the final read.
    pub present: u64,
    pub lost: u64,
    /// Keys whose only writes were of unknown outcome, missing at the end.
    pub uncertain: u64,
    /// Keys whose only writes were of unknown outcome, present at the end.
    pub recovered: u64,
    pub unexpected: u64,
    /// The first few lost keys.
    pub lost_keys: Vec<serde_json::Value>,
}

impl SetCheck {
    pub fn clean(&self) -> bool {
        self.lost == 0
    }
}

#[derive(Default)]
struct Key {
    key: Option<serde_json::Value>,
    acked_end: Option<f64>,
    unknown_start: Option<f64>,
    /// Start of the last remove or clear that may have taken the key away.
    removed: Option<f64>,
    /// The last read: (start, found).
    last_read: Option<(f64, bool)>,
}

pub(super) fn check_sets(events: &[&Event]) -> Vec<SetCheck> {
    let mut maps: BTreeMap<String, BTreeMap<String, Key>> = BTreeMap::new();
    let mut clears: BTreeMap<String, f64> = BTreeMap::new();
    let mut sorted: Vec<&Event> = events.to_vec();
    sorted.sort_by(|a, b| a.start_us.total_cmp(&b.start_us));
    for e in sorted {
        if e.op == "map.clear" && e.outcome != OpOutcome::Failed {
            clears.insert(e.name.clone(), e.start_us);
            continue;
        }
        if !(e.op.starts_with("map.") || e.op.starts_with("replace.")) {
            continue;
        }
        let Some(k) = e.args.first() else { continue };
        let key = maps
            .entry(e.name.clone())
            .or_default()
            .entry(key_text(k))
            .or_default();
        key.key.get_or_insert_with(|| k.clone());
        match e.op.as_str() {
            "map.get" | "map.contains-key" if e.outcome == OpOutcome::Ok => {
                let found = match &e.value {
                    Some(serde_json::Value::Bool(b)) if e.op == "map.contains-key" => *b,
                    Some(v) => !v.is_null(),
                    None => false,
                };
                key.last_read = Some((e.start_us, found));
            }
            "map.remove" if e.outcome != OpOutcome::Failed => key.removed = Some(e.start_us),
            _ if written(e).is_some() => match e.outcome {
                OpOutcome::Ok => {
                    key.acked_end = Some(e.end_us.max(key.acked_end.unwrap_or(0.0)));
                }
                OpOutcome::Unknown => {
                    key.unknown_start.get_or_insert(e.start_us);
                }
                OpOutcome::Failed => {}
            },
            _ => {}
        }
    }
    let mut out = Vec::new();
    for (map, keys) in maps {
        let cleared = clears.get(&map).copied();
        let mut c = SetCheck {
            run: None,
            map: map.clone(),
            acknowledged: 0,
            present: 0,
            lost: 0,
            uncertain: 0,
            recovered: 0,
            unexpected: 0,
            lost_keys: Vec::new(),
        };
        let mut checked = 0;
        for k in keys.values() {
            let last_write = k.acked_end.or(k.unknown_start);
            let Some((read_at, found)) = k.last_read else {
                continue;
            };
            let Some(last_write) = last_write else {
                if found {
                    c.unexpected += 1;
                }
                continue;
            };
            // A read that may have overlapped a write, or a remove since: nothing to say.
            if read_at < last_write
                || k.removed.is_some_and(|r| r <= read_at)
                || cleared.is_some_and(|r| r <= read_at)
            {
                continue;
            }
            checked += 1;
            match (k.acked_end.is_some(), found) {
                (true, true) => {
                    c.acknowledged += 1;
                    c.present += 1;
                }
                (true, false) => {
                    c.acknowledged += 1;
                    c.lost += 1;
                    if c.lost_keys.len() < 10 {
                        c.lost_keys.extend(k.key.clone());
                    }
                }
                (false, true) => c.recovered += 1,
                (false, false) => c.uncertain += 1,
            }
        }
        if checked >= 2 {
            out.push(c);
        }
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
    fn missing_acknowledged_keys_are_lost() {
        use OpOutcome::{Ok, Unknown};
        let mut h = Vec::new();
        for k in 0..4 {
            let outcome = if k == 3 { Unknown } else { Ok };
            h.push(ev(
                Phase::Run,
                k,
                "map.set",
                "s",
                vec![json!(k), json!("x")],
                outcome,
                None,
                k as f64,
            ));
        }
        // Final reads: 1 is missing (lost), 3 (unknown write) is missing (uncertain), 9 was
        // never written.
        for (k, found) in [(0, true), (1, false), (2, true), (3, false), (9, true)] {
            h.push(ev(
                Phase::Verify,
                0,
                "map.get",
                "s",
                vec![json!(k)],
                Ok,
                Some(if found { json!("x") } else { json!(null) }),
                10.0 + k as f64,
            ));
        }
        let c = check(&h);
        let s = &c.sets[0];
        assert_eq!((s.acknowledged, s.present, s.lost), (3, 2, 1), "{s:?}");
        assert_eq!((s.uncertain, s.recovered, s.unexpected), (1, 0, 1));
        assert_eq!(s.lost_keys, vec![json!(1)]);
        assert!(!c.clean());
    }
}
