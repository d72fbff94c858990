//! One TCP connection to a member: the `CP2` preamble, a reader task that reassembles
//! messages and completes pending calls by correlation id, a writer task that batches
//! outgoing bytes, and a heartbeat task (ping when idle, close when silent).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::backup::BackupAcks;
use crate::codec::frame::{frame_flags, frame_length, HEADER_SIZE, MAX_FRAME_SIZE};
use crate::codec::message::held_size;
use crate::codec::{
    ClientMessage, CodecError, Frame, Limit, Limits, MessageAssembler, ReadError, Uuid,
};
use crate::error::{ClientError, ConnectFailure};
use crate::protocol::client::{self as client_codec, auth_status, AuthRequest, AuthResponse};
use crate::protocol::Operation;

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
    /// Limits once authenticated.
    pub limits: Limits,
    /// The limit before the authentication answer is complete.
    pub max_auth_message_bytes: usize,
}

/// Bytes read from the socket at a time; frames up to this size are decoded from the read
/// buffer, longer ones are read straight into their content.
const READ_CHUNK: usize = 64 * 1024;

/// Why the reader stopped.
enum Stop {
    /// The socket closed or failed.
    Closed(String),
    /// Bytes that are not the protocol, or a frame over the limits.
    Bad(ReadError),
}

/// The reading side of a connection: a read buffer of at most `2 * READ_CHUNK` bytes, and
/// the assembler whose limits every frame's declared length is checked against from its
/// header, before its content is read or room is made for it.
struct Inbound {
    buf: Vec<u8>,
    start: usize,
    assembler: MessageAssembler,
}

impl Inbound {
    fn new(limits: Limits) -> Inbound {
        Inbound {
            buf: Vec::with_capacity(2 * READ_CHUNK),
            start: 0,
            assembler: MessageAssembler::with_limits(limits),
        }
    }

    /// The next whole frame; `touch` is called whenever bytes arrive.
    async fn next_frame<R: AsyncRead + Unpin>(
        &mut self,
        rd: &mut R,
        touch: &impl Fn(),
    ) -> Result<Frame, Stop> {
        loop {
            let avail = &self.buf[self.start..];
            if let Some(len) = frame_length(avail).map_err(|e| Stop::Bad(e.into()))? {
                self.assembler.admit(len).map_err(|e| Stop::Bad(e.into()))?;
                let flags = frame_flags(avail);
                if avail.len() >= len {
                    let frame = Frame::new(flags, avail[HEADER_SIZE..len].to_vec());
                    tracing::trace!(len, flags, "frame read");
                    self.start += len;
                    return Ok(frame);
                }
                if len > READ_CHUNK {
                    // Within the limits: read it straight into a content of its size.
                    let size = len - HEADER_SIZE;
                    let mut content = Vec::with_capacity(size);
                    content.extend_from_slice(&avail[HEADER_SIZE..]);
                    self.buf.clear();
                    self.start = 0;
                    while content.len() < size {
                        let want = (size - content.len()) as u64;
                        read_some(&mut (&mut *rd).take(want), &mut content).await?;
                        touch();
                    }
                    tracing::trace!(len, flags, "frame read");
                    return Ok(Frame::new(flags, content));
                }
            }
            // A partial header or a partial frame of at most READ_CHUNK bytes is left: keep
            // it at the start, then read at most READ_CHUNK more (no growth past 2 chunks).
            if self.start > 0 {
                self.buf.drain(..self.start);
                self.start = 0;
            }
            read_some(&mut (&mut *rd).take(READ_CHUNK as u64), &mut self.buf).await?;
            touch();
        }
    }
}

/// Reads at least one byte into `buf`'s spare room (growing it only if it has none).
async fn read_some<R: AsyncRead + Unpin>(rd: &mut R, buf: &mut Vec<u8>) -> Result<(), Stop> {
    match rd.read_buf(buf).await {
        Ok(0) => Err(Stop::Closed("closed by the member".to_owned())),
        Ok(_) => Ok(()),
        Err(e) => Err(Stop::Closed(format!("read failed: {e}"))),
    }
}

/// Connects to `address` within `timeout` and sends the preamble.
async fn connect(
    address: &str,
    timeout: Duration,
) -> Result<(OwnedReadHalf, OwnedWriteHalf), ClientError> {
    let connect_err = |cause: ConnectFailure| {
        tracing::debug!(%cause, "cannot connect");
        ClientError::Connect {
            address: address.to_owned(),
            cause,
        }
    };
    tracing::debug!("connecting");
    let stream = tokio::time::timeout(timeout, TcpStream::connect(address))
        .await
        .map_err(|_| connect_err(ConnectFailure::NoAnswer(timeout)))?
        .map_err(|e| connect_err(e.into()))?;
    stream.set_nodelay(true).ok();
    let (rd, mut wr) = stream.into_split();
    wr.write_all(PREAMBLE)
        .await
        .map_err(|e| connect_err(e.into()))?;
    Ok((rd, wr))
}

/// Shows an optional value, `-` for none (in events).
struct DisplayOpt<T>(Option<T>);

impl<T: std::fmt::Display> std::fmt::Display for DisplayOpt<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Some(v) => v.fmt(f),
            None => f.write_str("-"),
        }
    }
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
    /// The span of this connection's events: id, address, member once authenticated.
    span: tracing::Span,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Connection#{}({})", self.id, self.address)
    }
}

impl Connection {
    /// Opens a connection to `address`, sends the preamble and authenticates: the writer
    /// and reader tasks run from the preamble on, the heartbeat task once authenticated.
    pub(crate) async fn open(
        id: u64,
        address: &str,
        settings: ConnectionSettings,
        auth: &AuthRequest<'_>,
        correlation: Arc<AtomicI64>,
        acks: Arc<BackupAcks>,
        events: mpsc::UnboundedSender<ConnectionEvent>,
    ) -> Result<(Arc<Connection>, AuthResponse), ClientError> {
        let span = tracing::info_span!(
            "connection",
            id,
            %address,
            member = tracing::field::Empty
        );
        async {
            let (rd, wr) = connect(address, settings.connect_timeout).await?;
            let (tx, rx) = mpsc::unbounded_channel::<Vec<u8>>();
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
                span: tracing::Span::current(),
            });
            let writer = conn.spawn_writer(rx, wr);
            let reader = conn.spawn_reader(rd, settings);
            conn.tasks.lock().unwrap().extend([writer, reader]);
            let resp = conn.authenticate(settings.connect_timeout, auth).await?;
            *conn.member_uuid.lock().unwrap() = resp.member_uuid;
            conn.span.record(
                "member",
                tracing::field::display(DisplayOpt(resp.member_uuid)),
            );
            tracing::info!(server_version = %resp.server_version, "connection authenticated");
            let hb = conn.spawn_heartbeat(settings);
            conn.tasks.lock().unwrap().push(hb);
            Ok((conn, resp))
        }
        .instrument(span)
        .await
    }

    /// Writer: batches whatever is queued into one write.
    fn spawn_writer(
        self: &Arc<Self>,
        mut rx: mpsc::UnboundedReceiver<Vec<u8>>,
        mut wr: OwnedWriteHalf,
    ) -> JoinHandle<()> {
        let c = Arc::downgrade(self);
        tokio::spawn(
            async move {
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
                    tracing::trace!(bytes = buf.len(), "writing");
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
            }
            .instrument(self.span.clone()),
        )
    }

    /// Reader: frames -> messages -> pending calls or events. Until the authentication
    /// answer is complete, only it may come, within `max_auth_message_bytes`.
    fn spawn_reader(
        self: &Arc<Self>,
        mut rd: OwnedReadHalf,
        settings: ConnectionSettings,
    ) -> JoinHandle<()> {
        let c = Arc::downgrade(self);
        tokio::spawn(
            async move {
                let auth_limits = Limits {
                    max_message_bytes: settings.max_auth_message_bytes,
                    max_unfinished_bytes: settings.max_auth_message_bytes,
                };
                let mut inbound = Inbound::new(auth_limits);
                let mut authenticated = false;
                let touch = || {
                    if let Some(conn) = c.upgrade() {
                        conn.last_read_ms.store(conn.now_ms(), Ordering::Relaxed);
                    }
                };
                let failure = loop {
                    let pushed = match inbound.next_frame(&mut rd, &touch).await {
                        Ok(frame) => inbound.assembler.push_checked(frame),
                        Err(Stop::Closed(reason)) => break Some(reason),
                        Err(Stop::Bad(e)) => Err(e),
                    };
                    let Some(conn) = c.upgrade() else { return };
                    match pushed {
                        Ok(None) => {}
                        Ok(Some(msg)) => {
                            conn.dispatch(msg);
                            if !authenticated {
                                authenticated = true;
                                inbound.assembler.set_limits(settings.limits);
                            }
                        }
                        Err(ReadError::Codec(e)) => {
                            conn.close_with(ClientError::protocol(&conn.address, e));
                            break None;
                        }
                        // Before authentication, more than any frame a member sends is
                        // someone else's protocol (an HTTP server, say).
                        Err(ReadError::Limit(exceeded))
                            if !authenticated && exceeded.size > held_size(MAX_FRAME_SIZE) =>
                        {
                            conn.close_with(ClientError::protocol(
                                &conn.address,
                                CodecError::new(format!(
                                    "the first answer declares at least {} bytes, more than \
                                     the {MAX_FRAME_SIZE} of the largest frame (not a \
                                     Hazelcast member, or a protocol mismatch?)",
                                    exceeded.size
                                )),
                            ));
                            break None;
                        }
                        Err(ReadError::Limit(mut exceeded)) => {
                            if !authenticated {
                                exceeded.limit = Limit::AuthMessageBytes;
                            }
                            conn.close_with(ClientError::MessageLimit {
                                address: conn.address.clone(),
                                exceeded,
                            });
                            break None;
                        }
                    }
                };
                if let (Some(reason), Some(conn)) = (failure, c.upgrade()) {
                    conn.close_with(ClientError::ConnectionClosed {
                        address: conn.address.clone(),
                        reason,
                    });
                }
            }
            .instrument(self.span.clone()),
        )
    }

    /// Sends the authentication request and waits for its answer within `timeout`; an
    /// answer that is not "authenticated" closes the connection and names why.
    async fn authenticate(
        &self,
        timeout: Duration,
        auth: &AuthRequest<'_>,
    ) -> Result<AuthResponse, ClientError> {
        let address = self.address.as_str();
        let connect_err = |cause: ConnectFailure| ClientError::Connect {
            address: address.to_owned(),
            cause,
        };
        let reply = tokio::time::timeout(
            timeout,
            self.call(client_codec::encode_authentication(auth))?.1,
        )
        .await;
        let msg = match reply {
            Err(_) => {
                self.close("no authentication answer");
                return Err(connect_err(ConnectFailure::NoAuthenticationAnswer(timeout)));
            }
            Ok(Err(_)) => {
                return Err(self.close_error().unwrap_or_else(|| {
                    connect_err(ConnectFailure::ClosedDuringAuthentication {
                        reason: "the connection closed".into(),
                    })
                }))
            }
            Ok(Ok(Err(e))) => {
                self.close("authentication failed");
                return Err(match e {
                    ClientError::ConnectionClosed { address, reason } => ClientError::Connect {
                        address,
                        cause: ConnectFailure::ClosedDuringAuthentication { reason },
                    },
                    e => e,
                });
            }
            Ok(Ok(Ok(msg))) => msg,
        };
        if msg.is_error() {
            self.close("authentication failed");
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
                self.close("malformed authentication answer");
                return Err(ClientError::protocol(address, e));
            }
        };
        if resp.status != auth_status::AUTHENTICATED {
            self.close("authentication refused");
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
        Ok(resp)
    }

    /// Heartbeat: ping when idle, close when silent.
    fn spawn_heartbeat(self: &Arc<Self>, settings: ConnectionSettings) -> JoinHandle<()> {
        let c = Arc::downgrade(self);
        tokio::spawn(
            async move {
                let tick = (settings.heartbeat_interval / 2)
                    .clamp(Duration::from_millis(100), Duration::from_secs(1));
                loop {
                    tokio::time::sleep(tick).await;
                    let Some(conn) = c.upgrade() else { return };
                    let now = conn.now_ms();
                    let read = conn.last_read_ms.load(Ordering::Relaxed);
                    let wrote = conn.last_write_ms.load(Ordering::Relaxed);
                    if now.saturating_sub(read) > settings.heartbeat_timeout.as_millis() as u64 {
                        tracing::warn!(
                            timeout = ?settings.heartbeat_timeout,
                            "heartbeat timeout: nothing heard from the member, closing"
                        );
                        conn.close_with(ClientError::ConnectionClosed {
                            address: conn.address.clone(),
                            reason: format!("nothing heard for {:?}", settings.heartbeat_timeout),
                        });
                        return;
                    }
                    if now.saturating_sub(wrote) > settings.heartbeat_interval.as_millis() as u64 {
                        // The answer only refreshes the read time; nobody waits for it.
                        tracing::trace!("ping");
                        let _ = conn.call(client_codec::Ping {}.encode());
                    }
                }
            }
            .instrument(self.span.clone()),
        )
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
        tracing::trace!(
            message_type = msg.message_type(),
            correlation_id = msg.correlation_id(),
            event = msg.is_event(),
            "message received"
        );
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
        {
            let _in = self.span.enter();
            match &err {
                ClientError::ShutDown => tracing::debug!("connection closed: client shut down"),
                ClientError::ConnectionClosed { reason, .. } => {
                    tracing::info!(%reason, "connection closed")
                }
                e => tracing::info!(reason = %e, "connection closed"),
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::frame::flags;

    const LIMITS: Limits = Limits {
        max_message_bytes: 1 << 20,
        max_unfinished_bytes: 1 << 20,
    };

    #[tokio::test]
    async fn frames_of_every_size_come_through_a_bounded_buffer() {
        let (mut member, mut client) = tokio::io::duplex(8192);
        let sizes = [
            0usize,
            10,
            READ_CHUNK - 6,
            READ_CHUNK,
            3 * READ_CHUNK + 5,
            7,
            200_000,
        ];
        let frames: Vec<Frame> = sizes
            .iter()
            .enumerate()
            .map(|(i, &n)| Frame::new(i as u16, (0..n).map(|b| (b * 31 + i) as u8).collect()))
            .collect();
        let mut wire = Vec::new();
        for f in &frames {
            f.write_to(&mut wire);
        }
        let writer = tokio::spawn(async move { member.write_all(&wire).await.unwrap() });
        let mut inbound = Inbound::new(LIMITS);
        for f in &frames {
            let got = match inbound.next_frame(&mut client, &|| {}).await {
                Ok(got) => got,
                Err(_) => panic!("frame of {} bytes not read", f.content.len()),
            };
            assert_eq!(&got, f);
            assert!(inbound.buf.capacity() <= 2 * READ_CHUNK);
        }
        writer.await.unwrap();
    }

    #[tokio::test]
    async fn a_huge_declared_length_is_refused_from_the_header() {
        let (mut member, mut client) = tokio::io::duplex(64);
        // The header only: a client that waited for the content would hang here.
        let mut header = (i32::MAX).to_le_bytes().to_vec();
        header.extend_from_slice(&flags::UNFRAGMENTED.to_le_bytes());
        member.write_all(&header).await.unwrap();
        let mut inbound = Inbound::new(LIMITS);
        let got = tokio::time::timeout(
            Duration::from_secs(5),
            inbound.next_frame(&mut client, &|| {}),
        )
        .await
        .expect("refused without waiting for the content");
        let Err(Stop::Bad(ReadError::Limit(e))) = got else {
            panic!("not refused for its size")
        };
        assert_eq!(e.limit, Limit::MessageBytes);
        assert_eq!(e.max, 1 << 20);
        assert!(e.size >= i32::MAX as usize, "{e:?}");
        drop(member);
    }

    #[tokio::test]
    async fn a_length_below_the_header_is_garbage() {
        let (mut member, mut client) = tokio::io::duplex(64);
        member.write_all(&[3, 0, 0, 0, 0, 0]).await.unwrap();
        let mut inbound = Inbound::new(LIMITS);
        let got = inbound.next_frame(&mut client, &|| {}).await;
        assert!(matches!(got, Err(Stop::Bad(ReadError::Codec(_)))));
    }
}
