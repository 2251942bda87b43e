//! `GET /admin/stores/:storeId`: what an operator wants to know about a store at a glance.

use serde::Serialize;

use crate::sync::attachment::Attachment;

/// Open sockets and pulls of one transport.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TransportUse {
    /// Open WebSockets (HTTP has no connections: each request stands alone).
    pub sockets: u64,
    /// Live pulls receiving broadcasts.
    pub live_pulls: u64,
    /// Pulls still sending their history, paced by Acks.
    pub pending_pulls: u64,
}

impl TransportUse {
    /// Counts the sockets and pulls described by WebSocket attachments.
    pub fn of_sockets<'a>(attachments: impl IntoIterator<Item = &'a Attachment>) -> TransportUse {
        let mut t = TransportUse::default();
        for a in attachments {
            t.sockets += 1;
            t.live_pulls += a.connection.live_pulls.len() as u64;
            t.pending_pulls += a.connection.pending_pulls.len() as u64;
        }
        t
    }
}

/// DO-RPC has no connections: client objects subscribe, and read pulls at their pace.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DoRpcUse {
    /// Client objects called back with every push.
    pub subscribers: u64,
    /// Pull streams whose caller has not read them to the end.
    pub open_pulls: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Transports {
    pub ws: TransportUse,
    pub http: TransportUse,
    #[serde(rename = "doRpc")]
    pub do_rpc: DoRpcUse,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StoreInfo {
    pub store_id: String,
    /// Where the event log lives: `durable-object-sqlite`.
    pub storage: &'static str,
    pub backend_id: String,
    pub head: i64,
    pub events: u64,
    /// Bytes of the store's storage (the Durable Object's SQLite database).
    pub bytes: u64,
    /// `MAX_STORE_BYTES`, when a quota applies; `bytes` is then its usage.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quota_bytes: Option<u64>,
    pub first_event_at: Option<String>,
    pub last_event_at: Option<String>,
    pub transports: Transports,
}

impl StoreInfo {
    pub fn to_json(&self) -> String {
        // Serializing plain data to a String cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_json_and_socket_counts() {
        let mut a = Attachment::new("s".into(), None, 0);
        a.connection.live_pulls =
            vec![crate::protocol::rpc::RequestId::from_json_text(r#""1""#).unwrap()];
        let b = Attachment::new("s".into(), None, 0);
        let info = StoreInfo {
            store_id: "s".into(),
            storage: "durable-object-sqlite",
            backend_id: "b".into(),
            head: 3,
            events: 3,
            bytes: 8192,
            quota_bytes: None,
            first_event_at: Some("2026-12-02T10:00:00.000Z".into()),
            last_event_at: None,
            transports: Transports {
                ws: TransportUse::of_sockets([&a, &b]),
                http: TransportUse::default(),
                do_rpc: DoRpcUse {
                    subscribers: 2,
                    open_pulls: 0,
                },
            },
        };
        let v: serde_json::Value = serde_json::from_str(&info.to_json()).unwrap();
        assert_eq!(
            v["transports"]["ws"],
            serde_json::json!({"sockets":2,"livePulls":1,"pendingPulls":0})
        );
        assert_eq!(
            v["transports"]["doRpc"],
            serde_json::json!({"subscribers":2,"openPulls":0})
        );
        assert_eq!(v["firstEventAt"], "2026-12-02T10:00:00.000Z");
        assert_eq!(v["lastEventAt"], serde_json::Value::Null);
        assert_eq!(v["storeId"], "s");
    }
}
