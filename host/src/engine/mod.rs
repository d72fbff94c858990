//! The WebAssembly engine: compiles scenario components once, checks they target the hzlab
//! world, and makes sandboxed stores for instances.
//!
//! Guests get only the scenario world's imports (no filesystem, network, clock or
//! environment of their own). Each store has a memory cap and an epoch deadline that yields to
//! the scheduler every tick and stops the guest once its time budget is spent.

pub mod budget;
pub mod cache;
pub mod guest;

use std::time::{Duration, Instant};

use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Engine, Store, UpdateDeadline};

use crate::backend::Session;
use crate::bindings::{v0_1, v0_2};
use crate::imports::InstanceState;
pub use crate::limits::InstanceLimits;
use crate::scenario::{LoadError, ScenarioSource};
pub use guest::{Guest, GuestPre, WorldVersion};

/// How often the epoch advances: the granularity of time budgets and of yields of busy guests.
const EPOCH_TICK: Duration = Duration::from_millis(2);

/// Ticks in a row without a cluster operation after which a guest yields to the others.
const COMPUTE_TICKS: u32 = 3;

/// Memory mappings (address-space regions) a live instance of a Rust scenario takes: its
/// fiber stack and guard page, its linear memory and the reservation behind it.
pub const MAPPINGS_PER_INSTANCE: u64 = 4;

/// The package every import of a scenario must come from.
pub const WORLD_PACKAGE: &str = "hzlab:scenario";

/// A compiled scenario component and the world version it targets.
#[derive(Clone)]
pub struct Compiled {
    pub component: Component,
    pub version: WorldVersion,
}

/// Compiles and instantiates scenarios. One per process is enough.
pub struct ScenarioEngine {
    engine: Engine,
    /// Compiled components kept on disk (see [`cache`]); `None` when off.
    cache: Option<cache::ComponentCache>,
}

impl ScenarioEngine {
    pub fn new() -> Result<ScenarioEngine, LoadError> {
        let mut config = Config::new();
        config.wasm_component_model(true);
        config.epoch_interruption(true);
        // Every live instance costs the process memory mappings, and Linux allows a process
        // vm.max_map_count of them (65,530 by default): with wasmtime's defaults an instance
        // took 7 (a guard page and its fiber stack; a guard region before its linear memory,
        // the memory split around its copy-on-write data image, the reservation after it), so
        // the 9,362nd live instance failed to map memory. Without the guard region before
        // memories and with data segments copied rather than mapped, an instance takes 4
        // (`MAPPINGS_PER_INSTANCE`): the stack and its guard page, the accessible memory and
        // its reservation. Guest code keeps the 4 GiB reservation and the guard after it, so
        // loads and stores still need no bounds checks.
        config.guard_before_linear_memory(false);
        config.memory_init_cow(false);
        let engine = Engine::new(&config).map_err(|e| LoadError::Engine {
            what: "start",
            cause: e.into(),
        })?;
        // The ticker ends by itself once the engine is dropped.
        let weak = engine.weak();
        std::thread::Builder::new()
            .name("hzlab-epoch".into())
            .spawn(move || {
                while let Some(engine) = weak.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(EPOCH_TICK);
                }
            })
            .map_err(|e| LoadError::Engine {
                what: "start its epoch thread",
                cause: e.into(),
            })?;
        Ok(ScenarioEngine {
            engine,
            cache: cache::ComponentCache::from_env(),
        })
    }

    /// The same engine with its compiled components cached in `cache` (or not at all).
    pub fn with_cache(mut self, cache: Option<cache::ComponentCache>) -> ScenarioEngine {
        self.cache = cache;
        self
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Compiles a scenario and checks that it targets a version of the hzlab world that this
    /// host runs.
    pub fn compile(&self, source: &ScenarioSource) -> Result<Compiled, LoadError> {
        let what = source.display_name();
        let wrapped;
        let mut bytes = source.bytes();
        if check_header(&what, bytes)? == Kind::CoreModule {
            wrapped = wrap_core_module(&what, bytes)?;
            bytes = &wrapped;
        }
        // The entry's name hashes the bytes: computed once for the lookup and the store.
        let entry = self
            .cache
            .as_ref()
            .map(|c| (c, c.entry(&self.engine, bytes)));
        let cached = entry
            .as_ref()
            .and_then(|(c, path)| c.load(&self.engine, path));
        let component = match cached {
            Some(c) => c,
            None => {
                let c = Component::new(&self.engine, bytes).map_err(|e| LoadError::Invalid {
                    what: what.clone(),
                    detail: format!("{e:#}"),
                })?;
                if let Some((cache, path)) = &entry {
                    cache.store(path, &c);
                }
                c
            }
        };
        let ty = component.component_type();
        let foreign: Vec<String> = ty
            .imports(&self.engine)
            .map(|(name, _)| name.to_owned())
            .filter(|name| !name.starts_with(&format!("{WORLD_PACKAGE}/")))
            .collect();
        if !foreign.is_empty() {
            return Err(LoadError::WrongWorld {
                what,
                detail: format!(
                    "it imports {}, which the hzlab scenario world does not provide \
                     (scenarios may import only {WORLD_PACKAGE}/* interfaces)",
                    foreign.join(", ")
                ),
            });
        }
        let version = WorldVersion::of_component(&component, &self.engine).map_err(|detail| {
            LoadError::WrongWorld {
                what: what.clone(),
                detail,
            }
        })?;
        let exports: Vec<String> = ty
            .exports(&self.engine)
            .map(|(n, _)| n.to_owned())
            .collect();
        let missing: Vec<&str> = version
            .exports()
            .iter()
            .copied()
            .filter(|e| !exports.iter().any(|x| x == e))
            .collect();
        if !missing.is_empty() {
            return Err(LoadError::WrongWorld {
                what,
                detail: format!(
                    "it does not export {} of the scenario world {version} (it exports: {})",
                    missing.join(", "),
                    if exports.is_empty() {
                        "nothing".to_owned()
                    } else {
                        exports.join(", ")
                    }
                ),
            });
        }
        Ok(Compiled { component, version })
    }

    /// Links a compiled scenario against the host's imports (every world version's), ready
    /// to instantiate many times.
    pub fn prepare<S: Session>(
        &self,
        source: &ScenarioSource,
        compiled: &Compiled,
    ) -> Result<GuestPre<InstanceState<S>>, LoadError> {
        let wrong_world = |e: wasmtime::Error| LoadError::WrongWorld {
            what: source.display_name(),
            detail: format!("{e:#}"),
        };
        let mut linker: Linker<InstanceState<S>> = Linker::new(&self.engine);
        let link_failed = |e: wasmtime::Error| LoadError::Engine {
            what: "link the scenario world",
            cause: e.into(),
        };
        v0_2::Scenario::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s).map_err(link_failed)?;
        // 0.1.0 shares 0.2.0's types (see `bindings`); its `types` instance holds only types.
        linker
            .instance("hzlab:scenario/types@0.1.0")
            .map_err(link_failed)?;
        v0_1::Scenario::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s).map_err(link_failed)?;
        let pre = linker
            .instantiate_pre(&compiled.component)
            .map_err(wrong_world)?;
        GuestPre::new(compiled.version, pre).map_err(wrong_world)
    }

    /// A store for one instance, with its limits in force.
    pub fn store<S: Session>(&self, state: InstanceState<S>) -> Store<InstanceState<S>> {
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limits);
        store.epoch_deadline_callback(|mut ctx| {
            let state = ctx.data_mut();
            if Instant::now() >= state.limits.deadline || state.interrupted() {
                return Ok(UpdateDeadline::Interrupt);
            }
            // A guest that called the cluster since the last tick gave others their turns at
            // its calls; yielding here too would make interleavings depend on timing rather
            // than on the seed. A guest that only computes yields once it went
            // COMPUTE_TICKS ticks in a row without an operation: one tick without one may
            // only mean that the host thread was descheduled between two operations.
            let ops = state.ops();
            let limits = &mut state.limits;
            if limits.ops_at_last_tick != Some(ops) {
                limits.ops_at_last_tick = Some(ops);
                limits.ticks_without_ops = 0;
                return Ok(UpdateDeadline::Continue(1));
            }
            limits.ticks_without_ops += 1;
            if limits.ticks_without_ops < COMPUTE_TICKS {
                return Ok(UpdateDeadline::Continue(1));
            }
            limits.ticks_without_ops = 0;
            Ok(UpdateDeadline::YieldCustom(
                1,
                Box::pin(tokio::task::yield_now()),
            ))
        });
        store.set_epoch_deadline(1);
        store
    }
}

/// What a file's header says it is.
#[derive(Debug, PartialEq, Eq)]
pub enum Kind {
    Component,
    CoreModule,
}

/// Tells files that are not WebAssembly apart, and core modules from components.
pub fn check_header(what: &str, bytes: &[u8]) -> Result<Kind, LoadError> {
    const MAGIC: &[u8] = b"\0asm";
    if bytes.len() < 8 || &bytes[..4] != MAGIC {
        return Err(LoadError::NotWasm {
            what: what.to_owned(),
        });
    }
    // Core modules are version 1, layer 0; components have layer 1.
    Ok(if bytes[4..8] == [1, 0, 0, 0] {
        Kind::CoreModule
    } else {
        Kind::Component
    })
}

/// Wraps a core module built with the scenario world's bindings (wit-bindgen embeds the
/// world in a custom section) into a component, as `wasm-tools component new` would: a crate
/// built with `cargo build --target wasm32-unknown-unknown` runs as it is. `hzlab build`
/// uses it too.
pub fn wrap_core_module(what: &str, bytes: &[u8]) -> Result<Vec<u8>, LoadError> {
    let has_world = wasmparser::Parser::new(0).parse_all(bytes).any(|p| {
        matches!(p, Ok(wasmparser::Payload::CustomSection(c)) if c.name().starts_with("component-type"))
    });
    if !has_world {
        return Err(LoadError::CoreModule {
            what: what.to_owned(),
            detail: "it has no embedded world (no component-type section)".into(),
        });
    }
    wit_component::ComponentEncoder::default()
        .module(bytes)
        .and_then(|e| e.validate(true).encode())
        .map_err(|e| LoadError::CoreModule {
            what: what.to_owned(),
            detail: format!("{e:#}"),
        })
}
