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
