//! `hzlab:scenario/queue`.
//!
//! Besides timing and the history, every successful operation that changes a queue (or was
//! refused for want of room) goes into the scenario's queue timeline ([`crate::timeline`]).

use std::time::Duration;

use super::convert::{value_from_wit, value_to_wit};
use super::{json, InstanceState};
use crate::backend::{OpResult, Session};
use crate::bindings::hzlab::scenario::queue::Host;
use crate::bindings::{WitError, WitValue};
use crate::latency::{OpKind, Stamp};
use crate::timeline::QueueNote;

type R<T> = wasmtime::Result<Result<T, WitError>>;

fn ms(timeout_ms: Option<u64>) -> serde_json::Value {
    timeout_ms.map_or(serde_json::Value::Null, Into::into)
}

impl<S: Session> InstanceState<S> {
    /// Nanoseconds since the run started: the timeline's clock (the guest's `now-ns` too).
    #[inline]
    fn run_ns(&self) -> u64 {
        self.run.started.elapsed().as_nanos() as u64
    }

    /// Adds what an operation on `queue` did to the timeline: `note` when it succeeded
    /// (`None`: it changed nothing); an error records nothing.
    #[inline]
    fn note_queue<T>(
        &mut self,
        queue: &str,
        result: &OpResult<T>,
        note: impl FnOnce(&T) -> Option<QueueNote>,
    ) {
        match result.as_ref().ok().and_then(note) {
            Some(note) => {
                let end_ns = self.run_ns();
                let instance = self.record_target();
                self.scenario.recorder.queues().note(
                    queue,
                    note,
                    end_ns,
                    instance,
                    &mut self.refused_queue,
                );
            }
            None => self.refused_queue = None,
        }
    }
}

impl<S: Session> Host for InstanceState<S> {
    async fn offer(&mut self, name: String, item: WitValue, timeout_ms: Option<u64>) -> R<bool> {
        let item = value_from_wit(item);
        // Only an offer with a timeout can wait for room.
        let waited_from = timeout_ms.filter(|&t| t > 0).map(|_| self.run_ns());
        let start = Stamp::now();
        let r = self
            .session
            .offer(&name, &item, timeout_ms.map(Duration::from_millis))
            .await;
        self.observe(OpKind::QueueOffer, start, &name, &r, || {
            vec![json(&item), ms(timeout_ms)]
        });
        self.note_queue(&name, &r, |&added| {
            Some(if added {
                QueueNote::Added { waited_from }
            } else {
                QueueNote::Refused { waited_from }
            })
        });
        self.finish(r)
    }

    async fn put(&mut self, name: String, item: WitValue) -> R<()> {
        let item = value_from_wit(item);
        let waited_from = Some(self.run_ns());
        let start = Stamp::now();
        let r = self.session.queue_put(&name, &item).await;
        self.observe(OpKind::QueuePut, start, &name, &r, || vec![json(&item)]);
        self.note_queue(&name, &r, |_| Some(QueueNote::Added { waited_from }));
        self.finish(r)
    }

    async fn poll(&mut self, name: String, timeout_ms: Option<u64>) -> R<Option<WitValue>> {
        let start = Stamp::now();
        let r = self
            .session
            .poll(&name, timeout_ms.map(Duration::from_millis))
            .await;
        self.observe(OpKind::QueuePoll, start, &name, &r, || vec![ms(timeout_ms)]);
        self.note_queue(&name, &r, |item| item.as_ref().map(|_| QueueNote::Removed));
        self.finish(r.map(|v| v.map(value_to_wit)))
    }

    async fn take(&mut self, name: String) -> R<WitValue> {
        let start = Stamp::now();
        let r = self.session.take(&name).await;
        self.observe(OpKind::QueueTake, start, &name, &r, Vec::new);
        self.note_queue(&name, &r, |_| Some(QueueNote::Removed));
        self.finish(r.map(value_to_wit))
    }

    async fn size(&mut self, name: String) -> R<u64> {
        let start = Stamp::now();
        let r = self.session.queue_size(&name).await;
        self.observe(OpKind::QueueSize, start, &name, &r, Vec::new);
        self.finish(r)
    }
}
