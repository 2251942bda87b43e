//! The admin actions inside a store's Durable Object: info, streamed export, page import, reset.
//! The Worker has checked the admin secret and the route; the decisions (formats, validation,
//! what a reset does to the log) are the core's (`crate::admin`, `Store::import`, `Store::reset`).

use futures_util::stream;
use worker::*;

use crate::admin::info::{DoRpcUse, StoreInfo, TransportUse, Transports};
use crate::admin::ndjson::{export_line, parse_import};
use crate::admin::route::{self, Action};
use crate::admin::AdminError;
use crate::log::Level;
use crate::log::Line;
use crate::protocol::rpc;
use crate::storage::{EventLog, StorageError};
use crate::sync::backend_id;
use crate::sync::closing::Closure;
use crate::sync::Output;

use super::durable_object::SyncBackendDO;
use super::json_response;
use super::sockets::read_attachment;

/// Events per page of an export: one SQLite query and one chunk of the response each.
const EXPORT_PAGE_EVENTS: usize = 1_000;

fn error(e: &AdminError) -> Result<Response> {
    json_response(e.status, &e.body())
}

impl SyncBackendDO {
    /// Serves an admin request. The admin secret is checked here, not only in our Worker:
    /// any Worker that binds this class reaches this handler.
    pub(super) async fn serve_admin(&self, mut req: Request) -> Result<Response> {
        let url = req.url()?;
        let method = req.method().to_string();
        let config = match &self.config {
            Ok(config) => config,
            Err(e) => return error(&AdminError::new(500, format!("Configuration error: {e}"))),
        };
        let authorization = req.headers().get("Authorization")?;
        if let Err((e, refusal)) = config.admin.check(authorization.as_deref()) {
            if let Some(why) = refusal {
                self.log.write(
                    Line::new(Level::Warn, "admin.refused")
                        .str("method", &method)
                        .str("path", url.path())
                        .int("status", e.status.into())
                        .str("reason", why.as_str())
                        .str("where", "object"),
                );
            }
            return error(&e);
        }
        let request = match route::parse(&method, url.path(), url.query().unwrap_or("")) {
            Ok(r) => r,
            Err(e) => return error(&e),
        };
        let store_id = request.store_id.as_str();
        let response = match request.action {
            Action::Info => self.admin_info(store_id).await,
            Action::Export { since, limit } => {
                return self.admin_export(store_id, since, limit).await
            }
            Action::Import => {
                match super::body::read_text(&mut req, self.max_message_bytes()).await {
                    Ok(body) => self.admin_import(store_id, &body).await,
                    Err(e @ rpc::Unreadable::TooLarge(_)) => Err(AdminError::new(413, e.reason())),
                    Err(e) => Err(AdminError::new(400, e.reason())),
                }
            }
            Action::Reset => {
                let body = req.text().await.unwrap_or_default();
                self.admin_reset(store_id, &body).await
            }
        };
        let (status, body) = match response {
            Ok(body) => (200, body),
            Err(e) => (e.status, e.body()),
        };
        self.log.write(
            self.log
                .line(
                    if status < 400 {
                        Level::Info
                    } else {
                        Level::Warn
                    },
                    "admin",
                    store_id,
                )
                .str("action", request.action.name())
                .int("status", status.into()),
        );
        json_response(status, &body)
    }

    fn storage_failure(&self, store_id: &str, e: &StorageError) -> AdminError {
        AdminError::new(500, self.failure_message(store_id, e))
    }

    async fn admin_info(&self, store_id: &str) -> std::result::Result<String, AdminError> {
        let attachments: Vec<_> = self
            .state
            .get_websockets()
            .iter()
            .filter_map(read_attachment)
            .collect();
        let storage = self.storage_name();
        let do_rpc = DoRpcUse {
            subscribers: self.callbacks.count() as u64,
            open_pulls: self.open_pulls.borrow().len() as u64,
        };
        let info = self
            .with_store(store_id, async |store| {
                let summary = store.log.summary().await?;
                let bytes = store.log.stored_bytes().await?;
                Ok::<_, StorageError>(StoreInfo {
                    store_id: store_id.to_owned(),
                    storage,
                    backend_id: store.backend_id.clone(),
                    head: store.head,
                    events: summary.events,
                    bytes,
                    quota_bytes: store.limits.max_store_bytes,
                    first_event_at: summary.first_created_at,
                    last_event_at: summary.last_created_at,
                    transports: Transports {
                        ws: TransportUse::of_sockets(&attachments),
                        http: TransportUse::default(),
                        do_rpc,
                    },
                })
            })
            .await
            .and_then(|r| r)
            .map_err(|e| self.storage_failure(store_id, &e))?;
        Ok(info.to_json())
    }

    /// Streams the events after `since` (up to the head at the start, and at most `limit`) as
    /// NDJSON, one page per chunk: memory stays one page whatever the size of the log.
    async fn admin_export(
        &self,
        store_id: &str,
        since: i64,
        limit: Option<u64>,
    ) -> Result<Response> {
        let opened = self
            .with_store(store_id, async |store| (store.log.pages(), store.head))
            .await;
        let (pages, head) = match opened {
            Ok(x) => x,
            Err(e) => return error(&self.storage_failure(store_id, &e)),
        };
        let until = match limit {
            Some(n) => head.min(since.saturating_add(n.min(i64::MAX as u64) as i64)),
            None => head,
        };
        let pages = std::rc::Rc::new(pages);
        let body = stream::unfold(Some(since), move |after| {
            let pages = pages.clone();
            async move {
                let after = after.filter(|a| *a < until)?;
                match pages.read(after, until, EXPORT_PAGE_EVENTS).await {
                    Ok(page) if page.is_empty() => None,
                    Ok(page) => {
                        let mut text = String::with_capacity(page.len() * 256);
                        page.iter().for_each(|e| export_line(e, &mut text));
                        let last = page.last().map(|e| e.seq_num);
                        Some((Ok::<Vec<u8>, Error>(text.into_bytes()), last))
                    }
                    // the response has started: end it; the client sees a short export and
                    // resumes with `since`
                    Err(e) => Some((Err(Error::RustError(e.to_string())), None)),
                }
            }
        });
        let headers = Headers::new();
        headers.set("Content-Type", "application/x-ndjson")?;
        headers.set("X-Store-Head", &head.to_string())?;
        headers.set("X-Export-Until", &until.to_string())?;
        self.log.write(
            self.log
                .line(Level::Info, "admin", store_id)
                .str("action", "export")
                .int("since", since)
                .int("until", until),
        );
        Ok(Response::from_stream(body)?.with_headers(headers))
    }

    async fn admin_import(
        &self,
        store_id: &str,
        body: &str,
    ) -> std::result::Result<String, AdminError> {
        let outcome = self
            .with_store(store_id, async |store| {
                let events = parse_import(body, store.head, &store.limits)?;
                let imported = events.len();
                let before = store.head;
                let head = store
                    .import(&events, &mut |o| {
                        if let Output::Broadcast(r) = o {
                            self.broadcast_noticed(store_id, r);
                        }
                    })
                    .await
                    .map_err(|e| {
                        // nothing of this page was written; the store is as it was
                        let message = self.failure_message(store_id, &e);
                        let status = match e {
                            StorageError::Refused(_) => 400,
                            StorageError::Backend(_) => 500,
                        };
                        AdminError::new(status, format!("{message}; head still {before}"))
                    })?;
                Ok(serde_json::json!({ "imported": imported, "head": head }).to_string())
            })
            .await;
        outcome.map_err(|e| self.storage_failure(store_id, &e))?
    }

    async fn admin_reset(
        &self,
        store_id: &str,
        body: &str,
    ) -> std::result::Result<String, AdminError> {
        let confirm = serde_json::from_str::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v.get("confirm").and_then(|c| c.as_str()).map(str::to_owned));
        if confirm.as_deref() != Some(store_id) {
            return Err(AdminError::new(
                400,
                format!(
                    "A reset deletes every event: confirm it with the body {{\"confirm\":{}}}",
                    serde_json::Value::from(store_id)
                ),
            ));
        }
        let new_id = backend_id::generate()
            .map_err(|e| AdminError::new(500, format!("No random source for a backendId: {e}")))?;
        let reset = self
            .with_store(store_id, async |store| store.reset(new_id.clone()).await)
            .await
            .map_err(|e| self.storage_failure(store_id, &e))?;
        reset.map_err(|e| self.storage_failure(store_id, &e))?;
        // Every socket's pulls belong to the old incarnation: close them; the clients reconnect,
        // and their next pull or push gets BackendIdMismatchError.
        let sockets = self.state.get_websockets();
        for ws in &sockets {
            let why = Closure::StoreReset;
            let _ = ws.close(Some(why.code()), Some(why.reason()));
        }
        self.sockets.borrow_mut().invalidate();
        // DO-RPC subscribers too: their stores learn of the reset on their next push
        self.callbacks.clear(store_id);
        Ok(
            serde_json::json!({ "backendId": new_id, "head": 0, "closedSockets": sockets.len() })
                .to_string(),
        )
    }
}
