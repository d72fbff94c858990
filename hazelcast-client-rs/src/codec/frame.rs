//! Frames: the unit the protocol puts on the wire after the `CP2` preamble.
//!
//! A frame is `length (i32 LE, header included) | flags (u16 LE) | content`. Flags mark the
//! last frame of a message, the ends of nested structures, null values, events, and the
//! fragments of a message split across several frame runs.

use super::CodecError;

/// Size of a frame's header: length (4 bytes) and flags (2 bytes).
pub const HEADER_SIZE: usize = 6;
/// Largest frame [`decode_frame`] accepts, and the length over which a connection's first
/// answer is taken as another protocol; connections otherwise apply the client's configured
/// limits (see [`Limits`](crate::codec::Limits)).
pub const MAX_FRAME_SIZE: usize = 64 * 1024 * 1024;

/// Frame flags (the header's 16-bit flags field).
pub mod flags {
    /// First frame of a message's fragment.
    pub const BEGIN_FRAGMENT: u16 = 1 << 15;
    /// Last frame of a message's fragment.
    pub const END_FRAGMENT: u16 = 1 << 14;
    /// A message sent in one fragment (set on its initial frame).
    pub const UNFRAGMENTED: u16 = BEGIN_FRAGMENT | END_FRAGMENT;
    /// The message's last frame.
    pub const IS_FINAL: u16 = 1 << 13;
    /// Begins a structure or list.
    pub const BEGIN_DATA_STRUCTURE: u16 = 1 << 12;
    /// Ends a structure or list.
    pub const END_DATA_STRUCTURE: u16 = 1 << 11;
    /// A null value.
    pub const IS_NULL: u16 = 1 << 10;
    /// The message is an event.
    pub const IS_EVENT: u16 = 1 << 9;
    /// The request wants backup acknowledgements sent to the client.
    pub const BACKUP_AWARE: u16 = 1 << 8;
    /// The message is a backup acknowledgement.
    pub const BACKUP_EVENT: u16 = 1 << 7;
}

/// One frame: its flags and content (the header is implied).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Frame {
    /// The frame's flags (see [`flags`]).
    pub flags: u16,
    /// The frame's bytes after its header.
    pub content: Vec<u8>,
}

impl Frame {
    /// A frame of `flags` and `content`.
    pub fn new(flags: u16, content: Vec<u8>) -> Frame {
        Frame { flags, content }
    }

    /// An empty frame carrying only flags (null, begin or end of a structure).
    pub fn marker(flags: u16) -> Frame {
        Frame {
            flags,
            content: Vec::new(),
        }
    }

    /// Whether every bit of `flag` is set.
    pub fn has(&self, flag: u16) -> bool {
        self.flags & flag == flag
    }

    /// Whether this is the message's last frame.
    pub fn is_final(&self) -> bool {
        self.has(flags::IS_FINAL)
    }
    /// Whether this frame is a null value.
    pub fn is_null(&self) -> bool {
        self.has(flags::IS_NULL)
    }
    /// Whether this frame begins a structure.
    pub fn is_begin(&self) -> bool {
        self.has(flags::BEGIN_DATA_STRUCTURE)
    }
    /// Whether this frame ends a structure.
    pub fn is_end(&self) -> bool {
        self.has(flags::END_DATA_STRUCTURE)
    }

    /// Length on the wire, header included.
    pub fn wire_len(&self) -> usize {
        HEADER_SIZE + self.content.len()
    }

    /// Appends the frame's wire form to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&(self.wire_len() as i32).to_le_bytes());
        out.extend_from_slice(&self.flags.to_le_bytes());
        out.extend_from_slice(&self.content);
    }
}

/// Reads one frame from the start of `buf`.
///
/// Returns `Ok(None)` when `buf` does not yet hold a whole frame, or the frame and the number
/// of bytes it took. A length below the header size or above [`MAX_FRAME_SIZE`] is an error.
pub fn decode_frame(buf: &[u8]) -> Result<Option<(Frame, usize)>, CodecError> {
    let Some(len) = frame_length(buf)? else {
        return Ok(None);
    };
    if len > MAX_FRAME_SIZE {
        return Err(CodecError::new(format!(
            "frame length {len} is outside {HEADER_SIZE}..={MAX_FRAME_SIZE} (not a Hazelcast member, or a protocol mismatch?)"
        )));
    }
    if buf.len() < len {
        return Ok(None);
    }
    Ok(Some((
        Frame {
            flags: frame_flags(buf),
            content: buf[HEADER_SIZE..len].to_vec(),
        },
        len,
    )))
}

/// The length (header included) that the frame at the start of `buf` declares, once `buf`
/// holds its header: `Ok(None)` before that. A length below the header size (negative
/// included) is an error; an upper bound is the caller's to apply.
pub fn frame_length(buf: &[u8]) -> Result<Option<usize>, CodecError> {
    if buf.len() < HEADER_SIZE {
        return Ok(None);
    }
    let len = i32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]);
    if len < HEADER_SIZE as i32 {
        return Err(CodecError::new(format!(
            "frame length {len} is below the {HEADER_SIZE}-byte header (not a Hazelcast member, or a protocol mismatch?)"
        )));
    }
    Ok(Some(len as usize))
}

/// The flags of the frame at the start of `buf`, which must hold its header.
pub fn frame_flags(buf: &[u8]) -> u16 {
    u16::from_le_bytes([buf[4], buf[5]])
}

/// Reads all frames of `buf`, which must hold whole frames only.
pub fn decode_frames(mut buf: &[u8]) -> Result<Vec<Frame>, CodecError> {
    let mut frames = Vec::new();
    while !buf.is_empty() {
        match decode_frame(buf)? {
            Some((frame, used)) => {
                frames.push(frame);
                buf = &buf[used..];
            }
            None => {
                return Err(CodecError::new(format!(
                    "{} trailing bytes do not make a whole frame",
                    buf.len()
                )))
            }
        }
    }
    Ok(frames)
}
