//! The Queue service (id 3).

use super::message_type;
use crate::codec::builtin::RequestBuilder;
use crate::codec::ClientMessage;
use crate::serialization::Data;

pub const SERVICE_NAME: &str = "hz:impl:queueService";

const SERVICE: i32 = 3;
pub const OFFER: i32 = message_type(SERVICE, 0x01);
pub const PUT: i32 = message_type(SERVICE, 0x02);
pub const SIZE: i32 = message_type(SERVICE, 0x03);
pub const POLL: i32 = message_type(SERVICE, 0x05);
pub const TAKE: i32 = message_type(SERVICE, 0x06);
pub const CLEAR: i32 = message_type(SERVICE, 0x0F);

pub fn encode_offer(name: &str, value: &Data, timeout_millis: i64) -> ClientMessage {
    RequestBuilder::new(OFFER)
        .fixed_i64(timeout_millis)
        .string(name)
        .data(value)
        .build()
}

pub fn encode_put(name: &str, value: &Data) -> ClientMessage {
    RequestBuilder::new(PUT).string(name).data(value).build()
}

pub fn encode_poll(name: &str, timeout_millis: i64) -> ClientMessage {
    RequestBuilder::new(POLL)
        .fixed_i64(timeout_millis)
        .string(name)
        .build()
}

/// take, size, clear: the queue name only.
pub fn encode_name_only(message_type: i32, name: &str) -> ClientMessage {
    RequestBuilder::new(message_type).string(name).build()
}
