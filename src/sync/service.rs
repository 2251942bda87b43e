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

use crate::auth::rights::{self, PushRights};
use crate::protocol::do_rpc;
use crate::protocol::messages::{
    decode_payload, encode_pull_response, CallerContext, Event, EventView, PageInfo, PullRequest,
    PushRequest, SyncError, HTTP_PONG, PUSH_ACK,
};
use crate::protocol::rpc::{self, ClientMessage, FrameError, RequestId, RpcRequest, PONG_FRAME};

use serde::{Deserialize, Serialize};

use super::activity::{Activity, Refusal};
use super::limits::{Limits, MAX_REQUEST_ID_BYTES};
use super::pull::{fit_response, Chunker};
use super::push::{admit, check_deliverable, Admission};

/// Chunks of one pull that may be in flight without an Ack: enough to keep a long link busy, few
/// enough that a slow client makes the object hold at most this many responses.
pub const PULL_WINDOW: u32 = 8;

/// Rows read per query outside paced history (catch-up after a paced live pull).
const CATCH_UP_PAGE_ROWS: usize = 1_000;

pub use crate::storage::StorageError;

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
    /// What the token this connection was opened with may push (checked on every push, before
    /// admission: a read-only client with a stale parent learns that it is read-only).
    #[serde(
        rename = "pushRights",
        default,
        skip_serializing_if = "PushRights::is_unrestricted"
    )]
    pub rights: PushRights,
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
    /// Bytes the store holds, kept only when a quota (`MAX_STORE_BYTES`) applies: measured when
    /// the store opens, then grown by each push's encoded events (an estimate, never reread).
    pub stored_bytes: Option<u64>,
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
                if let Some(reason) = self.pull_refusal(transport, conn, &id) {
                    out(Output::Reply(rpc::exit_failure(
                        &id,
                        &SyncError::unknown("PullLimitError", reason).encode(),
                    )));
                    return false;
                }
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
                // An HTTP answer is one body without Acks: the first window goes out from here,
                // the glue streams the rest of the history into the same body page by page
                // (`history_frame`), so that no pull is ever held in memory whole.
                let window = PULL_WINDOW;
                let start = PullStart {
                    live,
                    caller,
                    window,
                };
                match self.start_pull(conn, id.clone(), &pull, start, out).await {
                    Ok(changed) => return changed,
                    Err(e) => fail(&id, &e, out),
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
                if let Some(reason) = conn
                    .rights
                    .refusal(push.batch.iter().map(|e| e.name.as_str()))
                {
                    let e = SyncError::unknown(rights::NOT_ALLOWED, reason);
                    fail(&id, &e, out);
                    out(Output::Activity(Activity::Push {
                        events: push.batch.len(),
                        outcome: Err(Refusal::of(&e)),
                    }));
                    return false;
                }
                let outcome = match self.push(&push, now, out).await {
                    Ok(()) => {
                        out(Output::Reply(rpc::exit_success(&id, PUSH_ACK)));
                        Ok(self.head)
                    }
                    Err(e) => {
                        fail(&id, &e, out);
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

    /// Why a new pull on this connection is refused, if it is: WebSocket pulls are remembered
    /// by request id in the socket's attachment, so their number and their ids are bounded.
    fn pull_refusal(
        &self,
        transport: Transport,
        conn: &Connection,
        id: &RequestId,
    ) -> Option<String> {
        if transport != Transport::WebSocket {
            return None;
        }
        let running = conn.live_pulls.len() + conn.pending_pulls.len();
        if running >= self.limits.max_pulls_per_socket {
            return Some(format!(
                "this socket already runs {running} pulls, the most allowed (MAX_PULLS_PER_SOCKET={}); interrupt one or open another socket",
                self.limits.max_pulls_per_socket
            ));
        }
        let id_bytes = id.as_json().len();
        if id_bytes > MAX_REQUEST_ID_BYTES {
            return Some(format!(
                "a pull's request id may be at most {MAX_REQUEST_ID_BYTES} bytes of JSON; this one is {id_bytes}"
            ));
        }
        None
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
            fail(&id, &e, out);
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
            out(Output::Reply(history_frame(
                pull,
                &rows,
                &self.limits,
                &self.backend_id,
            )));
            pull.unacked += 1;
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
        let new_head = match admit(self.head, &self.backend_id, push, &self.limits)? {
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
        let bytes: u64 = items.iter().map(|i| i.len() as u64).sum();
        if let (Some(quota), Some(used)) = (self.limits.max_store_bytes, self.stored_bytes) {
            if used.saturating_add(bytes) > quota {
                return Err(SyncError::unknown(
                    "StoreQuotaError",
                    format!(
                        "the store holds about {used} bytes and its quota is {quota} bytes (MAX_STORE_BYTES); this push of {bytes} bytes is refused"
                    ),
                ));
            }
        }
        self.log
            .append(&push.batch, &created_at, new_head)
            .await
            .map_err(storage)?;
        self.head = new_head;
        if let Some(used) = &mut self.stored_bytes {
            *used = used.saturating_add(bytes);
        }
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
            return Err(StorageError::Refused(format!(
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

/// The next `PullResponse` of a pull's history, as a `Chunk` frame, from `rows` (the next events
/// after `pull.after`, read by the caller): as many as fit one response, and `pageInfo` from the
/// events still to come. Advances the pull. Shared by paced pulls and the HTTP body the glue
/// streams after its handler returned.
pub fn history_frame(
    pull: &mut PendingPull,
    rows: &[StoredEvent],
    limits: &Limits,
    backend_id: &str,
) -> String {
    let items = fit_response(rows.iter().map(|r| r.view().encode_item()), limits);
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
    pull.sent += 1;
    let response = encode_pull_response(&items, page_info, backend_id);
    rpc::chunk_frame(&pull.id, &response)
}

/// The history an HTTP pull still owes after its first window, for the glue to stream into the
/// same response body after the handler returned (an HTTP answer has no Acks; building the whole
/// history into one body made a large store's pull hold it all in memory). Sans-IO: ask
/// [`Self::next_step`] what to do, read the rows it names, hand them to [`Self::feed`].
#[derive(Debug)]
pub struct HttpHistory {
    pulls: Vec<PendingPull>,
    limits: Limits,
    backend_id: String,
}

/// What [`HttpHistory`] needs next.
#[derive(Debug, PartialEq, Eq)]
pub enum HistoryStep {
    /// Read up to `limit` events with `after < seqNum <= until` and [`HttpHistory::feed`] them.
    Read {
        after: i64,
        until: i64,
        limit: usize,
    },
    /// Send this frame (the end of one pull); then ask again.
    Frame(String),
    /// Nothing more.
    Done,
}

impl HttpHistory {
    /// The pulls of `conn` that still send history, if any (taken off the connection).
    pub fn take<L>(store: &Store<L>, conn: &mut Connection) -> Option<HttpHistory> {
        if conn.pending_pulls.is_empty() {
            return None;
        }
        let mut pulls = std::mem::take(&mut conn.pending_pulls);
        pulls.reverse();
        Some(HttpHistory {
            pulls,
            limits: store.limits.clone(),
            backend_id: store.backend_id.clone(),
        })
    }

    pub fn next_step(&mut self) -> HistoryStep {
        let Some(pull) = self.pulls.last() else {
            return HistoryStep::Done;
        };
        if pull.remaining > 0 {
            return HistoryStep::Read {
                after: pull.after,
                until: pull.until,
                limit: self.limits.max_events_per_response,
            };
        }
        match self.pulls.pop() {
            Some(done) => HistoryStep::Frame(rpc::exit_stream_done(&done.id)),
            None => HistoryStep::Done,
        }
    }

    /// The next `Chunk` frame, from the rows [`HistoryStep::Read`] asked for.
    pub fn feed(&mut self, rows: &[StoredEvent]) -> String {
        match self.pulls.last_mut() {
            Some(pull) => history_frame(pull, rows, &self.limits, &self.backend_id),
            None => String::new(),
        }
    }
}

/// A storage failure as the client sees it: a refusal's reason, or an incident id whose detail
/// only the log gets (see [`fail`]).
fn storage(e: StorageError) -> SyncError {
    match e {
        StorageError::Refused(reason) => SyncError::unknown("StorageError", reason),
        StorageError::Backend(detail) => SyncError::Storage {
            incident: crate::log::incident_id(),
            detail,
        },
    }
}

/// Answers request `id` with the failure `e`, reporting a storage failure's detail for the log.
fn fail(id: &RequestId, e: &SyncError, out: &mut dyn FnMut(Output)) {
    if let SyncError::Storage { incident, detail } = e {
        out(Output::Activity(Activity::StorageFailure {
            incident: incident.clone(),
            detail: detail.clone(),
        }));
    }
    out(Output::Reply(rpc::exit_failure(id, &e.encode())));
}
