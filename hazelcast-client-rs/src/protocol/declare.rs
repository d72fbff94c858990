//! Messages declared once: the crate's `messages!` macro turns
//! a declaration in the protocol definitions' terms (message id, retryable, partition
//! source, request and response fields in the definition's order) into a request struct,
//! its message-type constant and an [`Operation`] implementation: encoder, response decoder,
//! retryable flag and partition key.
//!
//! Fields are encoded as the protocol does: fixed-size fields ([`i64`], [`i32`], [`u8`],
//! [`bool`], `Option<Uuid>`) in the initial frame in declaration order, then one frame (or a
//! structure of frames) per variable-size field in declaration order. A nullable field is
//! declared `Option<T>` and sent as a null frame when `None`.

use crate::codec::builtin::{self, response_fixed, FixedReader, RequestBuilder};
use crate::codec::{ClientMessage, CodecError, MessageReader, Uuid};
use crate::serialization::{Data, Value};

/// What a declaration says of a message, for checks against the protocol definitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Declaration {
    /// `Service.method`, as the protocol definitions name it (`Map.put`).
    pub name: &'static str,
    /// The request's message type (service id << 16 | method id << 8).
    pub message_type: i32,
    /// Safe to send again after the connection closed with the request pending.
    pub retryable: bool,
    /// The request field whose partition the request goes to (`key`, `name`), or `none`.
    pub partition: &'static str,
}

/// A declared request: its encoder, the decoder of its response, and how to invoke it.
pub trait Operation {
    /// The message's declaration.
    const DECLARATION: Declaration;
    /// The request's message type.
    const MESSAGE_TYPE: i32 = Self::DECLARATION.message_type;
    /// The response's message type.
    const RESPONSE_TYPE: i32 = Self::MESSAGE_TYPE + 1;
    /// Safe to send again after its connection closed with the request pending.
    const RETRYABLE: bool = Self::DECLARATION.retryable;
    /// What the response decodes to: `()` without fields, the field's type with one
    /// (`Option` of it for a field newer than the message).
    type Response;

    /// The request message (correlation id and partition id left for the invocation).
    fn encode(&self) -> ClientMessage;
    /// Where the request goes: the partition of its key field, or none.
    fn partition(&self) -> PartitionKey<'_>;
    /// Reads the response's field, if it has one.
    fn decode_response(msg: &ClientMessage) -> Result<Self::Response, CodecError>;
}

/// The field a request's partition comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartitionKey<'a> {
    /// Any member may run it.
    None,
    /// The partition of a serialized key.
    Data(&'a Data),
    /// The partition of a structure's name (a queue lives on one partition).
    Name(&'a str),
}

impl PartitionKey<'_> {
    /// The partition id for a cluster of `partition_count` partitions.
    pub fn id(self, partition_count: u32) -> Option<u32> {
        match self {
            PartitionKey::None => None,
            PartitionKey::Data(d) => Some(d.partition_id(partition_count)),
            PartitionKey::Name(n) => {
                Some(Data::from_value(&Value::String(n.to_owned())).partition_id(partition_count))
            }
        }
    }
}

/// A request field a partition may come from.
pub trait PartitionSource {
    /// The partition the field stands for.
    fn partition_key(&self) -> PartitionKey<'_>;
}

impl PartitionSource for &Data {
    fn partition_key(&self) -> PartitionKey<'_> {
        PartitionKey::Data(self)
    }
}

impl PartitionSource for &str {
    fn partition_key(&self) -> PartitionKey<'_> {
        PartitionKey::Name(self)
    }
}

/// How a request field is written: into the initial frame if fixed-size, as frames if not.
/// The encoder calls `put_fixed` for every field in order, then `put_frames`.
pub trait RequestField {
    /// Writes the field into the initial frame if it is fixed-size.
    fn put_fixed(&self, b: RequestBuilder) -> RequestBuilder {
        b
    }
    /// Writes the field's frames if it is variable-size.
    fn put_frames(&self, b: RequestBuilder) -> RequestBuilder {
        b
    }
}

/// A variable-size field type, the kind that may be declared nullable (`Option<T>`).
pub trait VarField: RequestField {}

macro_rules! fixed_request_fields {
    ($($t:ty => $put:ident),* $(,)?) => {$(
        impl RequestField for $t {
            fn put_fixed(&self, b: RequestBuilder) -> RequestBuilder {
                b.$put(*self)
            }
        }
    )*};
}

fixed_request_fields!(i64 => fixed_i64, i32 => fixed_i32, u8 => fixed_u8, bool => fixed_bool);

/// A UUID travels in the initial frame with an is-null flag, nullable or not.
impl RequestField for Option<Uuid> {
    fn put_fixed(&self, b: RequestBuilder) -> RequestBuilder {
        b.fixed_uuid(*self)
    }
}

impl RequestField for &str {
    fn put_frames(&self, b: RequestBuilder) -> RequestBuilder {
        b.string(self)
    }
}
impl VarField for &str {}

impl RequestField for &Data {
    fn put_frames(&self, b: RequestBuilder) -> RequestBuilder {
        b.data(self)
    }
}
impl VarField for &Data {}

/// `List_String`.
impl RequestField for &[String] {
    fn put_frames(&self, b: RequestBuilder) -> RequestBuilder {
        b.string_list(self)
    }
}
impl VarField for &[String] {}

impl<T: VarField> RequestField for Option<T> {
    fn put_frames(&self, b: RequestBuilder) -> RequestBuilder {
        match self {
            Some(v) => v.put_frames(b),
            None => b.null(),
        }
    }
}

/// A field type of the protocol this client never sends a value of: declared
/// `Option<NotSent>` (under an alias naming the protocol's type), it is always null.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotSent {}

impl RequestField for NotSent {
    fn put_frames(&self, _b: RequestBuilder) -> RequestBuilder {
        match *self {}
    }
}
impl VarField for NotSent {}

/// How a response field is read: from the initial frame if fixed-size, from frames if not.
/// The decoder calls `fixed` for every field in order, then `frames` for the fields `fixed`
/// left unread.
pub trait ResponseField: Sized {
    /// Bytes in the initial frame; 0 for a variable-size field.
    const FIXED_SIZE: usize = 0;
    /// The field from the initial frame; `None` for a variable-size field.
    fn fixed(_f: &mut FixedReader<'_>) -> Result<Option<Self>, CodecError> {
        Ok(None)
    }
    /// The field from the frames after the initial one.
    fn frames(_r: &mut MessageReader<'_>) -> Result<Self, CodecError> {
        Err(CodecError::new("a fixed-size field read as frames"))
    }
}

macro_rules! fixed_response_fields {
    ($($t:ty => $get:ident, $size:expr);* $(;)?) => {$(
        impl ResponseField for $t {
            const FIXED_SIZE: usize = $size;
            fn fixed(f: &mut FixedReader<'_>) -> Result<Option<Self>, CodecError> {
                f.$get().map(Some)
            }
        }
    )*};
}

fixed_response_fields!(
    i64 => i64, 8;
    i32 => i32, 4;
    u8 => u8, 1;
    bool => bool, 1;
    Option<Uuid> => uuid, Uuid::SIZE;
);

/// A nullable Data; a response that ends before it reads as null.
impl ResponseField for Option<Data> {
    fn frames(r: &mut MessageReader<'_>) -> Result<Self, CodecError> {
        if !r.has_next() {
            return Ok(None);
        }
        builtin::nullable(r, builtin::data)
    }
}

/// A response of one field.
pub fn decode_single<T: ResponseField>(msg: &ClientMessage) -> Result<T, CodecError> {
    let mut r = msg.reader();
    let mut fixed = response_fixed(&mut r)?;
    match T::fixed(&mut fixed)? {
        Some(v) => Ok(v),
        None => T::frames(&mut r),
    }
}

/// A response of one field added in a later protocol version than its message: `None` when
/// the member's answer ends before it (an older member).
pub fn decode_single_since<T: ResponseField>(msg: &ClientMessage) -> Result<Option<T>, CodecError> {
    let mut r = msg.reader();
    let mut fixed = response_fixed(&mut r)?;
    if T::FIXED_SIZE > 0 {
        if fixed.remaining() < T::FIXED_SIZE {
            return Ok(None);
        }
        return T::fixed(&mut fixed);
    }
    if !r.has_next() {
        return Ok(None);
    }
    T::frames(&mut r).map(Some)
}

/// Declares the messages of one service. Per message, in the protocol definitions' terms:
///
/// ```text
/// /// Docs.
/// <method id> "<method name>" => <RequestStruct><'a>? as <MESSAGE_TYPE_CONST> {
///     retryable: <bool>,
///     partition: <request field> | none,
///     request { <field>: <type>, ... }          // in the definition's order
///     response { }                              // no fields: `()`
///     response { <field>: <type> }              // one field: its type
///     response { #[since = "2.7"] <field>: <type> } // one field newer than the message:
///                                                // `Option<type>`, `None` from older members
///     response custom(<type>, <decode fn>)      // decoded by hand
/// }
/// ```
///
/// It defines the struct (public fields), the message-type constant, an [`Operation`]
/// implementation and the service's `MESSAGES` list of [`Declaration`]s.
macro_rules! messages {
    (
        service $service:literal $service_name:literal;
        $(
            $(#[$meta:meta])*
            $method:literal $proto_name:literal => $Name:ident $(<$lt:lifetime>)? as $CONST:ident {
                retryable: $retryable:literal,
                partition: $partition:ident,
                request { $( $(#[$fmeta:meta])* $field:ident : $fty:ty ),* $(,)? }
                response $($response:tt)+
            }
        )*
    ) => {
        const SERVICE: i32 = $service;

        /// Every message declared for this service.
        pub const MESSAGES: &[$crate::protocol::declare::Declaration] = &[
            $( <$Name as $crate::protocol::declare::Operation>::DECLARATION ),*
        ];

        $(
            #[doc = concat!(
                "Message type of `", $service_name, ".", $proto_name, "` (method ",
                stringify!($method), ")."
            )]
            pub const $CONST: i32 = $crate::protocol::message_type(SERVICE, $method);

            #[doc = concat!("The `", $service_name, ".", $proto_name, "` request.")]
            #[doc = ""]
            $(#[$meta])*
            #[derive(Debug, Clone)]
            pub struct $Name $(<$lt>)? {
                $(
                    #[doc = concat!("The request's `", stringify!($field), "` field.")]
                    $(#[$fmeta])*
                    pub $field: $fty,
                )*
            }

            impl $(<$lt>)? $crate::protocol::declare::Operation for $Name $(<$lt>)? {
                const DECLARATION: $crate::protocol::declare::Declaration =
                    $crate::protocol::declare::Declaration {
                        name: concat!($service_name, ".", $proto_name),
                        message_type: $CONST,
                        retryable: $retryable,
                        partition: stringify!($partition),
                    };

                #[allow(unused_imports)]
                fn encode(&self) -> $crate::codec::ClientMessage {
                    use $crate::protocol::declare::RequestField;
                    let b = $crate::codec::builtin::RequestBuilder::new($CONST);
                    $( let b = RequestField::put_fixed(&self.$field, b); )*
                    $( let b = RequestField::put_frames(&self.$field, b); )*
                    b.build()
                }

                $crate::protocol::declare::messages!(@partition $partition);
                $crate::protocol::declare::messages!(@response $($response)+);
            }
        )*
    };

    (@partition none) => {
        fn partition(&self) -> $crate::protocol::declare::PartitionKey<'_> {
            $crate::protocol::declare::PartitionKey::None
        }
    };
    (@partition $field:ident) => {
        fn partition(&self) -> $crate::protocol::declare::PartitionKey<'_> {
            $crate::protocol::declare::PartitionSource::partition_key(&self.$field)
        }
    };

    (@response {}) => {
        type Response = ();
        /// No fields: nothing to read.
        fn decode_response(
            _msg: &$crate::codec::ClientMessage,
        ) -> Result<(), $crate::codec::CodecError> {
            Ok(())
        }
    };
    (@response { $field:ident : $fty:ty $(,)? }) => {
        type Response = $fty;
        fn decode_response(
            msg: &$crate::codec::ClientMessage,
        ) -> Result<$fty, $crate::codec::CodecError> {
            $crate::protocol::declare::decode_single::<$fty>(msg)
        }
    };
    (@response { #[since = $since:literal] $field:ident : $fty:ty $(,)? }) => {
        type Response = Option<$fty>;
        /// The field is newer than the message: older members do not send it.
        fn decode_response(
            msg: &$crate::codec::ClientMessage,
        ) -> Result<Option<$fty>, $crate::codec::CodecError> {
            $crate::protocol::declare::decode_single_since::<$fty>(msg)
        }
    };
    (@response custom($fty:ty, $decode:path)) => {
        type Response = $fty;
        fn decode_response(
            msg: &$crate::codec::ClientMessage,
        ) -> Result<$fty, $crate::codec::CodecError> {
            $decode(msg)
        }
    };
}

pub(crate) use messages;

#[cfg(test)]
mod tests {
    use super::Operation;
    use crate::codec::message::RESPONSE_HEADER_SIZE;
    use crate::codec::{ClientMessage, Frame};
    use crate::protocol::map;

    fn response(message_type: i32, fixed: &[u8]) -> ClientMessage {
        let mut content = vec![0u8; RESPONSE_HEADER_SIZE];
        content[..4].copy_from_slice(&(message_type + 1).to_le_bytes());
        content.extend_from_slice(fixed);
        ClientMessage::from_frames(vec![Frame::new(0, content)]).unwrap()
    }

    #[test]
    fn a_response_field_newer_than_its_message_is_none_from_older_members() {
        let old = response(map::DELETE, &[]);
        assert_eq!(map::Delete::decode_response(&old).unwrap(), None);
        let new = response(map::DELETE, &[1]);
        assert_eq!(map::Delete::decode_response(&new).unwrap(), Some(true));
    }

    #[test]
    fn a_missing_fixed_response_field_is_an_error() {
        let short = response(map::CONTAINS_KEY, &[]);
        let e = map::ContainsKey::decode_response(&short).unwrap_err();
        assert!(e.0.contains("needs 1 bytes"), "{e}");
        let size = response(map::SIZE, &7i32.to_le_bytes());
        assert_eq!(map::Size::decode_response(&size).unwrap(), 7);
    }
}
