//! What a WebSocket remembers across hibernation: the Durable Object stores it as the socket's
//! attachment (a JSON string, like the reference's, PROTOCOL.md §7.9), because local workerd
//! evicts an idle object after ~10 s while its sockets stay open, and the next message then
//! reaches a fresh instance.

use serde::{Deserialize, Serialize};

use super::service::Connection;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attachment {
    /// The store the socket was opened for (its Durable Object's storeId).
    #[serde(rename = "storeId")]
    pub store_id: String,
    /// The client's sync payload from the URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<serde_json::Value>,
    /// Live pulls and pulls still sending history.
    #[serde(flatten)]
    pub connection: Connection,
    /// When the token this socket was opened with expires (Unix seconds): checked on every
    /// message, and an alarm closes the socket on time even when it is idle.
    #[serde(
        rename = "authExpires",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub auth_expires: Option<i64>,
    /// When the socket was accepted (Unix milliseconds), for the first-request deadline
    /// ([`super::closing`]). Absent on sockets accepted before this field existed: they are
    /// never closed for it.
    #[serde(rename = "openedAt", default, skip_serializing_if = "Option::is_none")]
    pub opened_at: Option<i64>,
    /// When the first-request deadline was last pushed back (Unix milliseconds): a socket whose
    /// client has sent nothing at all yet is not closed ([`super::closing`]).
    #[serde(
        rename = "noRequestSince",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub no_request_since: Option<i64>,
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
            payload,
            connection: Connection::default(),
            auth_expires,
            opened_at: Some(opened_at),
            no_request_since: None,
        }
    }

    pub fn to_json(&self) -> String {
        // Serializing plain data to a String cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// `None` if the text is not an attachment we wrote.
    pub fn from_json(text: &str) -> Option<Attachment> {
        serde_json::from_str(text).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::rpc::RequestId;
    use crate::sync::service::PendingPull;

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
