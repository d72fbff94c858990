//! The client: the public handle to a cluster. Its connections and cluster view are kept
//! by the connection manager (`connection_manager.rs`); proxies made from it share them
//! through a `ClientHandle` (`handle.rs`).

use std::collections::HashMap;
use std::sync::Arc;

use crate::codec::{MemberInfo, Uuid};
use crate::config::ClientConfig;
use crate::connection_manager::ConnectionManager;
use crate::error::ClientError;
use crate::handle::ClientHandle;
use crate::invocation::{Request, Wait};
use crate::protocol::dynamic_config::{MapConfig, QueueConfig};
use crate::proxy::{Map, Queue, TypedMap};
use crate::serialization::{Value, ValueType};

/// A connected client. Cheap to clone; all clones share the connections. The client shuts
/// down when the last clone (and the last proxy made from it) is dropped, or on
/// [`Client::shutdown`].
#[derive(Clone)]
pub struct Client {
    handle: Arc<ClientHandle>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Client({} {})",
            self.inner().client_name,
            self.inner().client_uuid
        )
    }
}

impl Client {
    /// Connects to the cluster: authenticates to the first reachable configured address,
    /// learns the member list and partition table, and (with smart routing) opens a
    /// connection to every member.
    pub async fn connect(config: ClientConfig) -> Result<Client, ClientError> {
        config.validate()?;
        let (manager, events) = ConnectionManager::new(config);
        // Made first: if connecting fails, dropping it shuts the manager's tasks down.
        let client = Client {
            handle: Arc::new(ClientHandle::new(manager.clone())),
        };
        manager.start(events).await?;
        Ok(client)
    }

    fn inner(&self) -> &Arc<ConnectionManager> {
        self.handle.manager()
    }

    /// A handle to the map `name` (nothing is sent until it is used). Keys and values are
    /// [`Value`]s; [`Client::map_of`] gives a map of fixed Rust types.
    pub fn map(&self, name: &str) -> Map {
        Map::new(self.handle.clone(), name)
    }

    /// A handle to the map `name` with keys `K` and values `V`, e.g.
    /// `client.map_of::<String, i64>("counters")` (see [`TypedMap`]).
    pub fn map_of<K: ValueType, V: ValueType>(&self, name: &str) -> TypedMap<K, V> {
        self.map(name).typed()
    }

    /// A handle to the queue `name` (nothing is sent until it is used).
    pub fn queue(&self, name: &str) -> Queue {
        Queue::new(self.handle.clone(), name)
    }

    /// This client's UUID (lock ownership is client UUID + thread id).
    pub fn client_uuid(&self) -> Uuid {
        self.inner().client_uuid
    }

    /// This client's name, as members show it (the configured one or a generated one).
    pub fn client_name(&self) -> &str {
        &self.inner().client_name
    }

    /// The members as last reported by the cluster.
    pub fn members(&self) -> Vec<MemberInfo> {
        self.inner().members()
    }

    /// Members this client has an open connection to.
    pub fn connected_members(&self) -> Vec<Uuid> {
        self.inner().connected_members()
    }

    /// Requests sent so far on the connection to each member (heartbeats excluded).
    pub fn requests_sent_per_member(&self) -> HashMap<Uuid, u64> {
        self.inner().requests_sent_per_member()
    }

    /// Whether writes currently use backup acknowledgements sent straight to the client.
    pub fn backup_acks_active(&self) -> bool {
        self.inner().backup_acks_ready()
    }

    /// The cluster's partition count (271 by default on members).
    pub fn partition_count(&self) -> u32 {
        self.inner().partition_count()
    }

    /// The member owning partition `partition`, if known.
    pub fn partition_owner(&self, partition: u32) -> Option<MemberInfo> {
        self.inner().partition_owner(partition)
    }

    /// The partition of a key, as members compute it.
    pub fn partition_id(&self, key: impl Into<Value>) -> u32 {
        self.handle.partition_id(&key.into())
    }

    /// Adds a map configuration at run time (applies to maps of that name not yet created).
    pub async fn add_map_config(&self, config: MapConfig) -> Result<(), ClientError> {
        self.handle
            .invoke(Request {
                // Sent again after an unknown outcome, although DynamicConfig.yaml does not
                // declare it retryable: a member that has the same config already accepts it.
                retryable: true,
                ..self
                    .handle
                    .request("add map config", &config.request(), Wait::Normal)
            })
            .await
            .map(|_| ())
    }

    /// Adds a queue configuration at run time (max size, backup counts).
    pub async fn add_queue_config(&self, config: QueueConfig) -> Result<(), ClientError> {
        self.handle
            .invoke(Request {
                // As for maps: the same config added twice is accepted.
                retryable: true,
                ..self
                    .handle
                    .request("add queue config", &config.request(), Wait::Normal)
            })
            .await
            .map(|_| ())
    }

    /// Destroys a distributed object (`service_name` e.g. `hz:impl:mapService`).
    pub async fn destroy_object(&self, service_name: &str, name: &str) -> Result<(), ClientError> {
        self.handle.destroy_object(service_name, name).await
    }

    /// [`ClientError::ClusterLost`] while the cluster counts as gone: no connection for
    /// longer than the configured `cluster_lost_timeout`.
    pub fn cluster_lost(&self) -> Option<ClientError> {
        self.inner().cluster_lost()
    }

    /// Closes all connections; later calls fail with [`ClientError::ShutDown`].
    pub async fn shutdown(&self) {
        self.inner().shutdown_now();
    }
}
