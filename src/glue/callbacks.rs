//! DO-RPC live updates: the subscribed client objects of this store, and the calls of their
//! `syncUpdateRpc` with every later `PullResponse` (docs/do-rpc.md §4.4, §5).
//!
//! Unlike the reference (one subscriber per store, in memory, called sequentially and forever),
//! every client object is a subscriber of its own, kept in the object's SQLite so it outlives an
//! eviction, and called in parallel with the others but in push order for itself; one whose
//! call fails or does not answer within [`CALLBACK_TIMEOUT_MS`] is dropped (its store
//! subscribes again with its next live pull, when it opens again).

use std::cell::RefCell;
use std::time::Duration;

use futures_util::future::{join_all, select, Either};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::{Delay, SqlStorageValue};

use crate::log::Level;
use crate::protocol::do_rpc;
use crate::protocol::rpc::RequestId;
use crate::storage::schema;
use crate::sync::service::RpcSubscription;

use super::durable_object::{now_iso, SyncBackendDO};
use super::storage::{int, rows, text};

/// How long a client object may take to take an update: the published client answers in about
/// 100 ms; a subscriber slower than this holds up the pushes of everyone.
const CALLBACK_TIMEOUT_MS: u64 = 10_000;

#[wasm_bindgen]
extern "C" {
    /// The client's Durable Object (`@livestore/adapter-cloudflare`), through its stub.
    type ClientObject;

    #[wasm_bindgen(method, catch, js_name = syncUpdateRpc)]
    fn sync_update_rpc(this: &ClientObject, payload: &JsValue) -> Result<js_sys::Promise, JsValue>;
}

/// The subscribers, and the updates of the current turn not yet delivered to them.
#[derive(Default)]
pub struct Callbacks {
    /// `None` until loaded from storage after construction.
    subscribers: RefCell<Option<Vec<RpcSubscription>>>,
    pending: RefCell<Vec<String>>,
}

impl SyncBackendDO {
    fn subscriber_rows(&self) -> Result<Vec<RpcSubscription>, String> {
        let sql = self.state.storage().sql();
        // the table is made by the first subscription: a store without DO-RPC clients gets none
        let exists = rows(
            &sql,
            schema::TABLE_EXISTS,
            vec![schema::RPC_SUBSCRIBERS.into()],
        )
        .map_err(|e| e.to_string())?
        .first()
        .and_then(|r| int(r.first()?))
        .unwrap_or(0)
            > 0;
        if !exists {
            return Ok(Vec::new());
        }
        let rows = rows(&sql, schema::SELECT_RPC_SUBSCRIBERS, vec![]).map_err(|e| e.to_string())?;
        Ok(rows
            .iter()
            .filter_map(|r| {
                Some(RpcSubscription {
                    caller: crate::protocol::messages::CallerContext {
                        durable_object_id: text(r.first()?)?,
                        binding_name: text(r.get(1)?)?,
                    },
                    request_id: RequestId::from_json_text(&text(r.get(2)?)?)?,
                })
            })
            .collect())
    }

    /// The subscribers, loaded once per instance.
    fn with_subscribers<R>(&self, f: impl FnOnce(&mut Vec<RpcSubscription>) -> R) -> R {
        let mut cache = self.callbacks.subscribers.borrow_mut();
        let subscribers = cache.get_or_insert_with(|| {
            self.subscriber_rows().unwrap_or_else(|e| {
                self.log_storage_error("", &e);
                Vec::new()
            })
        });
        f(subscribers)
    }

    /// How many client objects are subscribed (admin info).
    pub(super) fn rpc_subscriber_count(&self) -> usize {
        self.with_subscribers(|s| s.len())
    }

    /// Records a subscriber, replacing the earlier pull of the same object.
    pub(super) fn subscribe(&self, store_id: &str, subscription: RpcSubscription) {
        let caller = &subscription.caller;
        let sql = self.state.storage().sql();
        let stored = rows(&sql, schema::CREATE_RPC_SUBSCRIBERS, vec![]).and_then(|_| {
            rows(
                &sql,
                schema::UPSERT_RPC_SUBSCRIBER,
                vec![
                    caller.durable_object_id.as_str().into(),
                    caller.binding_name.as_str().into(),
                    subscription.request_id.as_json().into(),
                    SqlStorageValue::from(now_iso()),
                ],
            )
        });
        if let Err(e) = stored {
            self.log_storage_error(store_id, e.detail());
        }
        self.logger.write(
            self.line(Level::Info, "rpc.subscribe", store_id)
                .str("binding", &caller.binding_name)
                .str("object", &caller.durable_object_id),
        );
        let object_id = caller.durable_object_id.clone();
        self.with_subscribers(|subscribers| {
            subscribers.retain(|s| s.caller.durable_object_id != object_id);
            subscribers.push(subscription);
        });
    }

    /// Forgets every subscriber (an admin reset: they belong to the old incarnation).
    pub(super) fn clear_subscribers(&self, store_id: &str) {
        if self.rpc_subscriber_count() > 0 {
            let sql = self.state.storage().sql();
            if let Err(e) = rows(&sql, schema::DELETE_RPC_SUBSCRIBERS, vec![]) {
                self.log_storage_error(store_id, e.detail());
            }
        }
        self.callbacks.subscribers.replace(Some(Vec::new()));
    }

    /// Queues a broadcast `PullResponse` for the subscribers; [`Self::deliver_updates`] sends it
    /// before the turn ends.
    pub(super) fn queue_update(&self, pull_response: &str) {
        if self.with_subscribers(|s| !s.is_empty()) {
            self.callbacks
                .pending
                .borrow_mut()
                .push(pull_response.to_owned());
        }
    }

    /// Calls every subscriber with the queued updates, in order, inside the current turn (so the
    /// next push's updates cannot overtake them). Drops the subscribers that fail.
    pub(super) async fn deliver_updates(&self, store_id: &str) {
        let updates = std::mem::take(&mut *self.callbacks.pending.borrow_mut());
        for update in updates {
            let subscribers = self.with_subscribers(|s| s.clone());
            let calls = subscribers.iter().map(|s| self.call_back(s, &update));
            let results = join_all(calls).await;
            for (subscriber, result) in subscribers.iter().zip(results) {
                if let Err(e) = result {
                    self.drop_subscriber(store_id, subscriber, &e);
                }
            }
        }
    }

    async fn call_back(&self, s: &RpcSubscription, pull_response: &str) -> Result<(), String> {
        let namespace = self
            .env
            .durable_object(&s.caller.binding_name)
            .map_err(|e| format!("no Durable Object binding {}: {e}", s.caller.binding_name))?;
        let stub = namespace
            .id_from_string(&s.caller.durable_object_id)
            .and_then(|id| id.get_stub())
            .map_err(|e| format!("not an object of {}: {e}", s.caller.binding_name))?;
        let client: ClientObject = stub.into_rpc();
        let payload = js_sys::JSON::parse(&do_rpc::update(&s.request_id, pull_response))
            .map_err(|e| format!("{e:?}"))?;
        let promise = client.sync_update_rpc(&payload).map_err(|e| describe(&e))?;
        let call = JsFuture::from(promise);
        let timeout = Delay::from(Duration::from_millis(CALLBACK_TIMEOUT_MS));
        match select(call, timeout).await {
            Either::Left((Ok(_), _)) => Ok(()),
            Either::Left((Err(e), _)) => Err(describe(&e)),
            Either::Right(_) => Err(format!("no answer within {CALLBACK_TIMEOUT_MS} ms")),
        }
    }

    fn drop_subscriber(&self, store_id: &str, s: &RpcSubscription, error: &str) {
        let sql = self.state.storage().sql();
        let _ = rows(
            &sql,
            schema::DELETE_RPC_SUBSCRIBER,
            vec![s.caller.durable_object_id.as_str().into()],
        );
        self.with_subscribers(|subscribers| {
            subscribers.retain(|x| x.caller.durable_object_id != s.caller.durable_object_id)
        });
        self.logger.write(
            self.line(Level::Warn, "rpc.subscriber_dropped", store_id)
                .str("binding", &s.caller.binding_name)
                .str("object", &s.caller.durable_object_id)
                .str("error", error),
        );
    }
}

/// A thrown JavaScript value as text: an Error's message, or the value itself.
fn describe(e: &JsValue) -> String {
    e.dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| e.as_string())
        .unwrap_or_else(|| format!("{e:?}"))
}
