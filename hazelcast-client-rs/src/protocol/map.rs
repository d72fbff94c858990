//! The Map service (id 1): the IMap operations this client offers.

use super::message_type;
use crate::codec::builtin::RequestBuilder;
use crate::codec::ClientMessage;
use crate::serialization::Data;

pub const SERVICE_NAME: &str = "hz:impl:mapService";

const SERVICE: i32 = 1;
pub const PUT: i32 = message_type(SERVICE, 0x01);
pub const GET: i32 = message_type(SERVICE, 0x02);
pub const REMOVE: i32 = message_type(SERVICE, 0x03);
pub const REPLACE: i32 = message_type(SERVICE, 0x04);
pub const REPLACE_IF_SAME: i32 = message_type(SERVICE, 0x05);
pub const CONTAINS_KEY: i32 = message_type(SERVICE, 0x06);
pub const DELETE: i32 = message_type(SERVICE, 0x09);
pub const PUT_IF_ABSENT: i32 = message_type(SERVICE, 0x0E);
pub const SET: i32 = message_type(SERVICE, 0x0F);
pub const LOCK: i32 = message_type(SERVICE, 0x10);
pub const TRY_LOCK: i32 = message_type(SERVICE, 0x11);
pub const IS_LOCKED: i32 = message_type(SERVICE, 0x12);
pub const UNLOCK: i32 = message_type(SERVICE, 0x13);
pub const SIZE: i32 = message_type(SERVICE, 0x2A);
pub const CLEAR: i32 = message_type(SERVICE, 0x2D);
pub const FORCE_UNLOCK: i32 = message_type(SERVICE, 0x33);

/// `name`, `key` with a thread id: get, remove, delete, contains-key.
pub fn encode_key_op(message_type: i32, name: &str, key: &Data, thread_id: i64) -> ClientMessage {
    RequestBuilder::new(message_type)
        .fixed_i64(thread_id)
        .string(name)
        .data(key)
        .build()
}

/// put, set, put-if-absent: key, value, thread id and ttl (-1: the map's default).
pub fn encode_put_like(
    message_type: i32,
    name: &str,
    key: &Data,
    value: &Data,
    thread_id: i64,
    ttl_millis: i64,
) -> ClientMessage {
    RequestBuilder::new(message_type)
        .fixed_i64(thread_id)
        .fixed_i64(ttl_millis)
        .string(name)
        .data(key)
        .data(value)
        .build()
}

pub fn encode_replace(name: &str, key: &Data, value: &Data, thread_id: i64) -> ClientMessage {
    RequestBuilder::new(REPLACE)
        .fixed_i64(thread_id)
        .string(name)
        .data(key)
        .data(value)
        .build()
}

pub fn encode_replace_if_same(
    name: &str,
    key: &Data,
    expected: &Data,
    value: &Data,
    thread_id: i64,
) -> ClientMessage {
    RequestBuilder::new(REPLACE_IF_SAME)
        .fixed_i64(thread_id)
        .string(name)
        .data(key)
        .data(expected)
        .data(value)
        .build()
}

pub fn encode_lock(
    name: &str,
    key: &Data,
    thread_id: i64,
    lease_millis: i64,
    reference_id: i64,
) -> ClientMessage {
    RequestBuilder::new(LOCK)
        .fixed_i64(thread_id)
        .fixed_i64(lease_millis)
        .fixed_i64(reference_id)
        .string(name)
        .data(key)
        .build()
}

pub fn encode_try_lock(
    name: &str,
    key: &Data,
    thread_id: i64,
    lease_millis: i64,
    timeout_millis: i64,
    reference_id: i64,
) -> ClientMessage {
    RequestBuilder::new(TRY_LOCK)
        .fixed_i64(thread_id)
        .fixed_i64(lease_millis)
        .fixed_i64(timeout_millis)
        .fixed_i64(reference_id)
        .string(name)
        .data(key)
        .build()
}

pub fn encode_unlock(name: &str, key: &Data, thread_id: i64, reference_id: i64) -> ClientMessage {
    RequestBuilder::new(UNLOCK)
        .fixed_i64(thread_id)
        .fixed_i64(reference_id)
        .string(name)
        .data(key)
        .build()
}

pub fn encode_is_locked(name: &str, key: &Data) -> ClientMessage {
    RequestBuilder::new(IS_LOCKED)
        .string(name)
        .data(key)
        .build()
}

pub fn encode_force_unlock(name: &str, key: &Data, reference_id: i64) -> ClientMessage {
    RequestBuilder::new(FORCE_UNLOCK)
        .fixed_i64(reference_id)
        .string(name)
        .data(key)
        .build()
}

/// size, clear: the map name only.
pub fn encode_name_only(message_type: i32, name: &str) -> ClientMessage {
    RequestBuilder::new(message_type).string(name).build()
}
