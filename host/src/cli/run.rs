//! `hzlab run`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;

use hzlab::backend::embedded::{EmbeddedCluster, EmbeddedConfig};
use hzlab::backend::real::{RealCluster, RealConfig};
use hzlab::engine::{InstanceLimits, ScenarioEngine};
use hzlab::history::HistoryWriter;
use hzlab::report;
use hzlab::runner::{self, Progress, RunSpec, ScenarioSpec};
use hzlab::scenario::ScenarioSource;

use super::{exit, progress};

#[derive(Debug, Args)]
pub struct RunArgs {
    /// A plan file (`PLAN.toml`, see experiments/), or scenarios to run together: a
    /// shipped scenario's name (see `hzlab scenarios`) or a path
    /// to a .wasm component, optionally followed by `:N` for its instance count
    /// (e.g. `producer:1 consumer:2`). The word `then` starts a step that runs after the
    /// previous one ended, on the same cluster (e.g. `populate:4 then count:2`).
    #[arg(required = true, value_name = "SCENARIO[:N]")]
    scenarios: Vec<String>,

    /// Instances of each scenario given without `:N`.
    #[arg(short = 'n', long, default_value_t = 1, value_name = "N")]
    instances: u32,

    /// An argument for the scenarios (repeatable), read with `runtime.arg`.
    #[arg(short = 'a', long = "arg", value_name = "KEY=VALUE", value_parser = parse_arg)]
    args: Vec<(String, String)>,

    /// Write the full results as JSON to FILE (`-` for standard output).
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,

    /// Write report.json, report.md and report.html (self-contained, with plots) into DIR.
    #[arg(long, value_name = "DIR")]
    report: Option<PathBuf>,

    /// Record every cluster operation to FILE as JSON lines (instance, op, arguments,
    /// outcome ok/failed/unknown, start and end in µs), and check the history for lost
    /// updates and lost, duplicated or uncertain queue items.
    #[arg(long, value_name = "FILE")]
    history: Option<PathBuf>,

    /// Run against real Hazelcast members at these addresses (`host:port`, comma-separated)
    /// instead of the embedded cluster. With a plan: every case on these members, each with
    /// maps and queues of its own; faults need members from `hzlab cluster up`.
    #[arg(long, value_name = "ADDR[,ADDR]", value_delimiter = ',')]
    cluster: Vec<String>,

    /// Cluster name of the real members [default: the name of the `hzlab cluster up` cluster
    /// at those addresses, else `dev`].
    #[arg(long, value_name = "NAME", requires = "cluster")]
    cluster_name: Option<String>,

    /// Longest a non-blocking operation on real members may take, retries included, in
    /// seconds.
    #[arg(
        long,
        default_value_t = 120.0,
        value_name = "SECONDS",
        requires = "cluster"
    )]
    invocation_timeout: f64,

    /// On real members: a member connection silent this long is closed, and once no member
    /// has been reachable this long the cluster counts as gone: operations fail at once and
    /// the run ends with exit code 3.
    #[arg(
        long,
        default_value_t = 60.0,
        value_name = "SECONDS",
        requires = "cluster"
    )]
    heartbeat_timeout: f64,

    /// On real members: a write whose backups do not acknowledge it within 5 s fails with
    /// `unavailable` (recorded as outcome unknown: uncertain, not a lost update, in the
    /// history) instead of counting as done.
    #[arg(long)]
    fail_on_indeterminate: bool,

    /// Seed of the embedded cluster's interleaving (default: random, printed in the summary).
    #[arg(long, conflicts_with = "cluster")]
    seed: Option<u64>,

    /// Cluster members (embedded backend).
    #[arg(long, default_value_t = 3, conflicts_with = "cluster")]
    members: usize,

    /// Synchronous backups of each partition (embedded backend; real members take theirs
    /// from their configuration).
    #[arg(long, default_value_t = 1, conflicts_with = "cluster")]
    backup_count: u32,

    /// Asynchronous backups of each partition (embedded backend).
    #[arg(long, default_value_t = 0, conflicts_with = "cluster")]
    async_backup_count: u32,

    /// Max-size of every queue (default: unbounded). On real members, each queue a scenario
    /// uses is configured so before its first use.
    #[arg(long, value_name = "N")]
    queue_capacity: Option<u32>,

    /// Time budget of each instance and of each setup and verify call, in seconds.
    #[arg(long, default_value_t = 300.0, value_name = "SECONDS")]
    timeout: f64,

    /// Memory cap of each instance, in MiB.
    #[arg(long, default_value_t = 64, value_name = "MIB")]
    memory_limit: usize,

    /// Most scheduler yields one simulated network trip takes on the embedded backend
    /// (0 runs operations back to back, with no interleaving between them).
    #[arg(
        long,
        default_value_t = 2,
        value_name = "N",
        conflicts_with = "cluster"
    )]
    network_yields: u32,

    /// Print only the summary: no progress line, no scenario log lines.
    #[arg(short, long)]
    quiet: bool,

    /// With a plan: run every case on local Hazelcast members that hzlab starts (and stops)
    /// for it, instead of the embedded cluster.
    #[arg(long, conflicts_with = "cluster")]
    local: bool,

    /// With a plan: run every case this many times (overrides the plan's `repeat`).
    #[arg(long, value_name = "N")]
    repeat: Option<u32>,

    /// With a plan: run only the cases whose name contains PATTERN (repeatable; any match
    /// counts).
    #[arg(long = "case", value_name = "PATTERN")]
    cases: Vec<String>,

    /// With a plan: write report.json and report.md to DIR.
    #[arg(long = "plan-report", value_name = "DIR", hide = true)]
    plan_report: Option<PathBuf>,
}

fn parse_arg(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!("`{s}` is not KEY=VALUE")),
    }
}

pub fn run(args: RunArgs) -> anyhow::Result<u8> {
    if super::plan::is_plan(&args.scenarios) {
        return super::plan::run(super::plan::PlanRun {
            path: Path::new(&args.scenarios[0]),
            repeat: args.repeat,
            cases: &args.cases,
            seed: args.seed,
            timeout: args.timeout,
            memory_limit_mib: args.memory_limit,
            quiet: args.quiet,
            report: args.report.as_deref().or(args.plan_report.as_deref()),
            json: args.json.as_deref(),
            cluster: &args.cluster,
            cluster_name: args.cluster_name.as_deref(),
            invocation_timeout: args.invocation_timeout,
            heartbeat_timeout: args.heartbeat_timeout,
            history: args.history.as_deref(),
            fail_on_indeterminate: args.fail_on_indeterminate,
            local: args.local,
        });
    }
    if args.instances == 0 {
        bail!("--instances must be at least 1");
    }
    super::check_positive("--timeout", args.timeout)?;
    hzlab::plan::check_network_yields(args.network_yields).map_err(|m| anyhow::anyhow!("--{m}"))?;
    hzlab::plan::check_backups(args.backup_count, args.async_backup_count)
        .map_err(|m| anyhow::anyhow!("--{m}"))?;
    let mut steps = vec![Vec::new()];
    for spec in &args.scenarios {
        if spec == "then" {
            if steps.last().is_some_and(Vec::is_empty) {
                bail!("`then` must come between scenarios");
            }
            steps.push(Vec::new());
            continue;
        }
        let (name, instances) =
            hzlab::plan::split_instances(spec, args.instances).map_err(anyhow::Error::msg)?;
        let source = ScenarioSource::resolve(&name)?;
        steps
            .last_mut()
            .unwrap()
            .push(ScenarioSpec { source, instances });
    }
    if steps.last().is_some_and(Vec::is_empty) {
        bail!("`then` must be followed by a scenario");
    }
    hzlab::scenario::check_args(steps.iter().flatten().map(|s| &s.source), &args.args)
        .map_err(anyhow::Error::msg)?;
    let seed = if args.cluster.is_empty() {
        args.seed.unwrap_or_else(random_seed)
    } else {
        0
    };
    let spec = RunSpec {
        steps,
        args: args.args.clone(),
        limits: InstanceLimits {
            time_budget: Duration::from_secs_f64(args.timeout),
            memory_cap: args.memory_limit << 20,
        },
        seed,
        echo_logs: !args.quiet,
    };
    let history = match &args.history {
        Some(path) => Some(Arc::new(HistoryWriter::create(path)?)),
        None => None,
    };
    let engine = ScenarioEngine::new()?;
    // Why the cluster counted as gone when the run ended (real members only).
    let gone = std::sync::Mutex::new(None::<String>);
    // One thread: instances interleave only at their operations (as the seed draws them on
    // the embedded cluster); on real members the client's connections share it.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let result = runtime.block_on(async {
        let progress_state = Arc::new(Progress::default());
        if args.cluster.is_empty() {
            let cluster = EmbeddedCluster::new(EmbeddedConfig {
                members: args.members,
                partitions: 271,
                backup_count: args.backup_count,
                async_backup_count: args.async_backup_count,
                queue_capacity: args.queue_capacity,
                max_network_yields: args.network_yields,
                seed,
            })?;
            let line = progress::spawn(progress_state.clone(), !args.quiet);
            let result =
                runner::run_with_history(&engine, &cluster, &spec, progress_state, history.clone())
                    .await;
            progress::stop(line);
            Ok::<_, anyhow::Error>(Ok(result?))
        } else {
            super::check_positive("--invocation-timeout", args.invocation_timeout)?;
            super::check_positive("--heartbeat-timeout", args.heartbeat_timeout)?;
            let (name, _) = super::cluster::identify(&args.cluster, args.cluster_name.as_deref());
            let mut config = RealConfig::new(args.cluster.clone(), name);
            config.invocation_timeout = Duration::from_secs_f64(args.invocation_timeout);
            config.heartbeat_timeout = Duration::from_secs_f64(args.heartbeat_timeout);
            config.queue_capacity = args.queue_capacity;
            config.fail_on_indeterminate = args.fail_on_indeterminate;
            let cluster = match RealCluster::connect(config).await {
                Ok(c) => c,
                Err(e) => return Ok(Err(e)),
            };
            let line = progress::spawn(progress_state.clone(), !args.quiet);
            let result =
                runner::run_with_history(&engine, &cluster, &spec, progress_state, history.clone())
                    .await;
            progress::stop(line);
            *gone.lock().unwrap_or_else(|e| e.into_inner()) = cluster.gone();
            cluster.shutdown().await;
            Ok(Ok(result?))
        }
    })?;
    let gone = gone.into_inner().unwrap_or_else(|e| e.into_inner());
    let result = match result {
        Ok(r) => r,
        Err(unreachable) => {
            eprintln!("hzlab: error: {unreachable}");
            return Ok(exit::UNREACHABLE);
        }
    };
    print!("{}", report::summary(&result));
    let history = match (&history, &args.history) {
        (Some(writer), Some(path)) => Some(finish_history(writer, path)?),
        _ => None,
    };
    if let Some(dir) = &args.report {
        let mut doc = report::Report::new(args.scenarios.join(" "));
        doc.add_run("run", result.clone());
        if let Some(h) = history {
            doc.set_history(h);
        }
        report::write_report(dir, &doc)?;
        eprintln!(
            "hzlab: report written to {}",
            dir.join("report.html").display()
        );
    }
    if let Some(path) = &args.json {
        let json = report::to_json(&result);
        if path.as_os_str() == "-" {
            println!("{json}");
        } else {
            std::fs::write(path, json + "\n")
                .with_context(|| format!("cannot write the JSON report to {}", path.display()))?;
        }
    }
    if let Some(why) = gone {
        eprintln!("hzlab: error: {why}");
        return Ok(exit::UNREACHABLE);
    }
    Ok(if result.passed {
        exit::OK
    } else {
        exit::CHECK_FAILED
    })
}

/// Flushes the history, checks it, prints what the checker found and returns it for the
/// report.
pub(super) fn finish_history(
    writer: &HistoryWriter,
    path: &Path,
) -> anyhow::Result<report::HistorySection> {
    let events = writer.finish()?;
    let check = hzlab::history::check(&hzlab::history::read(path)?);
    print!(
        "{}",
        report::history_summary(&path.display().to_string(), &check)
    );
    Ok(report::HistorySection {
        file: path.display().to_string(),
        events,
        check,
    })
}

pub(super) fn random_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    (nanos ^ (std::process::id() as u64).rotate_left(32)) % 1_000_000_000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args_need_a_key() {
        assert_eq!(parse_arg("a=b=c").unwrap(), ("a".into(), "b=c".into()));
        assert!(parse_arg("=x").is_err());
        assert!(parse_arg("novalue").is_err());
    }
}
