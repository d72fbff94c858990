//! `hzlab cluster` from tests: the command, and a guard that stops the members whatever
//! happens to the test.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `hzlab cluster ARGS --name NAME --dir DIR`.
pub fn hzlab_cluster(dir: &Path, name: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hzlab"))
        .arg("cluster")
        .args(args)
        .args(["--name", name])
        .arg("--dir")
        .arg(dir)
        .output()
        .unwrap()
}

/// Brings cluster `name` in `dir` down when dropped (also when the test fails): `hzlab
/// cluster down`, then `kill -9` of every pid its state file names, then removes `dir`.
pub struct Guard {
    pub dir: PathBuf,
    pub name: String,
}

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = hzlab_cluster(&self.dir, &self.name, &["down"]);
        let state = self.dir.join(&self.name).join("cluster.json");
        if let Ok(text) = std::fs::read_to_string(state) {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
                for m in v["member"].as_array().into_iter().flatten() {
                    if let Some(pid) = m["pid"].as_u64() {
                        let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
                    }
                }
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
