//! Request encoders and response decoders, one module per service of the protocol.
//!
//! Each message is declared once with [`declare::messages!`](declare) (id, retryable flag,
//! partition source, request and response fields, as in the protocol definitions); its
//! request struct implements [`Operation`]: encoder, response decoder and the flags the
//! invocation takes.
//!
//! Message type = service id << 16 | method id << 8; the response type adds 1.

pub mod client;
pub mod declare;
pub mod dynamic_config;
pub mod map;
pub mod queue;

pub use declare::{Declaration, Operation, PartitionKey};

use crate::codec::{ClientMessage, CodecError};
use crate::serialization::Data;

/// Every declared message, service by service.
pub const SERVICES: &[&[Declaration]] = &[
    client::MESSAGES,
    map::MESSAGES,
    queue::MESSAGES,
    dynamic_config::MESSAGES,
];

pub(crate) const fn message_type(service: i32, method: i32) -> i32 {
    (service << 16) | (method << 8)
}

/// A response with no payload.
pub fn decode_void(_msg: &ClientMessage) -> Result<(), CodecError> {
    Ok(())
}

/// A response whose only field is a boolean in the initial frame.
pub fn decode_bool(msg: &ClientMessage) -> Result<bool, CodecError> {
    declare::decode_single(msg)
}

/// A response whose only field is an int in the initial frame.
pub fn decode_i32(msg: &ClientMessage) -> Result<i32, CodecError> {
    declare::decode_single(msg)
}

/// A response whose only field is a nullable Data frame.
pub fn decode_nullable_data(msg: &ClientMessage) -> Result<Option<Data>, CodecError> {
    declare::decode_single(msg)
}
