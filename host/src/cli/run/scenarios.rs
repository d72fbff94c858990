//! `hzlab run SCENARIO[:N]...`: the scenarios given on the command line, on the embedded
//! cluster or on real members (`--cluster`).

use std::sync::Arc;

use anyhow::bail;

use hzlab::backend::embedded::{EmbeddedCluster, EmbeddedConfig};
use hzlab::backend::real::{RealCluster, RealConfig};
use hzlab::backend::Backend;
use hzlab::engine::ScenarioEngine;
use hzlab::progress::Progress;
use hzlab::report;
use hzlab::results::RunResult;
use hzlab::runner::{self, RunSpec, ScenarioSpec};
use hzlab::scenario::ScenarioSource;

use super::args::RunArgs;
use super::common::{self, Outputs};
use crate::cli::{exit, interrupt, out, progress};

pub(super) fn run(args: &RunArgs) -> anyhow::Result<u8> {
    let spec = run_spec(args)?;
    let outputs = Outputs::open(args)?;
    let progress = Arc::new(Progress::default());
    interrupt::watch(&progress)?;
    let engine = ScenarioEngine::new()?;
    let ran = common::runtime()?.block_on(async {
        if args.cluster.is_empty() {
            let cluster = EmbeddedCluster::new(embedded_config(args, spec.seed))?;
            let result = run_on(&engine, &cluster, &spec, &progress, &outputs, args).await?;
            Ok::<_, anyhow::Error>(Ran::Done(Box::new(result), None))
        } else {
            let connect = RealCluster::connect(real_config(args)?);
            let cluster = match progress.interrupt.or_raised(connect).await {
                None => return Ok(Ran::InterruptedBeforeStart),
                Some(Ok(c)) => c,
                Some(Err(e)) => return Ok(Ran::Unreachable(hzlab::format::error_chain(&e))),
            };
            let result = run_on(&engine, &cluster, &spec, &progress, &outputs, args).await;
            // Why the cluster counted as gone, if it did; closing the session also frees
            // whatever the members still hold for it.
            let gone = cluster.gone();
            cluster.shutdown().await;
            Ok(Ran::Done(Box::new(result?), gone))
        }
    })?;
    let (mut result, gone) = match ran {
        Ran::Done(result, gone) => (*result, gone),
        Ran::Unreachable(why) => {
            out::eprint(&format!("hzlab: error: {why}\n"));
            return Ok(exit::UNREACHABLE);
        }
        Ran::InterruptedBeforeStart => {
            out::eprint("hzlab: interrupted before the run started\n");
            return Ok(exit::INTERRUPTED);
        }
    };
    hzlab::thresholds::apply(&args.thresholds, &mut result);
    write_outputs(args, outputs, &result)?;
    if let (Some(why), false) = (&gone, result.interrupted) {
        out::eprint(&format!("hzlab: error: {why}\n"));
    }
    Ok(common::exit_code(
        result.interrupted,
        gone.is_some(),
        result.passed,
    ))
}

/// How the run went, as far as the exit code is concerned.
enum Ran {
    /// It ran (maybe interrupted); with why the cluster counted as gone, if it did.
    Done(Box<RunResult>, Option<String>),
    /// The members could not be reached.
    Unreachable(String),
    /// Ctrl-C came while connecting.
    InterruptedBeforeStart,
}

/// The run's steps, arguments and limits from the command line, checked.
fn run_spec(args: &RunArgs) -> anyhow::Result<RunSpec> {
    if args.instances == 0 {
        bail!("--instances must be at least 1");
    }
    let time_budget = args.time_budget()?;
    hzlab::plan::check_network_yields(args.network_yields).map_err(|m| anyhow::anyhow!("--{m}"))?;
    hzlab::plan::check_backups(args.backup_count, args.async_backup_count)
        .map_err(|m| anyhow::anyhow!("--{m}"))?;
    let steps = steps(args)?;
    hzlab::scenario::check_args(steps.iter().flatten().map(|s| &s.source), &args.args)
        .map_err(anyhow::Error::msg)?;
    let seed = if args.cluster.is_empty() {
        args.seed.unwrap_or_else(common::random_seed)
    } else {
        0
    };
    let at_once = steps
        .iter()
        .map(|step| step.iter().map(|s| s.instance_count() as u64).sum::<u64>())
        .max()
        .unwrap_or(0);
    Ok(RunSpec {
        steps,
        args: args.args.clone(),
        limits: args.memory().limits(time_budget, at_once, args.quiet)?,
        seed,
        echo_logs: !args.quiet,
    })
}

/// `a:2 b then c`: steps of scenarios, each with its instance count.
fn steps(args: &RunArgs) -> anyhow::Result<Vec<Vec<ScenarioSpec>>> {
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
        let fields = args.executor_fields();
        let executor = fields
            .executor(instances, |f| format!("--{f}"))
            .map_err(anyhow::Error::msg)?;
        if let Some(step) = steps.last_mut() {
            step.push(ScenarioSpec {
                source,
                instances,
                executor,
                trim: fields.trim,
            });
        }
    }
    if steps.last().is_some_and(Vec::is_empty) {
        bail!("`then` must be followed by a scenario");
    }
    Ok(steps)
}

fn embedded_config(args: &RunArgs, seed: u64) -> EmbeddedConfig {
    EmbeddedConfig {
        members: args.members,
        partitions: 271,
        backup_count: args.backup_count,
        async_backup_count: args.async_backup_count,
        queue_capacity: args.queue_capacity,
        max_network_yields: args.network_yields,
        seed,
        ..EmbeddedConfig::default()
    }
}

fn real_config(args: &RunArgs) -> anyhow::Result<RealConfig> {
    let (invocation_timeout, heartbeat_timeout) = args.client_timeouts()?;
    let (name, _) = crate::cli::cluster::identify(
        &args.cluster,
        args.cluster_name.as_deref(),
        args.dir.as_deref(),
    );
    let mut config = RealConfig::new(args.cluster.clone(), name);
    config.invocation_timeout = invocation_timeout;
    config.heartbeat_timeout = heartbeat_timeout;
    config.queue_capacity = args.queue_capacity;
    config.fail_on_indeterminate = args.fail_on_indeterminate;
    Ok(config)
}

/// Runs the spec on `backend` with the progress line drawn.
async fn run_on<B: Backend>(
    engine: &ScenarioEngine,
    backend: &B,
    spec: &RunSpec,
    progress: &Arc<Progress>,
    outputs: &Outputs,
    args: &RunArgs,
) -> anyhow::Result<RunResult> {
    let run = runner::run_with_history(
        engine,
        backend,
        spec,
        progress.clone(),
        outputs.history_writer(),
    );
    Ok(progress::shown(progress, !args.quiet, run).await?)
}

/// The summary, then the history's check, the report and the JSON.
fn write_outputs(args: &RunArgs, mut outputs: Outputs, result: &RunResult) -> anyhow::Result<()> {
    outputs.human.print(&report::summary(result));
    let history = outputs.finish_history(&hzlab::history::Models::default())?;
    if let Some(dir) = &outputs.report {
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
    if let Some(json) = outputs.json.take() {
        json.write(&report::to_json(result))?;
    }
    Ok(())
}
