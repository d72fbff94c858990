//! Which checker applies to which structure, and running them over a history.
//!
//! Each run of a history (see [`Event::run`]) is checked apart. With [`Model::Auto`], the
//! checkers pick their structures from the operations:
//!
//! | structure | inferred from | checker |
//! | --- | --- | --- |
//! | counter key | ≥ 2 acknowledged read-modify-writes of integers in `run`, no blind write | lost updates ([`super::counter`]) |
//! | map key | any `map.*` / `replace.*` operation on it | linearizability ([`super::register`]); a counter key's read and the write after it are one operation |
//! | lock | `lock.lock`, `try-lock`, `unlock` | mutual exclusion ([`super::lock`]) |
//! | queue | `queue.offer` / `put` | lost, duplicated, unexpected items ([`super::queue`]) |
//! | map as a set | ≥ 2 keys written and read again after their last write | lost keys ([`super::set`]) |
//!
//! Naming a model ([`Model::Register`], …) runs that checker alone; `register` then checks
//! every key as a plain register, each operation on its own.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use super::counter::{check_counters, CounterCheck};
use super::lock::{check_locks, LockCheck};
use super::queue::{check_queues, QueueCheck};
use super::register::{self, Budget, LinearizabilityCheck, Verdict};
use super::set::{check_sets, SetCheck};
use super::{key_text, Event, OpOutcome};

/// Which checkers run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Model {
    /// Every checker, each on the structures it recognizes.
    #[default]
    Auto,
    /// Linearizability of every map key as a register.
    Register,
    Lock,
    Queue,
    Set,
}

impl FromStr for Model {
    type Err = String;
    fn from_str(s: &str) -> Result<Model, String> {
        Ok(match s {
            "auto" => Model::Auto,
            "register" | "linearizable" => Model::Register,
            "lock" => Model::Lock,
            "queue" => Model::Queue,
            "set" => Model::Set,
            _ => {
                return Err(format!(
                    "unknown model `{s}` (one of auto, register, lock, queue, set)"
                ))
            }
        })
    }
}

impl fmt::Display for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Model::Auto => "auto",
            Model::Register => "register",
            Model::Lock => "lock",
            Model::Queue => "queue",
            Model::Set => "set",
        })
    }
}

/// What to check and how much the linearizability search may spend.
#[derive(Debug, Clone, Default)]
pub struct Models {
    pub model: Model,
    /// Per structure (map, lock or queue name): the model a plan names for it; in `auto`,
    /// the structures named here are checked with that model only.
    pub named: BTreeMap<String, Model>,
    pub budget: Budget,
}

/// What the checkers found in a history.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct HistoryCheck {
    /// Operations in the history, and how many ended ok, failed, unknown.
    pub ops: u64,
    pub ok: u64,
    pub failed: u64,
    pub unknown: u64,
    /// Map keys updated by read-modify-write in `run` (counters).
    pub counters: Vec<CounterCheck>,
    /// Queues items were added to.
    pub queues: Vec<QueueCheck>,
    /// Maps whose keys were checked for linearizability.
    pub linearizability: Vec<LinearizabilityCheck>,
    pub locks: Vec<LockCheck>,
    pub sets: Vec<SetCheck>,
}

impl HistoryCheck {
    /// Whether every check holds: no update, item or key lost, no lock held twice, every
    /// key linearizable (a counter may be ahead by up to its uncertain writes; a key whose
    /// search ran out of budget does not hold).
    pub fn clean(&self) -> bool {
        self.counters.iter().all(CounterCheck::clean)
            && self.queues.iter().all(QueueCheck::clean)
            && self.locks.iter().all(LockCheck::clean)
            && self.sets.iter().all(SetCheck::clean)
            && self
                .linearizability
                .iter()
                .all(|l| l.verdict() == Verdict::Linearizable)
    }

    /// Whether some check is violated (not merely undecided).
    pub fn violated(&self) -> bool {
        self.counters.iter().any(|c| !c.clean())
            || self.queues.iter().any(|q| !q.clean())
            || self.locks.iter().any(|l| !l.clean())
            || self.sets.iter().any(|s| !s.clean())
            || self
                .linearizability
                .iter()
                .any(|l| l.verdict() == Verdict::NotLinearizable)
    }
}

/// Checks a history with every checker ([`Model::Auto`]).
pub fn check(events: &[Event]) -> HistoryCheck {
    check_with(events, &Models::default())
}

/// Checks a history with the checkers `models` names.
pub fn check_with(events: &[Event], models: &Models) -> HistoryCheck {
    // The time budget is for the whole history: keys searched after it ran out are
    // undecided at once, so a history of many hard keys cannot keep the check going.
    let deadline = std::time::Instant::now() + models.budget.time;
    let mut c = HistoryCheck::default();
    for e in events {
        c.ops += 1;
        match e.outcome {
            OpOutcome::Ok => c.ok += 1,
            OpOutcome::Failed => c.failed += 1,
            OpOutcome::Unknown => c.unknown += 1,
        }
    }
    // Each run apart, in the order they first appear.
    let mut runs: Vec<(Option<&str>, Vec<usize>)> = Vec::new();
    for (i, e) in events.iter().enumerate() {
        let run = e.run.as_deref();
        match runs.iter_mut().find(|(r, _)| *r == run) {
            Some((_, group)) => group.push(i),
            None => runs.push((run, vec![i])),
        }
    }
    // Whether `structure` gets checker `m`.
    let wants = |structure: &str, m: Model| match models.named.get(structure) {
        Some(named) => *named == m,
        None => models.model == Model::Auto || models.model == m,
    };
    for (run, group) in runs {
        let label = run.map(str::to_owned);
        let refs: Vec<&Event> = group.iter().map(|&i| &events[i]).collect();
        let mut counters: Vec<CounterCheck> = check_counters(&refs);
        let rmw: BTreeSet<(String, String)> = counters
            .iter()
            .map(|k| (k.map.clone(), key_text(&k.key)))
            .collect();
        counters.retain(|k| models.model == Model::Auto && !models.named.contains_key(&k.map));
        let pair = |map: &str, key: &str| {
            models.model != Model::Register && rmw.contains(&(map.to_owned(), key.to_owned()))
        };
        c.counters.extend(counters.into_iter().map(|mut k| {
            k.run = label.clone();
            k
        }));
        c.queues.extend(
            check_queues(&refs)
                .into_iter()
                .filter(|q| wants(&q.queue, Model::Queue))
                .map(|mut q| {
                    q.run = label.clone();
                    q
                }),
        );
        c.locks.extend(
            check_locks(&refs)
                .into_iter()
                .filter(|l| wants(&l.map, Model::Lock))
                .map(|mut l| {
                    l.run = label.clone();
                    l
                }),
        );
        c.sets.extend(
            check_sets(&refs)
                .into_iter()
                .filter(|s| wants(&s.map, Model::Set))
                .map(|mut s| {
                    s.run = label.clone();
                    s
                }),
        );
        let keys = register::key_histories(events, &group, &pair);
        let mut maps: BTreeMap<String, LinearizabilityCheck> = BTreeMap::new();
        for ((map, key), h) in &keys {
            if !wants(map, Model::Register) {
                continue;
            }
            let budget = register::Budget {
                time: deadline.saturating_duration_since(std::time::Instant::now()),
                ..models.budget
            };
            let k = register::check_key(h, events, &budget);
            let l = maps
                .entry(map.clone())
                .or_insert_with(|| LinearizabilityCheck {
                    run: label.clone(),
                    map: map.clone(),
                    model: "register".into(),
                    keys: 0,
                    ops: 0,
                    unknown_ops: 0,
                    linearizable: 0,
                    not_linearizable: 0,
                    undecided: 0,
                    key_checks: Vec::new(),
                });
            if pair(map, key) {
                l.model = "read-modify-write".into();
            }
            l.keys += 1;
            l.ops += k.ops;
            l.unknown_ops += h.unknown_ops() as u64;
            match k.verdict {
                Verdict::Linearizable => l.linearizable += 1,
                Verdict::NotLinearizable => l.not_linearizable += 1,
                Verdict::Unknown => l.undecided += 1,
            }
            l.key_checks.push(k);
        }
        for (_, mut l) in maps {
            if l.key_checks.len() > 20 {
                l.key_checks.retain(|k| k.verdict != Verdict::Linearizable);
                l.key_checks.truncate(20);
            }
            c.linearizability.push(l);
        }
    }
    c
}
