//! The sync-cf API's bridge: the package's JavaScript (`js/cf-worker.mjs`) puts one object into
//! the `env` it hands to our Worker and object (under [`BRIDGE_KEY`]): the options as JSON, and
//! functions that run the app's callbacks and settle them (a throw, a rejected Promise or a failed
//! Effect becomes `{name, message}`; success `undefined`). Nothing here decides protocol: which
//! request calls which hook is [`crate::api::hooks`]. Without the bridge (the config-only
//! Worker) none of this runs, and with it a hook the app did not give is never called.

use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use worker::wasm_bindgen_futures::{self, JsFuture};
use worker::{Env, Request};

use crate::api::forwarded::{self, Forwarded};
use crate::api::hooks::{Gate, GatedRequest, HookError};
use crate::api::options::{DurableObjectOptions, ForwardHeaders, VarOverride, WorkerOptions};
use crate::config::ConfigError;
use crate::log::Level;
use crate::sync::Output;

use super::durable_object::SyncBackendDO;
use super::logging::ObjectLog;

/// The `env` key of the bridge object (an app's own var cannot be an object with functions).
pub const BRIDGE_KEY: &str = "__livestoreSyncRsBridge";

/// The bridge in `env`, if the Worker was made by the package's `makeWorker`/`makeDurableObject`.
pub fn bridge(env: &Env) -> Option<js_sys::Object> {
    let value = js_sys::Reflect::get(env, &JsValue::from_str(BRIDGE_KEY)).ok()?;
    value.dyn_into::<js_sys::Object>().ok()
}

fn text(bridge: &js_sys::Object, key: &str) -> Option<String> {
    js_sys::Reflect::get(bridge, &JsValue::from_str(key))
        .ok()?
        .as_string()
}

fn function(bridge: &js_sys::Object, key: &str) -> Option<js_sys::Function> {
    js_sys::Reflect::get(bridge, &JsValue::from_str(key))
        .ok()?
        .dyn_into::<js_sys::Function>()
        .ok()
}

/// Calls bridge function `name` and awaits its Promise: what it resolved to, or what it threw or
/// rejected with (`Err`). A missing function is an `Err` too.
async fn call(
    bridge: &js_sys::Object,
    name: &str,
    args: &js_sys::Array,
) -> Result<JsValue, JsValue> {
    let f = function(bridge, name).ok_or_else(|| {
        JsValue::from(js_sys::Error::new(&format!(
            "livestore-sync-rs: the bridge has no {name}"
        )))
    })?;
    let value = f.apply(bridge, args)?;
    match value.dyn_into::<js_sys::Promise>() {
        Ok(promise) => JsFuture::from(promise).await,
        Err(value) => Ok(value),
    }
}

/// Calls bridge function `name`, which settles a hook: `None` for success, the hook's error
/// otherwise. A bridge that itself fails is reported as the hook's failure.
async fn settle(bridge: &js_sys::Object, name: &str, args: &js_sys::Array) -> Option<HookError> {
    match call(bridge, name, args).await {
        Ok(value) if value.is_undefined() || value.is_null() => None,
        Ok(error) | Err(error) => Some(HookError {
            name: field(&error, "name").unwrap_or_else(|| "Error".into()),
            message: field(&error, "message").unwrap_or_else(|| format!("{error:?}")),
        }),
    }
}

fn field(value: &JsValue, key: &str) -> Option<String> {
    js_sys::Reflect::get(value, &JsValue::from_str(key))
        .ok()?
        .as_string()
}

/// The names of the `env` bindings that are Durable Object namespaces (they have `idFromName`).
pub fn durable_object_bindings(env: &Env) -> Vec<String> {
    let env_value: &JsValue = env.as_ref();
    let Ok(env_object) = env_value.clone().dyn_into::<js_sys::Object>() else {
        return Vec::new();
    };
    js_sys::Object::keys(&env_object)
        .iter()
        .filter_map(|key| {
            let name = key.as_string()?;
            let value = js_sys::Reflect::get(&env_object, &key).ok()?;
            let id_from_name =
                js_sys::Reflect::get(&value, &JsValue::from_str("idFromName")).ok()?;
            id_from_name.is_function().then_some(name)
        })
        .collect()
}

/// The vars a bridge's options set (the Worker's or the object's), overriding Wrangler's; options
/// that cannot be used make the whole configuration unusable, so that every request is answered
/// with their reason instead of being served without the app's hooks.
pub fn var_overrides(env: &Env) -> Result<Vec<VarOverride>, ConfigError> {
    let unusable = |e: String| ConfigError::Unusable {
        name: "the options of the sync-cf API",
        problem: format!(" cannot be used: {e}"),
    };
    if let Some(object) = ObjectApi::of(env) {
        return object.map(|o| o.options.vars).map_err(unusable);
    }
    WorkerApi::of(env).map_or(Ok(Vec::new()), |worker| {
        worker.map(|w| w.options.vars).map_err(unusable)
    })
}

/// The Worker's side: `validatePayload` (with `syncPayloadSchema`) and `syncBackendBinding`.
pub struct WorkerApi {
    bridge: js_sys::Object,
    pub options: WorkerOptions,
}

impl WorkerApi {
    pub fn of(env: &Env) -> Option<Result<WorkerApi, String>> {
        let bridge = bridge(env)?;
        let function = match text(&bridge, "kind").as_deref() {
            Some("makeWorker") => "makeWorker",
            Some("handleSyncRequest") => "handleSyncRequest",
            _ => return None,
        };
        let json = text(&bridge, "options").unwrap_or_default();
        Some(
            WorkerOptions::parse(function, &json)
                .map(|options| WorkerApi { bridge, options })
                .map_err(|e| e.to_string()),
        )
    }

    /// Runs `validatePayload` (after `syncPayloadSchema`, when given): `Some(body)` of the `400`
    /// that refuses the request.
    pub async fn validate(
        &self,
        payload_json: Option<&str>,
        store_id: &str,
        req: &Request,
    ) -> Option<String> {
        if !self.options.validate_payload {
            return None;
        }
        let args = js_sys::Array::of3(
            &payload_json.map_or(JsValue::UNDEFINED, JsValue::from_str),
            &JsValue::from_str(store_id),
            req.inner(),
        );
        // the bridge settles to the 400's body text (the reference's texts), or undefined
        match call(&self.bridge, "validatePayload", &args).await {
            Ok(v) if v.is_undefined() || v.is_null() => None,
            Ok(v) | Err(v) => Some(v.as_string().unwrap_or_else(|| format!("{v:?}"))),
        }
    }
}

/// The object's side: the hooks, and the headers its sockets keep for them.
#[derive(Clone)]
pub struct ObjectApi {
    bridge: js_sys::Object,
    pub options: DurableObjectOptions,
}

impl ObjectApi {
    /// The object's API, if its class was made by `makeDurableObject`; `Err` is why its options
    /// cannot be used, which makes the configuration unusable ([`var_overrides`]): the object
    /// then answers every request with the reason, hooks or not.
    pub fn of(env: &Env) -> Option<Result<ObjectApi, String>> {
        let bridge = bridge(env)?;
        if text(&bridge, "kind").as_deref() != Some("durable-object") {
            return None;
        }
        let json = text(&bridge, "options").unwrap_or_default();
        Some(
            DurableObjectOptions::parse(&json)
                .map(|options| ObjectApi { bridge, options })
                .map_err(|e| e.to_string()),
        )
    }

    /// Runs the hook a request must pass; `Some` is its refusal.
    pub async fn pass(
        &self,
        gated: &GatedRequest<'_>,
        store_id: &str,
        headers: Option<&Forwarded>,
    ) -> Option<HookError> {
        let name = match gated.gate {
            Gate::OnPush => "onPush",
            Gate::OnPull => "onPull",
        };
        let headers = headers
            .and_then(|h| serde_json::to_string(h).ok())
            .map_or(JsValue::UNDEFINED, |h| JsValue::from_str(&h));
        let args = js_sys::Array::of3(
            &JsValue::from_str(gated.message),
            &JsValue::from_str(store_id),
            &headers,
        );
        settle(&self.bridge, name, &args).await
    }

    /// Calls the notifying hook an output calls, if any ([`crate::api::hooks::notice`]).
    pub fn notice(&self, output: &Output, log: &ObjectLog, store_id: &str) {
        if let Some((hook, message)) = crate::api::hooks::notice(output, self.options.hooks) {
            self.notify(hook, &message, log, store_id);
        }
    }

    /// `onPushRes` (`message`: `{}`) or `onPullRes` (`message`: a JSON array of the
    /// `PullResponse`s one chunk delivered): called without waiting; what it throws is logged and
    /// changes nothing the client gets.
    fn notify(&self, hook: &'static str, message: &str, log: &ObjectLog, store_id: &str) {
        let bridge = self.bridge.clone();
        let args = js_sys::Array::of1(&JsValue::from_str(message));
        let log = log.clone();
        let store_id = store_id.to_owned();
        wasm_bindgen_futures::spawn_local(async move {
            if let Some(e) = settle(&bridge, hook, &args).await {
                log.write(
                    log.line(Level::Warn, "hook.error", &store_id)
                        .str("hook", hook)
                        .str("error", &format!("{}: {}", e.name, e.message)),
                );
            }
        });
    }

    /// The headers a request forwards to the hooks (`forwardHeaders`), or why they cannot be
    /// taken (a function that throws or returns something else than strings).
    pub fn forwarded(&self, req: &Request) -> Result<Option<Forwarded>, String> {
        let picked = match &self.options.forward_headers {
            ForwardHeaders::None => return Ok(None),
            ForwardHeaders::Names(names) => {
                let entries: Vec<(String, String)> = req.headers().entries().collect();
                forwarded::pick(names, entries.iter().map(|(n, v)| (n.as_str(), v.as_str())))
            }
            ForwardHeaders::Function => {
                let f = function(&self.bridge, "forwardHeaders")
                    .ok_or("livestore-sync-rs: the bridge has no forwardHeaders")?;
                let value = f
                    .call1(&self.bridge, req.inner())
                    .map_err(|e| format!("forwardHeaders threw: {e:?}"))?;
                match value.as_string() {
                    None => None,
                    Some(json) => Some(serde_json::from_str::<Forwarded>(&json).map_err(|_| {
                        "forwardHeaders must return an object of string values".to_owned()
                    })?),
                }
            }
        };
        Ok(picked.map(|h| {
            h.into_iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v))
                .collect()
        }))
    }
}

/// Static functions the package's JavaScript calls on the exported class (worker-build exports
/// classes only).
#[wasm_bindgen]
impl SyncBackendDO {
    /// Checks the options of `makeWorker`, `makeDurableObject` or `handleSyncRequest` (as the
    /// bridge's JSON): the reason they cannot be used, or `undefined`.
    #[wasm_bindgen(js_name = checkApiOptions)]
    pub fn check_api_options(function: &str, json: &str) -> Option<String> {
        match function {
            "makeDurableObject" => DurableObjectOptions::parse(json).err(),
            "makeWorker" => WorkerOptions::parse("makeWorker", json).err(),
            "handleSyncRequest" => WorkerOptions::parse("handleSyncRequest", json).err(),
            other => return Some(format!("livestore-sync-rs: no function {other}")),
        }
        .map(|e| e.to_string())
    }

    /// `matchSyncRequest`: the sync parameters of a request URL as JSON (`{storeId, payload?,
    /// transport}`), or `undefined` when it is not a sync request.
    #[wasm_bindgen(js_name = matchSyncRequest)]
    pub fn match_sync_request(url: &str) -> Option<String> {
        let query = url.split_once('?').map_or("", |(_, q)| q);
        let query = query.split_once('#').map_or(query, |(q, _)| q);
        let params = crate::http::query::parse_sync_params(query)?;
        let mut out = serde_json::Map::new();
        out.insert("storeId".into(), params.store_id.into());
        if let Some(payload) = params.payload {
            out.insert("payload".into(), payload);
        }
        out.insert("transport".into(), params.transport.as_str().into());
        Some(serde_json::Value::Object(out).to_string())
    }
}
