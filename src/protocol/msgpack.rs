//! MessagePack as `msgpackr` writes it with `useRecords: true`, the serialization of the DO-RPC
//! transport (`RpcSerialization.msgPack` of `@effect/rpc`; docs/do-rpc.md §2).
//!
//! This is standard MessagePack except for objects, which are *records*: `d4 72 <id>` defines
//! structure `<id>` (`0x40..=0x7f`) with the key array that follows and reads one object (its
//! values follow, no header); a later byte `<id>` in value position reads another object of that
//! structure. Definitions live for one top-level value. `d4 00 00` is `undefined`.
//!
//! Values go through [`Node`], an ordered JSON-like tree, because the rest of the crate speaks
//! JSON text: [`decode_all`] + [`Node::to_json`] on the way in, [`Node::from_json`] + [`encode`]
//! on the way out. Everything is bounded and fallible: no input can make it panic.

use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Deserializer, Serialize, Serializer};

/// Deepest nesting accepted when decoding (serde_json's own limit for JSON is 128).
const MAX_DEPTH: usize = 128;

/// First and last record structure id.
const FIRST_ID: u8 = 0x40;
const IDS: usize = 64;

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
        bytes,
        pos: 0,
        structures: vec![None; IDS],
    };
    let mut values = Vec::new();
    while reader.pos < bytes.len() {
        reader.structures.iter_mut().for_each(|s| *s = None);
        values.push(reader.value(0)?);
    }
    Ok(values)
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    /// The keys of each structure id defined so far in this top-level value.
    structures: Vec<Option<Vec<String>>>,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|end| *end <= self.bytes.len())
            .ok_or_else(|| DecodeError(format!("unexpected end at byte {}", self.pos)))?;
        let slice = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(slice)
    }

    fn byte(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    fn be<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    /// A length prefix, checked against what is left (each element takes at least a byte).
    fn len(&mut self, width: usize) -> Result<usize, DecodeError> {
        let n = match width {
            1 => usize::from(self.byte()?),
            2 => usize::from(u16::from_be_bytes(self.be()?)),
            _ => u32::from_be_bytes(self.be()?) as usize,
        };
        if n > self.bytes.len() - self.pos {
            return Err(DecodeError(format!(
                "length {n} at byte {} exceeds the input",
                self.pos
            )));
        }
        Ok(n)
    }

    fn string(&mut self, n: usize) -> Result<String, DecodeError> {
        let at = self.pos;
        let bytes = self.take(n)?;
        String::from_utf8(bytes.to_vec())
            .map_err(|_| DecodeError(format!("string at byte {at} is not UTF-8")))
    }

    fn array(&mut self, n: usize, depth: usize) -> Result<Node, DecodeError> {
        let mut items = Vec::with_capacity(n.min(1024));
        for _ in 0..n {
            items.push(self.value(depth + 1)?);
        }
        Ok(Node::Array(items))
    }

    fn map(&mut self, n: usize, depth: usize) -> Result<Node, DecodeError> {
        let mut entries = Vec::with_capacity(n.min(1024));
        for _ in 0..n {
            let at = self.pos;
            let Node::Str(key) = self.value(depth + 1)? else {
                return Err(DecodeError(format!("map key at byte {at} is not a string")));
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

    fn value(&mut self, depth: usize) -> Result<Node, DecodeError> {
        if depth > MAX_DEPTH {
            return Err(DecodeError(format!("nested deeper than {MAX_DEPTH}")));
        }
        let at = self.pos;
        let marker = self.byte()?;
        Ok(match marker {
            0x00..=0x3f => Node::Int(i64::from(marker)),
            0x40..=0x7f => match self.structures[usize::from(marker - FIRST_ID)].clone() {
                Some(keys) => self.record(keys, depth)?,
                // an id this value has not defined is the positive fixint
                None => Node::Int(i64::from(marker)),
            },
            0x80..=0x8f => self.map(usize::from(marker & 0x0f), depth)?,
            0x90..=0x9f => self.array(usize::from(marker & 0x0f), depth)?,
            0xa0..=0xbf => Node::Str(self.string(usize::from(marker & 0x1f))?),
            0xc0 => Node::Null,
            0xc2 => Node::Bool(false),
            0xc3 => Node::Bool(true),
            0xca => Node::Float(f64::from(f32::from_be_bytes(self.be()?))),
            0xcb => Node::Float(f64::from_be_bytes(self.be()?)),
            0xcc => Node::Int(i64::from(self.byte()?)),
            0xcd => Node::Int(i64::from(u16::from_be_bytes(self.be()?))),
            0xce => Node::Int(i64::from(u32::from_be_bytes(self.be()?))),
            0xcf => {
                let n = u64::from_be_bytes(self.be()?);
                i64::try_from(n).map_or(Node::Float(n as f64), Node::Int)
            }
            0xd0 => Node::Int(i64::from(i8::from_be_bytes(self.be()?))),
            0xd1 => Node::Int(i64::from(i16::from_be_bytes(self.be()?))),
            0xd2 => Node::Int(i64::from(i32::from_be_bytes(self.be()?))),
            0xd3 => Node::Int(i64::from_be_bytes(self.be()?)),
            0xd4 => {
                let [kind, data] = self.be()?;
                match (kind, data) {
                    (0x00, 0x00) => Node::Undefined,
                    (0x72, FIRST_ID..=0x7f) => {
                        let keys_at = self.pos;
                        let Node::Array(keys) = self.value(depth + 1)? else {
                            return Err(DecodeError(format!(
                                "record keys at byte {keys_at} are not an array"
                            )));
                        };
                        let keys = keys
                            .into_iter()
                            .map(|k| match k {
                                Node::Str(s) => Ok(s),
                                _ => Err(DecodeError(format!(
                                    "a record key at byte {keys_at} is not a string"
                                ))),
                            })
                            .collect::<Result<Vec<_>, _>>()?;
                        self.structures[usize::from(data - FIRST_ID)] = Some(keys.clone());
                        self.record(keys, depth)?
                    }
                    _ => {
                        return Err(DecodeError(format!(
                            "unsupported extension {kind:#04x} at byte {at}"
                        )))
                    }
                }
            }
            0xd9 => {
                let n = self.len(1)?;
                Node::Str(self.string(n)?)
            }
            0xda => {
                let n = self.len(2)?;
                Node::Str(self.string(n)?)
            }
            0xdb => {
                let n = self.len(4)?;
                Node::Str(self.string(n)?)
            }
            0xdc => {
                let n = self.len(2)?;
                self.array(n, depth)?
            }
            0xdd => {
                let n = self.len(4)?;
                self.array(n, depth)?
            }
            0xde => {
                let n = self.len(2)?;
                self.map(n, depth)?
            }
            0xdf => {
                let n = self.len(4)?;
                self.map(n, depth)?
            }
            0xe0..=0xff => Node::Int(i64::from(marker as i8)),
            0xc1 | 0xc4..=0xc9 | 0xd5..=0xd8 => {
                return Err(DecodeError(format!(
                    "unsupported type {marker:#04x} at byte {at} (binary data and extensions are not part of the protocol)"
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

struct Writer<'a> {
    out: &'a mut Vec<u8>,
    /// Key lists defined so far in this top-level value, with their ids.
    structures: Vec<(Vec<String>, u8)>,
    /// The next id to define (ids are reused round-robin after 64 structures).
    next: usize,
}

impl Writer<'_> {
    fn value(&mut self, value: &Node) {
        match value {
            Node::Undefined => self.out.extend_from_slice(&[0xd4, 0x00, 0x00]),
            Node::Null => self.out.push(0xc0),
            Node::Bool(b) => self.out.push(if *b { 0xc3 } else { 0xc2 }),
            Node::Int(i) => self.int(*i),
            Node::Float(f) => self.float(*f),
            Node::Str(s) => self.str(s),
            Node::Array(items) => {
                self.header(items.len(), 0x90, 0xdc, 0xdd);
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
                self.out.extend_from_slice(&[0xd4, 0x72, id]);
                self.header(keys.len(), 0x90, 0xdc, 0xdd);
                for key in &keys {
                    self.str(key);
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
        match i {
            0..=0x3f => self.out.push(i as u8),
            0x40..=0xff => self.out.extend_from_slice(&[0xcc, i as u8]),
            0x100..=0xffff => {
                self.out.push(0xcd);
                self.out.extend_from_slice(&(i as u16).to_be_bytes());
            }
            0x1_0000..=0xffff_ffff => {
                self.out.push(0xce);
                self.out.extend_from_slice(&(i as u32).to_be_bytes());
            }
            -32..=-1 => self.out.push(i as i8 as u8),
            -128..=-33 => self.out.extend_from_slice(&[0xd0, i as i8 as u8]),
            -32768..=-129 => {
                self.out.push(0xd1);
                self.out.extend_from_slice(&(i as i16).to_be_bytes());
            }
            -2_147_483_648..=-32769 => {
                self.out.push(0xd2);
                self.out.extend_from_slice(&(i as i32).to_be_bytes());
            }
            _ => self.f64(i as f64),
        }
    }

    fn float(&mut self, f: f64) {
        // JavaScript has one number type: an integral float is an integer to msgpackr
        if f.fract() == 0.0 && f.abs() <= 4_294_967_295.0 {
            self.int(f as i64);
        } else {
            self.f64(f);
        }
    }

    fn f64(&mut self, f: f64) {
        self.out.push(0xcb);
        self.out.extend_from_slice(&f.to_be_bytes());
    }

    fn str(&mut self, s: &str) {
        let n = s.len();
        if n < 32 {
            self.out.push(0xa0 | n as u8);
        } else if n <= 0xff {
            self.out.extend_from_slice(&[0xd9, n as u8]);
        } else if n <= 0xffff {
            self.out.push(0xda);
            self.out.extend_from_slice(&(n as u16).to_be_bytes());
        } else {
            self.out.push(0xdb);
            self.out.extend_from_slice(&(n as u32).to_be_bytes());
        }
        self.out.extend_from_slice(s.as_bytes());
    }

    fn header(&mut self, n: usize, fix: u8, m16: u8, m32: u8) {
        if n < 16 {
            self.out.push(fix | n as u8);
        } else if n <= 0xffff {
            self.out.push(m16);
            self.out.extend_from_slice(&(n as u16).to_be_bytes());
        } else {
            self.out.push(m32);
            self.out.extend_from_slice(&(n as u32).to_be_bytes());
        }
    }
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
