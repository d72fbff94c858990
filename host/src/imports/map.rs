//! `hzlab:scenario/map`.

use super::convert::{value_from_wit, value_to_wit};
use super::{json, InstanceState};
use crate::backend::Session;
use crate::bindings::hzlab::scenario::map::Host;
use crate::bindings::{WitError, WitValue};
use crate::latency::{OpKind, Stamp};

type R<T> = wasmtime::Result<Result<T, WitError>>;

impl<S: Session> Host for InstanceState<S> {
    async fn get(&mut self, name: String, key: WitValue) -> R<Option<WitValue>> {
        let key = value_from_wit(key);
        let start = Stamp::now();
        let r = self.session.get(&name, &key).await;
        self.observe(OpKind::MapGet, start, &name, &r, || vec![json(&key)]);
        self.finish(r.map(|v| v.map(value_to_wit)))
    }

    async fn put(&mut self, name: String, key: WitValue, value: WitValue) -> R<Option<WitValue>> {
        let (key, value) = (value_from_wit(key), value_from_wit(value));
        let start = Stamp::now();
        let r = self.session.put(&name, &key, &value).await;
        self.observe(OpKind::MapPut, start, &name, &r, || {
            vec![json(&key), json(&value)]
        });
        self.finish(r.map(|v| v.map(value_to_wit)))
    }

    async fn set(&mut self, name: String, key: WitValue, value: WitValue) -> R<()> {
        let (key, value) = (value_from_wit(key), value_from_wit(value));
        let start = Stamp::now();
        let r = self.session.set(&name, &key, &value).await;
        self.observe(OpKind::MapSet, start, &name, &r, || {
            vec![json(&key), json(&value)]
        });
        self.finish(r)
    }

    async fn remove(&mut self, name: String, key: WitValue) -> R<Option<WitValue>> {
        let key = value_from_wit(key);
        let start = Stamp::now();
        let r = self.session.remove(&name, &key).await;
        self.observe(OpKind::MapRemove, start, &name, &r, || vec![json(&key)]);
        self.finish(r.map(|v| v.map(value_to_wit)))
    }

    async fn contains_key(&mut self, name: String, key: WitValue) -> R<bool> {
        let key = value_from_wit(key);
        let start = Stamp::now();
        let r = self.session.contains_key(&name, &key).await;
        self.observe(OpKind::MapContainsKey, start, &name, &r, || {
            vec![json(&key)]
        });
        self.finish(r)
    }

    async fn size(&mut self, name: String) -> R<u64> {
        let start = Stamp::now();
        let r = self.session.size(&name).await;
        self.observe(OpKind::MapSize, start, &name, &r, Vec::new);
        self.finish(r)
    }

    async fn put_if_absent(
        &mut self,
        name: String,
        key: WitValue,
        value: WitValue,
    ) -> R<Option<WitValue>> {
        let (key, value) = (value_from_wit(key), value_from_wit(value));
        let start = Stamp::now();
        let r = self.session.put_if_absent(&name, &key, &value).await;
        self.observe(OpKind::MapPutIfAbsent, start, &name, &r, || {
            vec![json(&key), json(&value)]
        });
        self.finish(r.map(|v| v.map(value_to_wit)))
    }

    async fn clear(&mut self, name: String) -> R<()> {
        let start = Stamp::now();
        let r = self.session.clear(&name).await;
        self.observe(OpKind::MapClear, start, &name, &r, Vec::new);
        self.finish(r)
    }
}
