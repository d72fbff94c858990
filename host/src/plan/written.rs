//! What a case's scenarios wrote: the maps, and their keys, a fault's predicted and observed
//! loss are computed for (unless the step names its `map`).
//!
//! [`Tracked`] wraps the case's backend: every session records the keys its writes may have
//! created (a write that ended ok or with an unknown outcome), forgets the keys it removed,
//! and forgets a map's keys when the map is cleared. Real members place keys by partition, so
//! a kill's prediction on them needs the keys themselves; the embedded model counts its own
//! entries.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hazelcast_client::Data;

use crate::backend::{Backend, BackendInfo, OpError, OpResult, OwnerId, Session, Value};

/// Most distinct keys remembered per map; past it the map's keys are no longer known (a
/// kill's prediction on real members is then omitted for it).
pub const MAX_TRACKED_KEYS: usize = 1_000_000;

#[derive(Debug, Default)]
struct MapKeys {
    name: String,
    keys: HashSet<Data>,
    /// More keys than [`MAX_TRACKED_KEYS`] were written.
    overflowed: bool,
}

/// The maps written so far, in the order of their first write, with their keys.
#[derive(Debug, Default)]
pub struct Written {
    maps: Mutex<Vec<MapKeys>>,
}

impl Written {
    fn with_map<R>(&self, map: &str, f: impl FnOnce(&mut MapKeys) -> R) -> R {
        let mut maps = self.maps.lock().unwrap_or_else(|e| e.into_inner());
        let i = match maps.iter().position(|m| m.name == map) {
            Some(i) => i,
            None => {
                maps.push(MapKeys {
                    name: map.to_owned(),
                    ..MapKeys::default()
                });
                maps.len() - 1
            }
        };
        f(&mut maps[i])
    }

    fn wrote(&self, map: &str, key: &Value) {
        self.with_map(map, |m| {
            if m.overflowed {
                return;
            }
            if m.keys.len() >= MAX_TRACKED_KEYS {
                m.overflowed = true;
                m.keys = HashSet::new();
                return;
            }
            m.keys.insert(Data::from_value(key));
        })
    }

    fn removed(&self, map: &str, key: &Value) {
        self.with_map(map, |m| {
            m.keys.remove(&Data::from_value(key));
        })
    }

    fn cleared(&self, map: &str) {
        self.with_map(map, |m| {
            m.keys.clear();
            m.overflowed = false;
        })
    }

    /// The maps written so far (including those emptied since), in the order of their first
    /// write.
    pub fn maps(&self) -> Vec<String> {
        let maps = self.maps.lock().unwrap_or_else(|e| e.into_inner());
        maps.iter().map(|m| m.name.clone()).collect()
    }

    /// The keys of `map` that may hold an entry, when they are known (`None`: the map was not
    /// written through this tracker, or had too many keys).
    pub fn keys(&self, map: &str) -> Option<Vec<Value>> {
        let maps = self.maps.lock().unwrap_or_else(|e| e.into_inner());
        let m = maps.iter().find(|m| m.name == map)?;
        if m.overflowed {
            return None;
        }
        Some(m.keys.iter().filter_map(|d| d.to_value().ok()).collect())
    }
}

/// A backend whose sessions record what they write into a shared [`Written`].
#[derive(Debug, Clone)]
pub struct Tracked<B> {
    pub inner: B,
    pub written: Arc<Written>,
}

impl<B: Backend + Clone> Backend for Tracked<B> {
    type Session = TrackedSession<B::Session>;

    fn session(&self, owner: OwnerId) -> Self::Session {
        TrackedSession {
            inner: self.inner.session(owner),
            written: self.written.clone(),
        }
    }

    fn info(&self) -> BackendInfo {
        self.inner.info()
    }

    fn gone(&self) -> Option<String> {
        self.inner.gone()
    }
}

/// A session that records its writes.
#[derive(Debug)]
pub struct TrackedSession<S> {
    inner: S,
    written: Arc<Written>,
}

/// Whether a write that ended with `r` may have created its key.
fn may_have_written<T>(r: &OpResult<T>) -> bool {
    match r {
        Ok(_) => true,
        Err(e) => matches!(e, OpError::Unavailable(_) | OpError::Timeout),
    }
}

impl<S: Session> TrackedSession<S> {
    fn note<T>(&self, map: &str, key: &Value, r: &OpResult<T>) {
        if may_have_written(r) {
            self.written.wrote(map, key);
        }
    }
}

impl<S: Session> Session for TrackedSession<S> {
    async fn get(&self, map: &str, key: &Value) -> OpResult<Option<Value>> {
        self.inner.get(map, key).await
    }

    async fn put(&self, map: &str, key: &Value, value: &Value) -> OpResult<Option<Value>> {
        let r = self.inner.put(map, key, value).await;
        self.note(map, key, &r);
        r
    }

    async fn set(&self, map: &str, key: &Value, value: &Value) -> OpResult<()> {
        let r = self.inner.set(map, key, value).await;
        self.note(map, key, &r);
        r
    }

    async fn remove(&self, map: &str, key: &Value) -> OpResult<Option<Value>> {
        let r = self.inner.remove(map, key).await;
        if r.is_ok() {
            self.written.removed(map, key);
        }
        r
    }

    async fn contains_key(&self, map: &str, key: &Value) -> OpResult<bool> {
        self.inner.contains_key(map, key).await
    }

    async fn size(&self, map: &str) -> OpResult<u64> {
        self.inner.size(map).await
    }

    async fn put_if_absent(
        &self,
        map: &str,
        key: &Value,
        value: &Value,
    ) -> OpResult<Option<Value>> {
        let r = self.inner.put_if_absent(map, key, value).await;
        self.note(map, key, &r);
        r
    }

    async fn clear(&self, map: &str) -> OpResult<()> {
        let r = self.inner.clear(map).await;
        if r.is_ok() {
            self.written.cleared(map);
        }
        r
    }

    async fn replace(&self, map: &str, key: &Value, value: &Value) -> OpResult<Option<Value>> {
        // Replaces only an existing entry: creates no key.
        self.inner.replace(map, key, value).await
    }

    async fn replace_if_same(
        &self,
        map: &str,
        key: &Value,
        expected: &Value,
        new: &Value,
    ) -> OpResult<bool> {
        self.inner.replace_if_same(map, key, expected, new).await
    }

    async fn lock(&self, map: &str, key: &Value) -> OpResult<()> {
        self.inner.lock(map, key).await
    }

    async fn try_lock(&self, map: &str, key: &Value, timeout: Duration) -> OpResult<bool> {
        self.inner.try_lock(map, key, timeout).await
    }

    async fn unlock(&self, map: &str, key: &Value) -> OpResult<()> {
        self.inner.unlock(map, key).await
    }

    async fn is_locked(&self, map: &str, key: &Value) -> OpResult<bool> {
        self.inner.is_locked(map, key).await
    }

    async fn offer(&self, queue: &str, item: &Value, timeout: Option<Duration>) -> OpResult<bool> {
        self.inner.offer(queue, item, timeout).await
    }

    async fn queue_put(&self, queue: &str, item: &Value) -> OpResult<()> {
        self.inner.queue_put(queue, item).await
    }

    async fn poll(&self, queue: &str, timeout: Option<Duration>) -> OpResult<Option<Value>> {
        self.inner.poll(queue, timeout).await
    }

    async fn take(&self, queue: &str) -> OpResult<Value> {
        self.inner.take(queue).await
    }

    async fn queue_size(&self, queue: &str) -> OpResult<u64> {
        self.inner.queue_size(queue).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_removes_and_clears_are_tracked() {
        let w = Written::default();
        w.wrote("m", &Value::Int(1));
        w.wrote("m", &Value::Int(2));
        w.wrote("m", &Value::Int(2));
        w.wrote("other", &Value::String("k".into()));
        assert_eq!(w.maps(), vec!["m".to_owned(), "other".to_owned()]);
        assert_eq!(w.keys("m").unwrap().len(), 2);
        w.removed("m", &Value::Int(1));
        assert_eq!(w.keys("m").unwrap(), vec![Value::Int(2)]);
        w.cleared("other");
        assert_eq!(w.keys("other").unwrap(), Vec::<Value>::new());
        assert!(w.keys("never").is_none());
    }
}
