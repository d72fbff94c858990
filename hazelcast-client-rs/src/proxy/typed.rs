//! `TypedMap`: a map whose keys and values are one Rust type each.

use std::marker::PhantomData;

use super::lock::LockHandle;
use super::map::Map;
use crate::error::ClientError;
use crate::serialization::{Value, ValueType};

// Defined here rather than in `map.rs`, which knows nothing of the layers over it.
impl Map {
    /// This map with keys `K` and values `V` (see [`TypedMap`]).
    pub fn typed<K: ValueType, V: ValueType>(&self) -> TypedMap<K, V> {
        TypedMap::new(self.clone())
    }
}

/// A [`Map`] whose keys are `K` and values `V` (any of the [`ValueType`]s: `bool`, `i8`,
/// `i16`, `i32`, `i64`, `f64`, `String`, `Vec<u8>`, or [`Value`] for "anything"). Made
/// with [`Client::map_of`](crate::Client::map_of) or [`Map::typed`]; cheap to clone.
///
/// Keys and values are given as anything that converts into `K` and `V` (`&str` for a
/// `String`, an `i32` for an `i64`...), and are always stored as `K`'s and `V`'s Hazelcast
/// type: in a `TypedMap<i64, _>`, key `1` is the Java `Long` 1, never the `Integer` 1
/// (which members would take for another key).
///
/// A value of another type found in the map (written by another client, or through the
/// untyped [`Map`]) fails the call with [`ClientError::WrongType`], naming the map, the
/// key and both types; it is not converted, even when it would fit. For the calls that
/// write and answer the previous value (`put`, `remove`, `put_if_absent`, `replace`), the
/// write has happened when that error comes: only the value it answered could not be read.
///
/// ```no_run
/// # async fn demo(client: hazelcast_client::Client) -> Result<(), hazelcast_client::ClientError> {
/// let counters = client.map_of::<String, i64>("counters");
/// counters.set("visits", 0).await?;
/// let visits: Option<i64> = counters.get("visits").await?;
/// # Ok(()) }
/// ```
pub struct TypedMap<K, V> {
    map: Map,
    /// Neither owned nor borrowed: the map is `Send`, `Sync` and `Clone` whatever they are.
    types: PhantomData<fn() -> (K, V)>,
}

impl<K, V> Clone for TypedMap<K, V> {
    fn clone(&self) -> Self {
        TypedMap {
            map: self.map.clone(),
            types: PhantomData,
        }
    }
}

impl<K: ValueType, V: ValueType> std::fmt::Debug for TypedMap<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "TypedMap<{}, {}>({:?})",
            K::TYPE_NAME,
            V::TYPE_NAME,
            self.map.name()
        )
    }
}

impl<K: ValueType, V: ValueType> TypedMap<K, V> {
    fn new(map: Map) -> TypedMap<K, V> {
        TypedMap {
            map,
            types: PhantomData,
        }
    }

    /// The map's name.
    pub fn name(&self) -> &str {
        self.map.name()
    }

    /// The untyped map under this one (same name, same thread id).
    pub fn untyped(&self) -> &Map {
        &self.map
    }

    /// The same map, with key operations made as thread `thread_id` (see [`Map`] on lock
    /// ownership).
    pub fn with_thread_id(&self, thread_id: i64) -> TypedMap<K, V> {
        TypedMap::new(self.map.with_thread_id(thread_id))
    }

    /// Lock operations on this map's keys as thread `thread_id` of this client, with guards
    /// (see [`Map::lock_handle`]).
    pub fn lock_handle(&self, thread_id: i64) -> LockHandle {
        self.map.lock_handle(thread_id)
    }

    /// `value`, stored under `key`, as a `V`.
    fn typed(&self, key: &Value, value: Option<Value>) -> Result<Option<V>, ClientError> {
        value
            .map(|v| {
                V::from_value(v).map_err(|found| ClientError::WrongType {
                    map: self.map.name().to_owned(),
                    key: key.to_string(),
                    expected: V::TYPE_NAME,
                    found: found.type_name(),
                })
            })
            .transpose()
    }

    /// The value of `key`, `None` if it has none.
    pub async fn get(&self, key: impl Into<K>) -> Result<Option<V>, ClientError> {
        let key = stored::<K>(key);
        let value = self.map.get(&key).await?;
        self.typed(&key, value)
    }

    /// Puts and returns the previous value.
    pub async fn put(
        &self,
        key: impl Into<K>,
        value: impl Into<V>,
    ) -> Result<Option<V>, ClientError> {
        let key = stored::<K>(key);
        let previous = self.map.put(&key, stored::<V>(value)).await?;
        self.typed(&key, previous)
    }

    /// Puts without returning the previous value.
    pub async fn set(&self, key: impl Into<K>, value: impl Into<V>) -> Result<(), ClientError> {
        self.map.set(stored::<K>(key), stored::<V>(value)).await
    }

    /// Removes and returns the value.
    pub async fn remove(&self, key: impl Into<K>) -> Result<Option<V>, ClientError> {
        let key = stored::<K>(key);
        let removed = self.map.remove(&key).await?;
        self.typed(&key, removed)
    }

    /// Removes without returning the value.
    pub async fn delete(&self, key: impl Into<K>) -> Result<(), ClientError> {
        self.map.delete(stored::<K>(key)).await
    }

    /// Whether `key` has a value.
    pub async fn contains_key(&self, key: impl Into<K>) -> Result<bool, ClientError> {
        self.map.contains_key(stored::<K>(key)).await
    }

    /// Puts if the key has no value; returns the existing value otherwise.
    pub async fn put_if_absent(
        &self,
        key: impl Into<K>,
        value: impl Into<V>,
    ) -> Result<Option<V>, ClientError> {
        let key = stored::<K>(key);
        let existing = self.map.put_if_absent(&key, stored::<V>(value)).await?;
        self.typed(&key, existing)
    }

    /// Replaces the value if the key has one; returns the previous value.
    pub async fn replace(
        &self,
        key: impl Into<K>,
        value: impl Into<V>,
    ) -> Result<Option<V>, ClientError> {
        let key = stored::<K>(key);
        let previous = self.map.replace(&key, stored::<V>(value)).await?;
        self.typed(&key, previous)
    }

    /// Replaces the value only if it currently equals `expected` (compare-and-set).
    pub async fn replace_if_same(
        &self,
        key: impl Into<K>,
        expected: impl Into<V>,
        value: impl Into<V>,
    ) -> Result<bool, ClientError> {
        self.map
            .replace_if_same(stored::<K>(key), stored::<V>(expected), stored::<V>(value))
            .await
    }

    /// The number of entries.
    pub async fn size(&self) -> Result<i32, ClientError> {
        self.map.size().await
    }

    /// Removes every entry (locks are kept).
    pub async fn clear(&self) -> Result<(), ClientError> {
        self.map.clear().await
    }

    /// Whether `key` is locked, by anyone.
    pub async fn is_locked(&self, key: impl Into<K>) -> Result<bool, ClientError> {
        self.map.is_locked(stored::<K>(key)).await
    }

    /// Destroys the map and its data on the cluster.
    pub async fn destroy(&self) -> Result<(), ClientError> {
        self.map.destroy().await
    }
}

/// A key or value given as anything that converts into `T`, as `T`'s Hazelcast type.
fn stored<T: ValueType>(v: impl Into<T>) -> Value {
    let v: T = v.into();
    v.into()
}
