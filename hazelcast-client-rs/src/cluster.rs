//! What the client knows of the cluster: the member list and the partition table, as the
//! cluster view listener reports them, and which member owns which partition.

use crate::codec::{MemberInfo, Uuid};

/// The member list and partition owners.
#[derive(Debug, Clone, Default)]
pub(crate) struct ClusterView {
    pub members: Vec<MemberInfo>,
    pub member_version: i32,
    pub owners: Vec<Option<Uuid>>,
    pub partition_version: i32,
    pub partition_count: u32,
}

impl ClusterView {
    pub fn set_partition_count(&mut self, n: u32) {
        if self.partition_count != n {
            self.partition_count = n;
            self.owners = vec![None; n as usize];
        }
    }

    pub fn apply_members(&mut self, version: i32, members: Vec<MemberInfo>) {
        self.member_version = version;
        self.members = members;
    }

    /// Applies a partition table: (owner, partitions owned) pairs.
    pub fn apply_partitions(&mut self, version: i32, table: &[(Uuid, Vec<i32>)]) {
        let max = table
            .iter()
            .flat_map(|(_, ps)| ps.iter().copied())
            .max()
            .unwrap_or(-1);
        if max >= 0 && (max as u32) >= self.partition_count {
            self.set_partition_count(max as u32 + 1);
        }
        let mut owners = vec![None; self.partition_count as usize];
        for (uuid, ps) in table {
            for &p in ps {
                if let Some(slot) = owners.get_mut(p as usize) {
                    *slot = Some(*uuid);
                }
            }
        }
        self.owners = owners;
        self.partition_version = version;
    }

    pub fn owner(&self, partition: u32) -> Option<Uuid> {
        self.owners.get(partition as usize).copied().flatten()
    }

    pub fn member(&self, uuid: Uuid) -> Option<&MemberInfo> {
        self.members.iter().find(|m| m.uuid == uuid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_table_maps_owners() {
        let a = Uuid { msb: 1, lsb: 1 };
        let b = Uuid { msb: 2, lsb: 2 };
        let mut v = ClusterView::default();
        v.set_partition_count(4);
        v.apply_partitions(3, &[(a, vec![0, 2]), (b, vec![1])]);
        assert_eq!(v.owner(0), Some(a));
        assert_eq!(v.owner(1), Some(b));
        assert_eq!(v.owner(2), Some(a));
        assert_eq!(v.owner(3), None);
        assert_eq!(v.owner(99), None);
        assert_eq!(v.partition_version, 3);
    }
}
