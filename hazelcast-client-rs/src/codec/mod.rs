//! The wire format: frames, messages and the codecs of the types they carry.

pub mod builtin;
pub mod frame;
pub mod message;

pub use builtin::{Address, ErrorHolder, MemberInfo, RequestBuilder, Uuid};
pub use frame::Frame;
pub use message::{
    ClientMessage, Limit, LimitExceeded, Limits, MessageAssembler, MessageReader, ReadError,
};

/// Bytes that do not decode as the protocol says they should.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CodecError(pub String);

impl CodecError {
    /// An error saying `msg`.
    pub fn new(msg: impl Into<String>) -> CodecError {
        CodecError(msg.into())
    }
}
