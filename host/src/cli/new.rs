//! `hzlab new`: a scenario project to edit, build and run.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, ValueEnum};
use hzlab::kit::{self, KitError, Lang};

use super::exit;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LangArg {
    Rust,
    Python,
}

#[derive(Debug, Args)]
pub struct NewArgs {
    /// The scenario's name: the project directory, the crate and the component file
    /// (lowercase letters, digits, `-`, `_`).
    pub name: String,
    /// The language of the scenario.
    #[arg(long, value_enum, default_value = "rust")]
    pub lang: LangArg,
    /// Where to create the project directory.
    #[arg(long, value_name = "PARENT", default_value = ".")]
    pub dir: PathBuf,
}

pub fn run(args: NewArgs) -> Result<u8> {
    let lang = match args.lang {
        LangArg::Rust => Lang::Rust,
        LangArg::Python => Lang::Python,
    };
    let p = match kit::new_project(&args.name, lang, &args.dir) {
        Ok(p) => p,
        Err(e) => return Ok(report(e)),
    };
    let shown = if args.dir == std::path::Path::new(".") {
        PathBuf::from(".").join(&p.name)
    } else {
        p.dir.clone()
    };
    let edit = match lang {
        Lang::Rust => "src/lib.rs",
        Lang::Python => "app.py",
    };
    println!(
        "created {} ({} scenario: transfers between accounts under locks; verify checks the \
         total is conserved)",
        shown.display(),
        lang.name()
    );
    println!("  edit   {}", shown.join(edit).display());
    println!("  build  hzlab build {}", shown.display());
    println!(
        "  run    hzlab run {} --instances 4",
        shown.join(format!("{}.wasm", p.name)).display()
    );
    Ok(exit::OK)
}

/// Prints a kit error and returns its exit code: 2 for bad input, 1 for a failed tool.
pub fn report(e: KitError) -> u8 {
    eprintln!("hzlab: error: {e}");
    if e.is_bad_input() {
        exit::BAD_INPUT
    } else {
        exit::CHECK_FAILED
    }
}
