//! An in-memory [`EventLog`] and helpers shared by the native tests.
#![allow(dead_code)]

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

use livestore_sync_rs::protocol::messages::Event;
use livestore_sync_rs::protocol::rpc::ClientMessage;
use livestore_sync_rs::storage::{EventLog, LogSummary, StorageError, StoredEvent};
use livestore_sync_rs::sync::fanout::{Fanout, SocketIndex};
use livestore_sync_rs::sync::pull::{HistoryStep, HttpHistory};
use livestore_sync_rs::sync::Limits;
use livestore_sync_rs::sync::{Connection, Output, Store};
use livestore_sync_rs::transport::Transport;

#[derive(Default)]
pub struct MemLog {
    pub rows: RefCell<BTreeMap<i64, StoredEvent>>,
    pub head: Cell<i64>,
    /// When set, the next append fails (a storage fault).
    pub fail_next_append: Cell<bool>,
    pub reads: Cell<usize>,
}

impl EventLog for MemLog {
    async fn count_between(&self, after: i64, until: i64) -> Result<u64, StorageError> {
        if after >= until {
            return Ok(0);
        }
        Ok(self.rows.borrow().range(after + 1..=until).count() as u64)
    }

    async fn read_between(
        &self,
        after: i64,
        until: i64,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StorageError> {
        self.reads.set(self.reads.get() + 1);
        if after >= until {
            return Ok(Vec::new());
        }
        Ok(self
            .rows
            .borrow()
            .range(after + 1..=until)
            .take(limit)
            .map(|(_, e)| e.clone())
            .collect())
    }

    async fn append(
        &self,
        batch: &[Event],
        created_at: &str,
        new_head: i64,
    ) -> Result<(), StorageError> {
        if self.fail_next_append.replace(false) {
            return Err(StorageError::Backend("disk on fire".into()));
        }
        let mut rows = self.rows.borrow_mut();
        if batch.iter().any(|e| rows.contains_key(&e.seq_num)) {
            return Err(StorageError::Backend("UNIQUE constraint failed".into()));
        }
        for e in batch {
            rows.insert(
                e.seq_num,
                StoredEvent {
                    seq_num: e.seq_num,
                    parent_seq_num: e.parent_seq_num,
                    name: e.name.clone(),
                    args: e.args_text().map(str::to_owned),
                    created_at: created_at.to_owned(),
                    client_id: e.client_id.clone(),
                    session_id: e.session_id.clone(),
                },
            );
        }
        self.head.set(new_head);
        Ok(())
    }

    async fn append_stored(
        &self,
        events: &[StoredEvent],
        new_head: i64,
    ) -> Result<(), StorageError> {
        if self.fail_next_append.replace(false) {
            return Err(StorageError::Backend("disk on fire".into()));
        }
        let mut rows = self.rows.borrow_mut();
        if events.iter().any(|e| rows.contains_key(&e.seq_num)) {
            return Err(StorageError::Backend("UNIQUE constraint failed".into()));
        }
        for e in events {
            rows.insert(e.seq_num, e.clone());
        }
        self.head.set(new_head);
        Ok(())
    }

    async fn summary(&self) -> Result<LogSummary, StorageError> {
        let rows = self.rows.borrow();
        Ok(LogSummary {
            events: rows.len() as u64,
            first_created_at: rows.values().next().map(|e| e.created_at.clone()),
            last_created_at: rows.values().next_back().map(|e| e.created_at.clone()),
        })
    }

    async fn reset(&self, _backend_id: &str) -> Result<(), StorageError> {
        self.rows.borrow_mut().clear();
        self.head.set(0);
        Ok(())
    }
}

pub const BACKEND_ID: &str = "TestBackendId-0123456";
pub const NOW: &str = "2026-11-26T13:58:19.452Z";

pub fn store() -> Store<MemLog> {
    Store {
        log: MemLog::default(),
        head: 0,
        backend_id: BACKEND_ID.to_owned(),
        limits: Limits::default(),
        stored_bytes: None,
    }
}

/// What one message produced.
#[derive(Debug, Default)]
pub struct Outputs {
    pub replies: Vec<serde_json::Value>,
    pub broadcasts: Vec<serde_json::Value>,
    pub raw_replies: Vec<String>,
    pub activities: Vec<livestore_sync_rs::sync::activity::Activity>,
    pub subscriptions: Vec<livestore_sync_rs::sync::output::RpcSubscription>,
}

pub fn send(
    store: &mut Store<MemLog>,
    transport: Transport,
    conn: &mut Connection,
    frame: &str,
) -> Outputs {
    let mut outs = Outputs::default();
    let mut raw = Vec::new();
    handle_http_or_ws(store, transport, conn, frame, &mut |o| raw.push(o));
    for o in raw {
        match o {
            Output::Reply(r) => {
                outs.replies
                    .push(serde_json::from_str(&r).expect("reply must be valid JSON"));
                outs.raw_replies.push(r);
            }
            // valid JSON, but serde_json's Value cannot hold a number beyond f64 (args may
            // carry one, e.g. 1e400, which JSON.parse reads as Infinity): kept as text then
            Output::Broadcast(b) => outs
                .broadcasts
                .push(serde_json::from_str(&b).unwrap_or_else(|_| {
                    serde_json::from_str::<serde::de::IgnoredAny>(&b)
                        .expect("broadcast must be valid JSON");
                    serde_json::Value::String(b)
                })),
            Output::Activity(a) => outs.activities.push(a),
            Output::Subscribe(s) => outs.subscriptions.push(s),
        }
    }
    outs
}

/// One message handled as the Durable Object handles it: over HTTP, the history the first
/// window left is streamed afterwards from the log ([`HttpHistory`]), as the object streams it
/// into the response body.
pub fn handle_http_or_ws(
    store: &mut Store<MemLog>,
    transport: Transport,
    conn: &mut Connection,
    frame: &str,
    out: &mut dyn FnMut(Output),
) {
    block_on(store.handle_message(transport, conn, frame, &|| NOW.to_owned(), out));
    if transport != Transport::Http {
        return;
    }
    if let Some(mut history) = HttpHistory::take(store, conn) {
        loop {
            match history.next_step() {
                HistoryStep::Read {
                    after,
                    until,
                    limit,
                } => {
                    let rows = block_on(store.log.read_between(after, until, limit))
                        .expect("the in-memory log reads");
                    out(Output::Reply(history.feed(&rows)));
                }
                HistoryStep::Frame(f) => out(Output::Reply(f)),
                HistoryStep::Done => break,
            }
        }
    }
}

/// Runs a future of the core over the in-memory log, which never waits: it must be ready at once.
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match f.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(v) => v,
        std::task::Poll::Pending => panic!("the in-memory log never waits"),
    }
}

/// One WebSocket frame, handled as the Durable Object handles it: frames that cannot need the
/// store (the Acks of broadcasts) are dropped before the core, by production's own decision.
pub fn ws(store: &mut Store<MemLog>, conn: &mut Connection, frame: &str) -> Outputs {
    if !needs_store(std::iter::once(&*conn), conn, frame) {
        return Outputs::default();
    }
    send(store, Transport::WebSocket, conn, frame)
}

/// Whether the object hands `frame` of `conn` to the core, with `sockets` the store's open
/// connections: [`Fanout::needs_store`], over the index the object would have scanned.
pub fn needs_store<'a>(
    sockets: impl IntoIterator<Item = &'a Connection>,
    conn: &Connection,
    frame: &str,
) -> bool {
    let mut fanout = Fanout::default();
    fanout.index(|| SocketIndex::from_connections(sockets.into_iter().cloned().enumerate()));
    fanout.needs_store(conn, &ClientMessage::decode(frame))
}

/// The frames a broadcast `PullResponse` becomes, by production's fan-out
/// ([`SocketIndex::broadcast`]): one per live pull of each of `sockets`, named by its key.
pub fn fan_out<'a, K: Clone>(
    sockets: impl IntoIterator<Item = (K, &'a Connection)>,
    pull_response: &str,
) -> Vec<(K, String)> {
    let index = SocketIndex::from_connections(sockets.into_iter().map(|(k, c)| (k, c.clone())));
    let mut frames = Vec::new();
    let expired = index.broadcast(
        pull_response,
        0,
        |f| f,
        |k, f| {
            frames.push((k.clone(), f.clone()));
        },
    );
    assert!(expired.is_empty(), "test sockets have no deadline");
    frames
}

pub fn event(seq: i64) -> serde_json::Value {
    serde_json::json!({
        "name": "todoCreated-v1",
        "args": {"id": format!("todo-{seq}"), "text": format!("Todo number {seq}")},
        "seqNum": seq, "parentSeqNum": seq - 1,
        "clientId": "client-A", "sessionId": "session-A1"
    })
}

pub fn push_frame(id: &str, events: &[serde_json::Value], backend_id: Option<&str>) -> String {
    let backend = match backend_id {
        Some(b) => serde_json::json!({"_tag": "Some", "value": b}),
        None => serde_json::json!({"_tag": "None"}),
    };
    serde_json::json!({
        "_tag": "Request", "id": id, "tag": "SyncWsRpc.Push",
        "payload": {"storeId": "s", "batch": events, "backendId": backend},
        "headers": []
    })
    .to_string()
}

pub fn pull_frame(id: &str, cursor: Option<i64>, live: bool) -> String {
    let cursor = match cursor {
        Some(n) => {
            serde_json::json!({"_tag": "Some", "value": {"backendId": BACKEND_ID, "eventSequenceNumber": n}})
        }
        None => serde_json::json!({"_tag": "None"}),
    };
    serde_json::json!({
        "_tag": "Request", "id": id, "tag": "SyncWsRpc.Pull",
        "payload": {"storeId": "s", "live": live, "cursor": cursor},
        "headers": []
    })
    .to_string()
}

pub fn push_events(store: &mut Store<MemLog>, from: i64, to: i64) {
    let events: Vec<_> = (from..=to).map(event).collect();
    for chunk in events.chunks(100) {
        let o = ws(
            store,
            &mut Connection::default(),
            &push_frame("p", chunk, None),
        );
        assert_eq!(o.replies[0]["exit"]["_tag"], "Success", "{:?}", o.replies);
    }
}
