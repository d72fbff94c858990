//! The DynamicConfig service (id 27): structure configuration added at run time.
//!
//! Parameters not exposed here are sent with the defaults of the member's own config
//! classes, so a config added here equals one written in XML with the same settings.

use super::message_type;
use crate::codec::builtin::RequestBuilder;
use crate::codec::ClientMessage;

const SERVICE: i32 = 27;
pub const ADD_QUEUE_CONFIG: i32 = message_type(SERVICE, 11);
pub const ADD_MAP_CONFIG: i32 = message_type(SERVICE, 12);

const MERGE_POLICY: &str = "com.hazelcast.spi.merge.PutIfAbsentMergePolicy";
const MERGE_BATCH_SIZE: i32 = 100;

/// Map settings this client can add at run time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapConfig {
    pub name: String,
    pub backup_count: i32,
    pub async_backup_count: i32,
}

impl MapConfig {
    pub fn new(name: impl Into<String>) -> MapConfig {
        MapConfig {
            name: name.into(),
            backup_count: 1,
            async_backup_count: 0,
        }
    }
}

/// Queue settings this client can add at run time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueConfig {
    pub name: String,
    /// 0 means unbounded (Integer.MAX_VALUE on the member).
    pub max_size: i32,
    pub backup_count: i32,
    pub async_backup_count: i32,
}

impl QueueConfig {
    pub fn new(name: impl Into<String>) -> QueueConfig {
        QueueConfig {
            name: name.into(),
            max_size: 0,
            backup_count: 1,
            async_backup_count: 0,
        }
    }
}

pub fn encode_add_map_config(c: &MapConfig) -> ClientMessage {
    RequestBuilder::new(ADD_MAP_CONFIG)
        .fixed_i32(c.backup_count)
        .fixed_i32(c.async_backup_count)
        .fixed_i32(0) // time to live seconds
        .fixed_i32(0) // max idle seconds
        .fixed_bool(false) // read backup data
        .fixed_i32(MERGE_BATCH_SIZE)
        .fixed_bool(true) // statistics enabled
        .fixed_i32(0) // metadata policy: CREATE_ON_UPDATE
        .fixed_bool(false) // per-entry stats
        .string(&c.name)
        .null() // eviction config: default
        .string("INDEX_ONLY") // cache deserialized values
        .string(MERGE_POLICY)
        .string("BINARY") // in-memory format
        .null() // listener configs
        .null() // partition lost listener configs
        .null() // split-brain protection name
        .null() // map store config
        .null() // near cache config
        .null() // WAN replication ref
        .null() // index configs
        .null() // attribute configs
        .null() // query cache configs
        .null() // partitioning strategy class name
        .null() // partitioning strategy implementation
        .null() // hot restart config
        .null() // event journal config
        .null() // merkle tree config
        // Data persistence config: disabled, no fsync.
        .begin()
        .frame(crate::codec::Frame::new(0, vec![0, 0]))
        .end()
        // Tiered store config: disabled; memory tier 256 MB; disk tier disabled.
        .begin()
        .frame(crate::codec::Frame::new(0, vec![0]))
        .begin()
        .begin()
        .frame(crate::codec::Frame::new(0, {
            let mut b = 256i64.to_le_bytes().to_vec();
            b.extend_from_slice(&2i32.to_le_bytes()); // MemoryUnit.MEGABYTES
            b
        }))
        .end()
        .end()
        .begin()
        .frame(crate::codec::Frame::new(0, vec![0]))
        .string("default-tiered-store-device")
        .end()
        .end()
        .null() // partitioning attribute configs
        .null() // user code namespace
        .build()
}

pub fn encode_add_queue_config(c: &QueueConfig) -> ClientMessage {
    RequestBuilder::new(ADD_QUEUE_CONFIG)
        .fixed_i32(c.backup_count)
        .fixed_i32(c.async_backup_count)
        .fixed_i32(c.max_size)
        .fixed_i32(-1) // empty queue TTL
        .fixed_bool(true) // statistics enabled
        .fixed_i32(MERGE_BATCH_SIZE)
        .string(&c.name)
        .null() // listener configs
        .null() // split-brain protection name
        .null() // queue store config
        .string(MERGE_POLICY)
        .null() // priority comparator class name
        .null() // user code namespace
        .build()
}
