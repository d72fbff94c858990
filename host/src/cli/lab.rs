//! `hzlab lab`: the seed lab's experiments as ready-made commands.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::{Args, Subcommand};

use hzlab::backend::embedded::EmbeddedConfig;
use hzlab::cluster::data_loss::{run_case, Case, CaseResult, DataLossOptions};
use hzlab::cluster::{Distribution, EmbeddedMembers, LocalMembers, LocalMembersConfig};
use hzlab::engine::ScenarioEngine;

use super::exit;

#[derive(Debug, Args)]
pub struct LabArgs {
    #[command(subcommand)]
    command: LabCommand,
}

#[derive(Debug, Subcommand)]
enum LabCommand {
    /// Populate a map on a fresh 3-member cluster, then kill one member; two in turn
    /// (waiting for the cluster to be safe between); two at once; each with backup-count 1
    /// and with backup-count 1 + async-backup-count 1. Prints the distribution before and
    /// after each kill and the predicted and observed loss.
    DataLoss(DataLossArgs),
}

#[derive(Debug, Args)]
struct DataLossArgs {
    /// Run on real local Hazelcast members (started and stopped by this command) instead of
    /// the embedded model.
    #[arg(long)]
    real: bool,
    /// Keys written (Integer keys 0..keys-1, as the seed's script writes them).
    #[arg(long, default_value_t = 1000)]
    keys: usize,
    /// The map.
    #[arg(long, default_value = "distributed-map")]
    map: String,
    /// Seed of the embedded model's interleaving.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Write the results as JSON to FILE (`-` for standard output).
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
}

pub fn run(args: LabArgs) -> anyhow::Result<u8> {
    match args.command {
        LabCommand::DataLoss(a) => data_loss(a),
    }
}

fn print_distribution(label: &str, d: &Distribution) {
    println!("    {label:<22} {}", d.summary());
}

fn print_case(r: &CaseResult) {
    println!("{}", r.case.describe());
    print_distribution("before (owned/backup):", &r.before);
    for k in &r.kills {
        let who = k
            .members
            .iter()
            .map(|m| m.to_string())
            .collect::<Vec<_>>()
            .join("+");
        print_distribution(
            &format!("kill {who} (predict {}):", k.predicted_loss),
            &k.after,
        );
    }
    println!(
        "    lost: predicted {}, observed {} (of {}; {} entries left)",
        r.predicted_loss, r.observed_loss, r.keys, r.entries_after
    );
}

fn data_loss(args: DataLossArgs) -> anyhow::Result<u8> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let engine = ScenarioEngine::new().context("cannot start the WebAssembly engine")?;
    let options = DataLossOptions {
        keys: args.keys,
        map: args.map.clone(),
        ..DataLossOptions::default()
    };
    println!(
        "data-loss experiment on {}: 3 members, {} keys in map `{}`",
        if args.real {
            "real local Hazelcast members"
        } else {
            "the embedded model"
        },
        args.keys,
        args.map
    );
    let started = Instant::now();
    let results = rt.block_on(async {
        let mut results = Vec::new();
        for (i, case) in Case::seed_cases().into_iter().enumerate() {
            let r = if args.real {
                let mut config = LocalMembersConfig::new(
                    format!("hzlab-lab-{}-{}", std::process::id(), i + 1),
                    3,
                );
                config.backup_count = case.backup_count;
                config.async_backup_count = case.async_backup_count;
                let mut members = LocalMembers::start(config)
                    .await
                    .context("cannot start local members")?;
                let r = run_case(&mut members, &engine, case, &options).await;
                members.shutdown();
                r?
            } else {
                let mut members = EmbeddedMembers::new(EmbeddedConfig {
                    backup_count: case.backup_count,
                    async_backup_count: case.async_backup_count,
                    seed: args.seed,
                    ..EmbeddedConfig::default()
                })?;
                run_case(&mut members, &engine, case, &options).await?
            };
            print_case(&r);
            results.push(r);
        }
        Ok::<_, anyhow::Error>(results)
    })?;
    println!();
    println!(
        "{:<36} {:>8} {:>10} {:>9}",
        "case", "backups", "predicted", "observed"
    );
    for r in &results {
        println!(
            "{:<36} {:>8} {:>10} {:>9}",
            r.case.fault.describe(),
            format!("{}+{}", r.case.backup_count, r.case.async_backup_count),
            r.predicted_loss,
            r.observed_loss
        );
    }
    println!("({:.1} s)", started.elapsed().as_secs_f64());
    if let Some(path) = &args.json {
        let doc = serde_json::to_string_pretty(&results)?;
        if path.as_os_str() == "-" {
            println!("{doc}");
        } else {
            std::fs::write(path, doc)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
    }
    let consistent = results.iter().all(|r| r.predicted_loss == r.observed_loss);
    Ok(if consistent {
        exit::OK
    } else {
        exit::CHECK_FAILED
    })
}
