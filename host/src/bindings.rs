//! Rust bindings of the scenario world, generated once for the whole host: the current
//! version (`wit/hzlab.wit`, 0.2.0) and every earlier one the host still runs
//! (`wit/0.1.0/hzlab.wit`).
//!
//! Both versions share the types of 0.2.0 (the `types` interface did not change), so one
//! implementation of the imports serves both: [`crate::imports`] implements 0.2.0 and
//! forwards 0.1.0's calls to it. [`crate::engine::guest`] tells the versions of a component
//! apart and calls its exports.

/// `hzlab:scenario@0.2.0`: adds the `iteration` export.
pub mod v0_2 {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "hzlab:scenario/scenario@0.2.0",
        imports: { default: async | trappable },
        exports: { default: async },
    });
}

/// `hzlab:scenario@0.1.0`: `setup`, `run` and `verify`; closed models only.
pub mod v0_1 {
    wasmtime::component::bindgen!({
        path: "../wit/0.1.0",
        world: "hzlab:scenario/scenario@0.1.0",
        imports: { default: async | trappable },
        exports: { default: async },
        with: {
            "hzlab:scenario/types@0.1.0": super::v0_2::hzlab::scenario::types,
        },
    });
}

pub use self::v0_2::hzlab;
pub use self::v0_2::hzlab::scenario::types::{Error as WitError, Value as WitValue};
