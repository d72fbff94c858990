//! Real Hazelcast members on this machine, started from the Maven jar, observed through their
//! own statistics (what Management Center shows), faulted with signals.

use crate::format::error_chain;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hazelcast_members::{LocalCluster, LocalClusterConfig, MemberStats, RunDirLock};

use super::distribution::keys_in_partitions;
use super::split_brain::SplitBrainConfig;
use super::{check_members, ClusterControl, ClusterError, Distribution, MemberDistribution};
use super::{MemberStatus, NetworkCut, Value};

/// How to start local members.
#[derive(Debug, Clone)]
pub struct LocalMembersConfig {
    pub cluster_name: String,
    pub members: usize,
    /// Members listen on `base_port`, `base_port + 1`...; free ports when `None`.
    pub base_port: Option<u16>,
    /// Map backup counts (every map).
    pub backup_count: u32,
    pub async_backup_count: u32,
    /// Max-size of every queue (`None`: unbounded).
    pub queue_capacity: Option<u32>,
    /// Configs, logs and the state file; a temporary directory (removed at the end) when
    /// `None`.
    pub run_dir: Option<PathBuf>,
    /// The members will outlive this process ([`LocalMembers::detach`]): they get a process
    /// group of their own.
    pub detachable: bool,
    /// Every member on a host of its own (a network namespace with its own address), so
    /// that the network between members can be cut; needs CAP_NET_ADMIN.
    pub hosts: bool,
    /// Split-brain protection, merge policies and failure-detection timing.
    pub split_brain: SplitBrainConfig,
}

impl LocalMembersConfig {
    pub fn new(cluster_name: impl Into<String>, members: usize) -> LocalMembersConfig {
        LocalMembersConfig {
            cluster_name: cluster_name.into(),
            members,
            base_port: None,
            backup_count: 1,
            async_backup_count: 0,
            queue_capacity: None,
            run_dir: None,
            detachable: false,
            hosts: false,
            split_brain: SplitBrainConfig::default(),
        }
    }
}

/// Local members under the cluster manager. Dropping it kills the members unless it was
/// detached.
#[derive(Debug)]
pub struct LocalMembers {
    cluster: LocalCluster,
    /// Members the state file recorded as running that were gone when attached.
    vanished: Vec<usize>,
}

impl LocalMembers {
    /// Starts the members and waits until all have joined.
    pub async fn start(config: LocalMembersConfig) -> Result<LocalMembers, ClusterError> {
        let c = Self::harness_config(config)?;
        Ok(LocalMembers {
            cluster: LocalCluster::start(c).await?,
            vanished: Vec::new(),
        })
    }

    /// Starts the members in the run directory `lock` holds (`config.run_dir` is ignored),
    /// holding the lock until dropped or detached. Dropping the future part-way kills the
    /// members started so far.
    pub async fn start_locked(
        config: LocalMembersConfig,
        lock: RunDirLock,
    ) -> Result<LocalMembers, ClusterError> {
        let c = Self::harness_config(config)?;
        Ok(LocalMembers {
            cluster: LocalCluster::start_locked(c, lock).await?,
            vanished: Vec::new(),
        })
    }

    fn harness_config(config: LocalMembersConfig) -> Result<LocalClusterConfig, ClusterError> {
        if config.members == 0 {
            return Err(ClusterError::InvalidConfig(
                "a cluster needs at least one member".into(),
            ));
        }
        if config.backup_count + config.async_backup_count > 6 {
            return Err(ClusterError::InvalidConfig(format!(
                "backup-count + async-backup-count is {}, Hazelcast allows at most 6",
                config.backup_count + config.async_backup_count
            )));
        }
        let mut c = LocalClusterConfig::new(config.cluster_name, config.members);
        if let Some(base) = config.base_port {
            let last = base as usize + config.members - 1;
            if last > u16::MAX as usize {
                return Err(ClusterError::InvalidConfig(format!(
                    "ports {base}..={last} do not exist"
                )));
            }
            c.ports = (0..config.members as u16).map(|i| base + i).collect();
            // On hosts of their own the members' addresses are their own.
            for &p in c.ports.iter().filter(|_| !config.hosts) {
                if std::net::TcpListener::bind(("127.0.0.1", p)).is_err() {
                    return Err(ClusterError::InvalidConfig(format!(
                        "port {p} on 127.0.0.1 is in use"
                    )));
                }
            }
        }
        c.map_backup_count = config.backup_count;
        c.map_async_backup_count = config.async_backup_count;
        c.queue_max_size = config.queue_capacity.unwrap_or(0);
        c.run_dir = config.run_dir;
        c.own_process_group = config.detachable;
        c.hosts = config.hosts;
        config.split_brain.check()?;
        c.extra_xml = config.split_brain.member_xml(
            config.backup_count,
            config.async_backup_count,
            config.queue_capacity.unwrap_or(0),
        );
        c.properties = config.split_brain.properties();
        Ok(c)
    }

    /// Takes over members a detached cluster left running in `run_dir` (found by their
    /// mark), without holding its lock but for each write of its state file.
    pub fn attach(run_dir: &Path) -> Result<LocalMembers, ClusterError> {
        let recorded = recorded_running(run_dir);
        Ok(Self::attached(LocalCluster::attach(run_dir)?, &recorded))
    }

    /// [`LocalMembers::attach`] to the run directory `lock` holds, holding the lock until
    /// dropped or detached.
    pub fn attach_locked(lock: RunDirLock) -> Result<LocalMembers, ClusterError> {
        let recorded = recorded_running(lock.dir());
        Ok(Self::attached(
            LocalCluster::attach_locked(lock)?,
            &recorded,
        ))
    }

    fn attached(mut cluster: LocalCluster, recorded: &[usize]) -> LocalMembers {
        let vanished = (0..cluster.len())
            .filter(|&i| recorded.contains(&i) && !cluster.is_running(i))
            .map(|i| i + 1)
            .collect();
        LocalMembers { cluster, vanished }
    }

    /// Leaves the members running (for `attach` from another process); returns the run
    /// directory.
    pub fn detach(self) -> Result<PathBuf, ClusterError> {
        Ok(self.cluster.detach()?)
    }

    /// Members (1-based) that the run directory recorded as running but that had died when
    /// this value attached: killed or crashed outside hzlab.
    pub fn vanished(&self) -> &[usize] {
        &self.vanished
    }

    pub fn cluster_name(&self) -> &str {
        self.cluster.cluster_name()
    }

    pub fn run_dir(&self) -> &Path {
        self.cluster.run_dir()
    }

    /// Every member's `127.0.0.1:port`.
    pub fn addresses(&self) -> Vec<String> {
        self.cluster.addresses()
    }

    /// Addresses of the running members.
    pub fn running_addresses(&mut self) -> Vec<String> {
        let running: Vec<usize> = (0..self.cluster.len())
            .filter(|&i| self.cluster.is_running(i))
            .collect();
        running
            .into_iter()
            .filter_map(|i| self.cluster.address(i))
            .collect()
    }

    /// The map backup counts the members were configured with.
    pub fn backup_counts(&self) -> (u32, u32) {
        let c = self.cluster.config();
        (c.map_backup_count, c.map_async_backup_count)
    }

    /// The underlying local cluster.
    pub fn local(&mut self) -> &mut LocalCluster {
        &mut self.cluster
    }

    /// Statistics of running member `member` (1-based); `maps` are reported even if empty.
    pub async fn stats(
        &mut self,
        member: usize,
        maps: &[&str],
    ) -> Result<MemberStats, ClusterError> {
        check_members(&[member], self.cluster.len())?;
        if !self.cluster.is_running(member - 1) {
            return Err(ClusterError::NotRunning(member));
        }
        Ok(self.cluster.stats(member - 1, maps).await?)
    }

    /// Statistics of every running member, by member number.
    pub async fn all_stats(
        &mut self,
        maps: &[&str],
    ) -> Vec<(usize, Result<MemberStats, ClusterError>)> {
        let mut out = Vec::new();
        for i in 0..self.cluster.len() {
            if self.cluster.is_frozen(i) {
                // A paused member cannot answer.
                out.push((i + 1, Err(ClusterError::Paused(i + 1))));
            } else if self.cluster.is_running(i) {
                let s = self
                    .cluster
                    .stats(i, maps)
                    .await
                    .map_err(ClusterError::from);
                out.push((i + 1, s));
            }
        }
        out
    }

    /// Kills every member.
    pub fn shutdown(&mut self) {
        self.cluster.shutdown();
    }

    /// Whether the members run on hosts of their own (network cuts possible).
    pub fn on_hosts(&self) -> bool {
        self.cluster.hosts().is_some()
    }

    /// The cut in force (recorded in the run directory).
    pub fn current_cut(&self) -> NetworkCut {
        NetworkCut::from_links(self.cluster.len(), self.cluster.current_cut())
    }

    /// Whether member `member` (1-based) is paused (SIGSTOP).
    pub fn is_paused(&mut self, member: usize) -> bool {
        member >= 1 && self.cluster.is_frozen(member - 1)
    }

    /// Each running member's own member list (by member number, as it sees it), from the
    /// members themselves; paused members are left out (they cannot answer).
    pub async fn views(&mut self) -> Vec<(usize, Result<Vec<usize>, ClusterError>)> {
        let addresses = self.cluster.addresses();
        let mut out = Vec::new();
        for i in 0..self.cluster.len() {
            if !self.cluster.is_running(i) || self.cluster.is_frozen(i) {
                continue;
            }
            let view = self.cluster.stats(i, &[]).await.map(|s| {
                let mut seen: Vec<usize> = s
                    .members
                    .iter()
                    .filter_map(|m| {
                        addresses
                            .iter()
                            .position(|a| loopback_normal(a) == loopback_normal(&m.address))
                            .map(|p| p + 1)
                    })
                    .collect();
                seen.sort_unstable();
                seen
            });
            out.push((i + 1, view.map_err(ClusterError::from)));
        }
        out
    }

    fn running(&mut self, member: usize) -> Result<(), ClusterError> {
        if self.cluster.is_running(member - 1) {
            Ok(())
        } else {
            Err(ClusterError::NotRunning(member))
        }
    }

    /// Why the cluster is not safe yet, or `None` when it is.
    async fn unsafe_reason(&mut self) -> Result<Option<String>, ClusterError> {
        let running: Vec<usize> = (0..self.cluster.len())
            .filter(|&i| self.cluster.is_running(i))
            .collect();
        if running.is_empty() {
            return Err(ClusterError::InvalidConfig("no member is running".into()));
        }
        for &i in &running {
            let s = match self.cluster.stats(i, &[]).await {
                Ok(s) => s,
                Err(e) => return Ok(Some(format!("member {}: {}", i + 1, error_chain(&e)))),
            };
            if s.members.len() != running.len() {
                return Ok(Some(format!(
                    "member {} sees {} members, {} run",
                    i + 1,
                    s.members.len(),
                    running.len()
                )));
            }
            if s.migrating || s.migration_queue > 0 {
                return Ok(Some(format!("member {} has migrations under way", i + 1)));
            }
            if !s.member_safe {
                return Ok(Some(format!("member {} is not safe yet", i + 1)));
            }
            if !s.cluster_safe {
                return Ok(Some(format!("member {} reports the cluster unsafe", i + 1)));
            }
            let uuids: Vec<&str> = s.members.iter().map(|m| m.uuid.as_str()).collect();
            let wanted = running.len().min(7);
            let table = s.replica_table();
            if let Some(p) = (0..table.partition_count()).find(|&p| {
                let r: Vec<&str> = table.replicas(p).collect();
                r.len() < wanted || r.iter().any(|u| !uuids.contains(u))
            }) {
                return Ok(Some(format!(
                    "member {} sees partition {p} without all its replicas",
                    i + 1
                )));
            }
        }
        Ok(None)
    }
}

/// Members the state file says were running (0-based), before attaching checks them.
fn recorded_running(run_dir: &Path) -> Vec<usize> {
    let Ok(text) = std::fs::read_to_string(run_dir.join("cluster.json")) else {
        return Vec::new();
    };
    let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else {
        return Vec::new();
    };
    v.get("member")
        .and_then(|m| m.as_array())
        .map(|members| {
            members
                .iter()
                .enumerate()
                .filter(|(_, m)| m.get("pid").is_some_and(|p| !p.is_null()))
                .map(|(i, _)| i)
                .collect()
        })
        .unwrap_or_default()
}

impl ClusterControl for LocalMembers {
    fn kind(&self) -> &'static str {
        "local"
    }

    fn members(&mut self) -> Vec<MemberStatus> {
        (0..self.cluster.len())
            .map(|i| MemberStatus {
                member: i + 1,
                address: self.cluster.address(i),
                running: self.cluster.is_running(i),
                pid: if self.cluster.is_running(i) {
                    self.cluster.pid(i)
                } else {
                    None
                },
            })
            .collect()
    }

    async fn kill(&mut self, members: &[usize]) -> Result<(), ClusterError> {
        check_members(members, self.cluster.len())?;
        for &m in members {
            self.running(m)?;
        }
        let indices: Vec<usize> = members.iter().map(|m| m - 1).collect();
        tracing::info!(?members, "killing members");
        self.cluster.kill_many(&indices)?;
        Ok(())
    }

    async fn stop(&mut self, member: usize) -> Result<(), ClusterError> {
        check_members(&[member], self.cluster.len())?;
        self.running(member)?;
        tracing::info!(member, "stopping a member (graceful shutdown)");
        // SIGTERM runs the member's graceful shutdown (partitions handed over first); the
        // wait does not block the runtime, so scenarios running meanwhile go on.
        self.cluster
            .stop(member - 1, Duration::from_secs(120))
            .await?;
        Ok(())
    }

    async fn start(&mut self, member: usize) -> Result<(), ClusterError> {
        check_members(&[member], self.cluster.len())?;
        if self.cluster.is_running(member - 1) {
            return Err(ClusterError::AlreadyRunning(member));
        }
        tracing::info!(member, "starting a member");
        self.cluster.restart(member - 1).await?;
        let n = (0..self.cluster.len())
            .filter(|&i| self.cluster.is_running(i))
            .count();
        let deadline = Instant::now() + self.cluster.config().start_timeout;
        // Join checked through the members' own view (a client would also do).
        loop {
            let s = self.cluster.stats(member - 1, &[]).await?;
            if s.members.len() == n {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(ClusterError::NotSafe {
                    waited: self.cluster.config().start_timeout,
                    detail: format!("member {member} sees {} of {n} members", s.members.len()),
                });
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn cut_network(&mut self, cut: &NetworkCut) -> Result<(), ClusterError> {
        let links: Vec<(usize, usize)> = cut.links().collect();
        tracing::info!(%cut, "cutting the network");
        self.cluster.cut_network(&links)?;
        Ok(())
    }

    async fn pause(&mut self, members: &[usize]) -> Result<(), ClusterError> {
        check_members(members, self.cluster.len())?;
        for &m in members {
            self.running(m)?;
        }
        tracing::info!(?members, "pausing members (SIGSTOP)");
        for &m in members {
            self.cluster.freeze(m - 1)?;
        }
        Ok(())
    }

    async fn resume(&mut self, members: &[usize]) -> Result<(), ClusterError> {
        check_members(members, self.cluster.len())?;
        for &m in members {
            self.running(m)?;
        }
        tracing::info!(?members, "resuming members (SIGCONT)");
        for &m in members {
            self.cluster.thaw(m - 1)?;
        }
        Ok(())
    }

    async fn wait_safe(&mut self, timeout: Duration) -> Result<(), ClusterError> {
        let started = Instant::now();
        // Safe twice in a row, a moment apart: a member that just died may not be noticed
        // by the first look.
        let mut safe_once = false;
        loop {
            match self.unsafe_reason().await? {
                None if safe_once => return Ok(()),
                None => safe_once = true,
                Some(reason) => {
                    tracing::debug!(waited = ?started.elapsed(), %reason, "not safe yet");
                    safe_once = false;
                    if started.elapsed() > timeout {
                        return Err(ClusterError::NotSafe {
                            waited: started.elapsed(),
                            detail: reason,
                        });
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    async fn distribution(&mut self, map: &str) -> Result<Distribution, ClusterError> {
        let mut members = Vec::new();
        for i in 0..self.cluster.len() {
            let address = self.cluster.address(i);
            if !self.cluster.is_running(i) {
                members.push(MemberDistribution {
                    member: i + 1,
                    address,
                    running: false,
                    owned_partitions: 0,
                    owned_entries: 0,
                    backup_entries: 0,
                });
                continue;
            }
            let s = self.cluster.stats(i, &[map]).await?;
            let m = s.map(map);
            members.push(MemberDistribution {
                member: i + 1,
                address,
                running: true,
                owned_partitions: s.owned_partitions(),
                owned_entries: m.map_or(0, |m| m.owned_entries),
                backup_entries: m.map_or(0, |m| m.backup_entries),
            });
        }
        Ok(Distribution {
            map: map.to_owned(),
            members,
        })
    }

    async fn predicted_loss(
        &mut self,
        map: &str,
        members: &[usize],
        keys: &[Value],
    ) -> Result<usize, ClusterError> {
        check_members(members, self.cluster.len())?;
        let observer = (0..self.cluster.len())
            .find(|&i| self.cluster.is_running(i))
            .ok_or_else(|| ClusterError::InvalidConfig("no member is running".into()))?;
        let s = self.cluster.stats(observer, &[map]).await?;
        let copies = 1 + s.map(map).map_or(0, |m| m.backup_count as usize);
        let table = s.replica_table();
        let mut uuids = Vec::new();
        for &m in members {
            let address = self.cluster.address(m - 1).unwrap_or_default();
            if let Some(r) = table.members.iter().find(|r| r.address == address) {
                uuids.push(r.uuid.as_str());
            }
        }
        let doomed = table.partitions_only_on(&uuids, copies);
        Ok(keys_in_partitions(keys, &doomed, table.partition_count()))
    }
}

/// `host:port` with a loopback host spelled one way, for comparing addresses.
fn loopback_normal(address: &str) -> String {
    match address.rsplit_once(':') {
        Some(("localhost" | "127.0.0.1" | "[::1]" | "::1", port)) => format!("127.0.0.1:{port}"),
        _ => address.to_owned(),
    }
}

/// The run directory under `root` (`hzlab cluster up` keeps one per cluster there) of the
/// local members listening on any of `addresses`, if hzlab started them, with their cluster
/// name.
pub fn find_run_dir(root: &Path, addresses: &[String]) -> Option<(PathBuf, String)> {
    let wanted: Vec<String> = addresses.iter().map(|a| loopback_normal(a)).collect();
    let root = hazelcast_members::canonical_dir(root).ok()?;
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|d| d.join("cluster.json").is_file())
        .collect();
    dirs.sort();
    dirs.into_iter().find_map(|dir| {
        let cluster = LocalCluster::attach(&dir).ok()?;
        let ours = cluster
            .addresses()
            .iter()
            .any(|a| wanted.contains(&loopback_normal(a)));
        ours.then(|| {
            let name = cluster.cluster_name().to_owned();
            (dir, name)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_spellings_compare_equal() {
        assert_eq!(loopback_normal("localhost:5701"), "127.0.0.1:5701");
        assert_eq!(loopback_normal("127.0.0.1:5701"), "127.0.0.1:5701");
        assert_eq!(loopback_normal("10.0.0.2:5701"), "10.0.0.2:5701");
        assert_ne!(loopback_normal("localhost:5702"), "127.0.0.1:5701");
    }

    #[test]
    fn no_run_dir_in_an_empty_or_missing_root() {
        let root = std::env::temp_dir().join(format!("hzlab-find-run-dir-{}", std::process::id()));
        assert_eq!(find_run_dir(&root, &["127.0.0.1:5701".into()]), None);
        std::fs::create_dir_all(root.join("not-a-cluster")).unwrap();
        assert_eq!(find_run_dir(&root, &["127.0.0.1:5701".into()]), None);
        std::fs::remove_dir_all(&root).unwrap();
    }
}
