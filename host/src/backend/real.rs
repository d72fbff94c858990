//! The real backend: Hazelcast members, through the `hazelcast-client` crate.
//!
//! One client connection (smart routing: a connection per member) serves every instance of a
//! run. Each instance is its own lock owner: its session makes every map call as its own
//! thread id, so "locked" increments of different instances exclude each other and an
//! instance may write the keys it holds locked.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hazelcast_client::{Client, ClientConfig, ClientError, Map, Queue, QueueConfig};

use super::{Backend, BackendInfo, OpError, OpResult, OwnerId, Session, Value};

/// How to reach the cluster.
#[derive(Debug, Clone)]
pub struct RealConfig {
    /// Member addresses, `host:port`.
    pub addresses: Vec<String>,
    pub cluster_name: String,
    /// Longest a non-blocking operation (retries included) may take.
    pub invocation_timeout: Duration,
    /// When set, every queue a scenario uses is configured with this max-size (through the
    /// members' dynamic configuration) before its first use.
    pub queue_capacity: Option<u32>,
    /// Prefixed to every structure name a scenario uses (empty: none), so that runs on one
    /// cluster keep apart and each can have a configuration of its own (see
    /// [`RealCluster::configure_namespace`]). Scenarios, histories and reports see the names
    /// without it.
    pub namespace: String,
    /// Fail a write whose backups did not acknowledge it within the client's backup timeout
    /// (5 s) with `unavailable` (outcome unknown) instead of counting it done: such a write is
    /// lost if its primary dies before the backups have it.
    pub fail_on_indeterminate: bool,
    /// A connection silent this long is closed; with every connection lost this long, the
    /// cluster counts as gone and operations fail at once (see [`RealCluster::gone`]).
    pub heartbeat_timeout: Duration,
    /// Connect to every member and send each operation to its partition's owner (true), or
    /// only to `addresses` and let them forward (false: a client bound to some members).
    pub smart_routing: bool,
}

impl RealConfig {
    pub fn new(addresses: Vec<String>, cluster_name: impl Into<String>) -> RealConfig {
        RealConfig {
            addresses,
            cluster_name: cluster_name.into(),
            invocation_timeout: Duration::from_secs(120),
            queue_capacity: None,
            namespace: String::new(),
            fail_on_indeterminate: false,
            heartbeat_timeout: Duration::from_secs(60),
            smart_routing: true,
        }
    }
}

/// Why the cluster could not be used.
#[derive(Debug, thiserror::Error)]
pub enum RealError {
    #[error("cannot reach the Hazelcast cluster `{cluster}` at {addresses}")]
    Unreachable {
        cluster: String,
        addresses: String,
        #[source]
        cause: ClientError,
    },
}

#[derive(Debug)]
struct Inner {
    client: Client,
    config: RealConfig,
    /// Queues whose max-size has been configured.
    configured_queues: tokio::sync::Mutex<HashSet<String>>,
    /// Every structure (service, full name) sessions used, for [`RealCluster::destroy_used`].
    used: Mutex<HashSet<(&'static str, String)>>,
}

const MAP_SERVICE: &str = "hz:impl:mapService";
const QUEUE_SERVICE: &str = "hz:impl:queueService";

/// A connected cluster. Cheap to clone.
#[derive(Debug, Clone)]
pub struct RealCluster {
    inner: Arc<Inner>,
}

impl RealCluster {
    /// Connects to the members; fails with [`RealError::Unreachable`] when none answers or
    /// the cluster name is wrong.
    pub async fn connect(config: RealConfig) -> Result<RealCluster, RealError> {
        let mut client_config =
            ClientConfig::new(config.cluster_name.clone(), config.addresses.clone())
                .with_invocation_timeout(config.invocation_timeout)
                .with_client_name("hzlab");
        client_config.connect_timeout = config.invocation_timeout.min(Duration::from_secs(5));
        client_config.fail_on_indeterminate_state = config.fail_on_indeterminate;
        client_config.heartbeat_timeout = config.heartbeat_timeout;
        client_config.heartbeat_interval = client_config
            .heartbeat_interval
            .min(config.heartbeat_timeout / 2);
        client_config.cluster_lost_timeout = config.heartbeat_timeout;
        client_config.smart_routing = config.smart_routing;
        let client =
            Client::connect(client_config)
                .await
                .map_err(|source| RealError::Unreachable {
                    cluster: config.cluster_name.clone(),
                    addresses: config.addresses.join(","),
                    cause: source,
                })?;
        Ok(RealCluster {
            inner: Arc::new(Inner {
                client,
                config,
                configured_queues: Default::default(),
                used: Default::default(),
            }),
        })
    }

    /// The name a scenario's structure `name` has on the cluster.
    pub fn full_name(&self, name: &str) -> String {
        format!("{}{name}", self.inner.config.namespace)
    }

    /// Configures every map and queue of this cluster's namespace (member-side dynamic
    /// configuration, by wildcard): backup counts, and queue max-size (`None`: unbounded).
    /// Call before any scenario uses them.
    pub async fn configure_namespace(
        &self,
        backup_count: u32,
        async_backup_count: u32,
        queue_capacity: Option<u32>,
    ) -> Result<(), ClientError> {
        let pattern = self.full_name("*");
        let mut map = hazelcast_client::MapConfig::new(pattern.clone());
        map.backup_count = backup_count.min(6) as i32;
        map.async_backup_count = async_backup_count.min(6) as i32;
        let (backups, async_backups) = (map.backup_count, map.async_backup_count);
        self.inner.client.add_map_config(map).await?;
        let mut queue = QueueConfig::new(pattern);
        queue.max_size = queue_capacity.map_or(0, |c| c.min(i32::MAX as u32) as i32);
        queue.backup_count = backups;
        queue.async_backup_count = async_backups;
        self.inner.client.add_queue_config(queue).await
    }

    /// Destroys every map and queue the sessions of this cluster used; the first error, if
    /// any, after trying them all.
    pub async fn destroy_used(&self) -> Result<(), ClientError> {
        let used: Vec<(&'static str, String)> = self
            .inner
            .used
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain()
            .collect();
        let mut first = Ok(());
        for (service, name) in used {
            if let Err(e) = self.inner.client.destroy_object(service, &name).await {
                if first.is_ok() {
                    first = Err(e);
                }
            }
        }
        first
    }

    fn note_used(&self, service: &'static str, full_name: &str) {
        self.inner
            .used
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert((service, full_name.to_owned()));
    }

    /// Another connection with this one's configuration but bound to `addresses` only (no
    /// smart routing): what a plan step's `connect` gives its instances.
    pub async fn bound_to(&self, addresses: Vec<String>) -> Result<RealCluster, RealError> {
        let mut config = self.inner.config.clone();
        config.addresses = addresses;
        config.smart_routing = false;
        RealCluster::connect(config).await
    }

    pub fn client(&self) -> &Client {
        &self.inner.client
    }

    /// Why the cluster counts as gone (every member unreachable for longer than the
    /// heartbeat timeout), if it does.
    pub fn gone(&self) -> Option<String> {
        self.inner
            .client
            .cluster_lost()
            .map(|e| e.chain().to_string())
    }

    /// Closes the connections.
    pub async fn shutdown(&self) {
        self.inner.client.shutdown().await;
    }
}

impl Backend for RealCluster {
    type Session = RealSession;

    fn session(&self, owner: OwnerId) -> RealSession {
        RealSession {
            cluster: self.clone(),
            thread_id: owner as i64,
            maps: Mutex::default(),
            queues: Mutex::default(),
        }
    }

    fn info(&self) -> BackendInfo {
        let c = &self.inner.config;
        let members = self.inner.client.members().len();
        BackendInfo {
            kind: "real",
            description: format!(
                "Hazelcast cluster `{}` at {}",
                c.cluster_name,
                c.addresses.join(",")
            ),
            members,
            members_at_end: members,
            partitions: self.inner.client.partition_count(),
            backup_count: None,
            async_backup_count: None,
            queue_capacity: c.queue_capacity,
        }
    }

    fn gone(&self) -> Option<String> {
        RealCluster::gone(self)
    }
}

/// One instance's view of the cluster: its own thread id, so its own locks.
#[derive(Debug)]
pub struct RealSession {
    cluster: RealCluster,
    thread_id: i64,
    maps: Mutex<HashMap<String, Map>>,
    queues: Mutex<HashMap<String, Queue>>,
}

fn op_error(e: ClientError) -> OpError {
    match e {
        ClientError::Timeout { .. } => OpError::Timeout,
        ClientError::NotLockOwner { .. } => OpError::NotLockOwner,
        e @ (ClientError::Connect { .. }
        | ClientError::ConnectionClosed { .. }
        | ClientError::MessageLimit { .. }
        | ClientError::Indeterminate { .. }
        | ClientError::Unavailable(_)
        | ClientError::ClusterLost { .. }
        | ClientError::ShutDown) => OpError::Unavailable(e.chain().to_string()),
        e => OpError::Other(e.chain().to_string()),
    }
}

impl RealSession {
    fn map(&self, name: &str) -> Map {
        let mut maps = self.maps.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(m) = maps.get(name) {
            return m.clone();
        }
        let full = self.cluster.full_name(name);
        self.cluster.note_used(MAP_SERVICE, &full);
        let m = self
            .cluster
            .inner
            .client
            .map(&full)
            .with_thread_id(self.thread_id);
        maps.insert(name.to_owned(), m.clone());
        m
    }

    async fn queue(&self, name: &str) -> OpResult<Queue> {
        if let Some(q) = self
            .queues
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
        {
            return Ok(q.clone());
        }
        let inner = &self.cluster.inner;
        let full = self.cluster.full_name(name);
        if let Some(capacity) = inner.config.queue_capacity {
            let mut configured = inner.configured_queues.lock().await;
            if !configured.contains(&full) {
                let mut config = QueueConfig::new(full.clone());
                config.max_size = capacity.min(i32::MAX as u32) as i32;
                inner
                    .client
                    .add_queue_config(config)
                    .await
                    .map_err(op_error)?;
                configured.insert(full.clone());
            }
        }
        self.cluster.note_used(QUEUE_SERVICE, &full);
        let q = inner.client.queue(&full);
        self.queues
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_owned(), q.clone());
        Ok(q)
    }
}

impl Session for RealSession {
    async fn get(&self, map: &str, key: &Value) -> OpResult<Option<Value>> {
        self.map(map).get(key).await.map_err(op_error)
    }

    async fn put(&self, map: &str, key: &Value, value: &Value) -> OpResult<Option<Value>> {
        self.map(map).put(key, value).await.map_err(op_error)
    }

    async fn set(&self, map: &str, key: &Value, value: &Value) -> OpResult<()> {
        self.map(map).set(key, value).await.map_err(op_error)
    }

    async fn remove(&self, map: &str, key: &Value) -> OpResult<Option<Value>> {
        self.map(map).remove(key).await.map_err(op_error)
    }

    async fn contains_key(&self, map: &str, key: &Value) -> OpResult<bool> {
        self.map(map).contains_key(key).await.map_err(op_error)
    }

    async fn size(&self, map: &str) -> OpResult<u64> {
        let n = self.map(map).size().await.map_err(op_error)?;
        Ok(n.max(0) as u64)
    }

    async fn put_if_absent(
        &self,
        map: &str,
        key: &Value,
        value: &Value,
    ) -> OpResult<Option<Value>> {
        self.map(map)
            .put_if_absent(key, value)
            .await
            .map_err(op_error)
    }

    async fn clear(&self, map: &str) -> OpResult<()> {
        self.map(map).clear().await.map_err(op_error)
    }

    async fn replace(&self, map: &str, key: &Value, value: &Value) -> OpResult<Option<Value>> {
        self.map(map).replace(key, value).await.map_err(op_error)
    }

    async fn replace_if_same(
        &self,
        map: &str,
        key: &Value,
        expected: &Value,
        new: &Value,
    ) -> OpResult<bool> {
        self.map(map)
            .replace_if_same(key, expected, new)
            .await
            .map_err(op_error)
    }

    async fn lock(&self, map: &str, key: &Value) -> OpResult<()> {
        self.map(map)
            .lock(key, self.thread_id)
            .await
            .map_err(op_error)
    }

    async fn try_lock(&self, map: &str, key: &Value, timeout: Duration) -> OpResult<bool> {
        self.map(map)
            .try_lock(key, self.thread_id, timeout)
            .await
            .map_err(op_error)
    }

    async fn unlock(&self, map: &str, key: &Value) -> OpResult<()> {
        self.map(map)
            .unlock(key, self.thread_id)
            .await
            .map_err(op_error)
    }

    async fn is_locked(&self, map: &str, key: &Value) -> OpResult<bool> {
        self.map(map).is_locked(key).await.map_err(op_error)
    }

    async fn offer(&self, queue: &str, item: &Value, timeout: Option<Duration>) -> OpResult<bool> {
        let q = self.queue(queue).await?;
        q.offer(item, timeout.unwrap_or(Duration::ZERO))
            .await
            .map_err(op_error)
    }

    async fn queue_put(&self, queue: &str, item: &Value) -> OpResult<()> {
        let q = self.queue(queue).await?;
        q.put(item).await.map_err(op_error)
    }

    async fn poll(&self, queue: &str, timeout: Option<Duration>) -> OpResult<Option<Value>> {
        let q = self.queue(queue).await?;
        q.poll(timeout.unwrap_or(Duration::ZERO))
            .await
            .map_err(op_error)
    }

    async fn take(&self, queue: &str) -> OpResult<Value> {
        let q = self.queue(queue).await?;
        q.take().await.map_err(op_error)
    }

    async fn queue_size(&self, queue: &str) -> OpResult<u64> {
        let q = self.queue(queue).await?;
        let n = q.size().await.map_err(op_error)?;
        Ok(n.max(0) as u64)
    }
}
