//! Client messages: a run of frames whose first frame holds the fixed header and fixed-size
//! parameters, and the reassembly of messages that arrive as fragments.

use std::collections::HashMap;

use super::frame::{flags, Frame};
use super::CodecError;

/// Offsets in the first frame's content.
pub const TYPE_OFFSET: usize = 0;
pub const CORRELATION_ID_OFFSET: usize = 4;
/// Requests and events carry a partition id after the correlation id.
pub const PARTITION_ID_OFFSET: usize = 12;
/// Responses carry a backup-ack count after the correlation id.
pub const BACKUP_ACKS_OFFSET: usize = 12;
/// Size of the fixed header of a request or event (type, correlation id, partition id).
pub const REQUEST_HEADER_SIZE: usize = 16;
pub const EVENT_HEADER_SIZE: usize = 16;
/// Size of the fixed header of a response (type, correlation id, backup acks).
pub const RESPONSE_HEADER_SIZE: usize = 13;

/// Message type of an error response.
pub const ERROR_MESSAGE_TYPE: i32 = 0;

/// A whole (reassembled) client message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientMessage {
    pub frames: Vec<Frame>,
}

impl ClientMessage {
    /// Builds a message from frames; the first must hold at least the 12-byte type and
    /// correlation id.
    pub fn from_frames(frames: Vec<Frame>) -> Result<ClientMessage, CodecError> {
        match frames.first() {
            None => Err(CodecError::new("message without frames")),
            Some(f) if f.content.len() < CORRELATION_ID_OFFSET + 8 => {
                Err(CodecError::new(format!(
                    "first frame of {} bytes is too short for a header",
                    f.content.len()
                )))
            }
            Some(_) => Ok(ClientMessage { frames }),
        }
    }

    fn initial(&self) -> &Frame {
        &self.frames[0]
    }

    pub fn message_type(&self) -> i32 {
        read_i32(&self.initial().content, TYPE_OFFSET).unwrap_or(-1)
    }

    pub fn correlation_id(&self) -> i64 {
        read_i64(&self.initial().content, CORRELATION_ID_OFFSET).unwrap_or(-1)
    }

    pub fn set_correlation_id(&mut self, id: i64) {
        self.frames[0].content[CORRELATION_ID_OFFSET..CORRELATION_ID_OFFSET + 8]
            .copy_from_slice(&id.to_le_bytes());
    }

    pub fn partition_id(&self) -> i32 {
        read_i32(&self.initial().content, PARTITION_ID_OFFSET).unwrap_or(-1)
    }

    pub fn set_partition_id(&mut self, id: i32) {
        if self.frames[0].content.len() >= PARTITION_ID_OFFSET + 4 {
            self.frames[0].content[PARTITION_ID_OFFSET..PARTITION_ID_OFFSET + 4]
                .copy_from_slice(&id.to_le_bytes());
        }
    }

    /// An event (listener or backup acknowledgement) rather than a response.
    pub fn is_event(&self) -> bool {
        let f = self.initial();
        f.has(flags::IS_EVENT) || f.has(flags::BACKUP_EVENT)
    }

    /// Asks the primary to answer before its backups and have them acknowledge to the client.
    pub fn set_backup_aware(&mut self) {
        self.frames[0].flags |= flags::BACKUP_AWARE;
    }

    /// Number of backup acknowledgements a response says will follow.
    pub fn backup_acks(&self) -> u8 {
        self.initial()
            .content
            .get(BACKUP_ACKS_OFFSET)
            .copied()
            .unwrap_or(0)
    }

    pub fn is_error(&self) -> bool {
        self.message_type() == ERROR_MESSAGE_TYPE
    }

    /// Wire length of the whole message.
    pub fn wire_len(&self) -> usize {
        self.frames.iter().map(Frame::wire_len).sum()
    }

    /// Appends the wire form of the message to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        for f in &self.frames {
            f.write_to(out);
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.wire_len());
        self.write_to(&mut out);
        out
    }

    /// A cursor over the frames, starting at the first.
    pub fn reader(&self) -> MessageReader<'_> {
        MessageReader {
            frames: &self.frames,
            pos: 0,
        }
    }

    /// Splits the message into fragments of at most about `max_frame_bytes` each (whole
    /// frames are never split), as a member does for large messages.
    pub fn fragment(&self, fragment_id: i64, max_frame_bytes: usize) -> Vec<Vec<Frame>> {
        let mut fragments: Vec<Vec<Frame>> = Vec::new();
        let mut current: Vec<Frame> = Vec::new();
        let mut size = 0;
        for f in &self.frames {
            if !current.is_empty() && size + f.wire_len() > max_frame_bytes {
                fragments.push(std::mem::take(&mut current));
                size = 0;
            }
            size += f.wire_len();
            let mut f = f.clone();
            f.flags &= !flags::IS_FINAL;
            current.push(f);
        }
        if !current.is_empty() {
            fragments.push(current);
        }
        let n = fragments.len();
        fragments
            .into_iter()
            .enumerate()
            .map(|(i, mut frames)| {
                let mut fl = 0;
                if i == 0 {
                    fl |= flags::BEGIN_FRAGMENT;
                }
                if i + 1 == n {
                    fl |= flags::END_FRAGMENT;
                }
                if let Some(last) = frames.last_mut() {
                    last.flags |= flags::IS_FINAL;
                }
                let mut out = vec![Frame::new(fl, fragment_id.to_le_bytes().to_vec())];
                out.append(&mut frames);
                out
            })
            .collect()
    }
}

pub(crate) fn read_i32(buf: &[u8], at: usize) -> Option<i32> {
    buf.get(at..at + 4)
        .map(|b| i32::from_le_bytes(b.try_into().unwrap()))
}

pub(crate) fn read_i64(buf: &[u8], at: usize) -> Option<i64> {
    buf.get(at..at + 8)
        .map(|b| i64::from_le_bytes(b.try_into().unwrap()))
}

/// A cursor over a message's frames, for decoding.
#[derive(Debug, Clone)]
pub struct MessageReader<'a> {
    frames: &'a [Frame],
    pos: usize,
}

impl<'a> MessageReader<'a> {
    pub fn next_frame(&mut self) -> Result<&'a Frame, CodecError> {
        let f = self
            .frames
            .get(self.pos)
            .ok_or_else(|| CodecError::new("message ended before all its fields"))?;
        self.pos += 1;
        Ok(f)
    }

    pub fn peek(&self) -> Option<&'a Frame> {
        self.frames.get(self.pos)
    }

    pub fn has_next(&self) -> bool {
        self.pos < self.frames.len()
    }
}

/// Collects frames from the wire into whole messages, reassembling fragments.
#[derive(Debug, Default)]
pub struct MessageAssembler {
    current: Vec<Frame>,
    fragments: HashMap<i64, Vec<Frame>>,
}

/// Most fragmented messages this client keeps open at once (a guard against garbage).
const MAX_OPEN_FRAGMENTED: usize = 1024;

impl MessageAssembler {
    pub fn new() -> MessageAssembler {
        MessageAssembler::default()
    }

    /// Adds a frame; returns a message when one is complete.
    pub fn push(&mut self, frame: Frame) -> Result<Option<ClientMessage>, CodecError> {
        let last = frame.is_final();
        self.current.push(frame);
        if !last {
            return Ok(None);
        }
        let frames = std::mem::take(&mut self.current);
        let first = &frames[0];
        if first.has(flags::UNFRAGMENTED) {
            return ClientMessage::from_frames(frames).map(Some);
        }
        // A fragment: its first frame holds the fragmentation id.
        let id = read_i64(&first.content, 0)
            .ok_or_else(|| CodecError::new("fragment without a fragmentation id"))?;
        let begin = first.has(flags::BEGIN_FRAGMENT);
        let end = first.has(flags::END_FRAGMENT);
        let mut rest: Vec<Frame> = frames.into_iter().skip(1).collect();
        if begin {
            if self.fragments.len() >= MAX_OPEN_FRAGMENTED {
                return Err(CodecError::new("too many fragmented messages open at once"));
            }
            self.fragments.insert(id, rest);
            return Ok(None);
        }
        let Some(existing) = self.fragments.get_mut(&id) else {
            return Err(CodecError::new(format!(
                "fragment of message {id} arrived without its first part"
            )));
        };
        // The previous part's last frame was final only as the end of that fragment.
        if let Some(prev) = existing.last_mut() {
            prev.flags &= !flags::IS_FINAL;
        }
        existing.append(&mut rest);
        if end {
            let frames = self.fragments.remove(&id).unwrap_or_default();
            return ClientMessage::from_frames(frames).map(Some);
        }
        Ok(None)
    }
}
