//! The run directory of a local cluster: its exclusive lock, and the marks its members carry.
//!
//! Every member is started with two system properties on its command line,
//! `-Dhzlab.cluster=<canonical run directory>` and `-Dhzlab.member=<number from 1>`, next to
//! the member main class. A process is a member of a run directory exactly when its
//! `/proc/<pid>/cmdline` has both (and the main class), whatever path (relative, absolute,
//! through a symbolic link) a command names the directory by: the directory is made canonical
//! first. The mark outlives a lost or half-written `cluster.json` and tells a live member
//! from another process that got the id of a dead one.
//!
//! Commands that change a cluster hold an exclusive lock on `<run dir>/lock` (`flock`, so the
//! kernel releases it when the holder dies, even by SIGKILL); the holder writes its process id
//! and command into the file, so that a command that finds the lock taken can say by whom.

use std::ffi::OsStr;
use std::fs::{File, OpenOptions};
use std::io::{self, Read as _, Seek as _, Write as _};
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{LocalError, MEMBER_MAIN_CLASS};

/// The system property naming a member's run directory.
pub const CLUSTER_PROPERTY: &str = "hzlab.cluster";
/// The system property holding a member's number (from 1).
pub const MEMBER_PROPERTY: &str = "hzlab.member";
/// The lock file inside a run directory.
pub const LOCK_FILE: &str = "lock";

/// `path` absolute, with symbolic links and `.`/`..` resolved, also when its last components
/// do not exist (yet or any more): the longest existing ancestor is made canonical and the
/// rest appended.
pub fn canonical_dir(path: &Path) -> io::Result<PathBuf> {
    let absolute = std::path::absolute(path)?;
    let mut existing = absolute.as_path();
    let mut tail: Vec<&OsStr> = Vec::new();
    loop {
        match existing.canonicalize() {
            Ok(mut dir) => {
                for part in tail.iter().rev() {
                    dir.push(part);
                }
                return Ok(dir);
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                match (existing.parent(), existing.file_name()) {
                    (Some(parent), Some(name)) => {
                        tail.push(name);
                        existing = parent;
                    }
                    _ => {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidInput,
                            format!("cannot resolve {}", path.display()),
                        ))
                    }
                }
            }
            Err(e) => return Err(e),
        }
    }
}

/// The two command-line arguments that mark member `member` (from 1) of `run_dir`
/// (canonical).
pub fn mark_args(run_dir: &Path, member: usize) -> [std::ffi::OsString; 2] {
    let mut cluster = std::ffi::OsString::from(format!("-D{CLUSTER_PROPERTY}="));
    cluster.push(run_dir.as_os_str());
    [
        cluster,
        std::ffi::OsString::from(format!("-D{MEMBER_PROPERTY}={member}")),
    ]
}

/// A live process carrying the mark of a run directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MarkedMember {
    /// Member number, from 1.
    pub member: usize,
    pub pid: u32,
}

/// The run directory and member number process `pid` is marked with, if it is a live member.
fn mark_of(pid: u32) -> Option<(PathBuf, usize)> {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    if cmdline.is_empty() || exited(pid) {
        return None;
    }
    let cluster_prefix = format!("-D{CLUSTER_PROPERTY}=");
    let member_prefix = format!("-D{MEMBER_PROPERTY}=");
    let (mut dir, mut member, mut main) = (None, None, false);
    for arg in cmdline.split(|b| *b == 0) {
        if let Some(d) = arg.strip_prefix(cluster_prefix.as_bytes()) {
            dir = Some(PathBuf::from(OsStr::from_bytes(d)));
        } else if let Some(n) = arg.strip_prefix(member_prefix.as_bytes()) {
            member = std::str::from_utf8(n).ok().and_then(|n| n.parse().ok());
        } else if arg == MEMBER_MAIN_CLASS.as_bytes() {
            main = true;
        }
    }
    match (dir, member, main) {
        (Some(d), Some(m), true) => Some((d, m)),
        _ => None,
    }
}

/// The state letter of process `pid` in `/proc/PID/stat` (`R`, `S`, `T` stopped, `Z`
/// zombie...); `None` when there is no such process.
pub fn process_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The state follows the parenthesised command name.
    stat.rsplit(')').next()?.trim_start().chars().next()
}

/// Whether process `pid` has exited (a zombie, or gone).
fn exited(pid: u32) -> bool {
    matches!(process_state(pid), None | Some('Z' | 'X'))
}

/// Whether process `pid` is alive and member `member` (from 1) of `run_dir` (canonical).
pub fn is_marked(pid: u32, run_dir: &Path, member: usize) -> bool {
    mark_of(pid).is_some_and(|(d, m)| d == run_dir && m == member)
}

/// Every live member of `run_dir` (canonical), by member number then pid.
pub fn marked_members(run_dir: &Path) -> Vec<MarkedMember> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut found: Vec<MarkedMember> = entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let (dir, member) = mark_of(pid)?;
            (dir == run_dir).then_some(MarkedMember { member, pid })
        })
        .collect();
    found.sort_by_key(|m| (m.member, m.pid));
    found
}

/// Sends `signal` to process `pid` with the `kill` system call (no `kill` command is run).
pub fn send_signal(pid: u32, signal: rustix::process::Signal) -> io::Result<()> {
    let pid = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{pid} is not a process id"),
            )
        })?;
    rustix::process::kill_process(pid, signal).map_err(io::Error::from)
}

/// Sends `signal` to process `pid`, ignoring errors (such as a process gone meanwhile).
pub(super) fn send(pid: u32, signal: rustix::process::Signal) {
    let _ = send_signal(pid, signal);
}

/// Kills (SIGKILL) every live member of `run_dir` and waits up to 10 s for them to exit;
/// returns what it killed. Needs no state file: members are found by their mark.
pub fn kill_marked(run_dir: &Path) -> Result<Vec<MarkedMember>, LocalError> {
    let run_dir = canonical_dir(run_dir)?;
    let found = marked_members(&run_dir);
    for m in &found {
        send(m.pid, rustix::process::Signal::KILL);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    for m in &found {
        let left = deadline.saturating_duration_since(Instant::now());
        if !wait_gone(m.pid, &run_dir, m.member, left) {
            return Err(LocalError::State {
                dir: run_dir.display().to_string(),
                reason: format!(
                    "member {} (pid {}) still runs 10 s after SIGKILL",
                    m.member, m.pid
                ),
            });
        }
    }
    Ok(found)
}

/// Whether member `member` of `run_dir`, process `pid`, has finished exiting (or the id now
/// belongs to another process). A killed process still releasing its memory has an empty
/// command line but holds its sockets (the member's port) until it is gone.
pub(super) fn gone(pid: u32, run_dir: &Path, member: usize) -> bool {
    if exited(pid) {
        return true;
    }
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    !cmdline.is_empty() && !is_marked(pid, run_dir, member)
}

/// Waits until member `member` of `run_dir`, process `pid`, has exited; whether it went
/// within `timeout`.
pub(super) fn wait_gone(pid: u32, run_dir: &Path, member: usize, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while !gone(pid, run_dir, member) {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    true
}

/// Who holds a run directory's lock, as the holder wrote it into the lock file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LockHolder {
    pub pid: Option<u32>,
    /// What the holder does (e.g. `hzlab cluster up`).
    pub command: String,
}

impl std::fmt::Display for LockHolder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let command = if self.command.is_empty() {
            "another process"
        } else {
            &self.command
        };
        match self.pid {
            Some(pid) => write!(f, "{command} (pid {pid})"),
            None => f.write_str(command),
        }
    }
}

impl LockHolder {
    fn read(file: &mut File) -> LockHolder {
        let mut text = String::new();
        let _ = file.rewind().and_then(|_| file.read_to_string(&mut text));
        let mut lines = text.lines();
        LockHolder {
            pid: lines.next().and_then(|l| l.trim().parse().ok()),
            command: lines.next().unwrap_or("").trim().to_owned(),
        }
    }
}

/// An exclusive lock on a run directory, held until dropped.
#[derive(Debug)]
pub struct RunDirLock {
    dir: PathBuf,
    _file: File,
}

/// Whether `file` is still the lock file at `path` (not removed, with its directory, by the
/// holder before it let go).
fn still_there(file: &File, path: &Path) -> io::Result<bool> {
    let open = file.metadata()?;
    match std::fs::metadata(path) {
        Ok(now) => Ok(now.dev() == open.dev() && now.ino() == open.ino()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

impl RunDirLock {
    /// Locks `dir`, waiting for a holder to let go (`waiting` is told who, once). With
    /// `create`, the directory is made when missing; without, a missing directory is an
    /// error of kind `NotFound`.
    pub fn acquire(
        dir: &Path,
        command: &str,
        create: bool,
        mut waiting: impl FnMut(&LockHolder),
    ) -> Result<RunDirLock, LocalError> {
        let mut told = false;
        loop {
            let (dir, path, mut file) = Self::open(dir, create)?;
            match file.try_lock() {
                Ok(()) => {}
                Err(std::fs::TryLockError::WouldBlock) => {
                    if !told {
                        waiting(&LockHolder::read(&mut file));
                        told = true;
                    }
                    file.lock()?;
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(e.into()),
            }
            if still_there(&file, &path)? {
                return Self::hold(dir, file, command);
            }
        }
    }

    /// Locks `dir` (made when missing) if nobody holds it; else says who does.
    pub fn try_acquire(
        dir: &Path,
        command: &str,
    ) -> Result<Result<RunDirLock, LockHolder>, LocalError> {
        loop {
            let (dir, path, mut file) = Self::open(dir, true)?;
            match file.try_lock() {
                Ok(()) => {}
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Ok(Err(LockHolder::read(&mut file)))
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(e.into()),
            }
            if still_there(&file, &path)? {
                return Self::hold(dir, file, command).map(Ok);
            }
        }
    }

    fn open(dir: &Path, create: bool) -> Result<(PathBuf, PathBuf, File), LocalError> {
        if create {
            std::fs::create_dir_all(dir)?;
        } else if !dir.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("no run directory {}", dir.display()),
            )
            .into());
        }
        let dir = canonical_dir(dir)?;
        let path = dir.join(LOCK_FILE);
        // The directory exists: the lock file is made in it when missing (also in a run
        // directory from before lock files).
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)?;
        Ok((dir, path, file))
    }

    fn hold(dir: PathBuf, mut file: File, command: &str) -> Result<RunDirLock, LocalError> {
        file.set_len(0)?;
        file.rewind()?;
        writeln!(file, "{}\n{command}", std::process::id())?;
        Ok(RunDirLock { dir, _file: file })
    }

    /// The run directory, canonical.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A second handle on the same lock: the directory stays locked until both are dropped
    /// (e.g. to clean up after a start that was given, and dropped, the first).
    pub fn try_clone(&self) -> io::Result<RunDirLock> {
        Ok(RunDirLock {
            dir: self.dir.clone(),
            _file: self._file.try_clone()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("hz-rundir-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn canonical_dirs_agree_however_named() {
        let root = scratch("canon");
        std::fs::create_dir_all(root.join("a")).unwrap();
        let canon = canonical_dir(&root.join("a")).unwrap();
        assert!(canon.is_absolute());
        assert_eq!(canonical_dir(&root.join("a/../a/.")).unwrap(), canon);
        // Missing tails keep their names under the canonical ancestor.
        assert_eq!(
            canonical_dir(&root.join("a/b/c")).unwrap(),
            canon.join("b/c")
        );
        std::os::unix::fs::symlink(root.join("a"), root.join("link")).unwrap();
        assert_eq!(
            canonical_dir(&root.join("link/b")).unwrap(),
            canon.join("b")
        );
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn a_second_lock_is_refused_naming_the_holder_and_granted_after() {
        let root = scratch("lock");
        let first = RunDirLock::try_acquire(&root, "test one").unwrap().unwrap();
        let holder = RunDirLock::try_acquire(&root, "test two")
            .unwrap()
            .unwrap_err();
        assert_eq!(holder.pid, Some(std::process::id()));
        assert_eq!(holder.command, "test one");
        assert_eq!(
            holder.to_string(),
            format!("test one (pid {})", std::process::id())
        );
        // A clone keeps it locked after the first handle is gone.
        let clone = first.try_clone().unwrap();
        drop(first);
        assert!(RunDirLock::try_acquire(&root, "test two").unwrap().is_err());
        let first = clone;
        // A waiter gets it once the holder lets go, and is told whom it waited for.
        let (tx, rx) = std::sync::mpsc::channel();
        let dir = root.clone();
        let waiter = std::thread::spawn(move || {
            RunDirLock::acquire(&dir, "test three", false, |h| tx.send(h.clone()).unwrap())
                .map(|l| l.dir().to_path_buf())
        });
        assert_eq!(rx.recv().unwrap().command, "test one");
        drop(first);
        assert_eq!(
            waiter.join().unwrap().unwrap(),
            canonical_dir(&root).unwrap()
        );
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn a_waiter_whose_directory_was_removed_by_the_holder_finds_it_gone() {
        let root = scratch("removed");
        let first = RunDirLock::try_acquire(&root, "down").unwrap().unwrap();
        let dir = root.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        let waiter = std::thread::spawn(move || {
            RunDirLock::acquire(&dir, "status", false, |_| tx.send(()).unwrap())
                .map(|l| l.dir().to_path_buf())
        });
        rx.recv().unwrap();
        std::fs::remove_dir_all(&root).unwrap();
        drop(first);
        match waiter.join().unwrap() {
            Err(LocalError::Io(e)) => assert_eq!(e.kind(), io::ErrorKind::NotFound),
            other => panic!("{other:?}"),
        }
        // Without `create` a missing directory is not made.
        assert!(RunDirLock::acquire(&root, "status", false, |_| {}).is_err());
        assert!(!root.exists());
    }

    /// A stand-in process whose command line carries `args` (a shell that waits).
    /// A process whose command line carries `args`. It waits with the shell's own `read`
    /// on a pipe (until the test drops it), not a `sleep` child: the shell's fork before it
    /// runs `sleep` briefly carries the same command line, which looked like a second
    /// member to `marked_members`.
    fn stand_in(args: &[std::ffi::OsString]) -> std::process::Child {
        std::process::Command::new("sh")
            .args(["-c", "read -r _", "sh"])
            .args(args)
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// The state letter of process `pid` in /proc (`S` sleeping, `T` stopped...).
    fn state(pid: u32) -> char {
        process_state(pid).expect("the process exists")
    }

    /// Waits up to 10 s for process `pid` to reach a state `wanted` accepts.
    fn wait_state(pid: u32, wanted: impl Fn(char) -> bool) -> char {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let s = state(pid);
            if wanted(s) || Instant::now() > deadline {
                return s;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn signals_stop_continue_and_kill_a_process() {
        use rustix::process::Signal;
        let mut child = stand_in(&[]);
        let pid = child.id();
        send_signal(pid, Signal::STOP).unwrap();
        assert_eq!(wait_state(pid, |s| s == 'T'), 'T');
        send_signal(pid, Signal::CONT).unwrap();
        assert_ne!(wait_state(pid, |s| s != 'T'), 'T');
        send_signal(pid, Signal::KILL).unwrap();
        let status = child.wait().unwrap();
        use std::os::unix::process::ExitStatusExt as _;
        assert_eq!(status.signal(), Some(9));
        // A process that is gone (reaped) cannot be signalled; nor can pid 0 or one beyond
        // the pid range.
        assert!(send_signal(pid, Signal::CONT).is_err());
        assert!(send_signal(0, Signal::CONT).is_err());
        assert!(send_signal(u32::MAX, Signal::CONT).is_err());
    }

    #[test]
    fn members_are_found_by_their_mark_and_killed() {
        let root = scratch("marks");
        std::fs::create_dir_all(&root).unwrap();
        let dir = canonical_dir(&root).unwrap();
        let [c, m] = mark_args(&dir, 2);
        let mut member = stand_in(&[c.clone(), m.clone(), MEMBER_MAIN_CLASS.into()]);
        // Marks of another directory, or without the main class, are not members of it.
        let [oc, om] = mark_args(&dir.join("other"), 2);
        let mut other = stand_in(&[oc, om, MEMBER_MAIN_CLASS.into()]);
        let mut unmarked = stand_in(&[c, m]);
        let pid = member.id();
        // Under parallel tests the stand-in's /proc entry can lag its spawn (seen in CI once
        // in about 40 runs of this crate's tests): look until it shows, at most 5 s.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        let mut found = marked_members(&dir);
        while found.is_empty() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
            found = marked_members(&dir);
        }
        assert_eq!(found, vec![MarkedMember { member: 2, pid }]);
        assert!(is_marked(pid, &dir, 2));
        assert!(!is_marked(pid, &dir, 1));
        assert!(!is_marked(std::process::id(), &dir, 2));
        // Named by another path, the directory still finds it.
        let killed = kill_marked(&root.join("../").join(root.file_name().unwrap())).unwrap();
        assert_eq!(killed, found);
        let _ = member.wait();
        assert!(marked_members(&dir).is_empty());
        for c in [&mut other, &mut unmarked] {
            assert!(
                matches!(c.try_wait(), Ok(None)),
                "only the member was killed"
            );
            let _ = c.kill();
            let _ = c.wait();
        }
        std::fs::remove_dir_all(&root).unwrap();
    }
}
