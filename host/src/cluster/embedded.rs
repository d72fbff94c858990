//! The cluster manager's operations on the in-process model.
//!
//! The model migrates as members do: after a kill, a stop or a start its partition table
//! migrates, one partition at a time, to equal shares, and `wait_safe` waits for that (and for
//! failure detection and merges after network faults); the distribution it reports is the one
//! the cluster has at that moment.

use std::time::Duration;

use super::{check_members, ClusterControl, ClusterError, Distribution, MemberDistribution};
use super::{MemberStatus, NetworkCut, Value};
use crate::backend::embedded::{EmbeddedCluster, EmbeddedConfig};

/// The embedded model under the cluster manager (a handle: clones of the cluster it wraps
/// see the faults).
#[derive(Debug, Clone)]
pub struct EmbeddedMembers {
    cluster: EmbeddedCluster,
}

impl EmbeddedMembers {
    pub fn new(config: EmbeddedConfig) -> Result<EmbeddedMembers, ClusterError> {
        Ok(EmbeddedMembers {
            cluster: EmbeddedCluster::new(config)?,
        })
    }

    /// Wraps an existing model (the backend a run uses).
    pub fn from_cluster(cluster: EmbeddedCluster) -> EmbeddedMembers {
        EmbeddedMembers { cluster }
    }

    /// The model, which is also the backend scenarios run on.
    pub fn cluster(&self) -> &EmbeddedCluster {
        &self.cluster
    }

    fn config(&self) -> &EmbeddedConfig {
        self.cluster.config()
    }
}

impl ClusterControl for EmbeddedMembers {
    fn kind(&self) -> &'static str {
        "embedded"
    }

    fn members(&mut self) -> Vec<MemberStatus> {
        self.cluster
            .distribution("")
            .into_iter()
            .map(|m| MemberStatus {
                member: m.member,
                address: None,
                running: m.running,
                pid: None,
            })
            .collect()
    }

    async fn kill(&mut self, members: &[usize]) -> Result<(), ClusterError> {
        check_members(members, self.config().members)?;
        self.cluster.crash(members)?;
        Ok(())
    }

    async fn stop(&mut self, member: usize) -> Result<(), ClusterError> {
        check_members(&[member], self.config().members)?;
        self.cluster.leave(member)?;
        Ok(())
    }

    async fn start(&mut self, member: usize) -> Result<(), ClusterError> {
        check_members(&[member], self.config().members)?;
        self.cluster.start(member)?;
        Ok(())
    }

    async fn cut_network(&mut self, cut: &NetworkCut) -> Result<(), ClusterError> {
        let links: Vec<(usize, usize)> = cut.links().collect();
        self.cluster.cut(&links)?;
        Ok(())
    }

    async fn pause(&mut self, members: &[usize]) -> Result<(), ClusterError> {
        check_members(members, self.config().members)?;
        self.cluster.pause(members)?;
        Ok(())
    }

    async fn resume(&mut self, members: &[usize]) -> Result<(), ClusterError> {
        check_members(members, self.config().members)?;
        self.cluster.resume(members)?;
        Ok(())
    }

    async fn wait_safe(&mut self, timeout: Duration) -> Result<(), ClusterError> {
        self.cluster
            .wait_safe(timeout)
            .await
            .map_err(|detail| ClusterError::NotSafe {
                waited: timeout,
                detail,
            })
    }

    async fn distribution(&mut self, map: &str) -> Result<Distribution, ClusterError> {
        Ok(Distribution {
            map: map.to_owned(),
            members: self
                .cluster
                .distribution(map)
                .into_iter()
                .map(|m| MemberDistribution {
                    member: m.member,
                    address: None,
                    running: m.running,
                    owned_partitions: m.owned_partitions,
                    owned_entries: m.owned_entries as u64,
                    backup_entries: m.backup_entries as u64,
                })
                .collect(),
        })
    }

    async fn predicted_loss(
        &mut self,
        map: &str,
        members: &[usize],
        _keys: &[Value],
    ) -> Result<usize, ClusterError> {
        check_members(members, self.config().members)?;
        Ok(self.cluster.predicted_loss(map, members)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::embedded::Timing;
    use crate::backend::{Backend, Session};

    fn members() -> EmbeddedMembers {
        EmbeddedMembers::new(EmbeddedConfig {
            timing: Timing {
                failure_detection: Duration::from_millis(30),
                merge_delay: Duration::from_millis(30),
                migration_delay: Duration::ZERO,
                operation_timeout: Duration::from_secs(2),
                backup_ack_timeout: Duration::from_millis(10),
            },
            ..EmbeddedConfig::default()
        })
        .unwrap()
    }

    #[tokio::test]
    async fn a_network_cut_splits_the_member_lists_until_healed_and_merged() {
        let mut c = members();
        let cut = NetworkCut::partition(&[vec![1], vec![2, 3]], 3).unwrap();
        c.cut_network(&cut).await.unwrap();
        c.wait_safe(Duration::from_secs(5)).await.unwrap();
        assert_eq!(c.cluster().member_lists(), vec![vec![1], vec![2, 3]]);
        let d = c.distribution("m").await.unwrap();
        assert_eq!(d.members.len(), 3);
        c.heal_network().await.unwrap();
        let e = c.wait_safe(Duration::ZERO).await.unwrap_err().to_string();
        assert!(e.contains("not merged"), "{e}");
        c.wait_safe(Duration::from_secs(5)).await.unwrap();
        assert_eq!(c.cluster().member_lists(), vec![vec![1, 2, 3]]);
    }

    #[tokio::test]
    async fn one_way_links_split_the_pair_and_a_ring_of_three_leaves_each_member_alone() {
        // Members need messages both ways (heartbeats and their answers): the model treats a
        // pair with one direction down as cut.
        let mut c = members();
        let one_way = NetworkCut::one_way(&[1], &[2, 3], 3).unwrap();
        c.cut_network(&one_way).await.unwrap();
        c.wait_safe(Duration::from_secs(5)).await.unwrap();
        assert_eq!(c.cluster().member_lists(), vec![vec![1], vec![2, 3]]);
        let ring = NetworkCut::majorities_ring(3).unwrap();
        c.cut_network(&ring).await.unwrap();
        c.wait_safe(Duration::from_secs(5)).await.unwrap();
        assert_eq!(c.cluster().member_lists(), vec![vec![1], vec![2], vec![3]]);
        c.heal_network().await.unwrap();
        c.wait_safe(Duration::from_secs(5)).await.unwrap();
        assert_eq!(c.cluster().member_lists(), vec![vec![1, 2, 3]]);
    }

    #[tokio::test]
    async fn pause_and_resume_name_their_members() {
        let mut c = members();
        assert!(c
            .pause(&[4])
            .await
            .unwrap_err()
            .to_string()
            .contains("no member 4"));
        c.pause(&[3]).await.unwrap();
        let s = c.cluster().session(1);
        // The others drop member 3 after detection and serve every key.
        for k in 0..50 {
            s.set("m", &Value::Int(k), &Value::Int(k)).await.unwrap();
        }
        c.wait_safe(Duration::from_secs(5)).await.unwrap();
        assert_eq!(c.cluster().member_lists(), vec![vec![1, 2], vec![1, 2, 3]]);
        c.resume(&[3]).await.unwrap();
        c.wait_safe(Duration::from_secs(5)).await.unwrap();
        assert_eq!(c.cluster().member_lists(), vec![vec![1, 2, 3]]);
        assert_eq!(s.size("m").await.unwrap(), 50);
        assert!(c
            .resume(&[3])
            .await
            .unwrap_err()
            .to_string()
            .contains("not paused"));
    }
}
