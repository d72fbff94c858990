//! `hzlab:scenario/replace`.

use super::convert::{value_from_wit, value_to_wit};
use super::{json, InstanceState};
use crate::backend::Session;
use crate::bindings::hzlab::scenario::replace::Host;
use crate::bindings::{WitError, WitValue};
use crate::latency::{OpKind, Stamp};

type R<T> = wasmtime::Result<Result<T, WitError>>;

impl<S: Session> Host for InstanceState<S> {
    async fn replace(
        &mut self,
        name: String,
        key: WitValue,
        value: WitValue,
    ) -> R<Option<WitValue>> {
        let (key, value) = (value_from_wit(key), value_from_wit(value));
        let start = Stamp::now();
        let r = self.session.replace(&name, &key, &value).await;
        self.observe(OpKind::Replace, start, &name, &r, || {
            vec![json(&key), json(&value)]
        });
        self.finish(r.map(|v| v.map(value_to_wit)))
    }

    async fn replace_if_same(
        &mut self,
        name: String,
        key: WitValue,
        expected: WitValue,
        new: WitValue,
    ) -> R<bool> {
        let key = value_from_wit(key);
        let (expected, new) = (value_from_wit(expected), value_from_wit(new));
        let start = Stamp::now();
        let r = self
            .session
            .replace_if_same(&name, &key, &expected, &new)
            .await;
        self.observe(OpKind::ReplaceIfSame, start, &name, &r, || {
            vec![json(&key), json(&expected), json(&new)]
        });
        self.finish(r)
    }
}
