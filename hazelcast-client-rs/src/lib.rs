#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

mod backup;
mod client;
mod cluster;
pub mod codec;
mod config;
mod connection;
mod connection_manager;
pub mod error;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod handle;
mod invocation;
pub mod protocol;
mod proxy;
mod serialization;

pub use client::Client;
pub use codec::{Address, MemberInfo, Uuid};
pub use config::ClientConfig;
pub use config::MIN_MESSAGE_LIMIT;
pub use error::ClientError;
pub use protocol::dynamic_config::{MapConfig, QueueConfig};
pub use proxy::{LockGuard, LockHandle, Map, Queue, TypedMap, DEFAULT_THREAD_ID};
pub use serialization::{Data, SerializationError, Value, ValueType};
