//! Helpers for the kit tests (`hzlab new`, `build`, `inspect`): the built binary, a scratch
//! directory under the target directory, and caches that keep reruns fast.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Where kit tests keep what outlives one run: componentize-py and the Rust scenario
/// projects' shared Cargo target directory (`tools/rust-target`, as `hzlab build` makes it),
/// built Python components (by source hash).
pub fn cache_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("kit-tests")
}

/// A fresh, empty directory for one test.
pub fn scratch(name: &str) -> PathBuf {
    let dir = cache_dir()
        .join("scratch")
        .join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs the built `hzlab` in `dir`, with the tools and Cargo caches of the kit tests (its
/// projects share `tools/rust-target`, as every user's do, not the tests' target directory).
pub fn hzlab(dir: &Path, args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_hzlab"))
        .current_dir(dir)
        .args(args)
        .env("HZLAB_TOOLS_DIR", cache_dir().join("tools"))
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .unwrap();
    eprintln!(
        "$ hzlab {}\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The repository's root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

/// A short hash of some files' contents, to cache what is built from them.
pub fn source_hash(files: &[&Path]) -> String {
    let mut all = Vec::new();
    for f in files {
        all.extend(std::fs::read(f).unwrap_or_else(|e| panic!("{}: {e}", f.display())));
        all.push(0);
    }
    hzlab::scenario::sha256_hex(&all)[..16].to_owned()
}
