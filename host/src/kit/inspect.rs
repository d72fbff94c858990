//! `hzlab inspect`: what a person checks before running a scenario someone shared — the world
//! and version it targets, what it imports (only `hzlab:scenario/*` may be), what it exports,
//! its size and SHA-256 — without running or compiling it.

use std::fmt;

use wit_parser::{Resolve, WorldId, WorldItem};

use super::templates;
use crate::engine::{self, Kind, WorldVersion, WORLD_PACKAGE};
use crate::scenario::{sha256_hex, LoadError};

/// What `inspect` found in a scenario file.
#[derive(Debug, Clone)]
pub struct Inspection {
    /// How messages name the file.
    pub what: String,
    /// A component, or a core module built with `hzlab-guest` (wrapped when loaded).
    pub core_module: bool,
    pub size: usize,
    pub sha256: String,
    /// The world it targets, with its version: `hzlab:scenario/scenario@0.2.0`.
    pub world: String,
    pub version: WorldVersion,
    /// Its imports, each an interface with its version (`hzlab:scenario/map@0.1.0`).
    pub imports: Vec<String>,
    /// Its exports (`setup`, `run`, `verify`).
    pub exports: Vec<String>,
}

impl fmt::Display for Inspection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "file     {}", self.what)?;
        writeln!(
            f,
            "kind     {}",
            if self.core_module {
                "core module built with hzlab-guest (hzlab wraps it into a component)"
            } else {
                "component"
            }
        )?;
        writeln!(f, "size     {} bytes", self.size)?;
        writeln!(f, "sha256   {}", self.sha256)?;
        let note = if self.version == WorldVersion::CURRENT {
            "the current version; every executor".to_owned()
        } else if self.version.has_iteration() {
            "an earlier version this hzlab runs; every executor".to_owned()
        } else {
            "an earlier version this hzlab runs unchanged; it has no `iteration` export, so \
             each instance runs `run` once: no --iterations, --duration or --rate"
                .to_owned()
        };
        writeln!(f, "world    {} ({note})", self.world)?;
        writeln!(f, "imports  {}", list(&self.imports))?;
        writeln!(f, "exports  {}", list(&self.exports))?;
        write!(
            f,
            "verdict  ok: it imports only {WORLD_PACKAGE}/* (no filesystem, network, clock or \
             environment) and exports the scenario phases"
        )
    }
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "(none)".into()
    } else {
        items.join(", ")
    }
}

fn wit_error(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> LoadError {
    LoadError::Engine {
        what: "read the embedded WIT",
        cause: e.into(),
    }
}

/// A version of the scenario world this hzlab implements, parsed from the embedded WIT.
fn host_world(version: WorldVersion) -> Result<(Resolve, WorldId, String), LoadError> {
    let text = match version {
        WorldVersion::V0_1 => templates::WIT_0_1_0,
        WorldVersion::V0_2 => templates::WIT,
    };
    let mut resolve = Resolve::default();
    let pkg = resolve.push_str("hzlab.wit", text).map_err(wit_error)?;
    let world = resolve
        .select_world(&[pkg], Some("scenario"))
        .map_err(wit_error)?;
    let version = resolve.packages[pkg]
        .name
        .version
        .as_ref()
        .map(|v| v.to_string())
        .unwrap_or_default();
    Ok((resolve, world, version))
}

/// Inspects a scenario file's bytes (`what` names it in messages). A file that is not a
/// component, a component importing anything outside `hzlab:scenario/*` (WASI filesystem or
/// sockets, another world), targeting another version, or lacking the scenario's exports is
/// an error: bad input.
pub fn inspect(what: &str, bytes: &[u8]) -> Result<Inspection, LoadError> {
    let core_module = engine::check_header(what, bytes)? == Kind::CoreModule;
    let wrapped;
    let component = if core_module {
        wrapped = engine::wrap_core_module(what, bytes)?;
        &wrapped[..]
    } else {
        bytes
    };
    let decoded = wit_component::decode(component).map_err(|e| LoadError::Invalid {
        what: what.to_owned(),
        detail: format!("{e:#}"),
    })?;
    let wit_component::DecodedWasm::Component(resolve, world) = decoded else {
        return Err(LoadError::WrongWorld {
            what: what.to_owned(),
            detail: "it is a WIT package, not a component".into(),
        });
    };
    let w = &resolve.worlds[world];
    let imports: Vec<String> = w
        .imports
        .iter()
        .filter(|(_, item)| !matches!(item, WorldItem::Type { .. }))
        .map(|(key, _)| resolve.name_world_key(key))
        .collect();
    let exports: Vec<String> = w
        .exports
        .keys()
        .map(|key| resolve.name_world_key(key))
        .collect();

    let prefix = format!("{WORLD_PACKAGE}/");
    let foreign: Vec<String> = imports
        .iter()
        .filter(|i| !i.starts_with(&prefix))
        .map(|i| describe_import(i))
        .collect();
    if !foreign.is_empty() {
        return Err(LoadError::WrongWorld {
            what: what.to_owned(),
            detail: format!(
                "it imports {}; scenarios may import only {WORLD_PACKAGE}/* interfaces, so \
                 hzlab will not run it",
                foreign.join(", ")
            ),
        });
    }
    let mut versions: Vec<&str> = imports
        .iter()
        .filter_map(|i| i.rsplit_once('@').map(|(_, v)| v))
        .collect();
    versions.sort_unstable();
    versions.dedup();
    let target = match versions.as_slice() {
        [] if exports.iter().any(|e| e == "iteration") => WorldVersion::V0_2,
        [] => WorldVersion::V0_1,
        [one] => WorldVersion::of_semver(one).ok_or_else(|| LoadError::WrongWorld {
            what: what.to_owned(),
            detail: format!(
                "it targets {WORLD_PACKAGE}@{one}, but this hzlab implements {}",
                WorldVersion::implemented()
            ),
        })?,
        many => {
            return Err(LoadError::WrongWorld {
                what: what.to_owned(),
                detail: format!(
                    "it imports interfaces of several versions of the world ({}); a \
                     component targets one",
                    many.join(", ")
                ),
            })
        }
    };
    let (host, host_world, version) = host_world(target)?;
    let missing: Vec<&str> = target
        .exports()
        .iter()
        .copied()
        .filter(|e| !exports.iter().any(|x| x == e))
        .collect();
    if !missing.is_empty() {
        return Err(LoadError::WrongWorld {
            what: what.to_owned(),
            detail: format!(
                "it does not export {} of the scenario world {target} (it exports: {})",
                missing.join(", "),
                list(&exports)
            ),
        });
    }
    // Names are right; now the types: the component must fit the world exactly as hzlab
    // links it (this also validates the whole component).
    wit_component::targets(&host, host_world, component).map_err(|e| LoadError::WrongWorld {
        what: what.to_owned(),
        detail: format!("its imports or exports do not match the scenario world's types: {e:#}"),
    })?;
    Ok(Inspection {
        what: what.to_owned(),
        core_module,
        size: bytes.len(),
        sha256: sha256_hex(bytes),
        world: format!("{WORLD_PACKAGE}/scenario@{version}"),
        version: target,
        imports,
        exports,
    })
}

/// An import outside the scenario world, with what it would give the guest.
fn describe_import(name: &str) -> String {
    let what = if name.starts_with("wasi:filesystem/") {
        " (WASI filesystem access)"
    } else if name.starts_with("wasi:sockets/") {
        " (WASI network sockets)"
    } else if name.starts_with("wasi:") {
        " (WASI)"
    } else if name.contains(':') {
        " (another world's interface)"
    } else {
        " (a bare function)"
    };
    format!("{name}{what}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_worlds_parse() {
        for v in WorldVersion::ALL {
            let (resolve, world, version) = host_world(v).unwrap();
            assert_eq!(resolve.worlds[world].name, "scenario");
            assert_eq!(version, v.semver());
        }
    }

    #[test]
    fn shipped_scenarios_pass_inspection() {
        let s = crate::scenario::shipped("optimistic").unwrap();
        let i = inspect("optimistic", s.component).unwrap();
        assert!(i.world.starts_with("hzlab:scenario/scenario@"), "{i}");
        assert!(
            i.imports.iter().all(|n| n.starts_with("hzlab:scenario/")),
            "{i}"
        );
        assert!(
            i.imports
                .iter()
                .any(|n| n.starts_with("hzlab:scenario/replace@")),
            "{i}"
        );
        assert_eq!(i.exports, ["setup", "run", "iteration", "verify"]);
        assert_eq!(i.version, WorldVersion::V0_2);
        assert_eq!(i.sha256.len(), 64);
    }
}
