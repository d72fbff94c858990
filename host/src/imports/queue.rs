//! `hzlab:scenario/queue`.

use std::time::Duration;

use super::convert::{value_from_wit, value_to_wit};
use super::{json, InstanceState};
use crate::backend::Session;
use crate::engine::bindings::hzlab::scenario::queue::Host;
use crate::engine::bindings::{WitError, WitValue};
use crate::latency::{OpKind, Stamp};

type R<T> = wasmtime::Result<Result<T, WitError>>;

fn ms(timeout_ms: Option<u64>) -> serde_json::Value {
    timeout_ms.map_or(serde_json::Value::Null, Into::into)
}

impl<S: Session> Host for InstanceState<S> {
    async fn offer(&mut self, name: String, item: WitValue, timeout_ms: Option<u64>) -> R<bool> {
        let item = value_from_wit(item);
        let start = Stamp::now();
        let r = self
            .session
            .offer(&name, &item, timeout_ms.map(Duration::from_millis))
            .await;
        self.observe(OpKind::QueueOffer, start, &name, &r, || {
            vec![json(&item), ms(timeout_ms)]
        });
        self.finish(r)
    }

    async fn put(&mut self, name: String, item: WitValue) -> R<()> {
        let item = value_from_wit(item);
        let start = Stamp::now();
        let r = self.session.queue_put(&name, &item).await;
        self.observe(OpKind::QueuePut, start, &name, &r, || vec![json(&item)]);
        self.finish(r)
    }

    async fn poll(&mut self, name: String, timeout_ms: Option<u64>) -> R<Option<WitValue>> {
        let start = Stamp::now();
        let r = self
            .session
            .poll(&name, timeout_ms.map(Duration::from_millis))
            .await;
        self.observe(OpKind::QueuePoll, start, &name, &r, || vec![ms(timeout_ms)]);
        self.finish(r.map(|v| v.map(value_to_wit)))
    }

    async fn take(&mut self, name: String) -> R<WitValue> {
        let start = Stamp::now();
        let r = self.session.take(&name).await;
        self.observe(OpKind::QueueTake, start, &name, &r, Vec::new);
        self.finish(r.map(value_to_wit))
    }

    async fn size(&mut self, name: String) -> R<u64> {
        let start = Stamp::now();
        let r = self.session.queue_size(&name).await;
        self.observe(OpKind::QueueSize, start, &name, &r, Vec::new);
        self.finish(r)
    }
}
