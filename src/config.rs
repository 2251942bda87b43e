//! Wrangler vars and secrets → one typed [`Config`], with errors that name the variable.
//! Pure: takes a lookup function, so it is tested without a runtime.

use crate::admin::access::AdminAccess;
use crate::auth::parse_leeway;
use crate::http::transports::EnabledTransports;
use crate::log::Level;
use crate::storage::{d1_binding_name, StorageKind};
use crate::sync::limits::{
    Limits, DEFAULT_MAX_ARGS_DEPTH, DEFAULT_MAX_PULLS_PER_SOCKET, DEFAULT_MAX_PUSH_EVENTS,
    DEFAULT_MAX_RESPONSE_BYTES, MAX_ARGS_DEPTH_CEILING, MAX_PULLS_PER_SOCKET_CEILING,
};

/// Settings read from the environment on each request (they are cheap to read and a redeploy
/// changes them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `ENABLE_CORS` (default `true`): CORS preflight and headers on every Worker response.
    pub cors: bool,
    /// `MAX_RESPONSE_BYTES` (default 900,000): budget of one `PullResponse`; `MAX_PUSH_EVENTS`,
    /// `MAX_ARGS_DEPTH`, `MAX_PULLS_PER_SOCKET`, `MAX_STORE_BYTES`: see [`Limits`].
    pub limits: Limits,
    /// `MAX_MESSAGE_BYTES` (default 4 MiB, more than four times the 900 kB the published client
    /// ever sends in one message): larger incoming frames, HTTP bodies and admin imports are
    /// refused before they are parsed, so that one message can never hold a large part of the
    /// isolate's 128 MB.
    pub max_message_bytes: usize,
    /// `MAX_SOCKETS_PER_STORE` (default 5,000): WebSockets open at once on one store's object.
    pub max_sockets_per_store: usize,
    /// `RATE_LIMIT_BINDING`: the name of a Rate Limiting binding (`[[ratelimits]]`) that limits
    /// sync connects, pushes and admin attempts per token subject (or per IP without one).
    pub rate_limit_binding: Option<String>,
    /// `MAX_STORES_PER_SUBJECT`: how many stores one token subject (`sub`) may open in all;
    /// unlimited when unset.
    pub max_stores_per_subject: Option<u64>,
    /// `HTTP_RESPONSE_HEADERS`: a JSON object of extra headers for every response the Worker
    /// makes (e.g. `{"Access-Control-Allow-Credentials":"true"}`).
    pub extra_headers: Vec<(String, String)>,
    /// `FIRST_REQUEST_TIMEOUT_SECONDS` (default 10, `0` = never): a WebSocket that carries no
    /// RPC request this long after opening is closed with `4000`, so a client that reconnected
    /// without re-sending its requests fails and retries them (see `sync::closing`).
    pub first_request_timeout_ms: Option<i64>,
    /// `LOG_LEVEL` (`error`, `warn`, `info` (default), `debug`): which log lines are written.
    pub log_level: Level,
    /// `STORAGE` (`do-sqlite` (default) or `d1`) and `D1_BINDING` (default `DB`): where event logs
    /// live.
    pub storage: StorageKind,
    /// `METRICS_BINDING`: the name of a Workers Analytics Engine dataset binding to write data
    /// points to; none when unset.
    pub metrics_binding: Option<String>,
    /// `TRANSPORTS` (default `ws,http,do-rpc`): the transports served.
    pub transports: EnabledTransports,
    /// `ADMIN_SECRET`: the admin API's bearer secret; no secret, no admin API.
    pub admin: AdminAccess,
    /// `JWT_LEEWAY_SECONDS`, as the object applies it to open sockets: a token's socket is
    /// closed at `exp + leeway`. (A bad value is the auth configuration's error; here it is 0.)
    pub jwt_leeway_seconds: i64,
    /// `D1_BINDING` (default `DB`): the D1 database a store may live in, looked at even under
    /// `STORAGE=do-sqlite` so that a store kept in D1 is never served as a new empty one.
    pub d1_binding: String,
    /// `FAULT_INJECTION`: a storage fault for the end-to-end tests, read only by a build with the
    /// `fault-injection` feature (release builds never carry it).
    pub fault_injection: Option<String>,
}

/// Default of `FIRST_REQUEST_TIMEOUT_SECONDS`.
pub const DEFAULT_FIRST_REQUEST_TIMEOUT_SECONDS: usize = 10;

/// Default of `MAX_MESSAGE_BYTES`: 4 MiB. Cloudflare accepts WebSocket messages up to 32 MiB,
/// but a message is decoded, encoded for broadcast and bound to SQL, several copies in all, in an
/// isolate of 128 MB; the published client never sends more than ~900 kB.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 4 * 1024 * 1024;

/// Default of `MAX_SOCKETS_PER_STORE` (Cloudflare allows 32,768 hibernatable sockets per object).
pub const DEFAULT_MAX_SOCKETS_PER_STORE: usize = 5_000;

pub use crate::vars::ConfigError;
use crate::vars::{parse_bool, parse_bounded, parse_size};

impl Config {
    // One variable per statement, read top to bottom: splitting it would only scatter the list.
    #[allow(clippy::too_many_lines)]
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let cors = parse_bool("ENABLE_CORS", lookup("ENABLE_CORS").as_deref(), true)?;
        let max_response_bytes = parse_size(
            "MAX_RESPONSE_BYTES",
            lookup("MAX_RESPONSE_BYTES"),
            DEFAULT_MAX_RESPONSE_BYTES,
            10_000,
        )?;
        let max_message_bytes = parse_size(
            "MAX_MESSAGE_BYTES",
            lookup("MAX_MESSAGE_BYTES"),
            DEFAULT_MAX_MESSAGE_BYTES,
            1024,
        )?;
        let extra_headers = match lookup("HTTP_RESPONSE_HEADERS") {
            None => Vec::new(),
            Some(v) if v.trim().is_empty() => Vec::new(),
            Some(v) => {
                let bad = || ConfigError::Unusable {
                    name: "HTTP_RESPONSE_HEADERS",
                    problem: " must be a JSON object of header names to string values".to_owned(),
                };
                let map: serde_json::Map<String, serde_json::Value> =
                    serde_json::from_str(&v).map_err(|_| bad())?;
                map.into_iter()
                    .map(|(k, v)| Ok((k, v.as_str().ok_or_else(bad)?.to_owned())))
                    .collect::<Result<_, _>>()?
            }
        };
        let first_request_timeout = parse_size(
            "FIRST_REQUEST_TIMEOUT_SECONDS",
            lookup("FIRST_REQUEST_TIMEOUT_SECONDS"),
            DEFAULT_FIRST_REQUEST_TIMEOUT_SECONDS,
            0,
        )?;
        let log_level = Level::parse(lookup("LOG_LEVEL").as_deref())?;
        let metrics_binding = lookup("METRICS_BINDING")
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty());
        let storage = StorageKind::parse(
            lookup("STORAGE").as_deref(),
            lookup("D1_BINDING").as_deref(),
        )?;
        let transports = EnabledTransports::parse(lookup("TRANSPORTS").as_deref())?;
        let max_push_events = parse_size(
            "MAX_PUSH_EVENTS",
            lookup("MAX_PUSH_EVENTS"),
            DEFAULT_MAX_PUSH_EVENTS,
            1,
        )?;
        let max_args_depth = parse_bounded(
            "MAX_ARGS_DEPTH",
            lookup("MAX_ARGS_DEPTH"),
            DEFAULT_MAX_ARGS_DEPTH,
            1,
            MAX_ARGS_DEPTH_CEILING,
        )?;
        let max_pulls_per_socket = parse_bounded(
            "MAX_PULLS_PER_SOCKET",
            lookup("MAX_PULLS_PER_SOCKET"),
            DEFAULT_MAX_PULLS_PER_SOCKET,
            1,
            MAX_PULLS_PER_SOCKET_CEILING,
        )?;
        let max_sockets_per_store = parse_size(
            "MAX_SOCKETS_PER_STORE",
            lookup("MAX_SOCKETS_PER_STORE"),
            DEFAULT_MAX_SOCKETS_PER_STORE,
            1,
        )?;
        let max_store_bytes = match lookup("MAX_STORE_BYTES").filter(|v| !v.trim().is_empty()) {
            None => None,
            Some(v) => Some(parse_size("MAX_STORE_BYTES", Some(v), 0, 1)? as u64),
        };
        let max_stores_per_subject =
            match lookup("MAX_STORES_PER_SUBJECT").filter(|v| !v.trim().is_empty()) {
                None => None,
                Some(v) => Some(parse_size("MAX_STORES_PER_SUBJECT", Some(v), 0, 1)? as u64),
            };
        let rate_limit_binding = lookup("RATE_LIMIT_BINDING")
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty());
        Ok(Config {
            transports,
            cors,
            log_level,
            storage,
            metrics_binding,
            first_request_timeout_ms: (first_request_timeout > 0).then(|| {
                i64::try_from(first_request_timeout.min(86_400)).map_or(86_400_000, |s| s * 1000)
            }),
            limits: Limits {
                max_response_bytes,
                max_push_events,
                max_args_depth,
                max_pulls_per_socket,
                max_store_bytes,
                ..Limits::default()
            },
            max_message_bytes,
            max_sockets_per_store,
            rate_limit_binding,
            max_stores_per_subject,
            extra_headers,
            admin: AdminAccess::from_secret(lookup("ADMIN_SECRET")),
            jwt_leeway_seconds: parse_leeway(lookup("JWT_LEEWAY_SECONDS").as_deref()).unwrap_or(0),
            d1_binding: d1_binding_name(lookup("D1_BINDING").as_deref()),
            fault_injection: if cfg!(feature = "fault-injection") {
                lookup("FAULT_INJECTION")
            } else {
                None
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_errors() {
        let c = Config::from_lookup(|_| None).unwrap();
        assert!(c.cors);
        assert_eq!(c.limits.max_response_bytes, 900_000);
        let c = Config::from_lookup(|k| (k == "ENABLE_CORS").then(|| "false".into())).unwrap();
        assert!(!c.cors);
        let e = Config::from_lookup(|k| (k == "ENABLE_CORS").then(|| "maybe".into())).unwrap_err();
        assert!(e.to_string().contains("ENABLE_CORS"));
        let c = Config::from_lookup(|k| {
            (k == "HTTP_RESPONSE_HEADERS")
                .then(|| r#"{"X-A":"1","Cache-Control":"no-store"}"#.into())
        })
        .unwrap();
        assert_eq!(c.extra_headers.len(), 2);
        for bad in [r#"{"X-A":1}"#, "[]", "nope"] {
            let e = Config::from_lookup(|k| (k == "HTTP_RESPONSE_HEADERS").then(|| bad.into()));
            assert!(e.unwrap_err().to_string().contains("HTTP_RESPONSE_HEADERS"));
        }
        assert!(Config::from_lookup(|k| (k == "MAX_MESSAGE_BYTES").then(|| "12".into())).is_err());
        assert_eq!(c.first_request_timeout_ms, Some(10_000));
        assert_eq!(c.log_level, Level::Info);
        let e = Config::from_lookup(|k| (k == "LOG_LEVEL").then(|| "chatty".into()));
        assert!(e.unwrap_err().to_string().contains("LOG_LEVEL"));
        let off = |v: &str| {
            Config::from_lookup(|k| (k == "FIRST_REQUEST_TIMEOUT_SECONDS").then(|| v.into()))
        };
        assert_eq!(off("0").unwrap().first_request_timeout_ms, None);
        assert_eq!(off("3").unwrap().first_request_timeout_ms, Some(3_000));
        assert_eq!(c.transports, EnabledTransports::default());
        let e = Config::from_lookup(|k| (k == "TRANSPORTS").then(|| "carrier-pigeon".into()));
        assert!(e.unwrap_err().to_string().contains("TRANSPORTS"));
        assert!(off("-1")
            .unwrap_err()
            .to_string()
            .contains("FIRST_REQUEST_TIMEOUT_SECONDS"));
    }

    #[test]
    fn limits_have_defaults_vars_and_bounds() {
        let c = Config::from_lookup(|_| None).unwrap();
        assert_eq!(c.limits.max_push_events, 1_000);
        assert_eq!(c.limits.max_args_depth, 64);
        assert_eq!(c.limits.max_pulls_per_socket, 16);
        assert_eq!(c.limits.max_store_bytes, None);
        assert_eq!(c.max_sockets_per_store, 5_000);
        assert_eq!(c.max_message_bytes, 4 * 1024 * 1024);
        let one = |k: &'static str, v: &'static str| {
            Config::from_lookup(move |name| (name == k).then(|| v.to_owned()))
        };
        assert_eq!(
            one("MAX_PUSH_EVENTS", "5").unwrap().limits.max_push_events,
            5
        );
        assert_eq!(
            one("MAX_STORE_BYTES", "1000")
                .unwrap()
                .limits
                .max_store_bytes,
            Some(1000)
        );
        assert!(one("MAX_ARGS_DEPTH", "101")
            .unwrap_err()
            .to_string()
            .contains("MAX_ARGS_DEPTH"));
        assert!(one("MAX_PULLS_PER_SOCKET", "33")
            .unwrap_err()
            .to_string()
            .contains("between 1 and 32"));
        assert!(one("MAX_SOCKETS_PER_STORE", "0").is_err());
        assert_eq!(c.max_stores_per_subject, None);
        assert_eq!(
            one("MAX_STORES_PER_SUBJECT", "3")
                .unwrap()
                .max_stores_per_subject,
            Some(3)
        );
        assert!(one("MAX_STORES_PER_SUBJECT", "0").is_err());
        assert_eq!(
            one("RATE_LIMIT_BINDING", " LIMITER ")
                .unwrap()
                .rate_limit_binding
                .as_deref(),
            Some("LIMITER")
        );
    }
}
