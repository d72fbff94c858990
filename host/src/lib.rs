//! hzlab: run WebAssembly scenarios against Hazelcast clusters, inject faults, check
//! invariants, and report.
//!
//! The library is what the `hzlab` binary drives:
//! - [`scenario`] finds scenarios (shipped or `.wasm` files),
//! - [`engine`] compiles and instantiates them in sandboxed stores,
//! - [`imports`] implements the scenario world's imports over a [`backend`],
//! - [`runner`] runs the phases of a run and gathers [`results`],
//! - [`report`] turns results into a terminal summary and JSON.

pub mod backend;
pub mod bindings;
pub mod cluster;
pub mod compare;
pub mod engine;
pub mod executor;
pub mod format;
pub mod history;
pub mod imports;
pub mod interrupt;
pub mod kit;
pub mod latency;
pub mod limits;
pub mod metrics;
pub mod plan;
pub mod progress;
pub mod registry;
pub mod report;
pub mod results;
pub mod runner;
pub mod scenario;
pub mod series;
pub mod thresholds;
pub mod timeline;

/// Components the host's own tests run (endless loops, memory hogs), built by `build.rs` from
/// `guest-scenarios/testing/`. Not part of the API.
#[doc(hidden)]
pub mod testing {
    use std::path::PathBuf;

    /// The path of the component built from guest crate `name`.
    pub fn component_path(name: &str) -> PathBuf {
        PathBuf::from(concat!(env!("OUT_DIR"), "/components")).join(format!("{name}.wasm"))
    }
}
