//! The connections to the members, the cluster view that routes calls, and the task that
//! keeps both up to date as members join and leave: what the official clients call the
//! connection manager and the cluster service. Invocations reach members through it; the
//! client and its proxies sit above.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, Notify, OnceCell};
use tokio::task::JoinHandle;

use crate::backup::BackupAcks;
use crate::cluster::ClusterView;
use crate::codec::{MemberInfo, Uuid};
use crate::config::{normalize_address, ClientConfig};
use crate::connection::{Connection, ConnectionEvent, ConnectionSettings};
use crate::error::ClientError;
use crate::protocol::client::{self as client_codec, AuthRequest, ClusterViewEvent};
use crate::protocol::Operation;

/// Client type sent on authentication.
pub const CLIENT_TYPE: &str = "RST";
/// Client version sent on authentication: the member release whose protocol this speaks.
pub const CLIENT_VERSION: &str = "5.7.0";

/// (service name, object name) of a distributed object.
pub(crate) type ProxyKey = (String, String);

#[derive(Default)]
struct State {
    view: ClusterView,
    conns: HashMap<u64, Arc<Connection>>,
    by_member: HashMap<Uuid, u64>,
    connecting: HashSet<Uuid>,
    listener_conn: Option<u64>,
    /// Since when no connection is open (after the first one), and why the last attempt
    /// to reconnect failed.
    disconnected_since: Option<Instant>,
    reconnect_error: Option<ClientError>,
    /// Attempts to reconnect since the last connection closed.
    reconnect_attempts: u32,
    /// The cluster has been reported lost (once, until a connection opens again).
    lost_reported: bool,
}

/// A client's connections to the members and what it knows of the cluster; shared by every
/// clone of the client and every proxy (through [`ClientHandle`](crate::handle::ClientHandle)).
pub(crate) struct ConnectionManager {
    pub(crate) config: ClientConfig,
    pub(crate) client_uuid: Uuid,
    pub(crate) client_name: String,
    pub(crate) correlation: Arc<AtomicI64>,
    pub(crate) acks: Arc<BackupAcks>,
    next_conn_id: AtomicU64,
    state: RwLock<State>,
    changed: Notify,
    events: mpsc::UnboundedSender<ConnectionEvent>,
    shut_down: AtomicBool,
    pub(crate) reference_ids: AtomicI64,
    round_robin: AtomicUsize,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    pub(crate) proxies: Mutex<HashMap<ProxyKey, Arc<OnceCell<()>>>>,
}

static CLIENT_COUNTER: AtomicU64 = AtomicU64::new(0);

impl ConnectionManager {
    /// A manager for `config` that has not connected yet, and the receiver of its
    /// connections' events for [`ConnectionManager::start`].
    pub(crate) fn new(
        config: ClientConfig,
    ) -> (
        Arc<ConnectionManager>,
        mpsc::UnboundedReceiver<ConnectionEvent>,
    ) {
        let (tx, rx) = mpsc::unbounded_channel();
        let client_uuid = Uuid::new_v4();
        let client_name = config.client_name.clone().unwrap_or_else(|| {
            format!(
                "hazelcast-client-rs-{}-{}",
                std::process::id(),
                CLIENT_COUNTER.fetch_add(1, Ordering::Relaxed)
            )
        });
        let manager = Arc::new(ConnectionManager {
            config,
            client_uuid,
            client_name,
            correlation: Arc::new(AtomicI64::new(1)),
            acks: Arc::new(BackupAcks::default()),
            next_conn_id: AtomicU64::new(1),
            state: RwLock::new(State::default()),
            changed: Notify::new(),
            events: tx,
            shut_down: AtomicBool::new(false),
            reference_ids: AtomicI64::new(1),
            round_robin: AtomicUsize::new(0),
            tasks: Mutex::new(Vec::new()),
            proxies: Mutex::new(HashMap::new()),
        });
        (manager, rx)
    }

    /// Authenticates to the first reachable configured address, starts the task that keeps
    /// the connections up, and waits (up to the connect timeout) for the member list and,
    /// with smart routing, a connection to every member.
    pub(crate) async fn start(
        self: &Arc<Self>,
        events: mpsc::UnboundedReceiver<ConnectionEvent>,
    ) -> Result<(), ClientError> {
        self.connect_to_cluster().await?;
        let manager = tokio::spawn(manage(Arc::downgrade(self), events));
        self.tasks.lock().unwrap().push(manager);
        let deadline = Instant::now() + self.config.connect_timeout;
        while Instant::now() < deadline {
            let ready = {
                let st = self.state.read().unwrap();
                // Partition owners are not waited for: a fresh cluster assigns them on first use.
                !st.view.members.is_empty()
                    && (!self.config.smart_routing
                        || st
                            .view
                            .members
                            .iter()
                            .all(|m| st.by_member.contains_key(&m.uuid)))
            };
            if ready {
                break;
            }
            // Short waits: a change between the check and the wait is not missed for long.
            self.wait_for_change(
                deadline
                    .saturating_duration_since(Instant::now())
                    .min(Duration::from_millis(50)),
            )
            .await;
        }
        Ok(())
    }

    /// The members as last reported by the cluster.
    pub(crate) fn members(&self) -> Vec<MemberInfo> {
        self.state.read().unwrap().view.members.clone()
    }

    /// Members this client has an open connection to.
    pub(crate) fn connected_members(&self) -> Vec<Uuid> {
        let st = self.state.read().unwrap();
        st.by_member
            .iter()
            .filter(|(_, id)| st.conns.get(id).is_some_and(|c| !c.is_closed()))
            .map(|(u, _)| *u)
            .collect()
    }

    /// Requests sent so far on the connection to each member (heartbeats excluded).
    pub(crate) fn requests_sent_per_member(&self) -> HashMap<Uuid, u64> {
        let st = self.state.read().unwrap();
        st.by_member
            .iter()
            .filter_map(|(u, id)| {
                st.conns
                    .get(id)
                    .map(|c| (*u, c.sent.load(Ordering::Relaxed)))
            })
            .collect()
    }

    pub(crate) fn partition_count(&self) -> u32 {
        self.state.read().unwrap().view.partition_count
    }

    /// The member owning partition `partition`, if known.
    pub(crate) fn partition_owner(&self, partition: u32) -> Option<MemberInfo> {
        let st = self.state.read().unwrap();
        st.view
            .owner(partition)
            .and_then(|u| st.view.member(u).cloned())
    }

    pub(crate) fn is_shut_down(&self) -> bool {
        self.shut_down.load(Ordering::Acquire)
    }

    pub(crate) fn shutdown_now(&self) {
        if self.shut_down.swap(true, Ordering::AcqRel) {
            return;
        }
        let conns: Vec<_> = {
            let mut st = self.state.write().unwrap();
            st.by_member.clear();
            st.conns.drain().map(|(_, c)| c).collect()
        };
        for c in conns {
            c.close_with(ClientError::ShutDown);
        }
        for t in self.tasks.lock().unwrap().drain(..) {
            t.abort();
        }
        self.changed.notify_waiters();
    }

    /// [`ClientError::ClusterLost`] when no connection has been open for longer than the
    /// configured `cluster_lost_timeout`.
    pub(crate) fn cluster_lost(&self) -> Option<ClientError> {
        let st = self.state.read().unwrap();
        let since = st.disconnected_since?;
        let after = since.elapsed();
        if after < self.config.cluster_lost_timeout || st.conns.values().any(|c| !c.is_closed()) {
            return None;
        }
        let lost = ClientError::ClusterLost {
            cluster: self.config.cluster_name.clone(),
            after,
            last_error: st.reconnect_error.clone().map(Box::new),
        };
        if !st.lost_reported {
            drop(st);
            let mut st = self.state.write().unwrap();
            if !std::mem::replace(&mut st.lost_reported, true) {
                tracing::warn!(cluster = %self.config.cluster_name, "{lost}");
            }
        }
        Some(lost)
    }

    /// Waits until connections or the cluster view change, or `max` passes.
    pub(crate) async fn wait_for_change(&self, max: Duration) {
        let _ = tokio::time::timeout(max, self.changed.notified()).await;
    }

    fn settings(&self) -> ConnectionSettings {
        ConnectionSettings {
            connect_timeout: self.config.connect_timeout,
            heartbeat_interval: self.config.heartbeat_interval,
            heartbeat_timeout: self.config.heartbeat_timeout,
            limits: self.config.message_limits(),
            max_auth_message_bytes: self.config.max_auth_message_bytes,
        }
    }

    /// Whether backup-aware requests are safe now: every listed member has a connection on
    /// which this client listens for backup acknowledgements (else an ack could be lost
    /// and the call would wait for the backup timeout).
    pub(crate) fn backup_acks_ready(&self) -> bool {
        if !(self.config.smart_routing && self.config.backup_ack_to_client) {
            return false;
        }
        let st = self.state.read().unwrap();
        !st.view.members.is_empty()
            && st.view.members.iter().all(|m| {
                st.by_member
                    .get(&m.uuid)
                    .and_then(|id| st.conns.get(id))
                    .is_some_and(|c| !c.is_closed() && c.backup_listener.load(Ordering::Acquire))
            })
    }

    /// The connection for a request: the partition owner's if known and open, else any.
    pub(crate) fn pick_connection(&self, partition: Option<u32>) -> Option<Arc<Connection>> {
        let st = self.state.read().unwrap();
        if self.config.smart_routing {
            if let Some(owner) = partition.and_then(|p| st.view.owner(p)) {
                if let Some(c) = st.by_member.get(&owner).and_then(|id| st.conns.get(id)) {
                    if !c.is_closed() {
                        return Some(c.clone());
                    }
                }
            }
        }
        let open: Vec<&Arc<Connection>> = st.conns.values().filter(|c| !c.is_closed()).collect();
        if open.is_empty() {
            return None;
        }
        let i = self.round_robin.fetch_add(1, Ordering::Relaxed) % open.len();
        Some(open[i].clone())
    }

    /// Opens and authenticates a connection, then registers it.
    async fn open(&self, address: &str) -> Result<Arc<Connection>, ClientError> {
        let auth = AuthRequest {
            cluster_name: &self.config.cluster_name,
            client_uuid: self.client_uuid,
            client_type: CLIENT_TYPE,
            client_version: CLIENT_VERSION,
            client_name: &self.client_name,
            labels: &self.config.labels,
        };
        let id = self.next_conn_id.fetch_add(1, Ordering::Relaxed);
        let (conn, resp) = Connection::open(
            id,
            address,
            self.settings(),
            &auth,
            self.correlation.clone(),
            self.acks.clone(),
            self.events.clone(),
        )
        .await?;
        if self.config.smart_routing && self.config.backup_ack_to_client {
            // Backups acknowledge to the client only where it listens for them.
            if let Ok((_, rx)) = conn.call(client_codec::LocalBackupListener {}.encode()) {
                if let Ok(Ok(Ok(msg))) = tokio::time::timeout(self.config.connect_timeout, rx).await
                {
                    if !msg.is_error() {
                        conn.backup_listener.store(true, Ordering::Release);
                    }
                }
            }
            if !conn.backup_listener.load(Ordering::Acquire) {
                tracing::debug!(%address, "backup listener not registered");
            }
        }
        if self.is_shut_down() {
            conn.close_with(ClientError::ShutDown);
            return Err(ClientError::ShutDown);
        }
        let member = resp.member_uuid.ok_or_else(|| ClientError::Protocol {
            address: address.to_owned(),
            detail: "authentication answer without member UUID".into(),
        })?;
        let duplicate = {
            let mut st = self.state.write().unwrap();
            if resp.partition_count > 0 {
                st.view.set_partition_count(resp.partition_count as u32);
            }
            if st.view.members.is_empty() {
                if let Some((v, members)) = resp.member_list {
                    log_member_changes(&[], &members, v);
                    st.view.apply_members(v, members);
                }
                if let Some((v, parts)) = &resp.partitions {
                    st.view.apply_partitions(*v, parts);
                }
            }
            match st.by_member.get(&member).and_then(|id| st.conns.get(id)) {
                Some(existing) if !existing.is_closed() => Some(existing.clone()),
                _ => {
                    st.by_member.insert(member, id);
                    st.conns.insert(id, conn.clone());
                    if st.disconnected_since.is_some() {
                        tracing::info!(
                            %address,
                            member = %member,
                            attempts = st.reconnect_attempts,
                            "reconnected to the cluster"
                        );
                    }
                    st.disconnected_since = None;
                    st.reconnect_error = None;
                    st.reconnect_attempts = 0;
                    st.lost_reported = false;
                    None
                }
            }
        };
        if let Some(existing) = duplicate {
            conn.close("duplicate connection to a member");
            return Ok(existing);
        }
        self.changed.notify_waiters();
        Ok(conn)
    }

    /// Connects to the first reachable configured (or known member) address.
    pub(crate) async fn connect_to_cluster(&self) -> Result<(), ClientError> {
        let mut candidates: Vec<String> = self
            .config
            .addresses
            .iter()
            .map(|a| normalize_address(a))
            .collect();
        for m in &self.state.read().unwrap().view.members {
            let a = m.address.to_string();
            if !candidates.contains(&a) {
                candidates.push(a);
            }
        }
        let mut errors = Vec::new();
        for address in &candidates {
            match self.open(address).await {
                Ok(conn) => {
                    self.ensure_listener(Some(conn)).await;
                    return Ok(());
                }
                // A wrong cluster name is not fixed by trying elsewhere.
                Err(e @ ClientError::Authentication { .. }) => {
                    tracing::debug!(%address, error = %e.chain(), "authentication refused");
                    return Err(e);
                }
                Err(e) => {
                    tracing::debug!(%address, error = %e.chain(), "cannot open a connection");
                    errors.push(e)
                }
            }
        }
        Err(match errors.len() {
            1 => errors.pop().unwrap(),
            _ => ClientError::Unavailable(
                errors
                    .iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
        })
    }

    /// Registers the cluster view listener on a connection if none has it.
    async fn ensure_listener(&self, preferred: Option<Arc<Connection>>) {
        let conn = {
            let st = self.state.read().unwrap();
            if st
                .listener_conn
                .is_some_and(|id| st.conns.get(&id).is_some_and(|c| !c.is_closed()))
            {
                return;
            }
            match preferred {
                Some(c) if !c.is_closed() => c,
                _ => match st.conns.values().find(|c| !c.is_closed()) {
                    Some(c) => c.clone(),
                    None => return,
                },
            }
        };
        let Ok((_, rx)) = conn.call(client_codec::AddClusterViewListener {}.encode()) else {
            return;
        };
        if let Ok(Ok(Ok(msg))) = tokio::time::timeout(self.config.connect_timeout, rx).await {
            if !msg.is_error() {
                tracing::debug!(address = %conn.address, "cluster view listener registered");
                self.state.write().unwrap().listener_conn = Some(conn.id);
                return;
            }
        }
        tracing::debug!(address = %conn.address, "cluster view listener not registered");
    }

    fn handle_event(self: &Arc<Self>, conn_id: u64, msg: &crate::codec::ClientMessage) {
        let Ok(Some(event)) = client_codec::decode_cluster_view_event(msg) else {
            return;
        };
        let mut to_close = Vec::new();
        {
            let mut st = self.state.write().unwrap();
            if st.listener_conn.is_some_and(|id| id != conn_id) {
                return; // a stale listener's event
            }
            match event {
                ClusterViewEvent::Members { version, members } => {
                    let alive: HashSet<Uuid> = members.iter().map(|m| m.uuid).collect();
                    log_member_changes(&st.view.members, &members, version);
                    st.view.apply_members(version, members);
                    let gone: Vec<Uuid> = st
                        .by_member
                        .keys()
                        .filter(|u| !alive.contains(u))
                        .copied()
                        .collect();
                    for u in gone {
                        if let Some(id) = st.by_member.remove(&u) {
                            if let Some(c) = st.conns.remove(&id) {
                                to_close.push(c);
                            }
                        }
                    }
                }
                ClusterViewEvent::Partitions {
                    version,
                    partitions,
                } => {
                    if version != st.view.partition_version {
                        tracing::info!(
                            version,
                            owners = partitions.len(),
                            "partition table updated"
                        );
                    }
                    st.view.apply_partitions(version, &partitions)
                }
            }
        }
        for c in to_close {
            c.close("member left the cluster");
        }
        self.changed.notify_waiters();
        self.connect_missing_members();
    }

    fn handle_closed(&self, conn_id: u64) {
        let mut st = self.state.write().unwrap();
        if let Some(c) = st.conns.remove(&conn_id) {
            if let Some(u) = c.member_uuid() {
                if st.by_member.get(&u) == Some(&conn_id) {
                    st.by_member.remove(&u);
                }
            }
        }
        if st.listener_conn == Some(conn_id) {
            st.listener_conn = None;
        }
        if st.conns.values().all(|c| c.is_closed()) && st.disconnected_since.is_none() {
            tracing::info!(
                cluster = %self.config.cluster_name,
                "no connection to the cluster left; reconnecting"
            );
            st.disconnected_since = Some(Instant::now());
        }
        drop(st);
        self.changed.notify_waiters();
    }

    /// Opens connections (in the background) to listed members without one.
    fn connect_missing_members(self: &Arc<Self>) {
        if !self.config.smart_routing || self.is_shut_down() {
            return;
        }
        let targets: Vec<(Uuid, String)> = {
            let mut st = self.state.write().unwrap();
            let missing: Vec<(Uuid, String)> = st
                .view
                .members
                .iter()
                .filter(|m| !st.by_member.contains_key(&m.uuid) && !st.connecting.contains(&m.uuid))
                .map(|m| (m.uuid, m.address.to_string()))
                .collect();
            for (u, _) in &missing {
                st.connecting.insert(*u);
            }
            missing
        };
        for (uuid, address) in targets {
            let weak = Arc::downgrade(self);
            let task = tokio::spawn(async move {
                let Some(inner) = weak.upgrade() else { return };
                let _ = inner.open(&address).await;
                inner.state.write().unwrap().connecting.remove(&uuid);
            });
            let mut tasks = self.tasks.lock().unwrap();
            tasks.retain(|t| !t.is_finished());
            tasks.push(task);
        }
    }

    /// Periodic upkeep: reconnect when no connection is left, reopen missing member
    /// connections, keep the cluster view listener registered.
    async fn maintain(self: &Arc<Self>) {
        if self.is_shut_down() {
            return;
        }
        let no_connection = self.state.read().unwrap().conns.is_empty();
        if no_connection {
            let attempt = {
                let mut st = self.state.write().unwrap();
                st.reconnect_attempts += 1;
                st.reconnect_attempts
            };
            tracing::debug!(attempt, "reconnecting to the cluster");
            if let Err(e) = self.connect_to_cluster().await {
                // The first failure says why; the next ones (every half second) only with
                // debug.
                if attempt == 1 {
                    tracing::info!(attempt, error = %e.chain(), "cannot reconnect to the cluster");
                } else {
                    tracing::debug!(attempt, error = %e.chain(), "cannot reconnect to the cluster");
                }
                let mut st = self.state.write().unwrap();
                st.disconnected_since.get_or_insert_with(Instant::now);
                st.reconnect_error = Some(e);
                drop(st);
                // Calls waiting for a connection look at the lost timeout again.
                self.changed.notify_waiters();
            }
        }
        self.ensure_listener(None).await;
        self.connect_missing_members();
    }
}

/// Says which members joined and which left between two member lists.
fn log_member_changes(before: &[MemberInfo], after: &[MemberInfo], version: i32) {
    for m in after {
        if !before.iter().any(|b| b.uuid == m.uuid) {
            tracing::info!(member = %m.uuid, address = %m.address, version, "member joined");
        }
    }
    for m in before {
        if !after.iter().any(|a| a.uuid == m.uuid) {
            tracing::info!(member = %m.uuid, address = %m.address, version, "member left");
        }
    }
}

/// The cluster manager task: applies listener events and connection closures.
pub(crate) async fn manage(
    weak: Weak<ConnectionManager>,
    mut rx: mpsc::UnboundedReceiver<ConnectionEvent>,
) {
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            ev = rx.recv() => {
                let Some(ev) = ev else { return };
                let Some(inner) = weak.upgrade() else { return };
                match ev {
                    ConnectionEvent::Event(id, msg) => inner.handle_event(id, &msg),
                    ConnectionEvent::Closed(id) => {
                        inner.handle_closed(id);
                        inner.maintain().await;
                    }
                }
            }
            _ = tick.tick() => {
                let Some(inner) = weak.upgrade() else { return };
                inner.maintain().await;
            }
        }
    }
}
