//! The files `hzlab new` writes, embedded in the binary from the repository's real files
//! (`include_str!`), so that templates, WIT world and guest libraries never drift apart and a
//! project needs nothing from this repository.

/// The scenario world (`wit/hzlab.wit`).
pub const WIT: &str = include_str!("../../../wit/hzlab.wit");

/// The scenario world 0.1.0, frozen (`wit/0.1.0/hzlab.wit`): `inspect` checks components
/// built against it.
pub const WIT_0_1_0: &str = include_str!("../../../wit/0.1.0/hzlab.wit");

/// The Rust guest library's sources (`guest-scenarios/hzlab-guest`), vendored into Rust
/// projects under `vendor/hzlab-guest/`. Its bindings read the world from `../../wit`, which
/// is the project's own `wit/` there.
pub const RUST_GUEST_LIB: &str = include_str!("../../../guest-scenarios/hzlab-guest/src/lib.rs");
/// The guest library's manifest (with workspace-inherited fields, see [`rust_guest_manifest`]).
pub const RUST_GUEST_MANIFEST: &str =
    include_str!("../../../guest-scenarios/hzlab-guest/Cargo.toml");

/// The Python guest library (`guest-scenarios/python/hzlab_guest.py`), copied beside `app.py`.
pub const PYTHON_GUEST_LIB: &str = include_str!("../../../guest-scenarios/python/hzlab_guest.py");

/// A Rust project's manifest (`{{name}}` is the scenario's name).
pub const RUST_MANIFEST: &str = include_str!("../../templates/rust/Cargo.toml");
/// A Rust project's scenario: transfers between accounts under locks.
pub const RUST_LIB: &str = include_str!("../../templates/rust/lib.rs");
/// A Python project's scenario: the same bank in Python.
pub const PYTHON_APP: &str = include_str!("../../templates/python/app.py");

/// Cargo configuration of a Rust project: builds for wasm32 by default.
pub const RUST_CARGO_CONFIG: &str = "[build]\ntarget = \"wasm32-unknown-unknown\"\n";

/// The version of componentize-py `hzlab build` installs for Python projects.
pub const COMPONENTIZE_PY_VERSION: &str = "0.25.1";

/// The guest library's manifest made standalone: fields the repository's guest workspace
/// provides (`version.workspace = true`, ...) are written out.
pub fn rust_guest_manifest() -> String {
    let mut out = String::new();
    for line in RUST_GUEST_MANIFEST.lines() {
        let line = match line.trim() {
            "version.workspace = true" => "version = \"0.1.0\"",
            "edition.workspace = true" => "edition = \"2021\"",
            "license.workspace = true" => "license = \"Apache-2.0\"",
            _ => line,
        };
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vendored_guest_manifest_inherits_nothing() {
        let m = rust_guest_manifest();
        assert!(!m.contains(".workspace"), "{m}");
        assert!(m.contains("name = \"hzlab-guest\""), "{m}");
        assert!(m.contains("wit-bindgen"), "{m}");
    }

    #[test]
    fn the_guest_library_reads_the_world_where_projects_put_it() {
        assert!(RUST_GUEST_LIB.contains("path: \"../../wit\""));
        assert!(WIT.contains("package hzlab:scenario@"));
    }
}
