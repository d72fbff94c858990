//! Rust bindings of the scenario world (`wit/hzlab.wit`), generated once for the whole host.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "hzlab:scenario/scenario",
    imports: { default: async | trappable },
    exports: { default: async },
});

pub use self::hzlab::scenario::types::{Error as WitError, Value as WitValue};
