//! Codecs for the protocol's built-in and custom types: fixed-size fields, strings, data,
//! UUIDs, lists, addresses, member infos, partition tables and error holders.

use std::fmt;

use super::frame::{flags, Frame};
use super::message::{ClientMessage, MessageReader, PARTITION_ID_OFFSET, REQUEST_HEADER_SIZE};
use super::CodecError;
use crate::serialization::Data;

/// A UUID as Hazelcast sends it: most and least significant 64 bits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Uuid {
    /// The most significant 64 bits.
    pub msb: u64,
    /// The least significant 64 bits.
    pub lsb: u64,
}

impl Uuid {
    /// Bytes of a UUID field in an initial frame: an is-null flag and two longs.
    pub const SIZE: usize = 17; // is-null flag + 2 longs

    /// A random (version 4) UUID from std's randomly keyed hasher, the time and the pid.
    pub fn new_v4() -> Uuid {
        use std::collections::hash_map::RandomState;
        use std::hash::{BuildHasher, Hasher};
        use std::sync::atomic::{AtomicU64, Ordering};
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let word = || {
            let mut h = RandomState::new().build_hasher();
            h.write_u128(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos())
                    .unwrap_or(0),
            );
            h.write_u32(std::process::id());
            h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
            h.finish()
        };
        let msb = (word() & !0xF000) | 0x4000;
        let lsb = (word() & !(0xC000u64 << 48)) | (0x8000u64 << 48);
        Uuid { msb, lsb }
    }
}

impl fmt::Display for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (m, l) = (self.msb, self.lsb);
        write!(
            f,
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            m >> 32,
            (m >> 16) & 0xffff,
            m & 0xffff,
            l >> 48,
            l & 0xffff_ffff_ffff
        )
    }
}

impl fmt::Debug for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A member's network address as members report it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Address {
    /// Host name or IP address.
    pub host: String,
    /// TCP port.
    pub port: u16,
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

/// A member of the cluster, from the member list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberInfo {
    /// The member's UUID.
    pub uuid: Uuid,
    /// Where clients connect to it.
    pub address: Address,
    /// A lite member holds no partitions.
    pub lite_member: bool,
    /// Member version: major, minor, patch.
    pub version: (u8, u8, u8),
}

/// One error of an error response (a cause chain is sent as several).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorHolder {
    /// The protocol's error code (see [`codes`](crate::error::codes)).
    pub code: i32,
    /// The Java exception class.
    pub class_name: String,
    /// The exception's message.
    pub message: Option<String>,
}

/// Builds a request: the initial frame with header and fixed-size parameters, then one
/// frame per variable-size parameter.
#[derive(Debug)]
pub struct RequestBuilder {
    frames: Vec<Frame>,
}

impl RequestBuilder {
    /// A request of `message_type`, correlation id 0 and partition id -1 (both set by the
    /// invocation).
    pub fn new(message_type: i32) -> RequestBuilder {
        let mut content = Vec::with_capacity(REQUEST_HEADER_SIZE + 32);
        content.extend_from_slice(&message_type.to_le_bytes());
        content.extend_from_slice(&0i64.to_le_bytes());
        content.extend_from_slice(&(-1i32).to_le_bytes());
        debug_assert_eq!(content.len(), PARTITION_ID_OFFSET + 4);
        RequestBuilder {
            frames: vec![Frame::new(flags::UNFRAGMENTED, content)],
        }
    }

    fn fixed(&mut self) -> &mut Vec<u8> {
        &mut self.frames[0].content
    }

    /// Appends a fixed-size `long` to the initial frame.
    pub fn fixed_i64(mut self, v: i64) -> Self {
        self.fixed().extend_from_slice(&v.to_le_bytes());
        self
    }
    /// Appends a fixed-size `int` to the initial frame.
    pub fn fixed_i32(mut self, v: i32) -> Self {
        self.fixed().extend_from_slice(&v.to_le_bytes());
        self
    }
    /// Appends a fixed-size `byte` to the initial frame.
    pub fn fixed_u8(mut self, v: u8) -> Self {
        self.fixed().push(v);
        self
    }
    /// Appends a fixed-size `boolean` to the initial frame.
    pub fn fixed_bool(self, v: bool) -> Self {
        self.fixed_u8(v as u8)
    }
    /// Appends a fixed-size nullable UUID to the initial frame.
    pub fn fixed_uuid(mut self, v: Option<Uuid>) -> Self {
        let buf = self.fixed();
        encode_uuid(buf, v);
        self
    }

    /// Appends a frame.
    pub fn frame(mut self, f: Frame) -> Self {
        self.frames.push(f);
        self
    }
    /// Appends a `String` frame (UTF-8).
    pub fn string(self, s: &str) -> Self {
        self.frame(Frame::new(0, s.as_bytes().to_vec()))
    }
    /// Appends a `String` frame, or a null frame for `None`.
    pub fn nullable_string(self, s: Option<&str>) -> Self {
        match s {
            Some(s) => self.string(s),
            None => self.null(),
        }
    }
    /// Appends a `Data` frame (a serialized value).
    pub fn data(self, d: &Data) -> Self {
        self.frame(Frame::new(0, d.as_bytes().to_vec()))
    }
    /// Appends a null frame.
    pub fn null(self) -> Self {
        self.frame(Frame::marker(flags::IS_NULL))
    }
    /// Appends the frame beginning a structure or list.
    pub fn begin(self) -> Self {
        self.frame(Frame::marker(flags::BEGIN_DATA_STRUCTURE))
    }
    /// Appends the frame ending a structure or list.
    pub fn end(self) -> Self {
        self.frame(Frame::marker(flags::END_DATA_STRUCTURE))
    }
    /// Appends a `List_String`: begin frame, a frame per string, end frame.
    pub fn string_list(self, items: &[String]) -> Self {
        let mut b = self.begin();
        for s in items {
            b = b.string(s);
        }
        b.end()
    }

    /// Finishes the message: the last frame gets the final flag.
    pub fn build(mut self) -> ClientMessage {
        if let Some(last) = self.frames.last_mut() {
            last.flags |= flags::IS_FINAL;
        }
        ClientMessage {
            frames: self.frames,
        }
    }
}

/// Writes a fixed-size nullable UUID: is-null flag, then most and least significant bits.
pub fn encode_uuid(buf: &mut Vec<u8>, v: Option<Uuid>) {
    match v {
        None => {
            buf.push(1);
            buf.extend_from_slice(&[0; 16]);
        }
        Some(u) => {
            buf.push(0);
            buf.extend_from_slice(&u.msb.to_le_bytes());
            buf.extend_from_slice(&u.lsb.to_le_bytes());
        }
    }
}

/// Reads fixed-size fields in order from a frame's content.
#[derive(Debug)]
pub struct FixedReader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> FixedReader<'a> {
    /// Reads `buf` from offset `start`.
    pub fn new(buf: &'a [u8], start: usize) -> FixedReader<'a> {
        FixedReader { buf, pos: start }
    }

    /// Bytes left to read.
    pub fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], CodecError> {
        let b = self.buf.get(self.pos..self.pos + n).ok_or_else(|| {
            CodecError::new(format!(
                "fixed-size field at offset {} needs {n} bytes, frame has {}",
                self.pos,
                self.buf.len()
            ))
        })?;
        self.pos += n;
        Ok(b)
    }

    /// Reads a `byte`.
    pub fn u8(&mut self) -> Result<u8, CodecError> {
        Ok(self.take(1)?[0])
    }
    /// Reads a `boolean`.
    pub fn bool(&mut self) -> Result<bool, CodecError> {
        Ok(self.u8()? != 0)
    }
    /// Reads an `int`.
    pub fn i32(&mut self) -> Result<i32, CodecError> {
        Ok(i32::from_le_bytes(self.take(4)?.try_into().unwrap()))
    }
    /// Reads a `long`.
    pub fn i64(&mut self) -> Result<i64, CodecError> {
        Ok(i64::from_le_bytes(self.take(8)?.try_into().unwrap()))
    }
    /// Reads a nullable UUID.
    pub fn uuid(&mut self) -> Result<Option<Uuid>, CodecError> {
        let b = self.take(Uuid::SIZE)?;
        if b[0] != 0 {
            return Ok(None);
        }
        Ok(Some(Uuid {
            msb: u64::from_le_bytes(b[1..9].try_into().unwrap()),
            lsb: u64::from_le_bytes(b[9..17].try_into().unwrap()),
        }))
    }
}

/// Fixed-size response fields start after the response header in the initial frame.
pub fn response_fixed<'a>(r: &mut MessageReader<'a>) -> Result<FixedReader<'a>, CodecError> {
    let f = r.next_frame()?;
    Ok(FixedReader::new(
        &f.content,
        super::message::RESPONSE_HEADER_SIZE,
    ))
}

/// Fixed-size event fields start after the event header in the initial frame.
pub fn event_fixed<'a>(r: &mut MessageReader<'a>) -> Result<FixedReader<'a>, CodecError> {
    let f = r.next_frame()?;
    Ok(FixedReader::new(
        &f.content,
        super::message::EVENT_HEADER_SIZE,
    ))
}

/// Reads a `String` frame.
pub fn string(r: &mut MessageReader<'_>) -> Result<String, CodecError> {
    let f = r.next_frame()?;
    String::from_utf8(f.content.clone()).map_err(|_| CodecError::new("string is not UTF-8"))
}

/// Reads a `Data` frame.
pub fn data(r: &mut MessageReader<'_>) -> Result<Data, CodecError> {
    let f = r.next_frame()?;
    Data::from_bytes(f.content.clone()).map_err(|e| CodecError::new(e.to_string()))
}

/// Reads a nullable field: a null frame, or the field itself.
pub fn nullable<'a, T>(
    r: &mut MessageReader<'a>,
    decode: impl FnOnce(&mut MessageReader<'a>) -> Result<T, CodecError>,
) -> Result<Option<T>, CodecError> {
    match r.peek() {
        Some(f) if f.is_null() => {
            r.next_frame()?;
            Ok(None)
        }
        _ => decode(r).map(Some),
    }
}

fn expect_begin(r: &mut MessageReader<'_>) -> Result<(), CodecError> {
    let f = r.next_frame()?;
    if f.is_begin() {
        Ok(())
    } else {
        Err(CodecError::new(
            "expected the beginning of a structure or list",
        ))
    }
}

/// Reads a multi-frame list: begin frame, items, end frame.
pub fn list<'a, T>(
    r: &mut MessageReader<'a>,
    mut decode: impl FnMut(&mut MessageReader<'a>) -> Result<T, CodecError>,
) -> Result<Vec<T>, CodecError> {
    expect_begin(r)?;
    let mut out = Vec::new();
    loop {
        match r.peek() {
            None => return Err(CodecError::new("list without its end frame")),
            Some(f) if f.is_end() => {
                r.next_frame()?;
                return Ok(out);
            }
            Some(_) => out.push(decode(r)?),
        }
    }
}

/// Skips to the end frame of the structure whose begin frame was already read.
pub fn skip_to_end(r: &mut MessageReader<'_>) -> Result<(), CodecError> {
    let mut depth = 1;
    while depth > 0 {
        let f = r.next_frame()?;
        if f.is_end() {
            depth -= 1;
        } else if f.is_begin() {
            depth += 1;
        }
    }
    Ok(())
}

/// A list of fixed-size items packed in one frame.
fn packed<T>(
    r: &mut MessageReader<'_>,
    size: usize,
    item: impl Fn(&mut FixedReader<'_>) -> Result<T, CodecError>,
) -> Result<Vec<T>, CodecError> {
    let f = r.next_frame()?;
    if f.content.len() % size != 0 {
        return Err(CodecError::new(format!(
            "packed list of {} bytes is not a multiple of {size}",
            f.content.len()
        )));
    }
    let mut fr = FixedReader::new(&f.content, 0);
    (0..f.content.len() / size).map(|_| item(&mut fr)).collect()
}

/// Reads a `List_Integer` (one frame of little-endian ints).
pub fn list_i32(r: &mut MessageReader<'_>) -> Result<Vec<i32>, CodecError> {
    packed(r, 4, |f| f.i32())
}

/// Reads a `List_UUID` (one frame of fixed-size UUIDs).
pub fn list_uuid(r: &mut MessageReader<'_>) -> Result<Vec<Option<Uuid>>, CodecError> {
    packed(r, Uuid::SIZE, |f| f.uuid())
}

/// Most partitions a cluster may have for this client (members default to 271). A larger
/// partition count or id is garbage, and would have the client allocate a table that large.
pub const MAX_PARTITION_COUNT: i32 = 1 << 20;

/// A partition table: (member UUID, partition ids owned).
pub fn entry_list_uuid_list_i32(
    r: &mut MessageReader<'_>,
) -> Result<Vec<(Uuid, Vec<i32>)>, CodecError> {
    let values = list(r, list_i32)?;
    if let Some(p) = values
        .iter()
        .flatten()
        .find(|p| !(0..MAX_PARTITION_COUNT).contains(*p))
    {
        return Err(CodecError::new(format!(
            "partition id {p} in the partition table is outside 0..{MAX_PARTITION_COUNT}"
        )));
    }
    let keys = list_uuid(r)?;
    if keys.len() != values.len() {
        return Err(CodecError::new(format!(
            "partition table has {} members but {} partition lists",
            keys.len(),
            values.len()
        )));
    }
    keys.into_iter()
        .zip(values)
        .map(|(k, v)| {
            k.map(|k| (k, v))
                .ok_or_else(|| CodecError::new("null member UUID in partition table"))
        })
        .collect()
}

/// Reads an `Address` structure.
pub fn address(r: &mut MessageReader<'_>) -> Result<Address, CodecError> {
    expect_begin(r)?;
    let port = FixedReader::new(&r.next_frame()?.content, 0).i32()?;
    let host = string(r)?;
    skip_to_end(r)?;
    let port = u16::try_from(port).map_err(|_| CodecError::new(format!("bad port {port}")))?;
    Ok(Address { host, port })
}

/// Reads a `MemberInfo` structure.
pub fn member_info(r: &mut MessageReader<'_>) -> Result<MemberInfo, CodecError> {
    expect_begin(r)?;
    let mut fixed = FixedReader::new(&r.next_frame()?.content, 0);
    let uuid = fixed
        .uuid()?
        .ok_or_else(|| CodecError::new("member without UUID"))?;
    let lite_member = fixed.bool()?;
    let address = address(r)?;
    // Attributes: a map of strings.
    list(r, |r| string(r).map(|_| ()))?;
    // Version: a structure with three bytes.
    expect_begin(r)?;
    let mut v = FixedReader::new(&r.next_frame()?.content, 0);
    let version = (v.u8()?, v.u8()?, v.u8()?);
    skip_to_end(r)?;
    // Address map and any later fields are skipped.
    skip_to_end(r)?;
    Ok(MemberInfo {
        uuid,
        address,
        lite_member,
        version,
    })
}

/// Reads an `ErrorHolder` structure.
pub fn error_holder(r: &mut MessageReader<'_>) -> Result<ErrorHolder, CodecError> {
    expect_begin(r)?;
    let code = FixedReader::new(&r.next_frame()?.content, 0).i32()?;
    let class_name = string(r)?;
    let message = nullable(r, string)?;
    skip_to_end(r)?; // stack trace and anything newer
    Ok(ErrorHolder {
        code,
        class_name,
        message,
    })
}

/// Decodes an error response into its holders (outermost first).
pub fn error_holders(msg: &ClientMessage) -> Result<Vec<ErrorHolder>, CodecError> {
    let mut r = msg.reader();
    r.next_frame()?;
    list(&mut r, error_holder)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(ids: &[i32]) -> ClientMessage {
        let mut packed = Vec::new();
        for id in ids {
            packed.extend_from_slice(&id.to_le_bytes());
        }
        let mut uuid = Vec::new();
        encode_uuid(&mut uuid, Some(Uuid { msb: 1, lsb: 2 }));
        RequestBuilder::new(0)
            .begin()
            .frame(Frame::new(0, packed))
            .end()
            .frame(Frame::new(0, uuid))
            .build()
    }

    fn decode(msg: &ClientMessage) -> Result<Vec<(Uuid, Vec<i32>)>, CodecError> {
        let mut r = msg.reader();
        r.next_frame()?;
        entry_list_uuid_list_i32(&mut r)
    }

    #[test]
    fn a_partition_table_decodes() {
        let t = decode(&table(&[0, 5, 270])).unwrap();
        assert_eq!(t, vec![(Uuid { msb: 1, lsb: 2 }, vec![0, 5, 270])]);
    }

    /// Found by the `responses` fuzz target: a partition id near i32::MAX in a partitions
    /// view event had the cluster view allocate an owner table of that many entries.
    #[test]
    fn partition_ids_beyond_the_limit_are_refused() {
        for bad in [MAX_PARTITION_COUNT, i32::MAX, -1, i32::MIN] {
            let e = decode(&table(&[0, bad])).unwrap_err();
            assert!(e.0.contains(&format!("partition id {bad}")), "{e}");
        }
        decode(&table(&[MAX_PARTITION_COUNT - 1])).unwrap();
    }
}
