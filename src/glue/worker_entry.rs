//! The Worker entrypoint: routing, CORS, the auth check, then hand-off to the store's object.

use worker::*;

use std::cell::RefCell;
use std::rc::Rc;

use crate::admin::{route as admin_route, AdminError};
use crate::auth::{
    authorize, AuthConfig, Grant, Presented, AUTH_VARIABLES, EXPIRES_HEADER as AUTH_EXPIRES_HEADER,
    RATE_KEY_HEADER, RIGHTS_HEADER,
};
use crate::config::Config;
use crate::http::cors::cors_headers;
use crate::http::routing::{route, Route, INFO_TEXT};

use super::api::WorkerApi;
use super::env;
use super::json_response;
use super::logging::{write_data_point, Logger};
use crate::log::{Level, Line};
use crate::metrics;

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
/// have immutable headers, so their body is moved into a new response — as a stream, never read
/// here, so a streamed export stays streamed (a WebSocket `101` is passed through: browsers do
/// not apply CORS to WebSockets).
fn with_headers(
    response: Response,
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
    let body = match response.body() {
        ResponseBody::Stream(stream) => ResponseBody::Stream(stream.clone()),
        ResponseBody::Body(bytes) => ResponseBody::Body(bytes.clone()),
        // A 204 must have a null body, not an empty one.
        ResponseBody::Empty => ResponseBody::Empty,
    };
    Ok(Response::from_body(body)?
        .with_status(status)
        .with_headers(headers))
}

/// An auth configuration and the variable values (in `AUTH_VARIABLES` order) it was built from.
type CachedAuth = (Vec<Option<String>>, Rc<AuthConfig>);

thread_local! {
    /// The auth configuration of this isolate, with the variable values it was built from: keys
    /// (an RSA JWKS especially) are parsed once, not on every HTTP RPC call.
    static AUTH_CONFIG: RefCell<Option<CachedAuth>> = const { RefCell::new(None) };
}

/// With the sync-cf API (`api`), the app's `validatePayload` is its auth, as in the reference:
/// our JWT check runs only when `AUTH_MODE=jwt` is set explicitly (the config-only Worker checks
/// JWTs unless `AUTH_MODE=none`).
fn auth_config(env: &Env, api: bool) -> Rc<AuthConfig> {
    let values: Vec<Option<String>> = AUTH_VARIABLES
        .iter()
        .map(|n| match env::lookup(env, n) {
            None if api && *n == "AUTH_MODE" => Some("none".to_owned()),
            value => value,
        })
        .collect();
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
            .write(Line::new(Level::Error, "config.error").str("error", &e.to_string()));
            return text_response(500, &format!("Configuration error: {e}"));
        }
    };
    let path = req.url()?.path().to_owned();
    // The admin API is for operators' tools, never for browsers: no CORS there.
    let admin = admin_route::is_admin_path(&path);
    let response = if admin {
        self::admin(req, &env, &config).await?
    } else {
        handle(req, &env, &config).await?
    };
    let header_config = Config {
        cors: config.cors && !admin,
        ..config
    };
    with_headers(response, &header_config, requested_headers.as_deref())
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
        &config.transports,
    ) {
        Route::Preflight => return Ok(Response::empty()?.with_status(204)),
        Route::Info => return text_response(200, INFO_TEXT),
        Route::InvalidPath => return text_response(400, "Invalid path"),
        Route::UpgradeRequired => {
            return text_response(426, "Durable Object expected Upgrade: websocket")
        }
        Route::TransportDisabled(reason) => return text_response(403, &reason),
        Route::InvalidStoreId(reason) => return text_response(400, &reason),
        Route::Sync(params) => params,
    };

    // A body larger than MAX_MESSAGE_BYTES is refused here, from its Content-Length, before
    // anything reads it (the object refuses one without a length as it reads it).
    if let Some(refused) = super::body::declared_too_large(&req, config.max_message_bytes) {
        return json_response(
            413,
            &format!("[{}]", crate::protocol::rpc::defect_frame(refused.reason())),
        );
    }

    // The app's validatePayload (sync-cf API), then our JWT check: both before any Durable
    // Object is touched, and both must let the request through.
    let api = match WorkerApi::of(env) {
        None => None,
        Some(Ok(api)) => Some(api),
        Some(Err(reason)) => return text_response(500, &reason),
    };
    if let Some(api) = &api {
        let payload = params.payload.as_ref().map(ToString::to_string);
        if let Some(body) = api
            .validate(payload.as_deref(), &params.store_id, &req)
            .await
        {
            return text_response(400, &body);
        }
    }
    let binding = match sync_binding(env, api.as_ref()) {
        Ok(binding) => binding,
        Err((status, text)) => return text_response(status, &text),
    };

    // The JWT check (AUTH_MODE=jwt), before any Durable Object is touched.
    let auth = auth_config(env, api.is_some());
    let now = (js_sys::Date::now() / 1000.0).floor() as i64;
    let headers = req.headers();
    let authorization = headers.get("Authorization")?;
    let token_header = match &auth.token_header {
        Some(name) => headers.get(name)?,
        None => None,
    };
    let cookie = match &auth.token_cookie {
        Some(_) => headers.get("Cookie")?,
        None => None,
    };
    let origin = headers.get("Origin")?;
    let presented = Presented {
        payload: params.payload.as_ref(),
        authorization: authorization.as_deref(),
        header: token_header.as_deref(),
        cookie: cookie.as_deref(),
        origin: origin.as_deref(),
    };
    let grant = match authorize(&auth, &params.store_id, &presented, now) {
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
            if let Some(dataset) = config
                .metrics_binding
                .as_deref()
                .and_then(|name| env.analytics_engine(name).ok())
            {
                let point =
                    metrics::refusal(&params.store_id, params.transport.as_str(), e.status());
                write_data_point(&dataset, &point);
            }
            return text_response(e.status(), e.message());
        }
    };

    let namespace = match env.durable_object(&binding) {
        Ok(ns) => ns,
        Err(_) => {
            return text_response(
                424,
                &format!(
                    "Failed dependency: Required Durable Object binding '{binding}' not available"
                ),
            )
        }
    };
    if let Some(refusal) = super::subject_registry::check(
        &namespace,
        config,
        grant.subject.as_deref(),
        &params.store_id,
    )
    .await?
    {
        return Ok(refusal);
    }
    let key = rate_key(grant.subject.as_deref(), &req);
    if let Some(refusal) = rate_limited(env, config, "sync", &key).await {
        return text_response(429, &refusal);
    }
    let stub = namespace.id_from_name(&params.store_id)?.get_stub()?;
    stub.fetch_with_request(forwarded(req, &grant, &key)?).await
}

/// The Durable Object binding sync requests go to: `SYNC_BACKEND_DO` for the config-only
/// Worker; for the sync-cf API the option, or the one binding ([`crate::api::options::sync_binding`]).
fn sync_binding(env: &Env, api: Option<&WorkerApi>) -> std::result::Result<String, (u16, String)> {
    let Some(api) = api else {
        return Ok(SYNC_BACKEND_BINDING.to_owned());
    };
    let found = match api.options.binding {
        Some(_) => Vec::new(),
        None => super::api::durable_object_bindings(env),
    };
    crate::api::options::sync_binding(api.options.binding.as_deref(), &found)
}

/// Whom a rate limit counts: the token's subject, or the client's IP without one.
fn rate_key(subject: Option<&str>, req: &Request) -> String {
    match subject {
        Some(sub) => format!("sub:{}", crate::auth::short_subject(sub)),
        None => format!(
            "ip:{}",
            req.headers()
                .get("CF-Connecting-IP")
                .ok()
                .flatten()
                .unwrap_or_else(|| "unknown".to_owned())
        ),
    }
}

/// With `RATE_LIMIT_BINDING` set, why `key` may not do `what` now (`None`: it may). Without the
/// binding, or when the limiter itself fails, nothing is limited.
pub(super) async fn rate_limited(
    env: &Env,
    config: &Config,
    what: &str,
    key: &str,
) -> Option<String> {
    let name = config.rate_limit_binding.as_deref()?;
    let limiter = env.rate_limiter(name).ok()?;
    let outcome = limiter.limit(format!("{what}:{key}")).await.ok()?;
    (!outcome.success)
        .then(|| format!("Too many {what} requests; slow down and retry (rate limit {name})"))
}

/// An admin request: the admin secret (never a sync token), the route, then the store's object.
async fn admin(req: Request, env: &Env, config: &Config) -> Result<Response> {
    let url = req.url()?;
    let logger = Logger {
        level: config.log_level,
    };
    let ip = req
        .headers()
        .get("CF-Connecting-IP")?
        .unwrap_or_else(|| "unknown".to_owned());
    if let Some(refusal) = rate_limited(env, config, "admin", &format!("ip:{ip}")).await {
        let e = AdminError::new(429, refusal);
        return json_response(e.status, &e.body());
    }
    let authorization = req.headers().get("Authorization")?;
    if let Err((e, refusal)) = config.admin.check(authorization.as_deref()) {
        if let Some(why) = refusal {
            // the reason, never the value
            logger.write(
                Line::new(Level::Warn, "admin.refused")
                    .str("method", req.method().as_ref())
                    .str("path", url.path())
                    .int("status", e.status.into())
                    .str("reason", why.as_str()),
            );
        } else if e.status == 500 {
            logger.write(Line::new(Level::Error, "config.error").str("error", &e.reason));
        }
        return json_response(e.status, &e.body());
    }
    let request =
        match admin_route::parse(req.method().as_ref(), url.path(), url.query().unwrap_or("")) {
            Ok(r) => r,
            Err(e) => return json_response(e.status, &e.body()),
        };
    // the sync objects' binding: with the sync-cf API the app names it (or has only one)
    let binding = match WorkerApi::of(env) {
        None => sync_binding(env, None),
        Some(Ok(api)) => sync_binding(env, Some(&api)),
        Some(Err(reason)) => Err((500, reason)),
    };
    let namespace = match binding.map(|name| (env.durable_object(&name), name)) {
        Ok((Ok(ns), _)) => ns,
        Ok((Err(_), name)) => {
            let e = AdminError::new(
                424,
                format!("Required Durable Object binding '{name}' not available"),
            );
            return json_response(e.status, &e.body());
        }
        Err((status, reason)) => {
            let e = AdminError::new(status, reason);
            return json_response(e.status, &e.body());
        }
    };
    let stub = namespace.id_from_name(&request.store_id)?.get_stub()?;
    // the request as it came, Authorization included: the object checks the secret too
    stub.fetch_with_request(req).await
}

/// The request as the object gets it: unchanged but for the headers only the Worker sets (the
/// token's expiry and push rights, whom rate limits count).
fn forwarded(req: Request, grant: &Grant, rate_key: &str) -> Result<Request> {
    let headers = Headers::new();
    for (name, value) in req.headers().entries() {
        let ours = [AUTH_EXPIRES_HEADER, RATE_KEY_HEADER, RIGHTS_HEADER]
            .iter()
            .any(|h| name.eq_ignore_ascii_case(h));
        if !ours {
            headers.append(&name, &value)?;
        }
    }
    if let Some(exp) = grant.expires_at {
        headers.set(AUTH_EXPIRES_HEADER, &exp.to_string())?;
    }
    if let Some(rights) = grant.rights.to_header() {
        headers.set(RIGHTS_HEADER, &rights)?;
    }
    headers.set(RATE_KEY_HEADER, rate_key)?;
    let mut init = RequestInit::new();
    init.with_method(req.method()).with_headers(headers);
    if let Some(body) = req.inner().body() {
        init.with_body(Some(body.into()));
    }
    Request::new_with_init(req.url()?.as_str(), &init)
}
