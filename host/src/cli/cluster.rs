//! `hzlab cluster`: local Hazelcast members that outlive the command, for experiments by hand.
//!
//! State lives in a run directory (`.hzlab/clusters/<name>/` under the current directory,
//! or `--dir`/`HZLAB_CLUSTERS_DIR`; made canonical): member configs, logs, `cluster.json`
//! (ports, pids) and `lock`. Every command locks the directory (`up` refuses when another
//! command holds it; the others wait), and finds the members by the mark they carry on their
//! command line, so commands from separate shells act on the same cluster, however they name
//! its directory, and `down` finds members whose `cluster.json` is lost.

use hzlab::format::error_chain;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};

use hazelcast_members::{LocalError, LockHolder, MarkedMember, RunDirLock};
use hzlab::cluster::split_brain::{StructureConfig, StructureKind};
use hzlab::cluster::{
    ClusterControl, LocalMembers, LocalMembersConfig, NetworkCut, SplitBrainConfig,
};

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
        /// Every member on a host of its own: a network namespace with an address of its
        /// own on a bridge (10.250.S.0/24), so that `partition` can cut the network between
        /// members. Needs root (CAP_NET_ADMIN), `ip` and `nft`.
        #[arg(long)]
        hosts: bool,
        #[command(flatten)]
        split_brain: SplitBrainArgs,
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
    /// Cut the network between members (on hosts of their own, `up --hosts`), replacing the
    /// cut in force: groups separated by `/` (`partition 1 / 2 3`, also `1/2,3` or `1|2,3`)
    /// cannot reach each other; or `--from A --to B` (one way), `--isolate M`, `--ring`
    /// (Jepsen's majorities ring).
    Partition {
        /// Member groups, separated by `/`.
        #[arg(value_name = "GROUPS", num_args = 0..)]
        groups: Vec<String>,
        /// One-way cut: what these members send does not reach `--to`.
        #[arg(long, value_delimiter = ',', value_name = "MEMBERS", requires = "to")]
        from: Vec<usize>,
        #[arg(long, value_delimiter = ',', value_name = "MEMBERS", requires = "from")]
        to: Vec<usize>,
        /// Cut one member from all the others.
        #[arg(long, value_name = "MEMBER")]
        isolate: Option<usize>,
        /// Every member sees a majority, no two the same one.
        #[arg(long)]
        ring: bool,
    },
    /// Remove every network cut.
    Heal,
    /// Freeze members (SIGSTOP), as in a long GC pause: they keep their connections and do
    /// nothing until `resume`.
    Pause {
        #[arg(required = true, value_name = "MEMBER")]
        members: Vec<usize>,
    },
    /// Let paused members go on (SIGCONT).
    Resume {
        #[arg(required = true, value_name = "MEMBER")]
        members: Vec<usize>,
    },
    /// Stop every member of the cluster (kill), found by the mark on its command line even
    /// without `cluster.json`, remove its network (namespaces, links) and the run directory.
    Down,
}

/// Split-brain protection, merge policies and merge timing (`cluster up`).
#[derive(Debug, Args)]
struct SplitBrainArgs {
    /// A map's split-brain settings: `NAME[,merge-policy=P][,min-size=N][,protect-on=read|
    /// write|read-write]`; P one of PassThrough, PutIfAbsent, HigherHits, LatestUpdate,
    /// LatestAccess, ExpirationTime, Discard. NAME may end in `*`. Repeatable.
    #[arg(long = "map", value_name = "SPEC")]
    maps: Vec<String>,
    /// A queue's: as `--map` (policies PassThrough, PutIfAbsent, Discard).
    #[arg(long = "queue", value_name = "SPEC")]
    queues: Vec<String>,
    /// Seconds between member heartbeats (hazelcast.heartbeat.interval.seconds).
    #[arg(long, value_name = "SECONDS")]
    heartbeat_interval: Option<u32>,
    /// A member silent this long is dropped (hazelcast.max.no.heartbeat.seconds).
    #[arg(long, value_name = "SECONDS")]
    max_no_heartbeat: Option<u32>,
    /// Seconds before the first look for another side to merge with
    /// (hazelcast.merge.first.run.delay.seconds).
    #[arg(long, value_name = "SECONDS")]
    merge_first_delay: Option<u32>,
    /// Seconds between later looks (hazelcast.merge.next.run.delay.seconds).
    #[arg(long, value_name = "SECONDS")]
    merge_next_delay: Option<u32>,
}

impl SplitBrainArgs {
    fn config(&self) -> anyhow::Result<SplitBrainConfig> {
        let mut c = SplitBrainConfig {
            heartbeat_interval_secs: self.heartbeat_interval,
            max_no_heartbeat_secs: self.max_no_heartbeat,
            merge_first_run_delay_secs: self.merge_first_delay,
            merge_next_run_delay_secs: self.merge_next_delay,
            ..Default::default()
        };
        for (kind, specs, flag) in [
            (StructureKind::Map, &self.maps, "--map"),
            (StructureKind::Queue, &self.queues, "--queue"),
        ] {
            for spec in specs {
                let s = StructureConfig::parse_spec(kind, spec)
                    .map_err(|e| anyhow::anyhow!("{flag} {e}"))?;
                c.structures.push(s);
            }
        }
        c.check()?;
        Ok(c)
    }
}

/// Parses `1 / 2 3` (also `1/2,3`, `1|2,3`) into groups of member numbers.
fn parse_groups(tokens: &[String]) -> anyhow::Result<Vec<Vec<usize>>> {
    let text = tokens.join(" ");
    text.split(['/', '|'])
        .map(|g| {
            g.split([' ', ','])
                .filter(|t| !t.is_empty())
                .map(|t| {
                    t.parse::<usize>()
                        .with_context(|| format!("`{t}` in `{text}` is not a member number"))
                })
                .collect()
        })
        .collect()
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

/// The canonical run directory of cluster `args.name`.
fn run_dir(args: &ClusterArgs) -> anyhow::Result<PathBuf> {
    let name = &args.name;
    let plain = !name.is_empty()
        && name != "."
        && name != ".."
        && !name.contains(['/', '\0'])
        && name.len() <= 200;
    if !plain {
        bail!(
            "--name `{}` cannot name a run directory: use a plain name (no `/`, not `.` or \
             `..`, at most 200 bytes)",
            name.escape_debug()
        );
    }
    let dir = clusters_root(args.dir.clone()).join(name);
    hazelcast_members::canonical_dir(&dir)
        .with_context(|| format!("cannot resolve {}", dir.display()))
}

/// The cluster name to use with members at `addresses`, and their run directory when
/// `hzlab cluster up` started them (found under `clusters_dir`, else the default clusters
/// root): the name given, else that cluster's, else `dev`.
pub(super) fn identify(
    addresses: &[String],
    name: Option<&str>,
    clusters_dir: Option<&Path>,
) -> (String, Option<PathBuf>) {
    let root = clusters_root(clusters_dir.map(Path::to_path_buf));
    let (dir, found) = hzlab::cluster::find_run_dir(&root, addresses).unzip();
    let name = name
        .map(str::to_owned)
        .or(found)
        .unwrap_or_else(|| "dev".into());
    (name, dir)
}

/// `cluster.json` as far as it can be read: ports and pids by member, and whether the `up`
/// that wrote it was still starting the members.
struct Recorded {
    ports: Vec<Option<u16>>,
    /// The members' addresses without the port (`127.0.0.1` on loopback).
    hosts: Vec<String>,
    pids: Vec<Option<u32>>,
    starting: bool,
}

impl Recorded {
    /// `host:port` by member, where the port is known.
    fn addresses(&self) -> Vec<Option<String>> {
        self.ports
            .iter()
            .zip(&self.hosts)
            .map(|(p, h)| p.map(|p| format!("{h}:{p}")))
            .collect()
    }
}

fn recorded(dir: &Path) -> Result<Recorded, String> {
    let path = dir.join("cluster.json");
    let text = std::fs::read_to_string(&path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => "no cluster.json".to_string(),
        _ => format!("cannot read cluster.json: {e}"),
    })?;
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("unreadable cluster.json ({e})"))?;
    let members = v["member"].as_array().cloned().unwrap_or_default();
    Ok(Recorded {
        ports: members
            .iter()
            .map(|m| m["port"].as_u64().and_then(|p| u16::try_from(p).ok()))
            .collect(),
        hosts: members
            .iter()
            .map(|m| m["host"].as_str().unwrap_or("127.0.0.1").to_owned())
            .collect(),
        pids: members
            .iter()
            .map(|m| m["pid"].as_u64().and_then(|p| u32::try_from(p).ok()))
            .collect(),
        starting: v["starting"].as_bool().unwrap_or(false),
    })
}

/// `member 1 (127.0.0.1:5701, pid 123), member 2 (...)` for members found by their mark.
fn describe(found: &[MarkedMember], addresses: &[Option<String>]) -> String {
    found
        .iter()
        .map(|m| match addresses.get(m.member - 1).cloned().flatten() {
            Some(address) => format!("member {} ({address}, pid {})", m.member, m.pid),
            None => format!("member {} (pid {})", m.member, m.pid),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Why there is no cluster `name` in `dir` to act on: none at all, or members that run
/// without a readable state.
fn no_cluster(dir: &Path, name: &str, problem: &str) -> anyhow::Error {
    let found = hazelcast_members::marked_members(dir);
    if found.is_empty() {
        anyhow::anyhow!(
            "no cluster `{name}` in {} ({problem}): start one with `hzlab cluster up --name \
             {name}`",
            dir.display()
        )
    } else {
        anyhow::anyhow!(
            "cluster `{name}` in {} has {problem}, but its members run: {}; `hzlab cluster \
             down --name {name}` stops them",
            dir.display(),
            describe(&found, &[])
        )
    }
}

/// Locks the run directory of an existing cluster for `command`, waiting (and saying so)
/// while another command holds it.
fn lock(dir: &Path, name: &str, command: &str) -> anyhow::Result<RunDirLock> {
    let what = format!("hzlab cluster {command}");
    let waiting = |holder: &LockHolder| {
        eprintln!(
            "hzlab: waiting for {holder}, which holds cluster `{name}` ({})",
            dir.display()
        )
    };
    match RunDirLock::acquire(dir, &what, false, waiting) {
        Ok(lock) => Ok(lock),
        Err(LocalError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(no_cluster(dir, name, "no run directory"))
        }
        Err(e) => Err(e).with_context(|| format!("cannot lock {}", dir.display())),
    }
}

/// Takes over cluster `name` in the run directory `lock` holds; with `hold`, keeps the lock
/// until the members are detached, else lets go of it at once (read-only commands).
fn attach(lock: RunDirLock, name: &str, hold: bool) -> anyhow::Result<LocalMembers> {
    let dir = lock.dir().to_path_buf();
    let state = recorded(&dir).map_err(|problem| no_cluster(&dir, name, &problem))?;
    let members = if hold {
        LocalMembers::attach_locked(lock)
    } else {
        let m = LocalMembers::attach(&dir);
        drop(lock);
        m
    }
    .map_err(|e| no_cluster(&dir, name, &error_chain(&e)))?;
    if state.starting {
        eprintln!(
            "hzlab: warning: the `hzlab cluster up` that started cluster `{name}` did not \
             finish (interrupted or killed); the members that run are taken over, `hzlab \
             cluster down --name {name}` stops them"
        );
    }
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
    let dir = run_dir(&args)?;
    let name = args.name.as_str();
    let rt = runtime()?;
    rt.block_on(async {
        match args.command {
            ClusterCommand::Up {
                members,
                base_port,
                backup_count,
                async_backup_count,
                queue_capacity,
                hosts,
                split_brain,
            } => {
                let mut config = LocalMembersConfig::new(name.to_owned(), members);
                // On hosts of their own each member has an address of its own: all listen
                // on 5701 unless another base port is asked for.
                config.base_port = (!hosts || base_port != 5701).then_some(base_port);
                config.hosts = hosts;
                config.split_brain = split_brain.config()?;
                config.backup_count = backup_count;
                config.async_backup_count = async_backup_count;
                config.queue_capacity = queue_capacity;
                up(&dir, name, config).await
            }
            ClusterCommand::Status { maps, json } => {
                let mut cluster = attach(lock(&dir, name, "status")?, name, false)?;
                let result = status(&mut cluster, &maps, json).await;
                cluster.detach()?;
                result
            }
            ClusterCommand::Kill {
                members,
                graceful,
                wait_safe,
            } => kill(&dir, name, &members, graceful, wait_safe).await,
            ClusterCommand::Start { member } => start(&dir, name, member).await,
            ClusterCommand::WaitSafe { timeout } => {
                let mut cluster = attach(lock(&dir, name, "wait-safe")?, name, false)?;
                let result = cluster.wait_safe(Duration::from_secs(timeout)).await;
                cluster.detach()?;
                result?;
                println!("cluster safe");
                Ok(exit::OK)
            }
            ClusterCommand::Partition {
                groups,
                from,
                to,
                isolate,
                ring,
            } => {
                let ways = [!groups.is_empty(), !from.is_empty(), isolate.is_some(), ring];
                if ways.iter().filter(|w| **w).count() != 1 {
                    bail!(
                        "say how to cut with exactly one of: groups (`partition 1 / 2 3`),                          --from/--to, --isolate, --ring"
                    );
                }
                let mut cluster = attach(lock(&dir, name, "partition")?, name, true)?;
                let n = cluster.members().len();
                let result = async {
                    let cut = if !groups.is_empty() {
                        NetworkCut::partition(&parse_groups(&groups)?, n)?
                    } else if !from.is_empty() {
                        NetworkCut::one_way(&from, &to, n)?
                    } else if let Some(m) = isolate {
                        NetworkCut::isolate(m, n)?
                    } else {
                        NetworkCut::majorities_ring(n)?
                    };
                    cluster.cut_network(&cut).await?;
                    println!("cut in force: {cut}");
                    Ok::<_, anyhow::Error>(exit::OK)
                }
                .await;
                cluster.detach()?;
                result
            }
            ClusterCommand::Heal => {
                let mut cluster = attach(lock(&dir, name, "heal")?, name, true)?;
                let result = cluster.heal_network().await;
                cluster.detach()?;
                result?;
                println!("network healed: no cut in force");
                Ok(exit::OK)
            }
            ClusterCommand::Pause { members } => {
                let mut cluster = attach(lock(&dir, name, "pause")?, name, true)?;
                let result = cluster.pause(&members).await;
                cluster.detach()?;
                result?;
                println!("paused member(s) {}", list(&members));
                Ok(exit::OK)
            }
            ClusterCommand::Resume { members } => {
                let mut cluster = attach(lock(&dir, name, "resume")?, name, true)?;
                let result = cluster.resume(&members).await;
                cluster.detach()?;
                result?;
                println!("resumed member(s) {}", list(&members));
                Ok(exit::OK)
            }
            ClusterCommand::Down => down(&dir, name),
        }
    })
}

fn list(members: &[usize]) -> String {
    members
        .iter()
        .map(|m| m.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// `hzlab cluster up`: starts the members under the run directory's lock and leaves them
/// running; an interrupt or a failed start stops those started so far.
async fn up(dir: &Path, name: &str, mut config: LocalMembersConfig) -> anyhow::Result<u8> {
    let (members, base_port) = (config.members, config.base_port.unwrap_or(5701));
    let hosts = config.hosts;
    if hosts {
        // Before anything: without the privileges, say so at once.
        hazelcast_members::netns::check_support()?;
    }
    let (backup_count, async_backup_count, queue_capacity) = (
        config.backup_count,
        config.async_backup_count,
        config.queue_capacity,
    );
    let lock = up_lock(dir, name)?;
    config.run_dir = Some(dir.to_owned());
    config.detachable = true;
    if hosts {
        println!(
            "starting {members} members of cluster `{name}`, each on a host of its own \
             (network namespace), port {base_port}.."
        );
    } else {
        println!("starting {members} members of cluster `{name}` on 127.0.0.1:{base_port}..");
    }
    // A second handle keeps the directory locked while the members stopped by an
    // interrupted or failed start are swept up.
    let keep = lock
        .try_clone()
        .with_context(|| format!("cannot lock {}", dir.display()))?;
    let mut int = signal(tokio::signal::unix::SignalKind::interrupt())?;
    let mut term = signal(tokio::signal::unix::SignalKind::terminate())?;
    let started = tokio::select! {
        r = LocalMembers::start_locked(config, lock) => Ok(r),
        _ = int.recv() => Err("SIGINT"),
        _ = term.recv() => Err("SIGTERM"),
    };
    let mut cluster = match started {
        Ok(Ok(cluster)) => cluster,
        Ok(Err(e)) => {
            let stopped = sweep(dir);
            drop(keep);
            return Err(anyhow::Error::new(e).context(format!(
                "cannot start the members{stopped}; logs in {}",
                dir.display()
            )));
        }
        Err(signal) => {
            let stopped = sweep(dir);
            drop(keep);
            eprintln!(
                "hzlab: interrupted ({signal}){stopped}; logs kept in {}",
                dir.display()
            );
            return Ok(exit::INTERRUPTED);
        }
    };
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
        name
    );
    cluster.detach()?;
    drop(keep);
    Ok(exit::OK)
}

/// `hzlab cluster kill`: abruptly (SIGKILL, all at once) or gracefully (one after the other),
/// then optionally waits until the cluster is safe.
async fn kill(
    dir: &Path,
    name: &str,
    members: &[usize],
    graceful: bool,
    wait_safe: Option<u64>,
) -> anyhow::Result<u8> {
    let mut cluster = attach(lock(dir, name, "kill")?, name, true)?;
    let before = cluster.members();
    let result = async {
        if graceful {
            for &m in members {
                cluster.stop(m).await?;
                println!("stopped member {m} gracefully");
            }
        } else {
            cluster.kill(members).await?;
            for &m in members {
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

/// `hzlab cluster start`: starts a killed or stopped member again.
async fn start(dir: &Path, name: &str, member: usize) -> anyhow::Result<u8> {
    let mut cluster = attach(lock(dir, name, "start")?, name, true)?;
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

fn signal(kind: tokio::signal::unix::SignalKind) -> anyhow::Result<tokio::signal::unix::Signal> {
    tokio::signal::unix::signal(kind).context("cannot handle signals")
}

/// Locks the run directory for `up`: refused, naming the holder and what it recorded, when
/// another command holds it, or when members of the cluster run. Clears what an earlier
/// cluster left (logs, configs, state).
fn up_lock(dir: &Path, name: &str) -> anyhow::Result<RunDirLock> {
    let lock = match RunDirLock::try_acquire(dir, "hzlab cluster up")
        .with_context(|| format!("cannot lock {}", dir.display()))?
    {
        Ok(lock) => lock,
        Err(holder) => {
            let state = match recorded(dir) {
                Ok(r) => {
                    let ports: Vec<String> = r
                        .ports
                        .iter()
                        .map(|p| p.map_or("?".into(), |p| p.to_string()))
                        .collect();
                    let pids: Vec<String> = r
                        .pids
                        .iter()
                        .map(|p| p.map_or("-".into(), |p| p.to_string()))
                        .collect();
                    format!(
                        "; it recorded ports {} and pids {}",
                        ports.join(", "),
                        pids.join(", ")
                    )
                }
                Err(_) => String::new(),
            };
            let doing = if holder.command == "hzlab cluster up" {
                "is already up or being started"
            } else {
                "is busy"
            };
            bail!(
                "cluster `{name}` {doing} in {}: {holder} holds it{state}; `hzlab cluster \
                 down --name {name}` stops it",
                dir.display()
            );
        }
    };
    let found = hazelcast_members::marked_members(lock.dir());
    if !found.is_empty() {
        let ports = recorded(dir).map(|r| r.addresses()).unwrap_or_default();
        bail!(
            "cluster `{name}` is already up in {} (running: {}); `hzlab cluster down --name \
             {name}` first",
            dir.display(),
            describe(&found, &ports)
        );
    }
    // The network an earlier cluster of this name left (a crash): removed while its record
    // is still there.
    if let Some(h) = hazelcast_members::netns::remove_recorded(lock.dir())
        .with_context(|| format!("cannot remove the network an earlier cluster `{name}` left"))?
    {
        eprintln!(
            "hzlab: removed the network an earlier cluster `{name}` left (bridge {}, {} \
             namespaces)",
            h.bridge(),
            h.members
        );
    }
    for entry in std::fs::read_dir(lock.dir())? {
        let entry = entry?;
        if entry.file_name() == hazelcast_members::LOCK_FILE {
            continue;
        }
        let path = entry.path();
        let removed = if entry.file_type()?.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        removed.with_context(|| format!("cannot clear {}", path.display()))?;
    }
    Ok(lock)
}

/// After a start that failed or was interrupted (the directory still locked): kills any
/// member left (the start already killed those it knew), removes the state, and says which
/// members were stopped, as `: stopped member 1 (pid N), ...` (empty when none had started).
fn sweep(dir: &Path) -> String {
    let state = recorded(dir).ok();
    let mut stopped: Vec<MarkedMember> = state
        .iter()
        .flat_map(|r| r.pids.iter().enumerate())
        .filter_map(|(i, p)| p.map(|pid| MarkedMember { member: i + 1, pid }))
        .collect();
    match hazelcast_members::kill_marked(dir) {
        Ok(found) => {
            for m in found {
                if !stopped.contains(&m) {
                    stopped.push(m);
                }
            }
        }
        Err(e) => eprintln!("hzlab: {}", error_chain(&e)),
    }
    if let Err(e) = hazelcast_members::netns::remove_recorded(dir) {
        eprintln!("hzlab: cannot remove the cluster's network: {e}");
    }
    let _ = std::fs::remove_file(dir.join("cluster.json"));
    if stopped.is_empty() {
        String::new()
    } else {
        let ports = state.map(|r| r.addresses()).unwrap_or_default();
        stopped.sort_by_key(|m| m.member);
        format!(": stopped {}", describe(&stopped, &ports))
    }
}

/// `down`: kills every member carrying the cluster's mark (whatever `cluster.json` says, or
/// without one), names each, and removes the run directory.
fn down(dir: &Path, name: &str) -> anyhow::Result<u8> {
    let waiting = |holder: &LockHolder| {
        eprintln!(
            "hzlab: waiting for {holder}, which holds cluster `{name}` ({})",
            dir.display()
        )
    };
    let lock = match RunDirLock::acquire(dir, "hzlab cluster down", false, waiting) {
        Ok(lock) => Some(lock),
        // No run directory: members whose directory was removed by hand are still found.
        Err(LocalError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("cannot lock {}", dir.display())),
    };
    let ports = recorded(dir).map(|r| r.addresses()).unwrap_or_default();
    let stopped = hazelcast_members::kill_marked(dir)?;
    if lock.is_none() && stopped.is_empty() {
        bail!(
            "no cluster `{name}` in {} (no run directory, no member running)",
            dir.display()
        );
    }
    for m in &stopped {
        println!("stopped {}", describe(std::slice::from_ref(m), &ports));
    }
    if lock.is_some() {
        if let Some(h) = hazelcast_members::netns::remove_recorded(dir)
            .context("cannot remove the cluster's network")?
        {
            println!(
                "removed the cluster's network: bridge {}, namespaces {}",
                h.bridge(),
                (1..=h.members)
                    .map(|n| h.namespace(n))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        std::fs::remove_dir_all(dir).with_context(|| format!("cannot remove {}", dir.display()))?;
    }
    println!(
        "cluster `{name}` down: {} member(s) stopped, {} removed",
        stopped.len(),
        dir.display()
    );
    Ok(exit::OK)
}

/// The members' own member lists, grouped: one line per distinct view (`members 1 see [1]`,
/// `members 2, 3 see [2, 3]`), so a split shows two views and a merged cluster one.
fn print_views(views: &[(usize, Result<Vec<usize>, hzlab::cluster::ClusterError>)]) {
    let mut distinct: Vec<(Vec<usize>, Vec<usize>)> = Vec::new();
    for (m, v) in views {
        match v {
            Ok(seen) => match distinct.iter_mut().find(|(s, _)| s == seen) {
                Some((_, who)) => who.push(*m),
                None => distinct.push((seen.clone(), vec![*m])),
            },
            Err(e) => println!("member {m}'s view: unknown ({e})"),
        }
    }
    println!(
        "members' own views: {} distinct{}",
        distinct.len(),
        if distinct.len() > 1 { " (split)" } else { "" }
    );
    for (seen, who) in &distinct {
        println!(
            "  member{} {} see{} [{}]",
            if who.len() > 1 { "s" } else { "" },
            list(who),
            if who.len() > 1 { "" } else { "s" },
            list(seen)
        );
    }
}

fn print_members(cluster: &mut LocalMembers) {
    println!("{:<7} {:<20} {:>8}  state", "member", "address", "pid");
    for m in cluster.members() {
        println!(
            "{:<7} {:<20} {:>8}  {}",
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
        let own_views = cluster.views().await;
        let doc = serde_json::json!({
            "cluster": cluster.cluster_name(),
            "run_dir": cluster.run_dir(),
            "members": members,
            "vanished": cluster.vanished(),
            "network": cluster.on_hosts().then(|| cluster.current_cut().links().collect::<Vec<_>>()),
            "views": own_views.iter().map(|(m, v)| serde_json::json!({
                "member": m,
                "sees": v.as_ref().ok(),
                "error": v.as_ref().err().map(|e| e.to_string()),
            })).collect::<Vec<_>>(),
            "stats": stats.iter().map(|(m, s)| serde_json::json!({
                "member": m,
                "stats": s.as_ref().ok().map(|s| serde_json::json!({
                    "uuid": s.uuid, "address": s.address, "state": s.state,
                    "members": s.members.len(), "cluster_safe": s.cluster_safe,
                    "migrating": s.migrating, "owned_partitions": s.owned_partitions(),
                    "maps": s.maps,
                })),
                "error": s.as_ref().err().map(|e| error_chain(e)),
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
        "{:<7} {:<20} {:>8}  {:<8} {:>10}",
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
            Some(Err(hzlab::cluster::ClusterError::Paused(_))) => {
                ("paused".to_string(), "-".to_string())
            }
            Some(Err(e)) => (format!("no stats: {}", error_chain(e)), "-".to_string()),
        };
        println!(
            "{:<7} {:<20} {:>8}  {:<8} {:>10}",
            m.member,
            m.address.as_deref().unwrap_or("-"),
            m.pid.map_or("-".into(), |p| p.to_string()),
            state,
            partitions
        );
    }
    let own_views = cluster.views().await;
    let cut = cluster.current_cut();
    if cluster.on_hosts() {
        println!("network: {cut}");
    }
    for m in &members {
        if cluster.is_paused(m.member) {
            println!(
                "member {} is paused (SIGSTOP): it answers nothing",
                m.member
            );
        }
    }
    print_views(&own_views);
    let views: Vec<_> = stats.iter().filter_map(|(_, s)| s.as_ref().ok()).collect();
    let split = {
        let mut sizes: Vec<usize> = views.iter().map(|s| s.members.len()).collect();
        sizes.dedup();
        sizes.len() > 1
            || own_views
                .iter()
                .filter_map(|(_, v)| v.as_ref().ok())
                .any(|v| v.len() != own_views.len())
    };
    if split {
        println!("cluster view: the members do not agree on the member list (see their own views)");
    } else if let Some(first) = views.first() {
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
