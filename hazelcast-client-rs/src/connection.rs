//! One TCP connection to a member: the `CP2` preamble, a reader task that reassembles
//! messages and completes pending calls by correlation id, a writer task that batches
//! outgoing bytes, and a heartbeat task (ping when idle, close when silent).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::backup::BackupAcks;
use crate::codec::frame::decode_frame;
use crate::codec::{ClientMessage, MessageAssembler, Uuid};
use crate::error::ClientError;
use crate::protocol::client::{self as client_codec, auth_status, AuthRequest, AuthResponse};

/// The protocol preamble a client sends first.
pub const PREAMBLE: &[u8; 3] = b"CP2";

pub(crate) type Reply = Result<ClientMessage, ClientError>;

/// What a connection tells the cluster manager.
#[derive(Debug)]
pub(crate) enum ConnectionEvent {
    /// An event message (listener events).
    Event(u64, ClientMessage),
    /// The connection closed.
    Closed(u64),
}

/// Timing settings of a connection.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnectionSettings {
    pub connect_timeout: Duration,
    pub heartbeat_interval: Duration,
    pub heartbeat_timeout: Duration,
}

struct Pending {
    closed: Option<ClientError>,
    calls: HashMap<i64, oneshot::Sender<Reply>>,
}

pub(crate) struct Connection {
    pub id: u64,
    pub address: String,
    member_uuid: Mutex<Option<Uuid>>,
    writer: mpsc::UnboundedSender<Vec<u8>>,
    pending: Mutex<Pending>,
    correlation: Arc<AtomicI64>,
    acks: Arc<BackupAcks>,
    /// The member sends this client backup acknowledgements over this connection.
    pub backup_listener: AtomicBool,
    epoch: Instant,
    last_read_ms: AtomicU64,
    last_write_ms: AtomicU64,
    closing: AtomicBool,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    events: mpsc::UnboundedSender<ConnectionEvent>,
    /// Invocations sent on this connection (pings excluded).
    pub sent: AtomicU64,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Connection#{}({})", self.id, self.address)
    }
}

impl Connection {
    /// Opens a connection to `address`, sends the preamble and authenticates.
    pub(crate) async fn open(
        id: u64,
        address: &str,
        settings: ConnectionSettings,
        auth: &AuthRequest<'_>,
        correlation: Arc<AtomicI64>,
        acks: Arc<BackupAcks>,
        events: mpsc::UnboundedSender<ConnectionEvent>,
    ) -> Result<(Arc<Connection>, AuthResponse), ClientError> {
        let connect_err = |reason: String| ClientError::Connect {
            address: address.to_owned(),
            reason,
        };
        let stream = tokio::time::timeout(settings.connect_timeout, TcpStream::connect(address))
            .await
            .map_err(|_| connect_err(format!("no answer within {:?}", settings.connect_timeout)))?
            .map_err(|e| connect_err(e.to_string()))?;
        stream.set_nodelay(true).ok();
        let (mut rd, mut wr) = stream.into_split();
        wr.write_all(PREAMBLE)
            .await
            .map_err(|e| connect_err(e.to_string()))?;
        let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
        let conn = Arc::new(Connection {
            id,
            address: address.to_owned(),
            member_uuid: Mutex::new(None),
            writer: tx,
            pending: Mutex::new(Pending {
                closed: None,
                calls: HashMap::new(),
            }),
            correlation,
            acks,
            backup_listener: AtomicBool::new(false),
            epoch: Instant::now(),
            last_read_ms: AtomicU64::new(0),
            last_write_ms: AtomicU64::new(0),
            closing: AtomicBool::new(false),
            tasks: Mutex::new(Vec::new()),
            events,
            sent: AtomicU64::new(0),
        });

        // Writer: batches whatever is queued into one write.
        let c = Arc::downgrade(&conn);
        let writer = tokio::spawn(async move {
            let mut buf = Vec::with_capacity(64 * 1024);
            while let Some(first) = rx.recv().await {
                buf.clear();
                buf.extend_from_slice(&first);
                while buf.len() < 256 * 1024 {
                    match rx.try_recv() {
                        Ok(more) => buf.extend_from_slice(&more),
                        Err(_) => break,
                    }
                }
                if let Err(e) = wr.write_all(&buf).await {
                    if let Some(c) = c.upgrade() {
                        c.close_with(ClientError::ConnectionClosed {
                            address: c.address.clone(),
                            reason: format!("write failed: {e}"),
                        });
                    }
                    return;
                }
                if let Some(c) = c.upgrade() {
                    c.last_write_ms.store(c.now_ms(), Ordering::Relaxed);
                }
            }
        });

        // Reader: frames -> messages -> pending calls or events.
        let c = Arc::downgrade(&conn);
        let reader = tokio::spawn(async move {
            let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
            let mut start = 0usize;
            let mut assembler = MessageAssembler::new();
            let mut chunk = vec![0u8; 64 * 1024];
            let failure = loop {
                let n = match rd.read(&mut chunk).await {
                    Ok(0) => break "closed by the member".to_owned(),
                    Ok(n) => n,
                    Err(e) => break format!("read failed: {e}"),
                };
                let Some(conn) = c.upgrade() else { return };
                conn.last_read_ms.store(conn.now_ms(), Ordering::Relaxed);
                buf.extend_from_slice(&chunk[..n]);
                let mut protocol_error = None;
                loop {
                    match decode_frame(&buf[start..]) {
                        Ok(None) => break,
                        Ok(Some((frame, used))) => {
                            start += used;
                            match assembler.push(frame) {
                                Ok(Some(msg)) => conn.dispatch(msg),
                                Ok(None) => {}
                                Err(e) => {
                                    protocol_error = Some(e);
                                    break;
                                }
                            }
                        }
                        Err(e) => {
                            protocol_error = Some(e);
                            break;
                        }
                    }
                }
                if let Some(e) = protocol_error {
                    conn.close_with(ClientError::protocol(&conn.address, e));
                    return;
                }
                if start == buf.len() {
                    buf.clear();
                    start = 0;
                } else if start > 64 * 1024 {
                    buf.drain(..start);
                    start = 0;
                }
            };
            if let Some(conn) = c.upgrade() {
                conn.close_with(ClientError::ConnectionClosed {
                    address: conn.address.clone(),
                    reason: failure,
                });
            }
        });
        conn.tasks.lock().unwrap().extend([writer, reader]);

        // Authenticate within the connect timeout.
        let reply = tokio::time::timeout(
            settings.connect_timeout,
            conn.call(client_codec::encode_authentication(auth))?.1,
        )
        .await;
        let msg = match reply {
            Err(_) => {
                conn.close("no authentication answer");
                return Err(connect_err(format!(
                    "no authentication answer within {:?}",
                    settings.connect_timeout
                )));
            }
            Ok(Err(_)) => {
                return Err(conn.close_error().unwrap_or_else(|| {
                    connect_err("connection closed during authentication".into())
                }))
            }
            Ok(Ok(Err(e))) => {
                conn.close("authentication failed");
                return Err(match e {
                    ClientError::ConnectionClosed { address, reason } => ClientError::Connect {
                        address,
                        reason: format!("closed during authentication: {reason}"),
                    },
                    e => e,
                });
            }
            Ok(Ok(Ok(msg))) => msg,
        };
        if msg.is_error() {
            conn.close("authentication failed");
            let holders = crate::codec::builtin::error_holders(&msg)
                .map_err(|e| ClientError::protocol(address, e))?;
            let err = ClientError::from_holders(holders);
            return Err(match err {
                ClientError::Server {
                    code: crate::error::codes::AUTHENTICATION,
                    class_name,
                    message,
                } => ClientError::Authentication {
                    address: address.to_owned(),
                    reason: format!("{class_name}: {}", message.unwrap_or_default()),
                },
                e => e,
            });
        }
        let resp = match client_codec::decode_authentication(&msg) {
            Ok(r) => r,
            Err(e) => {
                conn.close("malformed authentication answer");
                return Err(ClientError::protocol(address, e));
            }
        };
        if resp.status != auth_status::AUTHENTICATED {
            conn.close("authentication refused");
            let reason = match resp.status {
                auth_status::CREDENTIALS_FAILED => format!(
                    "credentials refused (is the cluster name {:?} right?)",
                    auth.cluster_name
                ),
                auth_status::SERIALIZATION_VERSION_MISMATCH => {
                    "serialization version mismatch".to_owned()
                }
                auth_status::NOT_ALLOWED_IN_CLUSTER => "client not allowed in cluster".to_owned(),
                s => format!("status {s}"),
            };
            return Err(ClientError::Authentication {
                address: address.to_owned(),
                reason,
            });
        }
        *conn.member_uuid.lock().unwrap() = resp.member_uuid;

        // Heartbeat: ping when idle, close when silent.
        let c = Arc::downgrade(&conn);
        let hb = tokio::spawn(async move {
            let tick = (settings.heartbeat_interval / 2)
                .clamp(Duration::from_millis(100), Duration::from_secs(1));
            loop {
                tokio::time::sleep(tick).await;
                let Some(conn) = c.upgrade() else { return };
                let now = conn.now_ms();
                let read = conn.last_read_ms.load(Ordering::Relaxed);
                let wrote = conn.last_write_ms.load(Ordering::Relaxed);
                if now.saturating_sub(read) > settings.heartbeat_timeout.as_millis() as u64 {
                    conn.close_with(ClientError::ConnectionClosed {
                        address: conn.address.clone(),
                        reason: format!("nothing heard for {:?}", settings.heartbeat_timeout),
                    });
                    return;
                }
                if now.saturating_sub(wrote) > settings.heartbeat_interval.as_millis() as u64 {
                    // The answer only refreshes the read time; nobody waits for it.
                    let _ = conn.call(client_codec::encode_ping());
                }
            }
        });
        conn.tasks.lock().unwrap().push(hb);
        Ok((conn, resp))
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    pub fn member_uuid(&self) -> Option<Uuid> {
        *self.member_uuid.lock().unwrap()
    }

    pub fn is_closed(&self) -> bool {
        self.closing.load(Ordering::Acquire)
    }

    fn close_error(&self) -> Option<ClientError> {
        self.pending.lock().unwrap().closed.clone()
    }

    fn dispatch(&self, msg: ClientMessage) {
        if msg.is_event() {
            if msg.message_type() == client_codec::EVENT_BACKUP {
                if let Ok(id) = client_codec::decode_backup_event(&msg) {
                    self.acks.ack(id);
                }
                return;
            }
            let _ = self.events.send(ConnectionEvent::Event(self.id, msg));
            return;
        }
        let id = msg.correlation_id();
        let tx = self.pending.lock().unwrap().calls.remove(&id);
        if let Some(tx) = tx {
            let _ = tx.send(Ok(msg));
        }
    }

    /// Sends a request; the receiver gets the answer, or the error that closed the
    /// connection. An `Err` here means the request was not sent.
    pub(crate) fn call(
        &self,
        msg: ClientMessage,
    ) -> Result<(i64, oneshot::Receiver<Reply>), ClientError> {
        let id = self.correlation.fetch_add(1, Ordering::Relaxed);
        self.call_with_id(msg, id)
    }

    /// Like [`Connection::call`] with a correlation id taken by the caller.
    pub(crate) fn call_with_id(
        &self,
        mut msg: ClientMessage,
        id: i64,
    ) -> Result<(i64, oneshot::Receiver<Reply>), ClientError> {
        msg.set_correlation_id(id);
        let (tx, rx) = oneshot::channel();
        {
            let mut p = self.pending.lock().unwrap();
            if let Some(e) = &p.closed {
                return Err(e.clone());
            }
            p.calls.insert(id, tx);
        }
        if self.writer.send(msg.to_bytes()).is_err() {
            self.pending.lock().unwrap().calls.remove(&id);
            return Err(ClientError::ConnectionClosed {
                address: self.address.clone(),
                reason: "writer stopped".into(),
            });
        }
        Ok((id, rx))
    }

    /// Forgets a pending call whose caller gave up waiting.
    pub(crate) fn forget(&self, correlation_id: i64) {
        self.pending.lock().unwrap().calls.remove(&correlation_id);
    }

    pub(crate) fn close(&self, reason: &str) {
        self.close_with(ClientError::ConnectionClosed {
            address: self.address.clone(),
            reason: reason.to_owned(),
        });
    }

    /// Closes the connection: pending calls fail with `err`, tasks stop, the manager hears.
    pub(crate) fn close_with(&self, err: ClientError) {
        if self.closing.swap(true, Ordering::AcqRel) {
            return;
        }
        let calls = {
            let mut p = self.pending.lock().unwrap();
            p.closed = Some(err.clone());
            std::mem::take(&mut p.calls)
        };
        for (_, tx) in calls {
            let _ = tx.send(Err(err.clone()));
        }
        let _ = self.events.send(ConnectionEvent::Closed(self.id));
        for t in self.tasks.lock().unwrap().drain(..) {
            t.abort();
        }
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        for t in self.tasks.get_mut().unwrap().drain(..) {
            t.abort();
        }
    }
}
