//! Command-line interface: parsing, dispatch and exit codes.

mod build_cmd;
mod check;
mod cluster;
mod compare;
mod diagnostics;
mod history;
mod inspect;
mod interrupt;
mod lab;
mod new;
mod out;
mod outputs;
mod progress;
mod registry_cmd;
mod run;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit codes, as documented in `hzlab --help`.
pub mod exit {
    /// Everything ran and every check held.
    pub const OK: u8 = 0;
    /// A check failed, or an instance failed (error, trap, timeout, memory cap).
    pub const CHECK_FAILED: u8 = 1;
    /// Bad input: unknown scenario, invalid component, bad argument.
    pub const BAD_INPUT: u8 = 2;
    /// The cluster could not be reached.
    pub const UNREACHABLE: u8 = 3;
    /// The run was interrupted (Ctrl-C, SIGTERM); its results were still written.
    pub const INTERRUPTED: u8 = 130;
}

const AFTER_HELP: &str = "\
Exit codes:
  0  every instance ran and every check held
  1  a check failed, or an instance failed (error, trap, time budget, memory cap)
  2  bad input: unknown scenario, invalid or foreign component, bad argument
  3  the cluster could not be reached (--cluster), or a plan's fault could not be injected
  130  interrupted (Ctrl-C, SIGTERM): the results so far were written, marked `interrupted`";

#[derive(Debug, Parser)]
#[command(
    name = "hzlab",
    version,
    about = "Run WebAssembly scenarios against Hazelcast clusters: concurrent instances, \
             faults, checks and reports.",
    after_help = AFTER_HELP
)]
struct Cli {
    /// Diagnostics on standard error: -v hzlab's and the client's connections, members and
    /// stages, -vv also retries and each request, -vvv frames (RUST_LOG, when set, chooses
    /// instead). With `build`, also the tools' output.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run scenarios: every instance concurrently, then each scenario's verify.
    Run(Box<run::RunArgs>),
    /// List the scenarios shipped with hzlab.
    Scenarios,
    /// Local Hazelcast members: up, status, kill, start, down.
    Cluster(cluster::ClusterArgs),
    /// The seed lab's experiments as ready-made commands (data-loss).
    Lab(lab::LabArgs),
    /// Create a scenario project (Rust or Python) to edit, build and run.
    New(new::NewArgs),
    /// Build a scenario project to a component, DIR/NAME.wasm (installs what it needs).
    Build(build_cmd::BuildArgs),
    /// Show what a scenario file targets, imports and exports, its size and SHA-256; exit 2
    /// if it imports anything outside the hzlab world.
    Inspect {
        /// A .wasm file, a shipped scenario's name, or a registry reference
        /// (HOST[:PORT]/REPOSITORY:TAG, pulled first, never run).
        file: String,
        #[command(flatten)]
        access: registry_cmd::AccessArgs,
    },
    /// Push a scenario component to an OCI registry, in the CNCF Wasm artifact layout (as `wkg
    /// oci push` writes it; only components that target the scenario world), or a plan with
    /// the component files it runs, as one artifact.
    Push(registry_cmd::PushArgs),
    /// Pull a scenario component from an OCI registry to a file, or a plan artifact to a
    /// folder (`run REF` and `check REF` pull by themselves, and cache by digest).
    Pull(registry_cmd::PullArgs),
    /// Check a recorded operation history offline.
    History(history::HistoryArgs),
    /// Compare runs, or a plan's repeats, side by side: throughput and latency per scenario
    /// and operation, with ratios to the first.
    Compare(compare::CompareArgs),
    /// Validate an experiment plan without running it.
    Check {
        /// The plan file, or a registry reference to a plan artifact.
        plan: String,
        #[command(flatten)]
        access: registry_cmd::AccessArgs,
    },
}

/// Fails unless `value` (the option `flag`, in seconds) is a positive, finite number, at
/// most [`hzlab::plan::MAX_TIMEOUT_SECS`].
fn check_positive(flag: &str, value: f64) -> anyhow::Result<()> {
    hzlab::plan::check_timeout_secs(flag, value).map_err(anyhow::Error::msg)
}

pub fn main() -> ExitCode {
    out::quiet_broken_pipes();
    let cli = Cli::parse();
    diagnostics::init(cli.verbose);
    let result = match cli.command {
        Command::Run(args) => run::run(*args),
        Command::Cluster(args) => cluster::run(args),
        Command::Lab(args) => lab::run(args),
        Command::Check { plan, access } => access.apply().and_then(|()| check::run(plan)),
        Command::History(args) => history::run(args),
        Command::Compare(args) => compare::run(args),
        Command::New(args) => new::run(args),
        Command::Build(args) => build_cmd::run(args, cli.verbose > 0),
        Command::Inspect { file, access } => access.apply().and_then(|()| inspect::run(file)),
        Command::Push(args) => registry_cmd::push(args),
        Command::Pull(args) => registry_cmd::pull(args),
        Command::Scenarios => {
            for s in hzlab::scenario::all_shipped() {
                out::print(&format!("{:<12} {}\n", s.name, s.description));
            }
            Ok(exit::OK)
        }
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            out::eprint(&format!("hzlab: error: {e:#}\n"));
            ExitCode::from(exit::BAD_INPUT)
        }
    }
}
