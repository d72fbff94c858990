//! Where scenarios come from: the ones shipped inside hzlab, `.wasm` component files, or
//! references to components in OCI registries.

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
    #[error(transparent)]
    Registry(#[from] crate::registry::RegistryError),
    #[error("the WebAssembly engine cannot {what}")]
    Engine {
        /// What it was doing, e.g. `link the scenario world`.
        what: &'static str,
        #[source]
        cause: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// A scenario's component bytes and where they came from.
#[derive(Debug, Clone)]
pub enum ScenarioSource {
    Shipped(&'static ShippedScenario),
    File {
        path: PathBuf,
        bytes: Vec<u8>,
    },
    /// Pulled from a registry (or its cache).
    Registry(Box<crate::registry::Pulled>),
}

impl ScenarioSource {
    /// A shipped scenario by name, a component file by path, or a registry's component by
    /// reference ([`crate::registry::looks_like_reference`]). A spec naming an existing
    /// file, containing a path separator, or ending in `.wasm` is a path.
    pub fn resolve(spec: &str) -> Result<ScenarioSource, LoadError> {
        ScenarioSource::resolve_pinned(spec, None)
    }

    /// As [`ScenarioSource::resolve`]; a reference is pulled only if its component's
    /// SHA-256 is `pin` (hex), and read from the cache when it is there.
    pub fn resolve_pinned(spec: &str, pin: Option<&str>) -> Result<ScenarioSource, LoadError> {
        if let Some(reference) = crate::registry::ImageRef::parse(spec) {
            let pulled = crate::registry::pull(&reference?, pin)?;
            return Ok(ScenarioSource::Registry(Box::new(pulled)));
        }
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
            ScenarioSource::Registry(p) => &p.bytes,
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
            ScenarioSource::Registry(p) => p.reference.name().to_owned(),
        }
    }

    /// How messages name it.
    pub fn display_name(&self) -> String {
        match self {
            ScenarioSource::Shipped(s) => format!("shipped scenario `{}`", s.name),
            ScenarioSource::File { path, .. } => path.display().to_string(),
            ScenarioSource::Registry(p) => p.reference.to_string(),
        }
    }

    /// How the report names its origin.
    pub fn origin(&self) -> String {
        match self {
            ScenarioSource::Shipped(s) => format!("shipped:{}", s.name),
            ScenarioSource::File { path, .. } => path.display().to_string(),
            ScenarioSource::Registry(p) => match &p.manifest_digest {
                Some(d) if !p.reference.to_string().contains('@') => {
                    format!("oci://{}@{d}", p.reference)
                }
                _ => format!("oci://{}", p.reference),
            },
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

/// The type a scenario parses an argument as (with Rust's `FromStr`, as `runtime::arg_or`
/// does in the guest).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgType {
    Text,
    Bool,
    I32,
    U32,
    I64,
    U64,
}

impl ArgType {
    /// Whether `value` parses as this type.
    pub fn accepts(self, value: &str) -> bool {
        match self {
            ArgType::Text => true,
            ArgType::Bool => value.parse::<bool>().is_ok(),
            ArgType::I32 => value.parse::<i32>().is_ok(),
            ArgType::U32 => value.parse::<u32>().is_ok(),
            ArgType::I64 => value.parse::<i64>().is_ok(),
            ArgType::U64 => value.parse::<u64>().is_ok(),
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            ArgType::Text => "text",
            ArgType::Bool => "true or false",
            ArgType::I32 => "a 32-bit integer",
            ArgType::U32 => "a whole number from 0 to 4294967295",
            ArgType::I64 => "a 64-bit integer",
            ArgType::U64 => "a whole number from 0",
        }
    }
}

/// What a shipped scenario reads and records, known without running it: the arguments it
/// parses, and the names of the numbers it records or counts (what a plan's checks can read
/// as `scenario.value`). A test runs every shipped scenario and holds it to this.
#[derive(Debug)]
pub struct Contract {
    pub args: &'static [(&'static str, ArgType)],
    pub values: &'static [&'static str],
}

const COUNTER_ARGS: &[(&str, ArgType)] = &[
    ("map", ArgType::Text),
    ("key", ArgType::Text),
    ("iterations", ArgType::U32),
];
const COUNTER_VALUES: &[&str] = &[
    "final",
    "expected",
    "uncertain",
    "lost",
    "attempts",
    "increments",
    "refused",
];
const PIPELINE_ARGS: [(&str, ArgType); 3] = [
    ("queue", ArgType::Text),
    ("items", ArgType::I32),
    ("producers", ArgType::U32),
];

/// The contract of shipped scenario `name`, if it is one.
pub fn contract(name: &str) -> Option<&'static Contract> {
    static CONTRACTS: &[(&str, Contract)] = &[
        (
            "populate",
            Contract {
                args: &[
                    ("map", ArgType::Text),
                    ("keys", ArgType::I32),
                    ("clear", ArgType::Bool),
                ],
                values: &["size", "written"],
            },
        ),
        (
            "acked-writes",
            Contract {
                args: &[
                    ("map", ArgType::Text),
                    ("keys", ArgType::I32),
                    ("first", ArgType::I32),
                    ("clear", ArgType::Bool),
                ],
                values: &["acked", "refused"],
            },
        ),
        (
            "count",
            Contract {
                args: &[
                    ("map", ArgType::Text),
                    ("keys", ArgType::I32),
                    ("expect-present", ArgType::I64),
                ],
                values: &["present", "missing", "wrong"],
            },
        ),
        (
            "race",
            Contract {
                args: COUNTER_ARGS,
                values: COUNTER_VALUES,
            },
        ),
        (
            "pessimistic",
            Contract {
                args: COUNTER_ARGS,
                values: COUNTER_VALUES,
            },
        ),
        (
            "optimistic",
            Contract {
                args: COUNTER_ARGS,
                values: &[
                    "final",
                    "expected",
                    "uncertain",
                    "lost",
                    "attempts",
                    "increments",
                    "refused",
                    "retries",
                ],
            },
        ),
        (
            "ticket-sale",
            Contract {
                args: &[
                    ("map", ArgType::Text),
                    ("key", ArgType::Text),
                    ("stock", ArgType::I64),
                    ("mode", ArgType::Text),
                ],
                values: &["sold", "final", "oversold", "uncertain"],
            },
        ),
        (
            "producer",
            Contract {
                args: &[
                    PIPELINE_ARGS[0],
                    PIPELINE_ARGS[1],
                    PIPELINE_ARGS[2],
                    ("give-up-ms", ArgType::U64),
                ],
                values: &["produced", "full", "blocked-ns", "blocked-at", "queue-size"],
            },
        ),
        (
            "consumer",
            Contract {
                args: &[
                    PIPELINE_ARGS[0],
                    PIPELINE_ARGS[1],
                    PIPELINE_ARGS[2],
                    ("poll-ms", ArgType::U64),
                ],
                values: &["consumed", "consumed-once", "duplicates"],
            },
        ),
    ];
    CONTRACTS.iter().find(|(n, _)| *n == name).map(|(_, c)| c)
}

impl ScenarioSource {
    /// The contract of a shipped scenario (none for a file or a reference: hzlab cannot know what it reads).
    pub fn contract(&self) -> Option<&'static Contract> {
        match self {
            ScenarioSource::Shipped(s) => contract(s.name),
            ScenarioSource::File { .. } | ScenarioSource::Registry(_) => None,
        }
    }
}

/// Checks `args` against what the scenarios read: an argument a shipped scenario parses must
/// parse (`iterations=abc` is refused before anything runs, with the scenario and the type it
/// wants), as the guest would otherwise stop every instance with it.
pub fn check_args<'a>(
    scenarios: impl IntoIterator<Item = &'a ScenarioSource>,
    args: &[(String, String)],
) -> Result<(), String> {
    for source in scenarios {
        let Some(contract) = source.contract() else {
            continue;
        };
        for (key, value) in args {
            if let Some((_, ty)) = contract.args.iter().find(|(k, _)| k == key) {
                if !ty.accepts(value) {
                    return Err(format!(
                        "argument {key}={value:?} is not valid for {}: {key} must be {}",
                        source.display_name(),
                        ty.describe()
                    ));
                }
            }
        }
    }
    Ok(())
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
