//! The sync service: one client message in, replies and broadcasts out (the "sans-IO" style).
//!
//! Every transport calls [`Store::handle_message`]; the glue only moves the [`Output`]s onto
//! sockets, into an HTTP body or into a DO-RPC answer. A request is parsed into a typed
//! [`Call`] first ([`super::call`]), then applied here. Handling is synchronous from decode to
//! last output, so inside one Durable Object no other message can interleave: pushes are
//! admitted strictly one at a time, broadcasts leave in log order, and a live pull registers for
//! broadcasts in the same step that sends the last of its history ([`super::pull`]).

use crate::auth::rights;
use crate::protocol::messages::{EventView, PushRequest, SyncError, HTTP_PONG, PUSH_ACK};
use crate::protocol::rpc::{self, ClientMessage, FrameError, RpcRequest, PONG_FRAME};
use crate::storage::{EventLog, StorageError, StoredEvent};
use crate::transport::Transport;

use super::activity::{Activity, Refusal};
use super::call::Call;
use super::connection::Connection;
use super::output::{fail, Output};
use super::pull::Chunker;
use super::push::{admit, chain_error, check_deliverable, Admission};
use super::store::{storage_failure, Store};

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
                out(Output::Reply(rpc::defect_frame(&e.to_string())));
                return false;
            }
        };
        match message {
            ClientMessage::Ping => out(Output::Reply(PONG_FRAME.to_owned())),
            // Eof needs no reply (§3.2).
            ClientMessage::Eof => {}
            ClientMessage::Ack(id) => return self.acknowledge(conn, &id, 1, out).await,
            ClientMessage::Interrupt(id) => {
                if conn.interrupt(&id) {
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

    /// Parses the request into a call, then runs it. Returns whether `conn` changed.
    async fn handle_request(
        &mut self,
        transport: Transport,
        conn: &mut Connection,
        request: RpcRequest<'_>,
        now: &dyn Fn() -> String,
        out: &mut dyn FnMut(Output),
    ) -> bool {
        let call = match Call::parse(transport, conn, request, &self.limits) {
            Ok(call) => call,
            Err(rejection) => {
                out(Output::Reply(rejection.reply));
                if let Some(activity) = rejection.activity {
                    out(Output::Activity(activity));
                }
                return false;
            }
        };
        match call {
            Call::Pull { id, pull, mode } => {
                match self.start_pull(conn, id.clone(), &pull, mode, out).await {
                    Ok(changed) => return changed,
                    Err(e) => fail(&id, &e, out),
                }
            }
            Call::Push { id, push } => {
                let outcome = match self.push(conn, &push, now, out).await {
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
            Call::Ping { id } => out(Output::Reply(rpc::exit_success(&id, HTTP_PONG))),
        }
        false
    }

    /// Checks, admits, persists and broadcasts a push (§7.3): persist → broadcast → (caller) ack.
    /// The connection's rights come first: a read-only client with a stale parent learns that it
    /// is read-only, and even an empty push is refused to it.
    async fn push(
        &mut self,
        conn: &Connection,
        push: &PushRequest,
        now: &dyn Fn() -> String,
        out: &mut dyn FnMut(Output),
    ) -> Result<(), SyncError> {
        if let Some(reason) = conn
            .rights
            .refusal(push.batch.iter().map(|e| e.name.as_str()))
        {
            return Err(SyncError::unknown(rights::NOT_ALLOWED, reason));
        }
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
            .map_err(storage_failure)?;
        self.head = new_head;
        if let Some(used) = &mut self.stored_bytes {
            *used = used.saturating_add(bytes);
        }
        self.broadcast(items, out);
        Ok(())
    }

    /// Appends an admin import page that [`crate::admin::ndjson::parse_import`] validated against
    /// this head, and broadcasts it to live pulls like a push: connected clients see the imported
    /// events in log order. Returns the new head.
    pub async fn import(
        &mut self,
        events: &[StoredEvent],
        out: &mut dyn FnMut(Output),
    ) -> Result<i64, StorageError> {
        let links = events.iter().map(|e| (e.parent_seq_num, e.seq_num));
        if let Some(reason) = chain_error(self.head, links) {
            return Err(StorageError::Refused(format!(
                "import does not continue the log: {reason}"
            )));
        }
        let Some(last) = events.last() else {
            return Ok(self.head);
        };
        self.log.append_stored(events, last.seq_num).await?;
        self.head = last.seq_num;
        self.broadcast(events.iter().map(|e| e.view().encode_item()), out);
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

    /// Packs encoded events into `PullResponse`s for every live pull.
    fn broadcast(&self, items: impl IntoIterator<Item = String>, out: &mut dyn FnMut(Output)) {
        Chunker::pack(&self.backend_id, &self.limits, items, &mut |response| {
            out(Output::Broadcast(response));
        });
    }
}
