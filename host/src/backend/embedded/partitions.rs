//! The partition table: which members hold each partition's replicas, and how it changes when
//! members crash, leave or join.
//!
//! Replica 0 is the owner, replicas 1..=backups the sync backups, then the async backups.
//! Replicas of one partition are always on distinct members.

/// Index of a member in the cluster (stable for the cluster's life).
pub type MemberId = usize;

#[derive(Debug, Clone)]
pub struct PartitionTable {
    /// Replicas per partition, owner first.
    replicas: Vec<Vec<MemberId>>,
    /// Replicas wanted per partition (1 + sync backups + async backups).
    wanted: usize,
}

impl PartitionTable {
    /// A balanced table over `live` members: partition p's replica r is on
    /// `live[(p + r) % n]`, so owners and backups are spread evenly and every pair of members
    /// shares about the same number of partitions.
    pub fn balanced(partitions: u32, wanted: usize, live: &[MemberId]) -> PartitionTable {
        let n = live.len();
        let replicas = (0..partitions as usize)
            .map(|p| (0..wanted.min(n)).map(|r| live[(p + r) % n]).collect())
            .collect();
        PartitionTable { replicas, wanted }
    }

    pub fn partition_count(&self) -> u32 {
        self.replicas.len() as u32
    }

    /// The owner of a partition, if any replica survives.
    pub fn owner(&self, partition: u32) -> Option<MemberId> {
        self.replicas[partition as usize].first().copied()
    }

    pub fn replicas(&self, partition: u32) -> &[MemberId] {
        &self.replicas[partition as usize]
    }

    /// Removes `gone` members from every partition at once (a crash: nothing is migrated
    /// first). Returns the partitions that lost every replica. Survivors are promoted (the
    /// first surviving replica owns the partition); a partition that lost every replica is
    /// assigned at once, empty, to the least loaded of `live` (as members reassign lost
    /// partitions). Missing backups are not re-created here: that is migration work (see
    /// [`PartitionTable::rebalanced`]).
    pub fn remove_members(&mut self, gone: &[MemberId], live: &[MemberId]) -> Vec<u32> {
        let mut lost = Vec::new();
        for (p, replicas) in self.replicas.iter_mut().enumerate() {
            replicas.retain(|m| !gone.contains(m));
            if replicas.is_empty() {
                lost.push(p as u32);
            }
        }
        if !live.is_empty() {
            let mut load = self.loads(live);
            for &p in &lost {
                let &next = live
                    .iter()
                    .min_by_key(|&&m| (load[m], m))
                    .expect("live is not empty");
                load[next] += 1;
                self.replicas[p as usize].push(next);
            }
        }
        lost
    }

    /// Replicas held per member (indexed by member id, at least up to the largest of `live`).
    fn loads(&self, live: &[MemberId]) -> Vec<usize> {
        let max_member = self
            .replicas
            .iter()
            .flatten()
            .chain(live)
            .copied()
            .max()
            .unwrap_or(0);
        let mut load = vec![0usize; max_member + 1];
        for &m in self.replicas.iter().flatten() {
            load[m] += 1;
        }
        load
    }

    /// Re-creates missing replicas on live members, least loaded first.
    pub fn fill(&mut self, live: &[MemberId]) {
        let mut load = self.loads(live);
        let wanted = self.wanted.min(live.len());
        for replicas in &mut self.replicas {
            while replicas.len() < wanted {
                let Some(&next) = live
                    .iter()
                    .filter(|m| !replicas.contains(m))
                    .min_by_key(|&&m| (load[m], m))
                else {
                    break;
                };
                load[next] += 1;
                replicas.push(next);
            }
        }
    }

    /// The table the members migrate to from this one when `live` are the members: every
    /// replica on a live member, missing replicas re-created, and for each replica index
    /// (owner, first backup, ...) the live members' counts within one of each other, moving
    /// as few replicas as it can (a replica stays where it is unless its member has too
    /// many; an owner and a backup swap places before data is copied to a third member).
    pub fn rebalanced(&self, live: &[MemberId]) -> PartitionTable {
        let mut t = self.clone();
        if live.is_empty() {
            return t;
        }
        for replicas in &mut t.replicas {
            replicas.retain(|m| live.contains(m));
        }
        t.fill(live);
        let wanted = t.wanted.min(live.len());
        let max_member = live.iter().copied().max().unwrap_or(0);
        for r in 0..wanted {
            let mut count = vec![0usize; max_member + 1];
            for replicas in &t.replicas {
                if let Some(&m) = replicas.get(r) {
                    count[m] += 1;
                }
            }
            // Each step moves one replica from the most to the least loaded member: the
            // spread shrinks, so this ends.
            loop {
                let hi = *live
                    .iter()
                    .max_by_key(|&&m| (count[m], usize::MAX - m))
                    .unwrap();
                let lo = *live.iter().min_by_key(|&&m| (count[m], m)).unwrap();
                if count[hi] <= count[lo] + 1 {
                    break;
                }
                let replace = t
                    .replicas
                    .iter()
                    .position(|rep| rep.get(r) == Some(&hi) && !rep.contains(&lo));
                let swap = || {
                    t.replicas
                        .iter()
                        .position(|rep| rep.get(r) == Some(&hi) && rep[r + 1..].contains(&lo))
                };
                if let Some(p) = replace {
                    t.replicas[p][r] = lo;
                } else if let Some(p) = swap() {
                    let rep = &mut t.replicas[p];
                    let j = rep.iter().position(|&m| m == lo).unwrap();
                    rep.swap(r, j);
                } else {
                    break;
                }
                count[hi] -= 1;
                count[lo] += 1;
            }
        }
        t
    }

    /// Sets one partition's replicas (a migration completing).
    pub fn set_replicas(&mut self, partition: u32, replicas: Vec<MemberId>) {
        self.replicas[partition as usize] = replicas;
    }

    /// Partitions whose replicas differ from `other`'s, those missing replicas first (they
    /// are restored before the balancing moves, as members do).
    pub fn migrations_to(&self, other: &PartitionTable) -> Vec<u32> {
        let mut diff: Vec<u32> = (0..self.partition_count())
            .filter(|&p| self.replicas(p) != other.replicas(p))
            .collect();
        diff.sort_by_key(|&p| (self.replicas(p).len() >= other.replicas(p).len(), p));
        diff
    }

    /// Rebalances over `live` after a member joined; data moves with its partition.
    pub fn rebalance(&mut self, live: &[MemberId]) {
        *self = self.rebalanced(live);
    }

    /// Partitions owned by each member, indexed by member id (`members` entries).
    pub fn owned_counts(&self, members: usize) -> Vec<usize> {
        let mut counts = vec![0; members];
        for replicas in &self.replicas {
            if let Some(&owner) = replicas.first() {
                counts[owner] += 1;
            }
        }
        counts
    }

    /// Partitions whose every replica is on one of `members`: what a simultaneous crash of
    /// exactly those members would lose.
    pub fn lost_if_crashed(&self, members: &[MemberId]) -> Vec<u32> {
        self.replicas
            .iter()
            .enumerate()
            .filter(|(_, r)| !r.is_empty() && r.iter().all(|m| members.contains(m)))
            .map(|(p, _)| p as u32)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balanced_table_spreads_owners_and_backups_evenly() {
        let t = PartitionTable::balanced(271, 2, &[0, 1, 2]);
        assert_eq!(t.owned_counts(3), vec![91, 90, 90]);
        for p in 0..271 {
            let r = t.replicas(p);
            assert_eq!(r.len(), 2);
            assert_ne!(r[0], r[1], "partition {p} has both replicas on one member");
        }
        // Each pair of members shares about a third of the partitions.
        for pair in [[0, 1], [1, 2], [0, 2]] {
            let shared = t.lost_if_crashed(&pair).len();
            assert!((89..=92).contains(&shared), "pair {pair:?} shares {shared}");
        }
    }

    #[test]
    fn crash_of_one_member_loses_nothing_and_restores_backups() {
        let mut t = PartitionTable::balanced(271, 2, &[0, 1, 2]);
        let lost = t.remove_members(&[1], &[0, 2]);
        assert!(lost.is_empty());
        assert!(
            (0..271).any(|p| t.replicas(p).len() == 1),
            "backups are restored by migration, not at the crash"
        );
        let t = t.rebalanced(&[0, 2]);
        for p in 0..271 {
            let mut r = t.replicas(p).to_vec();
            r.sort();
            assert_eq!(r, vec![0, 2], "partition {p}");
        }
    }

    #[test]
    fn simultaneous_crash_of_two_loses_the_partitions_they_shared() {
        let mut t = PartitionTable::balanced(271, 2, &[0, 1, 2]);
        let predicted = t.lost_if_crashed(&[0, 1]);
        let lost = t.remove_members(&[0, 1], &[2]);
        assert_eq!(lost, predicted);
        assert_eq!(lost.len(), 91);
        assert!((0..271).all(|p| t.owner(p) == Some(2)));
    }

    #[test]
    fn third_replica_survives_two_crashes() {
        let mut t = PartitionTable::balanced(271, 3, &[0, 1, 2]);
        assert!(t.remove_members(&[0, 1], &[2]).is_empty());
    }

    #[test]
    fn rebalance_after_join_uses_the_new_member() {
        let mut t = PartitionTable::balanced(271, 2, &[0, 1, 2]);
        t.remove_members(&[2], &[0, 1]);
        assert_eq!(t.owned_counts(3)[2], 0);
        t.rebalance(&[0, 1, 2]);
        let owned = t.owned_counts(3);
        assert!(owned.iter().all(|&o| (90..=91).contains(&o)), "{owned:?}");
    }

    /// Per replica index, the most and fewest replicas a live member holds.
    fn spread(t: &PartitionTable, r: usize, live: &[MemberId]) -> (usize, usize) {
        let counts: Vec<usize> = live
            .iter()
            .map(|&m| {
                (0..t.partition_count())
                    .filter(|&p| t.replicas(p).get(r) == Some(&m))
                    .count()
            })
            .collect();
        (*counts.iter().max().unwrap(), *counts.iter().min().unwrap())
    }

    #[test]
    fn after_a_crash_the_survivors_own_equal_shares_within_one_partition() {
        for (members, wanted, gone) in [
            (3, 2, vec![1]),
            (5, 2, vec![0, 3]),
            (4, 3, vec![2]),
            (3, 3, vec![0]),
        ] {
            let all: Vec<MemberId> = (0..members).collect();
            let live: Vec<MemberId> = all.iter().copied().filter(|m| !gone.contains(m)).collect();
            let mut t = PartitionTable::balanced(271, wanted, &all);
            t.remove_members(&gone, &live);
            let target = t.rebalanced(&live);
            for r in 0..wanted.min(live.len()) {
                let (hi, lo) = spread(&target, r, &live);
                assert!(hi - lo <= 1, "{members} members, replica {r}: {hi} vs {lo}");
            }
            for p in 0..271 {
                let rep = target.replicas(p);
                assert_eq!(rep.len(), wanted.min(live.len()), "partition {p}");
                let mut sorted = rep.to_vec();
                sorted.sort();
                sorted.dedup();
                assert_eq!(sorted.len(), rep.len(), "partition {p} has a member twice");
                assert!(rep.iter().all(|m| live.contains(m)));
            }
            // Nothing to do once balanced.
            assert!(target.migrations_to(&target.rebalanced(&live)).is_empty());
        }
    }

    #[test]
    fn rebalancing_moves_only_what_it_must() {
        let t = PartitionTable::balanced(271, 2, &[0, 1, 2]);
        assert!(t.migrations_to(&t.rebalanced(&[0, 1, 2])).is_empty());
        let mut after = t.clone();
        after.remove_members(&[1], &[0, 2]);
        let target = after.rebalanced(&[0, 2]);
        let moves = after.migrations_to(&target);
        // Partitions member 2 (id 1) held need a new replica; the rest at most a swap.
        let touched = (0..271).filter(|&p| t.replicas(p).contains(&1)).count();
        assert!(moves.len() < touched + 271 / 6, "{} moves", moves.len());
        // Restoring missing replicas comes first.
        let first_full = moves.iter().position(|&p| after.replicas(p).len() == 2);
        if let Some(i) = first_full {
            assert!(moves[i..].iter().all(|&p| after.replicas(p).len() == 2));
        }
    }
}
