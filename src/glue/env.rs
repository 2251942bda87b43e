//! Reading Wrangler vars and secrets.

use wasm_bindgen::JsValue;
use worker::Env;

use crate::config::{Config, ConfigError};

/// A var or secret as text. Vars declared in `wrangler.toml` as booleans or numbers are accepted
/// too, so `ENABLE_CORS = false` works as well as `ENABLE_CORS = "false"`.
pub fn lookup(env: &Env, name: &str) -> Option<String> {
    let value = js_sys::Reflect::get(env, &JsValue::from_str(name)).ok()?;
    if let Some(s) = value.as_string() {
        Some(s)
    } else if let Some(b) = value.as_bool() {
        Some(b.to_string())
    } else {
        value.as_f64().map(|n| n.to_string())
    }
}

/// The configuration: Wrangler's vars, under the vars the sync-cf API's options set (an app that
/// passes `storage` to `makeDurableObject` means it, whatever `STORAGE` says).
pub fn config(env: &Env) -> Result<Config, ConfigError> {
    let overrides = super::api::var_overrides(env)?;
    Config::from_lookup(|name| {
        overrides
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
            .or_else(|| lookup(env, name))
    })
}
