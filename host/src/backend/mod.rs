//! The clusters scenarios run against, behind one interface.
//!
//! A [`Backend`] is a cluster (the in-process [`embedded`] model, or real members); a
//! [`Session`] is one scenario instance's view of it: the owner of the locks it takes.
//! Backends know nothing of WebAssembly: the host's imports call them.

pub mod embedded;
pub mod real;

use std::future::Future;
use std::time::Duration;

pub use hazelcast_client::Value;

/// Identifies the owner of locks: one per scenario instance in a run.
pub type OwnerId = u64;

/// An expected failure of a cluster operation; the guest sees it as the WIT `error`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OpError {
    #[error("operation timed out")]
    Timeout,
    #[error("the caller does not hold the lock")]
    NotLockOwner,
    #[error("cluster unavailable: {0}")]
    Unavailable(String),
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    #[error("{0}")]
    Other(String),
}

/// The result of a cluster operation.
pub type OpResult<T> = Result<T, OpError>;

/// What describes a backend in the report.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BackendInfo {
    /// `embedded` or `real`.
    pub kind: &'static str,
    /// A one-line description for the terminal.
    pub description: String,
    /// Members at the start of the run (running ones).
    pub members: usize,
    /// Members running when the run ended (the runner fills it in).
    pub members_at_end: usize,
    pub partitions: u32,
    /// Backups per partition, where the backend knows them.
    pub backup_count: Option<u32>,
    pub async_backup_count: Option<u32>,
    pub queue_capacity: Option<u32>,
}

impl BackendInfo {
    /// `3 members`, or `3 members at the start, 2 at the end` when some left during the run.
    pub fn members_line(&self) -> String {
        let plural = |n: usize| if n == 1 { "member" } else { "members" };
        if self.members == self.members_at_end {
            format!("{} {}", self.members, plural(self.members))
        } else {
            format!(
                "{} {} at the start, {} at the end",
                self.members,
                plural(self.members),
                self.members_at_end
            )
        }
    }
}

/// A cluster that scenario instances run against.
pub trait Backend: Send + Sync + 'static {
    type Session: Session;

    /// A session for one instance; `owner` is unique within the run.
    fn session(&self, owner: OwnerId) -> Self::Session;

    /// A session for one instance bound to `members` (1-based, as a plan step's `connect`):
    /// it reaches those and the members they exchange messages with, so a network cut
    /// separates it from the members outside their side. Backends without network faults
    /// ignore the binding.
    fn session_on(&self, owner: OwnerId, members: &[usize]) -> Self::Session {
        let _ = members;
        self.session(owner)
    }

    /// What the report says about this cluster.
    fn info(&self) -> BackendInfo;

    /// Why the cluster counts as gone (no member reachable for longer than the heartbeat
    /// timeout), if it does: a run that ends so failed for want of a cluster (exit 3).
    fn gone(&self) -> Option<String> {
        None
    }
}

/// One instance's operations on the cluster. Every operation may wait (for the network, a
/// lock, room in a queue) and returns an [`OpError`] for expected failures.
pub trait Session: Send + Sync + 'static {
    fn get(&self, map: &str, key: &Value) -> impl Future<Output = OpResult<Option<Value>>> + Send;
    fn put(
        &self,
        map: &str,
        key: &Value,
        value: &Value,
    ) -> impl Future<Output = OpResult<Option<Value>>> + Send;
    fn set(
        &self,
        map: &str,
        key: &Value,
        value: &Value,
    ) -> impl Future<Output = OpResult<()>> + Send;
    fn remove(
        &self,
        map: &str,
        key: &Value,
    ) -> impl Future<Output = OpResult<Option<Value>>> + Send;
    fn contains_key(&self, map: &str, key: &Value) -> impl Future<Output = OpResult<bool>> + Send;
    fn size(&self, map: &str) -> impl Future<Output = OpResult<u64>> + Send;
    fn put_if_absent(
        &self,
        map: &str,
        key: &Value,
        value: &Value,
    ) -> impl Future<Output = OpResult<Option<Value>>> + Send;
    fn clear(&self, map: &str) -> impl Future<Output = OpResult<()>> + Send;

    fn replace(
        &self,
        map: &str,
        key: &Value,
        value: &Value,
    ) -> impl Future<Output = OpResult<Option<Value>>> + Send;
    fn replace_if_same(
        &self,
        map: &str,
        key: &Value,
        expected: &Value,
        new: &Value,
    ) -> impl Future<Output = OpResult<bool>> + Send;

    /// Locks `key`, waiting while another owner holds it; reentrant for this owner.
    fn lock(&self, map: &str, key: &Value) -> impl Future<Output = OpResult<()>> + Send;
    /// Tries to lock within `timeout`; whether this owner now holds it.
    fn try_lock(
        &self,
        map: &str,
        key: &Value,
        timeout: Duration,
    ) -> impl Future<Output = OpResult<bool>> + Send;
    fn unlock(&self, map: &str, key: &Value) -> impl Future<Output = OpResult<()>> + Send;
    fn is_locked(&self, map: &str, key: &Value) -> impl Future<Output = OpResult<bool>> + Send;

    /// Adds an item if there is room, waiting up to `timeout` (none: not at all).
    fn offer(
        &self,
        queue: &str,
        item: &Value,
        timeout: Option<Duration>,
    ) -> impl Future<Output = OpResult<bool>> + Send;
    /// Adds an item, waiting as long as the queue is full.
    fn queue_put(&self, queue: &str, item: &Value) -> impl Future<Output = OpResult<()>> + Send;
    /// Removes the head, waiting up to `timeout` (none: not at all).
    fn poll(
        &self,
        queue: &str,
        timeout: Option<Duration>,
    ) -> impl Future<Output = OpResult<Option<Value>>> + Send;
    /// Removes the head, waiting as long as the queue is empty.
    fn take(&self, queue: &str) -> impl Future<Output = OpResult<Value>> + Send;
    fn queue_size(&self, queue: &str) -> impl Future<Output = OpResult<u64>> + Send;
}
