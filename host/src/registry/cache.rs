//! Pulled artifacts on disk, by digest, so pinned references run without the registry.
//!
//! Where: `HZLAB_OCI_CACHE_DIR`, else `$XDG_CACHE_HOME/hzlab/oci`, else
//! `$HOME/.cache/hzlab/oci` (else a folder in the temporary directory).
//!
//! - `blobs/sha256/HEX`: a component or a plan file, checked against its name when read (a
//!   damaged one is removed and fetched again);
//! - `manifests/sha256/HEX`: what a pulled manifest holds, one line per layer: `component
//!   DIGEST` for a component; `plan PATH DIGEST` then `component PATH DIGEST` lines for a plan;
//! - `plans/sha256/HEX/`: a pulled plan's folder, written from the blobs when it is used.

use std::path::{Path, PathBuf};

use super::layout::{is_safe_path, sha256_digest};
use super::RegistryError;

/// What a manifest holds: its layers' digests (and, for a plan, their paths).
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Entry {
    Component(String),
    Plan {
        plan: (String, String),
        components: Vec<(String, String)>,
    },
}

impl Entry {
    fn to_text(&self) -> String {
        match self {
            Entry::Component(digest) => format!("component {digest}\n"),
            Entry::Plan { plan, components } => {
                let mut text = format!("plan {} {}\n", plan.0, plan.1);
                for (path, digest) in components {
                    text.push_str(&format!("component {path} {digest}\n"));
                }
                text
            }
        }
    }

    fn parse(text: &str) -> Option<Entry> {
        let mut lines = text.lines().map(|l| l.split(' ').collect::<Vec<_>>());
        match lines.next()?.as_slice() {
            ["component", digest] => Some(Entry::Component((*digest).to_owned())),
            ["plan", path, digest] if is_safe_path(path) => {
                let mut components = Vec::new();
                for line in lines {
                    match line.as_slice() {
                        ["component", path, digest] if is_safe_path(path) => {
                            components.push(((*path).to_owned(), (*digest).to_owned()));
                        }
                        _ => return None,
                    }
                }
                Some(Entry::Plan {
                    plan: ((*path).to_owned(), (*digest).to_owned()),
                    components,
                })
            }
            _ => None,
        }
    }
}

#[derive(Clone)]
pub(super) struct Cache {
    dir: PathBuf,
}

impl Cache {
    pub fn from_env() -> Cache {
        let home_cache = || {
            std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .filter(|p| p.is_absolute())
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
                .map(|d| d.join("hzlab").join("oci"))
        };
        let dir = std::env::var_os("HZLAB_OCI_CACHE_DIR")
            .map(PathBuf::from)
            .or_else(home_cache)
            .unwrap_or_else(|| std::env::temp_dir().join("hzlab-oci-cache"));
        Cache { dir }
    }

    #[cfg(test)]
    fn at(dir: PathBuf) -> Cache {
        Cache { dir }
    }

    fn path(&self, kind: &str, digest: &str) -> Option<PathBuf> {
        let hex = digest.strip_prefix("sha256:")?;
        (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| self.dir.join(kind).join("sha256").join(hex))
    }

    /// What the manifest `digest` holds, if it was pulled before.
    pub fn entry(&self, manifest: &str) -> Option<Entry> {
        let text = std::fs::read_to_string(self.path("manifests", manifest)?).ok()?;
        Entry::parse(&text)
    }

    pub fn store_entry(&self, manifest: &str, entry: &Entry) -> Result<(), RegistryError> {
        match self.path("manifests", manifest) {
            Some(path) => write_atomically(&path, entry.to_text().as_bytes()),
            None => Ok(()),
        }
    }

    /// The cached blob with `digest`, if there is one of at most `limit` bytes that matches
    /// it (one that does not is removed).
    pub fn blob(&self, digest: &str, limit: u64) -> Option<Vec<u8>> {
        let path = self.path("blobs", digest)?;
        if std::fs::metadata(&path).ok()?.len() > limit {
            return None;
        }
        let bytes = std::fs::read(&path).ok()?;
        if sha256_digest(&bytes) == digest {
            Some(bytes)
        } else {
            let _ = std::fs::remove_file(&path);
            None
        }
    }

    pub fn store_blob(&self, digest: &str, bytes: &[u8]) -> Result<(), RegistryError> {
        match self.path("blobs", digest) {
            Some(path) => write_atomically(&path, bytes),
            None => Ok(()),
        }
    }

    /// The folder of the plan `manifest`, written from its cached blobs (files already there
    /// and matching are kept); `None` when a blob is missing or damaged.
    pub fn plan_folder(
        &self,
        manifest: &str,
        entry: &Entry,
        limit: u64,
    ) -> Result<Option<PathBuf>, RegistryError> {
        let (Entry::Plan { plan, components }, Some(dir)) = (entry, self.path("plans", manifest))
        else {
            return Ok(None);
        };
        for (path, digest) in std::iter::once(plan).chain(components) {
            let file = dir.join(path);
            let current = std::fs::read(&file).ok();
            if current.is_some_and(|b| sha256_digest(&b) == *digest) {
                continue;
            }
            let Some(bytes) = self.blob(digest, limit) else {
                return Ok(None);
            };
            write_atomically(&file, &bytes)?;
        }
        Ok(Some(dir))
    }
}

/// Writes through a temporary file beside `path`, so a reader never sees half a file.
pub(super) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), RegistryError> {
    let error = |cause| RegistryError::Cache {
        path: path.to_owned(),
        cause,
    };
    let dir = path.parent().expect("cache entries are in a folder");
    std::fs::create_dir_all(dir).map_err(error)?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name().unwrap_or_default().to_string_lossy(),
        std::process::id()
    ));
    std::fs::write(&tmp, bytes).map_err(error)?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        error(e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("hzlab-oci-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn the_cache_gives_back_only_matching_bytes() {
        let dir = scratch("cache");
        let cache = Cache::at(dir.clone());
        let bytes = b"\0asm component".to_vec();
        let layer = sha256_digest(&bytes);
        let manifest = sha256_digest(b"manifest");
        cache.store_blob(&layer, &bytes).unwrap();
        let entry = Entry::Component(layer.clone());
        cache.store_entry(&manifest, &entry).unwrap();
        assert_eq!(cache.entry(&manifest), Some(entry));
        assert_eq!(cache.blob(&layer, 1 << 20), Some(bytes.clone()));
        assert_eq!(cache.blob(&layer, 4), None, "over the limit");
        // A damaged entry is not used, and is removed.
        std::fs::write(cache.path("blobs", &layer).unwrap(), b"damaged").unwrap();
        assert_eq!(cache.blob(&layer, 1 << 20), None);
        assert!(!cache.path("blobs", &layer).unwrap().exists());
        assert_eq!(cache.path("blobs", "sha256:../../etc"), None);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_plan_folder_is_written_from_its_blobs_and_mended() {
        let dir = scratch("plan");
        let cache = Cache::at(dir.clone());
        let (plan, wasm) = (b"name = \"p\"".to_vec(), b"\0asm".to_vec());
        let (p, w) = (sha256_digest(&plan), sha256_digest(&wasm));
        cache.store_blob(&p, &plan).unwrap();
        let manifest = sha256_digest(b"plan manifest");
        let entry = Entry::Plan {
            plan: ("lab.toml".into(), p),
            components: vec![("bank/bank.wasm".into(), w.clone())],
        };
        cache.store_entry(&manifest, &entry).unwrap();
        assert_eq!(cache.entry(&manifest), Some(entry.clone()));
        // A component missing: no folder.
        assert_eq!(cache.plan_folder(&manifest, &entry, 1 << 20).unwrap(), None);
        cache.store_blob(&w, &wasm).unwrap();
        let folder = cache
            .plan_folder(&manifest, &entry, 1 << 20)
            .unwrap()
            .unwrap();
        assert_eq!(std::fs::read(folder.join("lab.toml")).unwrap(), plan);
        assert_eq!(std::fs::read(folder.join("bank/bank.wasm")).unwrap(), wasm);
        // An edited file is written again.
        std::fs::write(folder.join("bank/bank.wasm"), b"edited").unwrap();
        cache.plan_folder(&manifest, &entry, 1 << 20).unwrap();
        assert_eq!(std::fs::read(folder.join("bank/bank.wasm")).unwrap(), wasm);
        // Entries with unsafe paths are not read.
        assert_eq!(Entry::parse("plan ../x.toml sha256:00\n"), None);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
