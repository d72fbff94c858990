//! The DynamicConfig service (id 27): structure configuration added at run time.
//!
//! Parameters not exposed here are sent with the defaults of the member's own config
//! classes, so a config added here equals one written in XML with the same settings.

use super::declare::{messages, NotSent, RequestField, VarField};
use crate::codec::builtin::RequestBuilder;
use crate::codec::Frame;
use crate::serialization::Data;

messages! {
    service 27 "DynamicConfig";

    0x0B "addQueueConfig" => AddQueueConfig<'a> as ADD_QUEUE_CONFIG {
        retryable: false,
        partition: none,
        request {
            name: &'a str,
            listener_configs: Option<ListenerConfigHolders>,
            backup_count: i32,
            async_backup_count: i32,
            /// 0: unbounded (Integer.MAX_VALUE on the member).
            max_size: i32,
            /// Seconds; -1: an empty queue is never destroyed.
            empty_queue_ttl: i32,
            statistics_enabled: bool,
            split_brain_protection_name: Option<&'a str>,
            queue_store_config: Option<QueueStoreConfigHolder>,
            merge_policy: &'a str,
            merge_batch_size: i32,
            /// Since protocol 2.1.
            priority_comparator_class_name: Option<&'a str>,
            /// Since protocol 2.7.
            user_code_namespace: Option<&'a str>,
        }
        response {}
    }
    0x0C "addMapConfig" => AddMapConfig<'a> as ADD_MAP_CONFIG {
        retryable: false,
        partition: none,
        request {
            name: &'a str,
            backup_count: i32,
            async_backup_count: i32,
            time_to_live_seconds: i32,
            max_idle_seconds: i32,
            eviction_config: Option<EvictionConfigHolder>,
            read_backup_data: bool,
            cache_deserialized_values: &'a str,
            merge_policy: &'a str,
            merge_batch_size: i32,
            in_memory_format: &'a str,
            listener_configs: Option<ListenerConfigHolders>,
            partition_lost_listener_configs: Option<ListenerConfigHolders>,
            statistics_enabled: bool,
            split_brain_protection_name: Option<&'a str>,
            map_store_config: Option<MapStoreConfigHolder>,
            near_cache_config: Option<NearCacheConfigHolder>,
            wan_replication_ref: Option<WanReplicationRef>,
            index_configs: Option<IndexConfigs>,
            attribute_configs: Option<AttributeConfigs>,
            query_cache_configs: Option<QueryCacheConfigHolders>,
            partitioning_strategy_class_name: Option<&'a str>,
            partitioning_strategy_implementation: Option<&'a Data>,
            hot_restart_config: Option<HotRestartConfig>,
            event_journal_config: Option<EventJournalConfig>,
            merkle_tree_config: Option<MerkleTreeConfig>,
            /// 0: CREATE_ON_UPDATE.
            metadata_policy: i32,
            /// Since protocol 2.2.
            per_entry_stats_enabled: bool,
            /// Since protocol 2.5.
            data_persistence_config: DataPersistenceConfig,
            /// Since protocol 2.5.
            tiered_store_config: TieredStoreConfig,
            /// Since protocol 2.6.
            partitioning_attribute_configs: Option<PartitioningAttributeConfigs>,
            /// Since protocol 2.7.
            user_code_namespace: Option<&'a str>,
        }
        response {}
    }
}

// Types of the protocol this client only sends as null.
/// The protocol's `ListenerConfigHolders`, only sent as null.
pub type ListenerConfigHolders = NotSent;
/// The protocol's `QueueStoreConfigHolder`, only sent as null.
pub type QueueStoreConfigHolder = NotSent;
/// The protocol's `EvictionConfigHolder`, only sent as null.
pub type EvictionConfigHolder = NotSent;
/// The protocol's `MapStoreConfigHolder`, only sent as null.
pub type MapStoreConfigHolder = NotSent;
/// The protocol's `NearCacheConfigHolder`, only sent as null.
pub type NearCacheConfigHolder = NotSent;
/// The protocol's `WanReplicationRef`, only sent as null.
pub type WanReplicationRef = NotSent;
/// The protocol's `IndexConfigs`, only sent as null.
pub type IndexConfigs = NotSent;
/// The protocol's `AttributeConfigs`, only sent as null.
pub type AttributeConfigs = NotSent;
/// The protocol's `QueryCacheConfigHolders`, only sent as null.
pub type QueryCacheConfigHolders = NotSent;
/// The protocol's `HotRestartConfig`, only sent as null.
pub type HotRestartConfig = NotSent;
/// The protocol's `EventJournalConfig`, only sent as null.
pub type EventJournalConfig = NotSent;
/// The protocol's `MerkleTreeConfig`, only sent as null.
pub type MerkleTreeConfig = NotSent;
/// The protocol's `PartitioningAttributeConfigs`, only sent as null.
pub type PartitioningAttributeConfigs = NotSent;

/// The protocol's `DataPersistenceConfig` structure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataPersistenceConfig {
    /// Whether data persistence is on.
    pub enabled: bool,
    /// Whether writes are flushed to disk at once.
    pub fsync: bool,
}

/// The protocol's `Capacity` structure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capacity {
    /// The amount, in `unit`s.
    pub value: i64,
    /// `MemoryUnit` ordinal: 0 bytes, 1 kilobytes, 2 megabytes, 3 gigabytes.
    pub unit: i32,
}

/// The protocol's `MemoryTierConfig` structure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryTierConfig {
    /// The memory tier's size.
    pub capacity: Capacity,
}

/// The protocol's `DiskTierConfig` structure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiskTierConfig<'a> {
    /// Whether the disk tier is on.
    pub enabled: bool,
    /// The disk device to use.
    pub device_name: &'a str,
}

/// The protocol's `TieredStoreConfig` structure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TieredStoreConfig {
    /// Whether tiered storage is on.
    pub enabled: bool,
    /// The memory tier.
    pub memory_tier_config: MemoryTierConfig,
    /// The disk tier.
    pub disk_tier_config: DiskTierConfig<'static>,
}

// A structure is sent as a begin frame, a frame of its fixed-size fields (when it has
// any), its variable-size fields, and an end frame.

impl RequestField for DataPersistenceConfig {
    fn put_frames(&self, b: RequestBuilder) -> RequestBuilder {
        b.begin()
            .frame(Frame::new(0, vec![self.enabled as u8, self.fsync as u8]))
            .end()
    }
}
impl VarField for DataPersistenceConfig {}

impl RequestField for Capacity {
    fn put_frames(&self, b: RequestBuilder) -> RequestBuilder {
        let mut fixed = self.value.to_le_bytes().to_vec();
        fixed.extend_from_slice(&self.unit.to_le_bytes());
        b.begin().frame(Frame::new(0, fixed)).end()
    }
}

impl RequestField for MemoryTierConfig {
    fn put_frames(&self, b: RequestBuilder) -> RequestBuilder {
        self.capacity.put_frames(b.begin()).end()
    }
}

impl RequestField for DiskTierConfig<'_> {
    fn put_frames(&self, b: RequestBuilder) -> RequestBuilder {
        b.begin()
            .frame(Frame::new(0, vec![self.enabled as u8]))
            .string(self.device_name)
            .end()
    }
}

impl RequestField for TieredStoreConfig {
    fn put_frames(&self, b: RequestBuilder) -> RequestBuilder {
        let b = b.begin().frame(Frame::new(0, vec![self.enabled as u8]));
        let b = self.memory_tier_config.put_frames(b);
        self.disk_tier_config.put_frames(b).end()
    }
}
impl VarField for TieredStoreConfig {}

const MERGE_POLICY: &str = "com.hazelcast.spi.merge.PutIfAbsentMergePolicy";
const MERGE_BATCH_SIZE: i32 = 100;

/// Map settings this client can add at run time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapConfig {
    /// The map name, or a pattern with `*` wildcards.
    pub name: String,
    /// Synchronous backups of each partition (default 1).
    pub backup_count: i32,
    /// Asynchronous backups of each partition (default 0).
    pub async_backup_count: i32,
}

impl MapConfig {
    /// A configuration for maps named `name` (or matching it, with `*` wildcards): one
    /// synchronous backup, no asynchronous one, as members default.
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
    /// The queue name, or a pattern with `*` wildcards.
    pub name: String,
    /// 0 means unbounded (Integer.MAX_VALUE on the member).
    pub max_size: i32,
    /// Synchronous backups (default 1).
    pub backup_count: i32,
    /// Asynchronous backups (default 0).
    pub async_backup_count: i32,
}

impl QueueConfig {
    /// A configuration for queues named `name` (or matching it, with `*` wildcards): unbounded,
    /// one synchronous backup, no asynchronous one, as members default.
    pub fn new(name: impl Into<String>) -> QueueConfig {
        QueueConfig {
            name: name.into(),
            max_size: 0,
            backup_count: 1,
            async_backup_count: 0,
        }
    }
}

impl MapConfig {
    /// The request adding this configuration; what it does not set is the member's default.
    pub fn request(&self) -> AddMapConfig<'_> {
        AddMapConfig {
            name: &self.name,
            backup_count: self.backup_count,
            async_backup_count: self.async_backup_count,
            time_to_live_seconds: 0,
            max_idle_seconds: 0,
            eviction_config: None,
            read_backup_data: false,
            cache_deserialized_values: "INDEX_ONLY",
            merge_policy: MERGE_POLICY,
            merge_batch_size: MERGE_BATCH_SIZE,
            in_memory_format: "BINARY",
            listener_configs: None,
            partition_lost_listener_configs: None,
            statistics_enabled: true,
            split_brain_protection_name: None,
            map_store_config: None,
            near_cache_config: None,
            wan_replication_ref: None,
            index_configs: None,
            attribute_configs: None,
            query_cache_configs: None,
            partitioning_strategy_class_name: None,
            partitioning_strategy_implementation: None,
            hot_restart_config: None,
            event_journal_config: None,
            merkle_tree_config: None,
            metadata_policy: 0,
            per_entry_stats_enabled: false,
            data_persistence_config: DataPersistenceConfig {
                enabled: false,
                fsync: false,
            },
            tiered_store_config: TieredStoreConfig {
                enabled: false,
                memory_tier_config: MemoryTierConfig {
                    capacity: Capacity {
                        value: 256,
                        unit: 2, // MEGABYTES
                    },
                },
                disk_tier_config: DiskTierConfig {
                    enabled: false,
                    device_name: "default-tiered-store-device",
                },
            },
            partitioning_attribute_configs: None,
            user_code_namespace: None,
        }
    }
}

impl QueueConfig {
    /// The request adding this configuration; what it does not set is the member's default.
    pub fn request(&self) -> AddQueueConfig<'_> {
        AddQueueConfig {
            name: &self.name,
            listener_configs: None,
            backup_count: self.backup_count,
            async_backup_count: self.async_backup_count,
            max_size: self.max_size,
            empty_queue_ttl: -1,
            statistics_enabled: true,
            split_brain_protection_name: None,
            queue_store_config: None,
            merge_policy: MERGE_POLICY,
            merge_batch_size: MERGE_BATCH_SIZE,
            priority_comparator_class_name: None,
            user_code_namespace: None,
        }
    }
}
