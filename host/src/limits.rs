//! Per-instance limits: a time budget, a memory cap, and a cap on what an instance makes the
//! host keep.

use std::time::{Duration, Instant};

/// The budget each instance (and each `setup`/`verify` call) gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstanceLimits {
    /// Wall-clock time one phase call may take, waits included.
    pub time_budget: Duration,
    /// Most linear memory (bytes) one instance may grow to.
    pub memory_cap: usize,
    /// Most bytes one instance (or one `setup`/`verify` call) may make the host keep: recorded
    /// values and their names, counter names, log lines, check names and details.
    pub host_cap: usize,
}

/// The default [`InstanceLimits::memory_cap`]: 64 MiB.
pub const DEFAULT_MEMORY_CAP: usize = 64 << 20;

/// The default [`InstanceLimits::host_cap`]: 4 MiB.
pub const DEFAULT_HOST_CAP: usize = 4 << 20;

/// What one kept item costs besides its text: the map node or vector slot, the `String` and
/// JSON value headers (an estimate on the high side).
pub const ENTRY_OVERHEAD: usize = 64;

impl Default for InstanceLimits {
    fn default() -> Self {
        InstanceLimits {
            time_budget: Duration::from_secs(300),
            memory_cap: DEFAULT_MEMORY_CAP,
            host_cap: DEFAULT_HOST_CAP,
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
    host_cap: usize,
    /// Bytes the host keeps for this instance (see [`InstanceLimits::host_cap`]).
    host_kept: usize,
    /// Set when the guest asked the host to keep more than its host-side cap.
    pub host_refused: bool,
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
            host_cap: limits.host_cap,
            host_kept: 0,
            host_refused: false,
            ops_at_last_tick: None,
            ticks_without_ops: 0,
        }
    }

    pub fn memory_cap(&self) -> usize {
        self.memory_cap
    }

    pub fn host_cap(&self) -> usize {
        self.host_cap
    }

    /// Bytes the host keeps for this instance so far.
    pub fn host_kept(&self) -> usize {
        self.host_kept
    }

    /// Accounts for the host keeping `more` bytes more and `less` bytes fewer (a value that
    /// replaces another); refused, and nothing counted, when that would pass the cap.
    pub fn keep(&mut self, more: usize, less: usize) -> Result<(), HostCapExceeded> {
        let kept = self.host_kept.saturating_sub(less).saturating_add(more);
        if kept > self.host_cap {
            self.host_refused = true;
            return Err(HostCapExceeded {
                cap: self.host_cap,
                kept: self.host_kept,
                asked: more,
            });
        }
        self.host_kept = kept;
        Ok(())
    }
}

/// A guest asked the host to keep more than its host-side cap.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "recorded more than {cap} bytes (values, counter names, log lines and checks the host \
     keeps for one instance; {kept} kept, {asked} more asked): raise --record-limit to keep more"
)]
pub struct HostCapExceeded {
    pub cap: usize,
    pub kept: usize,
    pub asked: usize,
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
