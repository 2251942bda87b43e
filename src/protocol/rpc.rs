//! The Effect RPC envelope (`@effect/rpc@0.75.1`, JSON serialization) as the published client
//! speaks it: one JSON object per WebSocket text frame or HTTP body (PROTOCOL.md §3).
//!
//! Decoding keeps the request `payload` as raw JSON so the sync layer parses only what it needs,
//! and keeps the request id as its raw JSON text so it is echoed back byte for byte, whatever its
//! type (the 0.4.0 server chokes on a non-numeric id: transcript 19; HEAD clients send numbers).
//! Encoding writes frames directly into strings: the key order matches the reference's.

use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;

/// The raw JSON text of a request id (`"0"` with its quotes, or `7`), echoed verbatim.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RequestId(String);

impl RequestId {
    /// Accepts a JSON string or a JSON integer, the two id types Effect RPC clients send.
    pub fn from_raw(raw: &RawValue) -> Result<Self, FrameError> {
        let text = raw.get();
        match text.as_bytes().first() {
            Some(b'"') => Ok(RequestId(text.to_owned())),
            Some(b'-' | b'0'..=b'9') if !text.contains(['.', 'e', 'E']) => {
                Ok(RequestId(text.to_owned()))
            }
            _ => Err(FrameError::InvalidRequestId(text.to_owned())),
        }
    }

    /// Rebuilds an id from text produced by [`RequestId::as_json`] (socket attachments).
    pub fn from_json_text(text: &str) -> Option<Self> {
        let raw: &RawValue = serde_json::from_str(text).ok()?;
        Self::from_raw(raw).ok()
    }

    /// The id as JSON text, ready to be spliced into a frame.
    pub fn as_json(&self) -> &str {
        &self.0
    }
}

/// Stored as the id's JSON value (a string or a number) in socket attachments, and read back
/// verbatim.
impl serde::Serialize for RequestId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let raw: &RawValue = serde_json::from_str(&self.0).map_err(serde::ser::Error::custom)?;
        raw.serialize(serializer)
    }
}

impl<'de> serde::Deserialize<'de> for RequestId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(deserializer)?;
        RequestId::from_raw(&raw).map_err(serde::de::Error::custom)
    }
}

/// A `Request` frame: one RPC call.
#[derive(Debug)]
pub struct RpcRequest<'a> {
    pub id: RequestId,
    /// The RPC name, e.g. `SyncWsRpc.Pull`.
    pub tag: Cow<'a, str>,
    /// The RPC payload, still raw: each RPC decodes its own schema.
    pub payload: Option<&'a RawValue>,
}

/// Everything a client may send (PROTOCOL.md §3.2).
#[derive(Debug)]
pub enum ClientMessage<'a> {
    Request(RpcRequest<'a>),
    Ack(RequestId),
    Interrupt(RequestId),
    Ping,
    Eof,
}

/// Why a frame could not be understood. Answered with a connection-level `Defect` carrying its
/// text (the reference's texts, where it has one).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("Invalid JSON: {0}")]
    InvalidJson(String),
    /// JSON, but not the shape of any message.
    #[error("Invalid message: {0}")]
    InvalidMessage(String),
    #[error("Missing {0}")]
    Missing(&'static str),
    #[error("Invalid request id: {0}")]
    InvalidRequestId(String),
    /// A `_tag` (or a request's `tag`) that is none of ours; `None` when it is absent.
    #[error("Unknown request tag: {}", .0.as_deref().unwrap_or("undefined"))]
    UnknownTag(Option<String>),
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(rename = "_tag", borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    id: Option<&'a RawValue>,
    #[serde(rename = "requestId", borrow)]
    request_id: Option<&'a RawValue>,
    /// Raw: only a `Request` reads it, so that another message with a stray `tag` of any type
    /// is still that message (Effect's decoder ignores fields a message does not have).
    #[serde(borrow)]
    tag: Option<&'a RawValue>,
    #[serde(borrow)]
    payload: Option<&'a RawValue>,
}

/// A request's `tag`: a JSON string, borrowed when it has no escapes.
#[derive(Deserialize)]
struct Tag<'a>(#[serde(borrow)] Cow<'a, str>);

impl<'a> ClientMessage<'a> {
    /// Decodes one frame. Never panics: every malformed input becomes a [`FrameError`] whose
    /// text is what the `Defect` frame will carry.
    pub fn decode(text: &'a str) -> Result<ClientMessage<'a>, FrameError> {
        let trimmed = text.trim_start();
        if !trimmed.starts_with('{') {
            // The reference answers a JSON array with this text (t09); anything else that is not
            // an object is just as unknown.
            return Err(match serde_json::from_str::<serde::de::IgnoredAny>(text) {
                Ok(_) => FrameError::UnknownTag(None),
                Err(e) => FrameError::InvalidJson(e.to_string()),
            });
        }
        let env: Envelope<'a> =
            serde_json::from_str(text).map_err(|e| FrameError::InvalidMessage(e.to_string()))?;
        let id_of = |raw: Option<&RawValue>, field| -> Result<RequestId, FrameError> {
            RequestId::from_raw(raw.ok_or(FrameError::Missing(field))?)
        };
        match env.kind.as_deref() {
            Some("Request") => {
                let id = id_of(env.id, "id")?;
                let raw = env.tag.ok_or(FrameError::UnknownTag(None))?;
                let Tag(tag) = serde_json::from_str(raw.get())
                    .map_err(|e| FrameError::InvalidMessage(format!("tag: {e}")))?;
                Ok(ClientMessage::Request(RpcRequest {
                    id,
                    tag,
                    payload: env.payload,
                }))
            }
            Some("Ack") => Ok(ClientMessage::Ack(id_of(env.request_id, "requestId")?)),
            Some("Interrupt") => Ok(ClientMessage::Interrupt(id_of(
                env.request_id,
                "requestId",
            )?)),
            Some("Ping") => Ok(ClientMessage::Ping),
            Some("Eof") => Ok(ClientMessage::Eof),
            Some(other) => Err(FrameError::UnknownTag(Some(other.to_owned()))),
            None => Err(FrameError::UnknownTag(None)),
        }
    }
}

/// Why a received message is refused before it is parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unreadable {
    /// Over the configured `MAX_MESSAGE_BYTES`.
    TooLarge(String),
    /// A binary frame or HTTP body whose bytes are not UTF-8.
    NotUtf8(String),
}

impl Unreadable {
    /// The text of the `Defect` that answers it.
    pub fn reason(&self) -> &str {
        match self {
            Unreadable::TooLarge(r) | Unreadable::NotUtf8(r) => r,
        }
    }
}

/// A received message (text frame, binary frame or HTTP body) as text, refused unparsed when it
/// is larger than `max_bytes` or not UTF-8.
pub fn message_text(bytes: Vec<u8>, max_bytes: usize) -> Result<String, Unreadable> {
    if bytes.len() > max_bytes {
        return Err(Unreadable::TooLarge(format!(
            "Message is {} bytes; the limit is {max_bytes} bytes",
            bytes.len()
        )));
    }
    String::from_utf8(bytes).map_err(|_| Unreadable::NotUtf8("Message is not valid UTF-8".into()))
}

/// The exact frame the client pings with, and the runtime's auto-response to it (§3.6).
pub const PING_FRAME: &str = r#"{"_tag":"Ping"}"#;
pub const PONG_FRAME: &str = r#"{"_tag":"Pong"}"#;

/// Appends `s` as a JSON string literal.
pub fn push_json_str(out: &mut String, s: &str) {
    // serde_json never fails to serialize a str.
    out.push_str(&serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into()));
}

/// `{"_tag":"Chunk","requestId":ID,"values":[VALUE]}` — one stream element.
pub fn chunk_frame(id: &RequestId, value_json: &str) -> String {
    let mut s = String::with_capacity(value_json.len() + 48);
    s.push_str(r#"{"_tag":"Chunk","requestId":"#);
    s.push_str(id.as_json());
    s.push_str(r#","values":["#);
    s.push_str(value_json);
    s.push_str("]}");
    s
}

/// The `values` array of a frame [`chunk_frame`] wrote (`[VALUE]`), or `None` for any other
/// frame: what a chunk delivered, for the app's `onPullRes`.
pub fn chunk_values(frame: &str) -> Option<&str> {
    let rest = frame.strip_prefix(r#"{"_tag":"Chunk","requestId":"#)?;
    // a request id is a JSON string or integer: the first `,"values":[` ends it
    let start = rest.find(r#","values":["#)? + r#","values":"#.len();
    rest.get(start..rest.len().checked_sub(1)?)
        .filter(|v| v.starts_with('[') && v.ends_with(']'))
}

fn exit_frame(id: &RequestId, exit_json: &str) -> String {
    let mut s = String::with_capacity(exit_json.len() + 40);
    s.push_str(r#"{"_tag":"Exit","requestId":"#);
    s.push_str(id.as_json());
    s.push_str(r#","exit":"#);
    s.push_str(exit_json);
    s.push('}');
    s
}

/// A completed stream: `Success` with no `value` key (a void success, §3.4).
pub fn exit_stream_done(id: &RequestId) -> String {
    exit_frame(id, r#"{"_tag":"Success"}"#)
}

/// A successful non-stream call with its encoded value.
pub fn exit_success(id: &RequestId, value_json: &str) -> String {
    exit_frame(id, &format!(r#"{{"_tag":"Success","value":{value_json}}}"#))
}

/// A typed failure (`Fail` cause) carrying an encoded error object (§4.9).
pub fn exit_failure(id: &RequestId, error_json: &str) -> String {
    exit_frame(
        id,
        &format!(r#"{{"_tag":"Failure","cause":{{"_tag":"Fail","error":{error_json}}}}}"#),
    )
}

/// A request-level defect (`Die` cause), e.g. a payload that fails its schema.
pub fn exit_die(id: &RequestId, defect: &str) -> String {
    let mut cause = String::from(r#"{"_tag":"Failure","cause":{"_tag":"Die","defect":"#);
    push_json_str(&mut cause, defect);
    cause.push_str("}}");
    exit_frame(id, &cause)
}

/// The simplest valid interruption cause; the client has already forgotten the request (§7.7).
pub fn exit_interrupted(id: &RequestId) -> String {
    exit_frame(
        id,
        r#"{"_tag":"Failure","cause":{"_tag":"Interrupt","fiberId":{"_tag":"None"}}}"#,
    )
}

/// A connection-level defect: `{"_tag":"Defect","defect":"…"}`.
pub fn defect_frame(message: &str) -> String {
    let mut s = String::from(r#"{"_tag":"Defect","defect":"#);
    push_json_str(&mut s, message);
    s.push('}');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreadable_messages() {
        assert_eq!(message_text(b"{}".to_vec(), 2).unwrap(), "{}");
        assert!(matches!(
            message_text(b"{ }".to_vec(), 2),
            Err(Unreadable::TooLarge(_))
        ));
        let e = message_text(vec![0x7b, 0xff], 10).unwrap_err();
        assert!(matches!(e, Unreadable::NotUtf8(_)));
        assert!(e.reason().contains("UTF-8"));
    }

    #[test]
    fn a_stray_tag_changes_no_other_message_and_a_request_tag_must_be_a_string() {
        // found by the property test: the reference answers this Ping with a Pong
        assert!(matches!(
            ClientMessage::decode(r#"{"_tag":"Ping","tag":[]}"#),
            Ok(ClientMessage::Ping)
        ));
        assert!(matches!(
            ClientMessage::decode(r#"{"_tag":"Ack","requestId":"1","tag":{}}"#),
            Ok(ClientMessage::Ack(_))
        ));
        let escaped = r#"{"_tag":"Request","id":"1","tag":"SyncWsRpc.P\u0075sh"}"#;
        let Ok(ClientMessage::Request(request)) = ClientMessage::decode(escaped) else {
            panic!("a request");
        };
        assert_eq!(request.tag, "SyncWsRpc.Push");
        let Err(FrameError::InvalidMessage(reason)) =
            ClientMessage::decode(r#"{"_tag":"Request","id":"1","tag":[]}"#)
        else {
            panic!("a request whose tag is not a string is invalid");
        };
        assert!(reason.starts_with("tag: invalid type"), "{reason}");
    }

    #[test]
    fn chunk_values_are_found_in_chunk_frames_only() {
        let id = RequestId::from_json_text(r#""a,\"values\":[x""#).unwrap();
        let frame = chunk_frame(&id, r#"{"batch":[]}"#);
        assert_eq!(chunk_values(&frame), Some(r#"[{"batch":[]}]"#));
        let numeric = RequestId::from_json_text("12").unwrap();
        assert_eq!(chunk_values(&chunk_frame(&numeric, "1")), Some("[1]"));
        assert_eq!(chunk_values(&exit_success(&numeric, "{}")), None);
    }
}
