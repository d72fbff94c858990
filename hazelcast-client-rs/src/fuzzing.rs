//! Entry points for the fuzz targets in `fuzz/` (feature `fuzzing`): each takes the bytes a
//! member could send and runs them through what the client does with them, so a fuzzer can
//! look for a panic, a hang or a huge allocation there. Not part of the API.

use crate::cluster::ClusterView;
use crate::codec::builtin;
use crate::codec::frame::{decode_frame, decode_frames};
use crate::codec::{ClientMessage, MessageAssembler};
use crate::error::ClientError;
use crate::protocol::{self, client as client_codec, map, Operation};

/// Wire bytes as a connection reads them: frames decoded from a growing buffer (also cut
/// short: a frame split across reads), assembled into messages, each message then decoded
/// with every decoder ([`message`]).
pub fn wire(bytes: &[u8]) {
    // Whole-buffer decoding, as the codec tests and tools use it.
    if let Ok(frames) = decode_frames(bytes) {
        let _ = ClientMessage::from_frames(frames);
    }
    // The connection's reader: frames off the front of the buffer into the assembler.
    let mut assembler = MessageAssembler::new();
    let mut rest = bytes;
    loop {
        match decode_frame(rest) {
            Ok(Some((frame, used))) => {
                assert!(used <= rest.len() && used >= frame.content.len());
                rest = &rest[used..];
                match assembler.push(frame) {
                    Ok(Some(msg)) => message(&msg),
                    Ok(None) => {}
                    Err(_) => break,
                }
            }
            Ok(None) => {
                // Not a whole frame yet: any prefix of it must also be incomplete.
                for cut in [0, rest.len() / 2] {
                    assert!(matches!(decode_frame(&rest[..cut]), Ok(None)));
                }
                break;
            }
            Err(_) => break,
        }
    }
}

/// Wire bytes of one message (whole frames), decoded with every decoder.
pub fn message_bytes(bytes: &[u8]) {
    let Ok(frames) = decode_frames(bytes) else {
        return;
    };
    let Ok(msg) = ClientMessage::from_frames(frames) else {
        return;
    };
    message(&msg);
}

/// Decodes a message with every decoder the client applies to what a member sends, and
/// applies what decodes to the client's cluster view as the client does.
pub fn message(msg: &ClientMessage) {
    let _ = msg.message_type();
    let _ = msg.correlation_id();
    let _ = msg.partition_id();
    let _ = msg.backup_acks();
    let _ = msg.is_event();
    let _ = msg.is_error();
    let _ = msg.wire_len();

    // Errors: the holders, the client's error, its message.
    if let Ok(holders) = builtin::error_holders(msg) {
        let err = ClientError::from_holders(holders);
        let _ = err.server_code();
        let _ = err.to_string();
    }

    // Responses of the proxies.
    let _ = protocol::decode_void(msg);
    let _ = protocol::decode_bool(msg);
    let _ = protocol::decode_i32(msg);
    // A field newer than its message, and a fixed-size UUID.
    let _ = map::Delete::decode_response(msg);
    let _ = client_codec::LocalBackupListener::decode_response(msg);
    if let Ok(Some(data)) = protocol::decode_nullable_data(msg) {
        let _ = data.type_id();
        let _ = data.partition_hash();
        let _ = data.partition_id(271);
        let _ = format!("{data:?}");
        if let Ok(value) = data.to_value() {
            let _ = value.to_string();
        }
    }

    // Events.
    let _ = client_codec::decode_backup_event(msg);
    let mut view = ClusterView::default();
    if let Ok(Some(event)) = client_codec::decode_cluster_view_event(msg) {
        match event {
            client_codec::ClusterViewEvent::Members { version, members } => {
                for m in &members {
                    let _ = (m.uuid.to_string(), m.address.to_string());
                }
                view.apply_members(version, members);
            }
            client_codec::ClusterViewEvent::Partitions {
                version,
                partitions,
            } => view.apply_partitions(version, &partitions),
        }
    }

    // Authentication, and the view it fills in.
    if let Ok(resp) = client_codec::decode_authentication(msg) {
        let mut view = ClusterView::default();
        if resp.partition_count > 0 {
            view.set_partition_count(resp.partition_count as u32);
        }
        if let Some((v, members)) = resp.member_list {
            view.apply_members(v, members);
        }
        if let Some((v, parts)) = &resp.partitions {
            view.apply_partitions(*v, parts);
        }
        for p in 0..view.partition_count.min(1024) {
            if let Some(owner) = view.owner(p) {
                let _ = view.member(owner);
            }
        }
    }
}
