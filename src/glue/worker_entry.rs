//! The Worker entrypoint: routing, CORS, the auth check, then hand-off to the store's object.

use worker::*;

use std::cell::RefCell;
use std::rc::Rc;

use crate::auth::{authorize, AuthConfig, AUTH_VARIABLES, EXPIRES_HEADER as AUTH_EXPIRES_HEADER};
use crate::config::Config;
use crate::http::cors::cors_headers;
use crate::http::routing::{route, Route, INFO_TEXT};

use super::env;
use super::logging::Logger;
use crate::log::{Level, Line};

/// The Durable Object binding name the LiveStore docs use (and existing `wrangler.toml`s have).
pub const SYNC_BACKEND_BINDING: &str = "SYNC_BACKEND_DO";

fn text_response(status: u16, body: &str) -> Result<Response> {
    let headers = Headers::new();
    headers.set("Content-Type", "text/plain;charset=UTF-8")?;
    Ok(Response::ok(body)?
        .with_status(status)
        .with_headers(headers))
}

/// Adds the CORS headers and the configured extra headers. Responses from the Durable Object
/// have immutable headers, so their body is moved into a new response (a WebSocket `101` is
/// passed through: browsers do not apply CORS to WebSockets).
async fn with_headers(
    mut response: Response,
    config: &Config,
    requested_headers: Option<&str>,
) -> Result<Response> {
    if response.status_code() == 101 || (!config.cors && config.extra_headers.is_empty()) {
        return Ok(response);
    }
    let headers = Headers::new();
    for (name, value) in response.headers().entries() {
        headers.append(&name, &value)?;
    }
    if config.cors {
        for (name, value) in cors_headers(requested_headers) {
            headers.set(name, &value)?;
        }
    }
    for (name, value) in &config.extra_headers {
        headers.set(name, value)?;
    }
    let status = response.status_code();
    let body = response.bytes().await?;
    // A 204 must have a null body, not an empty one.
    let rebuilt = if body.is_empty() {
        Response::empty()?
    } else {
        Response::from_bytes(body)?
    };
    Ok(rebuilt.with_status(status).with_headers(headers))
}

/// An auth configuration and the variable values (in `AUTH_VARIABLES` order) it was built from.
type CachedAuth = (Vec<Option<String>>, Rc<AuthConfig>);

thread_local! {
    /// The auth configuration of this isolate, with the variable values it was built from: keys
    /// (an RSA JWKS especially) are parsed once, not on every HTTP RPC call.
    static AUTH_CONFIG: RefCell<Option<CachedAuth>> = const { RefCell::new(None) };
}

fn auth_config(env: &Env) -> Rc<AuthConfig> {
    let values: Vec<Option<String>> = AUTH_VARIABLES.iter().map(|n| env::lookup(env, n)).collect();
    AUTH_CONFIG.with(|cell| {
        let mut cached = cell.borrow_mut();
        if let Some((seen, config)) = cached.as_ref() {
            if *seen == values {
                return config.clone();
            }
        }
        let config = Rc::new(AuthConfig::from_lookup(|name| {
            AUTH_VARIABLES
                .iter()
                .position(|n| *n == name)
                .and_then(|i| values[i].clone())
        }));
        *cached = Some((values, config.clone()));
        config
    })
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    console_error_panic_hook::set_once();
    let requested_headers = req.headers().get("Access-Control-Request-Headers")?;
    let config = match env::config(&env) {
        Ok(c) => c,
        Err(e) => {
            Logger {
                level: Level::Error,
            }
            .write(Line::new(Level::Error, "config.error").str("error", &e.0));
            return text_response(500, &format!("Configuration error: {}", e.0));
        }
    };
    let response = handle(req, &env, &config).await?;
    with_headers(response, &config, requested_headers.as_deref()).await
}

async fn handle(req: Request, env: &Env, config: &Config) -> Result<Response> {
    let url = req.url()?;
    let upgrade = req.headers().get("Upgrade")?;
    let method = req.method().to_string();
    let params = match route(
        &method,
        url.path(),
        url.query().unwrap_or(""),
        upgrade.as_deref(),
        config.cors,
    ) {
        Route::Preflight => return Ok(Response::empty()?.with_status(204)),
        Route::Info => return text_response(200, INFO_TEXT),
        Route::InvalidPath => return text_response(400, "Invalid path"),
        Route::UpgradeRequired => {
            return text_response(426, "Durable Object expected Upgrade: websocket")
        }
        Route::Sync(params) => params,
    };

    // The payload/JWT check, before any Durable Object is touched.
    let auth = auth_config(env);
    let now = (js_sys::Date::now() / 1000.0).floor() as i64;
    let authorization = req.headers().get("Authorization")?;
    let grant = match authorize(
        &auth,
        &params.store_id,
        params.payload.as_ref(),
        authorization.as_deref(),
        now,
    ) {
        Ok(grant) => grant,
        Err(e) => {
            // the reason and the store, never the token
            let level = if e.status() == 500 {
                Level::Error
            } else {
                Level::Warn
            };
            Logger {
                level: config.log_level,
            }
            .write(
                Line::new(level, "auth.refused")
                    .str("store", &params.store_id)
                    .str("transport", params.transport.as_str())
                    .int("status", e.status().into())
                    .str("reason", e.message()),
            );
            return text_response(e.status(), e.message());
        }
    };

    let namespace = match env.durable_object(SYNC_BACKEND_BINDING) {
        Ok(ns) => ns,
        Err(_) => {
            return text_response(
                424,
                &format!("Failed dependency: Required Durable Object binding '{SYNC_BACKEND_BINDING}' not available"),
            )
        }
    };
    let stub = namespace.id_from_name(&params.store_id)?.get_stub()?;
    stub.fetch_with_request(forwarded(req, grant.expires_at)?)
        .await
}

/// The request as the object gets it: unchanged but for the auth-expiry header.
fn forwarded(req: Request, expires_at: Option<i64>) -> Result<Request> {
    let headers = Headers::new();
    for (name, value) in req.headers().entries() {
        if !name.eq_ignore_ascii_case(AUTH_EXPIRES_HEADER) {
            headers.append(&name, &value)?;
        }
    }
    if let Some(exp) = expires_at {
        headers.set(AUTH_EXPIRES_HEADER, &exp.to_string())?;
    }
    let mut init = RequestInit::new();
    init.with_method(req.method()).with_headers(headers);
    if let Some(body) = req.inner().body() {
        init.with_body(Some(body.into()));
    }
    Request::new_with_init(req.url()?.as_str(), &init)
}
