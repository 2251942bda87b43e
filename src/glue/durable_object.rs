//! `SyncBackendDO`: one instance per storeId. Its state, how it opens its store, and the entry
//! points the runtime calls; each hands its work to one file:
//!
//! - [`super::sockets`] — WebSocket messages, broadcasts, closes;
//! - [`super::alarms`] — the deadlines of open sockets;
//! - [`super::http_rpc`] — the HTTP transport;
//! - [`super::do_rpc`] — the DO-RPC transport;
//! - [`super::store_admin`] — the admin API;
//! - [`super::callbacks`] — DO-RPC live updates.
//!
//! Those files add methods to [`SyncBackendDO`] and import it; this file imports none of them.

use std::cell::RefCell;

use futures_util::lock::Mutex;
use worker::*;

use crate::auth::{PushRights, EXPIRES_HEADER, RATE_KEY_HEADER, RIGHTS_HEADER};
use crate::config::{Config, ConfigError};
use crate::http::query::parse_sync_params;
use crate::log::Level;
use crate::metrics::DataPoint;
use crate::protocol::rpc::{PING_FRAME, PONG_FRAME};
use crate::storage::StorageError;
use crate::store_id::store_id_error;
use crate::sync::activity::{Activity, PushTally};
use crate::sync::closing::ClosingPolicy;
use crate::sync::fanout::Fanout;
use crate::sync::open_pulls::OpenPulls;
use crate::sync::{Output, Store};
use crate::transport::Transport;

use super::api::ObjectApi;
use super::callbacks::Callbacks;
use super::env;
use super::logging::{write_data_point, Logger, ObjectLog};
use super::storage::{self, AnyLog};
use super::worker_entry::SYNC_BACKEND_BINDING;

/// The refusal of a store this object does not serve. It names no store: the other one may be
/// another tenant's.
fn other_store() -> StorageError {
    StorageError::Refused(
        "this Durable Object serves another store: address a store's object by idFromName(storeId)"
            .to_owned(),
    )
}

pub(super) fn now_ms() -> i64 {
    js_sys::Date::now() as i64
}

pub(super) fn now_iso() -> String {
    crate::time::iso_utc(now_ms())
}

#[durable_object]
pub struct SyncBackendDO {
    pub(super) state: State,
    pub(super) env: Env,
    /// Read once per instance: vars and secrets only change with a redeploy, which restarts it.
    pub(super) config: std::result::Result<Config, ConfigError>,
    /// When sockets are closed on the server's initiative (token expiry, no request).
    pub(super) closing: ClosingPolicy,
    /// Log lines of this instance (a new instance name after an eviction).
    pub(super) log: ObjectLog,
    /// `METRICS_BINDING`'s Analytics Engine dataset, when configured.
    metrics: Option<AnalyticsEngineDataset>,
    /// Accepted and refused pushes since the last `pushes` summary line.
    pub(super) tally: RefCell<PushTally>,
    /// Loaded on the first message after construction (and so again after every eviction).
    /// One message at a time holds it: with D1 a message awaits storage, and the next one waits
    /// its turn instead of interleaving (over the object's SQLite nothing ever waits).
    pub(super) store: Mutex<Option<Store<AnyLog>>>,
    /// Which sockets a broadcast reaches, without re-reading every attachment.
    pub(super) sockets: RefCell<Fanout<WebSocket>>,
    /// The store this instance has opened (one object serves one store).
    opened_store: RefCell<Option<String>>,
    /// DO-RPC: the subscribed client objects and the updates due to them.
    pub(super) callbacks: Callbacks,
    /// DO-RPC: pulls whose caller is still reading their history.
    pub(super) open_pulls: RefCell<OpenPulls>,
    /// The app's hooks, when the class was made by the sync-cf API's `makeDurableObject`.
    pub(super) api: Option<ObjectApi>,
}

impl SyncBackendDO {
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
        self.callbacks.deliver(store_id).await;
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
        if let Some(store) = slot {
            return Ok(store);
        }
        let config = self
            .config
            .as_ref()
            .map_err(|e| StorageError::Refused(format!("Configuration error: {e}")))?;
        if let Some(reason) = store_id_error(store_id) {
            return Err(StorageError::Refused(reason));
        }
        // this object is idFromName(storeId) of our namespace, or it serves no store: a binding
        // holder cannot plant another store here (not even in a fresh object)
        if self.is_object_of(store_id) == Some(false) {
            return Err(other_store());
        }
        let (log, head, backend_id) =
            storage::open(&self.state, &self.env, config, store_id).await?;
        let stored_bytes = match config.limits.max_store_bytes {
            Some(_) => Some(log.stored_bytes().await?),
            None => None,
        };
        self.log.write(
            self.log
                .line(Level::Info, "store.load", store_id)
                .int("head", head)
                .str("storage", config.storage.name()),
        );
        self.opened_store.replace(Some(store_id.to_owned()));
        Ok(slot.insert(Store {
            log,
            head,
            backend_id,
            limits: config.limits.clone(),
            stored_bytes,
        }))
    }

    /// Whether this object is the one our Worker routes `store_id` to (`idFromName`), when the
    /// namespace binding is there to tell. An app of the sync-cf API names its binding as it
    /// likes: then every Durable Object binding is asked (an id belongs to one namespace only).
    pub(super) fn is_object_of(&self, store_id: &str) -> Option<bool> {
        let own = self.state.id().to_string();
        if let Ok(namespace) = self.env.durable_object(SYNC_BACKEND_BINDING) {
            let expected = namespace.id_from_name(store_id).ok()?.to_string();
            return Some(expected == own);
        }
        self.api.as_ref()?;
        let names = super::api::durable_object_bindings(&self.env);
        if names.is_empty() {
            return None;
        }
        Some(names.iter().any(|name| {
            let Ok(ns) = self.env.durable_object(name) else {
                return false;
            };
            ns.id_from_name(store_id)
                .is_ok_and(|id| id.to_string() == own)
        }))
    }

    /// What the client of a failed store open or storage call is told, after logging the whole
    /// error: a refusal's reason, or an incident id whose detail only the log has.
    pub(super) fn failure_message(&self, store_id: &str, e: &StorageError) -> String {
        let incident = crate::log::incident_id();
        let level = match e {
            StorageError::Backend(_) => Level::Error,
            StorageError::Refused(_) => Level::Warn,
        };
        self.log.write(
            self.log
                .line(level, "storage.error", store_id)
                .str("incident", &incident)
                .str("error", e.detail()),
        );
        e.public_message(&incident)
    }

    /// Handles the outputs every transport treats alike (broadcasts, activity) and hands back
    /// the ones that are the transport's own (replies, DO-RPC subscriptions).
    pub(super) fn dispatch(
        &self,
        store_id: &str,
        transport: Transport,
        output: Output,
    ) -> Option<Output> {
        match output {
            Output::Broadcast(response) => self.broadcast_noticed(store_id, response),
            other => {
                if let Some(api) = &self.api {
                    api.notice(&other, &self.log, store_id);
                }
                match other {
                    Output::Activity(a) => self.record_activity(store_id, transport, &a),
                    own => return Some(own),
                }
            }
        }
        None
    }

    /// Sends a broadcast to every live pull and DO-RPC subscriber; the app's `onPullRes` sees it
    /// once if anyone received it (a chunk no client gets is not noticed).
    pub(super) fn broadcast_noticed(&self, store_id: &str, response: String) {
        if self.broadcast(&response) {
            if let Some(api) = &self.api {
                api.notice(&Output::Broadcast(response), &self.log, store_id);
            }
        }
    }

    /// Logs what the core reports a request did, and records its data point.
    fn record_activity(&self, store_id: &str, transport: Transport, activity: &Activity) {
        if self.log.enabled(activity.level()) {
            let line = activity.log_line(store_id, transport);
            self.log.write(line.str("instance", &self.log.instance));
        }
        if let Some(summary) = self.tally.borrow_mut().record(activity, now_ms(), store_id) {
            self.log.write(summary.str("instance", &self.log.instance));
        }
        self.record(|| activity.data_point(store_id, transport));
    }

    /// Writes a data point to the metrics dataset, if one is configured.
    pub(super) fn record(&self, point: impl FnOnce() -> DataPoint) {
        if let Some(dataset) = &self.metrics {
            write_data_point(dataset, &point());
        }
    }

    /// `durable-object-sqlite` or `d1`, as the admin info names the configured storage.
    pub(super) fn storage_name(&self) -> &'static str {
        self.config
            .as_ref()
            .map(|c| c.storage.name())
            .unwrap_or("durable-object-sqlite")
    }

    /// Why `transport` is refused here (`TRANSPORTS`), if it is.
    pub(super) fn transport_refusal(&self, transport: Transport) -> Option<String> {
        match &self.config {
            Ok(config) => config.transports.refusal(transport),
            Err(e) => Some(format!("Configuration error: {e}")),
        }
    }

    pub(super) fn max_message_bytes(&self) -> usize {
        self.config
            .as_ref()
            .map(|c| c.max_message_bytes)
            .unwrap_or(crate::config::DEFAULT_MAX_MESSAGE_BYTES)
    }

    fn max_sockets_per_store(&self) -> usize {
        self.config
            .as_ref()
            .map(|c| c.max_sockets_per_store)
            .unwrap_or(crate::config::DEFAULT_MAX_SOCKETS_PER_STORE)
    }

    /// A WebSocket upgrade the Worker let through: bounded per store, the store opened now so a
    /// storage problem shows at connect time, not mid-sync.
    async fn upgrade(&self, store_id: String, req: &Request) -> Result<Response> {
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
        if let Err(e) = self.with_store(&store_id, async |_| ()).await {
            return Response::error(self.failure_message(&store_id, &e), 500);
        }
        let headers = req.headers();
        let auth_expires = headers
            .get(EXPIRES_HEADER)?
            .and_then(|v| v.parse::<i64>().ok());
        let rate_key = headers.get(RATE_KEY_HEADER)?;
        let rights = PushRights::from_header(headers.get(RIGHTS_HEADER)?.as_deref());
        let forwarded = match self.api.as_ref().map(|api| api.forwarded(req)) {
            None | Some(Ok(None)) => None,
            Some(Ok(Some(h))) => {
                if let Some(reason) = crate::api::forwarded::too_large(&h) {
                    return Response::error(reason, 431);
                }
                Some(h)
            }
            Some(Err(reason)) => return Response::error(reason, 500),
        };
        self.accept_websocket(store_id, auth_expires, rate_key, rights, forwarded)
            .await
    }
}

impl DurableObject for SyncBackendDO {
    fn new(state: State, env: Env) -> Self {
        console_error_panic_hook::set_once();
        let config = env::config(&env);
        let closing = ClosingPolicy {
            leeway_seconds: config.as_ref().map(|c| c.jwt_leeway_seconds).unwrap_or(0),
            first_request_timeout_ms: config
                .as_ref()
                .map(|c| c.first_request_timeout_ms)
                .unwrap_or(None),
        };
        let log = ObjectLog {
            logger: Logger {
                level: config.as_ref().map(|c| c.log_level).unwrap_or(Level::Info),
            },
            instance: crate::log::random_hex(4),
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
        let callbacks = Callbacks::new(state.storage().sql(), env.clone(), log.clone());
        // options that cannot be used are the configuration's error (`config` above)
        let api = ObjectApi::of(&env).and_then(Result::ok);
        SyncBackendDO {
            state,
            env,
            config,
            closing,
            log,
            metrics,
            tally: RefCell::new(PushTally::default()),
            store: Mutex::new(None),
            sockets: RefCell::new(Fanout::default()),
            opened_store: RefCell::new(None),
            callbacks,
            open_pulls: RefCell::new(OpenPulls::default()),
            api,
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
        if let Some(reason) = self.transport_refusal(params.transport) {
            return Response::error(reason, 403);
        }
        match params.transport {
            Transport::WebSocket => self.upgrade(params.store_id, &req).await,
            Transport::Http => self.serve_http(&params.store_id, req).await,
            // DO-RPC has no URL: `parse_sync_params` never names it
            Transport::DoRpc => Response::error("Invalid sync request", 400),
        }
    }

    async fn websocket_message(
        &self,
        ws: WebSocket,
        message: WebSocketIncomingMessage,
    ) -> Result<()> {
        self.on_socket_message(ws, message).await
    }

    async fn websocket_close(
        &self,
        ws: WebSocket,
        code: usize,
        _reason: String,
        _was_clean: bool,
    ) -> Result<()> {
        self.on_socket_close(ws, code);
        Ok(())
    }

    async fn alarm(&self) -> Result<Response> {
        self.ring_alarm().await?;
        Response::ok("")
    }

    async fn websocket_error(&self, _ws: WebSocket, _error: Error) -> Result<()> {
        Ok(())
    }
}
