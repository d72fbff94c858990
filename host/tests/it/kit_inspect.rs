//! `hzlab inspect`: shows what a component targets; rejects (exit 2) components that import
//! WASI filesystem or sockets or another world, and files that are not scenario components.

use crate::kit_support::{hzlab, scratch, stderr, stdout};
use hzlab::kit::inspect;
use hzlab::scenario::LoadError;

/// A component with the scenario's exports that also imports `import` (an empty instance).
fn component_importing(import: &str) -> Vec<u8> {
    wat::parse_str(format!(
        r#"(component
             (import "{import}" (instance))
             (core module $m
               (memory (export "memory") 1)
               (func (export "f") (result i32) i32.const 0))
             (core instance $i (instantiate $m))
             (type $r (result (error string)))
             (func $f (result $r) (canon lift (core func $i "f") (memory (core memory $i "memory"))))
             (export "setup" (func $f))
             (export "run" (func $f))
             (export "verify" (func $f)))"#
    ))
    .unwrap()
}

#[test]
fn shipped_scenarios_show_world_imports_size_and_hash() {
    let dir = scratch("inspect-shipped");
    let o = hzlab(&dir, &["inspect", "pessimistic"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    for want in [
        "world    hzlab:scenario/scenario@0.2.0 (the current version",
        "hzlab:scenario/lock@0.2.0",
        "exports  setup, run, iteration, verify",
        "sha256   ",
        "bytes",
        "verdict  ok",
    ] {
        assert!(out.contains(want), "no `{want}` in:\n{out}");
    }
    let path = hzlab::testing::component_path("pessimistic");
    let bytes = std::fs::read(&path).unwrap();
    assert!(out.contains(&hzlab::scenario::sha256_hex(&bytes)), "{out}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn wasi_filesystem_sockets_and_other_worlds_are_rejected_with_exit_2() {
    let dir = scratch("inspect-foreign");
    for (import, says) in [
        ("wasi:filesystem/preopens@0.2.0", "WASI filesystem access"),
        ("wasi:filesystem/types@0.2.3", "WASI filesystem access"),
        ("wasi:sockets/tcp@0.2.0", "WASI network sockets"),
        ("acme:other/world@1.0.0", "another world's interface"),
    ] {
        let file = dir.join("shared.wasm");
        std::fs::write(&file, component_importing(import)).unwrap();
        let o = hzlab(&dir, &["inspect", "shared.wasm"]);
        assert_eq!(o.status.code(), Some(2), "{import}: {}", stdout(&o));
        let err = stderr(&o);
        assert!(
            err.contains(import) && err.contains(says),
            "{import}: {err}"
        );
        assert!(err.contains("may import only hzlab:scenario/*"), "{err}");
        assert!(stdout(&o).is_empty(), "a rejected file printed a report");
        // `hzlab run` refuses it too, before anything runs.
        let o = hzlab(&dir, &["run", "./shared.wasm", "-q"]);
        assert_eq!(o.status.code(), Some(2), "{import}: run accepted it");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn another_version_of_the_world_is_rejected() {
    let bytes = component_importing("hzlab:scenario/map@9.0.0");
    let e = inspect("v9.wasm", &bytes).unwrap_err();
    assert!(matches!(e, LoadError::WrongWorld { .. }), "{e}");
    assert!(
        e.to_string()
            .contains("targets hzlab:scenario@9.0.0, but this hzlab implements 0.1.0 and 0.2.0"),
        "{e}"
    );
}

#[test]
fn missing_exports_and_wrong_types_are_rejected() {
    let none = wat::parse_str("(component)").unwrap();
    let e = inspect("empty.wasm", &none).unwrap_err().to_string();
    assert!(e.contains("does not export setup, run, verify"), "{e}");

    // The right names with the wrong type: `run` takes an argument.
    let wrong = wat::parse_str(
        r#"(component
             (core module $m (func (export "f") (param i32)))
             (core instance $i (instantiate $m))
             (func $f (param "x" u32) (canon lift (core func $i "f")))
             (export "setup" (func $f))
             (export "run" (func $f))
             (export "verify" (func $f)))"#,
    )
    .unwrap();
    let e = inspect("wrong.wasm", &wrong).unwrap_err();
    assert!(matches!(e, LoadError::WrongWorld { .. }), "{e}");
}

#[test]
fn files_that_are_not_components_exit_2() {
    let dir = scratch("inspect-bad");
    std::fs::write(dir.join("notes.wasm"), b"hello, not wasm").unwrap();
    std::fs::write(dir.join("plain.wasm"), wat::parse_str("(module)").unwrap()).unwrap();
    for (file, says) in [
        ("notes.wasm", "is not a WebAssembly file"),
        ("plain.wasm", "core WebAssembly module"),
        ("missing.wasm", "cannot read scenario file"),
    ] {
        let o = hzlab(&dir, &["inspect", file]);
        assert_eq!(o.status.code(), Some(2), "{file}");
        assert!(stderr(&o).contains(says), "{file}: {}", stderr(&o));
    }
    std::fs::remove_dir_all(dir).unwrap();
}
