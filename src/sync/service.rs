//! The sync service: one client message in, replies and broadcasts out (the "sans-IO" style).
//!
//! Both transports call [`Store::handle_message`]; the glue only moves the [`Output`]s onto
//! sockets or into an HTTP body. Handling is synchronous from decode to last output, so inside
//! one Durable Object no other message can interleave: pushes are admitted strictly one at a time,
//! broadcasts leave in log order, and a live pull registers for broadcasts in the same step that
//! sends the last of its history, so it sees every event exactly once.
//!
//! History is paced by the client's Acks: at most [`PULL_WINDOW`] chunks of one pull are
//! unacknowledged at a time (the reference waits for an Ack after *every* chunk), so a pull of a
//! huge store streams with bounded memory and without an Ack round trip per chunk.

use std::fmt;

use crate::protocol::do_rpc;
use crate::protocol::messages::{
    decode_payload, encode_pull_response, CallerContext, Event, EventView, PageInfo, PullRequest,
    PushRequest, SyncError, HTTP_PONG, PUSH_ACK,
};
use crate::protocol::rpc::{self, ClientMessage, FrameError, RequestId, RpcRequest, PONG_FRAME};

use serde::{Deserialize, Serialize};

use super::activity::{Activity, Refusal};
use super::limits::Limits;
use super::pull::{fit_response, Chunker};
use super::push::{admit, check_deliverable, Admission};

/// Chunks of one pull that may be in flight without an Ack: enough to keep a long link busy, few
/// enough that a slow client makes the object hold at most this many responses.
pub const PULL_WINDOW: u32 = 8;

/// Rows read per query outside paced history (catch-up after a paced live pull).
const CATCH_UP_PAGE_ROWS: usize = 1_000;

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
    /// Raw JSON text; SQL NULL is an event pushed without args, and is sent without them again
    /// (the reference turns it into `"args":null` in history pulls only, §4.3, so two clients
    /// would see different events).
    pub args: Option<String>,
    pub created_at: String,
    pub client_id: String,
    pub session_id: String,
}

impl StoredEvent {
    pub fn view(&self) -> EventView<'_> {
        EventView {
            name: &self.name,
            args: self.args.as_deref(),
            seq_num: self.seq_num,
            parent_seq_num: self.parent_seq_num,
            client_id: &self.client_id,
            session_id: &self.session_id,
            created_at: &self.created_at,
        }
    }
}

/// The store's event log, as the service needs it. The Durable Object implements it over its
/// SQLite tables or over D1; tests implement it in memory. Asynchronous because D1 is: over the
/// Durable Object's own SQLite every call completes at once, so a message is still handled in
/// one uninterrupted step there.
#[allow(async_fn_in_trait)] // implemented and awaited only inside this crate and its tests
pub trait EventLog {
    /// How many events have `after < seqNum <= until`.
    async fn count_between(&self, after: i64, until: i64) -> Result<u64, StorageError>;
    /// Up to `limit` events with `after < seqNum <= until`, in ascending order.
    async fn read_between(
        &self,
        after: i64,
        until: i64,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StorageError>;
    /// Appends the batch and records `new_head`, atomically: all of it or none of it.
    async fn append(
        &self,
        batch: &[Event],
        created_at: &str,
        new_head: i64,
    ) -> Result<(), StorageError>;
    /// Appends events that carry their own `createdAt` (an admin import) and records `new_head`,
    /// atomically.
    async fn append_stored(
        &self,
        events: &[StoredEvent],
        new_head: i64,
    ) -> Result<(), StorageError>;
    /// How many events there are, and the `createdAt` of the first and the last.
    async fn summary(&self) -> Result<LogSummary, StorageError>;
    /// Deletes every event and records head 0 with a new `backend_id`, atomically.
    async fn reset(&self, backend_id: &str) -> Result<(), StorageError>;
}

/// The log's size and time span.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogSummary {
    pub events: u64,
    pub first_created_at: Option<String>,
    pub last_created_at: Option<String>,
}

/// Which RPC group the message arrived on: the tags differ (§4, §5.3, docs/do-rpc.md §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    WebSocket,
    Http,
    /// Another Durable Object calling `rpc(bytes)`: requests one call at a time, live updates
    /// by calling the client's object back.
    DoRpc,
}

/// The RPCs, whatever their group's tag prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Call {
    Pull,
    Push,
    Ping,
}

impl Transport {
    fn call(self, tag: &str) -> Option<Call> {
        Some(match (self, tag) {
            (Transport::WebSocket, "SyncWsRpc.Pull")
            | (Transport::Http, "SyncHttpRpc.Pull")
            | (Transport::DoRpc, do_rpc::PULL) => Call::Pull,
            (Transport::WebSocket, "SyncWsRpc.Push")
            | (Transport::Http, "SyncHttpRpc.Push")
            | (Transport::DoRpc, do_rpc::PUSH) => Call::Push,
            (Transport::Http, "SyncHttpRpc.Ping") | (Transport::DoRpc, do_rpc::PING) => Call::Ping,
            _ => return None,
        })
    }
}

/// A DO-RPC live pull that finished its history: call the client's object back with every
/// later `PullResponse`, under the pull's request id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpcSubscription {
    pub caller: CallerContext,
    pub request_id: RequestId,
}

/// Something the glue must send, or may record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// A frame for the connection the message came from.
    Reply(String),
    /// A `PullResponse` for every live pull of every socket of the store, pusher included. All
    /// broadcasts of a push are emitted before its acknowledgement.
    Broadcast(String),
    /// What a request did, for logs and metrics.
    Activity(Activity),
    /// A DO-RPC subscriber to record (replacing an earlier one of the same object), in the
    /// same step as the end of its history.
    Subscribe(RpcSubscription),
}

/// The HTTP answer to one RPC body: its replies as a JSON array, with `400` when the body was not
/// an RPC request at all (a lone `Defect`); RPC-level failures are ordinary `200` answers, as the
/// client expects (PROTOCOL.md §5.2).
pub fn http_answer(replies: &[String]) -> (u16, String) {
    let status = match replies {
        [only] if only.starts_with(r#"{"_tag":"Defect""#) => 400,
        _ => 200,
    };
    (status, format!("[{}]", replies.join(",")))
}

/// Per-connection state that must survive hibernation (the glue keeps it in the socket
/// attachment).
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Connection {
    /// Live pulls whose history is complete: they receive every broadcast.
    #[serde(rename = "pullRequestIds", default)]
    pub live_pulls: Vec<RequestId>,
    /// Pulls still sending their history, paced by Acks.
    #[serde(
        rename = "pendingPulls",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub pending_pulls: Vec<PendingPull>,
    /// Whether any RPC request arrived on this connection. A socket that never carries one is
    /// closed after a while ([`super::closing`]): the published client can reconnect silently
    /// and leave its requests unanswered on a socket that only ever pings.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub requested: bool,
}

impl Connection {
    /// Whether `text` can need the store: a well-formed `Ack` only matters while a pull on this
    /// socket is paced by Acks (the Acks of broadcasts need nothing). Decoding a frame is cheap;
    /// loading the store after an eviction is not.
    pub fn needs_store(&self, text: &str) -> bool {
        self.needs_store_for(&ClientMessage::decode(text))
    }

    /// [`Self::needs_store`] of a message decoded already.
    pub fn needs_store_for(&self, message: &Result<ClientMessage<'_>, FrameError>) -> bool {
        !(self.pending_pulls.is_empty() && matches!(message, Ok(ClientMessage::Ack(_))))
    }

    fn uses(&self, id: &RequestId) -> bool {
        self.live_pulls.contains(id) || self.pending_pulls.iter().any(|p| p.id == *id)
    }
}

/// A pull whose history is still being sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingPull {
    pub id: RequestId,
    /// `seqNum` of the last event sent.
    pub after: i64,
    /// The head when the pull started: its history ends there.
    pub until: i64,
    /// History events not sent yet (for `MoreKnown.remaining`).
    pub remaining: u64,
    pub live: bool,
    /// Responses sent and not yet acknowledged.
    pub unacked: u32,
    /// Responses sent so far (an empty history still sends one).
    pub sent: u64,
    /// DO-RPC: the object to subscribe when the history is done (the pull then ends).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller: Option<CallerContext>,
}

/// How a pull starts: whether it joins the connection's broadcasts (WebSocket), which object
/// it subscribes (DO-RPC), and how many responses it may send before the client reads them.
struct PullStart {
    live: bool,
    caller: Option<CallerContext>,
    window: u32,
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
    pub async fn handle_message(
        &mut self,
        transport: Transport,
        conn: &mut Connection,
        text: &str,
        now: &dyn Fn() -> String,
        out: &mut dyn FnMut(Output),
    ) -> bool {
        self.handle_decoded(transport, conn, ClientMessage::decode(text), now, out)
            .await
    }

    /// [`Self::handle_message`] of a message decoded already (the glue decodes a frame once, to
    /// see whether it needs the store at all).
    pub async fn handle_decoded(
        &mut self,
        transport: Transport,
        conn: &mut Connection,
        message: Result<ClientMessage<'_>, FrameError>,
        now: &dyn Fn() -> String,
        out: &mut dyn FnMut(Output),
    ) -> bool {
        let message = match message {
            Ok(m) => m,
            Err(e) => {
                out(Output::Reply(rpc::defect_frame(&e.0)));
                return false;
            }
        };
        match message {
            ClientMessage::Ping => out(Output::Reply(PONG_FRAME.to_owned())),
            // Eof needs no reply (§3.2).
            ClientMessage::Eof => {}
            ClientMessage::Ack(id) => return self.acknowledge(conn, &id, 1, out).await,
            ClientMessage::Interrupt(id) => {
                let before = conn.live_pulls.len() + conn.pending_pulls.len();
                conn.live_pulls.retain(|x| *x != id);
                conn.pending_pulls.retain(|p| p.id != id);
                if conn.live_pulls.len() + conn.pending_pulls.len() != before {
                    out(Output::Reply(rpc::exit_interrupted(&id)));
                    return true;
                }
            }
            ClientMessage::Request(request) => {
                let first = !std::mem::replace(&mut conn.requested, true);
                return self
                    .handle_request(transport, conn, request, now, out)
                    .await
                    || first;
            }
        }
        false
    }

    async fn handle_request(
        &mut self,
        transport: Transport,
        conn: &mut Connection,
        request: RpcRequest<'_>,
        now: &dyn Fn() -> String,
        out: &mut dyn FnMut(Output),
    ) -> bool {
        let id = request.id;
        if conn.uses(&id) {
            out(Output::Reply(rpc::exit_die(
                &id,
                &format!(
                    "Request id {} is already in use by a pull on this connection",
                    id.as_json()
                ),
            )));
            return false;
        }
        let tag = request.tag.as_ref();
        let Some(call) = transport.call(tag) else {
            let reason = format!("Unknown request tag: {tag}");
            match transport {
                // the request is answered: the DO-RPC client has no connection to fail
                Transport::DoRpc => out(Output::Reply(rpc::exit_die(&id, &reason))),
                _ => out(Output::Reply(rpc::defect_frame(&reason))),
            }
            return false;
        };
        match call {
            Call::Pull => {
                let pull: PullRequest = match decode_payload(tag, request.payload) {
                    Ok(p) => p,
                    Err(e) => {
                        out(Output::Reply(rpc::exit_die(&id, &e)));
                        return false;
                    }
                };
                let (live, caller) = match (transport, pull.live) {
                    (Transport::WebSocket, Some(live)) => (live, None),
                    (Transport::WebSocket, None) => {
                        let e = format!("{tag}: invalid payload: missing field `live`");
                        out(Output::Reply(rpc::exit_die(&id, &e)));
                        return false;
                    }
                    // HTTP has no server push: "live" is the client polling (§9.3).
                    (Transport::Http, _) => (false, None),
                    // Live over DO-RPC is a call back per push, after the stream ends.
                    (Transport::DoRpc, _) => {
                        (false, pull.rpc_context.clone().map(|c| c.caller_context))
                    }
                };
                let window = match transport {
                    Transport::WebSocket | Transport::DoRpc => PULL_WINDOW,
                    // An HTTP answer is one body: no Acks, everything at once.
                    Transport::Http => u32::MAX,
                };
                let start = PullStart {
                    live,
                    caller,
                    window,
                };
                match self.start_pull(conn, id.clone(), &pull, start, out).await {
                    Ok(changed) => return changed,
                    Err(e) => out(Output::Reply(rpc::exit_failure(&id, &e.encode()))),
                }
            }
            Call::Push => {
                let push: PushRequest = match decode_payload(tag, request.payload) {
                    Ok(p) => p,
                    Err(e) => {
                        out(Output::Reply(rpc::exit_die(&id, &e)));
                        out(Output::Activity(Activity::Push {
                            events: 0,
                            outcome: Err(Refusal("InvalidPayload".into())),
                        }));
                        return false;
                    }
                };
                let outcome = match self.push(&push, now, out).await {
                    Ok(()) => {
                        out(Output::Reply(rpc::exit_success(&id, PUSH_ACK)));
                        Ok(self.head)
                    }
                    Err(e) => {
                        out(Output::Reply(rpc::exit_failure(&id, &e.encode())));
                        Err(Refusal::of(&e))
                    }
                };
                out(Output::Activity(Activity::Push {
                    events: push.batch.len(),
                    outcome,
                }));
            }
            Call::Ping => out(Output::Reply(rpc::exit_success(&id, HTTP_PONG))),
        }
        false
    }

    /// Starts a pull (§4.7, §7.6): checks the cursor, sends the first window of history, and
    /// either finishes it or leaves it pending on the connection. Returns whether `conn` changed.
    async fn start_pull(
        &self,
        conn: &mut Connection,
        id: RequestId,
        pull: &PullRequest,
        start: PullStart,
        out: &mut dyn FnMut(Output),
    ) -> Result<bool, SyncError> {
        let PullStart {
            live,
            caller,
            window,
        } = start;
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
        let until = self.head;
        let remaining = self
            .log
            .count_between(after, until)
            .await
            .map_err(storage)?;
        out(Output::Activity(Activity::Pull {
            after,
            events: remaining,
            live: live || caller.is_some(),
        }));
        let mut pull = PendingPull {
            id,
            after,
            until,
            remaining,
            live,
            unacked: 0,
            sent: 0,
            caller,
        };
        if self.send_history(&mut pull, window, out).await? {
            self.finish_pull(conn, pull, out).await?;
            Ok(live)
        } else {
            conn.pending_pulls.push(pull);
            Ok(true)
        }
    }

    /// DO-RPC: the caller has read what the stream carried so far; send the next window of
    /// every pull still sending its history. Returns whether one still is.
    pub async fn continue_pulls(&self, conn: &mut Connection, out: &mut dyn FnMut(Output)) -> bool {
        let ids: Vec<RequestId> = conn.pending_pulls.iter().map(|p| p.id.clone()).collect();
        for id in ids {
            self.acknowledge(conn, &id, u32::MAX, out).await;
        }
        !conn.pending_pulls.is_empty()
    }

    /// An Ack frees `freed` slots in its pull's window: send more history, finish it when done.
    async fn acknowledge(
        &self,
        conn: &mut Connection,
        id: &RequestId,
        freed: u32,
        out: &mut dyn FnMut(Output),
    ) -> bool {
        let Some(pos) = conn.pending_pulls.iter().position(|p| p.id == *id) else {
            // Acks of live broadcasts and of finished pulls need nothing (§3.5).
            return false;
        };
        let mut pull = conn.pending_pulls.remove(pos);
        pull.unacked = pull.unacked.saturating_sub(freed);
        let result = match self.send_history(&mut pull, PULL_WINDOW, out).await {
            Ok(true) => {
                let id = pull.id.clone();
                self.finish_pull(conn, pull, out).await.map_err(|e| (id, e))
            }
            Ok(false) => {
                conn.pending_pulls.insert(pos, pull);
                Ok(())
            }
            Err(e) => Err((pull.id, e)),
        };
        if let Err((id, e)) = result {
            out(Output::Reply(rpc::exit_failure(&id, &e.encode())));
        }
        true
    }

    /// Sends history responses while fewer than `window` are unacknowledged. Returns `true` once
    /// the whole history (at least one response) has been sent.
    async fn send_history(
        &self,
        pull: &mut PendingPull,
        window: u32,
        out: &mut dyn FnMut(Output),
    ) -> Result<bool, SyncError> {
        loop {
            if pull.remaining == 0 && pull.sent > 0 {
                return Ok(true);
            }
            if pull.unacked >= window {
                return Ok(false);
            }
            let rows = if pull.remaining == 0 {
                Vec::new()
            } else {
                self.log
                    .read_between(pull.after, pull.until, self.limits.max_events_per_response)
                    .await
                    .map_err(storage)?
            };
            let items = fit_response(rows.iter().map(|r| r.view().encode_item()), &self.limits);
            match rows.get(items.len().wrapping_sub(1)) {
                Some(last) => pull.after = last.seq_num,
                // The log has fewer events than counted: end here rather than loop.
                None => pull.remaining = 0,
            }
            pull.remaining = pull.remaining.saturating_sub(items.len() as u64);
            let page_info = if pull.remaining > 0 {
                PageInfo::MoreKnown {
                    remaining: pull.remaining,
                }
            } else {
                PageInfo::NoMore
            };
            let response = encode_pull_response(&items, page_info, &self.backend_id);
            out(Output::Reply(rpc::chunk_frame(&pull.id, &response)));
            pull.unacked += 1;
            pull.sent += 1;
        }
    }

    /// History done: a live pull first gets the events admitted while its history was paced,
    /// then joins the broadcasts (all in this one step, so nothing falls between); a DO-RPC
    /// live pull likewise subscribes its caller, and ends; a non-live pull ends.
    async fn finish_pull(
        &self,
        conn: &mut Connection,
        pull: PendingPull,
        out: &mut dyn FnMut(Output),
    ) -> Result<(), SyncError> {
        if !pull.live && pull.caller.is_none() {
            out(Output::Reply(rpc::exit_stream_done(&pull.id)));
            return Ok(());
        }
        let mut after = pull.until;
        while after < self.head {
            let rows = self
                .log
                .read_between(after, self.head, CATCH_UP_PAGE_ROWS)
                .await
                .map_err(storage)?;
            let Some(last) = rows.last() else { break };
            after = last.seq_num;
            let mut chunker = Chunker::new(&self.backend_id, &self.limits);
            for row in &rows {
                if let Some(response) = chunker.push(row.view().encode_item()) {
                    out(Output::Reply(rpc::chunk_frame(&pull.id, &response)));
                }
            }
            if let Some(response) = chunker.finish() {
                out(Output::Reply(rpc::chunk_frame(&pull.id, &response)));
            }
        }
        match pull.caller {
            Some(caller) => {
                out(Output::Subscribe(RpcSubscription {
                    caller,
                    request_id: pull.id.clone(),
                }));
                out(Output::Reply(rpc::exit_stream_done(&pull.id)));
            }
            None => conn.live_pulls.push(pull.id),
        }
        Ok(())
    }

    /// Admits, persists and broadcasts a push (§7.3): persist → broadcast → (caller) ack.
    async fn push(
        &mut self,
        push: &PushRequest,
        now: &dyn Fn() -> String,
        out: &mut dyn FnMut(Output),
    ) -> Result<(), SyncError> {
        let new_head = match admit(self.head, &self.backend_id, push)? {
            Admission::Empty => return Ok(()),
            Admission::Append { new_head } => new_head,
        };
        let created_at = now();
        let items: Vec<String> = push
            .batch
            .iter()
            .map(|event| EventView::of(event, &created_at).encode_item())
            .collect();
        check_deliverable(&push.batch, &items, &self.limits)?;
        self.log
            .append(&push.batch, &created_at, new_head)
            .await
            .map_err(storage)?;
        self.head = new_head;
        let mut chunker = Chunker::new(&self.backend_id, &self.limits);
        for item in items {
            if let Some(response) = chunker.push(item) {
                out(Output::Broadcast(response));
            }
        }
        if let Some(response) = chunker.finish() {
            out(Output::Broadcast(response));
        }
        Ok(())
    }
}

impl<L: EventLog> Store<L> {
    /// Appends an admin import page that [`crate::admin::ndjson::parse_import`] validated against
    /// this head, and broadcasts it to live pulls like a push: connected clients see the imported
    /// events in log order. Returns the new head.
    pub async fn import(
        &mut self,
        events: &[StoredEvent],
        out: &mut dyn FnMut(Output),
    ) -> Result<i64, StorageError> {
        let links = events.iter().map(|e| (e.parent_seq_num, e.seq_num));
        if let Some(reason) = super::push::chain_error(self.head, links) {
            return Err(StorageError(format!(
                "import does not continue the log: {reason}"
            )));
        }
        let Some(last) = events.last() else {
            return Ok(self.head);
        };
        self.log.append_stored(events, last.seq_num).await?;
        self.head = last.seq_num;
        let mut chunker = Chunker::new(&self.backend_id, &self.limits);
        for e in events {
            if let Some(response) = chunker.push(e.view().encode_item()) {
                out(Output::Broadcast(response));
            }
        }
        if let Some(response) = chunker.finish() {
            out(Output::Broadcast(response));
        }
        Ok(self.head)
    }

    /// Deletes the log and starts a new incarnation of the store under `backend_id`: clients
    /// holding events of the old one get `BackendIdMismatchError` and reset (PROTOCOL.md §9.2).
    pub async fn reset(&mut self, backend_id: String) -> Result<(), StorageError> {
        self.log.reset(&backend_id).await?;
        self.head = 0;
        self.backend_id = backend_id;
        Ok(())
    }
}

fn storage(e: StorageError) -> SyncError {
    SyncError::unknown("StorageError", e.0)
}
