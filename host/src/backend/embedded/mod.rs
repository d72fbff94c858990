//! The embedded backend: an in-process model of a Hazelcast cluster.
//!
//! It models what the seed lab observes: members; 271 partitions, each with an owner and
//! sync/async backups on distinct members; keys placed by the same serialization and
//! MurmurHash3 as real members; maps, reentrant per-owner key locks and bounded blocking
//! queues stored in their partitions; a crash that loses the partitions whose every replica
//! was on the crashed members, and a graceful leave that loses nothing.
//!
//! Operations interleave as on a real cluster: each one first crosses a simulated network
//! ([`network`]), a few scheduler yields drawn from a seeded generator, so `get` then `put`
//! from concurrent instances can lose updates while locked and `replace-if-same` loops cannot.
//! The seed drives the interleaving: a run with the same seed interleaves the same way (the
//! engine's clock only interrupts a guest that went three ticks without an operation).

mod locks;
pub mod network;
pub mod partitions;
mod queues;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use hazelcast_client::{Data, Value};
use tokio::sync::Notify;

use self::locks::KeyLock;
use self::network::Network;
use self::partitions::{MemberId, PartitionTable};
use self::queues::BoundedQueue;
use super::{Backend, BackendInfo, OpError, OpResult, OwnerId, Session};

/// How the embedded cluster is shaped.
#[derive(Debug, Clone, PartialEq)]
pub struct EmbeddedConfig {
    pub members: usize,
    pub partitions: u32,
    pub backup_count: u32,
    pub async_backup_count: u32,
    /// Max-size of every queue (`None`: unbounded).
    pub queue_capacity: Option<u32>,
    /// Most scheduler yields one operation's simulated network trip takes (0: none).
    pub max_network_yields: u32,
    /// Seed of the network's interleaving.
    pub seed: u64,
}

impl Default for EmbeddedConfig {
    fn default() -> Self {
        EmbeddedConfig {
            members: 3,
            partitions: 271,
            backup_count: 1,
            async_backup_count: 0,
            queue_capacity: None,
            max_network_yields: 2,
            seed: 0,
        }
    }
}

/// Why a cluster-level request (a fault, a stats query) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClusterError {
    #[error("no member {0}: the cluster has members 1..={1}")]
    NoSuchMember(usize, usize),
    #[error("member {0} is not running")]
    NotRunning(usize),
    #[error("member {0} is already running")]
    AlreadyRunning(usize),
    #[error("the configuration is invalid: {0}")]
    InvalidConfig(String),
}

/// Entries one member holds of one map.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MemberEntries {
    /// 1-based member number, as `hzlab cluster` names members.
    pub member: usize,
    pub running: bool,
    pub owned_partitions: usize,
    pub owned_entries: usize,
    pub backup_entries: usize,
}

#[derive(Debug, Default)]
struct PartitionData {
    maps: HashMap<String, HashMap<Data, Data>>,
    locks: HashMap<String, HashMap<Data, KeyLock>>,
    queues: HashMap<String, BoundedQueue>,
}

impl PartitionData {
    fn entry_count(&self, map: &str) -> usize {
        self.maps.get(map).map_or(0, HashMap::len)
    }

    /// Drops everything, waking whoever waits on a lock or queue here.
    fn lose(&mut self) {
        for lock in self.locks.values().flat_map(HashMap::values) {
            lock.wake_all();
        }
        for queue in self.queues.values() {
            queue.wake_all();
        }
        *self = PartitionData::default();
    }
}

#[derive(Debug)]
struct State {
    running: Vec<bool>,
    table: PartitionTable,
    partitions: Vec<PartitionData>,
}

impl State {
    fn live(&self) -> Vec<MemberId> {
        (0..self.running.len())
            .filter(|&m| self.running[m])
            .collect()
    }

    /// The partition's data, or `Unavailable` when no member is running.
    fn partition(&mut self, pid: u32) -> OpResult<&mut PartitionData> {
        if self.table.owner(pid).is_none() {
            return Err(OpError::Unavailable("no cluster member is running".into()));
        }
        Ok(&mut self.partitions[pid as usize])
    }

    fn any_member(&self) -> OpResult<()> {
        if self.running.iter().any(|r| *r) {
            Ok(())
        } else {
            Err(OpError::Unavailable("no cluster member is running".into()))
        }
    }
}

#[derive(Debug)]
struct Inner {
    config: EmbeddedConfig,
    state: Mutex<State>,
}

/// An in-process cluster. Cheap to clone: clones share the cluster.
#[derive(Debug, Clone)]
pub struct EmbeddedCluster {
    inner: Arc<Inner>,
}

impl EmbeddedCluster {
    pub fn new(config: EmbeddedConfig) -> Result<EmbeddedCluster, ClusterError> {
        if config.members == 0 {
            return Err(ClusterError::InvalidConfig(
                "a cluster needs at least one member".into(),
            ));
        }
        if config.partitions == 0 {
            return Err(ClusterError::InvalidConfig(
                "partition count must be positive".into(),
            ));
        }
        if config.backup_count + config.async_backup_count > 6 {
            return Err(ClusterError::InvalidConfig(format!(
                "backup-count + async-backup-count is {}, Hazelcast allows at most 6",
                config.backup_count + config.async_backup_count
            )));
        }
        let live: Vec<MemberId> = (0..config.members).collect();
        let wanted = 1 + (config.backup_count + config.async_backup_count) as usize;
        let state = State {
            running: vec![true; config.members],
            table: PartitionTable::balanced(config.partitions, wanted, &live),
            partitions: (0..config.partitions)
                .map(|_| PartitionData::default())
                .collect(),
        };
        Ok(EmbeddedCluster {
            inner: Arc::new(Inner {
                config,
                state: Mutex::new(state),
            }),
        })
    }

    pub fn config(&self) -> &EmbeddedConfig {
        &self.inner.config
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock would be a bug in this module; the state stays usable.
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn member_index(&self, member: usize) -> Result<MemberId, ClusterError> {
        let n = self.inner.config.members;
        if member == 0 || member > n {
            return Err(ClusterError::NoSuchMember(member, n));
        }
        Ok(member - 1)
    }

    /// Crashes members at once (1-based numbers), like `kill -9`: their replicas vanish before
    /// anything is migrated. Returns the number of map entries lost.
    pub fn crash(&self, members: &[usize]) -> Result<usize, ClusterError> {
        let ids = members
            .iter()
            .map(|&m| self.member_index(m))
            .collect::<Result<Vec<_>, _>>()?;
        let mut st = self.state();
        for &id in &ids {
            if !st.running[id] {
                return Err(ClusterError::NotRunning(id + 1));
            }
        }
        for &id in &ids {
            st.running[id] = false;
        }
        let live = st.live();
        let lost = st.table.remove_members(&ids, &live);
        let mut lost_entries = 0;
        for pid in lost {
            let data = &mut st.partitions[pid as usize];
            lost_entries += data.maps.values().map(HashMap::len).sum::<usize>();
            data.lose();
        }
        Ok(lost_entries)
    }

    /// Stops a member gracefully: its partitions migrate to the others first, nothing is lost
    /// while another member runs.
    pub fn leave(&self, member: usize) -> Result<(), ClusterError> {
        let id = self.member_index(member)?;
        let mut st = self.state();
        if !st.running[id] {
            return Err(ClusterError::NotRunning(member));
        }
        let live: Vec<MemberId> = st.live().into_iter().filter(|&m| m != id).collect();
        if live.is_empty() {
            // The last member leaving takes the data with it, as on a real cluster.
            st.running[id] = false;
            st.table.remove_members(&[id], &[]);
            for data in &mut st.partitions {
                data.lose();
            }
            return Ok(());
        }
        st.running[id] = false;
        st.table.rebalance(&live);
        Ok(())
    }

    /// Starts a stopped member again; partitions rebalance onto it.
    pub fn start(&self, member: usize) -> Result<(), ClusterError> {
        let id = self.member_index(member)?;
        let mut st = self.state();
        if st.running[id] {
            return Err(ClusterError::AlreadyRunning(member));
        }
        st.running[id] = true;
        let live = st.live();
        st.table.rebalance(&live);
        Ok(())
    }

    /// Entries of `map` each member owns and holds as backup.
    pub fn distribution(&self, map: &str) -> Vec<MemberEntries> {
        let st = self.state();
        let n = st.running.len();
        let mut rows: Vec<MemberEntries> = (0..n)
            .map(|m| MemberEntries {
                member: m + 1,
                running: st.running[m],
                owned_partitions: 0,
                owned_entries: 0,
                backup_entries: 0,
            })
            .collect();
        for pid in 0..st.table.partition_count() {
            let entries = st.partitions[pid as usize].entry_count(map);
            for (r, &m) in st.table.replicas(pid).iter().enumerate() {
                if r == 0 {
                    rows[m].owned_partitions += 1;
                    rows[m].owned_entries += entries;
                } else {
                    rows[m].backup_entries += entries;
                }
            }
        }
        rows
    }

    /// Entries of `map` that a simultaneous crash of `members` (1-based) would lose now.
    pub fn predicted_loss(&self, map: &str, members: &[usize]) -> Result<usize, ClusterError> {
        let ids = members
            .iter()
            .map(|&m| self.member_index(m))
            .collect::<Result<Vec<_>, _>>()?;
        let st = self.state();
        Ok(st
            .table
            .lost_if_crashed(&ids)
            .into_iter()
            .map(|pid| st.partitions[pid as usize].entry_count(map))
            .sum())
    }

    fn partition_of(&self, key: &Data) -> u32 {
        key.partition_id(self.inner.config.partitions)
    }

    fn name_partition(&self, name: &str) -> u32 {
        Data::from_value(&Value::String(name.to_owned())).partition_id(self.inner.config.partitions)
    }

    /// Runs `f` on the entries of `map` in `key`'s partition.
    fn with_map<R>(
        &self,
        map: &str,
        key: &Data,
        f: impl FnOnce(&mut HashMap<Data, Data>) -> R,
    ) -> OpResult<R> {
        let pid = self.partition_of(key);
        let mut st = self.state();
        let data = st.partition(pid)?;
        let entries = match data.maps.get_mut(map) {
            Some(entries) => entries,
            None => data.maps.entry(map.to_owned()).or_default(),
        };
        Ok(f(entries))
    }

    fn with_lock<R>(
        &self,
        map: &str,
        key: &Data,
        f: impl FnOnce(&mut KeyLock) -> R,
    ) -> OpResult<R> {
        let pid = self.partition_of(key);
        let mut st = self.state();
        let data = st.partition(pid)?;
        let locks = data.locks.entry(map.to_owned()).or_default();
        let lock = locks.entry(key.clone()).or_default();
        let result = f(lock);
        if lock.is_unused() {
            locks.remove(key);
        }
        Ok(result)
    }

    fn with_queue<R>(&self, name: &str, f: impl FnOnce(&mut BoundedQueue) -> R) -> OpResult<R> {
        let pid = self.name_partition(name);
        let capacity = self.inner.config.queue_capacity;
        let mut st = self.state();
        let data = st.partition(pid)?;
        let queue = data
            .queues
            .entry(name.to_owned())
            .or_insert_with(|| BoundedQueue::new(capacity));
        Ok(f(queue))
    }
}

impl Backend for EmbeddedCluster {
    type Session = EmbeddedSession;

    fn session(&self, owner: OwnerId) -> EmbeddedSession {
        let c = &self.inner.config;
        EmbeddedSession {
            cluster: self.clone(),
            owner,
            network: Network::new(c.seed, owner, c.max_network_yields),
        }
    }

    fn info(&self) -> BackendInfo {
        let c = &self.inner.config;
        let running = self.state().running.iter().filter(|r| **r).count();
        BackendInfo {
            kind: "embedded",
            description: format!(
                "embedded cluster: {} partitions, backup-count {}, async-backup-count {}",
                c.partitions, c.backup_count, c.async_backup_count
            ),
            members: running,
            members_at_end: running,
            partitions: c.partitions,
            backup_count: Some(c.backup_count),
            async_backup_count: Some(c.async_backup_count),
            queue_capacity: c.queue_capacity,
        }
    }
}

/// One instance's connection to the embedded cluster.
#[derive(Debug)]
pub struct EmbeddedSession {
    cluster: EmbeddedCluster,
    owner: OwnerId,
    network: Network,
}

fn decode(data: Option<Data>) -> OpResult<Option<Value>> {
    data.map(|d| {
        d.to_value()
            .map_err(|e| OpError::Other(format!("stored value unreadable: {e}")))
    })
    .transpose()
}

/// Waits for `notify` until `deadline` (none: forever). False when the deadline passed.
async fn wait(notify: Arc<Notify>, deadline: Option<tokio::time::Instant>) -> bool {
    match deadline {
        None => {
            notify.notified().await;
            true
        }
        Some(d) => tokio::time::timeout_at(d, notify.notified()).await.is_ok(),
    }
}

impl EmbeddedSession {
    /// Pushes `item`, waiting for room until `deadline` (none: forever; `Some(now)`: not at
    /// all). Whether it was added.
    async fn push(
        &self,
        queue: &str,
        item: &Value,
        deadline: Option<tokio::time::Instant>,
    ) -> OpResult<bool> {
        self.network.trip().await;
        let mut item = Data::from_value(item);
        loop {
            let not_full = match self
                .cluster
                .with_queue(queue, |q| q.try_push(item).map_err(|it| (it, q.not_full())))?
            {
                Ok(()) => return Ok(true),
                Err((returned, not_full)) => {
                    item = returned;
                    not_full
                }
            };
            if deadline.is_some_and(|d| d <= tokio::time::Instant::now()) {
                return Ok(false);
            }
            if !wait(not_full, deadline).await {
                return Ok(false);
            }
        }
    }

    async fn pop(
        &self,
        queue: &str,
        deadline: Option<tokio::time::Instant>,
    ) -> OpResult<Option<Value>> {
        self.network.trip().await;
        loop {
            let (item, not_empty) = self
                .cluster
                .with_queue(queue, |q| (q.try_pop(), q.not_empty()))?;
            if item.is_some() {
                return decode(item);
            }
            if deadline.is_some_and(|d| d <= tokio::time::Instant::now()) {
                return Ok(None);
            }
            if !wait(not_empty, deadline).await {
                return Ok(None);
            }
        }
    }

    async fn acquire(
        &self,
        map: &str,
        key: &Value,
        deadline: Option<tokio::time::Instant>,
    ) -> OpResult<bool> {
        self.network.trip().await;
        let key = Data::from_value(key);
        loop {
            let released = self.cluster.with_lock(map, &key, |l| {
                if l.try_acquire(self.owner) {
                    None
                } else {
                    Some(l.released())
                }
            })?;
            let Some(released) = released else {
                return Ok(true);
            };
            if deadline.is_some_and(|d| d <= tokio::time::Instant::now()) {
                return Ok(false);
            }
            if !wait(released, deadline).await {
                return Ok(false);
            }
        }
    }
}

fn deadline_after(timeout: Option<Duration>) -> Option<tokio::time::Instant> {
    timeout.map(|t| tokio::time::Instant::now() + t)
}

impl Session for EmbeddedSession {
    async fn get(&self, map: &str, key: &Value) -> OpResult<Option<Value>> {
        self.network.trip().await;
        let key = Data::from_value(key);
        decode(self.cluster.with_map(map, &key, |m| m.get(&key).cloned())?)
    }

    async fn put(&self, map: &str, key: &Value, value: &Value) -> OpResult<Option<Value>> {
        self.network.trip().await;
        let key = Data::from_value(key);
        let value = Data::from_value(value);
        decode(
            self.cluster
                .with_map(map, &key.clone(), |m| m.insert(key, value))?,
        )
    }

    async fn set(&self, map: &str, key: &Value, value: &Value) -> OpResult<()> {
        self.network.trip().await;
        let key = Data::from_value(key);
        let value = Data::from_value(value);
        self.cluster.with_map(map, &key.clone(), |m| {
            m.insert(key, value);
        })
    }

    async fn remove(&self, map: &str, key: &Value) -> OpResult<Option<Value>> {
        self.network.trip().await;
        let key = Data::from_value(key);
        decode(self.cluster.with_map(map, &key, |m| m.remove(&key))?)
    }

    async fn contains_key(&self, map: &str, key: &Value) -> OpResult<bool> {
        self.network.trip().await;
        let key = Data::from_value(key);
        self.cluster.with_map(map, &key, |m| m.contains_key(&key))
    }

    async fn size(&self, map: &str) -> OpResult<u64> {
        self.network.trip().await;
        let st = self.cluster.state();
        st.any_member()?;
        Ok(st
            .partitions
            .iter()
            .map(|p| p.entry_count(map) as u64)
            .sum())
    }

    async fn put_if_absent(
        &self,
        map: &str,
        key: &Value,
        value: &Value,
    ) -> OpResult<Option<Value>> {
        self.network.trip().await;
        let key = Data::from_value(key);
        let value = Data::from_value(value);
        decode(
            self.cluster
                .with_map(map, &key.clone(), |m| match m.get(&key) {
                    Some(existing) => Some(existing.clone()),
                    None => {
                        m.insert(key, value);
                        None
                    }
                })?,
        )
    }

    async fn clear(&self, map: &str) -> OpResult<()> {
        self.network.trip().await;
        let mut st = self.cluster.state();
        st.any_member()?;
        for p in &mut st.partitions {
            if let Some(entries) = p.maps.get_mut(map) {
                entries.clear();
            }
        }
        Ok(())
    }

    async fn replace(&self, map: &str, key: &Value, value: &Value) -> OpResult<Option<Value>> {
        self.network.trip().await;
        let key = Data::from_value(key);
        let value = Data::from_value(value);
        decode(self.cluster.with_map(map, &key, |m| {
            m.get_mut(&key).map(|slot| std::mem::replace(slot, value))
        })?)
    }

    async fn replace_if_same(
        &self,
        map: &str,
        key: &Value,
        expected: &Value,
        new: &Value,
    ) -> OpResult<bool> {
        self.network.trip().await;
        let key = Data::from_value(key);
        let expected = Data::from_value(expected);
        let new = Data::from_value(new);
        self.cluster.with_map(map, &key, |m| match m.get_mut(&key) {
            Some(slot) if *slot == expected => {
                *slot = new;
                true
            }
            _ => false,
        })
    }

    async fn lock(&self, map: &str, key: &Value) -> OpResult<()> {
        self.acquire(map, key, None).await.map(|_| ())
    }

    async fn try_lock(&self, map: &str, key: &Value, timeout: Duration) -> OpResult<bool> {
        self.acquire(map, key, deadline_after(Some(timeout))).await
    }

    async fn unlock(&self, map: &str, key: &Value) -> OpResult<()> {
        self.network.trip().await;
        let key = Data::from_value(key);
        if self
            .cluster
            .with_lock(map, &key, |l| l.release(self.owner))?
        {
            Ok(())
        } else {
            Err(OpError::NotLockOwner)
        }
    }

    async fn is_locked(&self, map: &str, key: &Value) -> OpResult<bool> {
        self.network.trip().await;
        let key = Data::from_value(key);
        self.cluster.with_lock(map, &key, |l| l.is_locked())
    }

    async fn offer(&self, queue: &str, item: &Value, timeout: Option<Duration>) -> OpResult<bool> {
        let deadline = deadline_after(Some(timeout.unwrap_or(Duration::ZERO)));
        self.push(queue, item, deadline).await
    }

    async fn queue_put(&self, queue: &str, item: &Value) -> OpResult<()> {
        self.push(queue, item, None).await.map(|_| ())
    }

    async fn poll(&self, queue: &str, timeout: Option<Duration>) -> OpResult<Option<Value>> {
        let deadline = deadline_after(Some(timeout.unwrap_or(Duration::ZERO)));
        self.pop(queue, deadline).await
    }

    async fn take(&self, queue: &str) -> OpResult<Value> {
        match self.pop(queue, None).await? {
            Some(v) => Ok(v),
            None => Err(OpError::Other("take returned without an item".into())),
        }
    }

    async fn queue_size(&self, queue: &str) -> OpResult<u64> {
        self.network.trip().await;
        self.cluster.with_queue(queue, |q| q.len() as u64)
    }
}

#[cfg(test)]
mod tests;
