//! The object's hibernatable WebSockets: accepting them, their messages, broadcasts to their
//! live pulls, and closing them. Which socket gets what is decided by the core
//! ([`crate::sync::fanout`], [`crate::sync::closing`]); this file moves frames.

use wasm_bindgen::JsCast;
use worker::*;

use crate::api::forwarded::Forwarded;
use crate::api::hooks::{gate, refusal};
use crate::auth::PushRights;
use crate::log::Level;
use crate::metrics;
use crate::protocol::messages::SyncError;
use crate::protocol::rpc::{self, ClientMessage};
use crate::sync::attachment::Attachment;
use crate::sync::call::Call;
use crate::sync::closing::{echo_close_code, Closure};
use crate::sync::fanout::SocketIndex;
use crate::sync::Output;
use crate::transport::Transport;

use super::durable_object::{now_iso, now_ms, SyncBackendDO};
use super::ffi::{HibernationState, StringSocket};

/// How many sockets an object rescans to move its alarm when a socket's first-request deadline
/// goes away; with more, the alarm rings at the old time and sets itself right then (one scan
/// instead of one per socket).
const ALARM_RESCAN_MAX_SOCKETS: usize = 64;

pub(super) fn read_attachment(ws: &WebSocket) -> Option<Attachment> {
    let text: String = ws.deserialize_attachment().ok().flatten()?;
    Attachment::from_json(&text)
}

pub(super) fn write_attachment(ws: &WebSocket, attachment: &Attachment) -> Result<()> {
    ws.serialize_attachment(attachment.to_json())
}

impl SyncBackendDO {
    pub(super) async fn accept_websocket(
        &self,
        store_id: String,
        auth_expires: Option<i64>,
        rate_key: Option<String>,
        rights: PushRights,
        headers: Option<Forwarded>,
    ) -> Result<Response> {
        let pair = WebSocketPair::new()?;
        self.state.accept_web_socket(&pair.server);
        self.log.write(
            self.log
                .line(Level::Info, "socket.open", &store_id)
                .str("transport", "ws"),
        );
        self.record(|| metrics::connection(&store_id, None));
        let mut attachment = Attachment::new(store_id, auth_expires, now_ms());
        attachment.rate_key = rate_key.map(|k| crate::auth::short_subject(&k).to_owned());
        attachment.connection.rights = rights;
        attachment.headers = headers;
        write_attachment(&pair.server, &attachment)?;
        if let Some((at, _)) = attachment.deadline(&self.closing) {
            self.alarm_no_later_than(at).await?;
        }
        Response::from_websocket(pair.client)
    }

    /// One frame from a socket.
    pub(super) async fn on_socket_message(
        &self,
        ws: WebSocket,
        message: WebSocketIncomingMessage,
    ) -> Result<()> {
        let bytes = match message {
            WebSocketIncomingMessage::String(text) => text.into_bytes(),
            WebSocketIncomingMessage::Binary(bytes) => bytes,
        };
        let text = match rpc::message_text(bytes, self.max_message_bytes()) {
            Ok(text) => text,
            Err(e) => {
                let _ = ws.send_with_str(rpc::defect_frame(e.reason()));
                return Ok(());
            }
        };
        let message = ClientMessage::decode(&text);
        if let Some(refusal) = self.push_rate_limited(&ws, &message).await {
            let _ = ws.send_with_str(refusal);
            return Ok(());
        }
        // The app's onPush/onPull, before this message takes its turn: a slow hook holds up
        // only its own request, and admission (head, backendId) happens after it resolved.
        let api = self
            .api
            .as_ref()
            .filter(|api| api.options.hooks.gates_requests());
        if let (Some(api), Ok(ClientMessage::Request(request))) = (api, &message) {
            // the socket's state is read only for a request that may pass a hook
            if let Some(attachment) = read_attachment(&ws) {
                let rights = &attachment.connection.rights;
                if let Some(gated) = gate(Transport::WebSocket, request, api.options.hooks, rights)
                {
                    let refused = api
                        .pass(&gated, &attachment.store_id, attachment.headers.as_ref())
                        .await;
                    if let Some(e) = refused {
                        let _ = ws.send_with_str(refusal(&gated.id, &e));
                        return Ok(());
                    }
                }
            }
        }
        // This message's turn: the socket's state (its attachment) is read and written inside
        // it, so that with D1, where handling waits for storage, two messages of one socket never
        // work from the same state.
        let mut slot = self.store.lock().await;
        if self.sockets.borrow().drops(&message) {
            return Ok(());
        }
        let Some(mut attachment) = read_attachment(&ws) else {
            let _ = ws.send_with_str(rpc::defect_frame("Connection state lost; please reconnect"));
            let why = Closure::StateLost;
            let _ = ws.close(Some(why.code()), Some(why.reason()));
            return Ok(());
        };
        // The server closed this socket (token expiry, no request): what still arrives on it
        // while the close completes is dropped, never handled.
        if attachment.closing {
            return Ok(());
        }
        // The original checks the token only at connect; we stop a socket whose token ran out.
        if attachment.due(&self.closing, now_ms()) == Some(Closure::TokenExpired) {
            self.close(&ws, &attachment, Closure::TokenExpired);
            return Ok(());
        }
        // The client acks every chunk, broadcasts included: skip loading the store (a reload
        // after an eviction) for messages that cannot need it.
        if !attachment.connection.needs_store_for(&message) {
            return Ok(());
        }
        let mut conn = std::mem::take(&mut attachment.connection);
        let live_before = conn.live_pulls.clone();
        let requested_before = conn.requested;
        let store_id = attachment.store_id.clone();
        let outcome = match self.opened(&mut slot, &store_id).await {
            Ok(store) => {
                let mut out = |o| {
                    if let Some(Output::Reply(frame)) =
                        self.dispatch(&store_id, Transport::WebSocket, o)
                    {
                        let _ = ws.send_with_str(frame);
                    }
                };
                let changed = store
                    .handle_decoded(Transport::WebSocket, &mut conn, message, &now_iso, &mut out)
                    .await;
                Ok(changed)
            }
            Err(e) => Err(e),
        };
        self.callbacks.deliver(&store_id).await;
        match outcome {
            Ok(true) => {
                self.sockets.borrow_mut().note_change(&live_before, &conn);
                let first_request = conn.requested && !requested_before;
                attachment.connection = conn;
                write_attachment(&ws, &attachment)?;
                drop(slot);
                // its first-request deadline is gone: the alarm may no longer be needed (with
                // many sockets it rings as set and corrects itself then)
                if first_request && self.state.get_websockets().len() <= ALARM_RESCAN_MAX_SOCKETS {
                    self.schedule_alarm().await?;
                }
            }
            Ok(false) => {}
            Err(e) => {
                let message = self.failure_message(&attachment.store_id, &e);
                let _ = ws.send_with_str(rpc::defect_frame(&message));
            }
        }
        Ok(())
    }

    /// With `RATE_LIMIT_BINDING` set, the answer to a WebSocket push over the limit of its
    /// socket's subject (or IP), before the store is involved.
    async fn push_rate_limited(
        &self,
        ws: &WebSocket,
        message: &std::result::Result<ClientMessage<'_>, rpc::FrameError>,
    ) -> Option<String> {
        let config = self.config.as_ref().ok()?;
        config.rate_limit_binding.as_ref()?;
        let Ok(ClientMessage::Request(request)) = message else {
            return None;
        };
        if !Call::is_push(Transport::WebSocket, &request.tag) {
            return None;
        }
        let key = read_attachment(ws)?.rate_key?;
        let reason = super::worker_entry::rate_limited(&self.env, config, "push", &key).await?;
        let error = SyncError::unknown("RateLimitError", reason);
        Some(rpc::exit_failure(&request.id, &error.encode()))
    }

    /// The client closed: complete the closing handshake; the socket's live pulls die with its
    /// attachment.
    pub(super) fn on_socket_close(&self, ws: WebSocket, code: usize) {
        self.sockets.borrow_mut().invalidate();
        if let Some(a) = read_attachment(&ws) {
            let line = self
                .log
                .line(Level::Info, "socket.close", &a.store_id)
                .int("code", code as i64);
            let seconds = a
                .opened_at
                .map(|opened| (now_ms() - opened) as f64 / 1000.0);
            let line = match seconds {
                Some(s) => line.num("seconds", s),
                None => line,
            };
            self.log.write(line);
            self.record(|| metrics::connection(&a.store_id, Some(seconds.unwrap_or(0.0))));
            if let Some(summary) = self.tally.borrow_mut().flush(now_ms(), &a.store_id) {
                self.log.write(summary.str("instance", &self.log.instance));
            }
        }
        let _ = ws.close(Some(echo_close_code(code)), Some("closed"));
    }

    /// Sends one `PullResponse` to every live pull of every socket of this store, and queues it
    /// for the DO-RPC subscribers. Returns whether it reached anyone.
    pub(super) fn broadcast(&self, pull_response: &str) -> bool {
        let subscribed = self.callbacks.queue(pull_response);
        let mut sent = false;
        let mut fanout = self.sockets.borrow_mut();
        let index = fanout.index(|| self.scan_sockets());
        let expired: Vec<WebSocket> = index
            .broadcast(
                pull_response,
                now_ms(),
                |frame| js_sys::JsString::from(frame.as_str()),
                |ws, frame| {
                    let socket: &web_sys::WebSocket = ws.as_ref();
                    let socket: &StringSocket = socket.unchecked_ref();
                    // A socket that is closing fails to send; the others must still get the data.
                    sent |= socket.send_js_string(frame).is_ok();
                },
            )
            .into_iter()
            .cloned()
            .collect();
        if expired.is_empty() {
            return sent || subscribed;
        }
        fanout.invalidate();
        drop(fanout);
        for ws in expired {
            if let Some(attachment) = read_attachment(&ws) {
                self.close(&ws, &attachment, Closure::TokenExpired);
            }
        }
        sent || subscribed
    }

    fn scan_sockets(&self) -> SocketIndex<WebSocket> {
        let sockets = self.state.get_websockets().into_iter().filter_map(|ws| {
            let attachment = read_attachment(&ws)?;
            Some((ws, attachment))
        });
        SocketIndex::from_attachments(sockets, &self.closing)
    }

    /// Closes a socket on the server's initiative; the client then fails its requests and
    /// reconnects.
    pub(super) fn close(&self, ws: &WebSocket, attachment: &Attachment, why: Closure) {
        // no deadline applies to it any more, while the runtime still lists it
        let mut closing = attachment.clone();
        closing.closing = true;
        let _ = write_attachment(ws, &closing);
        let _ = ws.close(Some(why.code()), Some(why.reason()));
        self.log.write(
            self.log
                .line(Level::Info, "socket.closed_by_server", &attachment.store_id)
                .int("code", why.code().into())
                .str("reason", why.reason()),
        );
    }

    /// Whether the client has pinged on this socket (the runtime answered with the
    /// auto-response): an orphaned published client pings every 10 s.
    pub(super) fn has_spoken(&self, ws: &WebSocket) -> bool {
        let state: &HibernationState = self.state.as_raw().unchecked_ref();
        let web_socket: &web_sys::WebSocket = ws.as_ref();
        state.auto_response_timestamp(web_socket).is_some()
    }
}
