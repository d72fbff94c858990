//! The member main class (`HzlabMember.java`), compiled once per source and jar.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::LocalError;

/// The Java main class members run (in the default package).
pub const MEMBER_MAIN_CLASS: &str = "HzlabMember";

const SOURCE: &str = include_str!("HzlabMember.java");

/// FNV-1a, 64 bits: a hash that stays the same across Rust releases (a cache key).
fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for &b in *part {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        h ^= 0xff;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

fn cache_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("hazelcast-members");
    }
    if let Some(home) = std::env::var_os("HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(home).join(".cache/hazelcast-members");
    }
    std::env::temp_dir().join("hazelcast-members-cache")
}

/// The directory holding the compiled member main class for `jar`, compiling it with
/// `javac` the first time (into a cache directory named by the hash of the source and the
/// jar path; concurrent callers each compile into a temporary directory and the first
/// rename wins).
pub fn member_classes(jar: &Path) -> Result<PathBuf, LocalError> {
    let key = fnv1a(&[SOURCE.as_bytes(), jar.as_os_str().as_encoded_bytes()]);
    let root = cache_root();
    let dir = root.join(format!("member-{key:016x}"));
    if dir.join(format!("{MEMBER_MAIN_CLASS}.class")).is_file() {
        return Ok(dir);
    }
    std::fs::create_dir_all(&root)?;
    let tmp = root.join(format!(
        "member-{key:016x}.tmp-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp)?;
    let source = tmp.join(format!("{MEMBER_MAIN_CLASS}.java"));
    std::fs::write(&source, SOURCE)?;
    let out = Command::new("javac")
        .arg("-nowarn")
        .arg("-cp")
        .arg(jar)
        .arg("-d")
        .arg(&tmp)
        .arg(&source)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| LocalError::Compile(format!("cannot run javac (a JDK 17+ is needed): {e}")))?;
    if !out.status.success() {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(LocalError::Compile(format!(
            "javac failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    if std::fs::rename(&tmp, &dir).is_err() {
        // Another process compiled it meanwhile.
        let _ = std::fs::remove_dir_all(&tmp);
    }
    if dir.join(format!("{MEMBER_MAIN_CLASS}.class")).is_file() {
        Ok(dir)
    } else {
        Err(LocalError::Compile(format!(
            "compiled class missing in {}",
            dir.display()
        )))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn cache_key_depends_on_every_part() {
        let a = super::fnv1a(&[b"source", b"/jar"]);
        assert_eq!(a, super::fnv1a(&[b"source", b"/jar"]));
        assert_ne!(a, super::fnv1a(&[b"source", b"/jar2"]));
        assert_ne!(a, super::fnv1a(&[b"sourc", b"e/jar"]));
    }
}
