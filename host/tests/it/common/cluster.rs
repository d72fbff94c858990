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

/// Processes marked as members of a run directory under `root`
/// (`-Dhzlab.cluster=<dir under root>` on their command line), read from /proc here rather
/// than through hzlab's own code, so that a guard does not share its bugs.
pub fn member_pids_under(root: &Path) -> Vec<u32> {
    let root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    let mut prefixes = vec![format!("-Dhzlab.cluster={}", root.display())];
    if let Some(name) = root.file_name() {
        // However the directory was named, its unique last component is in the mark.
        prefixes.push(format!("/{}/", name.to_string_lossy()));
    }
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let marked = cmdline.split(|b| *b == 0).any(|arg| {
            let arg = String::from_utf8_lossy(arg);
            arg.starts_with("-Dhzlab.cluster=")
                && (arg.starts_with(&prefixes[0])
                    || prefixes[1..].iter().any(|p| arg.contains(p.as_str())))
        });
        if marked && !exited(pid) {
            pids.push(pid);
        }
    }
    pids
}

/// Whether `pid` is gone or a zombie (which a container's PID 1 may never reap).
pub fn exited(pid: u32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let state = stat.rsplit(')').next().unwrap_or("").trim_start();
    stat.is_empty() || state.starts_with('Z') || state.starts_with('X')
}

/// Sends `signal` to `pid`.
pub fn send(pid: u32, signal: rustix::process::Signal) {
    let pid = rustix::process::Pid::from_raw(pid as i32).unwrap();
    let _ = rustix::process::kill_process(pid, signal);
}

/// Brings cluster `name` in `dir` down when dropped (also when the test fails): `hzlab
/// cluster down`, then SIGKILL of every process marked as a member of a run directory under
/// `dir`, then removes `dir`.
pub struct Guard {
    pub dir: PathBuf,
    pub name: String,
}

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = hzlab_cluster(&self.dir, &self.name, &["down"]);
        for pid in member_pids_under(&self.dir) {
            eprintln!(
                "guard: killing member pid {pid} left under {}",
                self.dir.display()
            );
            send(pid, rustix::process::Signal::KILL);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
