//! The DO-RPC transport's framing (docs/do-rpc.md §3–§5): what `rpc(bytes)` carries and what it
//! answers, on top of the same Effect RPC messages as the other transports.
//!
//! - In: msgpackr bytes holding `[Request]` (the server also takes `[[Request]]`, several
//!   requests, and several top-level values). Anything that is not a `Request` is skipped, as
//!   the reference skips it.
//! - Out: `[Exit, …]` for a call that is not a single Pull; for a single Pull, a byte stream of
//!   `[Chunk]` … `[Exit]` values. Two details differ from the JSON frames: every `PullResponse`
//!   of a stream carries `rpcRequestId` (its first key) — the client opens its live mailbox under
//!   it — and a void `Success` carries `value: undefined`.
//! - Live updates: `syncUpdateRpc` on the subscriber's object with a plain object,
//!   `{_tag: "Chunk", requestId, values: [PullResponse]}` (no `rpcRequestId`).

use super::msgpack::{self, DecodeError, Node};
use super::rpc::{chunk_frame, RequestId};

/// The RPC tags of the DO-RPC group.
pub const PULL: &str = "SyncDoRpc.Pull";
pub const PUSH: &str = "SyncDoRpc.Push";
pub const PING: &str = "SyncDoRpc.Ping";

/// The `Request` messages of one call, in order.
pub fn requests(bytes: &[u8]) -> Result<Vec<Node>, DecodeError> {
    let mut requests = Vec::new();
    for value in msgpack::decode_all(bytes)? {
        collect_requests(value, 0, &mut requests);
    }
    Ok(requests)
}

/// `unpackMultiple` puts the client's `[Request]` in another array: look two levels deep.
fn collect_requests(value: Node, depth: u8, out: &mut Vec<Node>) {
    match value {
        Node::Array(items) if depth < 2 => {
            for item in items {
                collect_requests(item, depth + 1, out);
            }
        }
        Node::Object(_) if value.get("_tag") == Some(&Node::Str("Request".into())) => {
            out.push(value);
        }
        _ => {}
    }
}

/// Whether the call is answered with a stream: exactly one request, and it is a Pull.
pub fn is_single_pull(requests: &[Node]) -> bool {
    matches!(requests, [only] if only.get("tag") == Some(&Node::Str(PULL.into())))
}

/// The `storeId` in a request's payload: it names the store's tables (§1.6).
pub fn store_id(request: &Node) -> Option<&str> {
    match request.get("payload")?.get("storeId")? {
        Node::Str(s) => Some(s),
        _ => None,
    }
}

/// A frame of ours that MessagePack cannot carry (a number JSON allows and MessagePack has no
/// type for); the call fails rather than send something else.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unencodable frame: {reason}")]
pub struct EncodeError {
    pub reason: String,
}

/// Writes the answer of a call that is not a single Pull: one array of its frames.
pub fn write_answer(frames: &[String], out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let nodes = frames
        .iter()
        .map(|f| frame_node(f))
        .collect::<Result<Vec<_>, _>>()?;
    msgpack::encode(&Node::Array(nodes), out);
    Ok(())
}

/// Writes a piece of a Pull's stream: each frame as its own `[frame]` value.
pub fn write_stream_piece(frames: &[String], out: &mut Vec<u8>) -> Result<(), EncodeError> {
    for frame in frames {
        msgpack::encode(&Node::Array(vec![frame_node(frame)?]), out);
    }
    Ok(())
}

/// A JSON frame as the DO-RPC client expects it (see the module doc).
fn frame_node(frame: &str) -> Result<Node, EncodeError> {
    let mut node = Node::from_json(frame).map_err(|e| EncodeError {
        reason: e.to_string(),
    })?;
    let Node::Object(entries) = &mut node else {
        return Ok(node);
    };
    let request_id = entries
        .iter()
        .find(|(k, _)| k == "requestId")
        .map(|(_, v)| v.clone());
    for (key, value) in entries.iter_mut() {
        match (key.as_str(), value) {
            ("values", Node::Array(values)) => {
                for response in values {
                    if let (Node::Object(fields), Some(id)) = (response, &request_id) {
                        fields.insert(0, ("rpcRequestId".into(), id.clone()));
                    }
                }
            }
            ("exit", Node::Object(exit)) => {
                let success = exit
                    .iter()
                    .any(|(k, v)| k == "_tag" && *v == Node::Str("Success".into()));
                if success && !exit.iter().any(|(k, _)| k == "value") {
                    exit.push(("value".into(), Node::Undefined));
                }
            }
            _ => {}
        }
    }
    Ok(node)
}

/// The argument of `syncUpdateRpc`, as JSON text for `JSON.parse`: one `PullResponse` for the
/// subscriber's pull.
pub fn update(request_id: &RequestId, pull_response: &str) -> String {
    chunk_frame(request_id, pull_response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(json: &str) -> Vec<u8> {
        let mut out = Vec::new();
        msgpack::encode(&Node::from_json(json).unwrap(), &mut out);
        out
    }

    const PING_REQUEST: &str = r#"{"_tag":"Request","id":"7","tag":"SyncDoRpc.Ping","payload":{"storeId":"s"},"headers":[]}"#;

    #[test]
    fn requests_are_found_one_or_two_arrays_deep_and_others_skipped() {
        let one = request(&format!("[{PING_REQUEST}]"));
        assert_eq!(requests(&one).unwrap().len(), 1);
        let nested = request(&format!("[[{PING_REQUEST}],{PING_REQUEST}]"));
        assert_eq!(requests(&nested).unwrap().len(), 2);
        let two_values = [one.clone(), one].concat();
        assert_eq!(requests(&two_values).unwrap().len(), 2);
        assert!(requests(&[0x90]).unwrap().is_empty());
        assert!(requests(&[0x01]).unwrap().is_empty());
        let other = request(r#"[{"_tag":"Ack","requestId":"1"}]"#);
        assert!(requests(&other).unwrap().is_empty());
        assert!(requests(&[0xc1]).is_err());
    }

    #[test]
    fn store_id_and_single_pull() {
        let reqs = requests(&request(&format!("[{PING_REQUEST}]"))).unwrap();
        assert_eq!(store_id(&reqs[0]), Some("s"));
        assert!(!is_single_pull(&reqs));
        let pull = request(r#"[{"_tag":"Request","id":"1","tag":"SyncDoRpc.Pull","payload":{}}]"#);
        assert!(is_single_pull(&requests(&pull).unwrap()));
    }

    #[test]
    fn stream_chunks_carry_rpc_request_id_and_void_success_carries_undefined() {
        let mut out = Vec::new();
        write_stream_piece(
            &[
                r#"{"_tag":"Chunk","requestId":"0","values":[{"batch":[],"pageInfo":{"_tag":"NoMore"},"backendId":"b"}]}"#.into(),
                r#"{"_tag":"Exit","requestId":"0","exit":{"_tag":"Success"}}"#.into(),
            ],
            &mut out,
        )
        .unwrap();
        let values = msgpack::decode_all(&out).unwrap();
        assert_eq!(values.len(), 2);
        assert_eq!(
            values[0].to_json(),
            r#"[{"_tag":"Chunk","requestId":"0","values":[{"rpcRequestId":"0","batch":[],"pageInfo":{"_tag":"NoMore"},"backendId":"b"}]}]"#
        );
        let Node::Array(exit) = &values[1] else {
            panic!("not an array")
        };
        assert_eq!(
            exit[0].get("exit").and_then(|e| e.get("value")),
            Some(&Node::Undefined)
        );
        // the end of the stream of docs/do-rpc.md §4.2, byte for byte
        let end = msgpack::hex(concat!(
            "91 d47240 93 a45f746167 a9726571756573744964 a465786974 a445786974 a130",
            " d47241 92 a45f746167 a576616c7565 a753756363657373 d40000"
        ));
        assert_eq!(&out[out.len() - 58..], &end[..]);
    }

    #[test]
    fn answers_are_one_array() {
        let mut out = Vec::new();
        write_answer(
            &[
                r#"{"_tag":"Exit","requestId":"1","exit":{"_tag":"Success","value":{}}}"#.into(),
                r#"{"_tag":"Exit","requestId":"2","exit":{"_tag":"Success","value":{}}}"#.into(),
            ],
            &mut out,
        )
        .unwrap();
        let values = msgpack::decode_all(&out).unwrap();
        assert_eq!(values.len(), 1);
        assert_eq!(
            values[0].to_json(),
            r#"[{"_tag":"Exit","requestId":"1","exit":{"_tag":"Success","value":{}}},{"_tag":"Exit","requestId":"2","exit":{"_tag":"Success","value":{}}}]"#
        );
    }
}
