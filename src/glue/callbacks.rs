//! DO-RPC live updates: the subscribed client objects of this store, and the calls of their
//! `syncUpdateRpc` with every later `PullResponse` (docs/do-rpc.md §4.4, §5).
//!
//! Unlike the reference (one subscriber per store, in memory, called sequentially and forever),
//! every client object is a subscriber of its own, kept in the object's SQLite
//! ([`super::storage::subscribers`]) so it outlives an eviction, and called in parallel with the
//! others but in push order for itself; one whose call fails or does not answer within
//! [`CALLBACK_TIMEOUT_MS`] is dropped (its store subscribes again with its next live pull, when
//! it opens again).

use std::cell::RefCell;
use std::time::Duration;

use futures_util::future::{join_all, select, Either};
use wasm_bindgen::JsCast;
use worker::wasm_bindgen_futures::JsFuture;
use worker::{Delay, Env, SqlStorage};

use crate::log::Level;
use crate::protocol::do_rpc;
use crate::sync::output::RpcSubscription;

use super::ffi::ClientObject;
use super::logging::ObjectLog;
use super::storage::subscribers;

/// How long a client object may take to take an update: the published client answers in about
/// 100 ms; a subscriber slower than this holds up the pushes of everyone.
const CALLBACK_TIMEOUT_MS: u64 = 10_000;

/// The subscribers, and the updates of the current turn not yet delivered to them.
pub struct Callbacks {
    sql: SqlStorage,
    env: Env,
    log: ObjectLog,
    /// `None` until loaded from storage after construction.
    subscribers: RefCell<Option<Vec<RpcSubscription>>>,
    pending: RefCell<Vec<String>>,
}

impl Callbacks {
    /// The subscribers kept in `sql`, called through the bindings of `env`.
    pub fn new(sql: SqlStorage, env: Env, log: ObjectLog) -> Callbacks {
        Callbacks {
            sql,
            env,
            log,
            subscribers: RefCell::new(None),
            pending: RefCell::new(Vec::new()),
        }
    }

    /// The subscribers, loaded once per instance.
    fn with_subscribers<R>(&self, f: impl FnOnce(&mut Vec<RpcSubscription>) -> R) -> R {
        let mut cache = self.subscribers.borrow_mut();
        let subscribers = cache.get_or_insert_with(|| {
            subscribers::load(&self.sql).unwrap_or_else(|e| {
                self.log.storage_error("", e.detail());
                Vec::new()
            })
        });
        f(subscribers)
    }

    /// How many client objects are subscribed (admin info).
    pub fn count(&self) -> usize {
        self.with_subscribers(|s| s.len())
    }

    /// Records a subscriber, replacing the earlier pull of the same object.
    pub fn subscribe(&self, store_id: &str, subscription: RpcSubscription, now: String) {
        let caller = &subscription.caller;
        if let Err(e) = subscribers::upsert(&self.sql, &subscription, now) {
            self.log.storage_error(store_id, e.detail());
        }
        self.log.write(
            self.log
                .line(Level::Info, "rpc.subscribe", store_id)
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
    pub fn clear(&self, store_id: &str) {
        if self.count() > 0 {
            if let Err(e) = subscribers::delete_all(&self.sql) {
                self.log.storage_error(store_id, e.detail());
            }
        }
        self.subscribers.replace(Some(Vec::new()));
    }

    /// Queues a broadcast `PullResponse` for the subscribers; [`Self::deliver`] sends it before
    /// the turn ends. Returns whether there is a subscriber to send it to.
    pub fn queue(&self, pull_response: &str) -> bool {
        let any = self.with_subscribers(|s| !s.is_empty());
        if any {
            self.pending.borrow_mut().push(pull_response.to_owned());
        }
        any
    }

    /// Calls every subscriber with the queued updates, in order, inside the current turn (so the
    /// next push's updates cannot overtake them). Drops the subscribers that fail.
    pub async fn deliver(&self, store_id: &str) {
        let updates = std::mem::take(&mut *self.pending.borrow_mut());
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
        let object_id = &s.caller.durable_object_id;
        if let Err(e) = subscribers::delete(&self.sql, object_id) {
            self.log.storage_error(store_id, e.detail());
        }
        self.with_subscribers(|subscribers| {
            subscribers.retain(|x| x.caller.durable_object_id != *object_id)
        });
        self.log.write(
            self.log
                .line(Level::Warn, "rpc.subscriber_dropped", store_id)
                .str("binding", &s.caller.binding_name)
                .str("object", object_id)
                .str("error", error),
        );
    }
}

/// A thrown JavaScript value as text: an Error's message, or the value itself.
fn describe(e: &wasm_bindgen::JsValue) -> String {
    e.dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| e.as_string())
        .unwrap_or_else(|| format!("{e:?}"))
}
