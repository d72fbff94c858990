//! What a run reports while it goes on: live counts a progress display reads, and the
//! interrupt that stops it.

use std::sync::atomic::{AtomicU32, AtomicU64};

use crate::interrupt::Interrupt;

/// Live counts a progress display can read while the run goes on.
#[derive(Debug, Default)]
pub struct Progress {
    pub ops: AtomicU64,
    /// Iterations ended (iteration executors), and due iterations dropped (open models).
    pub iterations: AtomicU64,
    pub dropped: AtomicU64,
    pub instances_total: AtomicU32,
    pub instances_done: AtomicU32,
    /// 0 before the run phase, 1 during it, 2 after.
    pub stage: AtomicU32,
    /// What runs, for a display (a plan's case and step); empty for a single run.
    pub label: std::sync::Mutex<String>,
    /// Notified when `stage` becomes 1 (setup is done; the step's instances start).
    pub instances_started: tokio::sync::Notify,
    /// Notified when `stage` becomes 2 (every instance of the step has ended).
    pub instances_ended: tokio::sync::Notify,
    /// Raised to stop the run (Ctrl-C): see [`crate::interrupt`].
    pub interrupt: Interrupt,
}

impl Progress {
    /// Names what runs from now on.
    pub fn set_label(&self, label: String) {
        *self.label.lock().unwrap_or_else(|e| e.into_inner()) = label;
    }

    /// What [`Progress::set_label`] last said.
    pub fn label(&self) -> String {
        self.label.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}
