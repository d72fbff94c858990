//! Members, the network between them, and the sides (clusters) they form.
//!
//! A *side* is a set of members that believe they form one cluster: its member list (`view`),
//! its partition table and its own copy of the data. Without faults there is one side. A cut
//! (or a pause) splits a side at once into one side per group of members that still reach each
//! other; the parts keep the old member list and table (same `id`) until the failure-detection
//! delay passes: then each part drops the members it cannot reach, promotes backups, gets an
//! `id` of its own and serves alone. Until then a write reaches only the part its owner is in,
//! so backups across the cut miss it. When sides of different `id`s reach each other again,
//! after the merge delay the smaller merges into the larger by each structure's merge policy.
//!
//! Time is the tokio clock; events (detections, merges, one migration at a time) are applied
//! lazily, in time order, whenever the state is looked at ([`State::advance`]).

use std::collections::{BTreeSet, HashMap, VecDeque};

use hazelcast_client::Data;
use tokio::time::Instant;

use super::config::{MergePolicy, SplitBrainConfig, Timing};
use super::locks::KeyLock;
use super::partitions::{MemberId, PartitionTable};
use super::queues::BoundedQueue;
use crate::backend::{OpError, OwnerId};

/// Per-entry statistics merge policies compare.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EntryMeta {
    /// Reads and writes of the entry.
    pub hits: u64,
    /// When it was last changed, on the cluster's logical clock.
    pub updated: u64,
}

#[derive(Debug, Default)]
pub struct PartitionData {
    pub maps: HashMap<String, HashMap<Data, Data>>,
    pub meta: HashMap<String, HashMap<Data, EntryMeta>>,
    pub locks: HashMap<String, HashMap<Data, KeyLock>>,
    pub queues: HashMap<String, BoundedQueue>,
}

impl PartitionData {
    pub fn entry_count(&self, map: &str) -> usize {
        self.maps.get(map).map_or(0, HashMap::len)
    }

    pub fn all_entries(&self) -> usize {
        self.maps.values().map(HashMap::len).sum()
    }

    /// Drops everything, waking whoever waits on a lock or queue here.
    pub fn lose(&mut self) {
        self.wake_all();
        *self = PartitionData::default();
    }

    pub fn wake_all(&self) {
        for lock in self.locks.values().flat_map(HashMap::values) {
            lock.wake_all();
        }
        for queue in self.queues.values() {
            queue.wake_all();
        }
    }

    /// A copy for another side of a split (waiters stay with the original).
    pub fn fork(&self) -> PartitionData {
        PartitionData {
            maps: self.maps.clone(),
            meta: self.meta.clone(),
            locks: self
                .locks
                .iter()
                .map(|(n, l)| {
                    let held = l
                        .iter()
                        .filter(|(_, k)| k.is_locked())
                        .map(|(key, k)| (key.clone(), k.fork()))
                        .collect();
                    (n.clone(), held)
                })
                .collect(),
            queues: self
                .queues
                .iter()
                .map(|(n, q)| (n.clone(), q.fork()))
                .collect(),
        }
    }

    /// Merges `source` (the smaller side's copy) into this one, by each structure's policy.
    /// The source's locks are lost.
    fn merge_from(&mut self, mut source: PartitionData, config: &SplitBrainConfig) {
        for (name, entries) in source.maps.drain() {
            let policy = config.map(&name).merge_policy;
            let mut source_meta = source.meta.remove(&name).unwrap_or_default();
            let target = self.maps.entry(name.clone()).or_default();
            let target_meta = self.meta.entry(name).or_default();
            for (key, value) in entries {
                let incoming = source_meta.remove(&key).unwrap_or_default();
                let existing = target
                    .contains_key(&key)
                    .then(|| target_meta.get(&key).copied().unwrap_or_default());
                let take = match (policy, existing) {
                    (MergePolicy::Discard, _) => false,
                    (_, None) => true,
                    (MergePolicy::PassThrough, Some(_)) => true,
                    (MergePolicy::PutIfAbsent, Some(_)) => false,
                    (MergePolicy::HigherHits, Some(e)) => incoming.hits >= e.hits,
                    (MergePolicy::LatestUpdate, Some(e)) => incoming.updated >= e.updated,
                };
                if take {
                    target.insert(key.clone(), value);
                    target_meta.insert(key, incoming);
                }
            }
        }
        for (name, queue) in source.queues.drain() {
            let policy = config.queue(&name).merge_policy;
            match self.queues.get_mut(&name) {
                None => {
                    if policy != MergePolicy::Discard {
                        self.queues.insert(name, queue.fork());
                    }
                }
                Some(target) => {
                    let take = match policy {
                        MergePolicy::PassThrough => true,
                        // An empty queue counts as absent.
                        MergePolicy::PutIfAbsent => target.is_empty(),
                        _ => false,
                    };
                    if take {
                        target.replace_items(queue.items().clone());
                    }
                }
            }
            queue.wake_all();
        }
        source.lose();
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Running,
    Paused,
    Down,
}

#[derive(Debug)]
pub struct Side {
    /// Parts of one undetected split share it; a detection or a new cluster gets a new one.
    pub id: u64,
    /// Running (or paused) members that are in this side, sorted.
    pub members: Vec<MemberId>,
    /// The member list it believes in: `members` and, until detection, the members it lost
    /// contact with.
    pub view: Vec<MemberId>,
    pub table: PartitionTable,
    /// The table migrations lead to, and the partitions still to migrate, in order.
    target: Option<PartitionTable>,
    pending: VecDeque<u32>,
    next_migration: Option<Instant>,
    /// Since when members of `view` are out of reach.
    separated_since: Option<Instant>,
    /// Since when it reaches a side of another cluster.
    merge_since: Option<Instant>,
    /// Every member paused: nothing happens on this side.
    pub frozen: bool,
    pub partitions: Vec<PartitionData>,
}

impl Side {
    fn new(id: u64, members: Vec<MemberId>, table: PartitionTable) -> Side {
        let partitions = (0..table.partition_count())
            .map(|_| PartitionData::default())
            .collect();
        Side {
            id,
            view: members.clone(),
            members,
            table,
            target: None,
            pending: VecDeque::new(),
            next_migration: None,
            separated_since: None,
            merge_since: None,
            frozen: false,
            partitions,
        }
    }

    /// Plans the migrations from the current table to a balanced one over `view`.
    fn plan_migrations(&mut self, at: Instant, timing: &Timing) {
        let target = self.table.rebalanced(&self.view);
        self.pending = self.table.migrations_to(&target).into();
        if self.pending.is_empty() {
            self.target = None;
            self.next_migration = None;
        } else {
            self.target = Some(target);
            self.next_migration = self.next_migration.or(Some(at + timing.migration_delay));
        }
    }

    fn migrate_one(&mut self, at: Instant, timing: &Timing) {
        if let (Some(p), Some(target)) = (self.pending.pop_front(), &self.target) {
            self.table.set_replicas(p, target.replicas(p).to_vec());
        }
        if self.pending.is_empty() {
            self.target = None;
            self.next_migration = None;
        } else {
            self.next_migration = Some(at + timing.migration_delay);
        }
    }

    pub fn wake_all(&self) {
        for p in &self.partitions {
            p.wake_all();
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Event {
    Detect(usize),
    Merge(usize),
    Migrate(usize),
}

/// Where an operation goes.
pub enum Route {
    /// The side whose copy serves it.
    Ready(usize),
    /// Nobody can serve it yet (owner out of reach, paused, no member reachable): wait for a
    /// change or the operation timeout. The reason becomes the error on timeout.
    Wait(OpError),
    Fail(OpError),
}

#[derive(Debug)]
pub struct State {
    pub status: Vec<Status>,
    /// Directed links that are down, `(from, to)`.
    pub blocked: BTreeSet<(MemberId, MemberId)>,
    pub sides: Vec<Side>,
    /// Members each client (session owner) is bound to; `None`: every member.
    pub clients: HashMap<OwnerId, Option<Vec<MemberId>>>,
    /// The logical clock of entry updates.
    pub clock: u64,
    next_id: u64,
    wanted: usize,
}

impl State {
    pub fn new(members: usize, partitions: u32, wanted: usize) -> State {
        let all: Vec<MemberId> = (0..members).collect();
        let table = PartitionTable::balanced(partitions, wanted, &all);
        State {
            status: vec![Status::Running; members],
            blocked: BTreeSet::new(),
            sides: vec![Side::new(0, all, table)],
            clients: HashMap::new(),
            clock: 0,
            next_id: 1,
            wanted,
        }
    }

    fn fresh_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id - 1
    }

    pub fn is_up(&self, m: MemberId) -> bool {
        self.status[m] != Status::Down
    }

    /// Messages go both ways between `a` and `b`.
    fn linked(&self, a: MemberId, b: MemberId) -> bool {
        a == b || !(self.blocked.contains(&(a, b)) || self.blocked.contains(&(b, a)))
    }

    /// Groups of members up that reach each other (both ways, transitively); a paused member
    /// is a group of its own.
    fn components(&self) -> Vec<usize> {
        let n = self.status.len();
        let mut comp: Vec<usize> = (0..n).collect();
        fn root(comp: &mut [usize], mut x: usize) -> usize {
            while comp[x] != x {
                comp[x] = comp[comp[x]];
                x = comp[x];
            }
            x
        }
        for a in 0..n {
            for b in a + 1..n {
                let both = [a, b].iter().all(|&m| self.status[m] == Status::Running);
                if both && self.linked(a, b) {
                    let (ra, rb) = (root(&mut comp, a), root(&mut comp, b));
                    comp[ra.max(rb)] = ra.min(rb);
                }
            }
        }
        (0..n).map(|m| root(&mut comp, m)).collect()
    }

    /// Whether `client` reaches member `m`: it sits beside the members it is bound to, and
    /// reaches those and whoever they exchange messages with.
    pub fn reaches(&self, client: OwnerId, m: MemberId) -> bool {
        if !self.is_up(m) {
            return false;
        }
        match self.clients.get(&client).and_then(Option::as_ref) {
            None => true,
            Some(bound) => bound.iter().any(|&b| self.linked(b, m)),
        }
    }

    /// The side a client talks to: of the sides it reaches, the one with most reachable
    /// members, live sides before frozen ones, ties to the lowest member.
    pub fn client_side(&self, client: OwnerId) -> Option<usize> {
        self.sides
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                let reached = s
                    .members
                    .iter()
                    .filter(|&&m| self.reaches(client, m))
                    .count();
                (reached > 0).then(|| (i, !s.frozen, reached, std::cmp::Reverse(s.members[0])))
            })
            .max_by_key(|&(_, live, reached, low)| (live, reached, low))
            .map(|(i, ..)| i)
    }

    pub fn side_of(&self, m: MemberId) -> Option<usize> {
        self.sides.iter().position(|s| s.members.contains(&m))
    }

    fn no_member_running(&self) -> Option<Route> {
        (!self.status.iter().any(|s| *s != Status::Down))
            .then(|| Route::Fail(OpError::Unavailable("no cluster member is running".into())))
    }

    /// Where a client's operation on partition `pid` goes.
    pub fn route(&self, client: OwnerId, pid: u32) -> Route {
        if let Some(r) = self.no_member_running() {
            return r;
        }
        let Some(s) = self.client_side(client) else {
            return Route::Wait(OpError::Unavailable(
                "no cluster member is reachable from this client".into(),
            ));
        };
        let Some(owner) = self.sides[s].table.owner(pid) else {
            return Route::Fail(OpError::Unavailable(format!(
                "partition {pid} has no owner"
            )));
        };
        let Some(t) = self.side_of(owner) else {
            return Route::Wait(OpError::Timeout);
        };
        if !self.reaches(client, owner) || self.sides[t].id != self.sides[s].id {
            return Route::Wait(OpError::Timeout);
        }
        if self.status[owner] == Status::Paused {
            return Route::Wait(OpError::Timeout);
        }
        Route::Ready(t)
    }

    /// Where a client's whole-structure operation (size, clear) goes: its side.
    pub fn route_side(&self, client: OwnerId) -> Route {
        if let Some(r) = self.no_member_running() {
            return r;
        }
        match self.client_side(client) {
            None => Route::Wait(OpError::Unavailable(
                "no cluster member is reachable from this client".into(),
            )),
            Some(s) if self.sides[s].frozen => Route::Wait(OpError::Timeout),
            Some(s) => Route::Ready(s),
        }
    }

    // --- Time ---------------------------------------------------------------------------

    fn next_event(&self, timing: &Timing) -> Option<(Instant, Event)> {
        let mut best: Option<(Instant, u8, Event)> = None;
        let mut consider = |t: Instant, rank: u8, e: Event| {
            if best.is_none_or(|(bt, br, _)| (t, rank) < (bt, br)) {
                best = Some((t, rank, e));
            }
        };
        for (i, s) in self.sides.iter().enumerate() {
            if s.frozen {
                continue;
            }
            if let Some(t) = s.separated_since {
                consider(t + timing.failure_detection, 0, Event::Detect(i));
            }
            if let Some(t) = s.merge_since {
                consider(t + timing.merge_delay, 1, Event::Merge(i));
            }
            if let Some(t) = s.next_migration {
                consider(t, 2, Event::Migrate(i));
            }
        }
        best.map(|(t, _, e)| (t, e))
    }

    /// When the next event is due, if any.
    pub fn next_event_time(&self, timing: &Timing) -> Option<Instant> {
        self.next_event(timing).map(|(t, _)| t)
    }

    /// Applies every event due by `now`, in time order.
    pub fn advance(&mut self, now: Instant, timing: &Timing, config: &SplitBrainConfig) {
        while let Some((t, e)) = self.next_event(timing) {
            if t > now {
                break;
            }
            match e {
                Event::Detect(i) => self.detect(i, t, timing),
                Event::Merge(i) => self.merge_component(i, t, timing, config),
                Event::Migrate(i) => self.sides[i].migrate_one(t, timing),
            }
        }
    }

    /// Why the cluster is not safe now, if it is not: members out of reach not yet declared
    /// gone, sides not yet merged, migrations under way.
    pub fn unsafe_reason(&self) -> Option<String> {
        let name = |ms: &[MemberId]| {
            let v: Vec<String> = ms.iter().map(|m| (m + 1).to_string()).collect();
            format!("[{}]", v.join(", "))
        };
        for s in self.sides.iter().filter(|s| !s.frozen) {
            if s.separated_since.is_some() {
                let lost: Vec<MemberId> = s
                    .view
                    .iter()
                    .copied()
                    .filter(|m| !s.members.contains(m))
                    .collect();
                return Some(format!(
                    "members {} have not yet declared {} gone",
                    name(&s.members),
                    name(&lost)
                ));
            }
            if s.merge_since.is_some() {
                return Some(format!("side {} has not merged yet", name(&s.members)));
            }
            if !s.pending.is_empty() {
                return Some(format!(
                    "{} partition migrations pending on {}",
                    s.pending.len(),
                    name(&s.members)
                ));
            }
        }
        None
    }

    // --- Membership changes ---------------------------------------------------------------

    /// Side `i` declares the members it cannot reach gone: backups are promoted, partitions
    /// with no replica left start empty, locks of clients that reach none of its members are
    /// released, and migrations rebalance what is left.
    fn detect(&mut self, i: usize, at: Instant, timing: &Timing) {
        let id = self.fresh_id();
        let clients: Vec<(OwnerId, bool)> = self
            .clients
            .keys()
            .map(|&c| (c, self.sides[i].members.iter().any(|&m| self.reaches(c, m))))
            .collect();
        let side = &mut self.sides[i];
        let gone: Vec<MemberId> = side
            .view
            .iter()
            .copied()
            .filter(|m| !side.members.contains(m))
            .collect();
        side.view = side.members.clone();
        side.id = id;
        side.separated_since = None;
        for p in side.table.remove_members(&gone, &side.members) {
            side.partitions[p as usize].lose();
        }
        let unreachable = |o: OwnerId| clients.iter().any(|&(c, r)| c == o && !r);
        for data in &mut side.partitions {
            for lock in data.locks.values_mut().flat_map(HashMap::values_mut) {
                if lock.holder().is_some_and(unreachable) {
                    lock.force_release();
                }
            }
        }
        side.plan_migrations(at, timing);
        side.wake_all();
    }

    /// The sides that reach side `i`'s members merge: the smaller ones into the largest
    /// (most members; ties to the one with the lowest member).
    fn merge_component(
        &mut self,
        i: usize,
        at: Instant,
        timing: &Timing,
        config: &SplitBrainConfig,
    ) {
        let comp = self.components();
        let c = comp[self.sides[i].members[0]];
        let mut group: Vec<usize> = (0..self.sides.len())
            .filter(|&j| comp[self.sides[j].members[0]] == c)
            .collect();
        group.sort_by_key(|&j| {
            (
                std::cmp::Reverse(self.sides[j].members.len()),
                self.sides[j].members[0],
            )
        });
        let winner_first = self.sides[group[0]].members[0];
        for &l in &group[1..] {
            if self.sides[l].separated_since.is_some()
                || self.sides[l].view != self.sides[l].members
            {
                self.detect(l, at, timing);
            }
        }
        let mut losers: Vec<usize> = group[1..].to_vec();
        losers.sort_unstable_by(|a, b| b.cmp(a));
        let mut taken: Vec<Side> = losers.into_iter().map(|l| self.sides.remove(l)).collect();
        // Smaller sides merge first, as their turn comes in the original order.
        taken.reverse();
        let w = self
            .side_of(winner_first)
            .expect("the winner side is still there");
        let winner = &mut self.sides[w];
        for loser in taken {
            loser.wake_all();
            for (p, data) in loser.partitions.into_iter().enumerate() {
                winner.partitions[p].merge_from(data, config);
            }
            winner.members.extend(loser.members);
        }
        winner.members.sort_unstable();
        winner.view = winner.members.clone();
        winner.merge_since = None;
        winner.separated_since = None;
        winner.plan_migrations(at, timing);
        winner.wake_all();
    }

    /// Brings the sides in line with who reaches whom, after any change of the network or of
    /// a member's status: sides split along the groups of members that reach each other, parts
    /// of one undetected split that reach each other again rejoin, and sides of different
    /// clusters that reach each other start waiting for their merge.
    pub fn reconcile(&mut self, now: Instant, timing: &Timing) {
        let comp = self.components();
        // Split.
        let mut split = Vec::new();
        for mut side in std::mem::take(&mut self.sides) {
            let mut groups: Vec<(usize, Vec<MemberId>)> = Vec::new();
            for &m in &side.members {
                match groups.iter_mut().find(|(c, _)| *c == comp[m]) {
                    Some((_, g)) => g.push(m),
                    None => groups.push((comp[m], vec![m])),
                }
            }
            if groups.len() <= 1 {
                split.push(side);
                continue;
            }
            for (_, g) in &groups[1..] {
                let part = Side {
                    id: side.id,
                    members: g.clone(),
                    view: side.view.clone(),
                    table: side.table.clone(),
                    target: side.target.clone(),
                    pending: side.pending.clone(),
                    next_migration: side.next_migration,
                    separated_since: side.separated_since,
                    merge_since: None,
                    frozen: side.frozen,
                    partitions: side.partitions.iter().map(PartitionData::fork).collect(),
                };
                split.push(part);
            }
            side.members = groups.swap_remove(0).1;
            split.push(side);
        }
        // Rejoin parts of one cluster that reach each other again.
        let mut joined: Vec<Side> = Vec::new();
        for side in split {
            let c = comp[side.members[0]];
            match joined
                .iter_mut()
                .find(|j| j.id == side.id && comp[j.members[0]] == c)
            {
                None => joined.push(side),
                Some(j) => rejoin(j, side),
            }
        }
        for side in &mut joined {
            side.members.sort_unstable();
            let frozen = side
                .members
                .iter()
                .all(|&m| self.status[m] == Status::Paused);
            if side.frozen && !frozen {
                // Its clock starts again now.
                side.separated_since = side.separated_since.map(|_| now);
                side.next_migration = side.next_migration.map(|_| now + timing.migration_delay);
            }
            side.frozen = frozen;
            if side.view == side.members {
                side.separated_since = None;
            } else if side.separated_since.is_none() {
                side.separated_since = Some(now);
            }
        }
        for i in 0..joined.len() {
            let c = comp[joined[i].members[0]];
            let others = joined
                .iter()
                .enumerate()
                .any(|(j, s)| j != i && comp[s.members[0]] == c);
            let side = &mut joined[i];
            side.merge_since = if others {
                side.merge_since.or(Some(now))
            } else {
                None
            };
        }
        joined.sort_by_key(|s| s.members[0]);
        self.sides = joined;
    }

    /// Members crash at once: they leave every side and every member list; partitions whose
    /// every replica was on them are lost. Returns the map entries lost on the sides they were
    /// in.
    pub fn crash(&mut self, ids: &[MemberId], now: Instant, timing: &Timing) -> usize {
        for &id in ids {
            self.status[id] = Status::Down;
        }
        let mut lost_entries = 0;
        for side in &mut self.sides {
            let here = side.members.iter().any(|m| ids.contains(m));
            side.members.retain(|m| !ids.contains(m));
            if !side.view.iter().any(|m| ids.contains(m)) {
                continue;
            }
            side.view.retain(|m| !ids.contains(m));
            let live = if side.members.is_empty() {
                side.view.clone()
            } else {
                side.members.clone()
            };
            for p in side.table.remove_members(ids, &live) {
                let data = &mut side.partitions[p as usize];
                if here {
                    lost_entries += data.all_entries();
                }
                data.lose();
            }
            side.plan_migrations(now, timing);
        }
        for side in self.sides.iter().filter(|s| s.members.is_empty()) {
            side.wake_all();
        }
        self.sides.retain(|s| !s.members.is_empty());
        self.reconcile(now, timing);
        lost_entries
    }

    /// Entries of `map` a crash of `ids` would lose now, counted as [`State::crash`] counts.
    pub fn predicted_loss(&self, map: &str, ids: &[MemberId]) -> usize {
        self.sides
            .iter()
            .filter(|s| s.members.iter().any(|m| ids.contains(m)))
            .map(|s| {
                s.table
                    .lost_if_crashed(ids)
                    .into_iter()
                    .map(|p| s.partitions[p as usize].entry_count(map))
                    .sum::<usize>()
            })
            .sum()
    }

    /// A member leaves gracefully: its replicas are handed over first (nothing is lost while
    /// another member of its side runs), then the rest rebalance.
    pub fn leave(&mut self, id: MemberId, now: Instant, timing: &Timing) {
        self.status[id] = Status::Down;
        for side in &mut self.sides {
            let here = side.members.contains(&id);
            side.members.retain(|&m| m != id);
            if !side.view.contains(&id) {
                continue;
            }
            side.view.retain(|&m| m != id);
            if here && side.members.is_empty() {
                // The last member takes the data with it.
                side.wake_all();
                continue;
            }
            let live = if side.members.is_empty() {
                side.view.clone()
            } else {
                side.members.clone()
            };
            // Partitions only it held move with their data: nothing is lost.
            side.table.remove_members(&[id], &live);
            side.table.fill(&live);
            side.plan_migrations(now, timing);
        }
        self.sides.retain(|s| !s.members.is_empty());
        self.reconcile(now, timing);
    }

    /// A stopped member starts: it joins the largest live side it reaches (a cluster of its
    /// own if none), and partitions migrate onto it.
    pub fn start(&mut self, id: MemberId, now: Instant, timing: &Timing, partitions: u32) {
        self.status[id] = Status::Running;
        let comp = self.components();
        let join = self
            .sides
            .iter()
            .enumerate()
            .filter(|(_, s)| !s.frozen && comp[s.members[0]] == comp[id])
            .max_by_key(|(_, s)| (s.members.len(), std::cmp::Reverse(s.members[0])))
            .map(|(i, _)| i);
        match join {
            Some(i) => {
                let side = &mut self.sides[i];
                side.members.push(id);
                side.members.sort_unstable();
                side.view.push(id);
                side.view.sort_unstable();
                side.plan_migrations(now, timing);
            }
            None => {
                let sid = self.fresh_id();
                let table = PartitionTable::balanced(partitions, self.wanted, &[id]);
                self.sides.push(Side::new(sid, vec![id], table));
            }
        }
        self.reconcile(now, timing);
    }
}

/// Puts a part of an undetected split back into its sibling: for each partition the copy of
/// the side its owner is in wins (the owner's writes are the truth; backups resynchronise).
fn rejoin(into: &mut Side, other: Side) {
    let other_live = !other.frozen && into.frozen;
    if other_live {
        into.table = other.table.clone();
        into.target = other.target.clone();
        into.pending = other.pending.clone();
        into.next_migration = other.next_migration;
    }
    for (p, data) in other.partitions.into_iter().enumerate() {
        let owner = into.table.owner(p as u32);
        if owner.is_some_and(|o| other.members.contains(&o)) {
            into.partitions[p].wake_all();
            into.partitions[p] = data;
        } else {
            data.wake_all();
        }
    }
    into.members.extend(other.members);
    into.separated_since = match (into.separated_since, other.separated_since) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
}
