//! Per-instance limits: a time budget and a memory cap.

use std::time::{Duration, Instant};

/// The budget each instance (and each `setup`/`verify` call) gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstanceLimits {
    /// Wall-clock time one phase call may take, waits included.
    pub time_budget: Duration,
    /// Most linear memory (bytes) one instance may grow to.
    pub memory_cap: usize,
}

impl Default for InstanceLimits {
    fn default() -> Self {
        InstanceLimits {
            time_budget: Duration::from_secs(300),
            memory_cap: 64 << 20,
        }
    }
}

/// The store-side enforcement of [`InstanceLimits`].
#[derive(Debug)]
pub struct Limits {
    memory_cap: usize,
    /// When the current phase call must end.
    pub deadline: Instant,
    /// Set when the guest asked for more memory than its cap.
    pub memory_refused: bool,
    /// Most memory the guest asked for.
    pub peak_memory: usize,
    /// The instance's operation count at the last epoch tick; none before the first tick, so
    /// that the first tick never yields (whether it comes before the instance's first
    /// operation is a matter of timing, and yielding then would make the interleaving depend
    /// on it).
    pub ops_at_last_tick: Option<u64>,
    /// Ticks in a row at which the instance had made no operation since the tick before.
    pub ticks_without_ops: u32,
}

impl Limits {
    pub fn new(limits: &InstanceLimits) -> Limits {
        Limits {
            memory_cap: limits.memory_cap,
            deadline: Instant::now() + limits.time_budget,
            memory_refused: false,
            peak_memory: 0,
            ops_at_last_tick: None,
            ticks_without_ops: 0,
        }
    }

    pub fn memory_cap(&self) -> usize {
        self.memory_cap
    }
}

impl wasmtime::ResourceLimiter for Limits {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_cap {
            self.memory_refused = true;
            return Ok(false);
        }
        self.peak_memory = self.peak_memory.max(desired);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }

    fn instances(&self) -> usize {
        // A Rust component instantiates a handful of core instances; a Python one (an
        // interpreter linked from several shared libraries, WASI stubbed) a few dozen.
        1000
    }
}
