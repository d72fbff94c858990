//! `hazelcast-client`: an async Rust client for Hazelcast 5.x members, speaking the Open
//! Binary Client Protocol 2.x.
//!
//! ```no_run
//! # async fn demo() -> Result<(), hazelcast_client::ClientError> {
//! use hazelcast_client::{Client, ClientConfig, Value};
//! let client = Client::connect(ClientConfig::new("dev", ["127.0.0.1:5701"])).await?;
//! let map = client.map("counters");
//! map.set(&Value::Int(1), &Value::Int(42)).await?;
//! assert_eq!(map.get(&Value::Int(1)).await?, Some(Value::Int(42)));
//! client.shutdown().await;
//! # Ok(()) }
//! ```

mod backup;
pub mod client;
pub mod cluster;
pub mod codec;
pub mod config;
pub mod connection;
mod connection_manager;
pub mod error;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod handle;
pub mod invocation;
pub mod protocol;
pub mod proxy;
pub mod serialization;

pub use client::Client;
pub use codec::{Address, MemberInfo, Uuid};
pub use config::ClientConfig;
pub use error::ClientError;
pub use protocol::dynamic_config::{MapConfig, QueueConfig};
pub use proxy::{Map, Queue};
pub use serialization::{Data, SerializationError, Value};
