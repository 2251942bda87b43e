//! `SyncBackendDO`: one instance per storeId. Accepts hibernatable WebSockets and HTTP RPC posts,
//! hands every message to the sync core, and moves the core's outputs onto sockets.

use std::cell::RefCell;
use std::collections::HashMap;

use wasm_bindgen::JsCast;
use worker::*;

use crate::auth::{parse_leeway, PushRights, EXPIRES_HEADER, RIGHTS_HEADER};
use crate::config::Config;
use crate::http::query::{parse_sync_params, TransportKind};
use crate::log::{Level, Line};
use crate::protocol::rpc::{self, ClientMessage, RequestId, Unreadable, PING_FRAME, PONG_FRAME};
use crate::storage::StorageError;
use crate::store_id::store_id_error;
use crate::sync::activity::{Activity, PushTally};
use crate::sync::attachment::Attachment;
use crate::sync::closing::{ClosingPolicy, Closure};
use crate::sync::service::{
    http_answer, Connection, HistoryStep, HttpHistory, Output, Store, Transport,
};

use super::callbacks::Callbacks;
use super::do_rpc::OpenPulls;
use super::env;
use super::json_response;
use super::logging::{write_data_point, Logger};
use super::storage::{self, AnyLog};
use super::worker_entry::SYNC_BACKEND_BINDING;
use crate::metrics::{self, DataPoint};
use futures_util::lock::Mutex;
use futures_util::{stream, StreamExt};

pub(super) fn read_attachment(ws: &WebSocket) -> Option<Attachment> {
    let text: String = ws.deserialize_attachment().ok().flatten()?;
    Attachment::from_json(&text)
}

fn write_attachment(ws: &WebSocket, attachment: &Attachment) -> Result<()> {
    ws.serialize_attachment(attachment.to_json())
}

/// The refusal of a store this object does not serve. It names no store: the other one may be
/// another tenant's.
fn other_store() -> StorageError {
    StorageError::Refused(
        "this Durable Object serves another store: address a store's object by idFromName(storeId)"
            .to_owned(),
    )
}

fn now_ms() -> i64 {
    js_sys::Date::now() as i64
}

pub(super) fn now_iso() -> String {
    crate::time::iso_utc(now_ms())
}

/// A short random name for this instance of the object, in its log lines: a new name after a
/// line means the object was evicted and started again in between.
fn instance_name() -> String {
    let mut bytes = [0u8; 4];
    match getrandom::fill(&mut bytes) {
        Ok(()) => bytes.iter().map(|b| format!("{b:02x}")).collect(),
        Err(_) => format!(
            "{:08x}",
            (js_sys::Math::random() * f64::from(u32::MAX)) as u32
        ),
    }
}

#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    /// `ctx`, seen through the one hibernation method workers-rs 0.8.7 does not bind.
    type HibernationState;

    /// When the runtime last answered a Ping of this socket with the auto-response, if ever.
    #[wasm_bindgen(method, js_name = getWebSocketAutoResponseTimestamp)]
    fn auto_response_timestamp(
        this: &HibernationState,
        ws: &web_sys::WebSocket,
    ) -> Option<js_sys::Date>;
}

/// What the object knows of its sockets without reading every attachment on every message:
/// built by one scan of the attachments, dropped whenever a socket's live pulls change.
pub(super) struct SocketIndex {
    /// Each socket with live pulls, their request ids, and when its token expires (Unix
    /// milliseconds, leeway included): no broadcast reaches a socket past that.
    live: Vec<(WebSocket, Vec<RequestId>, Option<i64>)>,
    /// Whether a socket may have a pull still sending its history, paced by Acks. `false` lets
    /// an Ack be dropped without reading its socket's attachment: with a thousand live pulls,
    /// every push brings a thousand Acks back.
    any_pending: bool,
}

#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    /// A socket, seen through a `send` that takes a JavaScript string: a broadcast converts its
    /// frame once for all sockets instead of once per socket.
    type StringSocket;

    #[wasm_bindgen(method, catch, js_name = send)]
    fn send_js_string(
        this: &StringSocket,
        data: &js_sys::JsString,
    ) -> std::result::Result<(), wasm_bindgen::JsValue>;
}

/// How many sockets an object rescans to move its alarm when a socket's first-request deadline
/// goes away; with more, the alarm rings at the old time and sets itself right then (one scan
/// instead of one per socket).
const ALARM_RESCAN_MAX_SOCKETS: usize = 64;

#[durable_object]
pub struct SyncBackendDO {
    pub(super) state: State,
    /// Read once per instance: vars and secrets only change with a redeploy, which restarts it.
    config: std::result::Result<Config, String>,
    /// When sockets are closed on the server's initiative (token expiry, no request).
    closing: ClosingPolicy,
    pub(super) logger: Logger,
    /// `METRICS_BINDING`'s Analytics Engine dataset, when configured.
    metrics: Option<AnalyticsEngineDataset>,
    /// This instance's name in log lines (see [`instance_name`]).
    instance: String,
    /// Accepted and refused pushes since the last `pushes` summary line.
    tally: RefCell<PushTally>,
    /// `FAULT_INJECTION`, for the end-to-end test of a failing transaction (see `sql_log`).
    fault: Option<String>,
    /// Loaded on the first message after construction (and so again after every eviction).
    /// One message at a time holds it: with D1 a message awaits storage, and the next one waits
    /// its turn instead of interleaving (over the object's SQLite nothing ever waits).
    pub(super) store: Mutex<Option<Store<AnyLog>>>,
    pub(super) env: Env,
    /// The live pulls of every socket, so a broadcast does not re-read every attachment.
    /// `None` until first needed after construction, and whenever a socket's live pulls change.
    pub(super) sockets: RefCell<Option<SocketIndex>>,
    /// The store this instance has opened (one object serves one store).
    opened_store: RefCell<Option<String>>,
    /// DO-RPC: the subscribed client objects and the updates due to them.
    pub(super) callbacks: Callbacks,
    /// DO-RPC: pulls whose caller is still reading their history.
    pub(super) open_pulls: RefCell<OpenPulls>,
}

impl SyncBackendDO {
    /// A log line of this object about `store`.
    pub(super) fn line(&self, level: Level, event: &str, store: &str) -> Line {
        Line::new(level, event)
            .str("store", store)
            .str("instance", &self.instance)
    }

    /// Runs `f` on the store, opening it first if this instance has not yet, then calls back
    /// the DO-RPC subscribers with what it broadcast. Messages of this object take turns here.
    pub(super) async fn with_store<R>(
        &self,
        store_id: &str,
        f: impl AsyncFnOnce(&mut Store<AnyLog>) -> R,
    ) -> std::result::Result<R, StorageError> {
        let mut slot = self.store.lock().await;
        let store = self.opened(&mut slot, store_id).await?;
        let result = f(store).await;
        self.deliver_updates(store_id).await;
        Ok(result)
    }

    /// The store in `slot` (this message's turn), opened first if this instance has not yet.
    pub(super) async fn opened<'a>(
        &self,
        slot: &'a mut Option<Store<AnyLog>>,
        store_id: &str,
    ) -> std::result::Result<&'a mut Store<AnyLog>, StorageError> {
        if let Some(opened) = self.opened_store.borrow().as_deref() {
            if opened != store_id {
                return Err(other_store());
            }
        }
        if slot.is_none() {
            let config = self
                .config
                .as_ref()
                .map_err(|e| StorageError::Refused(format!("Configuration error: {e}")))?;
            if let Some(reason) = store_id_error(store_id) {
                return Err(StorageError::Refused(reason));
            }
            // this object is idFromName(storeId) of our namespace, or it serves no store: a
            // binding holder cannot plant another store here (not even in a fresh object)
            if self.is_object_of(store_id) == Some(false) {
                return Err(other_store());
            }
            let (log, head, backend_id) = storage::open(
                &self.state,
                &self.env,
                &config.storage,
                store_id,
                self.fault.as_deref(),
            )
            .await?;
            let stored_bytes = match config.limits.max_store_bytes {
                Some(_) => Some(log.stored_bytes().await?),
                None => None,
            };
            self.logger.write(
                self.line(Level::Info, "store.load", store_id)
                    .int("head", head)
                    .str("storage", config.storage.name()),
            );
            *slot = Some(Store {
                log,
                head,
                backend_id,
                limits: config.limits.clone(),
                stored_bytes,
            });
            self.opened_store.replace(Some(store_id.to_owned()));
        }
        slot.as_mut()
            .ok_or_else(|| StorageError::Backend("store not loaded".to_owned()))
    }

    /// Whether this object is the one our Worker routes `store_id` to (`idFromName`), when the
    /// namespace binding is there to tell.
    pub(super) fn is_object_of(&self, store_id: &str) -> Option<bool> {
        let namespace = self.env.durable_object(SYNC_BACKEND_BINDING).ok()?;
        let expected = namespace.id_from_name(store_id).ok()?.to_string();
        Some(expected == self.state.id().to_string())
    }

    /// What the client of a failed store open or storage call is told, after logging the whole
    /// error: a refusal's reason, or an incident id whose detail only the log has.
    pub(super) fn failure_message(&self, store_id: &str, e: &StorageError) -> String {
        let incident = crate::log::incident_id();
        let level = match e {
            StorageError::Backend(_) => Level::Error,
            StorageError::Refused(_) => Level::Warn,
        };
        self.logger.write(
            self.line(level, "storage.error", store_id)
                .str("incident", &incident)
                .str("error", e.detail()),
        );
        e.public_message(&incident)
    }

    /// `durable-object-sqlite` or `d1`, as the admin info names the configured storage.
    pub(super) fn storage_name(&self) -> &'static str {
        self.config
            .as_ref()
            .map(|c| c.storage.name())
            .unwrap_or("durable-object-sqlite")
    }

    /// Logs what the core reports a request did, and records its data point.
    pub(super) fn record_activity(
        &self,
        store_id: &str,
        transport: Transport,
        activity: &Activity,
    ) {
        if self.logger.enabled(activity.level()) {
            let line = activity.log_line(store_id, transport);
            self.logger.write(line.str("instance", &self.instance));
        }
        if let Some(summary) = self.tally.borrow_mut().record(activity, now_ms(), store_id) {
            self.logger.write(summary.str("instance", &self.instance));
        }
        self.record(|| activity.data_point(store_id, transport));
    }

    /// Writes a data point to the metrics dataset, if one is configured.
    fn record(&self, point: impl FnOnce() -> DataPoint) {
        if let Some(dataset) = &self.metrics {
            write_data_point(dataset, &point());
        }
    }

    pub(super) fn log_storage_error(&self, store_id: &str, error: &str) {
        self.logger.write(
            self.line(Level::Error, "storage.error", store_id)
                .str("error", error),
        );
    }

    /// Closes a socket on the server's initiative; the client then fails its requests and
    /// reconnects.
    fn close(&self, ws: &WebSocket, attachment: &Attachment, why: Closure) {
        // no deadline applies to it any more, while the runtime still lists it
        let mut closing = attachment.clone();
        closing.closing = true;
        let _ = write_attachment(ws, &closing);
        let _ = ws.close(Some(why.code()), Some(why.reason()));
        self.logger.write(
            self.line(Level::Info, "socket.closed_by_server", &attachment.store_id)
                .int("code", why.code().into())
                .str("reason", why.reason()),
        );
    }

    /// Sends one `PullResponse` to every live pull of every socket of this store, and queues it
    /// for the DO-RPC subscribers.
    pub(super) fn broadcast(&self, pull_response: &str) {
        self.queue_update(pull_response);
        let mut cache = self.sockets.borrow_mut();
        let index = cache.get_or_insert_with(|| self.scan_sockets());
        // one frame per distinct request id (clients mostly use the same few), made and
        // converted to a JavaScript string once
        let mut frames: HashMap<&RequestId, js_sys::JsString> = HashMap::new();
        let now = now_ms();
        let mut expired = Vec::new();
        for (ws, ids, expires) in index.live.iter() {
            // a socket that only sends Acks is never checked on a message: check it here
            if expires.is_some_and(|at| at <= now) {
                expired.push(ws.clone());
                continue;
            }
            let socket: &web_sys::WebSocket = ws.as_ref();
            let socket: &StringSocket = socket.unchecked_ref();
            for id in ids {
                let frame = frames.entry(id).or_insert_with(|| {
                    js_sys::JsString::from(rpc::chunk_frame(id, pull_response).as_str())
                });
                // A socket that is closing fails to send; the others must still get the data.
                let _ = socket.send_js_string(frame);
            }
        }
        if !expired.is_empty() {
            *cache = None;
            drop(cache);
            for ws in expired {
                if let Some(attachment) = read_attachment(&ws) {
                    self.close(&ws, &attachment, Closure::TokenExpired);
                }
            }
        }
    }

    fn scan_sockets(&self) -> SocketIndex {
        let mut index = SocketIndex {
            live: Vec::new(),
            any_pending: false,
        };
        for ws in self.state.get_websockets() {
            let Some(attachment) = read_attachment(&ws) else {
                continue;
            };
            let conn = attachment.connection.clone();
            index.any_pending |= !conn.pending_pulls.is_empty();
            if !conn.live_pulls.is_empty() && !attachment.closing {
                let expires = attachment.token_deadline(&self.closing);
                index.live.push((ws, conn.live_pulls, expires));
            }
        }
        index
    }

    /// Whether no socket has a pull paced by Acks (known from the last scan).
    fn no_pending_pulls(&self) -> bool {
        matches!(&*self.sockets.borrow(), Some(index) if !index.any_pending)
    }

    /// Why `transport` is refused here (`TRANSPORTS`), if it is.
    pub(super) fn transport_refusal(&self, transport: &str) -> Option<String> {
        match &self.config {
            Ok(config) => config.transports.refusal(transport),
            Err(e) => Some(format!("Configuration error: {e}")),
        }
    }

    /// With `RATE_LIMIT_BINDING` set, the answer to a WebSocket push over the limit of its
    /// socket's subject (or IP), before the store is involved.
    async fn push_rate_limited(&self, ws: &WebSocket, text: &str) -> Option<String> {
        let config = self.config.as_ref().ok()?;
        config.rate_limit_binding.as_ref()?;
        let Ok(ClientMessage::Request(request)) = ClientMessage::decode(text) else {
            return None;
        };
        if request.tag != "SyncWsRpc.Push" {
            return None;
        }
        let key = read_attachment(ws)?.rate_key?;
        let reason = super::worker_entry::rate_limited(&self.env, config, "push", &key).await?;
        let error = crate::protocol::messages::SyncError::unknown("RateLimitError", reason);
        Some(rpc::exit_failure(&request.id, &error.encode()))
    }

    fn max_sockets_per_store(&self) -> usize {
        self.config
            .as_ref()
            .map(|c| c.max_sockets_per_store)
            .unwrap_or(crate::config::DEFAULT_MAX_SOCKETS_PER_STORE)
    }

    pub(super) fn max_message_bytes(&self) -> usize {
        self.config
            .as_ref()
            .map(|c| c.max_message_bytes)
            .unwrap_or(crate::config::DEFAULT_MAX_MESSAGE_BYTES)
    }

    /// Whether the client has pinged on this socket (the runtime answered with the
    /// auto-response): an orphaned published client pings every 10 s.
    fn has_spoken(&self, ws: &WebSocket) -> bool {
        let state: &HibernationState = self.state.as_raw().unchecked_ref();
        let web_socket: &web_sys::WebSocket = ws.as_ref();
        state.auto_response_timestamp(web_socket).is_some()
    }

    /// Closes the socket if its token has run out; `true` if it did.
    fn close_if_expired(&self, ws: &WebSocket, attachment: &Attachment) -> bool {
        if attachment.due(&self.closing, now_ms()) != Some(Closure::TokenExpired) {
            return false;
        }
        self.close(ws, attachment, Closure::TokenExpired);
        true
    }

    /// Sets the alarm to the earliest deadline of the open sockets (token expiry, first request),
    /// or deletes it when there is none: an alarm wakes the object, so one that is not needed
    /// would keep it from hibernating.
    async fn schedule_alarm(&self) -> Result<()> {
        let now = now_ms();
        let sockets = self.state.get_websockets();
        let next = sockets
            .iter()
            .filter_map(read_attachment)
            // (sockets the server closed have no deadline: see `close`)
            .filter_map(|a| a.deadline(&self.closing).map(|(at, _)| at));
        let next = crate::sync::closing::next_alarm(next, now);
        let storage = self.state.storage();
        let current = storage.get_alarm().await?;
        match next {
            None if current.is_some() => storage.delete_alarm().await?,
            Some(at_ms) if current != Some(at_ms) => {
                let at = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(at_ms as f64));
                storage.set_alarm(ScheduledTime::new(at)).await?;
            }
            _ => {}
        }
        Ok(())
    }

    /// Makes the alarm ring no later than `at_ms` (a new socket's deadline), without looking at
    /// the other sockets: an alarm that rings early finds nothing due and sets itself right.
    async fn alarm_no_later_than(&self, at_ms: i64) -> Result<()> {
        let storage = self.state.storage();
        match storage.get_alarm().await? {
            Some(current) if current <= at_ms => {}
            _ => {
                let at = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(at_ms as f64));
                storage.set_alarm(ScheduledTime::new(at)).await?;
            }
        }
        Ok(())
    }

    async fn accept_websocket(
        &self,
        store_id: String,
        auth_expires: Option<i64>,
        rate_key: Option<String>,
        rights: PushRights,
    ) -> Result<Response> {
        let pair = WebSocketPair::new()?;
        self.state.accept_web_socket(&pair.server);
        self.logger.write(
            self.line(Level::Info, "socket.open", &store_id)
                .str("transport", "ws"),
        );
        self.record(|| metrics::connection(&store_id, None));
        let mut attachment = Attachment::new(store_id, auth_expires, now_ms());
        attachment.rate_key = rate_key.map(|k| crate::auth::short_subject(&k).to_owned());
        attachment.connection.rights = rights;
        write_attachment(&pair.server, &attachment)?;
        if let Some((at, _)) = attachment.deadline(&self.closing) {
            self.alarm_no_later_than(at).await?;
        }
        Response::from_websocket(pair.client)
    }

    async fn serve_http(&self, store_id: &str, mut req: Request) -> Result<Response> {
        // the token's rights, per request (an HTTP client has no connection to keep them with)
        let rights = PushRights::from_header(req.headers().get(RIGHTS_HEADER)?.as_deref());
        let body = match super::body::read_text(&mut req, self.max_message_bytes()).await {
            Ok(body) => body,
            Err(e) => {
                let status = match e {
                    Unreadable::TooLarge(_) => 413,
                    Unreadable::NotUtf8(_) => 400,
                };
                return json_response(status, &format!("[{}]", rpc::defect_frame(e.reason())));
            }
        };
        let mut replies = Vec::new();
        let outcome = self
            .with_store(store_id, async |store| {
                let mut conn = Connection {
                    rights: rights.clone(),
                    ..Connection::default()
                };
                store
                    .handle_message(
                        Transport::Http,
                        &mut conn,
                        &body,
                        &now_iso,
                        &mut |o| match o {
                            Output::Reply(frame) => replies.push(frame),
                            Output::Broadcast(response) => self.broadcast(&response),
                            Output::Activity(a) => {
                                self.record_activity(store_id, Transport::Http, &a)
                            }
                            // only DO-RPC pulls subscribe
                            Output::Subscribe(_) => {}
                        },
                    )
                    .await;
                HttpHistory::take(store, &mut conn).map(|h| (h, store.log.pages()))
            })
            .await;
        let rest = match outcome {
            Ok(rest) => rest,
            Err(e) => return Response::error(self.failure_message(store_id, &e), 500),
        };
        let Some((history, pages)) = rest else {
            let (status, body) = http_answer(&replies);
            return json_response(status, &body);
        };
        // A pull longer than one window: the rest of its history is read page by page as the
        // body is sent, after this handler returned (the log below the pull's head never changes
        // but by a reset, which only makes it end early).
        let first = format!("[{}", replies.join(","));
        let store = store_id.to_owned();
        let logger = self.logger;
        let pages = std::rc::Rc::new(pages);
        let rest = stream::unfold(Some(history), move |state| {
            let pages = pages.clone();
            let store = store.clone();
            async move {
                let mut history = state?;
                let piece = match history.next_step() {
                    HistoryStep::Read {
                        after,
                        until,
                        limit,
                    } => match pages.read(after, until, limit).await {
                        Ok(rows) => format!(",{}", history.feed(&rows)),
                        Err(e) => {
                            // the body has started: end it short; the client pulls again
                            logger.write(
                                Line::new(Level::Error, "storage.error")
                                    .str("store", &store)
                                    .str("error", e.detail()),
                            );
                            return None;
                        }
                    },
                    HistoryStep::Frame(frame) => format!(",{frame}"),
                    HistoryStep::Done => return Some((Ok::<Vec<u8>, Error>(b"]".to_vec()), None)),
                };
                Some((Ok(piece.into_bytes()), Some(history)))
            }
        });
        let body =
            stream::once(async move { Ok::<Vec<u8>, Error>(first.into_bytes()) }).chain(rest);
        let headers = Headers::new();
        headers.set("Content-Type", "application/json")?;
        Ok(Response::from_stream(body)?.with_headers(headers))
    }
}

impl DurableObject for SyncBackendDO {
    fn new(state: State, env: Env) -> Self {
        console_error_panic_hook::set_once();
        let config = env::config(&env).map_err(|e| e.0);
        let closing = ClosingPolicy {
            leeway_seconds: parse_leeway(env::lookup(&env, "JWT_LEEWAY_SECONDS")).unwrap_or(0),
            first_request_timeout_ms: config
                .as_ref()
                .map(|c| c.first_request_timeout_ms)
                .unwrap_or(None),
        };
        let logger = Logger {
            level: config.as_ref().map(|c| c.log_level).unwrap_or(Level::Info),
        };
        let metrics = config
            .as_ref()
            .ok()
            .and_then(|c| c.metrics_binding.as_deref())
            .and_then(|name| env.analytics_engine(name).ok());
        // Exact pings are answered by the runtime without waking the object (§3.6).
        if let Ok(pair) = worker_sys::WebSocketRequestResponsePair::new(PING_FRAME, PONG_FRAME) {
            state.set_websocket_auto_response(&pair);
        }
        SyncBackendDO {
            state,
            config,
            closing,
            logger,
            metrics,
            instance: instance_name(),
            tally: RefCell::new(PushTally::default()),
            fault: env::lookup(&env, storage::sql_log::FAULT_VARIABLE),
            store: Mutex::new(None),
            env,
            sockets: RefCell::new(None),
            opened_store: RefCell::new(None),
            callbacks: Callbacks::default(),
            open_pulls: RefCell::new(OpenPulls::default()),
        }
    }

    async fn fetch(&self, req: Request) -> Result<Response> {
        let url = req.url()?;
        // Admin requests carry the admin secret to the object, which checks it itself: every
        // Worker that binds this class can reach this handler, not only ours.
        if crate::admin::route::is_admin_path(url.path()) {
            return self.serve_admin(req).await;
        }
        if url.path() == super::subject_registry::REGISTRY_PATH {
            return self.serve_registry(&url);
        }
        let Some(params) = parse_sync_params(url.query().unwrap_or("")) else {
            return Response::error("Invalid sync request", 400);
        };
        if let Some(reason) = store_id_error(&params.store_id) {
            return Response::error(reason, 400);
        }
        // the Worker refuses these already; the object also serves whoever binds it directly
        if let Some(reason) = self.transport_refusal(params.transport.as_str()) {
            return Response::error(reason, 403);
        }
        match params.transport {
            TransportKind::Ws => {
                let open = self.state.get_websockets().len();
                let max = self.max_sockets_per_store();
                if open >= max {
                    return Response::error(
                        format!(
                            "This store has {open} open WebSockets, the most allowed (MAX_SOCKETS_PER_STORE={max}); try again later"
                        ),
                        429,
                    );
                }
                // Open the store now so a storage problem shows at connect time, not mid-sync.
                if let Err(e) = self.with_store(&params.store_id, async |_| ()).await {
                    return Response::error(self.failure_message(&params.store_id, &e), 500);
                }
                let auth_expires = req
                    .headers()
                    .get(EXPIRES_HEADER)?
                    .and_then(|v| v.parse::<i64>().ok());
                let rate_key = req.headers().get(crate::auth::RATE_KEY_HEADER)?;
                let rights = PushRights::from_header(req.headers().get(RIGHTS_HEADER)?.as_deref());
                self.accept_websocket(params.store_id, auth_expires, rate_key, rights)
                    .await
            }
            TransportKind::Http => self.serve_http(&params.store_id, req).await,
        }
    }

    async fn websocket_message(
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
        if let Some(refusal) = self.push_rate_limited(&ws, &text).await {
            let _ = ws.send_with_str(refusal);
            return Ok(());
        }
        // This message's turn: the socket's state (its attachment) is read and written inside
        // it, so that with D1, where handling waits for storage, two messages of one socket never
        // work from the same state.
        let mut slot = self.store.lock().await;
        let message = ClientMessage::decode(&text);
        // The Acks of broadcasts need nothing: when no socket has a pull paced by Acks, drop
        // them before reading the attachment (an Ack stores nothing, so a token that ran out
        // meanwhile changes nothing; the alarm closes such a socket on time).
        if matches!(message, Ok(ClientMessage::Ack(_))) && self.no_pending_pulls() {
            return Ok(());
        }
        let Some(mut attachment) = read_attachment(&ws) else {
            let _ = ws.send_with_str(rpc::defect_frame("Connection state lost; please reconnect"));
            let _ = ws.close(Some(1011), Some("connection state lost"));
            return Ok(());
        };
        // The server closed this socket (token expiry, no request): what still arrives on it
        // while the close completes is dropped, never handled.
        if attachment.closing {
            return Ok(());
        }
        // The original checks the token only at connect; we stop a socket whose token ran out.
        if self.close_if_expired(&ws, &attachment) {
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
            Ok(store) => Ok(store
                .handle_decoded(
                    Transport::WebSocket,
                    &mut conn,
                    message,
                    &now_iso,
                    &mut |o| {
                        match o {
                            Output::Reply(frame) => {
                                let _ = ws.send_with_str(frame);
                            }
                            Output::Broadcast(response) => self.broadcast(&response),
                            Output::Activity(a) => {
                                self.record_activity(&store_id, Transport::WebSocket, &a)
                            }
                            // only DO-RPC pulls subscribe
                            Output::Subscribe(_) => {}
                        }
                    },
                )
                .await),
            Err(e) => Err(e),
        };
        self.deliver_updates(&store_id).await;
        match outcome {
            Ok(true) => {
                if conn.live_pulls != live_before {
                    self.sockets.replace(None);
                } else if !conn.pending_pulls.is_empty() {
                    if let Some(index) = self.sockets.borrow_mut().as_mut() {
                        index.any_pending = true;
                    }
                }
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

    async fn websocket_close(
        &self,
        ws: WebSocket,
        code: usize,
        _reason: String,
        _was_clean: bool,
    ) -> Result<()> {
        // Complete the closing handshake; the socket's live pulls die with its attachment.
        self.sockets.replace(None);
        if let Some(a) = read_attachment(&ws) {
            let line = self
                .line(Level::Info, "socket.close", &a.store_id)
                .int("code", code as i64);
            let seconds = a
                .opened_at
                .map(|opened| (now_ms() - opened) as f64 / 1000.0);
            let line = match seconds {
                Some(s) => line.num("seconds", s),
                None => line,
            };
            self.logger.write(line);
            self.record(|| metrics::connection(&a.store_id, Some(seconds.unwrap_or(0.0))));
            if let Some(summary) = self.tally.borrow_mut().flush(now_ms(), &a.store_id) {
                self.logger.write(summary.str("instance", &self.instance));
            }
        }
        let code = if (1000..5000).contains(&code) && code != 1005 && code != 1006 {
            code as u16
        } else {
            1000
        };
        let _ = ws.close(Some(code), Some("closed"));
        Ok(())
    }

    async fn alarm(&self) -> Result<Response> {
        // a turn like a message's: attachments are read and written
        let _turn = self.store.lock().await;
        let now = now_ms();
        for ws in self.state.get_websockets() {
            let Some(mut a) = read_attachment(&ws) else {
                continue;
            };
            match a.due(&self.closing, now) {
                // its client has sent nothing at all yet: a close would not reach it (see
                // sync::closing); an orphaned client pings within 10 s, look again then
                Some(Closure::NoRequest) if !self.has_spoken(&ws) => {
                    a.postpone_no_request(now);
                    write_attachment(&ws, &a)?;
                }
                Some(why) => self.close(&ws, &a, why),
                None => {}
            }
        }
        self.schedule_alarm().await?;
        Response::ok("")
    }

    async fn websocket_error(&self, _ws: WebSocket, _error: Error) -> Result<()> {
        Ok(())
    }
}
