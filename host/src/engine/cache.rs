//! Compiled components cached on disk, so that only a component's first run compiles it.
//!
//! An entry is named by the SHA-256 of the component's bytes and of the engine's
//! compatibility hash (wasmtime's version and every setting that changes the code it
//! makes), so a different component, wasmtime or engine setting never finds another's
//! entry. Entries are written to a temporary file and renamed into place, so concurrent runs
//! share the directory safely: a reader sees a whole entry or none. An entry that does not
//! load (damaged, or from an incompatible build) is removed and the component compiled
//! again. The directory is kept under [`MAX_BYTES`] by removing the least recently used
//! entries.
//!
//! Where: `HZLAB_CACHE_DIR`, else `$XDG_CACHE_HOME/hzlab/components`, else
//! `$HOME/.cache/hzlab/components`; `HZLAB_CACHE=off` turns it off. Loading an entry runs
//! the machine code in it, so the directory must be writable by its owner only (hzlab
//! creates it with mode 0700 and refuses one that others can write).

use std::hash::{Hash, Hasher};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::Engine;

/// The most the directory holds before the least recently used entries go.
pub const MAX_BYTES: u64 = 2 << 30;

/// The cache directory of one process.
#[derive(Debug, Clone)]
pub struct ComponentCache {
    dir: PathBuf,
}

/// Feeds a `Hash` into SHA-256.
struct ShaHasher(Sha256);

impl Hasher for ShaHasher {
    fn finish(&self) -> u64 {
        0
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

impl ComponentCache {
    /// The cache the environment names (see the module's documentation); `None` when it is
    /// off or no directory can be found or made.
    pub fn from_env() -> Option<ComponentCache> {
        if std::env::var("HZLAB_CACHE").is_ok_and(|v| v == "off" || v == "0") {
            return None;
        }
        let dir = match std::env::var_os("HZLAB_CACHE_DIR") {
            Some(d) => PathBuf::from(d),
            None => {
                let base = std::env::var_os("XDG_CACHE_HOME")
                    .map(PathBuf::from)
                    .filter(|p| p.is_absolute())
                    .or_else(|| {
                        std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache"))
                    })?;
                base.join("hzlab").join("components")
            }
        };
        match ComponentCache::at(&dir) {
            Ok(c) => Some(c),
            Err(why) => {
                tracing::warn!(dir = %dir.display(), "component cache off: {why}");
                None
            }
        }
    }

    /// The cache in `dir`, made if missing.
    pub fn at(dir: &Path) -> Result<ComponentCache, String> {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder
            .create(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let meta = std::fs::metadata(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            if meta.mode() & 0o022 != 0 {
                return Err(format!(
                    "{} can be written by others (mode {:o}): its entries would run as code",
                    dir.display(),
                    meta.mode() & 0o777
                ));
            }
        }
        Ok(ComponentCache {
            dir: dir.to_owned(),
        })
    }

    /// The entry's file for `bytes` compiled by `engine`.
    pub fn entry(&self, engine: &Engine, bytes: &[u8]) -> PathBuf {
        let mut h = ShaHasher(Sha256::new());
        engine.precompile_compatibility_hash().hash(&mut h);
        h.0.update(b"\0hzlab component\0");
        h.0.update(bytes);
        let digest = h.0.finalize();
        let name: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        self.dir.join(format!("{name}.cwasm"))
    }

    /// The compilation kept in `path` (an [`ComponentCache::entry`]), if there is a good one.
    pub fn load(&self, engine: &Engine, path: &Path) -> Option<Component> {
        if !path.is_file() {
            return None;
        }
        // SAFETY: the entry was written by `store` below from `Component::serialize` of the
        // same engine settings (its name hashes them), into a directory only its owner can
        // write (checked in `at`); wasmtime checks the header and the settings again and
        // refuses an entry that does not match.
        match unsafe { Component::deserialize_file(engine, path) } {
            Ok(c) => {
                // Its modification time marks it recently used.
                let _ = std::fs::File::options()
                    .append(true)
                    .open(path)
                    .and_then(|f| f.set_modified(std::time::SystemTime::now()));
                tracing::debug!(entry = %path.display(), "compiled component from the cache");
                Some(c)
            }
            Err(e) => {
                tracing::warn!(entry = %path.display(), "removing a cache entry that does not load: {e:#}");
                let _ = std::fs::remove_file(path);
                None
            }
        }
    }

    /// Keeps `component` in `path` (its [`ComponentCache::entry`]); a failure only costs
    /// the next run a compile.
    pub fn store(&self, path: &Path, component: &Component) {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let written = component
            .serialize()
            .map_err(|e| format!("{e:#}"))
            .and_then(|data| {
                let tmp = self.dir.join(format!(
                    ".tmp-{}-{}",
                    std::process::id(),
                    NEXT.fetch_add(1, Ordering::Relaxed)
                ));
                let result = std::fs::File::create(&tmp)
                    .and_then(|mut f| f.write_all(&data).and_then(|()| f.sync_all()))
                    .and_then(|()| std::fs::rename(&tmp, path));
                if result.is_err() {
                    let _ = std::fs::remove_file(&tmp);
                }
                result.map_err(|e| e.to_string())
            });
        match written {
            Ok(()) => self.trim(MAX_BYTES),
            Err(e) => {
                tracing::warn!(dir = %self.dir.display(), "cannot cache a compiled component: {e}")
            }
        }
    }

    /// Removes the least recently used entries until the directory holds at most `max`
    /// bytes.
    fn trim(&self, max: u64) {
        let Ok(read) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let mut entries: Vec<(std::time::SystemTime, u64, PathBuf)> = read
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "cwasm"))
            .filter_map(|e| {
                let m = e.metadata().ok()?;
                Some((m.modified().ok()?, m.len(), e.path()))
            })
            .collect();
        let mut total: u64 = entries.iter().map(|e| e.1).sum();
        entries.sort();
        for (_, len, path) in entries {
            if total <= max {
                break;
            }
            if std::fs::remove_file(&path).is_ok() {
                total -= len;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WAT: &str = r#"(component (core module (func (export "f"))))"#;

    fn engine() -> Engine {
        let mut c = wasmtime::Config::new();
        c.wasm_component_model(true);
        Engine::new(&c).unwrap()
    }

    #[test]
    fn entries_are_reused_and_damaged_ones_replaced() {
        let dir = std::env::temp_dir().join(format!("hzlab-cache-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let cache = ComponentCache::at(&dir).unwrap();
        let engine = engine();
        let bytes = wat::parse_str(WAT).unwrap();
        let path = cache.entry(&engine, &bytes);
        assert!(cache.load(&engine, &path).is_none());
        let c = Component::new(&engine, &bytes).unwrap();
        cache.store(&path, &c);
        assert!(cache.load(&engine, &path).is_some(), "a stored entry loads");
        // Another component has another entry.
        let other = wat::parse_str(r#"(component (core module (func (export "g"))))"#).unwrap();
        assert_ne!(cache.entry(&engine, &bytes), cache.entry(&engine, &other));
        // A damaged entry is removed, not run.
        std::fs::write(&path, b"\x7fELF not really").unwrap();
        assert!(cache.load(&engine, &path).is_none());
        assert!(!path.exists(), "the damaged entry is gone");
        // Trimming keeps the directory under its bound.
        cache.store(&path, &c);
        cache.store(
            &cache.entry(&engine, &other),
            &Component::new(&engine, &other).unwrap(),
        );
        cache.trim(0);
        let left = std::fs::read_dir(&dir).unwrap().count();
        assert_eq!(left, 0);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[cfg(unix)]
    #[test]
    fn a_directory_others_can_write_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("hzlab-cache-open-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = ComponentCache::at(&dir).unwrap_err();
        assert!(e.contains("can be written by others"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
