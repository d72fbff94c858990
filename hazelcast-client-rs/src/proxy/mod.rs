//! Typed handles over distributed structures.

pub mod map;
pub mod queue;

pub use map::Map;
pub use queue::Queue;

use crate::codec::ClientMessage;
use crate::error::ClientError;
use crate::serialization::{Data, Value};

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
