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
//!
//! Records make MessagePack shorter than the JSON it stands for: one byte names a structure whose
//! keys are spelled out in the decoded value. A definition with long keys followed by many
//! one-byte references would decode into far more than it weighs, so decoding keeps a budget of
//! what it materialises ([`budget`]: the JSON text of what was decoded, counted from above, keys
//! included) and refuses input that would exceed it. The budget is linear in the input, so a
//! decoded tree and its JSON stay within a constant factor of the input, while every message of
//! the real client (it splits pushes at 900,000 bytes of JSON) fits whatever its shape.

use std::fmt;
use std::rc::Rc;

use rmp::decode::RmpRead;
use rmp::Marker;
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

/// Deepest nesting accepted when decoding. A scalar is at depth 0, the items of a top-level array
/// at depth 1.
pub const MAX_DEPTH: usize = 128;

/// What one call of [`decode_all`] may materialise, per input byte and on top: see [`budget`].
pub const BUDGET_PER_INPUT_BYTE: usize = 8;
pub const BUDGET_BASE: usize = 1 << 20;

/// The materialisation budget of [`decode_all`] for `input_len` bytes: 8 × the input + 1 MiB of
/// JSON text. Decoding counts, from above, the JSON text of what it decodes (each value with its
/// separator, numbers at their longest, strings and keys with their quotes and escapes, the keys
/// of every record object again), so the [`Node::to_json`] texts of the values it returns are
/// never longer than this in all. Plain MessagePack costs at most 6 × its length (`false` is
/// one byte for `false,`), so only records repeating their keys can reach the budget; the 1 MiB
/// on top lets every message of the published client through whatever its ratio of keys to
/// values: it splits pushes at 900,000 bytes of JSON.
pub fn budget(input_len: usize) -> usize {
    input_len
        .saturating_mul(BUDGET_PER_INPUT_BYTE)
        .saturating_add(BUDGET_BASE)
}

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

/// Why bytes are not msgpackr MessagePack we understand, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Invalid MessagePack: {reason} at byte {at}")]
pub struct DecodeError {
    pub reason: String,
    /// Offset of the byte where decoding stopped.
    pub at: usize,
}

/// Every top-level value of `bytes`, as `Unpackr.unpackMultiple` returns them.
///
/// Refused (a [`DecodeError`]) beyond [`MAX_DEPTH`] and beyond the materialisation [`budget`].
pub fn decode_all(bytes: &[u8]) -> Result<Vec<Node>, DecodeError> {
    let mut reader = Reader {
        total: bytes.len(),
        rd: bytes,
        structures: vec![None; IDS],
        limit: budget(bytes.len()),
        left: budget(bytes.len()),
    };
    let mut values = Vec::new();
    while !reader.rd.is_empty() {
        reader.structures.iter_mut().for_each(|s| *s = None);
        values.push(reader.value(0)?);
    }
    Ok(values)
}

/// The length of `s` as a JSON string, quotes and escapes included (as `serde_json` writes it).
fn json_str_len(s: &[u8]) -> usize {
    s.iter().fold(2usize, |n, b| {
        n.saturating_add(match b {
            b'"' | b'\\' | 0x08 | 0x0c | b'\n' | b'\r' | b'\t' => 2,
            0x00..=0x1f => 6,
            _ => 1,
        })
    })
}

/// Reads MessagePack with `rmp`, adding what it does not know: records and `undefined`.
struct Reader<'a> {
    /// What is left to read.
    rd: &'a [u8],
    total: usize,
    /// The keys of each structure id defined so far in this top-level value.
    structures: Vec<Option<Structure>>,
    /// The materialisation budget of the call, and what is left of it.
    limit: usize,
    left: usize,
}

/// A record structure: its keys (shared by the references, each object gets its own copies) and
/// what instantiating them costs against the budget.
#[derive(Clone)]
struct Structure {
    keys: Rc<[String]>,
    cost: usize,
}

impl Structure {
    fn new(keys: Vec<String>) -> Structure {
        // braces, then per key: the key as a JSON string, its colon (the value pays its comma)
        let cost = keys.iter().fold(2usize, |sum, k| {
            sum.saturating_add(json_str_len(k.as_bytes()).saturating_add(1))
        });
        Structure {
            keys: keys.into(),
            cost,
        }
    }
}

impl<'a> Reader<'a> {
    fn at(&self) -> usize {
        self.total - self.rd.len()
    }

    fn fail(&self, what: impl fmt::Display) -> DecodeError {
        DecodeError {
            reason: what.to_string(),
            at: self.at(),
        }
    }

    /// A fixed-size datum after a marker, read by `rmp`.
    fn data<T, E: fmt::Display>(
        &mut self,
        read: impl FnOnce(&mut &'a [u8]) -> Result<T, E>,
    ) -> Result<T, DecodeError> {
        read(&mut self.rd).map_err(|e| self.fail(format!("unexpected end ({e})")))
    }

    /// Takes `n` bytes off the budget, before they are allocated.
    fn charge(&mut self, n: usize) -> Result<(), DecodeError> {
        match self.left.checked_sub(n) {
            Some(left) => {
                self.left = left;
                Ok(())
            }
            None => Err(self.fail(format!(
                "the decoded value would exceed {} bytes of JSON ({BUDGET_PER_INPUT_BYTE} \
                 × the {}-byte input + {} KiB): records repeating their keys too often",
                self.limit,
                self.total,
                BUDGET_BASE / 1024
            ))),
        }
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
        // its separator was charged with the marker
        self.charge(json_str_len(bytes))?;
        let text =
            std::str::from_utf8(bytes).map_err(|_| self.fail("a string that is not UTF-8"))?;
        self.rd = rest;
        Ok(Node::Str(text.to_owned()))
    }

    fn array(&mut self, n: u32, depth: usize) -> Result<Node, DecodeError> {
        let n = self.checked_len(n)?;
        self.charge(2)?;
        let mut items = Vec::with_capacity(n.min(1024));
        for _ in 0..n {
            items.push(self.value(depth + 1)?);
        }
        Ok(Node::Array(items))
    }

    fn map(&mut self, n: u32, depth: usize) -> Result<Node, DecodeError> {
        let n = self.checked_len(n)?;
        self.charge(2)?;
        let mut entries = Vec::with_capacity(n.min(1024));
        for _ in 0..n {
            let Node::Str(key) = self.value(depth + 1)? else {
                return Err(self.fail("a map key that is not a string"));
            };
            entries.push((key, self.value(depth + 1)?));
        }
        Ok(Node::Object(entries))
    }

    /// One object of `structure`: its keys charged before they are copied, then its values.
    fn record(&mut self, structure: &Structure, depth: usize) -> Result<Node, DecodeError> {
        self.charge(structure.cost)?;
        let mut entries = Vec::with_capacity(structure.keys.len());
        for key in structure.keys.iter() {
            let value = self.value(depth + 1)?;
            entries.push((key.clone(), value));
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
        let structure = Structure::new(keys);
        self.structures[usize::from(id - FIRST_ID)] = Some(structure.clone());
        self.record(&structure, depth)
    }

    fn value(&mut self, depth: usize) -> Result<Node, DecodeError> {
        if depth > MAX_DEPTH {
            return Err(self.fail(format!("nested deeper than {MAX_DEPTH}")));
        }
        let marker = self.data(|rd| rmp::decode::read_marker(rd).map_err(|e| format!("{e:?}")))?;
        // the value's separator, and a scalar's longest JSON (strings and collections pay as read)
        self.charge(1 + json_len_at_most(marker))?;
        Ok(match marker {
            Marker::FixPos(n) if n >= FIRST_ID => {
                match self.structures[usize::from(n - FIRST_ID)].clone() {
                    Some(structure) => self.record(&structure, depth)?,
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

/// The longest JSON a scalar of this marker can be written as (0 for strings and collections,
/// which pay as they are read; a record reference pays its structure).
fn json_len_at_most(marker: Marker) -> usize {
    match marker {
        // `false`, `null`, and `undefined` (`null` in an array, left out of an object)
        Marker::Null | Marker::True | Marker::False | Marker::FixExt1 => 5,
        // `-32`, `127`
        Marker::FixPos(_) | Marker::FixNeg(_) => 3,
        Marker::U8 | Marker::I8 => 4,
        Marker::U16 | Marker::I16 => 6,
        Marker::U32 | Marker::I32 => 11,
        Marker::I64 => 20,
        // serde_json's longest float, `-2.2250738585072014e-308` (a u64 beyond i64 is a float)
        Marker::U64 | Marker::F32 | Marker::F64 => 24,
        _ => 0,
    }
}

/// Writes `value` as one top-level msgpackr value: every object a record, structures shared
/// within the value as msgpackr shares them. Iterative (the values in pre-order, from an explicit
/// stack): no tree is too deep to write.
pub fn encode(value: &Node, out: &mut Vec<u8>) {
    let mut writer = Writer {
        out,
        structures: Vec::new(),
        next: 0,
    };
    let mut pending: Vec<&Node> = vec![value];
    while let Some(node) = pending.pop() {
        writer.head(node);
        match node {
            Node::Array(items) => pending.extend(items.iter().rev()),
            Node::Object(entries) => pending.extend(entries.iter().rev().map(|(_, v)| v)),
            _ => {}
        }
    }
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
    /// A value without its children: a scalar whole, an array's length, an object's structure
    /// (its values follow, as the array's items do).
    fn head(&mut self, value: &Node) {
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
            }
            Node::Object(entries) => self.object(entries),
        }
    }

    fn object(&mut self, entries: &[(String, Node)]) {
        let found = self.structures.iter().find(|(keys, _)| {
            keys.len() == entries.len() && keys.iter().zip(entries).all(|(k, (e, _))| k == e)
        });
        if let Some((_, id)) = found {
            self.out.push(*id);
            return;
        }
        // `self.next % IDS` is below 64: it fits a u8
        #[allow(clippy::cast_possible_truncation)]
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

    /// Integers as msgpackr writes them: never a fixint that could read as a record id, and
    /// float64 beyond 32 bits.
    // each arm's range fits the type it casts to; beyond 32 bits msgpackr writes a float64, which
    // holds every integer a JavaScript number can carry exactly
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
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

    // an integral float within ±2^32 converts to i64 exactly
    #[allow(clippy::cast_possible_truncation)]
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

    /// Parses JSON text as `JSON.parse` would, keeping the order of keys (see `JsonParser`).
    /// At most [`MAX_JSON_DEPTH`] nested arrays and objects: deeper is an error saying so, never
    /// a stack overflow.
    pub fn from_json(text: &str) -> Result<Node, serde_json::Error> {
        JsonParser { text, pos: 0 }
            .parse()
            .map_err(<serde_json::Error as serde::de::Error>::custom)
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
    // an integral float below 2^63 in magnitude converts to i64 exactly
    #[allow(clippy::cast_possible_truncation)]
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

/// The most nested arrays and objects [`Node::from_json`] reads. An event's `args` travel in a
/// DO-RPC pull five levels down (`Chunk` / `values` / `PullResponse` / `batch` / event), so args
/// nested up to 507 levels can be sent: far beyond what pushes accept today (`MAX_ARGS_DEPTH`,
/// at most 100), so that events stored before that limit, or by the TypeScript server, can still
/// be pulled. The parser does not recurse; the limit bounds the recursion of dropping the tree.
pub const MAX_JSON_DEPTH: usize = 512;

/// JSON text to a [`Node`], without recursion: the arrays and objects being read are a stack.
///
/// What `JSON.parse` makes of the text, where `serde_json`'s parser would differ: numbers are
/// correctly rounded (`serde_json`'s default float parsing can be one unit in the last place off,
/// which would change an event's args on the way to a DO-RPC client); a number beyond the range
/// of float64 is an infinity; a lone UTF-16 surrogate escape (`"\ud800"`, which `JSON.stringify`
/// writes) becomes U+FFFD, as a UTF-8 encoder writes it; the last of duplicate keys wins, at the
/// place of the first.
struct JsonParser<'a> {
    text: &'a str,
    pos: usize,
}

/// An array or object being read: the items so far, or the members so far and the key whose
/// value comes next.
enum Open {
    Array(Vec<Node>),
    Object(Vec<(String, Node)>, String),
}

type Parsed<T> = Result<T, String>;

impl JsonParser<'_> {
    fn fail<T>(&self, what: &str) -> Parsed<T> {
        Err(format!("{what} at byte {} of the JSON text", self.pos))
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    /// After whitespace, `byte` is next: consumed.
    fn eat(&mut self, byte: u8) -> bool {
        self.skip_ws();
        let found = self.peek() == Some(byte);
        if found {
            self.pos += 1;
        }
        found
    }

    fn parse(mut self) -> Parsed<Node> {
        let mut stack: Vec<Open> = Vec::new();
        loop {
            // a value starts here
            self.skip_ws();
            let mut value = match self.peek() {
                Some(open @ (b'[' | b'{')) => {
                    if stack.len() >= MAX_JSON_DEPTH {
                        return self
                            .fail(&format!("JSON nested deeper than {MAX_JSON_DEPTH} levels"));
                    }
                    self.pos += 1;
                    if open == b'[' {
                        if self.eat(b']') {
                            Node::Array(Vec::new())
                        } else {
                            stack.push(Open::Array(Vec::new()));
                            continue;
                        }
                    } else if self.eat(b'}') {
                        Node::Object(Vec::new())
                    } else {
                        let key = self.key()?;
                        stack.push(Open::Object(Vec::new(), key));
                        continue;
                    }
                }
                Some(b'"') => Node::Str(self.string()?),
                Some(b't') => self.literal("true", Node::Bool(true))?,
                Some(b'f') => self.literal("false", Node::Bool(false))?,
                Some(b'n') => self.literal("null", Node::Null)?,
                Some(b'-' | b'0'..=b'9') => self.number()?,
                Some(_) => return self.fail("expected a JSON value"),
                None => return self.fail("unexpected end: expected a JSON value"),
            };
            // the value is complete: it goes into what is open, which it may complete in turn
            loop {
                match stack.last_mut() {
                    None => {
                        self.skip_ws();
                        if self.pos != self.text.len() {
                            return self.fail("trailing characters after the JSON value");
                        }
                        return Ok(value);
                    }
                    Some(Open::Array(items)) => {
                        items.push(value);
                        if self.eat(b',') {
                            break;
                        }
                        if !self.eat(b']') {
                            return self.fail("expected `,` or `]`");
                        }
                    }
                    Some(Open::Object(entries, key)) => {
                        entries.push((std::mem::take(key), value));
                        if self.eat(b',') {
                            *key = self.key()?;
                            break;
                        }
                        if !self.eat(b'}') {
                            return self.fail("expected `,` or `}`");
                        }
                    }
                }
                value = match stack.pop() {
                    Some(Open::Array(items)) => Node::Array(items),
                    Some(Open::Object(entries, _)) => Node::Object(last_of_duplicates(entries)),
                    // the loop only runs with an open container: never reached, but an error, not a panic
                    None => return self.fail("unbalanced nesting"),
                };
            }
        }
    }

    /// A member's key and its colon.
    fn key(&mut self) -> Parsed<String> {
        self.skip_ws();
        if self.peek() != Some(b'"') {
            return self.fail("expected a string key");
        }
        let key = self.string()?;
        if !self.eat(b':') {
            return self.fail("expected `:`");
        }
        Ok(key)
    }

    fn literal(&mut self, word: &str, node: Node) -> Parsed<Node> {
        if self.text[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(node)
        } else {
            self.fail("expected a JSON value")
        }
    }

    /// `"…"` at `pos`: its text, escapes decoded.
    fn string(&mut self) -> Parsed<String> {
        let bytes = self.text.as_bytes();
        self.pos += 1;
        let mut out = String::new();
        loop {
            let run = bytes[self.pos..]
                .iter()
                .position(|b| matches!(b, b'"' | b'\\' | 0x00..=0x1f));
            let Some(run) = run else {
                self.pos = bytes.len();
                return self.fail("unexpected end in a string");
            };
            // stops only at ASCII bytes: a char boundary
            out.push_str(&self.text[self.pos..self.pos + run]);
            self.pos += run;
            match bytes[self.pos] {
                b'"' => {
                    self.pos += 1;
                    return Ok(out);
                }
                b'\\' => {
                    self.pos += 1;
                    let Some(escape) = self.peek() else {
                        return self.fail("unexpected end in a string");
                    };
                    self.pos += 1;
                    out.push(match escape {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => self.unicode_escape()?,
                        _ => {
                            self.pos -= 1;
                            return self.fail("an invalid escape in a string");
                        }
                    });
                }
                _ => return self.fail("a control character in a string"),
            }
        }
    }

    /// The four hex digits after `\u` (and a low surrogate's escape after a high one's).
    fn unicode_escape(&mut self) -> Parsed<char> {
        let unit = self.hex4()?;
        let code = match unit {
            0xd800..=0xdbff => {
                let next = &self.text.as_bytes()[self.pos..];
                let low = match next {
                    [b'\\', b'u', digits @ ..] if digits.len() >= 4 => {
                        std::str::from_utf8(&digits[..4])
                            .ok()
                            .and_then(|d| u32::from_str_radix(d, 16).ok())
                            .filter(|_| digits[..4].iter().all(u8::is_ascii_hexdigit))
                    }
                    _ => None,
                };
                match low {
                    Some(low @ 0xdc00..=0xdfff) => {
                        self.pos += 6;
                        0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00)
                    }
                    // a lone high surrogate
                    _ => 0xfffd,
                }
            }
            // a lone low surrogate
            0xdc00..=0xdfff => 0xfffd,
            other => other,
        };
        Ok(char::from_u32(code).unwrap_or('\u{fffd}'))
    }

    fn hex4(&mut self) -> Parsed<u32> {
        let digits = self.text.as_bytes().get(self.pos..self.pos + 4);
        match digits {
            Some(d) if d.iter().all(u8::is_ascii_hexdigit) => {
                self.pos += 4;
                // four ASCII hex digits
                Ok(d.iter()
                    .fold(0, |n, b| n * 16 + char::from(*b).to_digit(16).unwrap_or(0)))
            }
            _ => self.fail("an invalid \\u escape in a string"),
        }
    }

    /// `-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?` at `pos`.
    fn number(&mut self) -> Parsed<Node> {
        let bytes = self.text.as_bytes();
        let start = self.pos;
        let digits = |pos: &mut usize| {
            let from = *pos;
            while bytes.get(*pos).is_some_and(u8::is_ascii_digit) {
                *pos += 1;
            }
            *pos - from
        };
        let mut pos = self.pos;
        if bytes.get(pos) == Some(&b'-') {
            pos += 1;
        }
        let int_start = pos;
        match digits(&mut pos) {
            0 => return self.fail("a number without digits"),
            n if n > 1 && bytes[int_start] == b'0' => {
                self.pos = int_start;
                return self.fail("a number with a leading zero");
            }
            _ => {}
        }
        let mut integer = true;
        if bytes.get(pos) == Some(&b'.') {
            pos += 1;
            integer = false;
            if digits(&mut pos) == 0 {
                self.pos = pos;
                return self.fail("a number without digits after `.`");
            }
        }
        if let Some(b'e' | b'E') = bytes.get(pos) {
            pos += 1;
            integer = false;
            if let Some(b'+' | b'-') = bytes.get(pos) {
                pos += 1;
            }
            if digits(&mut pos) == 0 {
                self.pos = pos;
                return self.fail("a number without digits in its exponent");
            }
        }
        self.pos = pos;
        let text = &self.text[start..pos];
        if integer {
            if let Ok(i) = text.parse::<i64>() {
                return Ok(Node::Int(i));
            }
        }
        // correctly rounded; beyond float64's range an infinity, as in JavaScript
        match text.parse::<f64>() {
            Ok(f) => Ok(Node::Float(f)),
            Err(_) => self.fail("an unreadable number"),
        }
    }
}

/// `JSON.parse` keeps the last of duplicate keys, at the place of the first. Found by sorting
/// (not by a search per key, which would be quadratic in the members of an object).
fn last_of_duplicates(mut entries: Vec<(String, Node)>) -> Vec<(String, Node)> {
    let n = entries.len();
    if n < 2 || (n <= 8 && !(1..n).any(|j| (0..j).any(|i| entries[i].0 == entries[j].0))) {
        return entries;
    }
    let mut order: Vec<usize> = (0..entries.len()).collect();
    order.sort_by(|a, b| entries[*a].0.cmp(&entries[*b].0).then(a.cmp(b)));
    let mut drop = vec![false; entries.len()];
    let mut moves = Vec::new();
    for run in order.chunk_by(|a, b| entries[*a].0 == entries[*b].0) {
        if let [first, .., last] = run {
            moves.push((*first, *last));
            for i in &run[1..] {
                drop[*i] = true;
            }
        }
    }
    let any = !moves.is_empty();
    for (first, last) in moves {
        // the last value moves to the first place
        let value = std::mem::replace(&mut entries[last].1, Node::Null);
        entries[first].1 = value;
    }
    if any {
        let mut i = 0;
        entries.retain(|_| {
            i += 1;
            !drop[i - 1]
        });
    }
    entries
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
        assert!(decode_all(&deep).unwrap_err().reason.contains("deeper"));
    }

    /// Heap bytes allocated by this thread: a counting allocator for the tests of this binary
    /// (per thread, so tests running beside each other do not count each other).
    mod counting {
        use std::alloc::{GlobalAlloc, Layout, System};
        use std::cell::Cell;

        thread_local! {
            static LIVE: Cell<isize> = const { Cell::new(0) };
            static PEAK: Cell<isize> = const { Cell::new(0) };
        }

        struct Counting;

        fn add(n: isize) {
            let _ = LIVE.try_with(|live| {
                live.set(live.get() + n);
                let _ = PEAK.try_with(|peak| peak.set(peak.get().max(live.get())));
            });
        }

        unsafe impl GlobalAlloc for Counting {
            unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
                add(layout.size() as isize);
                System.alloc(layout)
            }
            unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
                add(-(layout.size() as isize));
                System.dealloc(ptr, layout)
            }
            unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new: usize) -> *mut u8 {
                add(new as isize - layout.size() as isize);
                System.realloc(ptr, layout, new)
            }
        }

        #[global_allocator]
        static COUNTING: Counting = Counting;

        /// `f`'s result, and the most heap it held at once beyond what was live before.
        pub fn peak<T>(f: impl FnOnce() -> T) -> (T, usize) {
            let before = LIVE.with(Cell::get);
            PEAK.with(|p| p.set(before));
            let out = f();
            (out, (PEAK.with(Cell::get) - before).max(0) as usize)
        }
    }

    /// `[{k1..kn: 1} × count]` as msgpackr writes it: one definition of `keys` keys of
    /// `key_len` bytes, then `count - 1` one-byte references, each with its one-byte values.
    fn records_of(keys: usize, key_len: usize, count: u32) -> Vec<u8> {
        let mut out = vec![0xdd];
        out.extend(count.to_be_bytes());
        out.extend([0xd4, 0x72, 0x40, 0xdc]);
        out.extend((keys as u16).to_be_bytes());
        for k in 0..keys {
            let key = format!("{k:0>key_len$}");
            out.push(0xd9);
            out.push(key.len() as u8);
            out.extend(key.as_bytes());
        }
        out.extend(std::iter::repeat_n(0x01, keys));
        for _ in 1..count {
            out.push(0x40);
            out.extend(std::iter::repeat_n(0x01, keys));
        }
        out
    }

    #[test]
    fn a_record_bomb_is_refused_before_it_allocates() {
        // the reported shape: a definition with long keys, then 1-byte references to it. This
        // one is 69.8 KB and would decode into ~64 MB of keys (its JSON: ~65 MB)
        let bomb = records_of(16, 250, 16_000);
        assert!(bomb.len() < 300_000, "{}", bomb.len());
        let (result, peak) = counting::peak(|| decode_all(&bomb));
        let err = result.unwrap_err();
        assert!(err.reason.contains("would exceed"), "{err}");
        assert!(err.reason.contains("records repeating their keys"), "{err}");
        // refused within its budget (8 × input + 1 MiB of JSON, ~1.6 MB here)
        assert!(
            peak < 8 * budget(bomb.len()),
            "peak {peak} for {} bytes",
            bomb.len()
        );
        // and a bigger one (1 MB) just as cheaply: the budget grows with the input only
        let bomb = records_of(16, 250, 240_000);
        let (result, peak) = counting::peak(|| decode_all(&bomb));
        assert!(result.is_err());
        assert!(
            peak < 8 * budget(bomb.len()),
            "peak {peak} for {} bytes",
            bomb.len()
        );
    }

    #[test]
    fn records_within_the_budget_decode_and_stay_proportional() {
        // many small records: a ratio of JSON to input like the real client's (1.1 to 1.8)
        let bytes = records_of(3, 1, 20_000);
        let values = decode_all(&bytes).unwrap();
        let Node::Array(objects) = &values[0] else {
            panic!("not an array")
        };
        assert_eq!(objects.len(), 20_000);
        assert_eq!(objects[19_999].to_json(), r#"{"0":1,"1":1,"2":1}"#);
        // long keys and tiny values (a JSON-to-input ratio of 16): the 1 MiB on top lets a
        // message as large as the client ever sends (900,000 bytes of JSON) through
        let bytes = records_of(1, 26, 30_000);
        let (values, peak) = counting::peak(|| decode_all(&bytes).unwrap());
        let json = Node::Array(values).to_json();
        assert!(
            json.len() > 900_000 && json.len() < budget(bytes.len()),
            "{}",
            json.len()
        );
        assert!(peak < 64 * bytes.len() + 4 * BUDGET_BASE, "peak {peak}");
        // and a decoded tree's JSON is within the budget, whatever the shape
        let bytes = records_of(16, 250, 200);
        let json = Node::Array(decode_all(&bytes).unwrap()).to_json();
        assert!(json.len() <= budget(bytes.len()), "{}", json.len());
        // (plain MessagePack takes at most 6 × its length of the budget)
        for plain in [
            "dd00000004 c2 c0 cb3ff8000000000000 cf ffffffffffffffff",
            "93 a1 01 a1 22 92 a2 0a00 d40000",
            "9f c2 c2 c2 c2 c2 c2 c2 c2 c2 c2 c2 c2 c2 c2 c2",
        ] {
            let bytes = hex(plain);
            let json: usize = decode_all(&bytes)
                .unwrap()
                .iter()
                .map(|v| v.to_json().len())
                .sum();
            assert!(json <= 6 * bytes.len(), "{plain}: {json}");
        }
        let bytes = records_of(16, 250, 260);
        let json = Node::Array(decode_all(&bytes).unwrap()).to_json();
        assert!(
            json.len() > BUDGET_BASE && json.len() <= budget(bytes.len()),
            "{}",
            json.len()
        );
        // escapes count: keys of control characters are six bytes of JSON each
        let mut bomb = records_of(1, 200, 2_000);
        assert!(decode_all(&bomb).is_ok());
        // (after the array32 header, the definition's ext and array16 headers and the str8 header)
        for b in bomb.iter_mut().skip(13).take(200) {
            *b = 0x01;
        }
        let result = decode_all(&bomb);
        assert!(result.is_err_and(|e| e.reason.contains("would exceed")));
    }

    #[test]
    fn references_share_the_budget_across_top_level_values() {
        // the budget is per call, not per value: many values each under it do not add up past
        let one = records_of(4, 200, 1_000);
        let many: Vec<u8> = one.repeat(64);
        assert!(decode_all(&one).is_ok());
        assert!(decode_all(&many)
            .unwrap_err()
            .reason
            .contains("would exceed"));
    }

    fn nested_arrays(depth: usize) -> String {
        format!("{}1{}", "[".repeat(depth), "]".repeat(depth))
    }

    #[test]
    fn deep_json_is_an_error_not_a_stack_overflow() {
        assert!(Node::from_json(&nested_arrays(MAX_JSON_DEPTH)).is_ok());
        for depth in [MAX_JSON_DEPTH + 1, 1_000, 1_000_000] {
            let err = Node::from_json(&nested_arrays(depth)).unwrap_err();
            assert!(err.to_string().contains("nested deeper than 512"), "{err}");
        }
        let deep_object = format!("{}1{}", r#"{"a":"#.repeat(600), "}".repeat(600));
        assert!(Node::from_json(&deep_object).is_err());
    }

    #[test]
    fn json_is_read_as_json_parse_reads_it() {
        let read = |text: &str| Node::from_json(text).map(|n| n.to_json());
        // correctly rounded floats (serde_json's default parser reads this one 1 ulp off)
        for f in [
            "8.711232227784087e+40",
            "1.7976931348623157e308",
            "5e-324",
            "0.1",
            "-2.5e-7",
        ] {
            let expected: f64 = f.parse().unwrap();
            assert_eq!(Node::from_json(f).unwrap(), Node::Float(expected), "{f}");
        }
        assert_eq!(
            read("[0,-0,9223372036854775807,-9223372036854775808]").unwrap(),
            "[0,0,9223372036854775807,-9223372036854775808]"
        );
        assert_eq!(
            Node::from_json("9223372036854775808").unwrap(),
            Node::Float(9223372036854775808.0)
        );
        assert_eq!(
            Node::from_json("1e400").unwrap(),
            Node::Float(f64::INFINITY)
        );
        assert_eq!(Node::from_json("1.0").unwrap(), Node::Float(1.0));
        // escapes, surrogate pairs, lone surrogates as a UTF-8 encoder writes them
        assert_eq!(
            Node::from_json(r#""a\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00\ud800x\udc00\ud800""#).unwrap(),
            Node::Str("a\"\\/\u{8}\u{c}\n\r\té😀\u{fffd}x\u{fffd}\u{fffd}".into())
        );
        assert_eq!(
            Node::from_json(r#""\ud800\u0041""#).unwrap(),
            Node::Str("\u{fffd}A".into())
        );
        assert_eq!(Node::from_json("\"é😀\"").unwrap(), Node::Str("é😀".into()));
        // whitespace, order of keys, the last of duplicates at the place of the first
        assert_eq!(
            read(" {\"b\" : [ 1 , {} ] ,\n\"a\":null}\r\n").unwrap(),
            r#"{"b":[1,{}],"a":null}"#
        );
        assert_eq!(read(r#"{"a":1,"b":2,"a":3}"#).unwrap(), r#"{"a":3,"b":2}"#);
        let many: Vec<String> = (0..100).map(|i| format!(r#""k{}":{i}"#, i % 10)).collect();
        let expected: Vec<String> = (90..100).map(|i| format!(r#""k{}":{i}"#, i % 10)).collect();
        assert_eq!(
            read(&format!("{{{}}}", many.join(","))).unwrap(),
            format!("{{{}}}", expected.join(","))
        );
        // what is not JSON
        for bad in [
            "",
            " ",
            "[",
            "]",
            "[1,]",
            "[,1]",
            "{\"a\"}",
            "{\"a\":}",
            "{\"a\":1,}",
            "{1:1}",
            "[1 2]",
            "01",
            "-",
            "1.",
            ".5",
            "1e",
            "1e+",
            "+1",
            "0x10",
            "NaN",
            "Infinity",
            "tru",
            "nul",
            "\"a",
            "\"\\x\"",
            "\"\\u12\"",
            "\"\\u12g4\"",
            "\"\u{1}\"",
            "1 2",
            "{} x",
            "[]]",
            "\u{feff}1",
        ] {
            assert!(Node::from_json(bad).is_err(), "{bad:?}");
        }
        // the error says where
        assert!(read("[1,}").unwrap_err().to_string().contains("at byte 3"));
    }

    #[test]
    fn json_agrees_with_serde_json_on_what_both_read() {
        for text in [
            r#"{"_tag":"Chunk","requestId":"0","values":[{"batch":[{"name":"v1.TodoCreated","args":{"id":"t1","text":"Buy milk","n":[1,2.5,-3e-3,null,true,false,"",{}]},"seqNum":1,"parentSeqNum":0,"clientId":"c","sessionId":"s","createdAt":"2026-12-02T10:00:00.000Z"}],"pageInfo":{"_tag":"NoMore"},"backendId":"b"}]}"#,
            r#"[" \u0000 \u001f \u2028 ","\t",-1.25E+1,9007199254740993,{"":{"":[[]]}}]"#,
        ] {
            let ours = Node::from_json(text).unwrap().to_json();
            let theirs: serde_json::Value = serde_json::from_str(text).unwrap();
            let ours: serde_json::Value = serde_json::from_str(&ours).unwrap();
            assert_eq!(ours, theirs, "{text}");
        }
    }

    #[test]
    fn encoding_does_not_recurse() {
        // a tree deeper than any stack would allow recursing over (built, not parsed)
        let mut node = Node::Int(1);
        for i in 0..200_000 {
            node = if i % 2 == 0 {
                Node::Array(vec![node])
            } else {
                Node::Object(vec![("k".into(), node)])
            };
        }
        let mut out = Vec::new();
        encode(&node, &mut out);
        // dismantled by hand (dropping it would recurse), before any assertion can unwind
        let mut pending = vec![node];
        while let Some(n) = pending.pop() {
            match n {
                Node::Array(items) => pending.extend(items),
                Node::Object(entries) => pending.extend(entries.into_iter().map(|(_, v)| v)),
                _ => {}
            }
        }
        // {k: [{k: [...]}]}: one definition, then a byte per level
        assert_eq!(&out[..9], &hex("d47240 91 a16b 91 40 91")[..]);
        assert_eq!(out.len(), 6 + 199_999 + 1);
    }

    /// A DO-RPC pull stream piece carrying one event whose args nest `depth` levels.
    fn chunk_with_args(depth: usize) -> Result<Vec<u8>, crate::protocol::do_rpc::EncodeError> {
        let args = format!("{}{}", r#"{"a":["#.repeat(depth / 2), "1");
        let args = format!("{args}{}", "]}".repeat(depth / 2));
        let args = if depth % 2 == 1 {
            format!("[{args}]")
        } else {
            args
        };
        let frame = format!(
            r#"{{"_tag":"Chunk","requestId":"0","values":[{{"batch":[{{"name":"v1.X","args":{args},"seqNum":1,"parentSeqNum":0,"clientId":"c","sessionId":"s","createdAt":"2026-12-02T10:00:00.000Z"}}],"pageInfo":{{"_tag":"NoMore"}},"backendId":"b"}}]}}"#
        );
        let mut out = Vec::new();
        crate::protocol::do_rpc::write_stream_piece(&[frame], &mut out)?;
        Ok(out)
    }

    #[test]
    fn args_as_deep_as_pushes_allow_cross_the_do_rpc_envelope() {
        // 64: MAX_ARGS_DEPTH's default; 100: its ceiling
        for depth in [0, 1, 64, 100, 122] {
            let bytes = chunk_with_args(depth).unwrap();
            let values = decode_all(&bytes).unwrap();
            let json = values[0].to_json();
            assert!(json.contains(r#""rpcRequestId":"0""#));
            assert!(json.contains(&"]}".repeat(depth / 2)));
        }
        // deeper args stored before that limit (or by the TypeScript server) are still sent
        assert!(chunk_with_args(MAX_JSON_DEPTH - 5).is_ok());
        // beyond: an error naming the limit
        let err = chunk_with_args(MAX_JSON_DEPTH - 4).unwrap_err();
        assert!(err.to_string().contains("nested deeper than 512"), "{err}");
    }
}
