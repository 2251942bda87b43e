//! MessagePack as `msgpackr` writes it with `useRecords: true`, the serialization of the DO-RPC
//! transport (`RpcSerialization.msgPack` of `@effect/rpc`; docs/do-rpc.md §2).
//!
//! This is standard MessagePack except for objects, which are *records*: `d4 72 <id>` defines
//! structure `<id>` (`0x40..=0x7f`) with the key array that follows and reads one object (its
//! values follow, no header); a later byte `<id>` in value position reads another object of that
//! structure. Definitions live for one top-level value. `d4 00 00` is `undefined`.
//!
//! The MessagePack itself is read and written by the `rmp` crate; this module adds the two msgpackr
//! extensions, which no crate knows.
//!
//! Values go through [`Node`], an ordered JSON-like tree, because the rest of the crate speaks
//! JSON text: [`decode_all`] + [`Node::to_json`] on the way in, [`Node::from_json`] + [`encode`]
//! on the way out. Everything is bounded and fallible: no input can make it panic.

use std::fmt;

use rmp::decode::RmpRead;
use rmp::Marker;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Deserializer, Serialize, Serializer};

/// Deepest nesting accepted when decoding (serde_json's own limit for JSON is 128).
const MAX_DEPTH: usize = 128;

/// The first record structure id, and how many there are (`0x40..=0x7f`).
const FIRST_ID: u8 = 0x40;
const IDS: usize = 64;

/// msgpackr's extension types: a record definition (`'r'`) and `undefined`.
const RECORD_EXT: i8 = 0x72;
const UNDEFINED_EXT: i8 = 0x00;

/// A decoded value, keys in their order. JavaScript's view of it: one number type, and
/// `undefined` besides `null`.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Undefined,
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Array(Vec<Node>),
    Object(Vec<(String, Node)>),
}

/// Why bytes are not msgpackr MessagePack we understand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(pub String);

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Invalid MessagePack: {}", self.0)
    }
}

/// Every top-level value of `bytes`, as `Unpackr.unpackMultiple` returns them.
pub fn decode_all(bytes: &[u8]) -> Result<Vec<Node>, DecodeError> {
    let mut reader = Reader {
        total: bytes.len(),
        rd: bytes,
        structures: vec![None; IDS],
    };
    let mut values = Vec::new();
    while !reader.rd.is_empty() {
        reader.structures.iter_mut().for_each(|s| *s = None);
        values.push(reader.value(0)?);
    }
    Ok(values)
}

/// Reads MessagePack with `rmp`, adding what it does not know: records and `undefined`.
struct Reader<'a> {
    /// What is left to read.
    rd: &'a [u8],
    total: usize,
    /// The keys of each structure id defined so far in this top-level value.
    structures: Vec<Option<Vec<String>>>,
}

impl<'a> Reader<'a> {
    fn at(&self) -> usize {
        self.total - self.rd.len()
    }

    fn fail(&self, what: impl fmt::Display) -> DecodeError {
        DecodeError(format!("{what} at byte {}", self.at()))
    }

    /// A fixed-size datum after a marker, read by `rmp`.
    fn data<T, E: fmt::Display>(
        &mut self,
        read: impl FnOnce(&mut &'a [u8]) -> Result<T, E>,
    ) -> Result<T, DecodeError> {
        read(&mut self.rd).map_err(|e| self.fail(format!("unexpected end ({e})")))
    }

    /// A length prefix, checked against what is left (each element takes at least a byte).
    fn checked_len(&self, n: u32) -> Result<usize, DecodeError> {
        let n = n as usize;
        if n > self.rd.len() {
            return Err(self.fail(format!("length {n} exceeds the input")));
        }
        Ok(n)
    }

    fn string(&mut self, n: u32) -> Result<Node, DecodeError> {
        let n = self.checked_len(n)?;
        let (bytes, rest) = self.rd.split_at(n);
        let text =
            std::str::from_utf8(bytes).map_err(|_| self.fail("a string that is not UTF-8"))?;
        self.rd = rest;
        Ok(Node::Str(text.to_owned()))
    }

    fn array(&mut self, n: u32, depth: usize) -> Result<Node, DecodeError> {
        let n = self.checked_len(n)?;
        let mut items = Vec::with_capacity(n.min(1024));
        for _ in 0..n {
            items.push(self.value(depth + 1)?);
        }
        Ok(Node::Array(items))
    }

    fn map(&mut self, n: u32, depth: usize) -> Result<Node, DecodeError> {
        let n = self.checked_len(n)?;
        let mut entries = Vec::with_capacity(n.min(1024));
        for _ in 0..n {
            let Node::Str(key) = self.value(depth + 1)? else {
                return Err(self.fail("a map key that is not a string"));
            };
            entries.push((key, self.value(depth + 1)?));
        }
        Ok(Node::Object(entries))
    }

    fn record(&mut self, keys: Vec<String>, depth: usize) -> Result<Node, DecodeError> {
        let mut entries = Vec::with_capacity(keys.len());
        for key in keys {
            let value = self.value(depth + 1)?;
            entries.push((key, value));
        }
        Ok(Node::Object(entries))
    }

    /// `d4 72 <id>` was read: the key array, then the first object of the structure.
    fn record_definition(&mut self, id: u8, depth: usize) -> Result<Node, DecodeError> {
        let Node::Array(keys) = self.value(depth + 1)? else {
            return Err(self.fail("record keys that are not an array"));
        };
        let keys = keys
            .into_iter()
            .map(|k| match k {
                Node::Str(s) => Ok(s),
                _ => Err(self.fail("a record key that is not a string")),
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.structures[usize::from(id - FIRST_ID)] = Some(keys.clone());
        self.record(keys, depth)
    }

    fn value(&mut self, depth: usize) -> Result<Node, DecodeError> {
        if depth > MAX_DEPTH {
            return Err(self.fail(format!("nested deeper than {MAX_DEPTH}")));
        }
        let marker = self.data(|rd| rmp::decode::read_marker(rd).map_err(|e| format!("{e:?}")))?;
        Ok(match marker {
            Marker::FixPos(n) if n >= FIRST_ID => {
                match self.structures[usize::from(n - FIRST_ID)].clone() {
                    Some(keys) => self.record(keys, depth)?,
                    // an id this value has not defined is the positive fixint
                    None => Node::Int(i64::from(n)),
                }
            }
            Marker::FixPos(n) => Node::Int(i64::from(n)),
            Marker::FixNeg(n) => Node::Int(i64::from(n)),
            Marker::Null => Node::Null,
            Marker::False => Node::Bool(false),
            Marker::True => Node::Bool(true),
            Marker::U8 => Node::Int(i64::from(self.data(|rd| rd.read_data_u8())?)),
            Marker::U16 => Node::Int(i64::from(self.data(|rd| rd.read_data_u16())?)),
            Marker::U32 => Node::Int(i64::from(self.data(|rd| rd.read_data_u32())?)),
            Marker::U64 => {
                let n = self.data(|rd| rd.read_data_u64())?;
                i64::try_from(n).map_or(Node::Float(n as f64), Node::Int)
            }
            Marker::I8 => Node::Int(i64::from(self.data(|rd| rd.read_data_i8())?)),
            Marker::I16 => Node::Int(i64::from(self.data(|rd| rd.read_data_i16())?)),
            Marker::I32 => Node::Int(i64::from(self.data(|rd| rd.read_data_i32())?)),
            Marker::I64 => Node::Int(self.data(|rd| rd.read_data_i64())?),
            Marker::F32 => Node::Float(f64::from(self.data(|rd| rd.read_data_f32())?)),
            Marker::F64 => Node::Float(self.data(|rd| rd.read_data_f64())?),
            Marker::FixStr(n) => self.string(u32::from(n))?,
            Marker::Str8 => {
                let n = self.data(|rd| rd.read_data_u8())?;
                self.string(u32::from(n))?
            }
            Marker::Str16 => {
                let n = self.data(|rd| rd.read_data_u16())?;
                self.string(u32::from(n))?
            }
            Marker::Str32 => {
                let n = self.data(|rd| rd.read_data_u32())?;
                self.string(n)?
            }
            Marker::FixArray(n) => self.array(u32::from(n), depth)?,
            Marker::Array16 => {
                let n = self.data(|rd| rd.read_data_u16())?;
                self.array(u32::from(n), depth)?
            }
            Marker::Array32 => {
                let n = self.data(|rd| rd.read_data_u32())?;
                self.array(n, depth)?
            }
            Marker::FixMap(n) => self.map(u32::from(n), depth)?,
            Marker::Map16 => {
                let n = self.data(|rd| rd.read_data_u16())?;
                self.map(u32::from(n), depth)?
            }
            Marker::Map32 => {
                let n = self.data(|rd| rd.read_data_u32())?;
                self.map(n, depth)?
            }
            Marker::FixExt1 => {
                let kind = self.data(|rd| rd.read_data_i8())?;
                let data = self.data(|rd| rd.read_data_u8())?;
                match (kind, data) {
                    (UNDEFINED_EXT, 0x00) => Node::Undefined,
                    (RECORD_EXT, FIRST_ID..=0x7f) => self.record_definition(data, depth)?,
                    _ => return Err(self.fail(format!("unsupported extension {kind}"))),
                }
            }
            other => {
                return Err(self.fail(format!(
                    "unsupported type {other:?} (binary data and extensions are not part of the protocol)"
                )))
            }
        })
    }
}

/// Writes `value` as one top-level msgpackr value: every object a record, structures shared
/// within the value as msgpackr shares them.
pub fn encode(value: &Node, out: &mut Vec<u8>) {
    let mut writer = Writer {
        out,
        structures: Vec::new(),
        next: 0,
    };
    writer.value(value);
}

/// Writes MessagePack with `rmp`, adding records and `undefined`.
struct Writer<'a> {
    out: &'a mut Vec<u8>,
    /// Key lists defined so far in this top-level value, with their ids.
    structures: Vec<(Vec<String>, u8)>,
    /// The next id to define (ids are reused round-robin after 64 structures).
    next: usize,
}

/// Writing into a `Vec` cannot fail; `rmp` still returns a `Result`.
fn infallible<T, E>(_: Result<T, E>) {}

impl Writer<'_> {
    fn value(&mut self, value: &Node) {
        match value {
            Node::Undefined => {
                infallible(rmp::encode::write_ext_meta(self.out, 1, UNDEFINED_EXT));
                self.out.push(0x00);
            }
            Node::Null => infallible(rmp::encode::write_nil(self.out)),
            Node::Bool(b) => infallible(rmp::encode::write_bool(self.out, *b)),
            Node::Int(i) => self.int(*i),
            Node::Float(f) => self.float(*f),
            Node::Str(s) => infallible(rmp::encode::write_str(self.out, s)),
            Node::Array(items) => {
                infallible(rmp::encode::write_array_len(self.out, len(items.len())));
                for item in items {
                    self.value(item);
                }
            }
            Node::Object(entries) => self.object(entries),
        }
    }

    fn object(&mut self, entries: &[(String, Node)]) {
        let found = self.structures.iter().find(|(keys, _)| {
            keys.len() == entries.len() && keys.iter().zip(entries).all(|(k, (e, _))| k == e)
        });
        match found {
            Some((_, id)) => self.out.push(*id),
            None => {
                let id = FIRST_ID + (self.next % IDS) as u8;
                self.next += 1;
                let keys: Vec<String> = entries.iter().map(|(k, _)| k.clone()).collect();
                self.structures.retain(|(_, used)| *used != id);
                infallible(rmp::encode::write_ext_meta(self.out, 1, RECORD_EXT));
                self.out.push(id);
                infallible(rmp::encode::write_array_len(self.out, len(keys.len())));
                for key in &keys {
                    infallible(rmp::encode::write_str(self.out, key));
                }
                self.structures.push((keys, id));
            }
        }
        for (_, value) in entries {
            self.value(value);
        }
    }

    /// Integers as msgpackr writes them: never a fixint that could read as a record id, and
    /// float64 beyond 32 bits.
    fn int(&mut self, i: i64) {
        use rmp::encode::{write_i16, write_i32, write_i8, write_nfix, write_pfix};
        use rmp::encode::{write_u16, write_u32, write_u8};
        let out = &mut *self.out;
        match i {
            0..=0x3f => infallible(write_pfix(out, i as u8)),
            0x40..=0xff => infallible(write_u8(out, i as u8)),
            0x100..=0xffff => infallible(write_u16(out, i as u16)),
            0x1_0000..=0xffff_ffff => infallible(write_u32(out, i as u32)),
            -32..=-1 => infallible(write_nfix(out, i as i8)),
            -128..=-33 => infallible(write_i8(out, i as i8)),
            -32768..=-129 => infallible(write_i16(out, i as i16)),
            -2_147_483_648..=-32769 => infallible(write_i32(out, i as i32)),
            _ => infallible(rmp::encode::write_f64(out, i as f64)),
        }
    }

    fn float(&mut self, f: f64) {
        // JavaScript has one number type: an integral float is an integer to msgpackr
        if f.fract() == 0.0 && f.abs() <= 4_294_967_295.0 {
            self.int(f as i64);
        } else {
            infallible(rmp::encode::write_f64(self.out, f));
        }
    }
}

/// A collection length for a header (a longer one is not a message anyone can send).
fn len(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl Node {
    /// JSON text, as `JSON.stringify` would write the JavaScript value: `undefined` members
    /// are left out, `undefined` items become `null`, non-finite numbers `null`, and an integral
    /// float is an integer.
    pub fn to_json(&self) -> String {
        // Serializing a Node into a String cannot fail.
        serde_json::to_string(self).unwrap_or_else(|_| "null".into())
    }

    /// Parses JSON text, keeping the order of keys.
    pub fn from_json(text: &str) -> Result<Node, serde_json::Error> {
        let mut de = serde_json::Deserializer::from_str(text);
        let node = NodeSeed.deserialize(&mut de)?;
        de.end()?;
        Ok(node)
    }

    /// The member `key` of an object.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Object(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
}

impl Serialize for Node {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Node::Undefined | Node::Null => serializer.serialize_unit(),
            Node::Bool(b) => serializer.serialize_bool(*b),
            Node::Int(i) => serializer.serialize_i64(*i),
            Node::Float(f) if !f.is_finite() => serializer.serialize_unit(),
            Node::Float(f) if f.fract() == 0.0 && f.abs() < 9.2e18 => {
                serializer.serialize_i64(*f as i64)
            }
            Node::Float(f) => serializer.serialize_f64(*f),
            Node::Str(s) => serializer.serialize_str(s),
            Node::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Node::Object(entries) => {
                let present = entries.iter().filter(|(_, v)| *v != Node::Undefined);
                let mut map = serializer.serialize_map(None)?;
                for (k, v) in present {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

struct NodeSeed;

impl<'de> DeserializeSeed<'de> for NodeSeed {
    type Value = Node;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Node, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Node, E> {
        Ok(i64::try_from(v).map_or(Node::Float(v as f64), Node::Int))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Node, E> {
        Ok(Node::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Node, E> {
        Ok(Node::Str(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Node, E> {
        Ok(Node::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(NodeSeed)? {
            items.push(item);
        }
        Ok(Node::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries: Vec<(String, Node)> = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(NodeSeed)?;
            // JSON.parse keeps the last of duplicate keys, at the place of the first
            match entries.iter_mut().find(|(k, _)| *k == key) {
                Some(entry) => entry.1 = value,
                None => entries.push((key, value)),
            }
        }
        Ok(Node::Object(entries))
    }
}

/// Bytes from spaced hex digits, for tests.
#[cfg(test)]
pub(crate) fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(u8::is_ascii_hexdigit).collect();
    digits
        .chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(bytes: &[u8]) -> String {
        let values = decode_all(bytes).unwrap();
        Node::Array(values).to_json()
    }

    fn packed(text: &str) -> Vec<u8> {
        let mut out = Vec::new();
        encode(&Node::from_json(text).unwrap(), &mut out);
        out
    }

    #[test]
    fn records_define_and_reuse_structures() {
        // [{a:1},{a:2}] as msgpackr writes it: a definition, then a reference
        assert_eq!(
            json(&hex("92 d47240 91 a161 01 40 02")),
            r#"[[{"a":1},{"a":2}]]"#
        );
        // a nested redefinition of the same id (seen accepted by msgpackr)
        assert_eq!(
            json(&hex("d47240 92 a161 a163 d47240 91 a162 01 02")),
            r#"[{"a":{"b":1},"c":2}]"#
        );
    }

    #[test]
    fn an_undefined_id_is_a_fixint_and_definitions_end_with_their_value() {
        assert_eq!(json(&hex("91 40")), "[[64]]");
        // the second top-level value cannot use the first one's structure
        assert_eq!(json(&hex("d47240 91 a161 01 40")), r#"[{"a":1},64]"#);
    }

    #[test]
    fn undefined_members_are_left_out_and_items_become_null() {
        assert_eq!(json(&hex("d47240 92 a161 a162 d40000 01")), r#"[{"b":1}]"#);
        assert_eq!(json(&hex("92 d40000 01")), "[[null,1]]");
    }

    #[test]
    fn numbers_as_javascript_sees_them() {
        // 2^40 as float64 (msgpackr's choice beyond 32 bits) reads as an integer
        assert_eq!(json(&hex("cb 4270000000000000")), "[1099511627776]");
        assert_eq!(json(&hex("cb 3ff8000000000000")), "[1.5]");
        assert_eq!(json(&hex("ff d0df cd0100")), "[-1,-33,256]");
    }

    #[test]
    fn standard_maps_are_read_as_objects() {
        assert_eq!(json(&hex("81 a161 01")), r#"[{"a":1}]"#);
    }

    #[test]
    fn the_request_the_real_client_sends() {
        // the live Pull of docs/do-rpc.md §3, durableObjectId shortened
        let bytes = hex(concat!(
            "91 d47240 98 a45f746167 a26964 a3746167 a774726163654964 a77061796c6f6164",
            " a67370616e4964 a773616d706c6564 a7686561646572 73",
            " a752657175657374 a130 ae53796e63446f5270632e50756c6c a174",
            " d47241 93 a6637572736f72 aa727063436f6e74657874 a773746f72654964",
            " d47242 91 a45f746167 a44e6f6e65",
            " d47243 91 ad63616c6c6572436f6e74657874",
            " d47244 92 ab62696e64696e674e616d65 af64757261626c654f626a6563744964",
            " a9434c49454e545f444f a3616263",
            " a173",
            " a173 c2 90"
        ));
        let values = decode_all(&bytes).unwrap();
        assert_eq!(values.len(), 1);
        let Node::Array(requests) = &values[0] else {
            panic!("not an array")
        };
        assert_eq!(
            requests[0].to_json(),
            r#"{"_tag":"Request","id":"0","tag":"SyncDoRpc.Pull","traceId":"t","payload":{"cursor":{"_tag":"None"},"rpcContext":{"callerContext":{"bindingName":"CLIENT_DO","durableObjectId":"abc"}},"storeId":"s"},"spanId":"s","sampled":false,"headers":[]}"#
        );
    }

    #[test]
    fn answers_are_written_like_msgpackr_writes_them() {
        // the Push ack of docs/do-rpc.md §4.1, byte for byte
        assert_eq!(
            packed(r#"[{"_tag":"Exit","requestId":"1","exit":{"_tag":"Success","value":{}}}]"#),
            hex(concat!(
                "91 d47240 93 a45f746167 a9726571756573744964 a465786974",
                " a445786974 a131 d47241 92 a45f746167 a576616c7565 a753756363657373 d47242 90"
            ))
        );
        // shared structures, integers that could read as ids, big integers
        assert_eq!(
            packed(r#"[{"n":64},{"n":2},1099511627776]"#),
            hex("93 d47240 91 a16e cc40 40 02 cb4270000000000000")
        );
    }

    #[test]
    fn every_value_survives_a_round_trip() {
        let text = r#"{"s":"x","long":"0123456789012345678901234567890123456789","n":[0,63,64,127,128,255,256,65535,65536,4294967295,4294967296,-1,-32,-33,-128,-129,-32768,-32769,-2147483648,-2147483649,1.5,-0.25],"b":[true,false,null],"o":{"":{}},"big":[9007199254740991]}"#;
        let node = Node::from_json(text).unwrap();
        let mut bytes = Vec::new();
        encode(&node, &mut bytes);
        let back = decode_all(&bytes).unwrap();
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].to_json(), node.to_json());
        assert_eq!(node.to_json(), text);
    }

    #[test]
    fn more_than_64_shapes_reuse_ids() {
        let objects: Vec<String> = (0..70).map(|i| format!(r#"{{"k{i}":{i}}}"#)).collect();
        let text = format!("[{},{}]", objects.join(","), objects.join(","));
        let mut bytes = Vec::new();
        encode(&Node::from_json(&text).unwrap(), &mut bytes);
        assert_eq!(json(&bytes), format!("[{text}]"));
    }

    #[test]
    fn bad_input_is_an_error_never_a_panic() {
        for bad in [
            "d472",           // truncated extension
            "d47240 01",      // keys not an array
            "d47240 91 01",   // a key not a string
            "dd ffffffff",    // a length beyond the input
            "a5 6162",        // a short string
            "a2 c328",        // not UTF-8
            "c4 01 00",       // binary
            "d6 ff 00000000", // a timestamp
            "c1",             // never used
            "81 01 02",       // a map key not a string
        ] {
            assert!(decode_all(&hex(bad)).is_err(), "{bad}");
        }
        let deep = [vec![0x91; 200], vec![0x01]].concat();
        assert!(decode_all(&deep).unwrap_err().0.contains("deeper"));
    }
}
