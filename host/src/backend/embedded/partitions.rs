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
    /// first surviving replica owns the partition) and missing replicas are re-created on the
    /// least loaded live members.
    pub fn remove_members(&mut self, gone: &[MemberId], live: &[MemberId]) -> Vec<u32> {
        let mut lost = Vec::new();
        for (p, replicas) in self.replicas.iter_mut().enumerate() {
            replicas.retain(|m| !gone.contains(m));
            if replicas.is_empty() {
                lost.push(p as u32);
            }
        }
        self.fill(live);
        lost
    }

    /// Re-creates missing replicas on live members, least loaded first.
    fn fill(&mut self, live: &[MemberId]) {
        let max_member = live.iter().copied().max().unwrap_or(0);
        let mut load = vec![0usize; max_member + 1];
        for replicas in &self.replicas {
            for &m in replicas {
                if m <= max_member {
                    load[m] += 1;
                }
            }
        }
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

    /// Rebalances over `live` after a member joined; data moves with its partition.
    pub fn rebalance(&mut self, live: &[MemberId]) {
        *self = PartitionTable::balanced(self.partition_count(), self.wanted, live);
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
        assert_eq!(t.owned_counts(3), vec![91, 90, 90]);
    }
}
