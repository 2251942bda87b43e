//! The sync RPC payloads and results (PROTOCOL.md §4): what a Pull or Push asks for, the events it
//! carries, and the `PullResponse` it gets back.
//!
//! Event `args` stay raw JSON end to end: the server stores and forwards them, it never needs to
//! look inside, so it never pays to parse them.

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::rpc::push_json_str;

/// The largest integer a JavaScript number holds exactly: sequence numbers cross into JS.
pub const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

/// Effect's `Option` encoding: `{"_tag":"None"}` or `{"_tag":"Some","value":…}` (§4.1).
fn effect_option<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    #[derive(Deserialize)]
    struct Tagged<T> {
        #[serde(rename = "_tag")]
        tag: String,
        value: Option<T>,
    }
    let t = Tagged::<T>::deserialize(d)?;
    match (t.tag.as_str(), t.value) {
        ("None", _) => Ok(None),
        ("Some", Some(v)) => Ok(Some(v)),
        ("Some", None) => Err(de::Error::missing_field("value")),
        (other, _) => Err(de::Error::custom(format!(
            "expected Option tag None or Some, got {other:?}"
        ))),
    }
}

/// A field that may be absent, where an explicit JSON `null` is a value, not an absence
/// (serde's `Option` would read `null` as `None`).
pub(crate) fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Box<RawValue>>, D::Error> {
    Box::<RawValue>::deserialize(d).map(Some)
}

/// `LiveStoreEvent.Global.Encoded` (§4.3). Unknown fields are dropped, as the reference does.
#[derive(Debug, Clone, Deserialize)]
pub struct Event {
    pub name: String,
    /// Absent (`None`, stored as SQL NULL) is distinct from JSON `null` (`Some("null")`, stored
    /// as the text `null`), see §4.3: each comes back exactly as it was pushed, on every path.
    #[serde(default, deserialize_with = "present")]
    pub args: Option<Box<RawValue>>,
    #[serde(rename = "seqNum")]
    pub seq_num: i64,
    #[serde(rename = "parentSeqNum")]
    pub parent_seq_num: i64,
    #[serde(rename = "clientId")]
    pub client_id: String,
    #[serde(rename = "sessionId")]
    pub session_id: String,
}

impl Event {
    /// `args` as stored in the `args` TEXT column: `None` (SQL NULL) when absent.
    pub fn args_text(&self) -> Option<&str> {
        self.args.as_deref().map(RawValue::get)
    }
}

/// A stored or admitted event as it appears in a `PullResponse`, borrowed from wherever it lives.
#[derive(Debug, Clone, Copy)]
pub struct EventView<'a> {
    pub name: &'a str,
    /// Raw JSON; `None` omits the key (an event pushed without args, §4.3).
    pub args: Option<&'a str>,
    pub seq_num: i64,
    pub parent_seq_num: i64,
    pub client_id: &'a str,
    pub session_id: &'a str,
    pub created_at: &'a str,
}

impl<'a> EventView<'a> {
    pub fn of(event: &'a Event, created_at: &'a str) -> Self {
        EventView {
            name: &event.name,
            args: event.args_text(),
            seq_num: event.seq_num,
            parent_seq_num: event.parent_seq_num,
            client_id: &event.client_id,
            session_id: &event.session_id,
            created_at,
        }
    }

    /// `{"eventEncoded":{…},"metadata":{"_tag":"Some","value":{…SyncMetadata…}}}` — one element of
    /// `PullResponse.batch`, encoded once so its size is known without re-encoding (§4.4, §4.5).
    pub fn encode_item(&self) -> String {
        let mut s = String::with_capacity(
            160 + self.name.len() + self.args.map_or(0, str::len) + self.client_id.len(),
        );
        s.push_str(r#"{"eventEncoded":{"name":"#);
        push_json_str(&mut s, self.name);
        if let Some(args) = self.args {
            s.push_str(r#","args":"#);
            s.push_str(args);
        }
        s.push_str(r#","seqNum":"#);
        s.push_str(&self.seq_num.to_string());
        s.push_str(r#","parentSeqNum":"#);
        s.push_str(&self.parent_seq_num.to_string());
        s.push_str(r#","clientId":"#);
        push_json_str(&mut s, self.client_id);
        s.push_str(r#","sessionId":"#);
        push_json_str(&mut s, self.session_id);
        s.push_str(
            r#"},"metadata":{"_tag":"Some","value":{"_tag":"SyncMessage.SyncMetadata","createdAt":"#,
        );
        push_json_str(&mut s, self.created_at);
        s.push_str("}}}");
        s
    }
}

/// The client's pull cursor: the last event it has, and the backend it got it from.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Cursor {
    #[serde(rename = "backendId")]
    pub backend_id: String,
    #[serde(rename = "eventSequenceNumber")]
    pub event_sequence_number: i64,
}

/// Payload of `SyncWsRpc.Pull` (§4.7) and `SyncHttpRpc.Pull` (§5.3, which has no `live`).
#[derive(Debug, Clone, Deserialize)]
pub struct PullRequest {
    #[serde(rename = "storeId")]
    pub store_id: String,
    #[serde(deserialize_with = "effect_option")]
    pub cursor: Option<Cursor>,
    #[serde(default)]
    pub live: Option<bool>,
    /// DO-RPC only: present when the pull is live, naming the client's object to call back.
    #[serde(rename = "rpcContext", default)]
    pub rpc_context: Option<RpcContext>,
}

/// `rpcContext` of a DO-RPC pull (docs/do-rpc.md §3).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RpcContext {
    #[serde(rename = "callerContext")]
    pub caller_context: CallerContext,
}

/// The client's Durable Object: the binding name it is known by in the server's config, and
/// its id (`ctx.id.toString()`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
pub struct CallerContext {
    #[serde(rename = "bindingName")]
    pub binding_name: String,
    #[serde(rename = "durableObjectId")]
    pub durable_object_id: String,
}

/// Payload of `SyncWsRpc.Push` / `SyncHttpRpc.Push` (§4.8).
#[derive(Debug, Clone, Deserialize)]
pub struct PushRequest {
    #[serde(rename = "storeId")]
    pub store_id: String,
    pub batch: Vec<Event>,
    #[serde(rename = "backendId", deserialize_with = "effect_option")]
    pub backend_id: Option<String>,
}

/// Payload of `SyncHttpRpc.Ping`.
#[derive(Debug, Clone, Deserialize)]
pub struct PingRequest {
    #[serde(rename = "storeId")]
    pub store_id: String,
}

/// A payload that does not match its RPC's schema; its text is the `Exit` `Die` (§4.9).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("{rpc}: payload is missing")]
    Missing { rpc: String },
    #[error("{rpc}: invalid payload: {reason}")]
    Invalid { rpc: String, reason: String },
}

/// Decodes an RPC payload.
pub fn decode_payload<'a, T: Deserialize<'a>>(
    rpc: &str,
    payload: Option<&'a RawValue>,
) -> Result<T, PayloadError> {
    let raw = payload.ok_or_else(|| PayloadError::Missing {
        rpc: rpc.to_owned(),
    })?;
    serde_json::from_str(raw.get()).map_err(|e| PayloadError::Invalid {
        rpc: rpc.to_owned(),
        reason: e.to_string(),
    })
}

/// `pageInfo` of a `PullResponse` (§4.5). `MoreUnknown` is never produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageInfo {
    MoreKnown { remaining: u64 },
    NoMore,
}

impl PageInfo {
    pub fn encode(&self) -> String {
        match self {
            PageInfo::MoreKnown { remaining } => {
                format!(r#"{{"_tag":"MoreKnown","remaining":{remaining}}}"#)
            }
            PageInfo::NoMore => r#"{"_tag":"NoMore"}"#.to_owned(),
        }
    }
}

/// Encodes a `PullResponse` from already-encoded batch items.
pub fn encode_pull_response(items: &[String], page_info: PageInfo, backend_id: &str) -> String {
    let items_len: usize = items.iter().map(|i| i.len() + 1).sum();
    let mut s = String::with_capacity(items_len + 96);
    s.push_str(r#"{"batch":["#);
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(item);
    }
    s.push_str(r#"],"pageInfo":"#);
    s.push_str(&page_info.encode());
    s.push_str(r#","backendId":"#);
    push_json_str(&mut s, backend_id);
    s.push('}');
    s
}

/// The push acknowledgement value: `PushAck` is an empty object (§4.6).
pub const PUSH_ACK: &str = "{}";

/// The HTTP ping's success value (§5.3).
pub const HTTP_PONG: &str = r#"{"_tag":"SyncMessage.Pong"}"#;

/// The typed errors of the sync RPCs, encoded with fields first and `_tag` last (§4.9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncError {
    /// The first pushed event's parent is not the server's head. Sent whether the client is behind
    /// or ahead; LiveStore then waits for its live pull to catch up and rebases.
    ServerAhead {
        minimum_expected_num: i64,
        provided_num: i64,
    },
    /// The client holds data from another incarnation of this store.
    BackendIdMismatch { expected: String, received: String },
    /// Anything else; `name`/`message` become the `cause` defect the client logs.
    Unknown { name: String, message: String },
    /// The database failed: the client gets an `UnknownError` naming `incident`, the log gets
    /// `detail` under that id (a raw SQLite or D1 text could name another tenant's table).
    Storage { incident: String, detail: String },
}

impl SyncError {
    pub fn unknown(name: &str, message: impl Into<String>) -> Self {
        SyncError::Unknown {
            name: name.to_owned(),
            message: message.into(),
        }
    }

    /// The error's `_tag` on the wire (the client's `SyncBackend` error classes).
    pub fn tag(&self) -> &'static str {
        match self {
            SyncError::ServerAhead { .. } => "ServerAheadError",
            SyncError::BackendIdMismatch { .. } => "BackendIdMismatchError",
            SyncError::Unknown { .. } | SyncError::Storage { .. } => "UnknownError",
        }
    }

    /// What logs and metrics call it: the tag, or the cause's name of an `UnknownError`.
    pub fn name(&self) -> &str {
        match self {
            SyncError::Unknown { name, .. } => name,
            SyncError::Storage { .. } => "StorageError",
            other => other.tag(),
        }
    }

    /// The error as the client decodes it (`_tag` last, as the reference writes it).
    pub fn encode(&self) -> String {
        let tag = self.tag();
        let text = match self {
            SyncError::ServerAhead {
                minimum_expected_num,
                provided_num,
            } => serde_json::to_string(&ServerAheadWire {
                minimum_expected_num: *minimum_expected_num,
                provided_num: *provided_num,
                tag,
            }),
            SyncError::BackendIdMismatch { expected, received } => {
                serde_json::to_string(&BackendIdMismatchWire {
                    expected,
                    received,
                    tag,
                })
            }
            SyncError::Unknown { name, message } => serde_json::to_string(&UnknownWire {
                cause: Cause { name, message },
                tag,
            }),
            SyncError::Storage { incident, .. } => serde_json::to_string(&UnknownWire {
                cause: Cause {
                    name: self.name(),
                    message: &format!(
                        "Storage unavailable (incident {incident}: the server's log has the details)"
                    ),
                },
                tag,
            }),
        };
        // strings and integers always serialize
        text.unwrap_or_default()
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ServerAheadWire {
    minimum_expected_num: i64,
    provided_num: i64,
    #[serde(rename = "_tag")]
    tag: &'static str,
}

#[derive(Serialize)]
struct BackendIdMismatchWire<'a> {
    expected: &'a str,
    received: &'a str,
    #[serde(rename = "_tag")]
    tag: &'static str,
}

#[derive(Serialize)]
struct UnknownWire<'a> {
    cause: Cause<'a>,
    #[serde(rename = "_tag")]
    tag: &'static str,
}

#[derive(Serialize)]
struct Cause<'a> {
    name: &'a str,
    message: &'a str,
}
