//! What a WebSocket remembers across hibernation: the Durable Object stores it as the socket's
//! attachment (a JSON string, like the reference's, PROTOCOL.md §7.9), because local workerd
//! evicts an idle object after ~10 s while its sockets stay open, and the next message then
//! reaches a fresh instance.

use serde::{Deserialize, Serialize};

use super::connection::{Connection, PendingPull};
use crate::auth::PushRights;
use crate::protocol::rpc::RequestId;

#[derive(Debug, Clone, PartialEq)]
pub struct Attachment {
    /// The store the socket was opened for (its Durable Object's storeId).
    pub store_id: String,
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
    /// The server has closed this socket (it may still be listed while the close completes): no
    /// deadline applies any more, so an alarm set for it is not set again and again.
    pub closing: bool,
    /// Whom rate limits count for this socket's pushes (the token's subject, or the client's IP;
    /// at most 128 bytes), when the Worker named it.
    pub rate_key: Option<String>,
    /// The request headers the app's hooks see (`forwardHeaders` of the sync-cf API), bounded
    /// by [`crate::api::forwarded::MAX_FORWARDED_HEADERS_BYTES`].
    pub headers: Option<crate::api::forwarded::Forwarded>,
}

/// The largest attachment the runtime keeps with a socket (16 KiB).
pub const MAX_ATTACHMENT_BYTES: usize = 16 * 1024;

/// The attachment as stored: one flat JSON object (the reference's keys `storeId`, `payload`,
/// `pullRequestIds`, plus ours; not the reference's `payload`, which holds the client's token).
/// Read on every message, so it is deserialized in one pass: no `#[serde(flatten)]` (which buffers
/// every field).
#[derive(Serialize, Deserialize)]
struct Stored {
    #[serde(rename = "storeId")]
    store_id: String,
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
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    closing: bool,
    #[serde(rename = "rateKey", default, skip_serializing_if = "Option::is_none")]
    rate_key: Option<String>,
    #[serde(
        rename = "pushRights",
        default,
        skip_serializing_if = "PushRights::is_unrestricted"
    )]
    push_rights: PushRights,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    headers: Option<crate::api::forwarded::Forwarded>,
}

impl Attachment {
    /// The sync payload (and the token in it) is not kept: the socket needs only the token's
    /// expiry, and an attachment holds at most 16 KiB.
    pub fn new(store_id: String, auth_expires: Option<i64>, opened_at: i64) -> Self {
        Attachment {
            store_id,
            connection: Connection::default(),
            auth_expires,
            opened_at: Some(opened_at),
            no_request_since: None,
            closing: false,
            rate_key: None,
            headers: None,
        }
    }

    pub fn to_json(&self) -> String {
        let stored = Stored {
            store_id: self.store_id.clone(),
            live_pulls: self.connection.live_pulls.clone(),
            pending_pulls: self.connection.pending_pulls.clone(),
            requested: self.connection.requested,
            auth_expires: self.auth_expires,
            opened_at: self.opened_at,
            no_request_since: self.no_request_since,
            closing: self.closing,
            rate_key: self.rate_key.clone(),
            push_rights: self.connection.rights.clone(),
            headers: self.headers.clone(),
        };
        // Serializing plain data to a String cannot fail.
        serde_json::to_string(&stored).unwrap_or_default()
    }

    /// `None` if the text is not an attachment we wrote.
    pub fn from_json(text: &str) -> Option<Attachment> {
        let s: Stored = serde_json::from_str(text).ok()?;
        Some(Attachment {
            store_id: s.store_id,
            connection: Connection {
                live_pulls: s.live_pulls,
                pending_pulls: s.pending_pulls,
                requested: s.requested,
                rights: s.push_rights,
            },
            auth_expires: s.auth_expires,
            opened_at: s.opened_at,
            no_request_since: s.no_request_since,
            closing: s.closing,
            rate_key: s.rate_key,
            headers: s.headers,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn round_trips_with_live_and_pending_pulls() {
        let id = |t: &str| RequestId::from_json_text(t).unwrap();
        let mut a = Attachment::new("store-1".into(), Some(42), 1_700_000_000_000);
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
        assert!(
            !json.contains("payload"),
            "no token in the attachment: {json}"
        );
        assert_eq!(Attachment::from_json(&json), Some(a));
        assert_eq!(Attachment::from_json("{}"), None);
        // an attachment of the reference (or of an earlier version), with its payload, still reads
        let old = Attachment::from_json(
            r#"{"storeId":"s","payload":{"authToken":"t"},"pullRequestIds":["1"]}"#,
        )
        .unwrap();
        assert_eq!(old.connection.live_pulls, vec![id(r#""1""#)]);
        assert_eq!(
            Attachment::from_json(r#"{"storeId":"s"}"#)
                .unwrap()
                .connection,
            Connection::default()
        );
    }

    #[test]
    fn the_largest_attachment_a_client_can_cause_fits() {
        use crate::store_id::MAX_STORE_ID_BYTES;
        use crate::sync::limits::{MAX_PULLS_PER_SOCKET_CEILING, MAX_REQUEST_ID_BYTES};
        // the longest storeId, every character escaped in JSON, the most pulls with the longest ids
        let mut a = Attachment::new("\"".repeat(MAX_STORE_ID_BYTES), Some(i64::MAX), i64::MAX);
        let long_id = |i: usize| {
            let digits = format!("{i:0width$}", width = MAX_REQUEST_ID_BYTES - 2);
            RequestId::from_json_text(&format!("\"{digits}\"")).unwrap()
        };
        for i in 0..MAX_PULLS_PER_SOCKET_CEILING / 2 {
            a.connection.live_pulls.push(long_id(i));
        }
        for i in MAX_PULLS_PER_SOCKET_CEILING / 2..MAX_PULLS_PER_SOCKET_CEILING {
            a.connection.pending_pulls.push(PendingPull {
                id: long_id(i),
                after: i64::MAX,
                until: i64::MAX,
                remaining: u64::MAX,
                live: true,
                unacked: u32::MAX,
                sent: u64::MAX,
                caller: None,
            });
        }
        a.connection.requested = true;
        a.no_request_since = Some(i64::MAX);
        a.closing = true;
        a.rate_key = Some("sub:".to_owned() + &"\"".repeat(128));
        println!("without push rights: {} bytes", a.to_json().len());
        // the largest event rule a token may carry (MAX_RIGHTS_JSON_BYTES of JSON), read-only too
        let entry = "\u{1}".repeat(100); // 600 bytes of JSON each
        let count = crate::auth::rights::MAX_RIGHTS_JSON_BYTES / (6 * 100 + 3);
        a.connection.rights = PushRights {
            read_only: true,
            events: Some(vec![entry; count]),
        };
        // and the most forwarded headers a socket keeps
        let value = "\u{1}".repeat(crate::api::forwarded::MAX_FORWARDED_HEADERS_BYTES / 6 - 20);
        let headers = std::collections::BTreeMap::from([("cookie".to_owned(), value)]);
        assert_eq!(crate::api::forwarded::too_large(&headers), None);
        a.headers = Some(headers);
        let n = a.to_json().len();
        assert!(n < MAX_ATTACHMENT_BYTES, "{n} bytes");
    }
}
