//! Operation history: every cluster operation of a run as a JSON line (`hzlab run --history
//! FILE`), and a checker that finds lost updates and lost, duplicated or uncertain queue items
//! in a history.
//!
//! One line per operation ([`Event`]):
//!
//! ```json
//! {"scenario":"race","phase":"run","instance":2,"op":"map.set","name":"counter",
//!  "args":["key",17],"outcome":"ok","start_us":1523.412,"end_us":1524.006}
//! ```
//!
//! | field | meaning |
//! | --- | --- |
//! | `run` | with a plan: the run step (`case #repeat / step`); absent for `hzlab run SCENARIO` |
//! | `scenario`, `phase`, `instance` | who performed it (`phase`: setup, run, verify) |
//! | `op` | `interface.function` as in the WIT: `map.get`, `queue.offer`, … |
//! | `name` | the map or queue |
//! | `args` | the other arguments (keys, values, items, timeouts in ms), as JSON |
//! | `outcome` | `ok`, `failed` (an error that left the cluster unchanged) or `unknown` (the outcome is uncertain: the member serving it was lost or the invocation timed out) |
//! | `value` | what the operation returned, when `ok` and it returns something |
//! | `error` | the error, when not `ok` |
//! | `start_us`, `end_us` | microseconds since the run started |
//!
//! Recording costs nothing when no history is asked for: the instance holds no writer and
//! builds no event.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::backend::OpError;
use crate::results::Phase;

/// How an operation ended, as far as the client knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OpOutcome {
    Ok,
    /// An error the cluster reported: the operation did not take effect.
    Failed,
    /// The operation may or may not have taken effect.
    Unknown,
}

impl OpOutcome {
    pub fn of_error(e: &OpError) -> OpOutcome {
        match e {
            OpError::Unavailable(_) | OpError::Timeout => OpOutcome::Unknown,
            OpError::NotLockOwner | OpError::InvalidArgument(_) | OpError::Other(_) => {
                OpOutcome::Failed
            }
        }
    }
}

/// One operation of the history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// The run it belongs to, where one history holds several (a plan's run steps:
    /// `case #repeat / step`); the checker checks each run apart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    pub scenario: String,
    pub phase: Phase,
    pub instance: u32,
    pub op: String,
    pub name: String,
    #[serde(default)]
    pub args: Vec<serde_json::Value>,
    pub outcome: OpOutcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub start_us: f64,
    pub end_us: f64,
}

/// Why a history could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("cannot write the history to {path}: {cause}")]
    Write { path: PathBuf, cause: io::Error },
    #[error("cannot read the history {path}: {cause}")]
    Read { path: PathBuf, cause: io::Error },
    #[error("{path}:{line}: not a history event: {cause}")]
    Parse {
        path: PathBuf,
        line: usize,
        cause: serde_json::Error,
    },
}

/// How often the history's buffered lines reach the file while a run goes on: a process
/// killed outright (SIGKILL) loses at most the lines of the last interval.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(250);

/// Writes events as JSON lines; shared by every instance of a run.
///
/// Lines are buffered and written out whole: when the buffer fills, and every
/// [`FLUSH_INTERVAL`] by a thread of the writer's own, so the file grows as the run goes on
/// and holds only complete lines whenever it is read or the process is killed.
#[derive(Debug)]
pub struct HistoryWriter {
    path: PathBuf,
    state: Arc<Mutex<WriterState>>,
}

#[derive(Debug)]
struct WriterState {
    /// Given to events that name no run (see [`HistoryWriter::set_run`]).
    run: Option<String>,
    out: BufWriter<File>,
    /// One event's line, serialized before it goes to `out` whole.
    line: Vec<u8>,
    /// Lines in `out` not flushed yet.
    dirty: bool,
    events: u64,
    error: Option<io::Error>,
}

impl WriterState {
    fn flush(&mut self) {
        if !self.dirty || self.error.is_some() {
            return;
        }
        self.dirty = false;
        if let Err(e) = self.out.flush() {
            self.error = Some(e);
        }
    }
}

impl HistoryWriter {
    /// Creates (or truncates) `path`, and its directory if missing, and checks that it takes
    /// writes (an empty write: a full device such as `/dev/full` refuses it), so that an
    /// unwritable history is found before the run starts.
    pub fn create(path: &Path) -> Result<HistoryWriter, HistoryError> {
        let err = |source| HistoryError::Write {
            path: path.to_owned(),
            cause: source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        let mut file = File::create(path).map_err(err)?;
        probe_write(&mut file).map_err(err)?;
        let state = Arc::new(Mutex::new(WriterState {
            run: None,
            out: BufWriter::with_capacity(1 << 16, file),
            line: Vec::with_capacity(256),
            dirty: false,
            events: 0,
            error: None,
        }));
        let weak = Arc::downgrade(&state);
        std::thread::Builder::new()
            .name("hzlab-history".into())
            .spawn(move || loop {
                std::thread::sleep(FLUSH_INTERVAL);
                // Ends with the writer.
                let Some(state) = weak.upgrade() else { return };
                state.lock().unwrap_or_else(|e| e.into_inner()).flush();
            })
            .map_err(err)?;
        Ok(HistoryWriter {
            path: path.to_owned(),
            state,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Names the run the events written from now on belong to (when they name none).
    pub fn set_run(&self, run: Option<String>) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).run = run;
    }

    /// Appends one event; the first write error is kept for [`HistoryWriter::finish`].
    pub fn write(&self, event: &Event) {
        /// An event under the writer's run label, without copying it.
        #[derive(Serialize)]
        struct Labelled<'a> {
            run: &'a str,
            #[serde(flatten)]
            event: &'a Event,
        }
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if s.error.is_some() {
            return;
        }
        let s = &mut *s;
        s.line.clear();
        let r = match (&s.run, &event.run) {
            (Some(run), None) => serde_json::to_writer(&mut s.line, &Labelled { run, event }),
            _ => serde_json::to_writer(&mut s.line, event),
        }
        .map_err(io::Error::from)
        .and_then(|()| {
            s.line.push(b'\n');
            // Whole: the buffer is written out before a line that does not fit in it.
            s.out.write_all(&s.line)
        });
        match r {
            Ok(()) => {
                s.events += 1;
                s.dirty = true;
            }
            Err(e) => s.error = Some(e),
        }
    }

    /// Flushes; returns the number of events written.
    pub fn finish(&self) -> Result<u64, HistoryError> {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.dirty = true;
        s.flush();
        match s.error.take() {
            Some(source) => Err(HistoryError::Write {
                path: self.path.clone(),
                cause: source,
            }),
            None => Ok(s.events),
        }
    }
}

/// Writes nothing to `file`, which fails where any write would for want of room (`/dev/full`)
/// or of permission, and costs nothing where writes go through (files, pipes, terminals).
pub fn probe_write(file: &mut File) -> io::Result<()> {
    // `write`, not `write_all`: an empty `write_all` never reaches the system.
    file.write(&[]).map(drop)
}

/// Reads a history file written by [`HistoryWriter`].
pub fn read(path: &Path) -> Result<Vec<Event>, HistoryError> {
    let file = File::open(path).map_err(|source| HistoryError::Read {
        path: path.to_owned(),
        cause: source,
    })?;
    read_from(path, BufReader::new(file))
}

/// Reads history lines from `reader`; `path` names it in errors.
pub fn read_from(path: &Path, reader: impl BufRead) -> Result<Vec<Event>, HistoryError> {
    let mut events = Vec::new();
    for (i, line) in reader.lines().enumerate() {
        let line = line.map_err(|source| HistoryError::Read {
            path: path.to_owned(),
            cause: source,
        })?;
        if line.trim().is_empty() {
            continue;
        }
        events.push(
            serde_json::from_str(&line).map_err(|source| HistoryError::Parse {
                path: path.to_owned(),
                line: i + 1,
                cause: source,
            })?,
        );
    }
    Ok(events)
}

/// What the checker found in a history.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct HistoryCheck {
    /// Operations in the history, and how many ended ok, failed, unknown.
    pub ops: u64,
    pub ok: u64,
    pub failed: u64,
    pub unknown: u64,
    /// Map keys written over and over with integers in `run` (counters).
    pub counters: Vec<CounterCheck>,
    /// Queues items were added to.
    pub queues: Vec<QueueCheck>,
}

impl HistoryCheck {
    /// Whether no update and no item was lost or duplicated (uncertain ones aside: a counter
    /// may hold up to its uncertain writes more than its ok increments).
    pub fn clean(&self) -> bool {
        self.counters
            .iter()
            .all(|c| c.lost_updates <= 0 && -c.lost_updates <= c.uncertain_writes as i64)
            && self.queues.iter().all(|q| q.lost == 0 && q.duplicated == 0)
    }
}

/// A counter key: increments written in `run`, and how many of them were lost.
///
/// `lost_updates = increments − (final − initial)`: each increment writes the value it read
/// plus one, so an increment whose written value was overwritten by a write based on an older
/// read adds nothing to the final value.
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
    /// Writes in `run` that ended ok.
    pub increments: u64,
    pub lost_updates: i64,
    /// Writes whose outcome is unknown (not counted in `increments`).
    pub uncertain_writes: u64,
}

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

fn as_int(v: &serde_json::Value) -> Option<i64> {
    v.as_i64()
}

fn key_text(v: &serde_json::Value) -> String {
    v.to_string()
}

/// Checks a history: counters (lost updates) and queues (lost, duplicated, uncertain items).
pub fn check(events: &[Event]) -> HistoryCheck {
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
    let mut runs: Vec<(Option<&str>, Vec<&Event>)> = Vec::new();
    for e in events {
        let run = e.run.as_deref();
        match runs.iter_mut().find(|(r, _)| *r == run) {
            Some((_, group)) => group.push(e),
            None => runs.push((run, vec![e])),
        }
    }
    for (run, group) in runs {
        let label = run.map(str::to_owned);
        c.counters
            .extend(check_counters(&group).into_iter().map(|mut k| {
                k.run = label.clone();
                k
            }));
        c.queues
            .extend(check_queues(&group).into_iter().map(|mut q| {
                q.run = label.clone();
                q
            }));
    }
    c
}

/// The value a map operation wrote, if it was a write that succeeded (or may have).
fn written(e: &Event) -> Option<&serde_json::Value> {
    let took_effect = match e.op.as_str() {
        "map.put" | "map.set" => true,
        "replace.replace-if-same" => e.value == Some(serde_json::Value::Bool(true)),
        "replace.replace" => e.value.as_ref().is_some_and(|v| !v.is_null()),
        "map.put-if-absent" => e.value.as_ref().is_none_or(serde_json::Value::is_null),
        _ => return None,
    };
    if e.outcome == OpOutcome::Ok && !took_effect {
        return None;
    }
    match e.op.as_str() {
        "replace.replace-if-same" => e.args.get(2),
        _ => e.args.get(1),
    }
}

fn check_counters(events: &[&Event]) -> Vec<CounterCheck> {
    // (scenario, map, key) -> indices of the events touching it: scenarios that share a
    // counter (race, then pessimistic) each reset it in setup and are checked apart.
    let mut keys: BTreeMap<(String, String, String), Vec<usize>> = BTreeMap::new();
    for (i, e) in events.iter().enumerate() {
        if e.op.starts_with("map.") || e.op.starts_with("replace.") {
            if let Some(k) = e.args.first() {
                keys.entry((e.scenario.clone(), e.name.clone(), key_text(k)))
                    .or_default()
                    .push(i);
            }
        }
    }
    let mut out = Vec::new();
    for ((scenario, map, _), idx) in keys {
        let run_writes: Vec<&Event> = idx
            .iter()
            .map(|&i| events[i])
            .filter(|e| e.phase == Phase::Run && e.outcome != OpOutcome::Failed)
            .filter(|e| written(e).and_then(as_int).is_some())
            .collect();
        let increments = run_writes
            .iter()
            .filter(|e| e.outcome == OpOutcome::Ok)
            .count() as u64;
        if increments < 2 {
            continue;
        }
        let first_run = run_writes
            .iter()
            .map(|e| e.start_us)
            .fold(f64::INFINITY, f64::min);
        let last_write_end = idx
            .iter()
            .map(|&i| events[i])
            .filter(|e| e.outcome == OpOutcome::Ok && written(e).is_some())
            .map(|e| e.end_us)
            .fold(f64::NEG_INFINITY, f64::max);
        let initial = idx
            .iter()
            .map(|&i| events[i])
            .filter(|e| e.phase == Phase::Setup && e.outcome == OpOutcome::Ok)
            .filter(|e| e.end_us <= first_run)
            .filter_map(|e| written(e).and_then(as_int).map(|v| (e.end_us, v)))
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map_or(0, |(_, v)| v);
        let read_after = idx
            .iter()
            .map(|&i| events[i])
            .filter(|e| e.op == "map.get" && e.outcome == OpOutcome::Ok)
            .filter(|e| e.start_us >= last_write_end)
            .filter_map(|e| e.value.as_ref().and_then(as_int).map(|v| (e.end_us, v)))
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, v)| v);
        let last_written = idx
            .iter()
            .map(|&i| events[i])
            .filter(|e| e.outcome == OpOutcome::Ok)
            .filter_map(|e| written(e).and_then(as_int).map(|v| (e.end_us, v)))
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, v)| v);
        let final_value = read_after.or(last_written).unwrap_or(initial);
        let uncertain_writes = run_writes
            .iter()
            .filter(|e| e.outcome == OpOutcome::Unknown)
            .count() as u64;
        out.push(CounterCheck {
            run: None,
            scenario,
            map,
            key: events[idx[0]].args[0].clone(),
            initial,
            final_value,
            increments,
            // Wide arithmetic: a guest may write any i64 (i64::MIN, then i64::MAX).
            lost_updates: (i128::from(increments) - (i128::from(final_value) - i128::from(initial)))
                .clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64,
            uncertain_writes,
        });
    }
    out
}

fn check_queues(events: &[&Event]) -> Vec<QueueCheck> {
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
    use super::*;
    use serde_json::json;

    #[allow(clippy::too_many_arguments)]
    fn ev(
        phase: Phase,
        instance: u32,
        op: &str,
        name: &str,
        args: Vec<serde_json::Value>,
        outcome: OpOutcome,
        value: Option<serde_json::Value>,
        t: f64,
    ) -> Event {
        Event {
            run: None,
            scenario: "s".into(),
            phase,
            instance,
            op: op.into(),
            name: name.into(),
            args,
            outcome,
            value,
            error: None,
            start_us: t,
            end_us: t + 0.5,
        }
    }

    /// A guest may write any integer: `final − initial` overflowed i64 (a panic in debug
    /// builds, a wrapped figure in release ones). Found while writing the history fuzz target.
    #[test]
    fn counters_at_the_ends_of_i64_do_not_overflow() {
        let events = vec![
            ev(
                Phase::Setup,
                0,
                "map.set",
                "m",
                vec![json!("k"), json!(i64::MIN)],
                OpOutcome::Ok,
                None,
                1.0,
            ),
            ev(
                Phase::Run,
                0,
                "map.set",
                "m",
                vec![json!("k"), json!(1)],
                OpOutcome::Ok,
                None,
                3.0,
            ),
            ev(
                Phase::Run,
                1,
                "map.set",
                "m",
                vec![json!("k"), json!(i64::MAX)],
                OpOutcome::Ok,
                None,
                5.0,
            ),
        ];
        let c = check(&events);
        assert_eq!(c.counters.len(), 1);
        assert_eq!(
            (c.counters[0].initial, c.counters[0].final_value),
            (i64::MIN, i64::MAX)
        );
        assert_eq!(
            c.counters[0].lost_updates,
            i64::MIN,
            "2 − (2^64 − 1), saturated"
        );
        let events: Vec<Event> = events
            .into_iter()
            .map(|mut e| {
                if let Some(v) = e.args.get_mut(1) {
                    *v = json!(-v.as_i64().unwrap().saturating_add(1));
                }
                e
            })
            .collect();
        assert_eq!(check(&events).counters[0].lost_updates, i64::MAX);
    }

    #[test]
    fn lost_updates_on_a_counter() {
        use OpOutcome::Ok;
        let k = || json!("key");
        let mut h = vec![ev(
            Phase::Setup,
            0,
            "map.set",
            "c",
            vec![k(), json!(0)],
            Ok,
            None,
            0.0,
        )];
        // Two instances read 0 and both write 1: one increment lost. Then instance 0 reads 1
        // and writes 2; an unknown write of 3 does not count.
        h.push(ev(
            Phase::Run,
            0,
            "map.get",
            "c",
            vec![k()],
            Ok,
            Some(json!(0)),
            1.0,
        ));
        h.push(ev(
            Phase::Run,
            1,
            "map.get",
            "c",
            vec![k()],
            Ok,
            Some(json!(0)),
            1.1,
        ));
        h.push(ev(
            Phase::Run,
            0,
            "map.set",
            "c",
            vec![k(), json!(1)],
            Ok,
            None,
            2.0,
        ));
        h.push(ev(
            Phase::Run,
            1,
            "map.set",
            "c",
            vec![k(), json!(1)],
            Ok,
            None,
            2.1,
        ));
        h.push(ev(
            Phase::Run,
            0,
            "map.get",
            "c",
            vec![k()],
            Ok,
            Some(json!(1)),
            3.0,
        ));
        h.push(ev(
            Phase::Run,
            0,
            "map.put",
            "c",
            vec![k(), json!(2)],
            Ok,
            Some(json!(1)),
            4.0,
        ));
        let mut unknown = ev(
            Phase::Run,
            1,
            "map.set",
            "c",
            vec![k(), json!(3)],
            OpOutcome::Unknown,
            None,
            4.5,
        );
        unknown.error = Some("cluster unavailable".into());
        h.push(unknown);
        h.push(ev(
            Phase::Verify,
            0,
            "map.get",
            "c",
            vec![k()],
            Ok,
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
            Ok,
            None,
            1.0,
        ));
        let c = check(&h);
        assert_eq!(c.ops, 10);
        assert_eq!(c.unknown, 1);
        assert_eq!(c.counters.len(), 1);
        let k = &c.counters[0];
        assert_eq!((k.initial, k.final_value, k.increments), (0, 2, 3));
        assert_eq!(k.lost_updates, 1);
        assert_eq!(k.uncertain_writes, 1);
        assert!(!c.clean());
    }

    #[test]
    fn optimistic_writes_count_only_when_replaced() {
        use OpOutcome::Ok;
        let k = || json!(7);
        let mut h = vec![ev(
            Phase::Setup,
            0,
            "map.set",
            "c",
            vec![k(), json!(0)],
            Ok,
            None,
            0.0,
        )];
        for (i, (new, replaced)) in [(1, true), (1, false), (2, true)].iter().enumerate() {
            h.push(ev(
                Phase::Run,
                i as u32,
                "replace.replace-if-same",
                "c",
                vec![k(), json!(new - 1), json!(new)],
                Ok,
                Some(json!(replaced)),
                1.0 + i as f64,
            ));
        }
        let c = check(&h);
        assert_eq!(c.counters[0].increments, 2);
        assert_eq!(c.counters[0].final_value, 2);
        assert_eq!(c.counters[0].lost_updates, 0);
        assert!(c.clean());
    }

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

    #[test]
    fn write_and_read_back() {
        let dir = std::env::temp_dir().join(format!("hzlab-history-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("h.jsonl");
        let w = HistoryWriter::create(&path).unwrap();
        let e = ev(
            Phase::Run,
            1,
            "map.get",
            "m",
            vec![json!("k")],
            OpOutcome::Ok,
            Some(json!(3)),
            1.0,
        );
        w.write(&e);
        w.write(&e);
        assert_eq!(w.finish().unwrap(), 2);
        let back = read(&path).unwrap();
        assert_eq!(back, vec![e.clone(), e]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn lines_reach_the_file_while_the_run_goes_on() {
        let dir = std::env::temp_dir().join(format!("hzlab-stream-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("h.jsonl");
        let w = HistoryWriter::create(&path).unwrap();
        let e = ev(
            Phase::Run,
            1,
            "map.set",
            "m",
            vec![json!("k"), json!(1)],
            OpOutcome::Ok,
            None,
            1.0,
        );
        for _ in 0..3 {
            w.write(&e);
        }
        // Without finish: the flushing thread has put them there.
        std::thread::sleep(FLUSH_INTERVAL * 4);
        assert_eq!(read(&path).unwrap().len(), 3);
        // Past the buffer's size, the file holds whole lines only, whenever it is read.
        for _ in 0..2000 {
            w.write(&e);
        }
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.is_empty() || text.ends_with('\n'), "a cut line");
        assert!(text.lines().count() > 3, "the full buffer was written out");
        for line in text.lines() {
            serde_json::from_str::<Event>(line).unwrap();
        }
        assert_eq!(w.finish().unwrap(), 2003);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_missing_directory_is_named_with_its_cause_once() {
        let e = HistoryWriter::create(Path::new("/proc/hzlab-none/h.jsonl")).unwrap_err();
        // What `hzlab: error: {e:#}` prints: the error and its sources.
        let mut chain = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            chain.push_str(&format!(": {s}"));
            source = s.source();
        }
        assert!(chain.contains("/proc/hzlab-none/h.jsonl"), "{chain}");
        assert_eq!(chain.matches("os error").count(), 1, "{chain}");
    }

    #[test]
    fn a_full_device_is_refused_at_once() {
        let e = HistoryWriter::create(Path::new("/dev/full")).unwrap_err();
        assert!(
            e.to_string().contains("/dev/full") && e.to_string().contains("No space"),
            "{e}"
        );
        // A file that takes writes is fine.
        let mut ok =
            File::create(std::env::temp_dir().join(format!("hzlab-probe-{}", std::process::id())))
                .unwrap();
        probe_write(&mut ok).unwrap();
    }
}
