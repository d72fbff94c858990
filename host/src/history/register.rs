//! Linearizability of map keys used as registers with compare-and-set.
//!
//! Each key of each map is checked apart (linearizability is compositional: a history is
//! linearizable when the history of every object is). The operations of a key are `map.get`,
//! `put`, `set`, `put-if-absent`, `remove`, `contains-key`, `clear` (a blind remove of every
//! key of its map), `replace.replace` and `replace.replace-if-same`. The model is a register
//! that holds a value or nothing; its value before the history is unknown (a cluster may hold
//! data from before), so the first operation that reveals it fixes it.
//!
//! Outcomes: an `ok` operation took effect once between its start and end; a `failed` one
//! never did (it is left out); an `unknown` one may have taken effect at any time after its
//! start, or never: it is checked as an operation that never returns and whose answer is not
//! known (reads of unknown outcome are left out: they change nothing and tell nothing).
//!
//! The search is Wing & Gong's, with Lowe's memoization as Porcupine implements it: a
//! depth-first search over the operations that may take effect next, remembering every
//! (set of operations taken effect, register value) configuration already explored. The set
//! is kept as a 128-bit Zobrist hash (a random number per operation, xor-ed in and out) rather
//! than a bitset, so a configuration costs 16 bytes whatever the history's length. A budget
//! of time and remembered configurations ends the search with "unknown: budget exhausted".
//!
//! Read-modify-write: where a key is a counter (see [`super::counter`]), an `ok` `map.get`
//! followed by the same instance's `set` or `put` of the key is checked as one operation (an
//! increment): a lost update then shows as a violation, two reads of one value followed by
//! two writes of the value plus one.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::{key_text, Event, OpOutcome};
use crate::results::Phase;

/// A register value: an index into the key's distinct values.
type S = u32;
/// No value (the key is absent).
const ABSENT: S = 0;
/// The value before the history: not known.
const ANY: S = u32::MAX;

/// One step of an operation on the register (an operation is one step, or two when a read
/// and a write are checked as one read-modify-write). `None` answers: the outcome is unknown.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Step {
    Get(S),
    Contains(bool),
    Put(S, Option<S>),
    Set(S),
    PutIfAbsent(S, Option<S>),
    Replace(S, Option<S>),
    Cas(S, S, Option<bool>),
    Remove(Option<S>),
}

impl Step {
    /// The register after this step from `s`, or None when the step's answer is impossible.
    fn apply(self, s: S) -> Option<S> {
        let is = |want: S| s == ANY || s == want;
        match self {
            Step::Get(out) => is(out).then_some(out),
            Step::Contains(out) => match s {
                ANY if !out => Some(ABSENT),
                ANY => Some(ANY),
                _ => ((s != ABSENT) == out).then_some(s),
            },
            Step::Put(v, None) | Step::Set(v) => Some(v),
            Step::Put(v, Some(out)) => is(out).then_some(v),
            Step::PutIfAbsent(v, None) => Some(match s {
                ANY => ANY,
                ABSENT => v,
                _ => s,
            }),
            Step::PutIfAbsent(v, Some(out)) => match out {
                ABSENT => is(ABSENT).then_some(v),
                _ => is(out).then_some(out),
            },
            Step::Replace(v, None) => Some(match s {
                ANY => ANY,
                ABSENT => ABSENT,
                _ => v,
            }),
            Step::Replace(v, Some(out)) => match out {
                ABSENT => is(ABSENT).then_some(ABSENT),
                _ => is(out).then_some(v),
            },
            Step::Cas(old, new, None) => Some(match s {
                ANY => ANY,
                _ if s == old => new,
                _ => s,
            }),
            Step::Cas(old, new, Some(true)) => is(old).then_some(new),
            Step::Cas(old, _, Some(false)) => (s != old).then_some(s),
            Step::Remove(None) => Some(ABSENT),
            Step::Remove(Some(out)) => is(out).then_some(ABSENT),
        }
    }
}

/// One operation of a key's history, as the search sees it.
#[derive(Debug, Clone)]
pub(crate) struct KeyOp {
    call: f64,
    /// `f64::INFINITY` when the outcome is unknown.
    ret: f64,
    steps: Vec<Step>,
    /// The events it stands for (indices into the history), for counterexamples.
    events: Vec<usize>,
}

/// How the search may spend itself: the time on a whole history (every key of it, see
/// [`check_with`](super::check_with)), the remembered configurations on each key.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    pub time: Duration,
    /// Configurations remembered (16 bytes each, plus the hash set's overhead).
    pub max_states: usize,
}

impl Default for Budget {
    fn default() -> Budget {
        Budget {
            time: Duration::from_secs(20),
            max_states: 20_000_000,
        }
    }
}

/// What the search concluded for a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Linearizable,
    NotLinearizable,
    /// Budget exhausted: neither proved nor refuted.
    Unknown,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Linearizable => "linearizable",
            Verdict::NotLinearizable => "not linearizable",
            Verdict::Unknown => "unknown: budget exhausted",
        }
    }
}

/// An operation of a counterexample, as the report shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OpView {
    pub instance: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scenario: Option<String>,
    /// What it did and answered: `get → 5`, `set 6`, `get → 5 · set 6`.
    pub text: String,
    pub outcome: OpOutcome,
    pub start_us: f64,
    pub end_us: f64,
}

/// Why a key is not linearizable.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Counterexample {
    /// The first operation (by end) that no order of the operations before it explains.
    pub culprit: OpView,
    /// A small window of operations, culprit included, in start order: the culprit, those
    /// running beside it, and as few of those before it as needed for the window alone to
    /// have no valid order (from any value).
    pub window: Vec<OpView>,
    /// Whether the window alone has no valid order (otherwise it is shown as context only).
    pub window_alone_invalid: bool,
    /// How many operations the longest valid prefix found put in order (every one that
    /// ended before the culprit did), and its last few in that order.
    pub valid_prefix_len: u64,
    pub valid_prefix_tail: Vec<OpView>,
}

/// One key's verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KeyCheck {
    pub key: serde_json::Value,
    pub ops: u64,
    pub verdict: Verdict,
    /// Configurations the search explored.
    pub states: u64,
    pub elapsed_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counterexample: Option<Counterexample>,
}

/// Linearizability of the keys of one map.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LinearizabilityCheck {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    pub map: String,
    /// `register`, or `read-modify-write` (a read and the write after it are one operation).
    pub model: String,
    pub keys: u64,
    pub ops: u64,
    /// Operations of unknown outcome among them.
    pub unknown_ops: u64,
    pub linearizable: u64,
    pub not_linearizable: u64,
    pub undecided: u64,
    /// Every key that is not linearizable or undecided (the first 20), and every key when
    /// the map has few.
    pub key_checks: Vec<KeyCheck>,
}

impl LinearizabilityCheck {
    pub fn verdict(&self) -> Verdict {
        if self.not_linearizable > 0 {
            Verdict::NotLinearizable
        } else if self.undecided > 0 {
            Verdict::Unknown
        } else {
            Verdict::Linearizable
        }
    }
}

/// The register operations of one key, and the values they name.
#[derive(Debug, Default)]
pub(crate) struct KeyHistory {
    pub key: Option<serde_json::Value>,
    ops: Vec<KeyOp>,
    values: Vec<serde_json::Value>,
    ids: HashMap<String, S>,
}

impl KeyHistory {
    fn id(&mut self, v: Option<&serde_json::Value>) -> S {
        match v {
            None => ABSENT,
            Some(v) if v.is_null() => ABSENT,
            Some(v) => {
                let text = v.to_string();
                if let Some(id) = self.ids.get(&text) {
                    return *id;
                }
                self.values.push(v.clone());
                let id = self.values.len() as S;
                self.ids.insert(text, id);
                id
            }
        }
    }

    fn show(&self, s: S) -> String {
        match s {
            ABSENT => "nil".into(),
            ANY => "?".into(),
            _ => self.values[s as usize - 1].to_string(),
        }
    }

    /// Operations of unknown outcome.
    pub fn unknown_ops(&self) -> usize {
        self.ops.iter().filter(|o| o.ret.is_infinite()).count()
    }
}

/// The operations a register op name stands for.
fn is_register_op(op: &str) -> bool {
    matches!(
        op,
        "map.get"
            | "map.put"
            | "map.set"
            | "map.put-if-absent"
            | "map.remove"
            | "map.contains-key"
            | "replace.replace"
            | "replace.replace-if-same"
    )
}

/// Whether an event is one the register model reads (`map.clear` included).
pub(crate) fn is_map_op(op: &str) -> bool {
    is_register_op(op) || op == "map.clear"
}

/// Splits one run's events into key histories: (map, key text) → ops. `rmw` names the maps
/// whose keys pair reads with the writes after them.
pub(crate) fn key_histories(
    events: &[Event],
    group: &[usize],
    rmw: &dyn Fn(&str, &str) -> bool,
) -> BTreeMap<(String, String), KeyHistory> {
    let mut order: Vec<usize> = group
        .iter()
        .copied()
        .filter(|&i| is_map_op(&events[i].op))
        .collect();
    order.sort_by(|&a, &b| events[a].start_us.total_cmp(&events[b].start_us));
    let mut keys: BTreeMap<(String, String), KeyHistory> = BTreeMap::new();
    // Per key: the pending read of each (scenario, phase, instance), as an op index.
    let mut pending: HashMap<(String, String, String, Phase, u32), usize> = HashMap::new();
    // Clears: applied to every key of their map once all keys are known.
    let mut clears: Vec<usize> = Vec::new();
    for &i in &order {
        let e = &events[i];
        if e.op == "map.clear" {
            clears.push(i);
            continue;
        }
        let Some(k) = e.args.first() else { continue };
        let kt = key_text(k);
        let h = keys.entry((e.name.clone(), kt.clone())).or_default();
        if h.key.is_none() {
            h.key = Some(k.clone());
        }
        let who = (
            e.name.clone(),
            kt.clone(),
            e.scenario.clone(),
            e.phase,
            e.instance,
        );
        let pair_with = pending.remove(&who);
        let ret = match e.outcome {
            // Never before its start, whatever the file says.
            OpOutcome::Ok => e.end_us.max(e.start_us),
            OpOutcome::Unknown => f64::INFINITY,
            OpOutcome::Failed => continue,
        };
        let known = e.outcome == OpOutcome::Ok;
        let val = e.value.as_ref();
        let step = match e.op.as_str() {
            "map.get" if known => Step::Get(h.id(val)),
            "map.contains-key" if known => {
                Step::Contains(val.and_then(|v| v.as_bool()).unwrap_or(false))
            }
            // A read of unknown outcome changes nothing and tells nothing.
            "map.get" | "map.contains-key" => continue,
            "map.put" => {
                let v = h.id(e.args.get(1));
                Step::Put(v, known.then(|| h.id(val)))
            }
            "map.set" => Step::Set(h.id(e.args.get(1))),
            "map.put-if-absent" => {
                let v = h.id(e.args.get(1));
                Step::PutIfAbsent(v, known.then(|| h.id(val)))
            }
            "replace.replace" => {
                let v = h.id(e.args.get(1));
                Step::Replace(v, known.then(|| h.id(val)))
            }
            "replace.replace-if-same" => {
                let old = h.id(e.args.get(1));
                let new = h.id(e.args.get(2));
                Step::Cas(
                    old,
                    new,
                    known.then(|| val.and_then(|v| v.as_bool()).unwrap_or(false)),
                )
            }
            "map.remove" => Step::Remove(known.then(|| h.id(val))),
            _ => continue,
        };
        let blind_write = matches!(step, Step::Set(_) | Step::Put(..));
        if let (Some(p), true, true) = (pair_with, blind_write, known) {
            // The read before it and this write are one read-modify-write.
            let op = &mut h.ops[p];
            op.steps.push(step);
            op.ret = ret;
            op.events.push(i);
            continue;
        }
        h.ops.push(KeyOp {
            call: e.start_us,
            ret,
            steps: vec![step],
            events: vec![i],
        });
        if matches!(step, Step::Get(_)) && rmw(&e.name, &kt) {
            pending.insert(who, h.ops.len() - 1);
        }
    }
    for i in clears {
        let e = &events[i];
        let ret = match e.outcome {
            OpOutcome::Ok => e.end_us.max(e.start_us),
            OpOutcome::Unknown => f64::INFINITY,
            OpOutcome::Failed => continue,
        };
        for ((map, _), h) in keys.iter_mut() {
            if *map == e.name {
                h.ops.push(KeyOp {
                    call: e.start_us,
                    ret,
                    steps: vec![Step::Remove(None)],
                    events: vec![i],
                });
            }
        }
    }
    keys
}

/// Hashes u128 keys that are already random by folding them.
#[derive(Default)]
struct FoldHasher(u64);

impl Hasher for FoldHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u128(&mut self, v: u128) {
        self.0 = (v as u64) ^ ((v >> 64) as u64);
    }
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn random128(seed: u64) -> u128 {
    (u128::from(splitmix(seed.wrapping_mul(2))) << 64) | u128::from(splitmix(seed * 2 + 1))
}

/// How a search ended.
#[derive(Debug)]
pub(crate) enum Search {
    /// A valid order: op indices in the order they take effect.
    Linearizable(Vec<usize>),
    NotLinearizable,
    Exhausted,
}

/// The outcome of [`search`] and what it cost.
#[derive(Debug)]
pub(crate) struct SearchStats {
    pub result: Search,
    pub states: u64,
}

/// Wing–Gong–Lowe search over `ops` from the register value `init`.
pub(crate) fn search(ops: &[&KeyOp], init: S, budget: &Budget, deadline: Instant) -> SearchStats {
    let n = ops.len();
    // Entries 1..=2n: call of op i is 2i+1, return 2i+2; 0 is the head.
    let mut entries: Vec<(f64, u8, usize)> = Vec::with_capacity(2 * n);
    for (i, op) in ops.iter().enumerate() {
        entries.push((op.call, 0, i));
        entries.push((op.ret, 1, i));
    }
    entries.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    const NIL: usize = usize::MAX;
    let len = 2 * n + 1;
    let mut next = vec![NIL; len];
    let mut prev = vec![NIL; len];
    // Node of each entry: position + 1 in the sorted order.
    let mut call_node = vec![0usize; n];
    let mut ret_node = vec![0usize; n];
    let mut node_op = vec![0usize; len];
    let mut node_is_call = vec![false; len];
    let mut last = 0usize;
    for (pos, &(_, kind, op)) in entries.iter().enumerate() {
        let node = pos + 1;
        node_op[node] = op;
        node_is_call[node] = kind == 0;
        if kind == 0 {
            call_node[op] = node;
        } else {
            ret_node[op] = node;
        }
        next[last] = node;
        prev[node] = last;
        last = node;
    }
    let zob: Vec<u128> = (0..n).map(|i| random128(i as u64 + 1)).collect();
    let state_hash = |s: S| random128(0xA5A5_0000_0000 ^ u64::from(s));
    let mut cache: HashSet<u128, BuildHasherDefault<FoldHasher>> = HashSet::default();
    let mut stack: Vec<(usize, S)> = Vec::new();
    let mut state = init;
    let mut z: u128 = 0;
    let mut entry = next[0];
    let mut steps: u64 = 0;
    let unlink = |next: &mut Vec<usize>, prev: &mut Vec<usize>, node: usize| {
        let (p, q) = (prev[node], next[node]);
        next[p] = q;
        if q != NIL {
            prev[q] = p;
        }
    };
    let relink = |next: &mut Vec<usize>, prev: &mut Vec<usize>, node: usize| {
        let (p, q) = (prev[node], next[node]);
        next[p] = node;
        if q != NIL {
            prev[q] = node;
        }
    };
    while next[0] != NIL {
        steps += 1;
        if steps & 0x3FF == 0 && (Instant::now() > deadline || cache.len() > budget.max_states) {
            return SearchStats {
                result: Search::Exhausted,
                states: cache.len() as u64,
            };
        }
        if entry == NIL {
            // Cannot happen: a return entry always stops the walk first.
            break;
        }
        let op = node_op[entry];
        if node_is_call[entry] {
            let mut s = Some(state);
            for step in &ops[op].steps {
                s = s.and_then(|s| step.apply(s));
            }
            if let Some(new_state) = s {
                let nz = z ^ zob[op];
                if cache.insert(nz ^ state_hash(new_state)) {
                    stack.push((op, state));
                    state = new_state;
                    z = nz;
                    unlink(&mut next, &mut prev, call_node[op]);
                    unlink(&mut next, &mut prev, ret_node[op]);
                    entry = next[0];
                    continue;
                }
            }
            entry = next[entry];
        } else {
            let Some((top, old)) = stack.pop() else {
                return SearchStats {
                    result: Search::NotLinearizable,
                    states: cache.len() as u64,
                };
            };
            state = old;
            z ^= zob[top];
            relink(&mut next, &mut prev, ret_node[top]);
            relink(&mut next, &mut prev, call_node[top]);
            entry = next[call_node[top]];
        }
    }
    SearchStats {
        result: Search::Linearizable(stack.into_iter().map(|(op, _)| op).collect()),
        states: cache.len() as u64,
    }
}

/// Checks one key's history.
pub(crate) fn check_key(h: &KeyHistory, events: &[Event], budget: &Budget) -> KeyCheck {
    let started = Instant::now();
    let deadline = started + budget.time;
    let ops: Vec<&KeyOp> = h.ops.iter().collect();
    let full = search(&ops, ANY, budget, deadline);
    let mut states = full.states;
    let verdict = match full.result {
        Search::Linearizable(_) => Verdict::Linearizable,
        Search::NotLinearizable => Verdict::NotLinearizable,
        Search::Exhausted => Verdict::Unknown,
    };
    // The counterexample's searches get a share of what is left: a verdict without one is
    // still a verdict.
    let spent = started.elapsed();
    let cx_deadline = deadline.min(Instant::now() + (spent * 4).max(Duration::from_secs(2)));
    let counterexample = (verdict == Verdict::NotLinearizable)
        .then(|| counterexample(h, events, budget, cx_deadline, &mut states))
        .flatten();
    KeyCheck {
        key: h.key.clone().unwrap_or(serde_json::Value::Null),
        ops: h.ops.len() as u64,
        verdict,
        states,
        elapsed_ms: started.elapsed().as_secs_f64() * 1e3,
        counterexample,
    }
}

/// The history up to the end of op `culprit_ret`: ops that ended by then as they are, ops
/// still running then as of unknown outcome, later ones left out.
fn prefix(ops: &[KeyOp], until: f64) -> Vec<KeyOp> {
    ops.iter()
        .filter(|o| o.call <= until)
        .filter_map(|o| {
            if o.ret <= until {
                Some(o.clone())
            } else {
                unknown(o)
            }
        })
        .collect()
}

/// An op as of unknown outcome: never returns, answers not known (None for a read: nothing
/// is left of it).
fn unknown(o: &KeyOp) -> Option<KeyOp> {
    let steps = o
        .steps
        .iter()
        .filter_map(|s| match *s {
            Step::Get(_) | Step::Contains(_) => None,
            Step::Put(v, _) => Some(Step::Put(v, None)),
            Step::PutIfAbsent(v, _) => Some(Step::PutIfAbsent(v, None)),
            Step::Replace(v, _) => Some(Step::Replace(v, None)),
            Step::Cas(a, b, _) => Some(Step::Cas(a, b, None)),
            Step::Remove(_) => Some(Step::Remove(None)),
            s @ Step::Set(_) => Some(s),
        })
        .collect::<Vec<_>>();
    (!steps.is_empty()).then(|| KeyOp {
        call: o.call,
        ret: f64::INFINITY,
        steps,
        events: o.events.clone(),
    })
}

fn counterexample(
    h: &KeyHistory,
    events: &[Event],
    budget: &Budget,
    deadline: Instant,
    states: &mut u64,
) -> Option<Counterexample> {
    // The ends of ok ops, in order: the shortest prefix with no valid order ends at one.
    let mut ends: Vec<f64> = h
        .ops
        .iter()
        .map(|o| o.ret)
        .filter(|r| r.is_finite())
        .collect();
    ends.sort_by(f64::total_cmp);
    ends.dedup();
    let mut run = |ops: &[KeyOp]| {
        let refs: Vec<&KeyOp> = ops.iter().collect();
        let r = search(&refs, ANY, budget, deadline);
        *states += r.states;
        r.result
    };
    let (mut lo, mut hi) = (0usize, ends.len().checked_sub(1)?);
    // Invariant: prefix(ends[hi]) has no valid order; prefix(ends[lo - 1]) has one.
    while lo < hi {
        let mid = (lo + hi) / 2;
        match run(&prefix(&h.ops, ends[mid])) {
            Search::NotLinearizable => hi = mid,
            Search::Linearizable(_) => lo = mid + 1,
            Search::Exhausted => return None,
        }
    }
    let until = ends[hi];
    let culprit = h.ops.iter().position(|o| o.ret == until)?;
    let c = &h.ops[culprit];
    let before = if hi > 0 {
        prefix(&h.ops, ends[hi - 1])
    } else {
        Vec::new()
    };
    let (valid_len, tail) = match run(&before) {
        Search::Linearizable(order) => {
            let tail: Vec<OpView> = order
                .iter()
                .rev()
                .take(6)
                .rev()
                .map(|&i| view(h, events, &h.ops_by_events(&before[i])))
                .collect();
            (order.len() as u64, tail)
        }
        _ => (0, Vec::new()),
    };
    // The window: the culprit and the ops running beside it, then earlier ops (latest end
    // first) until the window alone has no valid order.
    let upto = prefix(&h.ops, until);
    let mut window: Vec<usize> = (0..upto.len())
        .filter(|&i| upto[i].call <= c.ret && upto[i].ret >= c.call)
        .collect();
    let mut earlier: Vec<usize> = (0..upto.len()).filter(|i| !window.contains(i)).collect();
    earlier.sort_by(|&a, &b| upto[b].ret.total_cmp(&upto[a].ret));
    let mut earlier = earlier.into_iter();
    let mut alone_invalid = false;
    loop {
        let ops: Vec<KeyOp> = window.iter().map(|&i| upto[i].clone()).collect();
        if matches!(run(&ops), Search::NotLinearizable) {
            alone_invalid = true;
            break;
        }
        if window.len() >= 32 {
            break;
        }
        match earlier.next() {
            Some(i) => window.push(i),
            None => break,
        }
    }
    if alone_invalid {
        // As few as will do: drop each op whose absence leaves the window without order.
        for i in window.clone() {
            let rest: Vec<KeyOp> = window
                .iter()
                .filter(|&&j| j != i)
                .map(|&j| upto[j].clone())
                .collect();
            if matches!(run(&rest), Search::NotLinearizable) {
                window.retain(|&j| j != i);
            }
        }
    }
    window.sort_by(|&a, &b| upto[a].call.total_cmp(&upto[b].call));
    Some(Counterexample {
        culprit: view(h, events, c),
        window: window
            .iter()
            .map(|&i| view(h, events, &h.ops_by_events(&upto[i])))
            .collect(),
        window_alone_invalid: alone_invalid,
        valid_prefix_len: valid_len,
        valid_prefix_tail: tail,
    })
}

impl KeyHistory {
    /// The original op (with its answers) an op of a prefix stands for.
    fn ops_by_events(&self, o: &KeyOp) -> KeyOp {
        self.ops
            .iter()
            .find(|x| x.events == o.events)
            .cloned()
            .unwrap_or_else(|| o.clone())
    }
}

fn view(h: &KeyHistory, events: &[Event], o: &KeyOp) -> OpView {
    let first = &events[o.events[0]];
    let last = &events[*o.events.last().unwrap_or(&o.events[0])];
    let v = |s: S| h.show(s);
    let ans = |a: Option<S>| a.map(|a| format!(" (was {})", v(a))).unwrap_or_default();
    let text: Vec<String> = o
        .steps
        .iter()
        .map(|s| match *s {
            Step::Get(out) => format!("get → {}", v(out)),
            Step::Contains(b) => format!("contains-key → {b}"),
            Step::Put(x, a) => format!("put {}{}", v(x), ans(a)),
            Step::Set(x) => format!("set {}", v(x)),
            Step::PutIfAbsent(x, a) => format!("put-if-absent {}{}", v(x), ans(a)),
            Step::Replace(x, a) => format!("replace {}{}", v(x), ans(a)),
            Step::Cas(a, b, r) => format!(
                "replace-if-same {} → {}{}",
                v(a),
                v(b),
                r.map(|r| format!(": {r}")).unwrap_or_default()
            ),
            Step::Remove(a) if first.op == "map.clear" => "clear".to_string() + &ans(a),
            Step::Remove(a) => format!("remove{}", ans(a)),
        })
        .collect();
    let outcome = if o
        .events
        .iter()
        .any(|&i| events[i].outcome == OpOutcome::Unknown)
    {
        OpOutcome::Unknown
    } else {
        OpOutcome::Ok
    };
    OpView {
        instance: first.instance,
        scenario: Some(first.scenario.clone()),
        text: text.join(" · ")
            + if outcome == OpOutcome::Unknown {
                " ?"
            } else {
                ""
            },
        outcome,
        start_us: first.start_us,
        end_us: last.end_us,
    }
}

#[cfg(test)]
mod tests {
    use super::super::synth::{register_history, with_impossible_read, Synth};
    use super::super::test_support::ev;
    use super::super::{check, check_with, Model, Models};
    use super::*;
    use serde_json::json;

    fn verdict(h: &[Event]) -> Verdict {
        let c = check(h);
        assert_eq!(c.linearizability.len(), 1, "{:?}", c.linearizability);
        c.linearizability[0].verdict()
    }

    #[test]
    fn a_stale_read_is_not_linearizable() {
        use OpOutcome::Ok;
        let set = |i, v, t| {
            ev(
                Phase::Run,
                i,
                "map.set",
                "m",
                vec![json!("k"), json!(v)],
                Ok,
                None,
                t,
            )
        };
        let get = |v, t| {
            ev(
                Phase::Run,
                2,
                "map.get",
                "m",
                vec![json!("k")],
                Ok,
                Some(json!(v)),
                t,
            )
        };
        let h = vec![set(0, 1, 1.0), set(1, 2, 3.0), get(1, 5.0)];
        let c = check(&h);
        let k = &c.linearizability[0].key_checks[0];
        assert_eq!(k.verdict, Verdict::NotLinearizable);
        let cx = k.counterexample.as_ref().unwrap();
        let texts: Vec<&str> = cx.window.iter().map(|o| o.text.as_str()).collect();
        assert_eq!(texts, ["set 2", "get → 1"]);
        assert!(cx.window_alone_invalid);
        assert_eq!(cx.culprit.text, "get → 1");
        assert_eq!(cx.valid_prefix_len, 2);
        // Overlapping the second write, the read of 1 is fine.
        let h = vec![set(0, 1, 1.0), set(1, 2, 3.0), get(1, 3.2)];
        assert_eq!(verdict(&h), Verdict::Linearizable);
        // So is it when the second write's outcome is unknown: it may never have happened.
        let mut h = vec![set(0, 1, 1.0), set(1, 2, 3.0), get(1, 5.0)];
        h[1].outcome = OpOutcome::Unknown;
        assert_eq!(verdict(&h), Verdict::Linearizable);
        // But not when it failed and the read says 2.
        let mut h = vec![set(0, 1, 1.0), set(1, 2, 3.0), get(2, 5.0)];
        h[1].outcome = OpOutcome::Failed;
        assert_eq!(verdict(&h), Verdict::NotLinearizable);
    }

    #[test]
    fn a_lost_increment_is_a_window_of_two_reads_and_two_writes() {
        use OpOutcome::Ok;
        let get = |i, v, t| {
            ev(
                Phase::Run,
                i,
                "map.get",
                "c",
                vec![json!("key")],
                Ok,
                Some(json!(v)),
                t,
            )
        };
        let set = |i, v, t| {
            ev(
                Phase::Run,
                i,
                "map.set",
                "c",
                vec![json!("key"), json!(v)],
                Ok,
                None,
                t,
            )
        };
        let mut h = vec![ev(
            Phase::Setup,
            0,
            "map.set",
            "c",
            vec![json!("key"), json!(0)],
            Ok,
            None,
            0.0,
        )];
        let mut t = 1.0;
        for v in 0..5 {
            h.push(get(0, v, t));
            h.push(set(0, v + 1, t + 1.0));
            t += 2.0;
        }
        // Both read 5, both write 6.
        h.extend([
            get(0, 5, t),
            get(1, 5, t + 0.6),
            set(0, 6, t + 1.2),
            set(1, 6, t + 1.8),
        ]);
        h.extend([get(0, 6, t + 3.0), set(0, 7, t + 4.0)]);
        let c = check(&h);
        assert_eq!(c.counters[0].lost_updates, 1);
        let l = &c.linearizability[0];
        assert_eq!(l.model, "read-modify-write");
        let cx = l.key_checks[0].counterexample.as_ref().unwrap();
        let texts: Vec<&str> = cx.window.iter().map(|o| o.text.as_str()).collect();
        assert_eq!(texts, ["get → 5 · set 6", "get → 5 · set 6"], "{cx:?}");
        // As a plain register, the same history is linearizable.
        let plain = check_with(
            &h,
            &Models {
                model: Model::Register,
                ..Models::default()
            },
        );
        assert_eq!(plain.linearizability[0].verdict(), Verdict::Linearizable);
    }

    #[test]
    fn synthetic_histories_have_their_known_answers() {
        for seed in 1..=30 {
            for unknown_rate in [0.0, 0.03] {
                let s = Synth {
                    ops: 300,
                    seed,
                    unknown_rate,
                    ..Synth::default()
                };
                let h = register_history(&s);
                assert_eq!(verdict(&h), Verdict::Linearizable, "seed {seed}");
                assert_eq!(
                    verdict(&with_impossible_read(h)),
                    Verdict::NotLinearizable,
                    "seed {seed}"
                );
            }
        }
    }

    #[test]
    fn an_exhausted_budget_says_unknown() {
        let h = register_history(&Synth {
            ops: 3000,
            seed: 3,
            ..Synth::default()
        });
        let models = Models {
            budget: Budget {
                time: Duration::from_secs(10),
                max_states: 0,
            },
            ..Models::default()
        };
        let c = check_with(&h, &models);
        assert_eq!(c.linearizability[0].verdict(), Verdict::Unknown);
        assert!(!c.clean() && !c.violated());
    }

    #[test]
    fn the_time_budget_bounds_the_whole_history_not_each_key() {
        // Ten keys each too hard to decide (a read no order explains among writes of unknown
        // outcome): with a budget per key the check would take ten budgets.
        let mut events = Vec::new();
        for k in 0..10 {
            let hard = with_impossible_read(register_history(&Synth {
                ops: 10_000,
                unknown_rate: 0.01,
                seed: 14 + k,
                ..Synth::default()
            }));
            events.extend(hard.into_iter().map(|mut e| {
                e.args[0] = serde_json::json!(format!("k{k}"));
                e
            }));
        }
        let models = Models {
            budget: Budget {
                time: Duration::from_millis(1500),
                max_states: 20_000_000,
            },
            ..Models::default()
        };
        let started = std::time::Instant::now();
        let c = check_with(&events, &models);
        let took = started.elapsed();
        let l = &c.linearizability[0];
        assert_eq!(l.keys, 10, "{l:?}");
        assert!(l.undecided >= 9, "{l:?}");
        assert!(
            took < Duration::from_secs(12),
            "took {took:?} for a 1.5 s budget"
        );
    }
}
