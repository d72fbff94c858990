//! Request encoders and response decoders, one module per service of the protocol.
//!
//! Message type = service id << 16 | method id << 8; the response type adds 1.

pub mod client;
pub mod dynamic_config;
pub mod map;
pub mod queue;

use crate::codec::builtin::{self, response_fixed};
use crate::codec::{ClientMessage, CodecError};
use crate::serialization::Data;

pub(crate) const fn message_type(service: i32, method: i32) -> i32 {
    (service << 16) | (method << 8)
}

/// A response with no payload.
pub fn decode_void(_msg: &ClientMessage) -> Result<(), CodecError> {
    Ok(())
}

/// A response whose only field is a boolean in the initial frame.
pub fn decode_bool(msg: &ClientMessage) -> Result<bool, CodecError> {
    let mut r = msg.reader();
    response_fixed(&mut r)?.bool()
}

/// A response whose only field is an int in the initial frame.
pub fn decode_i32(msg: &ClientMessage) -> Result<i32, CodecError> {
    let mut r = msg.reader();
    response_fixed(&mut r)?.i32()
}

/// A response whose only field is a nullable Data frame.
pub fn decode_nullable_data(msg: &ClientMessage) -> Result<Option<Data>, CodecError> {
    let mut r = msg.reader();
    r.next_frame()?;
    if !r.has_next() {
        return Ok(None);
    }
    builtin::nullable(&mut r, builtin::data)
}
