//! The errors a client call can end with.

use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use crate::codec::{CodecError, ErrorHolder, LimitExceeded};
use crate::serialization::SerializationError;

/// Error codes members send (the subset this client treats specially).
pub mod codes {
    /// `AuthenticationException`: credentials (the cluster name) refused.
    pub const AUTHENTICATION: i32 = 3;
    /// `CallerNotMemberException`: the operation came from a non-member.
    pub const CALLER_NOT_MEMBER: i32 = 8;
    /// `DistributedObjectDestroyedException`: the structure was destroyed.
    pub const DISTRIBUTED_OBJECT_DESTROYED: i32 = 14;
    /// `HazelcastInstanceNotActiveException`: the member is shutting down.
    pub const HAZELCAST_INSTANCE_NOT_ACTIVE: i32 = 19;
    /// `IllegalMonitorStateException`: unlock by a non-owner ([`ClientError::NotLockOwner`](super::ClientError::NotLockOwner)).
    pub const ILLEGAL_MONITOR_STATE: i32 = 26;
    /// `MemberLeftException`: a member the operation needed left.
    pub const MEMBER_LEFT: i32 = 33;
    /// `OperationTimeoutException`: the operation timed out on the member.
    pub const OPERATION_TIMEOUT: i32 = 38;
    /// `PartitionMigratingException`: the partition is moving.
    pub const PARTITION_MIGRATING: i32 = 39;
    /// `RetryableHazelcastException`: try again.
    pub const RETRYABLE_HAZELCAST: i32 = 46;
    /// `RetryableIOException`: an I/O error worth retrying.
    pub const RETRYABLE_IO: i32 = 47;
    /// `TargetDisconnectedException`: the target member disconnected.
    pub const TARGET_DISCONNECTED: i32 = 52;
    /// `TargetNotMemberException`: the target is not a member (any more).
    pub const TARGET_NOT_MEMBER: i32 = 53;
    /// `WrongTargetException`: the member does not own the partition.
    pub const WRONG_TARGET: i32 = 62;
    /// `TargetNotReplicaException`: the member holds no replica of the partition.
    pub const TARGET_NOT_REPLICA: i32 = 82;
    /// `CannotReplicateException`: a replication could not be made.
    pub const CANNOT_REPLICATE: i32 = 90;

    /// Errors the official clients retry for any request: the operation did not run, or
    /// ran nowhere that counts (member left, wrong target, partition migrating...).
    pub fn is_retryable(code: i32) -> bool {
        matches!(
            code,
            CALLER_NOT_MEMBER
                | HAZELCAST_INSTANCE_NOT_ACTIVE
                | MEMBER_LEFT
                | PARTITION_MIGRATING
                | RETRYABLE_HAZELCAST
                | RETRYABLE_IO
                | TARGET_NOT_MEMBER
                | WRONG_TARGET
                | TARGET_NOT_REPLICA
                | CANNOT_REPLICATE
        )
    }
}

/// Why a client call failed.
///
/// New variants may come in later versions: match the ones you handle and add a `_` arm.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The call did not complete within its invocation timeout.
    #[error("{operation} timed out after {after:?}")]
    Timeout {
        /// The call, e.g. `map get`.
        operation: &'static str,
        /// How long it ran.
        after: Duration,
        /// The error of its last attempt, if one failed before the time ran out.
        #[source]
        last_error: Option<Box<ClientError>>,
    },
    /// A write ran on its partition's primary, but not every backup acknowledged it within
    /// the backup timeout (only with `fail_on_indeterminate_state`): it survives unless the
    /// primary dies before its backups have it.
    #[error(
        "{operation}: the primary answered, but {missing} of {expected} backup \
         acknowledgement(s) did not come within {waited:?}: the outcome is indeterminate"
    )]
    Indeterminate {
        /// The call, e.g. `map set`.
        operation: &'static str,
        /// Acknowledgements the primary announced.
        expected: u8,
        /// Acknowledgements that did not come.
        missing: u8,
        /// How long the client waited for them.
        waited: Duration,
    },
    /// Unlock of a lock the caller (client UUID + thread id) does not hold.
    #[error("not the lock owner: {message}")]
    NotLockOwner {
        /// The member's message.
        message: String,
    },
    /// A TCP connection to a member could not be opened.
    #[error("cannot connect to {address}")]
    Connect {
        /// The member address, `host:port`.
        address: String,
        /// Why.
        #[source]
        cause: ConnectFailure,
    },
    /// A connection closed (member gone, or heartbeat lost) while a call was pending on it.
    #[error("connection to {address} closed: {reason}")]
    ConnectionClosed {
        /// The member address, `host:port`.
        address: String,
        /// Why it closed.
        reason: String,
    },
    /// No member could be reached to run the call.
    #[error("cluster unavailable: {0}")]
    Unavailable(String),
    /// Every connection to the cluster has been lost for longer than the client's
    /// `cluster_lost_timeout`, and no member answered since.
    #[error("the cluster `{cluster}` is gone: no member has been reachable for {after:?}")]
    ClusterLost {
        /// The configured cluster name.
        cluster: String,
        /// How long the client has had no connection.
        after: Duration,
        /// The last connection error.
        #[source]
        last_error: Option<Box<ClientError>>,
    },
    /// The member refused the client's credentials (for open-source members: the cluster
    /// name).
    #[error("authentication to {address} failed: {reason}")]
    Authentication {
        /// The member address, `host:port`.
        address: String,
        /// What the member answered.
        reason: String,
    },
    /// Bytes on the wire that are not the protocol.
    #[error("protocol error from {address}: {detail}")]
    Protocol {
        /// The member address, `host:port` (`<response>` for an answer that does not
        /// decode).
        address: String,
        /// What is wrong.
        detail: String,
    },
    /// A member sent more than the client's size limits allow
    /// ([`ClientConfig::max_message_bytes`](crate::ClientConfig),
    /// [`ClientConfig::max_unfinished_bytes`](crate::ClientConfig), or before authentication
    /// [`ClientConfig::max_auth_message_bytes`](crate::ClientConfig)); the connection was
    /// closed. `exceeded` names the limit and the size that went over it.
    #[error("connection to {address} closed: the member sent {exceeded}")]
    MessageLimit {
        /// The member address, `host:port`.
        address: String,
        /// The limit, its value and the size that went over it.
        exceeded: LimitExceeded,
    },
    /// An exception raised on the member.
    #[error("member error {code} {class_name}: {}", message.as_deref().unwrap_or(""))]
    Server {
        /// The protocol's error code (see [`codes`]).
        code: i32,
        /// The Java exception class.
        class_name: String,
        /// The exception's message.
        message: Option<String>,
    },
    /// A value that could not be read back (the cause is in the message, not also a
    /// `source`, which would print it twice in a chain).
    #[error("serialization: {0}")]
    Serialization(SerializationError),
    /// A [`TypedMap`](crate::TypedMap) found a value of another type than its own.
    #[error(
        "map `{map}`, key {key}: the value is of type {found}, where this typed map reads \
         {expected}"
    )]
    WrongType {
        /// The map's name.
        map: String,
        /// The key, as [`Value`](crate::Value) displays it.
        key: String,
        /// The type the map reads ([`ValueType::TYPE_NAME`](crate::ValueType::TYPE_NAME)).
        expected: &'static str,
        /// The type of the value found ([`Value::type_name`](crate::Value::type_name)).
        found: &'static str,
    },
    /// A bad configuration or argument.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The client was shut down.
    #[error("client is shut down")]
    ShutDown,
}

/// Why a connection to a member could not be opened
/// ([`ClientError::Connect`]'s source).
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectFailure {
    /// The TCP connection did not open in time.
    #[error("no answer within {0:?}")]
    NoAnswer(Duration),
    /// The operating system refused (connection refused, no route, ...).
    #[error(transparent)]
    Io(Arc<io::Error>),
    /// The member did not answer the authentication request in time.
    #[error("no authentication answer within {0:?}")]
    NoAuthenticationAnswer(Duration),
    /// The connection closed before the member accepted the client.
    #[error("closed during authentication: {reason}")]
    ClosedDuringAuthentication {
        /// Why it closed, as far as the client knows.
        reason: String,
    },
}

impl From<io::Error> for ConnectFailure {
    fn from(e: io::Error) -> ConnectFailure {
        ConnectFailure::Io(Arc::new(e))
    }
}

/// An error and its causes on one line, each once, joined by `: `, as
/// [`ClientError::chain`] shows them.
pub struct Chain<'a>(&'a (dyn std::error::Error + 'static));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(e) = source {
            write!(f, ": {e}")?;
            source = e.source();
        }
        Ok(())
    }
}

impl From<SerializationError> for ClientError {
    fn from(e: SerializationError) -> ClientError {
        ClientError::Serialization(e)
    }
}

impl ClientError {
    pub(crate) fn protocol(address: &str, e: CodecError) -> ClientError {
        ClientError::Protocol {
            address: address.to_owned(),
            detail: e.0,
        }
    }

    pub(crate) fn from_holders(holders: Vec<ErrorHolder>) -> ClientError {
        let Some(first) = holders.into_iter().next() else {
            return ClientError::Server {
                code: 0,
                class_name: "<empty error response>".into(),
                message: None,
            };
        };
        if first.code == codes::ILLEGAL_MONITOR_STATE {
            return ClientError::NotLockOwner {
                message: first.message.unwrap_or_default(),
            };
        }
        ClientError::Server {
            code: first.code,
            class_name: first.class_name,
            message: first.message,
        }
    }

    /// This error with its causes, for one line of text: `map get timed out after 2s: cannot
    /// connect to 127.0.0.1:5701: Connection refused (os error 111)`. (`Display` shows this
    /// error alone; the causes are its [`source`](std::error::Error::source) chain.)
    pub fn chain(&self) -> Chain<'_> {
        Chain(self)
    }

    /// A member-side error code, if this is one.
    pub fn server_code(&self) -> Option<i32> {
        match self {
            ClientError::Server { code, .. } => Some(*code),
            ClientError::NotLockOwner { .. } => Some(codes::ILLEGAL_MONITOR_STATE),
            _ => None,
        }
    }

    /// True for connection-level failures (the member may be gone).
    pub fn is_connection_error(&self) -> bool {
        matches!(
            self,
            ClientError::Connect { .. }
                | ClientError::ConnectionClosed { .. }
                | ClientError::Unavailable(_)
        )
    }
}
