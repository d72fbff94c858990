//! `hzlab cluster`: local Hazelcast members that outlive the command, for experiments by hand.
//!
//! State lives in a run directory (`.hzlab/clusters/<name>/` under the current directory,
//! or `--dir`/`HZLAB_CLUSTERS_DIR`): member configs, logs and `cluster.json` (ports, pids).
//! Every command attaches to the members recorded there, so commands from separate shells
//! act on the same cluster.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};

use hzlab::cluster::{ClusterControl, LocalMembers, LocalMembersConfig};

use super::exit;

#[derive(Debug, Args)]
pub struct ClusterArgs {
    /// The cluster's name (also its Hazelcast cluster-name and its run directory's name).
    #[arg(long, global = true, default_value = "dev")]
    name: String,

    /// Where run directories live [env: HZLAB_CLUSTERS_DIR; default: .hzlab/clusters].
    #[arg(long, global = true, value_name = "DIR")]
    dir: Option<PathBuf>,

    #[command(subcommand)]
    command: ClusterCommand,
}

#[derive(Debug, Subcommand)]
enum ClusterCommand {
    /// Start local members on 127.0.0.1 (fetching the member jar with Maven if missing) and
    /// wait until all have joined.
    Up {
        /// Number of members.
        #[arg(long, default_value_t = 3)]
        members: usize,
        /// Port of the first member; the others take the next ones.
        #[arg(long, default_value_t = 5701)]
        base_port: u16,
        /// Synchronous backups of every map.
        #[arg(long, default_value_t = 1)]
        backup_count: u32,
        /// Asynchronous backups of every map.
        #[arg(long, default_value_t = 0)]
        async_backup_count: u32,
        /// Max-size of every queue (default: unbounded).
        #[arg(long, value_name = "N")]
        queue_capacity: Option<u32>,
    },
    /// Members, safety, partitions per member and, per map, the entries each member owns
    /// and holds as backups (from the members' own statistics).
    Status {
        /// Also report these maps (created empty if they do not exist).
        #[arg(long = "map", value_name = "MAP")]
        maps: Vec<String>,
        /// Print the status as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Kill members (numbers from 1): abruptly and at the same moment by default (kill -9).
    Kill {
        #[arg(required = true, value_name = "MEMBER")]
        members: Vec<usize>,
        /// Stop them gracefully instead (each hands its partitions over before leaving).
        #[arg(long)]
        graceful: bool,
        /// After the kill, wait until the cluster is safe again (at most SECONDS).
        #[arg(long, value_name = "SECONDS")]
        wait_safe: Option<u64>,
    },
    /// Start a killed or stopped member again.
    Start {
        #[arg(value_name = "MEMBER")]
        member: usize,
    },
    /// Wait until the cluster is safe: every member joined, no migration, every partition
    /// with its backups.
    WaitSafe {
        #[arg(long, default_value_t = 120, value_name = "SECONDS")]
        timeout: u64,
    },
    /// Stop every member (kill) and remove the run directory.
    Down,
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Where run directories live: `dir`, else `HZLAB_CLUSTERS_DIR`, else `.hzlab/clusters`.
fn clusters_root(dir: Option<PathBuf>) -> PathBuf {
    dir.or_else(|| std::env::var_os("HZLAB_CLUSTERS_DIR").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(".hzlab/clusters"))
}

fn run_dir(args: &ClusterArgs) -> PathBuf {
    clusters_root(args.dir.clone()).join(&args.name)
}

/// The cluster name to use with members at `addresses`, and their run directory when
/// `hzlab cluster up` started them (found under the default clusters root): the name given,
/// else that cluster's, else `dev`.
pub(super) fn identify(addresses: &[String], name: Option<&str>) -> (String, Option<PathBuf>) {
    let (dir, found) = hzlab::cluster::find_run_dir(&clusters_root(None), addresses).unzip();
    let name = name
        .map(str::to_owned)
        .or(found)
        .unwrap_or_else(|| "dev".into());
    (name, dir)
}

fn attach(dir: &Path, name: &str) -> anyhow::Result<LocalMembers> {
    if !dir.join("cluster.json").is_file() {
        bail!(
            "no cluster `{name}` in {}: start one with `hzlab cluster up --name {name}`",
            dir.display()
        );
    }
    let members = LocalMembers::attach(dir)
        .with_context(|| format!("cannot read cluster `{name}` in {}", dir.display()))?;
    for m in members.vanished() {
        eprintln!(
            "hzlab: warning: member {m} died outside hzlab (not killed by `hzlab cluster`); \
             its log: {}",
            dir.join(format!("member-{}.log", m - 1)).display()
        );
    }
    Ok(members)
}

pub fn run(args: ClusterArgs) -> anyhow::Result<u8> {
    let dir = run_dir(&args);
    let rt = runtime()?;
    rt.block_on(async {
        match args.command {
            ClusterCommand::Up {
                members,
                base_port,
                backup_count,
                async_backup_count,
                queue_capacity,
            } => {
                if dir.join("cluster.json").is_file() {
                    let mut existing = LocalMembers::attach(&dir)?;
                    let running: Vec<usize> = existing
                        .members()
                        .iter()
                        .filter(|m| m.running)
                        .map(|m| m.member)
                        .collect();
                    if !running.is_empty() {
                        bail!(
                            "cluster `{}` is already up in {} (members {running:?} run): \
                             `hzlab cluster down --name {}` first",
                            args.name,
                            dir.display(),
                            args.name
                        );
                    }
                    drop(existing);
                    std::fs::remove_dir_all(&dir).ok();
                }
                let mut config = LocalMembersConfig::new(args.name.clone(), members);
                config.base_port = Some(base_port);
                config.backup_count = backup_count;
                config.async_backup_count = async_backup_count;
                config.queue_capacity = queue_capacity;
                config.run_dir = Some(dir.clone());
                config.detachable = true;
                println!(
                    "starting {members} members of cluster `{}` on 127.0.0.1:{base_port}..",
                    args.name
                );
                let mut cluster = LocalMembers::start(config)
                    .await
                    .context("cannot start the members")?;
                print_members(&mut cluster);
                println!(
                    "map backup-count {backup_count}, async-backup-count {async_backup_count}, \
                     queue max-size {}",
                    queue_capacity.map_or("unbounded".into(), |q| q.to_string())
                );
                println!(
                    "run directory {}; scenarios: hzlab run --cluster {} --cluster-name {} ...",
                    dir.display(),
                    cluster.addresses().join(","),
                    args.name
                );
                cluster.detach()?;
                Ok(exit::OK)
            }
            ClusterCommand::Status { maps, json } => {
                let mut cluster = attach(&dir, &args.name)?;
                let result = status(&mut cluster, &maps, json).await;
                cluster.detach()?;
                result
            }
            ClusterCommand::Kill {
                members,
                graceful,
                wait_safe,
            } => {
                let mut cluster = attach(&dir, &args.name)?;
                let before = cluster.members();
                let result = async {
                    if graceful {
                        for &m in &members {
                            cluster.stop(m).await?;
                            println!("stopped member {m} gracefully");
                        }
                    } else {
                        cluster.kill(&members).await?;
                        for &m in &members {
                            let info = &before[m - 1];
                            println!(
                                "killed member {m} ({}, pid {}) abruptly",
                                info.address.as_deref().unwrap_or("?"),
                                info.pid.map_or("?".into(), |p| p.to_string())
                            );
                        }
                    }
                    if let Some(secs) = wait_safe {
                        cluster.wait_safe(Duration::from_secs(secs)).await?;
                        println!("cluster safe again");
                    }
                    Ok::<_, anyhow::Error>(exit::OK)
                }
                .await;
                cluster.detach()?;
                result
            }
            ClusterCommand::Start { member } => {
                let mut cluster = attach(&dir, &args.name)?;
                let result = cluster.start(member).await;
                let members = cluster.members();
                cluster.detach()?;
                result?;
                let m = &members[member - 1];
                println!(
                    "started member {member} ({}, pid {}); it joined the cluster",
                    m.address.as_deref().unwrap_or("?"),
                    m.pid.map_or("?".into(), |p| p.to_string())
                );
                Ok(exit::OK)
            }
            ClusterCommand::WaitSafe { timeout } => {
                let mut cluster = attach(&dir, &args.name)?;
                let result = cluster.wait_safe(Duration::from_secs(timeout)).await;
                cluster.detach()?;
                result?;
                println!("cluster safe");
                Ok(exit::OK)
            }
            ClusterCommand::Down => {
                let mut cluster = attach(&dir, &args.name)?;
                let running = cluster.members().iter().filter(|m| m.running).count();
                cluster.shutdown();
                drop(cluster);
                std::fs::remove_dir_all(&dir)
                    .with_context(|| format!("cannot remove {}", dir.display()))?;
                println!(
                    "cluster `{}` down: {running} running member(s) stopped, {} removed",
                    args.name,
                    dir.display()
                );
                Ok(exit::OK)
            }
        }
    })
}

fn print_members(cluster: &mut LocalMembers) {
    println!("{:<7} {:<16} {:>8}  state", "member", "address", "pid");
    for m in cluster.members() {
        println!(
            "{:<7} {:<16} {:>8}  {}",
            m.member,
            m.address.as_deref().unwrap_or("-"),
            m.pid.map_or("-".into(), |p| p.to_string()),
            if m.running { "running" } else { "down" }
        );
    }
}

async fn status(cluster: &mut LocalMembers, maps: &[String], json: bool) -> anyhow::Result<u8> {
    let map_refs: Vec<&str> = maps.iter().map(String::as_str).collect();
    let stats = cluster.all_stats(&map_refs).await;
    let members = cluster.members();
    if json {
        let doc = serde_json::json!({
            "cluster": cluster.cluster_name(),
            "run_dir": cluster.run_dir(),
            "members": members,
            "vanished": cluster.vanished(),
            "stats": stats.iter().map(|(m, s)| serde_json::json!({
                "member": m,
                "stats": s.as_ref().ok().map(|s| serde_json::json!({
                    "uuid": s.uuid, "address": s.address, "state": s.state,
                    "members": s.members.len(), "cluster_safe": s.cluster_safe,
                    "migrating": s.migrating, "owned_partitions": s.owned_partitions(),
                    "maps": s.maps,
                })),
                "error": s.as_ref().err().map(|e| e.to_string()),
            })).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(exit::OK);
    }
    let (b, a) = cluster.backup_counts();
    println!(
        "cluster `{}` ({}): {} members, map backup-count {b}, async-backup-count {a}",
        cluster.cluster_name(),
        cluster.run_dir().display(),
        members.len()
    );
    println!(
        "{:<7} {:<16} {:>8}  {:<8} {:>10}",
        "member", "address", "pid", "state", "partitions"
    );
    let mut all_maps: Vec<String> = Vec::new();
    for m in &members {
        let s = stats.iter().find(|(n, _)| *n == m.member).map(|(_, s)| s);
        let (state, partitions) = match s {
            None => ("down".to_string(), "-".to_string()),
            Some(Ok(s)) => {
                for map in &s.maps {
                    if !all_maps.contains(&map.name) {
                        all_maps.push(map.name.clone());
                    }
                }
                ("running".to_string(), s.owned_partitions().to_string())
            }
            Some(Err(e)) => (format!("no stats: {e}"), "-".to_string()),
        };
        println!(
            "{:<7} {:<16} {:>8}  {:<8} {:>10}",
            m.member,
            m.address.as_deref().unwrap_or("-"),
            m.pid.map_or("-".into(), |p| p.to_string()),
            state,
            partitions
        );
    }
    let views: Vec<_> = stats.iter().filter_map(|(_, s)| s.as_ref().ok()).collect();
    if let Some(first) = views.first() {
        let safe = views.iter().all(|s| s.cluster_safe && !s.migrating);
        println!(
            "cluster view: {} members joined, {}",
            first.members.len(),
            if safe {
                "safe (no migration, backups in sync)"
            } else {
                "NOT safe yet (migrations or backups under way)"
            }
        );
    }
    all_maps.sort();
    for name in &all_maps {
        println!("map `{name}`:");
        println!("  {:<7} {:>8} {:>8}", "member", "owned", "backup");
        let (mut owned, mut backup) = (0, 0);
        for (m, s) in &stats {
            if let Ok(s) = s {
                if let Some(ms) = s.map(name) {
                    owned += ms.owned_entries;
                    backup += ms.backup_entries;
                    println!(
                        "  {:<7} {:>8} {:>8}",
                        m, ms.owned_entries, ms.backup_entries
                    );
                }
            }
        }
        println!("  {:<7} {:>8} {:>8}", "total", owned, backup);
    }
    Ok(exit::OK)
}
