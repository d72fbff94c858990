//! `hzlab run PLAN.toml`: a plan's cases, on the embedded cluster, on local members hzlab
//! starts per case (`--local`), or on real members (`--cluster`).

use std::path::Path;
use std::sync::Arc;

use hzlab::plan::exec::{self, ClusterTarget, PlanBackend, PlanOptions, PlanResult};
use hzlab::plan::{summary, Plan};
use hzlab::progress::Progress;
use hzlab::report::HistorySection;

use super::args::RunArgs;
use super::common::{self, Outputs};
use crate::cli::{interrupt, progress};

pub(super) fn run(path: &Path, args: &RunArgs) -> anyhow::Result<u8> {
    let mut plan = Plan::load(path)?;
    select_cases(&mut plan, &args.cases)?;
    if args.repeat == Some(0) {
        anyhow::bail!("--repeat must be at least 1");
    }
    if !args.thresholds.is_empty() {
        anyhow::bail!(
            "--threshold applies to scenarios given on the command line; in a plan, write \
             thresholds as checks on a step's label: \
             `[[case.check]] that = \"LABEL.latency.map.get.p99 < 2ms\"`"
        );
    }
    if !args.executor_fields().is_empty() {
        anyhow::bail!(
            "--iterations, --duration, --rate, --stage and --max-instances apply to scenarios \
             given on the command line; in a plan, give them per run step (`rate = 500`, \
             `duration = \"30s\"`, ...)"
        );
    }
    let time_budget = args.time_budget()?;
    let backend = backend(args)?;
    let mut outputs = Outputs::open(args)?;
    let options = PlanOptions {
        backend,
        repeat: args.repeat,
        limits: args
            .memory()
            .limits(time_budget, plan.most_instances_at_once(), args.quiet)?,
        echo_logs: !args.quiet,
        seed: args.seed.unwrap_or_else(common::random_seed),
        fail_on_indeterminate: args.fail_on_indeterminate,
        history: outputs.history_writer(),
    };
    let state = Arc::new(Progress::default());
    interrupt::watch(&state)?;
    let result = common::runtime()?.block_on(progress::shown(
        &state,
        !args.quiet,
        exec::run_plan(&plan, &options, state.clone()),
    ))?;
    outputs.human.print(&summary::summary(&result));
    // Structures the plan names a model for are held to it: a violation fails the run.
    let models = hzlab::history::Models {
        named: plan
            .cases
            .iter()
            .flat_map(|c| c.history_models.iter().cloned())
            .collect(),
        ..Default::default()
    };
    let history = outputs.finish_history(&models)?;
    let named_hold = history.as_ref().is_none_or(|h| {
        let c = &h.check;
        let named = |n: &String| models.named.contains_key(n);
        c.linearizability
            .iter()
            .filter(|l| named(&l.map))
            .all(|l| l.verdict() == hzlab::history::Verdict::Linearizable)
            && c.locks.iter().filter(|l| named(&l.map)).all(|l| l.clean())
            && c.queues
                .iter()
                .filter(|q| named(&q.queue))
                .all(|q| q.clean())
            && c.sets.iter().filter(|s| named(&s.map)).all(|s| s.clean())
    });
    if !named_hold {
        outputs.human.print(
            "history: a structure the plan names a model for does not hold to it (see above)\n",
        );
    }
    let document = PlanDocument {
        result: &result,
        history: history.as_ref(),
    };
    if let Some(json) = outputs.json.take() {
        json.write(&to_json(&document))?;
    }
    if let Some(dir) = &outputs.report {
        let mut doc = hzlab::report::from_plan(&result);
        if let Some(h) = history.clone() {
            doc.set_history(h);
        }
        hzlab::report::write_report_as(dir, &doc, &document)?;
        outputs
            .human
            .print(&format!("report written to {}\n", dir.display()));
    }
    Ok(common::exit_code(
        result.interrupted,
        result.infrastructure_failed,
        result.passed && named_hold,
    ))
}

/// Where the plan's cases run: `--cluster`, `--local`, or the embedded cluster.
fn backend(args: &RunArgs) -> anyhow::Result<PlanBackend> {
    if args.cluster.is_empty() {
        return Ok(if args.local {
            PlanBackend::Local
        } else {
            PlanBackend::Embedded
        });
    }
    let (invocation_timeout, heartbeat_timeout) = args.client_timeouts()?;
    let (cluster_name, run_dir) = crate::cli::cluster::identify(
        &args.cluster,
        args.cluster_name.as_deref(),
        args.dir.as_deref(),
    );
    let members = args.cluster.join(",");
    match &run_dir {
        Some(dir) => eprintln!(
            "hzlab: members at {members} are hzlab's cluster in {}: faults are injected there",
            dir.display()
        ),
        None => eprintln!(
            "hzlab: members at {members} were not started by `hzlab cluster up`: steps that \
             kill, stop, start or observe members will fail (exit 3)"
        ),
    }
    Ok(PlanBackend::Cluster(ClusterTarget {
        addresses: args.cluster.clone(),
        cluster_name,
        invocation_timeout,
        heartbeat_timeout,
        run_dir,
    }))
}

/// What `--json` and `report.json` hold for a plan: its result and, with `--history`, what
/// the history checker found.
#[derive(serde::Serialize)]
struct PlanDocument<'a> {
    #[serde(flatten)]
    result: &'a PlanResult,
    #[serde(skip_serializing_if = "Option::is_none")]
    history: Option<&'a HistorySection>,
}

fn to_json(r: &PlanDocument<'_>) -> String {
    serde_json::to_string_pretty(r).expect("plan results always serialize")
}

/// Keeps the cases whose name contains one of `patterns` (every case when there is none); an
/// error naming the plan's cases when no case matches.
fn select_cases(plan: &mut Plan, patterns: &[String]) -> anyhow::Result<()> {
    if patterns.is_empty() {
        return Ok(());
    }
    let names: Vec<String> = plan.cases.iter().map(|c| format!("`{}`", c.name)).collect();
    plan.cases
        .retain(|c| patterns.iter().any(|p| c.name.contains(p.as_str())));
    if plan.cases.is_empty() {
        anyhow::bail!(
            "no case of {} matches --case {}: its cases are {}",
            plan.path.display(),
            patterns.join(", --case "),
            names.join(", ")
        );
    }
    Ok(())
}
