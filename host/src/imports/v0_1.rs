//! The imports of the scenario world 0.1.0, for components built against it: every call is
//! forwarded to the 0.2.0 implementation (the interfaces did not change; the bindings share
//! the `types` of 0.2.0, so only `runtime`'s `level` needs converting).

use super::InstanceState;
use crate::backend::Session;
use crate::bindings::v0_1::hzlab::scenario as old;
use crate::bindings::v0_2::hzlab::scenario as new;
use crate::bindings::{WitError, WitValue};

type R<T> = wasmtime::Result<Result<T, WitError>>;

/// Forwards each listed function of a 0.1.0 interface to the same function of 0.2.0.
macro_rules! forward {
    ($iface:ident { $( fn $f:ident($($arg:ident: $ty:ty),*) -> $ret:ty; )* }) => {
        impl<S: Session> old::$iface::Host for InstanceState<S> {
            $(
                async fn $f(&mut self, $($arg: $ty),*) -> $ret {
                    <Self as new::$iface::Host>::$f(self, $($arg),*).await
                }
            )*
        }
    };
}

forward!(map {
    fn get(name: String, key: WitValue) -> R<Option<WitValue>>;
    fn put(name: String, key: WitValue, value: WitValue) -> R<Option<WitValue>>;
    fn set(name: String, key: WitValue, value: WitValue) -> R<()>;
    fn remove(name: String, key: WitValue) -> R<Option<WitValue>>;
    fn contains_key(name: String, key: WitValue) -> R<bool>;
    fn size(name: String) -> R<u64>;
    fn put_if_absent(name: String, key: WitValue, value: WitValue) -> R<Option<WitValue>>;
    fn clear(name: String) -> R<()>;
});

forward!(replace {
    fn replace(name: String, key: WitValue, value: WitValue) -> R<Option<WitValue>>;
    fn replace_if_same(name: String, key: WitValue, expected: WitValue, new: WitValue) -> R<bool>;
});

forward!(lock {
    fn lock(name: String, key: WitValue) -> R<()>;
    fn try_lock(name: String, key: WitValue, timeout_ms: u64) -> R<bool>;
    fn unlock(name: String, key: WitValue) -> R<()>;
    fn is_locked(name: String, key: WitValue) -> R<bool>;
});

forward!(queue {
    fn offer(name: String, item: WitValue, timeout_ms: Option<u64>) -> R<bool>;
    fn put(name: String, item: WitValue) -> R<()>;
    fn poll(name: String, timeout_ms: Option<u64>) -> R<Option<WitValue>>;
    fn take(name: String) -> R<WitValue>;
    fn size(name: String) -> R<u64>;
});

impl<S: Session> old::runtime::Host for InstanceState<S> {
    async fn instance_index(&mut self) -> wasmtime::Result<u32> {
        <Self as new::runtime::Host>::instance_index(self).await
    }
    async fn instance_count(&mut self) -> wasmtime::Result<u32> {
        <Self as new::runtime::Host>::instance_count(self).await
    }
    async fn arg(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        <Self as new::runtime::Host>::arg(self, key).await
    }
    async fn args(&mut self) -> wasmtime::Result<Vec<(String, String)>> {
        <Self as new::runtime::Host>::args(self).await
    }
    async fn log(&mut self, level: old::runtime::Level, message: String) -> wasmtime::Result<()> {
        use new::runtime::Level as L;
        let level = match level {
            old::runtime::Level::Debug => L::Debug,
            old::runtime::Level::Info => L::Info,
            old::runtime::Level::Warn => L::Warn,
            old::runtime::Level::Error => L::Error,
        };
        <Self as new::runtime::Host>::log(self, level, message).await
    }
    async fn record(&mut self, name: String, value: WitValue) -> wasmtime::Result<()> {
        <Self as new::runtime::Host>::record(self, name, value).await
    }
    async fn count(&mut self, name: String, delta: i64) -> wasmtime::Result<()> {
        <Self as new::runtime::Host>::count(self, name, delta).await
    }
    async fn total(&mut self, name: String) -> wasmtime::Result<i64> {
        <Self as new::runtime::Host>::total(self, name).await
    }
    async fn check(&mut self, name: String, ok: bool, detail: String) -> wasmtime::Result<()> {
        <Self as new::runtime::Host>::check(self, name, ok, detail).await
    }
    async fn now_ns(&mut self) -> wasmtime::Result<u64> {
        <Self as new::runtime::Host>::now_ns(self).await
    }
    async fn sleep_ms(&mut self, ms: u64) -> wasmtime::Result<()> {
        <Self as new::runtime::Host>::sleep_ms(self, ms).await
    }
}
