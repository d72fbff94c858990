//! Byte-level tests of the frame and message codecs: round trips, bytes captured from a
//! real exchange between the official Python client and a 5.7.0 member, and a fuzz loop
//! showing that arbitrary bytes give errors, never panics.

use hazelcast_client::codec::builtin::{self, RequestBuilder};
use hazelcast_client::codec::frame::{decode_frame, decode_frames, flags, Frame};
use hazelcast_client::codec::{ClientMessage, MessageAssembler, Uuid};
use hazelcast_client::protocol::client::{
    decode_authentication, decode_cluster_view_event, encode_authentication, AuthRequest,
};
use hazelcast_client::protocol::{decode_bool, decode_i32, decode_nullable_data, map, queue};
use hazelcast_client::{Data, Value};

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
    let mut put = map::encode_put_like(map::PUT, "m", &key, &value, 7, -1);
    put.set_correlation_id(2);
    put.set_partition_id(31);
    assert_eq!(hex(&put.to_bytes()), PUT_REQ);
    let mut get = map::encode_key_op(map::GET, "m", &key, 7);
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

#[test]
fn fragmented_messages_are_reassembled() {
    let big = Value::Bytes((0..5000).map(|i| i as u8).collect());
    let msg = map::encode_put_like(
        map::PUT,
        "a-map",
        &Data::from_value(&Value::Int(5)),
        &Data::from_value(&big),
        1,
        -1,
    );
    let other = map::encode_key_op(map::GET, "x", &Data::from_value(&Value::Int(1)), 1);
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
    let msg = map::encode_key_op(map::GET, "x", &Data::from_value(&Value::Int(1)), 1);
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
