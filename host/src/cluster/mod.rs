//! The cluster manager: faults and member-side observations, over both backends.
//!
//! [`ClusterControl`] is one interface over the [embedded model](crate::backend::embedded)
//! and [local Hazelcast members](LocalMembers): kill members abruptly (several at once), stop
//! them gracefully, start them again, wait until the cluster is safe, read how a map's
//! entries are spread over the members, and predict what an abrupt kill would lose. Members
//! are numbered from 1, as `hzlab cluster` names them.
//!
//! - [`local`]: real members started from the Maven jar (in this process or left running in
//!   a run directory for other shells), observed through their own statistics.
//! - [`embedded`]: the same operations on the in-process model.
//! - [`remote`]: members hzlab did not start: no faults, no member-side statistics.
//! - [`network`]: network cuts between members (partitions, one-way cuts, rings).
//! - [`split_brain`]: split-brain protection, merge policies and merge timing of real members.
//! - [`distribution`]: per-member distribution and loss computations.
//! - [`data_loss`]: the seed lab's data-loss experiment over any of them.

pub mod data_loss;
pub mod distribution;
pub mod embedded;
pub mod local;
pub mod network;
pub mod remote;
pub mod split_brain;

use std::future::Future;
use std::time::Duration;

pub use self::distribution::{Distribution, MemberDistribution};
pub use self::embedded::EmbeddedMembers;
pub use self::local::{find_run_dir, LocalMembers, LocalMembersConfig};
pub use self::network::NetworkCut;
pub use self::remote::RemoteMembers;
pub use self::split_brain::SplitBrainConfig;
pub use hazelcast_client::Value;

/// Why a cluster operation could not be done.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("no member {member}: the cluster has members 1..={members}")]
    NoSuchMember { member: usize, members: usize },
    #[error("member {0} is not running")]
    NotRunning(usize),
    #[error("member {0} is paused (SIGSTOP): `resume` it first")]
    Paused(usize),
    #[error("member {0} is already running")]
    AlreadyRunning(usize),
    #[error("member {0} named twice")]
    Duplicate(usize),
    #[error("no member named")]
    NoMembers,
    #[error("the cluster was not safe after {waited:?}: {detail}")]
    NotSafe { waited: Duration, detail: String },
    #[error("invalid cluster configuration: {0}")]
    InvalidConfig(String),
    #[error(transparent)]
    Local(#[from] hazelcast_members::LocalError),
    #[error(
        "hzlab cannot {what} of {cluster}: hzlab did not start those members (faults and \
         member statistics need a cluster from `hzlab cluster up`, or a plan run with --local)"
    )]
    NotManaged { cluster: String, what: String },
    #[error("the {backend} backend cannot {what} yet")]
    Unsupported {
        backend: &'static str,
        what: &'static str,
    },
    #[error(transparent)]
    Embedded(#[from] crate::backend::embedded::ClusterError),
}

/// A member and whether it runs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MemberStatus {
    /// 1-based.
    pub member: usize,
    /// `host:port` for real members.
    pub address: Option<String>,
    pub running: bool,
    pub pid: Option<u32>,
}

/// Faults and observations on a cluster, the same on every backend.
pub trait ClusterControl {
    /// The backend's name (`embedded`, `local`).
    fn kind(&self) -> &'static str;

    /// Every member, running or not.
    fn members(&mut self) -> Vec<MemberStatus>;

    /// Whether faults can be injected at all (members hzlab does not manage cannot be
    /// faulted): checked before a fault touches anything.
    fn can_fault(&self) -> Result<(), ClusterError> {
        Ok(())
    }

    /// Kills `members` abruptly and at the same moment (like `kill -9` on each): no goodbye,
    /// no migration first.
    fn kill(&mut self, members: &[usize]) -> impl Future<Output = Result<(), ClusterError>>;

    /// Stops a member gracefully: its partitions are handed over before it leaves.
    fn stop(&mut self, member: usize) -> impl Future<Output = Result<(), ClusterError>>;

    /// Starts a stopped or killed member again (it rejoins the cluster).
    fn start(&mut self, member: usize) -> impl Future<Output = Result<(), ClusterError>>;

    /// Cuts the network between members: `cut` replaces whatever cut was in force (an empty
    /// cut heals). Members keep running; clients keep their connections to the members of
    /// their side.
    fn cut_network(&mut self, cut: &NetworkCut) -> impl Future<Output = Result<(), ClusterError>> {
        let _ = cut;
        let backend = self.kind();
        async move {
            Err(ClusterError::Unsupported {
                backend,
                what: "cut the network between members",
            })
        }
    }

    /// Removes every network cut.
    fn heal_network(&mut self) -> impl Future<Output = Result<(), ClusterError>> {
        let members = self.members().len();
        async move {
            let cut = NetworkCut::none(members);
            self.cut_network(&cut).await
        }
    }

    /// Freezes `members` (SIGSTOP on real members: a member frozen mid-operation, as in a long
    /// GC pause); they stay in the member list until the others' failure detection drops them.
    fn pause(&mut self, members: &[usize]) -> impl Future<Output = Result<(), ClusterError>> {
        let _ = members;
        let backend = self.kind();
        async move {
            Err(ClusterError::Unsupported {
                backend,
                what: "pause members",
            })
        }
    }

    /// Lets paused `members` go on (SIGCONT on real members).
    fn resume(&mut self, members: &[usize]) -> impl Future<Output = Result<(), ClusterError>> {
        let _ = members;
        let backend = self.kind();
        async move {
            Err(ClusterError::Unsupported {
                backend,
                what: "resume members",
            })
        }
    }

    /// Waits until every running member is in the cluster, no migration is under way and no
    /// partition misses a replica it can have.
    fn wait_safe(&mut self, timeout: Duration) -> impl Future<Output = Result<(), ClusterError>>;

    /// How `map`'s entries are spread: per member, owned and backup entries and owned
    /// partitions (read from the members themselves on real clusters).
    fn distribution(
        &mut self,
        map: &str,
    ) -> impl Future<Output = Result<Distribution, ClusterError>>;

    /// The entries of `map` that killing `members` at the same moment would lose now: those
    /// whose every copy is on them. `keys` are the keys written to the map; real members
    /// place them by partition (the embedded model counts its own entries and ignores them).
    fn predicted_loss(
        &mut self,
        map: &str,
        members: &[usize],
        keys: &[Value],
    ) -> impl Future<Output = Result<usize, ClusterError>>;
}

/// Checks 1-based member numbers: known, distinct, at least one.
pub(crate) fn check_members(members: &[usize], count: usize) -> Result<(), ClusterError> {
    if members.is_empty() {
        return Err(ClusterError::NoMembers);
    }
    for (i, &m) in members.iter().enumerate() {
        if m == 0 || m > count {
            return Err(ClusterError::NoSuchMember {
                member: m,
                members: count,
            });
        }
        if members[..i].contains(&m) {
            return Err(ClusterError::Duplicate(m));
        }
    }
    Ok(())
}
