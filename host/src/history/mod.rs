//! Operation history: every cluster operation of a run as a JSON line (`hzlab run --history
//! FILE`), and the checkers that read it back (`hzlab history check FILE`): lost updates of
//! counters ([`counter`]), linearizability of map keys ([`register`]), mutual exclusion of locks
//! ([`lock`]), queues ([`queue`]) and maps used as sets ([`set`]); [`check`](check()) infers
//! which applies to which structure.
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
    #[error("{path}:{line}: not a history event{}: {cause}", field.as_ref().map(|f| format!(" (field `{f}`)")).unwrap_or_default())]
    Parse {
        path: PathBuf,
        line: usize,
        /// The field the error is in, when the line is JSON and one is to blame.
        field: Option<String>,
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
                field: field_at(&line, &source),
                cause: source,
            })?,
        );
    }
    Ok(events)
}

/// The field a parse error of `line` is in: the last `"name":` before the error's column
/// (serde names missing fields itself).
fn field_at(line: &str, e: &serde_json::Error) -> Option<String> {
    if !e.is_data() || e.to_string().starts_with("missing field") {
        return None;
    }
    let upto = line.get(..e.column().min(line.len()))?;
    let colon = upto.rfind("\":")?;
    let open = upto[..colon].rfind('"')?;
    Some(upto[open + 1..colon].to_owned())
}

pub mod check;
pub mod counter;
pub mod lock;
pub mod queue;
pub mod register;
pub mod set;
pub mod synth;

pub use check::{check, check_with, HistoryCheck, Model, Models};
pub use counter::CounterCheck;
pub use lock::LockCheck;
pub use queue::QueueCheck;
pub use register::{Budget, LinearizabilityCheck, Verdict};
pub use set::SetCheck;

/// The key of a map operation as text, the way checkers group operations by key.
pub(crate) fn key_text(v: &serde_json::Value) -> String {
    v.to_string()
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn ev(
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
}

#[cfg(test)]
mod tests {
    use super::test_support::ev;
    use super::*;
    use serde_json::json;

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
