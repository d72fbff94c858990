//! Where scenarios come from: the ones shipped inside hzlab, or `.wasm` component files.

use std::path::{Path, PathBuf};

/// A scenario built from `guest-scenarios/` and embedded in the binary.
#[derive(Debug)]
pub struct ShippedScenario {
    pub name: &'static str,
    pub description: &'static str,
    pub component: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/shipped.rs"));

/// Why a scenario could not be loaded. Every variant is bad input (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("unknown scenario `{name}`: not a shipped scenario ({known}) nor a .wasm file")]
    Unknown { name: String, known: String },
    // The cause is in the message (and not also a `source`, which would print it twice).
    #[error("cannot read scenario file {path}: {cause}")]
    Read {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("{what} is not a WebAssembly file (it does not start with the wasm magic bytes)")]
    NotWasm { what: String },
    #[error(
        "{what} is a core WebAssembly module that cannot be made a scenario component \
         (build it with the hzlab-guest crate, whose bindings embed the scenario world): \
         {detail}"
    )]
    CoreModule { what: String, detail: String },
    #[error("{what} is not a valid WebAssembly component: {detail}")]
    Invalid { what: String, detail: String },
    #[error("{what} does not target the hzlab scenario world: {detail}")]
    WrongWorld { what: String, detail: String },
    #[error("the WebAssembly engine failed: {0}")]
    Engine(String),
}

/// A scenario's component bytes and where they came from.
#[derive(Debug, Clone)]
pub enum ScenarioSource {
    Shipped(&'static ShippedScenario),
    File { path: PathBuf, bytes: Vec<u8> },
}

impl ScenarioSource {
    /// A shipped scenario by name, or a component file by path. A spec naming an existing
    /// file, containing a path separator, or ending in `.wasm` is a path.
    pub fn resolve(spec: &str) -> Result<ScenarioSource, LoadError> {
        let path = Path::new(spec);
        let looks_like_path =
            spec.contains(std::path::MAIN_SEPARATOR) || spec.ends_with(".wasm") || path.is_file();
        if !looks_like_path {
            if let Some(s) = shipped(spec) {
                return Ok(ScenarioSource::Shipped(s));
            }
            return Err(LoadError::Unknown {
                name: spec.to_owned(),
                known: SHIPPED
                    .iter()
                    .map(|s| s.name)
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        let bytes = read_limited(path, MAX_SCENARIO_BYTES).map_err(|cause| LoadError::Read {
            path: path.to_owned(),
            cause,
        })?;
        Ok(ScenarioSource::File {
            path: path.to_owned(),
            bytes,
        })
    }

    pub fn bytes(&self) -> &[u8] {
        match self {
            ScenarioSource::Shipped(s) => s.component,
            ScenarioSource::File { bytes, .. } => bytes,
        }
    }

    /// The scenario's name: the shipped name, or the file's stem.
    pub fn name(&self) -> String {
        match self {
            ScenarioSource::Shipped(s) => s.name.to_owned(),
            ScenarioSource::File { path, .. } => path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| path.display().to_string()),
        }
    }

    /// How messages name it.
    pub fn display_name(&self) -> String {
        match self {
            ScenarioSource::Shipped(s) => format!("shipped scenario `{}`", s.name),
            ScenarioSource::File { path, .. } => path.display().to_string(),
        }
    }

    /// How the report names its origin.
    pub fn origin(&self) -> String {
        match self {
            ScenarioSource::Shipped(s) => format!("shipped:{}", s.name),
            ScenarioSource::File { path, .. } => path.display().to_string(),
        }
    }
}

/// Largest scenario file read (a Python component weighs about 19 MB, a Rust one 60 KB).
pub const MAX_SCENARIO_BYTES: u64 = 128 << 20;

/// Reads `path` whole, refusing (with an error naming the limit) a file longer than `limit`
/// bytes, endless ones (`/dev/zero`, a pipe) included, having read at most one byte more.
pub fn read_limited(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let file = std::fs::File::open(path)?;
    let meta = file.metadata()?;
    if meta.is_dir() {
        return Err(std::io::Error::other("it is a directory"));
    }
    let too_large = || {
        std::io::Error::new(
            std::io::ErrorKind::FileTooLarge,
            format!("it is larger than {limit} bytes, the most hzlab reads for it"),
        )
    };
    if meta.len() > limit {
        return Err(too_large());
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(too_large());
    }
    Ok(bytes)
}

/// The SHA-256 of a scenario file, as lowercase hex: what plans pin and `inspect` shows.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A shipped scenario by name.
pub fn shipped(name: &str) -> Option<&'static ShippedScenario> {
    SHIPPED.iter().find(|s| s.name == name)
}

/// Every shipped scenario.
pub fn all_shipped() -> &'static [ShippedScenario] {
    SHIPPED
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_scenarios_are_shipped() {
        for name in [
            "populate",
            "count",
            "race",
            "pessimistic",
            "optimistic",
            "producer",
            "consumer",
        ] {
            let s = shipped(name).unwrap_or_else(|| panic!("{name} is not shipped"));
            assert!(!s.description.is_empty());
            assert_eq!(&s.component[..4], b"\0asm");
        }
        assert!(shipped("spin").is_none(), "test guests are not shipped");
    }

    #[test]
    fn unknown_names_list_the_shipped_ones() {
        let err = ScenarioSource::resolve("rase").unwrap_err().to_string();
        assert!(err.contains("unknown scenario `rase`"), "{err}");
        assert!(err.contains("race"), "{err}");
    }

    #[test]
    fn endless_and_oversized_files_are_refused_at_the_limit() {
        let started = std::time::Instant::now();
        let err = read_limited(Path::new("/dev/zero"), 1 << 20).unwrap_err();
        assert!(
            err.to_string().contains("larger than 1048576 bytes"),
            "{err}"
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        let err = ScenarioSource::resolve("/dev/zero")
            .unwrap_err()
            .to_string();
        assert!(err.contains("/dev/zero"), "{err}");
        assert!(err.contains("larger than"), "{err}");
        let dir = std::env::temp_dir().join(format!("hzlab-read-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("big.wasm");
        std::fs::write(&file, vec![0u8; 4096]).unwrap();
        assert!(read_limited(&file, 4095).is_err());
        assert_eq!(read_limited(&file, 4096).unwrap().len(), 4096);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn missing_files_name_the_path() {
        let err = ScenarioSource::resolve("no/such/file.wasm")
            .unwrap_err()
            .to_string();
        assert!(err.contains("no/such/file.wasm"), "{err}");
    }
}
