//! Builds the scenarios in `guest-scenarios/` for wasm32 and turns each into a component, so
//! that building hzlab is all a fresh clone needs: shipped scenarios are embedded in the
//! binary, test guests are left in OUT_DIR for the host's tests.
//!
//! The wasm32 target is installed with rustup when it is missing.
//!
//! `HZLAB_GUEST_TOOLCHAIN` names the rustup toolchain the guests are built with (default: the
//! one building the host). The fuzz targets (`fuzz/`) are built with nightly and set it to
//! `stable`, so the guests come from the same toolchain, and target directory, as the
//! workspace's own build, and nightly needs no wasm32 target.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-unknown-unknown";

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest_dir.parent().unwrap().to_path_buf();
    let guests = root.join("guest-scenarios");
    let out_dir = PathBuf::from(env::var("OUT_DIR").unwrap());

    println!("cargo:rerun-if-changed={}", root.join("wit").display());
    for entry in ["Cargo.toml", "Cargo.lock", ".cargo"] {
        println!("cargo:rerun-if-changed={}", guests.join(entry).display());
    }
    let packages = guest_packages(&guests);
    for p in &packages {
        println!("cargo:rerun-if-changed={}", p.dir.display());
    }
    println!("cargo:rerun-if-env-changed=HZLAB_GUEST_TARGET_DIR");
    println!("cargo:rerun-if-env-changed=HZLAB_GUEST_TOOLCHAIN");
    let toolchain = env::var("HZLAB_GUEST_TOOLCHAIN")
        .ok()
        .filter(|t| !t.is_empty());

    ensure_target(toolchain.as_deref());

    // One target directory beside the workspace's own, shared by every profile of the host.
    let target_dir = env::var_os("HZLAB_GUEST_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| root.join("target"))
                .join("wasm-guests")
        });
    let mut cmd = match &toolchain {
        Some(t) => {
            let mut cmd = Command::new("rustup");
            cmd.args(["run", t, "cargo"]);
            // The host's toolchain must not leak into the guests' build.
            for var in ["RUSTC", "RUSTDOC", "RUSTUP_TOOLCHAIN", "CARGO"] {
                cmd.env_remove(var);
            }
            cmd
        }
        None => Command::new(env::var("CARGO").unwrap_or_else(|_| "cargo".into())),
    };
    cmd.current_dir(&guests)
        .args(["build", "--release", "--workspace", "--target", TARGET])
        .arg("--target-dir")
        .arg(&target_dir);
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_BUILD_TARGET",
        "CARGO_TARGET_DIR",
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_MANIFEST_DIR",
    ] {
        cmd.env_remove(var);
    }
    if env::var_os("CARGO_TERM_QUIET").is_none() {
        cmd.arg("--quiet");
    }
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("could not run cargo to build the guest scenarios: {e}"));
    if !status.success() {
        panic!(
            "building the guest scenarios in {} failed",
            guests.display()
        );
    }

    let built = target_dir.join(TARGET).join("release");
    let components = out_dir.join("components");
    fs::create_dir_all(&components).unwrap();
    let mut catalog = String::from(
        "/// Scenarios built from guest-scenarios/ and embedded in the binary.\n\
         pub static SHIPPED: &[ShippedScenario] = &[\n",
    );
    for p in &packages {
        let core = built.join(format!("{}.wasm", p.lib_name));
        let bytes = fs::read(&core).unwrap_or_else(|e| {
            panic!("guest {} was not built at {}: {e}", p.name, core.display())
        });
        let component = componentize(&bytes)
            .unwrap_or_else(|e| panic!("guest {} is not a valid scenario module: {e:#}", p.name));
        let path = components.join(format!("{}.wasm", p.name));
        write_if_changed(&path, &component);
        if p.shipped {
            writeln!(
                catalog,
                "    ShippedScenario {{ name: {:?}, description: {:?}, component: include_bytes!({:?}) }},",
                p.name,
                p.description,
                path.display().to_string()
            )
            .unwrap();
        }
    }
    catalog.push_str("];\n");
    write_if_changed(&out_dir.join("shipped.rs"), catalog.as_bytes());
}

struct GuestPackage {
    name: String,
    lib_name: String,
    description: String,
    shipped: bool,
    dir: PathBuf,
}

/// The scenario crates (cdylibs) of the guest workspace, from `cargo metadata`.
fn guest_packages(guests: &Path) -> Vec<GuestPackage> {
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    // --no-deps reads only the manifests: no network, no resolution.
    let output = Command::new(cargo)
        .current_dir(guests)
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .expect("could not run cargo metadata on guest-scenarios");
    assert!(
        output.status.success(),
        "cargo metadata on guest-scenarios failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let mut packages = Vec::new();
    for p in meta["packages"].as_array().unwrap() {
        let Some(lib) = p["targets"].as_array().unwrap().iter().find(|t| {
            t["crate_types"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c == "cdylib")
        }) else {
            continue;
        };
        let manifest = PathBuf::from(p["manifest_path"].as_str().unwrap());
        packages.push(GuestPackage {
            name: p["name"].as_str().unwrap().to_owned(),
            lib_name: lib["name"].as_str().unwrap().replace('-', "_"),
            description: p["description"].as_str().unwrap_or("").to_owned(),
            shipped: p["metadata"]["hzlab"]["shipped"].as_bool().unwrap_or(false),
            dir: manifest.parent().unwrap().to_path_buf(),
        });
    }
    packages.sort_by(|a, b| a.name.cmp(&b.name));
    packages
}

/// Installs the wasm32 target with rustup when the toolchain lacks it.
fn ensure_target(toolchain: Option<&str>) {
    let mut rustc = match toolchain {
        Some(t) => {
            let mut cmd = Command::new("rustup");
            cmd.args(["run", t, "rustc"]).env_remove("RUSTUP_TOOLCHAIN");
            cmd
        }
        None => Command::new(env::var("RUSTC").unwrap_or_else(|_| "rustc".into())),
    };
    let sysroot = rustc
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    if let Some(sysroot) = sysroot {
        if sysroot.join("lib/rustlib").join(TARGET).exists() {
            return;
        }
    }
    println!("cargo:warning=installing the {TARGET} target with rustup");
    let mut rustup = Command::new("rustup");
    rustup.args(["target", "add", TARGET]);
    if let Some(t) = toolchain {
        rustup.args(["--toolchain", t]);
    }
    let status = rustup.status();
    match status {
        Ok(s) if s.success() => {}
        _ => panic!(
            "the {TARGET} Rust target is missing and `rustup target add {TARGET}` failed: \
             install it by hand to build the guest scenarios"
        ),
    }
}

fn componentize(core: &[u8]) -> anyhow::Result<Vec<u8>> {
    wit_component::ComponentEncoder::default()
        .module(core)?
        .validate(true)
        .encode()
}

fn write_if_changed(path: &Path, bytes: &[u8]) {
    if fs::read(path).map(|old| old == bytes).unwrap_or(false) {
        return;
    }
    fs::write(path, bytes).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
}
