//! Writing and sharing scenarios: `hzlab new` (project templates), `hzlab build` (a project to
//! a component) and `hzlab inspect` (what a component imports and exports, before running it).
//!
//! Everything a new project needs (the templates, the WIT world, the Rust and Python guest
//! libraries) is embedded in the binary by [`templates`], from the repository's real files, so
//! a project made by an installed `hzlab` needs no path back into this repository.

pub mod builder;
pub mod inspect;
pub mod new;
pub mod templates;

use std::path::PathBuf;

use crate::scenario::LoadError;

pub use builder::{build, BuildOptions, Built};
pub use inspect::{inspect, Inspection};
pub use new::{new_project, NewProject};

/// The language of a scenario project.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// A Rust crate over `hzlab-guest`, built for wasm32-unknown-unknown.
    Rust,
    /// A Python module over `hzlab_guest.py`, built with componentize-py.
    Python,
}

impl Lang {
    pub fn name(self) -> &'static str {
        match self {
            Lang::Rust => "rust",
            Lang::Python => "python",
        }
    }
}

/// Why `new`, `build` or `inspect` failed. `Load` is a component that is not a scenario;
/// `BadName`, `Exists` and `NotAProject` are bad input too; the rest are failures of the
/// tools a build runs.
#[derive(Debug, thiserror::Error)]
pub enum KitError {
    #[error("invalid scenario name `{name}`: {reason}")]
    BadName { name: String, reason: String },
    #[error("{} already exists: choose another name, or another parent with --dir", path.display())]
    Exists { path: PathBuf },
    #[error("{} is not a scenario project: {reason}", dir.display())]
    NotAProject { dir: PathBuf, reason: String },
    #[error("cannot {action} {}: {cause}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("cannot run `{command}`: {cause}{hint}")]
    Spawn {
        command: String,
        cause: std::io::Error,
        hint: String,
    },
    #[error("`{command}` failed ({status}){output}")]
    Failed {
        command: String,
        status: String,
        output: String,
    },
    #[error(transparent)]
    Load(#[from] LoadError),
}

impl KitError {
    /// Whether the error is the user's input (exit code 2) rather than a failed tool.
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            KitError::BadName { .. }
                | KitError::Exists { .. }
                | KitError::NotAProject { .. }
                | KitError::Load(_)
        )
    }

    fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> KitError {
        let path = path.into();
        move |source| KitError::Io {
            action,
            path,
            cause: source,
        }
    }
}
