//! What a WebSocket remembers across hibernation: the Durable Object stores it as the socket's
//! attachment (a JSON string, like the reference's, PROTOCOL.md §7.9), because local workerd
//! evicts an idle object after ~10 s while its sockets stay open, and the next message then
//! reaches a fresh instance.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::service::{Connection, PendingPull};
use crate::protocol::rpc::RequestId;

#[derive(Debug, Clone, PartialEq)]
pub struct Attachment {
    /// The store the socket was opened for (its Durable Object's storeId).
    pub store_id: String,
    /// The client's sync payload from the URL, as JSON text (kept like the reference keeps it;
    /// never parsed on a message).
    pub payload: Option<String>,
    /// Live pulls and pulls still sending history.
    pub connection: Connection,
    /// When the token this socket was opened with expires (Unix seconds): checked on every
    /// message, and an alarm closes the socket on time even when it is idle.
    pub auth_expires: Option<i64>,
    /// When the socket was accepted (Unix milliseconds), for the first-request deadline
    /// ([`super::closing`]). Absent on sockets accepted before this field existed: they are
    /// never closed for it.
    pub opened_at: Option<i64>,
    /// When the first-request deadline was last pushed back (Unix milliseconds): a socket whose
    /// client has sent nothing at all yet is not closed ([`super::closing`]).
    pub no_request_since: Option<i64>,
}

/// The attachment as stored: one flat JSON object (the reference's keys `storeId`, `payload`,
/// `pullRequestIds`, plus ours). Read on every message, so it is deserialized in one pass: no
/// `#[serde(flatten)]` (which buffers every field) and the payload as raw text.
#[derive(Serialize, Deserialize)]
struct Stored {
    #[serde(rename = "storeId")]
    store_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    payload: Option<Box<RawValue>>,
    #[serde(rename = "pullRequestIds", default)]
    live_pulls: Vec<RequestId>,
    #[serde(
        rename = "pendingPulls",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pending_pulls: Vec<PendingPull>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    requested: bool,
    #[serde(
        rename = "authExpires",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    auth_expires: Option<i64>,
    #[serde(rename = "openedAt", default, skip_serializing_if = "Option::is_none")]
    opened_at: Option<i64>,
    #[serde(
        rename = "noRequestSince",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    no_request_since: Option<i64>,
}

impl Attachment {
    pub fn new(
        store_id: String,
        payload: Option<serde_json::Value>,
        auth_expires: Option<i64>,
        opened_at: i64,
    ) -> Self {
        Attachment {
            store_id,
            payload: payload.map(|p| p.to_string()),
            connection: Connection::default(),
            auth_expires,
            opened_at: Some(opened_at),
            no_request_since: None,
        }
    }

    pub fn to_json(&self) -> String {
        let stored = Stored {
            store_id: self.store_id.clone(),
            payload: self
                .payload
                .as_deref()
                .and_then(|p| RawValue::from_string(p.to_owned()).ok()),
            live_pulls: self.connection.live_pulls.clone(),
            pending_pulls: self.connection.pending_pulls.clone(),
            requested: self.connection.requested,
            auth_expires: self.auth_expires,
            opened_at: self.opened_at,
            no_request_since: self.no_request_since,
        };
        // Serializing plain data to a String cannot fail.
        serde_json::to_string(&stored).unwrap_or_default()
    }

    /// `None` if the text is not an attachment we wrote.
    pub fn from_json(text: &str) -> Option<Attachment> {
        let s: Stored = serde_json::from_str(text).ok()?;
        Some(Attachment {
            store_id: s.store_id,
            payload: s.payload.map(|p| p.get().to_owned()),
            connection: Connection {
                live_pulls: s.live_pulls,
                pending_pulls: s.pending_pulls,
                requested: s.requested,
            },
            auth_expires: s.auth_expires,
            opened_at: s.opened_at,
            no_request_since: s.no_request_since,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn round_trips_with_live_and_pending_pulls() {
        let id = |t: &str| RequestId::from_json_text(t).unwrap();
        let mut a = Attachment::new(
            "store-1".into(),
            Some(serde_json::json!({"authToken": "t"})),
            Some(42),
            1_700_000_000_000,
        );
        a.connection.live_pulls = vec![id(r#""0""#), id("7"), id(r#""abc""#)];
        a.connection.requested = true;
        a.connection.pending_pulls.push(PendingPull {
            id: id(r#""9""#),
            after: 100,
            until: 250,
            remaining: 150,
            live: true,
            unacked: 3,
            sent: 1,
            caller: None,
        });
        let json = a.to_json();
        assert!(json.contains(r#""pullRequestIds":["0",7,"abc"]"#), "{json}");
        assert!(json.contains(r#""payload":{"authToken":"t"}"#), "{json}");
        assert_eq!(Attachment::from_json(&json), Some(a));
        assert_eq!(Attachment::from_json("{}"), None);
        assert_eq!(
            Attachment::from_json(r#"{"storeId":"s"}"#)
                .unwrap()
                .connection,
            Connection::default()
        );
    }
}
