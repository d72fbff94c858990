//! `Map`: a handle on one IMap.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::OnceCell;

use super::{decoded, millis, value_of};
use crate::client::Client;
use crate::codec::MemberInfo;
use crate::error::ClientError;
use crate::invocation::{Request, Traced, Wait};
use crate::protocol::{decode_bool, decode_i32, decode_nullable_data, decode_void, map as codec};
use crate::serialization::{Data, Value};

/// Thread id used by a map handle's key operations unless set with
/// [`Map::with_thread_id`].
pub const DEFAULT_THREAD_ID: i64 = 1;

/// A handle on the distributed map `name`. Cheap to clone.
///
/// Lock ownership is (client UUID, thread id). The lock operations take the thread id
/// explicitly; the other key operations use the handle's thread id, which matters for
/// keys locked by someone else: a write by another owner waits until the lock is released.
/// To write a key you hold locked, use a handle whose thread id is the lock's
/// (`map.with_thread_id(id)`).
#[derive(Clone, Debug)]
pub struct Map {
    client: Client,
    name: Arc<str>,
    thread_id: i64,
    created: Arc<OnceCell<()>>,
}

impl Map {
    pub(crate) fn new(client: Client, name: &str) -> Map {
        let created = client.proxy_cell(codec::SERVICE_NAME, name);
        Map {
            client,
            name: name.into(),
            thread_id: DEFAULT_THREAD_ID,
            created,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

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

    async fn call(
        &self,
        op: &'static str,
        msg: crate::codec::ClientMessage,
        key: Option<&Data>,
        retryable: bool,
        wait: Wait,
    ) -> Result<crate::codec::ClientMessage, ClientError> {
        self.call_traced(op, msg, key, retryable, wait)
            .await?
            .result
    }

    /// [`Map::call`], also telling whether the request was re-sent after an attempt whose
    /// outcome is unknown. The outer error is the proxy's creation failing.
    async fn call_traced(
        &self,
        op: &'static str,
        msg: crate::codec::ClientMessage,
        key: Option<&Data>,
        retryable: bool,
        wait: Wait,
    ) -> Result<Traced, ClientError> {
        self.client
            .ensure_proxy(&self.created, codec::SERVICE_NAME, &self.name)
            .await?;
        let partition = key.map(|k| k.partition_id(self.client.partition_count()));
        Ok(self
            .client
            .invoke_traced(Request {
                op,
                msg,
                partition,
                retryable,
                wait,
            })
            .await)
    }

    pub async fn get(&self, key: &Value) -> Result<Option<Value>, ClientError> {
        let k = Data::from_value(key);
        let msg = codec::encode_key_op(codec::GET, &self.name, &k, self.thread_id);
        let r = self
            .call("map get", msg, Some(&k), true, Wait::Normal)
            .await?;
        value_of(decoded(&r, decode_nullable_data)?)
    }

    /// Puts and returns the previous value.
    pub async fn put(&self, key: &Value, value: &Value) -> Result<Option<Value>, ClientError> {
        let k = Data::from_value(key);
        let msg = codec::encode_put_like(
            codec::PUT,
            &self.name,
            &k,
            &Data::from_value(value),
            self.thread_id,
            -1,
        );
        let r = self
            .call("map put", msg, Some(&k), false, Wait::Normal)
            .await?;
        value_of(decoded(&r, decode_nullable_data)?)
    }

    /// Puts without returning the previous value.
    pub async fn set(&self, key: &Value, value: &Value) -> Result<(), ClientError> {
        let k = Data::from_value(key);
        let msg = codec::encode_put_like(
            codec::SET,
            &self.name,
            &k,
            &Data::from_value(value),
            self.thread_id,
            -1,
        );
        let r = self
            .call("map set", msg, Some(&k), false, Wait::Normal)
            .await?;
        decoded(&r, decode_void)
    }

    /// Removes and returns the value.
    pub async fn remove(&self, key: &Value) -> Result<Option<Value>, ClientError> {
        let k = Data::from_value(key);
        let msg = codec::encode_key_op(codec::REMOVE, &self.name, &k, self.thread_id);
        let r = self
            .call("map remove", msg, Some(&k), false, Wait::Normal)
            .await?;
        value_of(decoded(&r, decode_nullable_data)?)
    }

    /// Removes without returning the value.
    pub async fn delete(&self, key: &Value) -> Result<(), ClientError> {
        let k = Data::from_value(key);
        let msg = codec::encode_key_op(codec::DELETE, &self.name, &k, self.thread_id);
        let r = self
            .call("map delete", msg, Some(&k), false, Wait::Normal)
            .await?;
        decoded(&r, decode_void)
    }

    pub async fn contains_key(&self, key: &Value) -> Result<bool, ClientError> {
        let k = Data::from_value(key);
        let msg = codec::encode_key_op(codec::CONTAINS_KEY, &self.name, &k, self.thread_id);
        let r = self
            .call("map contains key", msg, Some(&k), true, Wait::Normal)
            .await?;
        decoded(&r, decode_bool)
    }

    pub async fn size(&self) -> Result<i32, ClientError> {
        let msg = codec::encode_name_only(codec::SIZE, &self.name);
        let r = self.call("map size", msg, None, true, Wait::Normal).await?;
        decoded(&r, decode_i32)
    }

    pub async fn clear(&self) -> Result<(), ClientError> {
        let msg = codec::encode_name_only(codec::CLEAR, &self.name);
        let r = self
            .call("map clear", msg, None, false, Wait::Normal)
            .await?;
        decoded(&r, decode_void)
    }

    /// Puts if the key has no value; returns the existing value otherwise.
    pub async fn put_if_absent(
        &self,
        key: &Value,
        value: &Value,
    ) -> Result<Option<Value>, ClientError> {
        let k = Data::from_value(key);
        let msg = codec::encode_put_like(
            codec::PUT_IF_ABSENT,
            &self.name,
            &k,
            &Data::from_value(value),
            self.thread_id,
            -1,
        );
        let r = self
            .call("map put if absent", msg, Some(&k), false, Wait::Normal)
            .await?;
        value_of(decoded(&r, decode_nullable_data)?)
    }

    /// Replaces the value if the key has one; returns the previous value.
    pub async fn replace(&self, key: &Value, value: &Value) -> Result<Option<Value>, ClientError> {
        let k = Data::from_value(key);
        let msg = codec::encode_replace(&self.name, &k, &Data::from_value(value), self.thread_id);
        let r = self
            .call("map replace", msg, Some(&k), false, Wait::Normal)
            .await?;
        value_of(decoded(&r, decode_nullable_data)?)
    }

    /// Replaces the value only if it currently equals `expected` (compare-and-set).
    pub async fn replace_if_same(
        &self,
        key: &Value,
        expected: &Value,
        value: &Value,
    ) -> Result<bool, ClientError> {
        let k = Data::from_value(key);
        let msg = codec::encode_replace_if_same(
            &self.name,
            &k,
            &Data::from_value(expected),
            &Data::from_value(value),
            self.thread_id,
        );
        let r = self
            .call("map replace if same", msg, Some(&k), false, Wait::Normal)
            .await?;
        decoded(&r, decode_bool)
    }

    /// Locks the key for (this client, `thread_id`), waiting as long as it takes; reentrant.
    pub async fn lock(&self, key: &Value, thread_id: i64) -> Result<(), ClientError> {
        let k = Data::from_value(key);
        let msg = codec::encode_lock(
            &self.name,
            &k,
            thread_id,
            -1,
            self.client.next_reference_id(),
        );
        let r = self
            .call("map lock", msg, Some(&k), true, Wait::Blocking)
            .await?;
        decoded(&r, decode_void)
    }

    /// Tries to lock the key, waiting up to `timeout`; true if locked.
    pub async fn try_lock(
        &self,
        key: &Value,
        thread_id: i64,
        timeout: Duration,
    ) -> Result<bool, ClientError> {
        let k = Data::from_value(key);
        let msg = codec::encode_try_lock(
            &self.name,
            &k,
            thread_id,
            -1,
            millis(timeout),
            self.client.next_reference_id(),
        );
        let r = self
            .call(
                "map try lock",
                msg,
                Some(&k),
                true,
                Wait::BlockingFor(timeout),
            )
            .await?;
        decoded(&r, decode_bool)
    }

    /// Unlocks a lock held by (this client, `thread_id`); [`ClientError::NotLockOwner`]
    /// otherwise.
    ///
    /// An unlock is sent again when its connection closes before the answer (a member
    /// leaving, say). If the first send was applied, the member answers the second with
    /// "not the lock owner" (the lock is free, or already someone else's): that answer
    /// to a re-sent unlock means the unlock took effect, and the call succeeds.
    pub async fn unlock(&self, key: &Value, thread_id: i64) -> Result<(), ClientError> {
        let k = Data::from_value(key);
        let msg = codec::encode_unlock(&self.name, &k, thread_id, self.client.next_reference_id());
        let traced = self
            .call_traced("map unlock", msg, Some(&k), true, Wait::Normal)
            .await?;
        match traced.result {
            Err(ClientError::NotLockOwner { .. }) if traced.resent_after_unknown_outcome => Ok(()),
            r => decoded(&r?, decode_void),
        }
    }

    pub async fn is_locked(&self, key: &Value) -> Result<bool, ClientError> {
        let k = Data::from_value(key);
        let msg = codec::encode_is_locked(&self.name, &k);
        let r = self
            .call("map is locked", msg, Some(&k), true, Wait::Normal)
            .await?;
        decoded(&r, decode_bool)
    }

    /// Releases the lock whoever holds it.
    pub async fn force_unlock(&self, key: &Value) -> Result<(), ClientError> {
        let k = Data::from_value(key);
        let msg = codec::encode_force_unlock(&self.name, &k, self.client.next_reference_id());
        let r = self
            .call("map force unlock", msg, Some(&k), true, Wait::Normal)
            .await?;
        decoded(&r, decode_void)
    }

    /// The partition of a key.
    pub fn partition_id(&self, key: &Value) -> u32 {
        self.client.partition_id(key)
    }

    /// The member owning the key's partition, if known.
    pub fn partition_owner(&self, key: &Value) -> Option<MemberInfo> {
        self.client.partition_owner(self.partition_id(key))
    }

    /// Destroys the map and its data on the cluster.
    pub async fn destroy(&self) -> Result<(), ClientError> {
        self.client
            .destroy_object(codec::SERVICE_NAME, &self.name)
            .await
    }
}
