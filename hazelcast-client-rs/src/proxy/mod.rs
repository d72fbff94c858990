//! Typed handles over distributed structures.

mod lock;
mod map;
mod queue;
mod typed;

pub use lock::{LockGuard, LockHandle};
pub use map::{Map, DEFAULT_THREAD_ID};
pub use queue::Queue;
pub use typed::TypedMap;

use crate::codec::ClientMessage;
use crate::error::ClientError;
use crate::serialization::{Data, Value};

/// The serialized form of a key, value or item given as anything that converts to a
/// [`Value`].
pub(crate) fn data(v: impl Into<Value>) -> Data {
    Data::from_value(&v.into())
}

pub(crate) fn value_of(data: Option<Data>) -> Result<Option<Value>, ClientError> {
    data.map(|d| d.to_value().map_err(ClientError::from))
        .transpose()
}

pub(crate) fn decoded<T>(
    msg: &ClientMessage,
    decode: impl FnOnce(&ClientMessage) -> Result<T, crate::codec::CodecError>,
) -> Result<T, ClientError> {
    decode(msg).map_err(|e| ClientError::Protocol {
        address: "<response>".into(),
        detail: e.0,
    })
}

pub(crate) fn millis(d: std::time::Duration) -> i64 {
    d.as_millis().min(i64::MAX as u128) as i64
}
