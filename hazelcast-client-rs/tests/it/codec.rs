//! Byte-level tests of the frame and message codecs: round trips, bytes captured from a
//! real exchange between the official Python client and a 5.7.0 member, and a fuzz loop
//! showing that arbitrary bytes give errors, never panics.

use hazelcast_client::codec::builtin::{self, RequestBuilder};
use hazelcast_client::codec::frame::{decode_frame, decode_frames, flags, Frame};
use hazelcast_client::codec::{ClientMessage, MessageAssembler, Uuid};
use hazelcast_client::protocol::client::{
    decode_authentication, decode_cluster_view_event, encode_authentication, AuthRequest,
};
use hazelcast_client::protocol::{
    decode_bool, decode_i32, decode_nullable_data, map, queue, Declaration, Operation, PartitionKey,
};
use hazelcast_client::{Data, MapConfig, QueueConfig, Value};

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads whole messages from wire bytes.
fn messages(bytes: &[u8]) -> Vec<ClientMessage> {
    let mut asm = MessageAssembler::new();
    let mut out = Vec::new();
    for f in decode_frames(bytes).unwrap() {
        if let Some(m) = asm.push(f).unwrap() {
            out.push(m);
        }
    }
    out
}

// Captured from hazelcast-python-client 5.7.0 talking to a 5.7.0 member (cluster "capture",
// member at 127.0.0.1:15701): map.put(Integer 1, String "a") with thread id 7, then map.get.
const PUT_REQ: &str = "2600000000c00001010002000000000000001f0000000700000000000000ffffffffffffffff0700000000006d12000000000000000000fffffff90000000113000000002000000000fffffff50000000161";
const PUT_RESP: &str = "1300000000c001010100020000000000000000060000000024";
const GET_REQ: &str = "1e00000000c00002010003000000000000001f00000007000000000000000700000000006d12000000002000000000fffffff900000001";
const GET_RESP: &str =
    "1300000000c00102010003000000000000000013000000002000000000fffffff50000000161";
// The Python client's authentication request (protocol 2.0 layout, client UUID
// 01234567-89ab-4cde-8f01-23456789abcd) and the member's answer (2.8 layout: with the
// member list and partition table).
const AUTH_REQ_PY: &str = "2800000000c0000100000100000000000000ffffffff00de4cab8967452301cdab89674523018f010d0000000000636170747572650600000000040600000000040900000000005059480b0000000000352e372e301000000000006361702d636c69656e74060000000010060000000028";
const AUTH_RESP: &str = "4400000000c0010100000100000000000000000000384714716593917c3854d025a627f281010f010000000646911cdba05280e29e155a6580d5830001000000ffffffff0600000000100a0000000000553d00000f00000000003132372e302e302e310600000000080b0000000000352e372e3006000000000006000000000406000000001006000000001018000000000000384714716593917c3854d025a627f281000600000000100a0000000000553d00000f00000000003132372e302e302e310600000000080600000000100600000000080600000000100900000000000507000600000000080600000000100600000000100a0000000000000000000600000000040600000000080600000000100a0000000000553d00000f00000000003132372e302e302e31060000000008060000000008060000000008060000000008060000000010060000000008060000000000060000000010140000000000636c757374657256657273696f6e090000000000352e37060000000028";

#[test]
fn map_requests_match_the_official_client_bytes() {
    let key = Data::from_value(&Value::Int(1));
    let value = Data::from_value(&Value::from("a"));
    let mut put = map::Put {
        name: "m",
        key: &key,
        value: &value,
        thread_id: 7,
        ttl: -1,
    }
    .encode();
    put.set_correlation_id(2);
    put.set_partition_id(31);
    assert_eq!(hex(&put.to_bytes()), PUT_REQ);
    let mut get = map::Get {
        name: "m",
        key: &key,
        thread_id: 7,
    }
    .encode();
    get.set_correlation_id(3);
    get.set_partition_id(31);
    assert_eq!(hex(&get.to_bytes()), GET_REQ);
    // Decoding what we encode gives the same message back.
    assert_eq!(messages(&unhex(PUT_REQ)), vec![put]);
}

#[test]
fn decodes_captured_map_responses() {
    let put = &messages(&unhex(PUT_RESP))[0];
    assert_eq!(put.message_type(), map::PUT + 1);
    assert_eq!(put.correlation_id(), 2);
    assert_eq!(decode_nullable_data(put).unwrap(), None);
    let get = &messages(&unhex(GET_RESP))[0];
    assert_eq!(get.correlation_id(), 3);
    let v = decode_nullable_data(get).unwrap().unwrap();
    assert_eq!(v.to_value().unwrap(), Value::from("a"));
}

// The bytes the hand-written encoders sent before the messages were declared (with the
// inputs of `every_declared_request_encodes_as_before`): the declarations changed nothing
// on the wire.
const BEFORE: &[(&str, &str)] = &[
    (
        "map put",
        concat!(
        "2600000000c0000101000000000000000000ffffffff0700000000000000ffffffffffffffff070000000000",
        "6d12000000000000000000fffffff90000000113000000002000000000fffffff50000000161",
    ),
    ),
    (
        "map set",
        concat!(
        "2600000000c0000f01000000000000000000ffffffff07000000000000000500000000000000070000000000",
        "6d12000000000000000000fffffff90000000113000000002000000000fffffff50000000161",
    ),
    ),
    (
        "map putIfAbsent",
        concat!(
        "2600000000c0000e01000000000000000000ffffffff0700000000000000ffffffffffffffff070000000000",
        "6d12000000000000000000fffffff90000000113000000002000000000fffffff50000000161",
    ),
    ),
    (
        "map get",
        concat!(
        "1e00000000c0000201000000000000000000ffffffff07000000000000000700000000006d12000000002000",
        "000000fffffff900000001",
    ),
    ),
    (
        "map remove",
        concat!(
        "1e00000000c0000301000000000000000000ffffffff07000000000000000700000000006d12000000002000",
        "000000fffffff900000001",
    ),
    ),
    (
        "map delete",
        concat!(
        "1e00000000c0000901000000000000000000ffffffff07000000000000000700000000006d12000000002000",
        "000000fffffff900000001",
    ),
    ),
    (
        "map containsKey",
        concat!(
        "1e00000000c0000601000000000000000000ffffffff07000000000000000700000000006d12000000002000",
        "000000fffffff900000001",
    ),
    ),
    (
        "map replace",
        concat!(
        "1e00000000c0000401000000000000000000ffffffff07000000000000000700000000006d12000000000000",
        "000000fffffff90000000113000000002000000000fffffff50000000161",
    ),
    ),
    (
        "map replaceIfSame",
        concat!(
        "1e00000000c0000501000000000000000000ffffffff07000000000000000700000000006d12000000000000",
        "000000fffffff90000000116000000000000000000fffffff8fffffffffffffff713000000002000000000ff",
        "fffff50000000161",
    ),
    ),
    (
        "map lock",
        concat!(
        "2e00000000c0001001000000000000000000ffffffff0700000000000000ffffffffffffffff0b0000000000",
        "00000700000000006d12000000002000000000fffffff900000001",
    ),
    ),
    (
        "map tryLock",
        concat!(
        "3600000000c0001101000000000000000000ffffffff0700000000000000fffffffffffffffff40100000000",
        "00000c000000000000000700000000006d12000000002000000000fffffff900000001",
    ),
    ),
    (
        "map unlock",
        concat!(
        "2600000000c0001301000000000000000000ffffffff07000000000000000d00000000000000070000000000",
        "6d12000000002000000000fffffff900000001",
    ),
    ),
    (
        "map isLocked",
        concat!(
        "1600000000c0001201000000000000000000ffffffff0700000000006d12000000002000000000fffffff900",
        "000001",
    ),
    ),
    (
        "map forceUnlock",
        concat!(
        "1e00000000c0003301000000000000000000ffffffff0e000000000000000700000000006d12000000002000",
        "000000fffffff900000001",
    ),
    ),
    (
        "map size",
        "1600000000c0002a01000000000000000000ffffffff0700000000206d",
    ),
    (
        "map clear",
        "1600000000c0002d01000000000000000000ffffffff0700000000206d",
    ),
    (
        "queue offer",
        concat!(
        "1e00000000c0000103000000000000000000fffffffffa000000000000000700000000007113000000002000",
        "000000fffffff50000000161",
    ),
    ),
    (
        "queue put",
        concat!(
        "1600000000c0000203000000000000000000ffffffff0700000000007113000000002000000000fffffff500",
        "00000161",
    ),
    ),
    (
        "queue poll",
        "1e00000000c0000503000000000000000000fffffffffa0000000000000007000000002071",
    ),
    (
        "queue take",
        "1600000000c0000603000000000000000000ffffffff07000000002071",
    ),
    (
        "queue size",
        "1600000000c0000303000000000000000000ffffffff07000000002071",
    ),
    (
        "queue clear",
        "1600000000c0000f03000000000000000000ffffffff07000000002071",
    ),
    (
        "client createProxy",
        concat!(
        "1600000000c0000400000000000000000000ffffffff0700000000006d180000000020687a3a696d706c3a6d",
        "617053657276696365",
    ),
    ),
    (
        "client destroyProxy",
        concat!(
        "1600000000c0000500000000000000000000ffffffff0700000000006d180000000020687a3a696d706c3a6d",
        "617053657276696365",
    ),
    ),
    (
        "client ping",
        "1600000000e0000b00000000000000000000ffffffff",
    ),
    (
        "client addClusterViewListener",
        "1600000000e0000300000000000000000000ffffffff",
    ),
    (
        "client localBackupListener",
        "1600000000e0000f00000000000000000000ffffffff",
    ),
    (
        "client authentication",
        concat!(
        "2a00000000c0000100000000000000000000ffffffff00de4cab8967452301cdab89674523018f0101000900",
        "000000006465760600000000040600000000040900000000005253540b0000000000352e352e301100000000",
        "00687a2e636c69656e745f310600000000100800000000006c310800000000006c32060000000028",
    ),
    ),
    (
        "dc addMapConfig",
        concat!(
        "3100000000c0000c1b000000000000000000ffffffff02000000010000000000000000000000006400000001",
        "00000000000d00000000006366672d6d6170060000000004100000000000494e4445585f4f4e4c5934000000",
        "0000636f6d2e68617a656c636173742e7370692e6d657267652e5075744966416273656e744d65726765506f",
        "6c6963790c000000000042494e41525906000000000406000000000406000000000406000000000406000000",
        "0004060000000004060000000004060000000004060000000004060000000004060000000004060000000004",
        "0600000000040600000000040600000000100800000000000000060000000008060000000010070000000000",
        "0006000000001006000000001012000000000000010000000000000200000006000000000806000000000806",
        "00000000100700000000000021000000000064656661756c742d7469657265642d73746f72652d6465766963",
        "65060000000008060000000008060000000004060000000024",
    ),
    ),
    (
        "dc addQueueConfig",
        concat!(
        "2b00000000c0000b1b000000000000000000ffffffff00000000010000000a000000ffffffff01640000000b",
        "00000000006366672d71060000000004060000000004060000000004340000000000636f6d2e68617a656c63",
        "6173742e7370692e6d657267652e5075744966416273656e744d65726765506f6c6963790600000000040600",
        "00000024",
    ),
    ),
];

#[test]
fn every_declared_request_encodes_as_before() {
    use hazelcast_client::protocol::{client as c, map as m, queue as q};
    let (k, v) = (
        &Data::from_value(&Value::Int(1)),
        &Data::from_value(&Value::from("a")),
    );
    let e = &Data::from_value(&Value::Long(-9));
    let labels = ["l1".to_string(), "l2".to_string()];
    let mut map_config = MapConfig::new("cfg-map");
    map_config.backup_count = 2;
    map_config.async_backup_count = 1;
    let mut queue_config = QueueConfig::new("cfg-q");
    queue_config.max_size = 10;
    queue_config.backup_count = 0;
    queue_config.async_backup_count = 1;
    let (name, thread_id) = ("m", 7);
    let ours: Vec<(&str, ClientMessage)> = vec![
        (
            "map put",
            m::Put {
                name,
                key: k,
                value: v,
                thread_id,
                ttl: -1,
            }
            .encode(),
        ),
        (
            "map set",
            m::Set {
                name,
                key: k,
                value: v,
                thread_id,
                ttl: 5,
            }
            .encode(),
        ),
        (
            "map putIfAbsent",
            m::PutIfAbsent {
                name,
                key: k,
                value: v,
                thread_id,
                ttl: -1,
            }
            .encode(),
        ),
        (
            "map get",
            m::Get {
                name,
                key: k,
                thread_id,
            }
            .encode(),
        ),
        (
            "map remove",
            m::Remove {
                name,
                key: k,
                thread_id,
            }
            .encode(),
        ),
        (
            "map delete",
            m::Delete {
                name,
                key: k,
                thread_id,
            }
            .encode(),
        ),
        (
            "map containsKey",
            m::ContainsKey {
                name,
                key: k,
                thread_id,
            }
            .encode(),
        ),
        (
            "map replace",
            m::Replace {
                name,
                key: k,
                value: v,
                thread_id,
            }
            .encode(),
        ),
        (
            "map replaceIfSame",
            m::ReplaceIfSame {
                name,
                key: k,
                test_value: e,
                value: v,
                thread_id,
            }
            .encode(),
        ),
        (
            "map lock",
            m::Lock {
                name,
                key: k,
                thread_id,
                ttl: -1,
                reference_id: 11,
            }
            .encode(),
        ),
        (
            "map tryLock",
            m::TryLock {
                name,
                key: k,
                thread_id,
                lease: -1,
                timeout: 500,
                reference_id: 12,
            }
            .encode(),
        ),
        (
            "map unlock",
            m::Unlock {
                name,
                key: k,
                thread_id,
                reference_id: 13,
            }
            .encode(),
        ),
        ("map isLocked", m::IsLocked { name, key: k }.encode()),
        (
            "map forceUnlock",
            m::ForceUnlock {
                name,
                key: k,
                reference_id: 14,
            }
            .encode(),
        ),
        ("map size", m::Size { name }.encode()),
        ("map clear", m::Clear { name }.encode()),
        (
            "queue offer",
            q::Offer {
                name: "q",
                value: v,
                timeout_millis: 250,
            }
            .encode(),
        ),
        (
            "queue put",
            q::Put {
                name: "q",
                value: v,
            }
            .encode(),
        ),
        (
            "queue poll",
            q::Poll {
                name: "q",
                timeout_millis: 250,
            }
            .encode(),
        ),
        ("queue take", q::Take { name: "q" }.encode()),
        ("queue size", q::Size { name: "q" }.encode()),
        ("queue clear", q::Clear { name: "q" }.encode()),
        (
            "client createProxy",
            c::CreateProxy {
                name,
                service_name: m::SERVICE_NAME,
            }
            .encode(),
        ),
        (
            "client destroyProxy",
            c::DestroyProxy {
                name,
                service_name: m::SERVICE_NAME,
            }
            .encode(),
        ),
        ("client ping", c::Ping {}.encode()),
        (
            "client addClusterViewListener",
            c::AddClusterViewListener {}.encode(),
        ),
        (
            "client localBackupListener",
            c::LocalBackupListener {}.encode(),
        ),
        (
            "client authentication",
            encode_authentication(&AuthRequest {
                cluster_name: "dev",
                client_uuid: Uuid {
                    msb: 0x0123_4567_89ab_4cde,
                    lsb: 0x8f01_2345_6789_abcd,
                },
                client_type: "RST",
                client_version: "5.5.0",
                client_name: "hz.client_1",
                labels: &labels,
            }),
        ),
        ("dc addMapConfig", map_config.request().encode()),
        ("dc addQueueConfig", queue_config.request().encode()),
    ];
    assert_eq!(ours.len(), BEFORE.len());
    for ((what, msg), (before_what, before)) in ours.iter().zip(BEFORE) {
        assert_eq!(what, before_what);
        assert_eq!(&hex(&msg.to_bytes()), before, "{what}");
        // And they decode back to the same frames.
        assert_eq!(
            &messages(&unhex(before)),
            std::slice::from_ref(msg),
            "{what}"
        );
    }
    // Every declared request is among them.
    let declared: usize = hazelcast_client::protocol::SERVICES
        .iter()
        .map(|s| s.len())
        .sum();
    assert_eq!(declared, BEFORE.len());
}

/// Message type, retryable flag and partition source of each declared message, copied from
/// the protocol definitions (hazelcast-client-protocol, `protocol-definitions/*.yaml`:
/// service id << 16 | method id << 8; `partitionIdentifier` `-1` is `none`).
const DEFINITIONS: &[(&str, i32, bool, &str)] = &[
    // Client.yaml (service id 0)
    ("Client.authentication", 0x00_01_00, true, "none"),
    ("Client.addClusterViewListener", 0x00_03_00, false, "none"),
    ("Client.createProxy", 0x00_04_00, false, "none"),
    ("Client.destroyProxy", 0x00_05_00, false, "none"),
    ("Client.ping", 0x00_0B_00, true, "none"),
    ("Client.localBackupListener", 0x00_0F_00, false, "none"),
    // Map.yaml (service id 1)
    ("Map.put", 0x01_01_00, false, "key"),
    ("Map.get", 0x01_02_00, true, "key"),
    ("Map.remove", 0x01_03_00, false, "key"),
    ("Map.replace", 0x01_04_00, false, "key"),
    ("Map.replaceIfSame", 0x01_05_00, false, "key"),
    ("Map.containsKey", 0x01_06_00, true, "key"),
    ("Map.delete", 0x01_09_00, false, "key"),
    ("Map.putIfAbsent", 0x01_0E_00, false, "key"),
    ("Map.set", 0x01_0F_00, false, "key"),
    ("Map.lock", 0x01_10_00, true, "key"),
    ("Map.tryLock", 0x01_11_00, true, "key"),
    ("Map.isLocked", 0x01_12_00, true, "key"),
    ("Map.unlock", 0x01_13_00, true, "key"),
    ("Map.size", 0x01_2A_00, true, "none"),
    ("Map.clear", 0x01_2D_00, false, "none"),
    ("Map.forceUnlock", 0x01_33_00, true, "key"),
    // Queue.yaml (service id 3)
    ("Queue.offer", 0x03_01_00, false, "name"),
    ("Queue.put", 0x03_02_00, false, "name"),
    ("Queue.size", 0x03_03_00, false, "name"),
    ("Queue.poll", 0x03_05_00, false, "name"),
    ("Queue.take", 0x03_06_00, false, "name"),
    ("Queue.clear", 0x03_0F_00, false, "name"),
    // DynamicConfig.yaml (service id 27)
    ("DynamicConfig.addQueueConfig", 0x1B_0B_00, false, "none"),
    ("DynamicConfig.addMapConfig", 0x1B_0C_00, false, "none"),
];

#[test]
fn declarations_match_the_protocol_definitions() {
    let declared: Vec<Declaration> = hazelcast_client::protocol::SERVICES
        .iter()
        .flat_map(|s| s.iter().copied())
        .collect();
    for &(name, message_type, retryable, partition) in DEFINITIONS {
        let d = declared
            .iter()
            .find(|d| d.name == name)
            .unwrap_or_else(|| panic!("{name} is not declared"));
        let expected = Declaration {
            name,
            message_type,
            retryable,
            partition,
        };
        assert_eq!(
            *d, expected,
            "{name}: declared otherwise than in the definitions"
        );
    }
    for d in &declared {
        assert!(
            DEFINITIONS.iter().any(|(name, ..)| *name == d.name),
            "{} has no row in DEFINITIONS",
            d.name
        );
    }
    // The constants, the trait and the list agree.
    assert_eq!(map::Unlock::MESSAGE_TYPE, map::UNLOCK);
    assert_eq!(map::Unlock::RESPONSE_TYPE, map::UNLOCK + 1);
    assert_eq!(
        (map::Unlock::RETRYABLE, map::Put::RETRYABLE),
        (map::Unlock::DECLARATION.retryable, false)
    );
    assert!(declared.contains(&queue::Offer::DECLARATION));
}

#[test]
fn requests_go_to_the_partition_their_declaration_names() {
    let key = Data::from_value(&Value::Int(1));
    let get = map::Get {
        name: "m",
        key: &key,
        thread_id: 1,
    };
    assert_eq!(get.partition(), PartitionKey::Data(&key));
    assert_eq!(get.partition().id(271), Some(key.partition_id(271)));
    assert_eq!(map::Size { name: "m" }.partition().id(271), None);
    let offer = queue::Size { name: "q" };
    assert_eq!(offer.partition(), PartitionKey::Name("q"));
    assert_eq!(
        offer.partition().id(271),
        Some(Data::from_value(&Value::from("q")).partition_id(271))
    );
}

#[test]
fn authentication_request_has_the_official_layout() {
    let uuid = Uuid {
        msb: 0x0123_4567_89ab_4cde,
        lsb: 0x8f01_2345_6789_abcd,
    };
    let ours = encode_authentication(&AuthRequest {
        cluster_name: "capture",
        client_uuid: uuid,
        client_type: "PYH",
        client_version: "5.7.0",
        client_name: "cap-client",
        labels: &[],
    });
    let mut ours = ours;
    ours.set_correlation_id(1);
    let theirs = &messages(&unhex(AUTH_REQ_PY))[0];
    // Same header, UUID and serialization version; we add the 2.8 routing fields.
    let (a, b) = (&ours.frames[0].content, &theirs.frames[0].content);
    assert_eq!(a[..b.len()], b[..]);
    assert_eq!(a.len(), b.len() + 2);
    assert_eq!(&a[b.len()..], &[1, 0]); // all-members routing, no CP direct routing
                                        // The variable-size parameters are frame for frame the same.
    assert_eq!(ours.frames[1..], theirs.frames[1..]);
}

#[test]
fn decodes_captured_authentication_response() {
    let msg = &messages(&unhex(AUTH_RESP))[0];
    let r = decode_authentication(msg).unwrap();
    assert_eq!(r.status, 0);
    assert_eq!(r.partition_count, 271);
    assert_eq!(r.server_version, "5.7.0");
    let addr = r.address.unwrap();
    assert_eq!((addr.host.as_str(), addr.port), ("127.0.0.1", 15701));
    let (_, members) = r.member_list.unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!(Some(members[0].uuid), r.member_uuid);
    assert_eq!(members[0].version, (5, 7, 0));
    // A fresh member assigns partitions on first use: the table was still empty.
    let (_, parts) = r.partitions.unwrap();
    assert!(parts.is_empty());
}

#[test]
fn frame_round_trip_and_partial_input() {
    let f = Frame::new(flags::IS_FINAL | flags::IS_NULL, vec![1, 2, 3]);
    let mut bytes = Vec::new();
    f.write_to(&mut bytes);
    assert_eq!(bytes.len(), 9);
    assert_eq!(&bytes[..6], &[9, 0, 0, 0, 0x00, 0x24]);
    for cut in 0..bytes.len() {
        assert_eq!(decode_frame(&bytes[..cut]).unwrap(), None, "cut at {cut}");
    }
    let (g, used) = decode_frame(&bytes).unwrap().unwrap();
    assert_eq!((g, used), (f, 9));
    // Lengths below the header or absurdly large are protocol errors.
    assert!(decode_frame(&[5, 0, 0, 0, 0, 0]).is_err());
    assert!(decode_frame(b"HTTP/1.1 400").is_err());
}

#[test]
fn message_round_trip_with_nested_structures() {
    let d = Data::from_value(&Value::Long(-9));
    let msg = RequestBuilder::new(queue::OFFER)
        .fixed_i64(1234)
        .string("q")
        .nullable_string(None)
        .begin()
        .string("x")
        .end()
        .data(&d)
        .build();
    let back = &messages(&msg.to_bytes())[0];
    assert_eq!(back, &msg);
    let mut r = back.reader();
    r.next_frame().unwrap();
    assert_eq!(builtin::string(&mut r).unwrap(), "q");
    assert_eq!(builtin::nullable(&mut r, builtin::string).unwrap(), None);
    assert_eq!(
        builtin::list(&mut r, builtin::string).unwrap(),
        vec!["x".to_owned()]
    );
    assert_eq!(builtin::data(&mut r).unwrap(), d);
    assert!(!r.has_next());
}

fn get_x() -> ClientMessage {
    map::Get {
        name: "x",
        key: &Data::from_value(&Value::Int(1)),
        thread_id: 1,
    }
    .encode()
}

#[test]
fn fragmented_messages_are_reassembled() {
    let big = Value::Bytes((0..5000).map(|i| i as u8).collect());
    let msg = map::Put {
        name: "a-map",
        key: &Data::from_value(&Value::Int(5)),
        value: &Data::from_value(&big),
        thread_id: 1,
        ttl: -1,
    }
    .encode();
    let other = get_x();
    let fragments = msg.fragment(77, 40);
    assert!(fragments.len() >= 3);
    // Interleave an unfragmented message between fragments, as a member may.
    let mut wire = Vec::new();
    for (i, frag) in fragments.iter().enumerate() {
        for f in frag {
            f.write_to(&mut wire);
        }
        if i == 0 {
            other.write_to(&mut wire);
        }
    }
    let got = messages(&wire);
    assert_eq!(got, vec![other, msg]);
}

#[test]
fn fragment_without_beginning_is_an_error() {
    let msg = get_x();
    let frags = msg.fragment(5, 10);
    let mut asm = MessageAssembler::new();
    let mut result = Ok(None);
    for f in frags[1].clone() {
        result = asm.push(f);
        if result.is_err() {
            break;
        }
    }
    assert!(result.is_err());
}

/// A small xorshift generator: deterministic, no dependency.
struct XorShift(u64);
impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn decode_everything(bytes: &[u8]) {
    let mut asm = MessageAssembler::new();
    let mut rest = bytes;
    while let Ok(Some((frame, used))) = decode_frame(rest) {
        rest = &rest[used..];
        match asm.push(frame) {
            Ok(Some(msg)) => {
                let _ = msg.message_type();
                let _ = msg.correlation_id();
                let _ = decode_authentication(&msg);
                let _ = decode_cluster_view_event(&msg);
                let _ = builtin::error_holders(&msg);
                let _ = decode_nullable_data(&msg).map(|d| d.map(|d| d.to_value()));
                let _ = decode_bool(&msg);
                let _ = decode_i32(&msg);
                let mut r = msg.reader();
                let _ = r.next_frame();
                let _ = builtin::member_info(&mut r);
                let _ = builtin::entry_list_uuid_list_i32(&mut r);
            }
            Ok(None) => {}
            Err(_) => break,
        }
    }
}

#[test]
fn arbitrary_bytes_give_errors_not_panics() {
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let seeds: Vec<Vec<u8>> = [AUTH_RESP, GET_RESP, PUT_REQ, AUTH_REQ_PY]
        .iter()
        .map(|h| unhex(h))
        .collect();
    for i in 0..20_000 {
        let bytes: Vec<u8> = if i % 2 == 0 {
            // Mutations of real messages: flipped bytes and truncations.
            let mut b = seeds[i % seeds.len()].clone();
            for _ in 0..=rng.below(6) {
                let at = rng.below(b.len() as u64) as usize;
                b[at] = rng.next() as u8;
            }
            let cut = rng.below(b.len() as u64 + 1) as usize;
            if rng.below(3) == 0 {
                b.truncate(cut);
            }
            b
        } else {
            // Random frames with plausible lengths and random flags.
            let mut b = Vec::new();
            for _ in 0..=rng.below(8) {
                let len = 6 + rng.below(40) as usize;
                b.extend_from_slice(&(len as i32).to_le_bytes());
                b.extend_from_slice(&(rng.next() as u16).to_le_bytes());
                b.extend((0..len - 6).map(|_| rng.next() as u8));
            }
            b
        };
        decode_everything(&bytes);
    }
}
