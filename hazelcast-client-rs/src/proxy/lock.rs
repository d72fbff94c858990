//! Lock handles and guards over a map's key locks.

use std::time::Duration;

use super::map::Map;
use crate::error::ClientError;
use crate::serialization::Value;

// Defined here rather than in `map.rs`, which knows nothing of the layers over it.
impl Map {
    /// Lock operations as thread `thread_id` of this client, whose `lock` returns a guard
    /// that unlocks the key (see [`LockHandle`] and [`LockGuard`]).
    pub fn lock_handle(&self, thread_id: i64) -> LockHandle {
        LockHandle::new(self.with_thread_id(thread_id))
    }
}

/// The lock operations of one lock owner on a map: this client and thread id
/// [`thread_id`](LockHandle::thread_id). Made with [`Map::lock_handle`]; cheap to clone.
///
/// Hazelcast locks belong to (client UUID, thread id) and are reentrant for their owner:
/// concurrent tasks of one client that must exclude each other need their own thread ids.
/// The owner's writes to a key it holds locked go through [`LockHandle::map`] (or
/// [`LockGuard::map`]), a handle making its calls as the same thread id; other owners'
/// writes to the key wait until it is unlocked.
///
/// ```no_run
/// # async fn demo(client: hazelcast_client::Client) -> Result<(), hazelcast_client::ClientError> {
/// let locks = client.map("accounts").lock_handle(7);
/// let guard = locks.lock("alice").await?;
/// let balance = guard.map().get("alice").await?;
/// guard.map().set("alice", 100).await?;
/// guard.unlock().await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct LockHandle {
    map: Map,
}

impl LockHandle {
    fn new(map: Map) -> LockHandle {
        LockHandle { map }
    }

    /// The thread id owning the locks taken through this handle.
    pub fn thread_id(&self) -> i64 {
        self.map.thread_id()
    }

    /// The map, making its calls as this handle's thread id: the handle to write keys this
    /// owner holds locked.
    pub fn map(&self) -> &Map {
        &self.map
    }

    /// Locks `key`, waiting as long as another owner holds it; the guard unlocks it.
    pub async fn lock(&self, key: impl Into<Value>) -> Result<LockGuard, ClientError> {
        let key = key.into();
        self.map.lock(&key, self.thread_id()).await?;
        Ok(LockGuard::new(self.map.clone(), key))
    }

    /// Tries to lock `key`, waiting up to `timeout`: a guard if locked, `None` if another
    /// owner held it all that time.
    pub async fn try_lock(
        &self,
        key: impl Into<Value>,
        timeout: Duration,
    ) -> Result<Option<LockGuard>, ClientError> {
        let key = key.into();
        Ok(self
            .map
            .try_lock(&key, self.thread_id(), timeout)
            .await?
            .then(|| LockGuard::new(self.map.clone(), key)))
    }

    /// Unlocks `key`, held by this owner without a guard (or with one forgotten with
    /// [`LockGuard::keep_locked`]).
    pub async fn unlock(&self, key: impl Into<Value>) -> Result<(), ClientError> {
        self.map.unlock(key, self.thread_id()).await
    }
}

/// A key lock held by a [`LockHandle`]'s owner, released by [`LockGuard::unlock`] or on drop.
///
/// Unlocking is a call to a member, and Rust has no asynchronous drop, so:
///
/// - [`LockGuard::unlock`]`.await` is the way to release a lock and learn whether that
///   worked. The unlock runs as a task of the tokio runtime the lock was taken on, which the
///   call awaits: cancelling the call (a `select!`, a timeout) does not cancel the unlock.
/// - Dropping a guard without calling `unlock` (an early `return`, `?`, a panic) spawns
///   that same unlock on the runtime and returns at once. Its outcome is not reported, and
///   until it has run the key is still locked: other owners wait a little longer. If the
///   runtime has shut down by then (or the lock was not taken on a tokio runtime), nothing
///   is sent: the key stays locked until the client's connections close, and members
///   release a gone client's locks some seconds later (about 10 s with 5.7.0 members).
/// - [`LockGuard::keep_locked`] gives up the guard and keeps the lock.
///
/// The guard holds a handle on the map, so the client stays connected while it lives.
#[must_use = "dropping the guard unlocks the key right away"]
#[derive(Debug)]
pub struct LockGuard {
    map: Map,
    /// `None` once unlocked or kept.
    key: Option<Value>,
    /// The runtime the lock was taken on (`None` outside tokio: then nothing can unlock on
    /// drop).
    runtime: Option<tokio::runtime::Handle>,
}

impl LockGuard {
    fn new(map: Map, key: Value) -> LockGuard {
        LockGuard {
            map,
            key: Some(key),
            runtime: tokio::runtime::Handle::try_current().ok(),
        }
    }

    /// The locked key.
    pub fn key(&self) -> &Value {
        self.key.as_ref().expect("a live guard has its key")
    }

    /// The lock owner's thread id.
    pub fn thread_id(&self) -> i64 {
        self.map.thread_id()
    }

    /// The map, making its calls as the lock owner: the handle to write the locked key.
    pub fn map(&self) -> &Map {
        &self.map
    }

    /// Unlocks the key. The unlock completes even if this call is cancelled (see
    /// [`LockGuard`]).
    pub async fn unlock(mut self) -> Result<(), ClientError> {
        let Some(key) = self.key.take() else {
            return Ok(());
        };
        let unlock = unlock_task(self.map.clone(), key, self.thread_id());
        let Some(runtime) = &self.runtime else {
            return unlock.await;
        };
        match runtime.spawn(unlock).await {
            Ok(result) => result,
            // The runtime shut down before the unlock ran: the client is gone with it.
            Err(e) if e.is_cancelled() => Err(ClientError::ShutDown),
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }

    /// Gives up the guard and keeps the key locked, returning it: unlock it later with
    /// [`LockHandle::unlock`] or [`Map::unlock`].
    pub fn keep_locked(mut self) -> Value {
        self.key.take().expect("a live guard has its key")
    }
}

/// The unlock, owning what it needs to run as a task.
async fn unlock_task(map: Map, key: Value, thread_id: i64) -> Result<(), ClientError> {
    map.unlock(key, thread_id).await
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        if let (Some(key), Some(runtime)) = (self.key.take(), &self.runtime) {
            // Not awaited: see the type's documentation.
            drop(runtime.spawn(unlock_task(self.map.clone(), key, self.thread_id())));
        }
    }
}
