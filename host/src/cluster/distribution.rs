//! How a map's entries are spread over members, and what a fault loses.

use hazelcast_client::{Data, Value};

/// One member's share of a map.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MemberDistribution {
    /// 1-based.
    pub member: usize,
    pub address: Option<String>,
    pub running: bool,
    pub owned_partitions: usize,
    pub owned_entries: u64,
    pub backup_entries: u64,
}

/// A map's entries per member.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Distribution {
    pub map: String,
    pub members: Vec<MemberDistribution>,
}

impl Distribution {
    /// Entries in the map (each counted once, by its owner).
    pub fn total_owned(&self) -> u64 {
        self.members.iter().map(|m| m.owned_entries).sum()
    }

    pub fn total_backup(&self) -> u64 {
        self.members.iter().map(|m| m.backup_entries).sum()
    }

    /// One line: `m1 340/330 · m2 ...` (owned/backup entries of running members).
    pub fn summary(&self) -> String {
        self.members
            .iter()
            .map(|m| {
                if m.running {
                    format!("m{} {}/{}", m.member, m.owned_entries, m.backup_entries)
                } else {
                    format!("m{} down", m.member)
                }
            })
            .collect::<Vec<_>>()
            .join(" · ")
    }
}

/// Keys among `keys` whose partition is in `partitions` (with `partition_count` partitions,
/// placed by Hazelcast's serialization and hashing as members place them).
pub fn keys_in_partitions(keys: &[Value], partitions: &[u32], partition_count: u32) -> usize {
    let mut doomed = vec![false; partition_count as usize];
    for &p in partitions {
        if let Some(d) = doomed.get_mut(p as usize) {
            *d = true;
        }
    }
    keys.iter()
        .filter(|k| doomed[Data::from_value(k).partition_id(partition_count) as usize])
        .count()
}

/// The Integer keys `0..n`, as the `populate` scenario writes them.
pub fn integer_keys(n: usize) -> Vec<Value> {
    (0..n as i32).map(Value::Int).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_fall_in_their_partitions() {
        let keys = integer_keys(1000);
        let all: Vec<u32> = (0..271).collect();
        assert_eq!(keys_in_partitions(&keys, &all, 271), 1000);
        assert_eq!(keys_in_partitions(&keys, &[], 271), 0);
        let p = Data::from_value(&Value::Int(7)).partition_id(271);
        assert!(keys_in_partitions(&keys, &[p], 271) >= 1);
    }
}
