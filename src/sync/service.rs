//! The sync service: one client message in, replies and broadcasts out (the "sans-IO" style).
//!
//! Both transports call [`Store::handle_message`]; the glue only moves the [`Output`]s onto
//! sockets or into an HTTP body. Handling is synchronous from decode to last output, so inside
//! one Durable Object no other message can interleave: pushes are admitted strictly one at a time,
//! broadcasts leave in log order, and a live pull registers in the same step that reads its
//! history, so it sees every event exactly once.

use std::fmt;

use crate::protocol::messages::{
    decode_payload, Event, EventView, PullRequest, PushRequest, SyncError, HTTP_PONG, PUSH_ACK,
};
use crate::protocol::rpc::{self, ClientMessage, RequestId, RpcRequest, PONG_FRAME};

use super::limits::Limits;
use super::pull::{Chunker, Paging};
use super::push::{admit, Admission};

/// Rows fetched per history query: large enough that a pull costs few queries, small enough that
/// a pull of a huge store never holds much of it in memory at once.
pub const HISTORY_PAGE_ROWS: usize = 1_000;

/// A storage failure, reported to the client as `UnknownError` and never half-applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageError(pub String);

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An event as read back from the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    pub seq_num: i64,
    pub parent_seq_num: i64,
    pub name: String,
    /// Raw JSON text; SQL NULL (pushed without args) is read back as JSON `null` (§4.3).
    pub args: Option<String>,
    pub created_at: String,
    pub client_id: String,
    pub session_id: String,
}

impl StoredEvent {
    pub fn view(&self) -> EventView<'_> {
        EventView {
            name: &self.name,
            args: Some(self.args.as_deref().unwrap_or("null")),
            seq_num: self.seq_num,
            parent_seq_num: self.parent_seq_num,
            client_id: &self.client_id,
            session_id: &self.session_id,
            created_at: &self.created_at,
        }
    }
}

/// The store's event log, as the service needs it. The Durable Object implements it over its
/// SQLite tables; tests implement it in memory.
pub trait EventLog {
    /// How many events have `seqNum > after`.
    fn count_after(&self, after: i64) -> Result<u64, StorageError>;
    /// Up to `limit` events with `seqNum > after`, in ascending order.
    fn read_after(&self, after: i64, limit: usize) -> Result<Vec<StoredEvent>, StorageError>;
    /// Appends the batch and records `new_head`, atomically: all of it or none of it.
    fn append(&self, batch: &[Event], created_at: &str, new_head: i64) -> Result<(), StorageError>;
}

/// Which RPC group the message arrived on: the tags differ (§4, §5.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    WebSocket,
    Http,
}

/// Something the glue must send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// A frame for the connection the message came from.
    Reply(String),
    /// A `PullResponse` for every live pull of every socket of the store, pusher included. All
    /// broadcasts of a push are emitted before its acknowledgement.
    Broadcast(String),
}

/// Per-connection state that must survive hibernation (the glue keeps it in the socket
/// attachment): the ids of the live pulls running on this socket.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Connection {
    pub live_pulls: Vec<RequestId>,
}

/// One store: its log, its head and its backendId.
#[derive(Debug)]
pub struct Store<L> {
    pub log: L,
    /// `seqNum` of the last stored event; 0 for an empty store.
    pub head: i64,
    pub backend_id: String,
    pub limits: Limits,
}

impl<L: EventLog> Store<L> {
    /// Handles one frame (WebSocket) or one request body (HTTP). Never panics on client input.
    /// Returns `true` when `conn` changed and must be saved.
    pub fn handle_message(
        &mut self,
        transport: Transport,
        conn: &mut Connection,
        text: &str,
        now: &dyn Fn() -> String,
        out: &mut dyn FnMut(Output),
    ) -> bool {
        let message = match ClientMessage::decode(text) {
            Ok(m) => m,
            Err(e) => {
                out(Output::Reply(rpc::defect_frame(&e.0)));
                return false;
            }
        };
        match message {
            ClientMessage::Ping => out(Output::Reply(PONG_FRAME.to_owned())),
            // Chunks are not held back waiting for Acks (the client allows it: §3.5), and Eof
            // needs no reply (§3.2).
            ClientMessage::Ack(_) | ClientMessage::Eof => {}
            ClientMessage::Interrupt(id) => {
                if let Some(pos) = conn.live_pulls.iter().position(|x| *x == id) {
                    conn.live_pulls.remove(pos);
                    out(Output::Reply(rpc::exit_interrupted(&id)));
                    return true;
                }
            }
            ClientMessage::Request(request) => {
                return self.handle_request(transport, conn, request, now, out);
            }
        }
        false
    }

    fn handle_request(
        &mut self,
        transport: Transport,
        conn: &mut Connection,
        request: RpcRequest<'_>,
        now: &dyn Fn() -> String,
        out: &mut dyn FnMut(Output),
    ) -> bool {
        let id = request.id;
        if conn.live_pulls.contains(&id) {
            out(Output::Reply(rpc::exit_die(
                &id,
                &format!(
                    "Request id {} is already in use by a live pull on this connection",
                    id.as_json()
                ),
            )));
            return false;
        }
        let tag = request.tag.as_ref();
        match (transport, tag) {
            (Transport::WebSocket, "SyncWsRpc.Pull") | (Transport::Http, "SyncHttpRpc.Pull") => {
                let pull: PullRequest = match decode_payload(tag, request.payload) {
                    Ok(p) => p,
                    Err(e) => {
                        out(Output::Reply(rpc::exit_die(&id, &e)));
                        return false;
                    }
                };
                let live = match (transport, pull.live) {
                    (Transport::WebSocket, Some(live)) => live,
                    (Transport::WebSocket, None) => {
                        let e = format!("{tag}: invalid payload: missing field `live`");
                        out(Output::Reply(rpc::exit_die(&id, &e)));
                        return false;
                    }
                    // HTTP has no server push: "live" is the client polling (§9.3).
                    (Transport::Http, _) => false,
                };
                match self.pull_history(&id, &pull, out) {
                    Ok(()) if live => {
                        conn.live_pulls.push(id);
                        return true;
                    }
                    Ok(()) => out(Output::Reply(rpc::exit_stream_done(&id))),
                    Err(e) => out(Output::Reply(rpc::exit_failure(&id, &e.encode()))),
                }
            }
            (Transport::WebSocket, "SyncWsRpc.Push") | (Transport::Http, "SyncHttpRpc.Push") => {
                let push: PushRequest = match decode_payload(tag, request.payload) {
                    Ok(p) => p,
                    Err(e) => {
                        out(Output::Reply(rpc::exit_die(&id, &e)));
                        return false;
                    }
                };
                match self.push(&push, now, out) {
                    Ok(()) => out(Output::Reply(rpc::exit_success(&id, PUSH_ACK))),
                    Err(e) => out(Output::Reply(rpc::exit_failure(&id, &e.encode()))),
                }
            }
            (Transport::Http, "SyncHttpRpc.Ping") => {
                out(Output::Reply(rpc::exit_success(&id, HTTP_PONG)));
            }
            _ => out(Output::Reply(rpc::defect_frame(&format!(
                "Unknown request tag: {tag}"
            )))),
        }
        false
    }

    /// Streams the history after the cursor as `Chunk`s (§4.7, §7.6).
    fn pull_history(
        &self,
        id: &RequestId,
        pull: &PullRequest,
        out: &mut dyn FnMut(Output),
    ) -> Result<(), SyncError> {
        let mut after = 0;
        if let Some(cursor) = &pull.cursor {
            if cursor.backend_id != self.backend_id {
                return Err(SyncError::BackendIdMismatch {
                    expected: self.backend_id.clone(),
                    received: cursor.backend_id.clone(),
                });
            }
            after = cursor.event_sequence_number;
        }
        let storage = |e: StorageError| SyncError::unknown("StorageError", e.0);
        let total = self.log.count_after(after).map_err(storage)?;
        let mut chunker = Chunker::new(&self.backend_id, &self.limits, Paging::History { total });
        let mut read = 0u64;
        while read < total {
            let rows = self
                .log
                .read_after(after, HISTORY_PAGE_ROWS)
                .map_err(storage)?;
            let Some(last) = rows.last() else { break };
            after = last.seq_num;
            read += rows.len() as u64;
            for row in &rows {
                if let Some(response) = chunker.push(row.view().encode_item()) {
                    out(Output::Reply(rpc::chunk_frame(id, &response)));
                }
            }
        }
        if let Some(response) = chunker.finish() {
            out(Output::Reply(rpc::chunk_frame(id, &response)));
        }
        Ok(())
    }

    /// Admits, persists and broadcasts a push (§7.3): persist → broadcast → (caller) ack.
    fn push(
        &mut self,
        push: &PushRequest,
        now: &dyn Fn() -> String,
        out: &mut dyn FnMut(Output),
    ) -> Result<(), SyncError> {
        let new_head = match admit(self.head, &self.backend_id, push, &self.limits)? {
            Admission::Empty => return Ok(()),
            Admission::Append { new_head } => new_head,
        };
        let created_at = now();
        self.log
            .append(&push.batch, &created_at, new_head)
            .map_err(|e| SyncError::unknown("StorageError", e.0))?;
        self.head = new_head;
        let mut chunker = Chunker::new(&self.backend_id, &self.limits, Paging::Live);
        for event in &push.batch {
            if let Some(response) = chunker.push(EventView::of(event, &created_at).encode_item()) {
                out(Output::Broadcast(response));
            }
        }
        if let Some(response) = chunker.finish() {
            out(Output::Broadcast(response));
        }
        Ok(())
    }
}
