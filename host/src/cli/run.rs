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

use super::out::{self, Human};
use super::outputs::{self, JsonOut};
use super::{exit, interrupt, progress};

#[derive(Debug, Args)]
pub struct RunArgs {
    /// A plan file (`PLAN.toml`, see experiments/), or scenarios to run together: a
    /// shipped scenario's name (see `hzlab scenarios`) or a path
    /// to a .wasm component, optionally followed by `:N` for its instance count
    /// (e.g. `producer:1 consumer:2`). The word `then` starts a step that runs after the
    /// previous one ended, on the same cluster (e.g. `populate:4 then count:2`).
    #[arg(required = true, value_name = "SCENARIO[:N]")]
    scenarios: Vec<String>,

    /// Instances of each scenario given without `:N` (at most 20,000 per run step).
    #[arg(
        short = 'n',
        long,
        default_value_t = 1,
        value_name = "N",
        value_parser = clap::value_parser!(u32).range(1..=hzlab::engine::budget::MAX_INSTANCES as i64)
    )]
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

    /// Where `hzlab cluster up` keeps its run directories, to find the cluster at
    /// `--cluster` [env: HZLAB_CLUSTERS_DIR; default: .hzlab/clusters].
    #[arg(long, value_name = "DIR", requires = "cluster")]
    dir: Option<PathBuf>,

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

    /// Memory cap of each instance, in MiB [default: 64, scaled down when a step's instances
    /// would not fit the memory budget].
    #[arg(long, value_name = "MIB", value_parser = clap::value_parser!(u64).range(1..=65536))]
    memory_limit: Option<u64>,

    /// Most each instance may make the host keep (recorded values, counter names, log lines,
    /// check details), in MiB [default: 4, scaled down like --memory-limit].
    #[arg(long, value_name = "MIB", value_parser = clap::value_parser!(u64).range(1..=65536))]
    record_limit: Option<u64>,

    /// Memory a run step may plan for: its instances × (memory cap + record limit + 128 KiB),
    /// in MiB [default: 3/4 of the machine's memory, or of its cgroup's limit].
    #[arg(long, value_name = "MIB", value_parser = clap::value_parser!(u64).range(1..))]
    memory_budget: Option<u64>,

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

/// `--memory-limit`, `--record-limit` and `--memory-budget`, as given.
#[derive(Debug, Clone, Copy)]
pub(super) struct MemoryOptions {
    pub memory_limit_mib: Option<u64>,
    pub record_limit_mib: Option<u64>,
    pub memory_budget_mib: Option<u64>,
}

impl MemoryOptions {
    /// The instance limits for runs whose largest step starts `at_once` instances: the caps
    /// given, or the defaults scaled down to fit the memory budget (said on stderr unless
    /// `quiet`); an error with the figures when they cannot fit.
    pub fn limits(
        &self,
        time_budget: Duration,
        at_once: u64,
        quiet: bool,
    ) -> anyhow::Result<InstanceLimits> {
        use hzlab::engine::budget::{self, Budget};
        let mib = |v: Option<u64>| v.map(|m| (m as usize) << 20);
        let budget = match self.memory_budget_mib {
            Some(m) => Budget::given(m.saturating_mul(1 << 20)),
            None => Budget::of_machine(),
        };
        let fitted = budget::fit(
            at_once,
            mib(self.memory_limit_mib),
            mib(self.record_limit_mib),
            &budget,
            budget::max_map_count(),
        )?;
        if let (Some(notice), false) = (&fitted.notice, quiet) {
            eprintln!("hzlab: {notice}");
        }
        Ok(fitted.apply(InstanceLimits {
            time_budget,
            ..InstanceLimits::default()
        }))
    }
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
            memory: MemoryOptions {
                memory_limit_mib: args.memory_limit,
                record_limit_mib: args.record_limit,
                memory_budget_mib: args.memory_budget,
            },
            quiet: args.quiet,
            report: args.report.as_deref().or(args.plan_report.as_deref()),
            json: args.json.as_deref(),
            cluster: &args.cluster,
            cluster_name: args.cluster_name.as_deref(),
            clusters_dir: args.dir.as_deref(),
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
    let at_once = steps
        .iter()
        .map(|step| step.iter().map(|s| s.instances as u64).sum::<u64>())
        .max()
        .unwrap_or(0);
    let memory = MemoryOptions {
        memory_limit_mib: args.memory_limit,
        record_limit_mib: args.record_limit,
        memory_budget_mib: args.memory_budget,
    };
    let spec = RunSpec {
        steps,
        args: args.args.clone(),
        limits: memory.limits(Duration::from_secs_f64(args.timeout), at_once, args.quiet)?,
        seed,
        echo_logs: !args.quiet,
    };
    // Every output is checked before anything runs: an unwritable target is found now.
    let json = args.json.as_deref().map(JsonOut::open).transpose()?;
    if let Some(dir) = &args.report {
        outputs::check_report_dir(dir)?;
    }
    let history = match &args.history {
        Some(path) => Some(Arc::new(HistoryWriter::create(path)?)),
        None => None,
    };
    // With `--json -`, standard output carries the JSON only; the summary goes to stderr.
    let human = if json.as_ref().is_some_and(JsonOut::is_stdout) {
        Human::Stderr
    } else {
        Human::Stdout
    };
    let progress_state = Arc::new(Progress::default());
    interrupt::watch(&progress_state)?;
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
            let result = runner::run_with_history(
                &engine,
                &cluster,
                &spec,
                progress_state.clone(),
                history.clone(),
            )
            .await;
            progress::stop(line);
            Ok::<_, anyhow::Error>(Ok(result?))
        } else {
            super::check_positive("--invocation-timeout", args.invocation_timeout)?;
            super::check_positive("--heartbeat-timeout", args.heartbeat_timeout)?;
            let (name, _) = super::cluster::identify(
                &args.cluster,
                args.cluster_name.as_deref(),
                args.dir.as_deref(),
            );
            let mut config = RealConfig::new(args.cluster.clone(), name);
            config.invocation_timeout = Duration::from_secs_f64(args.invocation_timeout);
            config.heartbeat_timeout = Duration::from_secs_f64(args.heartbeat_timeout);
            config.queue_capacity = args.queue_capacity;
            config.fail_on_indeterminate = args.fail_on_indeterminate;
            let connect = RealCluster::connect(config);
            let cluster = match progress_state.interrupt.or_raised(connect).await {
                None => return Ok(Err(None)),
                Some(Ok(c)) => c,
                Some(Err(e)) => return Ok(Err(Some(e))),
            };
            let line = progress::spawn(progress_state.clone(), !args.quiet);
            let result = runner::run_with_history(
                &engine,
                &cluster,
                &spec,
                progress_state.clone(),
                history.clone(),
            )
            .await;
            progress::stop(line);
            *gone.lock().unwrap_or_else(|e| e.into_inner()) = cluster.gone();
            // Closing the session also frees whatever the members still hold for it.
            cluster.shutdown().await;
            Ok(Ok(result?))
        }
    })?;
    let gone = gone.into_inner().unwrap_or_else(|e| e.into_inner());
    let result = match result {
        Ok(r) => r,
        Err(Some(unreachable)) => {
            out::eprint(&format!("hzlab: error: {unreachable}\n"));
            return Ok(exit::UNREACHABLE);
        }
        Err(None) => {
            out::eprint("hzlab: interrupted before the run started\n");
            return Ok(exit::INTERRUPTED);
        }
    };
    human.print(&report::summary(&result));
    let history = match (&history, &args.history) {
        (Some(writer), Some(path)) => Some(finish_history(writer, path, human)?),
        _ => None,
    };
    if let Some(dir) = &args.report {
        let mut doc = report::Report::new(args.scenarios.join(" "));
        doc.add_run("run", result.clone());
        if let Some(h) = history {
            doc.set_history(h);
        }
        report::write_report(dir, &doc)?;
        out::eprint(&format!(
            "hzlab: report written to {}\n",
            dir.join("report.html").display()
        ));
    }
    if let Some(json) = json {
        json.write(&report::to_json(&result))?;
    }
    if result.interrupted {
        return Ok(exit::INTERRUPTED);
    }
    if let Some(why) = gone {
        out::eprint(&format!("hzlab: error: {why}\n"));
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
    human: Human,
) -> anyhow::Result<report::HistorySection> {
    let events = writer.finish()?;
    let check = hzlab::history::check(&hzlab::history::read(path)?);
    human.print(&report::history_summary(
        &path.display().to_string(),
        &check,
    ));
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
