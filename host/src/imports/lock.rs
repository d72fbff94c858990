//! `hzlab:scenario/lock`: the instance is the lock owner; holds are tracked so that an
//! instance that ends while holding a lock releases it.

use std::time::Duration;

use super::convert::value_from_wit;
use super::{json, InstanceState};
use crate::backend::Session;
use crate::bindings::hzlab::scenario::lock::Host;
use crate::bindings::{WitError, WitValue};
use crate::latency::{OpKind, Stamp};

type R<T> = wasmtime::Result<Result<T, WitError>>;

impl<S: Session> Host for InstanceState<S> {
    async fn lock(&mut self, name: String, key: WitValue) -> R<()> {
        let key = value_from_wit(key);
        let start = Stamp::now();
        let r = self.session.lock(&name, &key).await;
        self.observe(OpKind::Lock, start, &name, &r, || vec![json(&key)]);
        if r.is_ok() {
            self.note_locked(&name, &key);
        }
        self.finish(r)
    }

    async fn try_lock(&mut self, name: String, key: WitValue, timeout_ms: u64) -> R<bool> {
        let key = value_from_wit(key);
        let start = Stamp::now();
        let r = self
            .session
            .try_lock(&name, &key, Duration::from_millis(timeout_ms))
            .await;
        self.observe(OpKind::TryLock, start, &name, &r, || {
            vec![json(&key), timeout_ms.into()]
        });
        if r == Ok(true) {
            self.note_locked(&name, &key);
        }
        self.finish(r)
    }

    async fn unlock(&mut self, name: String, key: WitValue) -> R<()> {
        let key = value_from_wit(key);
        let start = Stamp::now();
        let r = self.session.unlock(&name, &key).await;
        self.observe(OpKind::Unlock, start, &name, &r, || vec![json(&key)]);
        if r.is_ok() {
            self.note_unlocked(&name, &key);
        }
        self.finish(r)
    }

    async fn is_locked(&mut self, name: String, key: WitValue) -> R<bool> {
        let key = value_from_wit(key);
        let start = Stamp::now();
        let r = self.session.is_locked(&name, &key).await;
        self.observe(OpKind::IsLocked, start, &name, &r, || vec![json(&key)]);
        self.finish(r)
    }
}
