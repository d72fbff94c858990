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
//!
//! Membership changes take time as on real members ([`Timing`]): after a crash, a leave or a
//! start the partition table migrates, one partition after another, to a table where every
//! member owns an equal share and holds an equal share of each backup index. Network cuts and
//! pauses split the cluster into sides ([`sides`]) that, after the failure-detection delay,
//! serve on their own with their own copy of the data and merge, after the merge delay once
//! they reach each other again, by each structure's merge policy; split-brain protection
//! refuses operations on a side smaller than its minimum. Clients can be bound to members
//! ([`Backend::session_on`]): a cut separates them from members outside their side.

pub mod config;
mod locks;
pub mod network;
pub mod partitions;
mod queues;
mod sides;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use hazelcast_client::{Data, Value};
use tokio::sync::Notify;
use tokio::time::Instant;

pub use self::config::{
    Access, MergePolicy, ProtectOn, SplitBrainConfig, SplitBrainProtection, StructureConfig, Timing,
};
use self::locks::KeyLock;
use self::network::Network;
use self::partitions::MemberId;
use self::queues::BoundedQueue;
use self::sides::{EntryMeta, Route, State, Status};
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
    /// How long failure detection, merges, migrations and unanswered operations take.
    pub timing: Timing,
    /// Merge policies and split-brain protections of maps and queues.
    pub split_brain: SplitBrainConfig,
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
            timing: Timing::default(),
            split_brain: SplitBrainConfig::default(),
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
    #[error("member {0} is paused")]
    Paused(usize),
    #[error("member {0} is not paused")]
    NotPaused(usize),
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

#[derive(Debug)]
struct Inner {
    config: EmbeddedConfig,
    state: Mutex<State>,
    /// Woken on every fault (cut, heal, pause, resume, crash, start, leave): operations
    /// waiting for an owner look again.
    changed: Notify,
}

/// An in-process cluster. Cheap to clone: clones share the cluster.
#[derive(Debug, Clone)]
pub struct EmbeddedCluster {
    inner: Arc<Inner>,
    /// The members this handle's sessions are bound to (see [`EmbeddedCluster::bound_to`]).
    bound: Option<Arc<[usize]>>,
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
        config
            .split_brain
            .check()
            .map_err(ClusterError::InvalidConfig)?;
        let wanted = 1 + (config.backup_count + config.async_backup_count) as usize;
        let state = State::new(config.members, config.partitions, wanted);
        Ok(EmbeddedCluster {
            inner: Arc::new(Inner {
                config,
                state: Mutex::new(state),
                changed: Notify::new(),
            }),
            bound: None,
        })
    }

    /// The same cluster, as a handle whose sessions are bound to `members` (1-based; a
    /// plan step's `connect`): they reach those members and whoever those exchange messages
    /// with, so a network cut separates them from the other side.
    pub fn bound_to(&self, members: &[usize]) -> Result<EmbeddedCluster, ClusterError> {
        self.member_indices(members)?;
        Ok(EmbeddedCluster {
            inner: self.inner.clone(),
            bound: Some(members.into()),
        })
    }

    pub fn config(&self) -> &EmbeddedConfig {
        &self.inner.config
    }

    fn timing(&self) -> &Timing {
        &self.inner.config.timing
    }

    /// The state, with every event due by now applied.
    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock would be a bug in this module; the state stays usable.
        let mut st = self.inner.state.lock().unwrap_or_else(|e| e.into_inner());
        let c = &self.inner.config;
        st.advance(Instant::now(), &c.timing, &c.split_brain);
        st
    }

    /// Runs a fault on the state at the current time, then wakes waiting operations.
    fn fault<R>(&self, f: impl FnOnce(&mut State, Instant, &Timing) -> R) -> R {
        let r = {
            let mut st = self.state();
            f(&mut st, Instant::now(), self.timing())
        };
        self.inner.changed.notify_waiters();
        r
    }

    fn member_index(&self, member: usize) -> Result<MemberId, ClusterError> {
        let n = self.inner.config.members;
        if member == 0 || member > n {
            return Err(ClusterError::NoSuchMember(member, n));
        }
        Ok(member - 1)
    }

    fn member_indices(&self, members: &[usize]) -> Result<Vec<MemberId>, ClusterError> {
        members.iter().map(|&m| self.member_index(m)).collect()
    }

    /// Crashes members at once (1-based numbers), like `kill -9`: their replicas vanish before
    /// anything is migrated. Returns the number of map entries lost. The survivors then
    /// restore backups and rebalance by migration (see [`EmbeddedCluster::wait_safe`]).
    pub fn crash(&self, members: &[usize]) -> Result<usize, ClusterError> {
        let ids = self.member_indices(members)?;
        self.fault(|st, now, timing| {
            for &id in &ids {
                if st.status[id] == Status::Down {
                    return Err(ClusterError::NotRunning(id + 1));
                }
            }
            Ok(st.crash(&ids, now, timing))
        })
    }

    /// Stops a member gracefully: its partitions migrate to the others first, nothing is lost
    /// while another member of its side runs.
    pub fn leave(&self, member: usize) -> Result<(), ClusterError> {
        let id = self.member_index(member)?;
        self.fault(|st, now, timing| {
            match st.status[id] {
                Status::Down => return Err(ClusterError::NotRunning(member)),
                Status::Paused => return Err(ClusterError::Paused(member)),
                Status::Running => {}
            }
            st.leave(id, now, timing);
            Ok(())
        })
    }

    /// Starts a stopped member again; partitions migrate onto it.
    pub fn start(&self, member: usize) -> Result<(), ClusterError> {
        let id = self.member_index(member)?;
        let partitions = self.inner.config.partitions;
        self.fault(|st, now, timing| {
            if st.status[id] != Status::Down {
                return Err(ClusterError::AlreadyRunning(member));
            }
            st.start(id, now, timing, partitions);
            Ok(())
        })
    }

    /// Cuts the network: messages from `from` do not reach `to` for each `(from, to)` link
    /// (1-based), replacing any earlier cut; an empty list heals.
    pub fn cut(&self, links: &[(usize, usize)]) -> Result<(), ClusterError> {
        let links = links
            .iter()
            .map(|&(a, b)| Ok((self.member_index(a)?, self.member_index(b)?)))
            .collect::<Result<Vec<_>, ClusterError>>()?;
        self.fault(|st, now, timing| {
            st.blocked = links.into_iter().collect();
            st.reconcile(now, timing);
        });
        Ok(())
    }

    /// Freezes members (1-based): operations they own wait until they resume (or time out),
    /// and after the failure-detection delay the others carry on without them.
    pub fn pause(&self, members: &[usize]) -> Result<(), ClusterError> {
        let ids = self.member_indices(members)?;
        self.fault(|st, now, timing| {
            for &id in &ids {
                match st.status[id] {
                    Status::Down => return Err(ClusterError::NotRunning(id + 1)),
                    Status::Paused => return Err(ClusterError::Paused(id + 1)),
                    Status::Running => {}
                }
            }
            for &id in &ids {
                st.status[id] = Status::Paused;
            }
            st.reconcile(now, timing);
            Ok(())
        })
    }

    /// Lets paused members go on: they rejoin their side at once if it has not declared them
    /// gone yet, else they merge into it like a healed side.
    pub fn resume(&self, members: &[usize]) -> Result<(), ClusterError> {
        let ids = self.member_indices(members)?;
        self.fault(|st, now, timing| {
            for &id in &ids {
                if st.status[id] != Status::Paused {
                    return Err(ClusterError::NotPaused(id + 1));
                }
            }
            for &id in &ids {
                st.status[id] = Status::Running;
            }
            st.reconcile(now, timing);
            Ok(())
        })
    }

    /// Binds a client (a session owner) to members (1-based): it reaches those and the
    /// members they exchange messages with. An empty list unbinds it (every member).
    pub fn bind(&self, owner: OwnerId, members: &[usize]) -> Result<(), ClusterError> {
        let ids = self.member_indices(members)?;
        let binding = (!ids.is_empty()).then_some(ids);
        self.state().clients.insert(owner, binding);
        Ok(())
    }

    /// A session bound to `members` (see [`EmbeddedCluster::bind`]); an unknown member is
    /// an error.
    /// A session of no binding: it reaches the largest side.
    fn unbound_session(&self, owner: OwnerId) -> EmbeddedSession {
        let c = &self.inner.config;
        self.state().clients.entry(owner).or_insert(None);
        EmbeddedSession {
            cluster: self.clone(),
            owner,
            network: Network::new(c.seed, owner, c.max_network_yields),
        }
    }

    pub fn bound_session(
        &self,
        owner: OwnerId,
        members: &[usize],
    ) -> Result<EmbeddedSession, ClusterError> {
        let session = self.unbound_session(owner);
        self.bind(owner, members)?;
        Ok(session)
    }

    /// Why the cluster is not safe now (members out of reach not yet declared gone, sides not
    /// merged, migrations pending), if it is not.
    pub fn unsafe_reason(&self) -> Option<String> {
        self.state().unsafe_reason()
    }

    /// Waits until the cluster is safe, up to `timeout`; else why it is not.
    pub async fn wait_safe(&self, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        loop {
            let next = {
                let st = self.state();
                let Some(why) = st.unsafe_reason() else {
                    return Ok(());
                };
                if Instant::now() >= deadline {
                    return Err(why);
                }
                st.next_event_time(self.timing())
            };
            let poll = Instant::now() + Duration::from_millis(10);
            tokio::time::sleep_until(next.unwrap_or(poll).min(deadline)).await;
        }
    }

    /// The members each side lists (1-based, sorted), one list per side: one list without
    /// faults, one per side during a split.
    pub fn member_lists(&self) -> Vec<Vec<usize>> {
        self.state()
            .sides
            .iter()
            .map(|s| s.view.iter().map(|m| m + 1).collect())
            .collect()
    }

    /// Entries of `map` each member owns and holds as backup, on the side it is in.
    pub fn distribution(&self, map: &str) -> Vec<MemberEntries> {
        let st = self.state();
        let n = st.status.len();
        let mut rows: Vec<MemberEntries> = (0..n)
            .map(|m| MemberEntries {
                member: m + 1,
                running: st.is_up(m),
                owned_partitions: 0,
                owned_entries: 0,
                backup_entries: 0,
            })
            .collect();
        for side in &st.sides {
            for pid in 0..side.table.partition_count() {
                let entries = side.partitions[pid as usize].entry_count(map);
                for (r, &m) in side.table.replicas(pid).iter().enumerate() {
                    if !side.members.contains(&m) {
                        continue;
                    }
                    if r == 0 {
                        rows[m].owned_partitions += 1;
                        rows[m].owned_entries += entries;
                    } else {
                        rows[m].backup_entries += entries;
                    }
                }
            }
        }
        rows
    }

    /// Entries of `map` that a simultaneous crash of `members` (1-based) would lose now.
    pub fn predicted_loss(&self, map: &str, members: &[usize]) -> Result<usize, ClusterError> {
        let ids = self.member_indices(members)?;
        Ok(self.state().predicted_loss(map, &ids))
    }

    fn partition_of(&self, key: &Data) -> u32 {
        key.partition_id(self.inner.config.partitions)
    }

    fn name_partition(&self, name: &str) -> u32 {
        Data::from_value(&Value::String(name.to_owned())).partition_id(self.inner.config.partitions)
    }

    fn protection(&self, structure: Structure<'_>) -> Option<SplitBrainProtection> {
        let sb = &self.inner.config.split_brain;
        match structure {
            Structure::Map(name) => sb.map(name).protection,
            Structure::Queue(name) => sb.queue(name).protection,
        }
    }
}

/// The structure an operation works on (for its split-brain settings).
#[derive(Debug, Clone, Copy)]
enum Structure<'a> {
    Map(&'a str),
    Queue(&'a str),
}

impl std::fmt::Display for Structure<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Structure::Map(n) => write!(f, "map `{n}`"),
            Structure::Queue(n) => write!(f, "queue `{n}`"),
        }
    }
}

impl Backend for EmbeddedCluster {
    type Session = EmbeddedSession;

    fn session(&self, owner: OwnerId) -> EmbeddedSession {
        match self.bound.clone() {
            Some(members) => self.session_on(owner, &members),
            None => self.unbound_session(owner),
        }
    }

    fn session_on(&self, owner: OwnerId, members: &[usize]) -> EmbeddedSession {
        match self.bound_session(owner, members) {
            Ok(session) => session,
            Err(e) => {
                // Plans check `connect` against the cluster's size before running.
                tracing::warn!(owner, ?members, "session left unbound: {e}");
                self.unbound_session(owner)
            }
        }
    }

    fn info(&self) -> BackendInfo {
        let c = &self.inner.config;
        let running = self
            .state()
            .status
            .iter()
            .filter(|s| **s != Status::Down)
            .count();
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
async fn wait(notify: Arc<Notify>, deadline: Option<Instant>) -> bool {
    match deadline {
        None => {
            notify.notified().await;
            true
        }
        Some(d) => tokio::time::timeout_at(d, notify.notified()).await.is_ok(),
    }
}

/// Where an operation lands: one partition, or the client's whole side.
#[derive(Debug, Clone, Copy)]
enum Target {
    Partition(u32),
    Side,
}

impl EmbeddedSession {
    /// Runs `f` on the state and the index of the side that serves the operation, once it
    /// can be served: while the owner is out of reach or paused the operation waits (for a
    /// change of the cluster) up to the operation timeout. A side smaller than the
    /// structure's split-brain protection refuses it. A write whose owner cannot reach a sync
    /// backup (a cut not yet detected) returns after the backup-ack timeout.
    async fn serve<R>(
        &self,
        structure: Structure<'_>,
        access: Access,
        target: Target,
        f: impl FnOnce(&mut State, usize) -> R,
    ) -> OpResult<R> {
        let inner = &self.cluster.inner;
        let timing = &inner.config.timing;
        let mut deadline = None;
        let (result, missed_backup) = loop {
            let notified = inner.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let wake_at = {
                let mut st = self.cluster.state();
                let route = match target {
                    Target::Partition(pid) => st.route(self.owner, pid),
                    Target::Side => st.route_side(self.owner),
                };
                match route {
                    Route::Fail(e) => return Err(e),
                    Route::Ready(side) => {
                        if let Some(p) = self.cluster.protection(structure) {
                            let size = st.sides[side].view.len();
                            if p.on.guards(access) && size < p.min_cluster_size {
                                return Err(OpError::Other(format!(
                                    "split-brain protection of {structure}: minimum cluster \
                                     size {}, this side has {size} member{}",
                                    p.min_cluster_size,
                                    if size == 1 { "" } else { "s" }
                                )));
                            }
                        }
                        let missed_backup = match (access, target) {
                            (Access::Write, Target::Partition(pid)) => {
                                let s = &st.sides[side];
                                let sync = 1 + inner.config.backup_count as usize;
                                s.table
                                    .replicas(pid)
                                    .iter()
                                    .take(sync)
                                    .any(|m| !s.members.contains(m))
                            }
                            _ => false,
                        };
                        break (f(&mut st, side), missed_backup);
                    }
                    Route::Wait(why) => {
                        let now = Instant::now();
                        let d = *deadline.get_or_insert(now + timing.operation_timeout);
                        if now >= d {
                            return Err(why);
                        }
                        st.next_event_time(timing).map_or(d, |t| t.min(d))
                    }
                }
            };
            tokio::select! {
                _ = &mut notified => {}
                _ = tokio::time::sleep_until(wake_at) => {}
            }
        };
        if missed_backup {
            // Applied on the owner; the backup across the cut never acknowledges.
            tokio::time::sleep(timing.backup_ack_timeout).await;
        }
        Ok(result)
    }

    /// Runs `f` on the entries of `map` in `key`'s partition, keeping the statistics merge
    /// policies use (hits on every access, update time when the value changed).
    async fn with_map<R>(
        &self,
        map: &str,
        key: &Data,
        access: Access,
        f: impl FnOnce(&mut HashMap<Data, Data>) -> R,
    ) -> OpResult<R> {
        let pid = self.cluster.partition_of(key);
        self.serve(
            Structure::Map(map),
            access,
            Target::Partition(pid),
            |st, side| {
                st.clock += 1;
                let stamp = st.clock;
                let data = &mut st.sides[side].partitions[pid as usize];
                let entries = match data.maps.get_mut(map) {
                    Some(entries) => entries,
                    None => data.maps.entry(map.to_owned()).or_default(),
                };
                let before = entries.get(key).cloned();
                let result = f(entries);
                let after = entries.get(key);
                let changed = after != before.as_ref();
                let present = after.is_some();
                let meta = data.meta.entry(map.to_owned()).or_default();
                if present {
                    let m = meta.entry(key.clone()).or_insert(EntryMeta::default());
                    m.hits += 1;
                    if changed {
                        m.updated = stamp;
                    }
                } else {
                    meta.remove(key);
                }
                result
            },
        )
        .await
    }

    async fn with_lock<R>(
        &self,
        map: &str,
        key: &Data,
        access: Access,
        f: impl FnOnce(&mut KeyLock) -> R,
    ) -> OpResult<R> {
        let pid = self.cluster.partition_of(key);
        self.serve(
            Structure::Map(map),
            access,
            Target::Partition(pid),
            |st, side| {
                let data = &mut st.sides[side].partitions[pid as usize];
                let locks = data.locks.entry(map.to_owned()).or_default();
                let lock = locks.entry(key.clone()).or_default();
                let result = f(lock);
                if lock.is_unused() {
                    locks.remove(key);
                }
                result
            },
        )
        .await
    }

    async fn with_queue<R>(
        &self,
        name: &str,
        access: Access,
        f: impl FnOnce(&mut BoundedQueue) -> R,
    ) -> OpResult<R> {
        let pid = self.cluster.name_partition(name);
        let capacity = self.cluster.inner.config.queue_capacity;
        self.serve(
            Structure::Queue(name),
            access,
            Target::Partition(pid),
            |st, side| {
                let data = &mut st.sides[side].partitions[pid as usize];
                let queue = data
                    .queues
                    .entry(name.to_owned())
                    .or_insert_with(|| BoundedQueue::new(capacity));
                f(queue)
            },
        )
        .await
    }

    /// Pushes `item`, waiting for room until `deadline` (none: forever; `Some(now)`: not at
    /// all). Whether it was added.
    async fn push(&self, queue: &str, item: &Value, deadline: Option<Instant>) -> OpResult<bool> {
        self.network.trip().await;
        let mut item = Data::from_value(item);
        loop {
            let not_full = match self
                .with_queue(queue, Access::Write, |q| {
                    q.try_push(item).map_err(|it| (it, q.not_full()))
                })
                .await?
            {
                Ok(()) => return Ok(true),
                Err((returned, not_full)) => {
                    item = returned;
                    not_full
                }
            };
            if deadline.is_some_and(|d| d <= Instant::now()) {
                return Ok(false);
            }
            if !wait(not_full, deadline).await {
                return Ok(false);
            }
        }
    }

    async fn pop(&self, queue: &str, deadline: Option<Instant>) -> OpResult<Option<Value>> {
        self.network.trip().await;
        loop {
            let (item, not_empty) = self
                .with_queue(queue, Access::Write, |q| (q.try_pop(), q.not_empty()))
                .await?;
            if item.is_some() {
                return decode(item);
            }
            if deadline.is_some_and(|d| d <= Instant::now()) {
                return Ok(None);
            }
            if !wait(not_empty, deadline).await {
                return Ok(None);
            }
        }
    }

    async fn acquire(&self, map: &str, key: &Value, deadline: Option<Instant>) -> OpResult<bool> {
        self.network.trip().await;
        let key = Data::from_value(key);
        loop {
            let released = self
                .with_lock(map, &key, Access::Write, |l| {
                    if l.try_acquire(self.owner) {
                        None
                    } else {
                        Some(l.released())
                    }
                })
                .await?;
            let Some(released) = released else {
                return Ok(true);
            };
            if deadline.is_some_and(|d| d <= Instant::now()) {
                return Ok(false);
            }
            if !wait(released, deadline).await {
                return Ok(false);
            }
        }
    }

    async fn map_read<R>(
        &self,
        map: &str,
        key: &Value,
        f: impl FnOnce(&mut HashMap<Data, Data>, &Data) -> R,
    ) -> OpResult<R> {
        self.network.trip().await;
        let key = Data::from_value(key);
        self.with_map(map, &key, Access::Read, |m| f(m, &key)).await
    }

    async fn map_write<R>(
        &self,
        map: &str,
        key: &Value,
        f: impl FnOnce(&mut HashMap<Data, Data>, Data) -> R,
    ) -> OpResult<R> {
        self.network.trip().await;
        let key = Data::from_value(key);
        self.with_map(map, &key.clone(), Access::Write, |m| f(m, key))
            .await
    }
}

fn deadline_after(timeout: Option<Duration>) -> Option<Instant> {
    timeout.map(|t| Instant::now() + t)
}

impl Session for EmbeddedSession {
    async fn get(&self, map: &str, key: &Value) -> OpResult<Option<Value>> {
        decode(self.map_read(map, key, |m, k| m.get(k).cloned()).await?)
    }

    async fn put(&self, map: &str, key: &Value, value: &Value) -> OpResult<Option<Value>> {
        let value = Data::from_value(value);
        decode(self.map_write(map, key, |m, k| m.insert(k, value)).await?)
    }

    async fn set(&self, map: &str, key: &Value, value: &Value) -> OpResult<()> {
        let value = Data::from_value(value);
        self.map_write(map, key, |m, k| {
            m.insert(k, value);
        })
        .await
    }

    async fn remove(&self, map: &str, key: &Value) -> OpResult<Option<Value>> {
        decode(self.map_write(map, key, |m, k| m.remove(&k)).await?)
    }

    async fn contains_key(&self, map: &str, key: &Value) -> OpResult<bool> {
        self.map_read(map, key, |m, k| m.contains_key(k)).await
    }

    async fn size(&self, map: &str) -> OpResult<u64> {
        self.network.trip().await;
        self.serve(
            Structure::Map(map),
            Access::Read,
            Target::Side,
            |st, side| {
                st.sides[side]
                    .partitions
                    .iter()
                    .map(|p| p.entry_count(map) as u64)
                    .sum()
            },
        )
        .await
    }

    async fn put_if_absent(
        &self,
        map: &str,
        key: &Value,
        value: &Value,
    ) -> OpResult<Option<Value>> {
        let value = Data::from_value(value);
        decode(
            self.map_write(map, key, |m, k| match m.get(&k) {
                Some(existing) => Some(existing.clone()),
                None => {
                    m.insert(k, value);
                    None
                }
            })
            .await?,
        )
    }

    async fn clear(&self, map: &str) -> OpResult<()> {
        self.network.trip().await;
        self.serve(
            Structure::Map(map),
            Access::Write,
            Target::Side,
            |st, side| {
                for p in &mut st.sides[side].partitions {
                    if let Some(entries) = p.maps.get_mut(map) {
                        entries.clear();
                    }
                    p.meta.remove(map);
                }
            },
        )
        .await
    }

    async fn replace(&self, map: &str, key: &Value, value: &Value) -> OpResult<Option<Value>> {
        let value = Data::from_value(value);
        decode(
            self.map_write(map, key, |m, k| {
                m.get_mut(&k).map(|slot| std::mem::replace(slot, value))
            })
            .await?,
        )
    }

    async fn replace_if_same(
        &self,
        map: &str,
        key: &Value,
        expected: &Value,
        new: &Value,
    ) -> OpResult<bool> {
        let expected = Data::from_value(expected);
        let new = Data::from_value(new);
        self.map_write(map, key, |m, k| match m.get_mut(&k) {
            Some(slot) if *slot == expected => {
                *slot = new;
                true
            }
            _ => false,
        })
        .await
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
            .with_lock(map, &key, Access::Write, |l| l.release(self.owner))
            .await?
        {
            Ok(())
        } else {
            Err(OpError::NotLockOwner)
        }
    }

    async fn is_locked(&self, map: &str, key: &Value) -> OpResult<bool> {
        self.network.trip().await;
        let key = Data::from_value(key);
        self.with_lock(map, &key, Access::Read, |l| l.is_locked())
            .await
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
        self.with_queue(queue, Access::Read, |q| q.len() as u64)
            .await
    }
}

#[cfg(test)]
mod split_tests;
#[cfg(test)]
mod tests;
