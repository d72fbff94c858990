//! Members hzlab did not start (a Docker Compose cluster, members started by hand): scenarios
//! run on them, but hzlab cannot kill, stop or start them, nor read their own statistics.
//!
//! Every fault and member-side observation fails with [`ClusterError::NotManaged`], which
//! names the cluster and says how to get one hzlab can fault (`hzlab cluster up`).

use std::time::Duration;

use super::{ClusterControl, ClusterError, Distribution, MemberStatus, Value};
use crate::backend::real::RealCluster;

/// A connected cluster hzlab does not manage.
#[derive(Debug, Clone)]
pub struct RemoteMembers {
    cluster: RealCluster,
    /// How the cluster was named on the command line (`name at addr,addr`).
    label: String,
}

impl RemoteMembers {
    pub fn new(cluster: RealCluster, label: impl Into<String>) -> RemoteMembers {
        RemoteMembers {
            cluster,
            label: label.into(),
        }
    }

    fn not_managed(&self, what: &str) -> ClusterError {
        ClusterError::NotManaged {
            cluster: self.label.clone(),
            what: what.to_owned(),
        }
    }
}

impl ClusterControl for RemoteMembers {
    fn kind(&self) -> &'static str {
        "remote"
    }

    /// The members the client sees, all running.
    fn members(&mut self) -> Vec<MemberStatus> {
        self.cluster
            .client()
            .members()
            .iter()
            .enumerate()
            .map(|(i, m)| MemberStatus {
                member: i + 1,
                address: Some(m.address.to_string()),
                running: true,
                pid: None,
            })
            .collect()
    }

    fn can_fault(&self) -> Result<(), ClusterError> {
        Err(self.not_managed("kill, stop or start members"))
    }

    async fn kill(&mut self, _members: &[usize]) -> Result<(), ClusterError> {
        Err(self.not_managed("kill members"))
    }

    async fn stop(&mut self, _member: usize) -> Result<(), ClusterError> {
        Err(self.not_managed("stop members"))
    }

    async fn start(&mut self, _member: usize) -> Result<(), ClusterError> {
        Err(self.not_managed("start members"))
    }

    async fn wait_safe(&mut self, _timeout: Duration) -> Result<(), ClusterError> {
        Err(self.not_managed("tell whether the cluster is safe"))
    }

    async fn distribution(&mut self, _map: &str) -> Result<Distribution, ClusterError> {
        Err(self.not_managed("read the members' entry counts"))
    }

    async fn predicted_loss(
        &mut self,
        _map: &str,
        _members: &[usize],
        _keys: &[Value],
    ) -> Result<usize, ClusterError> {
        Err(self.not_managed("read the replica placement"))
    }
}
