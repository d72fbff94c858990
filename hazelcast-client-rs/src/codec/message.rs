//! Client messages: a run of frames whose first frame holds the fixed header and fixed-size
//! parameters, and the reassembly of messages that arrive as fragments.

use std::collections::HashMap;

use super::frame::{flags, Frame, HEADER_SIZE};
use super::CodecError;

/// Offset of the message type in the first frame's content.
pub const TYPE_OFFSET: usize = 0;
/// Offset of the correlation id in the first frame's content.
pub const CORRELATION_ID_OFFSET: usize = 4;
/// Requests and events carry a partition id after the correlation id.
pub const PARTITION_ID_OFFSET: usize = 12;
/// Responses carry a backup-ack count after the correlation id.
pub const BACKUP_ACKS_OFFSET: usize = 12;
/// Size of the fixed header of a request or event (type, correlation id, partition id).
pub const REQUEST_HEADER_SIZE: usize = 16;
/// Size of the fixed header of an event (type, correlation id, partition id).
pub const EVENT_HEADER_SIZE: usize = 16;
/// Size of the fixed header of a response (type, correlation id, backup acks).
pub const RESPONSE_HEADER_SIZE: usize = 13;

/// Message type of an error response.
pub const ERROR_MESSAGE_TYPE: i32 = 0;

/// A whole (reassembled) client message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientMessage {
    /// The frames, the initial one first.
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

    /// The message type (0 in an error response).
    pub fn message_type(&self) -> i32 {
        read_i32(&self.initial().content, TYPE_OFFSET).unwrap_or(-1)
    }

    /// The correlation id pairing a response with its request.
    pub fn correlation_id(&self) -> i64 {
        read_i64(&self.initial().content, CORRELATION_ID_OFFSET).unwrap_or(-1)
    }

    /// Sets the correlation id.
    pub fn set_correlation_id(&mut self, id: i64) {
        self.frames[0].content[CORRELATION_ID_OFFSET..CORRELATION_ID_OFFSET + 8]
            .copy_from_slice(&id.to_le_bytes());
    }

    /// The partition id of a request or event (-1 for none).
    pub fn partition_id(&self) -> i32 {
        read_i32(&self.initial().content, PARTITION_ID_OFFSET).unwrap_or(-1)
    }

    /// Sets the partition id of a request.
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

    /// Whether this is an error response.
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

    /// The message as sent on the wire: every frame with its header.
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
    /// The next frame; an error at the end of the message.
    pub fn next_frame(&mut self) -> Result<&'a Frame, CodecError> {
        let f = self
            .frames
            .get(self.pos)
            .ok_or_else(|| CodecError::new("message ended before all its fields"))?;
        self.pos += 1;
        Ok(f)
    }

    /// The next frame, without moving past it.
    pub fn peek(&self) -> Option<&'a Frame> {
        self.frames.get(self.pos)
    }

    /// Whether frames are left.
    pub fn has_next(&self) -> bool {
        self.pos < self.frames.len()
    }
}

/// What a frame is counted as while the client holds it: its content plus this much for the
/// frame itself (its place in a message's frame list; on the wire its header is 6 bytes).
/// Counting this keeps the limits true to memory for messages of many small frames.
pub const FRAME_OVERHEAD: usize = 32;

/// The bytes a frame of `wire_len` bytes (header included) is counted as while held.
pub fn held_size(wire_len: usize) -> usize {
    wire_len.saturating_sub(HEADER_SIZE) + FRAME_OVERHEAD
}

/// How much a [`MessageAssembler`] holds at most. Sizes count each frame as
/// [`held_size`]: its content plus [`FRAME_OVERHEAD`] bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest message, fragments together.
    pub max_message_bytes: usize,
    /// Most bytes held at once in messages not yet complete: the frames of a message whose
    /// final frame has not come, and fragmented messages whose last fragment has not come.
    pub max_unfinished_bytes: usize,
}

impl Limits {
    /// 64 MiB each, as [`ClientConfig`](crate::ClientConfig) has them by default.
    pub const DEFAULT: Limits = Limits {
        max_message_bytes: 64 * 1024 * 1024,
        max_unfinished_bytes: 64 * 1024 * 1024,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

/// Which limit bytes from a member went over, named as the
/// [`ClientConfig`](crate::ClientConfig) field that sets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Limit {
    /// `max_message_bytes`: one message.
    MessageBytes,
    /// `max_unfinished_bytes`: all unfinished messages of a connection together.
    UnfinishedBytes,
    /// `max_auth_message_bytes`: anything before the authentication answer is complete.
    AuthMessageBytes,
}

impl Limit {
    /// The [`ClientConfig`](crate::ClientConfig) field that sets this limit.
    pub fn setting(self) -> &'static str {
        match self {
            Limit::MessageBytes => "max_message_bytes",
            Limit::UnfinishedBytes => "max_unfinished_bytes",
            Limit::AuthMessageBytes => "max_auth_message_bytes",
        }
    }
}

/// Bytes from a member over one of the [`Limits`]: `size` is what holding the frame would
/// have taken (known from the frame's header, before its content is read).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.describe())]
pub struct LimitExceeded {
    /// Which limit.
    pub limit: Limit,
    /// The limit, in bytes.
    pub max: usize,
    /// The size that went over it, in bytes.
    pub size: usize,
}

impl LimitExceeded {
    fn describe(&self) -> String {
        let what = match self.limit {
            Limit::MessageBytes => "a message of",
            Limit::UnfinishedBytes => "unfinished messages holding",
            Limit::AuthMessageBytes => "before authentication a message of",
        };
        format!(
            "{what} at least {} bytes, over the limit of {} bytes ({})",
            self.size,
            self.max,
            self.limit.setting()
        )
    }
}

/// Why bytes from a member could not be taken: they are not the protocol, or they go over
/// a limit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// Bytes that are not the protocol.
    #[error(transparent)]
    Codec(#[from] CodecError),
    /// Bytes over a limit.
    #[error(transparent)]
    Limit(#[from] LimitExceeded),
}

impl From<ReadError> for CodecError {
    fn from(e: ReadError) -> CodecError {
        match e {
            ReadError::Codec(e) => e,
            ReadError::Limit(e) => CodecError::new(e.to_string()),
        }
    }
}

/// Collects frames from the wire into whole messages, reassembling fragments, within its
/// [`Limits`]: a frame that would take a message or the unfinished messages over them is
/// refused ([`MessageAssembler::admit`] tells from a frame's declared length, before its
/// content is read).
#[derive(Debug, Default)]
pub struct MessageAssembler {
    /// The frames of the current run (up to a final frame), and what they are counted as.
    current: Vec<Frame>,
    current_bytes: usize,
    /// For a run continuing a fragmented message: what its earlier fragments hold.
    current_prior: usize,
    /// Open fragmented messages: their frames so far, and what those are counted as.
    fragments: HashMap<i64, (Vec<Frame>, usize)>,
    /// Everything held: the current run and the open fragmented messages.
    held: usize,
    limits: Limits,
}

/// Most fragmented messages this client keeps open at once (a guard against garbage).
const MAX_OPEN_FRAGMENTED: usize = 1024;

impl MessageAssembler {
    /// An assembler with the default [`Limits`].
    pub fn new() -> MessageAssembler {
        MessageAssembler::default()
    }

    /// An assembler refusing what goes over `limits`.
    pub fn with_limits(limits: Limits) -> MessageAssembler {
        MessageAssembler {
            limits,
            ..MessageAssembler::default()
        }
    }

    /// Changes the limits for the frames to come.
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// The limits this assembler applies.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Bytes held in unfinished messages (counted as [`held_size`] per frame).
    pub fn held_bytes(&self) -> usize {
        self.held
    }

    /// Whether a frame of `wire_len` bytes (header included), pushed next, stays within the
    /// limits.
    pub fn admit(&self, wire_len: usize) -> Result<(), LimitExceeded> {
        let cost = held_size(wire_len);
        let message = self
            .current_prior
            .saturating_add(self.current_bytes)
            .saturating_add(cost);
        if message > self.limits.max_message_bytes {
            return Err(LimitExceeded {
                limit: Limit::MessageBytes,
                max: self.limits.max_message_bytes,
                size: message,
            });
        }
        let held = self.held.saturating_add(cost);
        if held > self.limits.max_unfinished_bytes {
            return Err(LimitExceeded {
                limit: Limit::UnfinishedBytes,
                max: self.limits.max_unfinished_bytes,
                size: held,
            });
        }
        Ok(())
    }

    /// Adds a frame; returns a message when one is complete.
    pub fn push(&mut self, frame: Frame) -> Result<Option<ClientMessage>, CodecError> {
        self.push_checked(frame).map_err(CodecError::from)
    }

    /// Like [`MessageAssembler::push`], telling a limit gone over from bad bytes.
    pub fn push_checked(&mut self, frame: Frame) -> Result<Option<ClientMessage>, ReadError> {
        self.admit(frame.wire_len())?;
        let cost = held_size(frame.wire_len());
        if self.current.is_empty() {
            self.current_prior = self.continued_size(&frame);
        }
        let last = frame.is_final();
        self.current.push(frame);
        self.current_bytes += cost;
        self.held += cost;
        if !last {
            return Ok(None);
        }
        let frames = std::mem::take(&mut self.current);
        let run_bytes = std::mem::take(&mut self.current_bytes);
        self.current_prior = 0;
        self.held -= run_bytes;
        let first = &frames[0];
        if first.has(flags::UNFRAGMENTED) {
            return Ok(Some(ClientMessage::from_frames(frames)?));
        }
        // A fragment: its first frame holds the fragmentation id.
        let id = read_i64(&first.content, 0)
            .ok_or_else(|| CodecError::new("fragment without a fragmentation id"))?;
        let begin = first.has(flags::BEGIN_FRAGMENT);
        let end = first.has(flags::END_FRAGMENT);
        // The fragmentation id's frame is not kept.
        let rest_bytes = run_bytes - held_size(first.wire_len());
        let mut rest: Vec<Frame> = frames.into_iter().skip(1).collect();
        if begin {
            if self.fragments.len() >= MAX_OPEN_FRAGMENTED && !self.fragments.contains_key(&id) {
                return Err(CodecError::new("too many fragmented messages open at once").into());
            }
            if let Some((_, replaced)) = self.fragments.insert(id, (rest, rest_bytes)) {
                self.held -= replaced;
            }
            self.held += rest_bytes;
            return Ok(None);
        }
        let Some((existing, size)) = self.fragments.get_mut(&id) else {
            return Err(CodecError::new(format!(
                "fragment of message {id} arrived without its first part"
            ))
            .into());
        };
        // The previous part's last frame was final only as the end of that fragment.
        if let Some(prev) = existing.last_mut() {
            prev.flags &= !flags::IS_FINAL;
        }
        existing.append(&mut rest);
        *size += rest_bytes;
        self.held += rest_bytes;
        if end {
            let (frames, size) = self.fragments.remove(&id).unwrap_or_default();
            self.held -= size;
            return Ok(Some(ClientMessage::from_frames(frames)?));
        }
        Ok(None)
    }

    /// What the earlier fragments of the message a run starting with `first` continues
    /// hold (0 for a run that starts a message).
    fn continued_size(&self, first: &Frame) -> usize {
        if first.has(flags::UNFRAGMENTED) || first.has(flags::BEGIN_FRAGMENT) {
            return 0;
        }
        read_i64(&first.content, 0)
            .and_then(|id| self.fragments.get(&id))
            .map_or(0, |(_, size)| *size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: Limits = Limits {
        max_message_bytes: 10_000,
        max_unfinished_bytes: 25_000,
    };

    fn header(message_type: i32) -> Vec<u8> {
        let mut h = Vec::new();
        h.extend_from_slice(&message_type.to_le_bytes());
        h.extend_from_slice(&7i64.to_le_bytes());
        h.push(0);
        h
    }

    #[test]
    fn endless_non_final_frames_stop_at_the_message_limit() {
        let mut asm = MessageAssembler::with_limits(SMALL);
        asm.push_checked(Frame::new(flags::UNFRAGMENTED, header(1)))
            .unwrap();
        let err = loop {
            match asm.push_checked(Frame::new(0, vec![0; 1000])) {
                Ok(None) => assert!(asm.held_bytes() <= SMALL.max_message_bytes),
                Ok(Some(_)) => panic!("no frame was final"),
                Err(e) => break e,
            }
        };
        let ReadError::Limit(e) = err else {
            panic!("{err}")
        };
        assert_eq!(e.limit, Limit::MessageBytes);
        assert_eq!(e.max, 10_000);
        assert!(e.size > 10_000 && e.size <= 10_000 + 1032, "{e:?}");
        assert!(e.to_string().contains("max_message_bytes"), "{e}");
    }

    #[test]
    fn many_tiny_frames_count_their_bookkeeping() {
        // Empty frames are 6 bytes on the wire but a frame's worth of memory held.
        let mut asm = MessageAssembler::with_limits(SMALL);
        let mut n = 0;
        while asm.push_checked(Frame::marker(0)).is_ok() {
            n += 1;
        }
        assert_eq!(n, SMALL.max_message_bytes / FRAME_OVERHEAD);
    }

    #[test]
    fn a_huge_declared_length_is_refused_before_its_content() {
        let asm = MessageAssembler::with_limits(SMALL);
        assert!(asm.admit(9_000).is_ok());
        let e = asm.admit(i32::MAX as usize).unwrap_err();
        assert_eq!(e.limit, Limit::MessageBytes);
        assert_eq!(e.size, held_size(i32::MAX as usize));
    }

    fn fragment_start(id: i64, payload: usize) -> [Frame; 2] {
        [
            Frame::new(flags::BEGIN_FRAGMENT, id.to_le_bytes().to_vec()),
            Frame::new(flags::IS_FINAL, vec![0; payload]),
        ]
    }

    #[test]
    fn open_fragmented_messages_stop_at_the_unfinished_limit() {
        let mut asm = MessageAssembler::with_limits(SMALL);
        let mut err = None;
        'outer: for id in 0..100 {
            for f in fragment_start(id, 5_000) {
                if let Err(e) = asm.push_checked(f) {
                    err = Some(e);
                    break 'outer;
                }
            }
            assert!(asm.held_bytes() <= SMALL.max_unfinished_bytes);
        }
        let Some(ReadError::Limit(e)) = err else {
            panic!("{err:?}")
        };
        assert_eq!(e.limit, Limit::UnfinishedBytes);
        assert_eq!(e.max, 25_000);
        assert!(e.to_string().contains("max_unfinished_bytes"), "{e}");
    }

    #[test]
    fn a_fragmented_message_counts_all_its_fragments() {
        let mut asm = MessageAssembler::with_limits(Limits {
            max_message_bytes: 10_000,
            max_unfinished_bytes: 1_000_000,
        });
        for f in fragment_start(1, 4_000) {
            asm.push_checked(f).unwrap();
        }
        let middle = || {
            [
                Frame::new(0, 1i64.to_le_bytes().to_vec()),
                Frame::new(flags::IS_FINAL, vec![0; 4_000]),
            ]
        };
        for f in middle() {
            asm.push_checked(f).unwrap();
        }
        let mut pushed = Ok(None);
        for f in middle() {
            pushed = asm.push_checked(f);
            if pushed.is_err() {
                break;
            }
        }
        let Err(ReadError::Limit(e)) = pushed else {
            panic!("{pushed:?}")
        };
        assert_eq!(e.limit, Limit::MessageBytes);
    }

    #[test]
    fn finished_messages_release_what_they_held() {
        let mut asm = MessageAssembler::with_limits(SMALL);
        // A message just under the limit, fragmented, twice over: nothing stays held.
        let mut frames = vec![Frame::new(flags::UNFRAGMENTED, header(5))];
        frames.extend((0..8).map(|_| Frame::new(0, vec![1; 1000])));
        frames.last_mut().unwrap().flags |= flags::IS_FINAL;
        let msg = ClientMessage::from_frames(frames).unwrap();
        for round in 0..2 {
            let mut got = None;
            for part in msg.fragment(round, 3000) {
                for f in part {
                    if let Some(m) = asm.push_checked(f).unwrap() {
                        got = Some(m);
                    }
                }
            }
            assert_eq!(got.unwrap().frames.len(), msg.frames.len());
            assert_eq!(asm.held_bytes(), 0);
            let whole = msg.clone();
            let mut last = None;
            for f in whole.frames {
                last = asm.push_checked(f).unwrap();
            }
            assert!(last.is_some());
            assert_eq!(asm.held_bytes(), 0);
        }
    }
}
