//! Values as Hazelcast stores them: the `Data` blob format and partition hashing.
//!
//! A `Data` blob is `partition hash (i32 BE) | type id (i32 BE) | payload (BE)`. Values are
//! written with Hazelcast's built-in serializers, so what this crate writes reads back
//! unchanged in the official clients and the other way round. Keys are compared and
//! partitioned by these bytes, exactly as members do.

use std::fmt;

/// Type ids of Hazelcast's built-in serializers used here.
pub mod type_id {
    /// `java.lang.Byte`.
    pub const BYTE: i32 = -3;
    /// `java.lang.Boolean`.
    pub const BOOLEAN: i32 = -4;
    /// `java.lang.Short`.
    pub const SHORT: i32 = -6;
    /// `java.lang.Integer`.
    pub const INTEGER: i32 = -7;
    /// `java.lang.Long`.
    pub const LONG: i32 = -8;
    /// `java.lang.Double`.
    pub const DOUBLE: i32 = -10;
    /// `java.lang.String` (UTF-8).
    pub const STRING: i32 = -11;
    /// `byte[]`.
    pub const BYTE_ARRAY: i32 = -12;
}

/// Offset of the payload in a `Data` blob (after partition hash and type id).
pub const DATA_OFFSET: usize = 8;

/// Seed of Hazelcast's MurmurHash3 (x86, 32-bit) for partition hashing.
const MURMUR_SEED: u32 = 0x0100_0193;

/// A value of one of Hazelcast's built-in types: what map keys and values and queue items
/// are.
///
/// Every call taking a key, value or item accepts `impl Into<Value>`: Rust values convert
/// as the table shows, and a `&Value` is cloned.
///
/// | Rust | `Value` | Java |
/// |---|---|---|
/// | `bool` | `Bool` | `Boolean` |
/// | `i8` | `Byte` | `Byte` |
/// | `i16` | `Short` | `Short` |
/// | `i32` | `Int` | `Integer` |
/// | `i64` | `Long` | `Long` |
/// | `f64` | `Double` | `Double` |
/// | `&str`, `String` | `String` | `String` |
/// | `&[u8]`, `Vec<u8>` | `Bytes` | `byte[]` |
///
/// Members compare keys by their serialized bytes: `Int(1)` and `Long(1)` are different
/// keys (as `1` and `1L` are in Java). [`TypedMap`](crate::TypedMap) keeps a map's key and
/// value types fixed.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A `java.lang.Boolean`.
    Bool(bool),
    /// A `java.lang.Byte`.
    Byte(i8),
    /// A `java.lang.Short`.
    Short(i16),
    /// A `java.lang.Integer`.
    Int(i32),
    /// A `java.lang.Long`.
    Long(i64),
    /// A `java.lang.Double`.
    Double(f64),
    /// A `java.lang.String`.
    String(String),
    /// A `byte[]`.
    Bytes(Vec<u8>),
}

impl Value {
    /// The Hazelcast type name, as Java calls it.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Bool(_) => "Boolean",
            Value::Byte(_) => "Byte",
            Value::Short(_) => "Short",
            Value::Int(_) => "Integer",
            Value::Long(_) => "Long",
            Value::Double(_) => "Double",
            Value::String(_) => "String",
            Value::Bytes(_) => "byte[]",
        }
    }

    /// The value as a `T`, or `None` if it holds another type (see [`ValueType`]):
    /// `Value::Int(3).to::<i32>() == Some(3)`, `Value::Int(3).to::<i64>() == None`.
    pub fn to<T: ValueType>(&self) -> Option<T> {
        T::from_value(self.clone()).ok()
    }

    /// The value as a `T`, or the value back if it holds another type (see [`ValueType`]).
    pub fn into_type<T: ValueType>(self) -> Result<T, Value> {
        T::from_value(self)
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Bool(v) => write!(f, "{v}"),
            Value::Byte(v) => write!(f, "{v}"),
            Value::Short(v) => write!(f, "{v}"),
            Value::Int(v) => write!(f, "{v}"),
            Value::Long(v) => write!(f, "{v}"),
            Value::Double(v) => write!(f, "{v}"),
            Value::String(v) => write!(f, "{v:?}"),
            Value::Bytes(v) => {
                write!(f, "0x")?;
                for b in v {
                    write!(f, "{b:02x}")?;
                }
                Ok(())
            }
        }
    }
}

impl From<i32> for Value {
    fn from(v: i32) -> Self {
        Value::Int(v)
    }
}
impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Long(v)
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Double(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::String(v.to_owned())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::String(v)
    }
}
impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Self {
        Value::Bytes(v)
    }
}
impl From<&[u8]> for Value {
    fn from(v: &[u8]) -> Self {
        Value::Bytes(v.to_vec())
    }
}
impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Value::String(v.clone())
    }
}
impl From<i8> for Value {
    fn from(v: i8) -> Self {
        Value::Byte(v)
    }
}
impl From<i16> for Value {
    fn from(v: i16) -> Self {
        Value::Short(v)
    }
}
/// Clones the value, so that calls written with `&Value` arguments work as they are.
impl From<&Value> for Value {
    fn from(v: &Value) -> Self {
        v.clone()
    }
}

/// Rust types that are one Hazelcast built-in type: the key and value types of a
/// [`TypedMap`](crate::TypedMap), and what [`Value::to`] converts to.
///
/// Reading is strict: an `i64` is read only from a `Long`, not from an `Integer` (they are
/// different keys to members, and a map holding both is usually a bug of some writer).
/// [`Value`] itself is the type that reads anything.
pub trait ValueType: Into<Value> + Sized {
    /// The Java type stored, as [`Value::type_name`] names it (`"any"` for [`Value`]).
    const TYPE_NAME: &'static str;

    /// `value` as `Self`, or `value` given back if it holds another type.
    fn from_value(value: Value) -> Result<Self, Value>;
}

macro_rules! value_types {
    ($($ty:ty => $variant:ident, $java:literal;)*) => {$(
        impl ValueType for $ty {
            const TYPE_NAME: &'static str = $java;
            fn from_value(value: Value) -> Result<Self, Value> {
                match value {
                    Value::$variant(v) => Ok(v),
                    other => Err(other),
                }
            }
        }
    )*};
}

value_types! {
    bool => Bool, "Boolean";
    i8 => Byte, "Byte";
    i16 => Short, "Short";
    i32 => Int, "Integer";
    i64 => Long, "Long";
    f64 => Double, "Double";
    String => String, "String";
    Vec<u8> => Bytes, "byte[]";
}

impl ValueType for Value {
    const TYPE_NAME: &'static str = "any";
    fn from_value(value: Value) -> Result<Self, Value> {
        Ok(value)
    }
}

/// Why a `Data` blob could not be read as a [`Value`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SerializationError {
    /// Fewer bytes than the partition hash and type id take.
    #[error("serialized value is {0} bytes long, shorter than its 8-byte header")]
    TooShort(usize),
    /// A type this client has no serializer for (Compact, Portable, a Java class...).
    #[error("serialized value has type id {0}, which this client does not read")]
    UnsupportedType(i32),
    /// A known type whose payload does not parse.
    #[error("serialized {type_name} payload is malformed: {detail}")]
    Malformed {
        /// The Java type of the value, as [`Value::type_name`] names it.
        type_name: &'static str,
        /// What is wrong with the payload.
        detail: String,
    },
}

/// A serialized value: the bytes members store and compare.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Data(Vec<u8>);

impl fmt::Debug for Data {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to_value() {
            Ok(v) => write!(f, "Data({v})"),
            Err(_) => write!(f, "Data({:02x?})", self.0),
        }
    }
}

impl Data {
    /// Wraps bytes received from a member, checking only the header length.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Data, SerializationError> {
        if bytes.len() < DATA_OFFSET {
            return Err(SerializationError::TooShort(bytes.len()));
        }
        Ok(Data(bytes))
    }

    /// Serializes a value as the official clients do.
    pub fn from_value(value: &Value) -> Data {
        let payload_len = match value {
            Value::Bool(_) | Value::Byte(_) => 1,
            Value::Short(_) => 2,
            Value::Int(_) => 4,
            Value::Long(_) | Value::Double(_) => 8,
            Value::String(s) => 4 + s.len(),
            Value::Bytes(b) => 4 + b.len(),
        };
        let mut out = Vec::with_capacity(DATA_OFFSET + payload_len);
        // Partition hash 0: not partition-aware; members then hash the payload.
        out.extend_from_slice(&0i32.to_be_bytes());
        type Writer<'a> = &'a dyn Fn(&mut Vec<u8>);
        let (tid, write): (i32, Writer) = match value {
            Value::Bool(v) => (type_id::BOOLEAN, &|o: &mut Vec<u8>| o.push(*v as u8)),
            Value::Byte(v) => (type_id::BYTE, &|o: &mut Vec<u8>| o.push(*v as u8)),
            Value::Short(v) => (type_id::SHORT, &|o: &mut Vec<u8>| {
                o.extend_from_slice(&v.to_be_bytes())
            }),
            Value::Int(v) => (type_id::INTEGER, &|o: &mut Vec<u8>| {
                o.extend_from_slice(&v.to_be_bytes())
            }),
            Value::Long(v) => (type_id::LONG, &|o: &mut Vec<u8>| {
                o.extend_from_slice(&v.to_be_bytes())
            }),
            Value::Double(v) => (type_id::DOUBLE, &|o: &mut Vec<u8>| {
                o.extend_from_slice(&v.to_bits().to_be_bytes())
            }),
            Value::String(s) => (type_id::STRING, &|o: &mut Vec<u8>| {
                o.extend_from_slice(&(s.len() as i32).to_be_bytes());
                o.extend_from_slice(s.as_bytes());
            }),
            Value::Bytes(b) => (type_id::BYTE_ARRAY, &|o: &mut Vec<u8>| {
                o.extend_from_slice(&(b.len() as i32).to_be_bytes());
                o.extend_from_slice(b);
            }),
        };
        out.extend_from_slice(&tid.to_be_bytes());
        write(&mut out);
        Data(out)
    }

    /// The raw bytes, header included.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Consumes the blob, returning its bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }

    /// The serializer type id in the header.
    pub fn type_id(&self) -> i32 {
        i32::from_be_bytes(self.0[4..8].try_into().expect("header checked"))
    }

    fn payload(&self) -> &[u8] {
        &self.0[DATA_OFFSET..]
    }

    /// Reads the value back.
    pub fn to_value(&self) -> Result<Value, SerializationError> {
        let p = self.payload();
        let fixed = |n: usize, name: &'static str| -> Result<&[u8], SerializationError> {
            if p.len() == n {
                Ok(p)
            } else {
                Err(SerializationError::Malformed {
                    type_name: name,
                    detail: format!("expected {n} payload bytes, found {}", p.len()),
                })
            }
        };
        let sized = |name: &'static str| -> Result<&[u8], SerializationError> {
            if p.len() < 4 {
                return Err(SerializationError::Malformed {
                    type_name: name,
                    detail: "missing length".into(),
                });
            }
            let len = i32::from_be_bytes(p[..4].try_into().unwrap());
            if len < 0 || len as usize != p.len() - 4 {
                return Err(SerializationError::Malformed {
                    type_name: name,
                    detail: format!("length {len} but {} bytes follow", p.len() - 4),
                });
            }
            Ok(&p[4..])
        };
        Ok(match self.type_id() {
            type_id::BOOLEAN => Value::Bool(fixed(1, "Boolean")?[0] != 0),
            type_id::BYTE => Value::Byte(fixed(1, "Byte")?[0] as i8),
            type_id::SHORT => {
                Value::Short(i16::from_be_bytes(fixed(2, "Short")?.try_into().unwrap()))
            }
            type_id::INTEGER => {
                Value::Int(i32::from_be_bytes(fixed(4, "Integer")?.try_into().unwrap()))
            }
            type_id::LONG => Value::Long(i64::from_be_bytes(fixed(8, "Long")?.try_into().unwrap())),
            type_id::DOUBLE => Value::Double(f64::from_bits(u64::from_be_bytes(
                fixed(8, "Double")?.try_into().unwrap(),
            ))),
            type_id::STRING => {
                let bytes = sized("String")?;
                Value::String(String::from_utf8(bytes.to_vec()).map_err(|e| {
                    SerializationError::Malformed {
                        type_name: "String",
                        detail: e.to_string(),
                    }
                })?)
            }
            type_id::BYTE_ARRAY => Value::Bytes(sized("byte[]")?.to_vec()),
            other => return Err(SerializationError::UnsupportedType(other)),
        })
    }

    /// The partition hash members use: the header's if set, else MurmurHash3 of the payload.
    pub fn partition_hash(&self) -> i32 {
        let header = i32::from_be_bytes(self.0[..4].try_into().expect("header checked"));
        if header != 0 {
            header
        } else {
            murmur3_x86_32(self.payload(), MURMUR_SEED) as i32
        }
    }

    /// The partition this key belongs to, for a cluster of `partition_count` partitions.
    pub fn partition_id(&self, partition_count: u32) -> u32 {
        partition_for_hash(self.partition_hash(), partition_count)
    }
}

/// Maps a partition hash to a partition id as members do.
pub fn partition_for_hash(hash: i32, partition_count: u32) -> u32 {
    if partition_count == 0 || hash == i32::MIN {
        0
    } else {
        hash.unsigned_abs() % partition_count
    }
}

/// MurmurHash3, x86 32-bit variant.
pub fn murmur3_x86_32(data: &[u8], seed: u32) -> u32 {
    const C1: u32 = 0xcc9e_2d51;
    const C2: u32 = 0x1b87_3593;
    let mut h = seed;
    let mut chunks = data.chunks_exact(4);
    for chunk in &mut chunks {
        let mut k = u32::from_le_bytes(chunk.try_into().unwrap());
        k = k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
        h ^= k;
        h = h.rotate_left(13).wrapping_mul(5).wrapping_add(0xe654_6b64);
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        let mut k = 0u32;
        for (i, b) in tail.iter().enumerate() {
            k ^= (*b as u32) << (8 * i);
        }
        k = k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
        h ^= k;
    }
    h ^= data.len() as u32;
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^= h >> 16;
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_values_convert_to_their_hazelcast_types() {
        assert_eq!(Value::from(1), Value::Int(1));
        assert_eq!(Value::from(1i64), Value::Long(1));
        assert_eq!(Value::from(1i8), Value::Byte(1));
        assert_eq!(Value::from(1i16), Value::Short(1));
        assert_eq!(Value::from(true), Value::Bool(true));
        assert_eq!(Value::from(0.5), Value::Double(0.5));
        assert_eq!(Value::from("a"), Value::String("a".into()));
        assert_eq!(Value::from(&"a".to_owned()), Value::String("a".into()));
        assert_eq!(Value::from(vec![1u8]), Value::Bytes(vec![1]));
        assert_eq!(Value::from(&[1u8][..]), Value::Bytes(vec![1]));
        let v = Value::Long(7);
        assert_eq!(Value::from(&v), v);
    }

    #[test]
    fn value_types_read_only_their_own_type() {
        assert_eq!(Value::Int(3).to::<i32>(), Some(3));
        assert_eq!(
            Value::Int(3).to::<i64>(),
            None,
            "an Integer is not read as a Long"
        );
        assert_eq!(Value::Long(3).to::<i32>(), None);
        assert_eq!(Value::from("x").to::<String>(), Some("x".to_owned()));
        assert_eq!(Value::Bytes(vec![2]).to::<Vec<u8>>(), Some(vec![2]));
        assert_eq!(Value::Double(1.5).to::<f64>(), Some(1.5));
        assert_eq!(Value::Bool(false).to::<bool>(), Some(false));
        assert_eq!(Value::Short(2).to::<i16>(), Some(2));
        assert_eq!(Value::Byte(2).to::<i8>(), Some(2));
        assert_eq!(Value::Byte(2).to::<Value>(), Some(Value::Byte(2)));
        assert_eq!(
            Value::from("x").into_type::<i64>(),
            Err(Value::from("x")),
            "the value comes back"
        );
        // Each type's name is the one Value::type_name gives its values.
        assert_eq!(<i64 as ValueType>::TYPE_NAME, Value::Long(0).type_name());
        assert_eq!(<i32 as ValueType>::TYPE_NAME, Value::Int(0).type_name());
        assert_eq!(
            <String as ValueType>::TYPE_NAME,
            Value::from("").type_name()
        );
        assert_eq!(
            <Vec<u8> as ValueType>::TYPE_NAME,
            Value::Bytes(vec![]).type_name()
        );
    }

    fn hex(d: &Data) -> String {
        d.as_bytes().iter().map(|b| format!("{b:02x}")).collect()
    }

    // Bytes, hashes and partitions as the official Python client computes them.
    #[test]
    fn matches_python_client_bytes_and_partitions() {
        let cases: &[(Value, &str, i32, u32)] = &[
            (Value::Int(0), "00000000fffffff900000000", 923237662, 11),
            (Value::Int(1), "00000000fffffff900000001", 768969306, 31),
            (
                Value::Int(999),
                "00000000fffffff9000003e7",
                -1456028494,
                236,
            ),
            (Value::Int(-5), "00000000fffffff9fffffffb", -1399138071, 30),
            (
                "key".into(),
                "00000000fffffff5000000036b6579",
                1476017569,
                80,
            ),
            (
                "héllo".into(),
                "00000000fffffff50000000668c3a96c6c6f",
                -131653103,
                219,
            ),
            ("".into(), "00000000fffffff500000000", 923237662, 11),
            (
                Value::Bytes(vec![1, 2]),
                "00000000fffffff4000000020102",
                1680580340,
                127,
            ),
            (Value::Bool(true), "00000000fffffffc01", 535970202, 223),
            (
                Value::Double(1.5),
                "00000000fffffff63ff8000000000000",
                -867000382,
                109,
            ),
        ];
        for (value, bytes, hash, partition) in cases {
            let d = Data::from_value(value);
            assert_eq!(hex(&d), *bytes, "bytes of {value:?}");
            assert_eq!(d.partition_hash(), *hash, "hash of {value:?}");
            assert_eq!(d.partition_id(271), *partition, "partition of {value:?}");
            assert_eq!(&d.to_value().unwrap(), value);
        }
    }

    #[test]
    fn round_trips_every_type() {
        for v in [
            Value::Byte(-3),
            Value::Short(-300),
            Value::Long(i64::MIN),
            Value::String("ünïcode ✓".into()),
            Value::Bytes(vec![]),
            Value::Bool(false),
        ] {
            let d = Data::from_bytes(Data::from_value(&v).into_bytes()).unwrap();
            assert_eq!(d.to_value().unwrap(), v);
        }
    }

    #[test]
    fn rejects_malformed_blobs() {
        assert_eq!(
            Data::from_bytes(vec![0; 3]),
            Err(SerializationError::TooShort(3))
        );
        let bad_len =
            Data::from_bytes(vec![0, 0, 0, 0, 0xff, 0xff, 0xff, 0xf5, 0, 0, 0, 9, b'a']).unwrap();
        assert!(matches!(
            bad_len.to_value(),
            Err(SerializationError::Malformed { .. })
        ));
        let unknown = Data::from_bytes(vec![0, 0, 0, 0, 0, 0, 0, 99]).unwrap();
        assert_eq!(
            unknown.to_value(),
            Err(SerializationError::UnsupportedType(99))
        );
    }

    #[test]
    fn min_hash_maps_to_partition_zero() {
        assert_eq!(partition_for_hash(i32::MIN, 271), 0);
        assert_eq!(partition_for_hash(-271, 271), 0);
        assert_eq!(partition_for_hash(-272, 271), 1);
    }
}
