//! `Map`: a handle on one IMap.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::OnceCell;

use super::{data, decoded, millis, value_of};
use crate::codec::MemberInfo;
use crate::error::ClientError;
use crate::handle::ClientHandle;
use crate::invocation::{Traced, Wait};
use crate::protocol::{map as codec, Operation};
use crate::serialization::Value;

/// Thread id used by a map handle's key operations unless set with
/// [`Map::with_thread_id`].
pub const DEFAULT_THREAD_ID: i64 = 1;

/// A handle on the distributed map `name`. Cheap to clone.
///
/// Keys and values are anything that converts into a [`Value`]: `map.set(1, "one")` stores
/// the Java `Integer` 1 and the `String` "one". [`Map::typed`] (or
/// [`Client::map_of`](crate::Client::map_of)) gives the map with fixed Rust key and value
/// types.
///
/// Lock ownership is (client UUID, thread id). [`Map::lock`], [`Map::try_lock`] and
/// [`Map::unlock`] take the thread id explicitly; the other key operations use the
/// handle's thread id, which matters for keys locked by someone else: a write by another
/// owner waits until the lock is released. To write a key you hold locked, use a handle
/// whose thread id is the lock's (`map.with_thread_id(id)`). [`Map::lock_handle`] does
/// both, with guards that unlock.
#[derive(Clone, Debug)]
pub struct Map {
    client: Arc<ClientHandle>,
    name: Arc<str>,
    thread_id: i64,
    created: Arc<OnceCell<()>>,
}

impl Map {
    pub(crate) fn new(client: Arc<ClientHandle>, name: &str) -> Map {
        let created = client.proxy_cell(codec::SERVICE_NAME, name);
        Map {
            client,
            name: name.into(),
            thread_id: DEFAULT_THREAD_ID,
            created,
        }
    }

    /// The map's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The thread id of this handle's key operations ([`DEFAULT_THREAD_ID`] unless set with
    /// [`Map::with_thread_id`]).
    pub fn thread_id(&self) -> i64 {
        self.thread_id
    }

    /// The same map, with key operations made as thread `thread_id`.
    pub fn with_thread_id(&self, thread_id: i64) -> Map {
        Map {
            thread_id,
            ..self.clone()
        }
    }

    /// Runs a declared request (retryable flag and partition from its declaration) and
    /// decodes the answer.
    async fn call<O: Operation>(
        &self,
        op: &'static str,
        message: O,
        wait: Wait,
    ) -> Result<O::Response, ClientError> {
        let r = self.call_traced(op, &message, wait).await?.result?;
        decoded(&r, O::decode_response)
    }

    /// Sends a declared request, also telling whether it was re-sent after an attempt whose
    /// outcome is unknown. The outer error is the proxy's creation failing.
    async fn call_traced<O: Operation>(
        &self,
        op: &'static str,
        message: &O,
        wait: Wait,
    ) -> Result<Traced, ClientError> {
        self.client
            .ensure_proxy(&self.created, codec::SERVICE_NAME, &self.name)
            .await?;
        Ok(self
            .client
            .invoke_traced(self.client.request(op, message, wait))
            .await)
    }

    /// The value of `key`, `None` if it has none.
    pub async fn get(&self, key: impl Into<Value>) -> Result<Option<Value>, ClientError> {
        let key = &data(key);
        let get = codec::Get {
            name: &self.name,
            key,
            thread_id: self.thread_id,
        };
        value_of(self.call("map get", get, Wait::Normal).await?)
    }

    /// Puts and returns the previous value.
    pub async fn put(
        &self,
        key: impl Into<Value>,
        value: impl Into<Value>,
    ) -> Result<Option<Value>, ClientError> {
        let put = codec::Put {
            name: &self.name,
            key: &data(key),
            value: &data(value),
            thread_id: self.thread_id,
            ttl: -1,
        };
        value_of(self.call("map put", put, Wait::Normal).await?)
    }

    /// Puts without returning the previous value.
    pub async fn set(
        &self,
        key: impl Into<Value>,
        value: impl Into<Value>,
    ) -> Result<(), ClientError> {
        let set = codec::Set {
            name: &self.name,
            key: &data(key),
            value: &data(value),
            thread_id: self.thread_id,
            ttl: -1,
        };
        self.call("map set", set, Wait::Normal).await
    }

    /// Removes and returns the value.
    pub async fn remove(&self, key: impl Into<Value>) -> Result<Option<Value>, ClientError> {
        let remove = codec::Remove {
            name: &self.name,
            key: &data(key),
            thread_id: self.thread_id,
        };
        value_of(self.call("map remove", remove, Wait::Normal).await?)
    }

    /// Removes without returning the value.
    pub async fn delete(&self, key: impl Into<Value>) -> Result<(), ClientError> {
        let delete = codec::Delete {
            name: &self.name,
            key: &data(key),
            thread_id: self.thread_id,
        };
        // Whether the key had a value (members of protocol 2.7 on) is not part of the API.
        self.call("map delete", delete, Wait::Normal)
            .await
            .map(|_had_value| ())
    }

    /// Whether `key` has a value.
    pub async fn contains_key(&self, key: impl Into<Value>) -> Result<bool, ClientError> {
        let contains = codec::ContainsKey {
            name: &self.name,
            key: &data(key),
            thread_id: self.thread_id,
        };
        self.call("map contains key", contains, Wait::Normal).await
    }

    /// The number of entries.
    pub async fn size(&self) -> Result<i32, ClientError> {
        let size = codec::Size { name: &self.name };
        self.call("map size", size, Wait::Normal).await
    }

    /// Removes every entry (locks are kept).
    pub async fn clear(&self) -> Result<(), ClientError> {
        let clear = codec::Clear { name: &self.name };
        self.call("map clear", clear, Wait::Normal).await
    }

    /// Puts if the key has no value; returns the existing value otherwise.
    pub async fn put_if_absent(
        &self,
        key: impl Into<Value>,
        value: impl Into<Value>,
    ) -> Result<Option<Value>, ClientError> {
        let put = codec::PutIfAbsent {
            name: &self.name,
            key: &data(key),
            value: &data(value),
            thread_id: self.thread_id,
            ttl: -1,
        };
        value_of(self.call("map put if absent", put, Wait::Normal).await?)
    }

    /// Replaces the value if the key has one; returns the previous value.
    pub async fn replace(
        &self,
        key: impl Into<Value>,
        value: impl Into<Value>,
    ) -> Result<Option<Value>, ClientError> {
        let replace = codec::Replace {
            name: &self.name,
            key: &data(key),
            value: &data(value),
            thread_id: self.thread_id,
        };
        value_of(self.call("map replace", replace, Wait::Normal).await?)
    }

    /// Replaces the value only if it currently equals `expected` (compare-and-set).
    pub async fn replace_if_same(
        &self,
        key: impl Into<Value>,
        expected: impl Into<Value>,
        value: impl Into<Value>,
    ) -> Result<bool, ClientError> {
        let replace = codec::ReplaceIfSame {
            name: &self.name,
            key: &data(key),
            test_value: &data(expected),
            value: &data(value),
            thread_id: self.thread_id,
        };
        self.call("map replace if same", replace, Wait::Normal)
            .await
    }

    /// Locks the key for (this client, `thread_id`), waiting as long as it takes; reentrant.
    pub async fn lock(&self, key: impl Into<Value>, thread_id: i64) -> Result<(), ClientError> {
        let lock = codec::Lock {
            name: &self.name,
            key: &data(key),
            thread_id,
            ttl: -1,
            reference_id: self.client.next_reference_id(),
        };
        self.call("map lock", lock, Wait::Blocking).await
    }

    /// Tries to lock the key, waiting up to `timeout`; true if locked.
    pub async fn try_lock(
        &self,
        key: impl Into<Value>,
        thread_id: i64,
        timeout: Duration,
    ) -> Result<bool, ClientError> {
        let try_lock = codec::TryLock {
            name: &self.name,
            key: &data(key),
            thread_id,
            lease: -1,
            timeout: millis(timeout),
            reference_id: self.client.next_reference_id(),
        };
        self.call("map try lock", try_lock, Wait::BlockingFor(timeout))
            .await
    }

    /// Unlocks a lock held by (this client, `thread_id`); [`ClientError::NotLockOwner`]
    /// otherwise.
    ///
    /// An unlock is sent again when its connection closes before the answer (a member
    /// leaving, say). If the first send was applied, the member answers the second with
    /// "not the lock owner" (the lock is free, or already someone else's): that answer
    /// to a re-sent unlock means the unlock took effect, and the call succeeds.
    pub async fn unlock(&self, key: impl Into<Value>, thread_id: i64) -> Result<(), ClientError> {
        let unlock = codec::Unlock {
            name: &self.name,
            key: &data(key),
            thread_id,
            reference_id: self.client.next_reference_id(),
        };
        let traced = self
            .call_traced("map unlock", &unlock, Wait::Normal)
            .await?;
        match traced.result {
            Err(ClientError::NotLockOwner { .. }) if traced.resent_after_unknown_outcome => Ok(()),
            r => decoded(&r?, codec::Unlock::decode_response),
        }
    }

    /// Whether `key` is locked, by anyone.
    pub async fn is_locked(&self, key: impl Into<Value>) -> Result<bool, ClientError> {
        let is_locked = codec::IsLocked {
            name: &self.name,
            key: &data(key),
        };
        self.call("map is locked", is_locked, Wait::Normal).await
    }

    /// Releases the lock whoever holds it.
    pub async fn force_unlock(&self, key: impl Into<Value>) -> Result<(), ClientError> {
        let force_unlock = codec::ForceUnlock {
            name: &self.name,
            key: &data(key),
            reference_id: self.client.next_reference_id(),
        };
        self.call("map force unlock", force_unlock, Wait::Normal)
            .await
    }

    /// The partition of a key.
    pub fn partition_id(&self, key: impl Into<Value>) -> u32 {
        self.client.partition_id(&key.into())
    }

    /// The member owning the key's partition, if known.
    pub fn partition_owner(&self, key: impl Into<Value>) -> Option<MemberInfo> {
        self.client.partition_owner(self.partition_id(key))
    }

    /// Destroys the map and its data on the cluster.
    pub async fn destroy(&self) -> Result<(), ClientError> {
        self.client
            .destroy_object(codec::SERVICE_NAME, &self.name)
            .await
    }
}
