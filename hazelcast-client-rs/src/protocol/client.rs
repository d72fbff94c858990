//! The Client service (id 0): authentication, cluster view, proxies, ping.

use super::declare::{messages, Operation};
use crate::codec::builtin::{self, event_fixed, response_fixed};
use crate::codec::{Address, ClientMessage, CodecError, MemberInfo, Uuid};

messages! {
    service 0 "Client";

    /// Authentication. Its response is decoded by hand: what it holds depends on the status
    /// and on the member's protocol version ([`decode_authentication`]).
    0x01 "authentication" => Authentication<'a> as AUTHENTICATION {
        retryable: true,
        partition: none,
        request {
            cluster_name: &'a str,
            username: Option<&'a str>,
            password: Option<&'a str>,
            uuid: Option<Uuid>,
            client_type: &'a str,
            serialization_version: u8,
            client_hazelcast_version: &'a str,
            client_name: &'a str,
            labels: &'a [String],
            /// Since protocol 2.8.
            routing_mode: u8,
            /// Since protocol 2.8.
            cp_direct_to_leader_routing: bool,
        }
        response custom(AuthResponse, decode_authentication)
    }
    /// Subscribes to member list and partition table events ([`decode_cluster_view_event`]).
    0x03 "addClusterViewListener" => AddClusterViewListener as ADD_CLUSTER_VIEW_LISTENER {
        retryable: false,
        partition: none,
        request {}
        response {}
    }
    0x04 "createProxy" => CreateProxy<'a> as CREATE_PROXY {
        retryable: false,
        partition: none,
        request { name: &'a str, service_name: &'a str }
        response {}
    }
    0x05 "destroyProxy" => DestroyProxy<'a> as DESTROY_PROXY {
        retryable: false,
        partition: none,
        request { name: &'a str, service_name: &'a str }
        response {}
    }
    0x0B "ping" => Ping as PING {
        retryable: true,
        partition: none,
        request {}
        response {}
    }
    /// Subscribes to backup acknowledgements sent to the client ([`decode_backup_event`]).
    0x0F "localBackupListener" => LocalBackupListener as LOCAL_BACKUP_LISTENER {
        retryable: false,
        partition: none,
        request {}
        response { response: Option<Uuid> }
    }
}

/// Message type of the cluster view listener's member list event.
pub const EVENT_MEMBERS_VIEW: i32 = ADD_CLUSTER_VIEW_LISTENER + 2;
/// Message type of the cluster view listener's partition table event.
pub const EVENT_PARTITIONS_VIEW: i32 = ADD_CLUSTER_VIEW_LISTENER + 3;
/// Message type of a backup acknowledgement event.
pub const EVENT_BACKUP: i32 = LOCAL_BACKUP_LISTENER + 2;

/// Routing mode sent on authentication: the client connects to all members.
pub const ROUTING_ALL_MEMBERS: u8 = 1;

/// A partition table: (owner UUID, partition ids) pairs.
pub type PartitionTable = Vec<(Uuid, Vec<i32>)>;

/// Parameters of an authentication request.
#[derive(Debug, Clone)]
pub struct AuthRequest<'a> {
    /// The cluster name.
    pub cluster_name: &'a str,
    /// This client's UUID.
    pub client_uuid: Uuid,
    /// The client type (`RST` here; `JVM`, `PYH`... for the official clients).
    pub client_type: &'a str,
    /// The client's Hazelcast version.
    pub client_version: &'a str,
    /// The client name members show.
    pub client_name: &'a str,
    /// The client's labels.
    pub labels: &'a [String],
}

/// The authentication request for `a` (no credentials, all-members routing).
pub fn encode_authentication(a: &AuthRequest<'_>) -> ClientMessage {
    Authentication {
        cluster_name: a.cluster_name,
        username: None,
        password: None,
        uuid: Some(a.client_uuid),
        client_type: a.client_type,
        serialization_version: 1,
        client_hazelcast_version: a.client_version,
        client_name: a.client_name,
        labels: a.labels,
        routing_mode: ROUTING_ALL_MEMBERS,
        cp_direct_to_leader_routing: false,
    }
    .encode()
}

/// Authentication status codes.
pub mod auth_status {
    /// Authenticated.
    pub const AUTHENTICATED: u8 = 0;
    /// Wrong cluster name or credentials.
    pub const CREDENTIALS_FAILED: u8 = 1;
    /// The member uses another serialization version.
    pub const SERIALIZATION_VERSION_MISMATCH: u8 = 2;
    /// The cluster does not accept this client (blacklisted, or a wrong client type).
    pub const NOT_ALLOWED_IN_CLUSTER: u8 = 3;
}

/// What a member answers to authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthResponse {
    /// One of [`auth_status`].
    pub status: u8,
    /// The answering member's UUID.
    pub member_uuid: Option<Uuid>,
    /// The member's serialization version.
    pub serialization_version: u8,
    /// The cluster's partition count.
    pub partition_count: i32,
    /// The cluster's id.
    pub cluster_id: Option<Uuid>,
    /// The answering member's address.
    pub address: Option<Address>,
    /// The member's Hazelcast version.
    pub server_version: String,
    /// Present from protocol 2.7 on (members 5.4+).
    pub member_list: Option<(i32, Vec<MemberInfo>)>,
    /// Present from protocol 2.7 on (members 5.4+): version and table.
    pub partitions: Option<(i32, PartitionTable)>,
}

/// Reads an authentication answer; the member list and partition table only when the
/// status is [`auth_status::AUTHENTICATED`] and the member sends them (protocol 2.7 on).
pub fn decode_authentication(msg: &ClientMessage) -> Result<AuthResponse, CodecError> {
    let mut r = msg.reader();
    let mut f = response_fixed(&mut r)?;
    let status = f.u8()?;
    let member_uuid = f.uuid()?;
    let serialization_version = f.u8()?;
    let partition_count = f.i32()?;
    if partition_count > builtin::MAX_PARTITION_COUNT {
        return Err(CodecError::new(format!(
            "the member reports {partition_count} partitions, more than the {} this client \
             accepts",
            builtin::MAX_PARTITION_COUNT
        )));
    }
    let cluster_id = f.uuid()?;
    let _failover_supported = f.bool()?;
    let versions = if f.remaining() >= 8 {
        Some((f.i32()?, f.i32()?))
    } else {
        None
    };
    let mut resp = AuthResponse {
        status,
        member_uuid,
        serialization_version,
        partition_count,
        cluster_id,
        address: None,
        server_version: String::new(),
        member_list: None,
        partitions: None,
    };
    if status != auth_status::AUTHENTICATED {
        return Ok(resp);
    }
    resp.address = builtin::nullable(&mut r, builtin::address)?;
    resp.server_version = builtin::string(&mut r)?;
    if let Some((member_version, partition_version)) = versions {
        if r.has_next() {
            builtin::nullable(&mut r, builtin::list_i32)?; // TPC ports
            builtin::nullable(&mut r, |r| r.next_frame().map(|_| ()))?; // TPC token
            let members = builtin::list(&mut r, builtin::member_info)?;
            let partitions = builtin::entry_list_uuid_list_i32(&mut r)?;
            resp.member_list = Some((member_version, members));
            resp.partitions = Some((partition_version, partitions));
        }
    }
    Ok(resp)
}

/// An event of the cluster view listener.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClusterViewEvent {
    /// The member list changed.
    Members {
        /// The member list's version.
        version: i32,
        /// Every member.
        members: Vec<MemberInfo>,
    },
    /// The partition table changed.
    Partitions {
        /// The partition table's version.
        version: i32,
        /// Every partition's owner.
        partitions: PartitionTable,
    },
}

/// Decodes a cluster view event; `Ok(None)` for other event types.
pub fn decode_cluster_view_event(
    msg: &ClientMessage,
) -> Result<Option<ClusterViewEvent>, CodecError> {
    let mut r = msg.reader();
    match msg.message_type() {
        EVENT_MEMBERS_VIEW => {
            let version = event_fixed(&mut r)?.i32()?;
            let members = builtin::list(&mut r, builtin::member_info)?;
            Ok(Some(ClusterViewEvent::Members { version, members }))
        }
        EVENT_PARTITIONS_VIEW => {
            let version = event_fixed(&mut r)?.i32()?;
            let partitions = builtin::entry_list_uuid_list_i32(&mut r)?;
            Ok(Some(ClusterViewEvent::Partitions {
                version,
                partitions,
            }))
        }
        _ => Ok(None),
    }
}

/// The correlation id a backup acknowledgement event is for.
pub fn decode_backup_event(msg: &ClientMessage) -> Result<i64, CodecError> {
    let mut r = msg.reader();
    event_fixed(&mut r)?.i64()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::builtin::MAX_PARTITION_COUNT;
    use crate::codec::Frame;

    fn auth_answer(partition_count: i32) -> ClientMessage {
        let mut content = vec![0u8; crate::codec::message::RESPONSE_HEADER_SIZE];
        content[..4].copy_from_slice(&(AUTHENTICATION + 1).to_le_bytes());
        content.push(auth_status::CREDENTIALS_FAILED);
        builtin::encode_uuid(&mut content, None);
        content.push(1);
        content.extend_from_slice(&partition_count.to_le_bytes());
        builtin::encode_uuid(&mut content, None);
        content.push(0);
        ClientMessage::from_frames(vec![Frame::new(0, content)]).unwrap()
    }

    /// Found with the `responses` fuzz target: the partition count of the authentication
    /// answer sized the client's partition table, whatever it was.
    #[test]
    fn a_partition_count_beyond_the_limit_is_refused() {
        let ok = decode_authentication(&auth_answer(271)).unwrap();
        assert_eq!(ok.partition_count, 271);
        decode_authentication(&auth_answer(MAX_PARTITION_COUNT)).unwrap();
        let e = decode_authentication(&auth_answer(MAX_PARTITION_COUNT + 1)).unwrap_err();
        assert!(e.0.contains("partitions, more than"), "{e}");
    }
}
