//! A scenario component of any world version the host runs, and calls of its exports.
//!
//! Each version has bindings of its own ([`crate::bindings`]); a [`GuestPre`] and a
//! [`Guest`] hold one of them, so that the runner calls `setup`, `run`, `verify` and
//! `iteration` without knowing which version a component targets.

use std::fmt;

use wasmtime::component::{Component, InstancePre};
use wasmtime::{AsContextMut, Engine};

use crate::bindings::{v0_1, v0_2};

/// The version of the scenario world a component targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum WorldVersion {
    /// `setup`, `run`, `verify`: each instance runs once.
    V0_1,
    /// Adds `iteration`: every executor.
    V0_2,
}

impl WorldVersion {
    /// Every version the host runs, oldest first.
    pub const ALL: [WorldVersion; 2] = [WorldVersion::V0_1, WorldVersion::V0_2];
    /// The version `hzlab new` and the guest libraries build against.
    pub const CURRENT: WorldVersion = WorldVersion::V0_2;

    /// `0.1.0`, `0.2.0`.
    pub fn semver(self) -> &'static str {
        match self {
            WorldVersion::V0_1 => "0.1.0",
            WorldVersion::V0_2 => "0.2.0",
        }
    }

    /// Whether components of this version export `iteration` (every executor but "once per
    /// instance" needs it).
    pub fn has_iteration(self) -> bool {
        self >= WorldVersion::V0_2
    }

    /// The exports a component of this version must have.
    pub fn exports(self) -> &'static [&'static str] {
        match self {
            WorldVersion::V0_1 => &["setup", "run", "verify"],
            WorldVersion::V0_2 => &["setup", "run", "verify", "iteration"],
        }
    }

    pub fn of_semver(v: &str) -> Option<WorldVersion> {
        WorldVersion::ALL.into_iter().find(|w| w.semver() == v)
    }

    /// The version a component targets, from the versions of its imports (`hzlab:scenario/map@0.2.0`)
    /// and, for a component that imports nothing, from its exports. `Err` names the versions
    /// it imports when they are not one version the host implements.
    pub fn of_component(component: &Component, engine: &Engine) -> Result<WorldVersion, String> {
        let ty = component.component_type();
        let mut versions: Vec<String> = ty
            .imports(engine)
            .filter_map(|(name, _)| name.split_once('@').map(|(_, v)| v.to_owned()))
            .collect();
        versions.sort();
        versions.dedup();
        match versions.as_slice() {
            [] => {
                let iteration = ty.exports(engine).any(|(name, _)| name == "iteration");
                Ok(if iteration {
                    WorldVersion::V0_2
                } else {
                    WorldVersion::V0_1
                })
            }
            [one] => WorldVersion::of_semver(one).ok_or_else(|| {
                format!(
                    "it targets hzlab:scenario@{one}, and this hzlab runs {}",
                    WorldVersion::implemented()
                )
            }),
            many => Err(format!(
                "it imports interfaces of several versions of the world ({}); a component \
                 targets one",
                many.join(", ")
            )),
        }
    }

    /// "0.1.0 and 0.2.0".
    pub fn implemented() -> String {
        let all: Vec<&str> = WorldVersion::ALL.iter().map(|v| v.semver()).collect();
        match all.split_last() {
            Some((last, [])) => (*last).to_owned(),
            Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
            None => String::new(),
        }
    }
}

impl fmt::Display for WorldVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "hzlab:scenario@{}", self.semver())
    }
}

/// A linked component of one version, ready to instantiate many times.
pub enum GuestPre<T: 'static> {
    V0_1(v0_1::ScenarioPre<T>),
    V0_2(v0_2::ScenarioPre<T>),
}

impl<T: 'static> Clone for GuestPre<T> {
    fn clone(&self) -> Self {
        match self {
            GuestPre::V0_1(p) => GuestPre::V0_1(p.clone()),
            GuestPre::V0_2(p) => GuestPre::V0_2(p.clone()),
        }
    }
}

impl<T: Send + 'static> GuestPre<T> {
    pub fn new(version: WorldVersion, pre: InstancePre<T>) -> wasmtime::Result<GuestPre<T>> {
        Ok(match version {
            WorldVersion::V0_1 => GuestPre::V0_1(v0_1::ScenarioPre::new(pre)?),
            WorldVersion::V0_2 => GuestPre::V0_2(v0_2::ScenarioPre::new(pre)?),
        })
    }

    pub fn version(&self) -> WorldVersion {
        match self {
            GuestPre::V0_1(_) => WorldVersion::V0_1,
            GuestPre::V0_2(_) => WorldVersion::V0_2,
        }
    }

    pub async fn instantiate_async(
        &self,
        store: impl AsContextMut<Data = T>,
    ) -> wasmtime::Result<Guest> {
        Ok(match self {
            GuestPre::V0_1(p) => Guest::V0_1(p.instantiate_async(store).await?),
            GuestPre::V0_2(p) => Guest::V0_2(p.instantiate_async(store).await?),
        })
    }
}

/// What a phase call returns: `Err` with the guest's message fails the phase.
pub type Returned = wasmtime::Result<Result<(), String>>;

/// An instance of a scenario component.
pub enum Guest {
    V0_1(v0_1::Scenario),
    V0_2(v0_2::Scenario),
}

impl Guest {
    pub async fn call_setup<S: AsContextMut<Data: Send>>(&self, store: S) -> Returned {
        match self {
            Guest::V0_1(g) => g.call_setup(store).await,
            Guest::V0_2(g) => g.call_setup(store).await,
        }
    }

    pub async fn call_run<S: AsContextMut<Data: Send>>(&self, store: S) -> Returned {
        match self {
            Guest::V0_1(g) => g.call_run(store).await,
            Guest::V0_2(g) => g.call_run(store).await,
        }
    }

    pub async fn call_verify<S: AsContextMut<Data: Send>>(&self, store: S) -> Returned {
        match self {
            Guest::V0_1(g) => g.call_verify(store).await,
            Guest::V0_2(g) => g.call_verify(store).await,
        }
    }

    /// Calls `iteration(index)`. Components of 0.1.0 have none: the runner runs them only
    /// with executors that call `run`, and a call here is a host bug, reported as one.
    pub async fn call_iteration<S: AsContextMut<Data: Send>>(
        &self,
        store: S,
        index: u64,
    ) -> Returned {
        match self {
            Guest::V0_1(_) => Err(wasmtime::format_err!(
                "hzlab:scenario@0.1.0 has no iteration export (a host bug: the step's \
                 executor should have been refused when the scenario was loaded)"
            )),
            Guest::V0_2(g) => g.call_iteration(store, index).await,
        }
    }
}
