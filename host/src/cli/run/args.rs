//! `hzlab run`'s options, shared by scenario runs and plan runs.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;

use hzlab::engine::InstanceLimits;

#[derive(Debug, Args)]
pub struct RunArgs {
    /// A plan file (`PLAN.toml`, see experiments/), or scenarios to run together: a
    /// shipped scenario's name (see `hzlab scenarios`), a path to a .wasm component or a
    /// registry reference (`127.0.0.1:5000/labs/bank:1`; `REF:TAG:N` for N instances),
    /// optionally followed by `:N` for its instance count
    /// (e.g. `producer:1 consumer:2`). The word `then` starts a step that runs after the
    /// previous one ended, on the same cluster (e.g. `populate:4 then count:2`).
    #[arg(required = true, value_name = "SCENARIO[:N]")]
    pub(super) scenarios: Vec<String>,

    /// Instances of each scenario given without `:N` (at most 20,000 per run step).
    #[arg(
        short = 'n',
        long,
        default_value_t = 1,
        value_name = "N",
        value_parser = clap::value_parser!(u32).range(1..=hzlab::engine::budget::MAX_INSTANCES as i64)
    )]
    pub(super) instances: u32,

    /// Executor: this many iterations in all, shared by the instances, each calling the
    /// scenario's `iteration` export as soon as its last one ended.
    #[arg(
        long,
        value_name = "N",
        help_heading = "Executor (how often scenarios are called)"
    )]
    pub(super) iterations: Option<u64>,

    /// Executor: every instance calls `iteration` again and again for this long (`30s`,
    /// `2m`); with --rate, how long the rate lasts.
    #[arg(long, value_name = "DURATION", value_parser = hzlab::executor::parse_duration,
        help_heading = "Executor (how often scenarios are called)")]
    pub(super) duration: Option<std::time::Duration>,

    /// Executor, open model: start this many iterations per second whatever the cluster
    /// does, each on a free instance; iterations that find none are counted as dropped.
    /// Latency counts from each iteration's intended start.
    #[arg(
        long,
        value_name = "PER_SECOND",
        help_heading = "Executor (how often scenarios are called)"
    )]
    pub(super) rate: Option<f64>,

    /// Executor, open model: a stage of a ramping rate, `DURATION:TARGET` (`20s:10000`:
    /// over 20 s the rate goes linearly to 10,000/s), repeatable; it starts from --rate
    /// (default 0).
    #[arg(long = "stage", value_name = "DURATION:TARGET", value_parser = hzlab::executor::parse_stage,
        help_heading = "Executor (how often scenarios are called)")]
    pub(super) stages: Vec<hzlab::executor::Stage>,

    /// Open models: the most instances the pool grows to; --instances are started before
    /// the clock starts [default: the larger of --instances and 100].
    #[arg(
        long,
        value_name = "N",
        help_heading = "Executor (how often scenarios are called)"
    )]
    pub(super) max_instances: Option<u32>,

    /// Leaves the first WARM-UP and the last COOL-DOWN of the run phase out of the totals
    /// (latencies, counts, rate), e.g. `5s,2s`; with --duration or --rate. The figures over
    /// time keep everything.
    #[arg(long, value_name = "WARM-UP,COOL-DOWN", value_parser = hzlab::executor::Trim::parse,
        help_heading = "Executor (how often scenarios are called)")]
    pub(super) trim: Option<hzlab::executor::Trim>,

    /// A pass/fail criterion on the run's figures (repeatable), e.g.
    /// `'latency.map.get.p99 < 2ms'`, `'iterations.rate >= 4900'`, `'errors.ratio < 0.001'`,
    /// `'race:iterations.dropped == 0'`: a threshold that does not hold fails the run (exit 1).
    #[arg(long = "threshold", value_name = "EXPR", value_parser = hzlab::thresholds::Threshold::parse)]
    pub(super) thresholds: Vec<hzlab::thresholds::Threshold>,

    /// An argument for the scenarios (repeatable), read with `runtime.arg`.
    #[arg(short = 'a', long = "arg", value_name = "KEY=VALUE", value_parser = parse_arg)]
    pub(super) args: Vec<(String, String)>,

    /// Write the full results as JSON to FILE (`-` for standard output).
    #[arg(long, value_name = "FILE")]
    pub(super) json: Option<PathBuf>,

    /// Write report.json, report.md and report.html (self-contained, with plots) into DIR.
    #[arg(long, value_name = "DIR")]
    pub(super) report: Option<PathBuf>,

    /// Record every cluster operation to FILE as JSON lines (instance, op, arguments,
    /// outcome ok/failed/unknown, start and end in µs), and check the history for lost
    /// updates and lost, duplicated or uncertain queue items.
    #[arg(long, value_name = "FILE")]
    pub(super) history: Option<PathBuf>,

    /// Run against real Hazelcast members at these addresses (`host:port`, comma-separated)
    /// instead of the embedded cluster. With a plan: every case on these members, each with
    /// maps and queues of its own; faults need members from `hzlab cluster up`.
    #[arg(long, value_name = "ADDR[,ADDR]", value_delimiter = ',')]
    pub(super) cluster: Vec<String>,

    /// Cluster name of the real members [default: the name of the `hzlab cluster up` cluster
    /// at those addresses, else `dev`].
    #[arg(long, value_name = "NAME", requires = "cluster")]
    pub(super) cluster_name: Option<String>,

    /// Where `hzlab cluster up` keeps its run directories, to find the cluster at
    /// `--cluster` [env: HZLAB_CLUSTERS_DIR; default: .hzlab/clusters].
    #[arg(long, value_name = "DIR", requires = "cluster")]
    pub(super) dir: Option<PathBuf>,

    /// Longest a non-blocking operation on real members may take, retries included, in
    /// seconds.
    #[arg(
        long,
        default_value_t = 120.0,
        value_name = "SECONDS",
        requires = "cluster"
    )]
    pub(super) invocation_timeout: f64,

    /// On real members: a member connection silent this long is closed, and once no member
    /// has been reachable this long the cluster counts as gone: operations fail at once and
    /// the run ends with exit code 3.
    #[arg(
        long,
        default_value_t = 60.0,
        value_name = "SECONDS",
        requires = "cluster"
    )]
    pub(super) heartbeat_timeout: f64,

    /// On real members: a write whose backups do not acknowledge it within 5 s fails with
    /// `unavailable` (recorded as outcome unknown: uncertain, not a lost update, in the
    /// history) instead of counting as done.
    #[arg(long)]
    pub(super) fail_on_indeterminate: bool,

    /// Seed of the embedded cluster's interleaving (default: random, printed in the summary).
    #[arg(long, conflicts_with = "cluster")]
    pub(super) seed: Option<u64>,

    /// Cluster members (embedded backend).
    #[arg(long, default_value_t = 3, conflicts_with = "cluster")]
    pub(super) members: usize,

    /// Synchronous backups of each partition (embedded backend; real members take theirs
    /// from their configuration).
    #[arg(long, default_value_t = 1, conflicts_with = "cluster")]
    pub(super) backup_count: u32,

    /// Asynchronous backups of each partition (embedded backend).
    #[arg(long, default_value_t = 0, conflicts_with = "cluster")]
    pub(super) async_backup_count: u32,

    /// Max-size of every queue (default: unbounded). On real members, each queue a scenario
    /// uses is configured so before its first use.
    #[arg(long, value_name = "N")]
    pub(super) queue_capacity: Option<u32>,

    /// Time budget of each instance and of each setup and verify call, in seconds.
    #[arg(long, default_value_t = 300.0, value_name = "SECONDS")]
    pub(super) timeout: f64,

    /// Memory cap of each instance, in MiB [default: 64, scaled down when a step's instances
    /// would not fit the memory budget].
    #[arg(long, value_name = "MIB", value_parser = clap::value_parser!(u64).range(1..=65536))]
    pub(super) memory_limit: Option<u64>,

    /// Most each instance may make the host keep (recorded values, counter names, log lines,
    /// check details), in MiB [default: 4, scaled down like --memory-limit].
    #[arg(long, value_name = "MIB", value_parser = clap::value_parser!(u64).range(1..=65536))]
    pub(super) record_limit: Option<u64>,

    /// Memory a run step may plan for: its instances × (memory cap + record limit + 128 KiB),
    /// in MiB [default: 3/4 of the machine's memory, or of its cgroup's limit].
    #[arg(long, value_name = "MIB", value_parser = clap::value_parser!(u64).range(1..))]
    pub(super) memory_budget: Option<u64>,

    /// Most scheduler yields one simulated network trip takes on the embedded backend
    /// (0 runs operations back to back, with no interleaving between them).
    #[arg(
        long,
        default_value_t = 2,
        value_name = "N",
        conflicts_with = "cluster"
    )]
    pub(super) network_yields: u32,

    /// Print only the summary: no progress line, no scenario log lines.
    #[arg(short, long)]
    pub(super) quiet: bool,

    /// With a plan: run every case on local Hazelcast members that hzlab starts (and stops)
    /// for it, instead of the embedded cluster.
    #[arg(long, conflicts_with = "cluster")]
    pub(super) local: bool,

    /// With a plan: run every case this many times (overrides the plan's `repeat`).
    #[arg(long, value_name = "N")]
    pub(super) repeat: Option<u32>,

    /// With a plan: run only the cases whose name contains PATTERN (repeatable; any match
    /// counts).
    #[arg(long = "case", value_name = "PATTERN")]
    pub(super) cases: Vec<String>,

    /// With a plan: write report.json and report.md to DIR.
    #[arg(long = "plan-report", value_name = "DIR", hide = true)]
    pub(super) plan_report: Option<PathBuf>,

    #[command(flatten)]
    pub(super) access: crate::cli::registry_cmd::AccessArgs,
}

impl RunArgs {
    /// The plan file the positional arguments name, if they name one rather than scenarios.
    pub(super) fn plan_file(&self) -> Option<&Path> {
        match self.scenarios.as_slice() {
            [one] if one.ends_with(".toml") => Some(Path::new(one)),
            _ => None,
        }
    }

    /// `--memory-limit`, `--record-limit` and `--memory-budget`.
    /// The executor fields as given on the command line.
    pub(super) fn executor_fields(&self) -> hzlab::executor::ExecutorFields {
        hzlab::executor::ExecutorFields {
            iterations: self.iterations,
            duration: self.duration,
            rate: self.rate,
            stages: self.stages.clone(),
            max_instances: self.max_instances,
            trim: self.trim,
        }
    }

    pub(super) fn memory(&self) -> MemoryOptions {
        MemoryOptions {
            memory_limit_mib: self.memory_limit,
            record_limit_mib: self.record_limit,
            memory_budget_mib: self.memory_budget,
        }
    }

    /// `--timeout`, checked.
    pub(super) fn time_budget(&self) -> anyhow::Result<Duration> {
        crate::cli::check_positive("--timeout", self.timeout)?;
        Ok(Duration::from_secs_f64(self.timeout))
    }

    /// `--invocation-timeout` and `--heartbeat-timeout`, checked (with `--cluster`).
    pub(super) fn client_timeouts(&self) -> anyhow::Result<(Duration, Duration)> {
        crate::cli::check_positive("--invocation-timeout", self.invocation_timeout)?;
        crate::cli::check_positive("--heartbeat-timeout", self.heartbeat_timeout)?;
        Ok((
            Duration::from_secs_f64(self.invocation_timeout),
            Duration::from_secs_f64(self.heartbeat_timeout),
        ))
    }

    /// Where `--report` goes (the hidden `--plan-report` is its older name for plans).
    pub(super) fn report_dir(&self) -> Option<&Path> {
        self.report.as_deref().or(self.plan_report.as_deref())
    }
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
