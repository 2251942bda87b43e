//! Wrangler vars and secrets → one typed [`Config`], with errors that name the variable.
//! Pure: takes a lookup function, so it is tested without a runtime.

use crate::http::transports::EnabledTransports;
use crate::log::Level;
use crate::storage::StorageKind;
use crate::sync::limits::{Limits, DEFAULT_MAX_RESPONSE_BYTES};

/// Settings read from the environment on each request (they are cheap to read and a redeploy
/// changes them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `ENABLE_CORS` (default `true`): CORS preflight and headers on every Worker response.
    pub cors: bool,
    /// `MAX_RESPONSE_BYTES` (default 900,000): budget of one `PullResponse`.
    pub limits: Limits,
    /// `MAX_MESSAGE_BYTES` (default 32 MiB, Cloudflare's current WebSocket message limit as we
    /// understand it; not verified against production): larger
    /// incoming frames and HTTP bodies are refused before they are parsed.
    pub max_message_bytes: usize,
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
}

/// Default of `FIRST_REQUEST_TIMEOUT_SECONDS`.
pub const DEFAULT_FIRST_REQUEST_TIMEOUT_SECONDS: u64 = 10;

/// Cloudflare's limit on one received WebSocket message, as we understand it (1 MiB in older
/// documentation; local workerd accepts more).
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 32 * 1024 * 1024;

/// A variable with a value we cannot use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl Config {
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let cors = parse_bool("ENABLE_CORS", lookup("ENABLE_CORS"), true)?;
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
                let bad = || {
                    ConfigError(
                        "HTTP_RESPONSE_HEADERS must be a JSON object of header names to string values"
                            .to_owned(),
                    )
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
            DEFAULT_FIRST_REQUEST_TIMEOUT_SECONDS as usize,
            0,
        )?;
        let log_level = Level::parse(lookup("LOG_LEVEL").as_deref()).map_err(ConfigError)?;
        let metrics_binding = lookup("METRICS_BINDING")
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty());
        let storage = StorageKind::parse(
            lookup("STORAGE").as_deref(),
            lookup("D1_BINDING").as_deref(),
        )
        .map_err(ConfigError)?;
        let transports =
            EnabledTransports::parse(lookup("TRANSPORTS").as_deref()).map_err(ConfigError)?;
        Ok(Config {
            transports,
            cors,
            log_level,
            storage,
            metrics_binding,
            first_request_timeout_ms: (first_request_timeout > 0)
                .then(|| (first_request_timeout.min(86_400) as i64) * 1000),
            limits: Limits {
                max_response_bytes,
                ..Limits::default()
            },
            max_message_bytes,
            extra_headers,
        })
    }
}

fn parse_size(
    name: &str,
    value: Option<String>,
    default: usize,
    min: usize,
) -> Result<usize, ConfigError> {
    match value {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|n| *n >= min)
            .ok_or_else(|| {
                ConfigError(format!(
                    "{name} must be an integer of at least {min}, got {v:?}"
                ))
            }),
    }
}

fn parse_bool(name: &str, value: Option<String>, default: bool) -> Result<bool, ConfigError> {
    match value.as_deref().map(str::trim) {
        None | Some("") => Ok(default),
        Some("true" | "1" | "yes") => Ok(true),
        Some("false" | "0" | "no") => Ok(false),
        Some(other) => Err(ConfigError(format!(
            "{name} must be true or false, got {other:?}"
        ))),
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
        assert!(e.0.contains("ENABLE_CORS"));
        let c = Config::from_lookup(|k| {
            (k == "HTTP_RESPONSE_HEADERS")
                .then(|| r#"{"X-A":"1","Cache-Control":"no-store"}"#.into())
        })
        .unwrap();
        assert_eq!(c.extra_headers.len(), 2);
        for bad in [r#"{"X-A":1}"#, "[]", "nope"] {
            let e = Config::from_lookup(|k| (k == "HTTP_RESPONSE_HEADERS").then(|| bad.into()));
            assert!(e.unwrap_err().0.contains("HTTP_RESPONSE_HEADERS"));
        }
        assert!(Config::from_lookup(|k| (k == "MAX_MESSAGE_BYTES").then(|| "12".into())).is_err());
        assert_eq!(c.first_request_timeout_ms, Some(10_000));
        assert_eq!(c.log_level, Level::Info);
        let e = Config::from_lookup(|k| (k == "LOG_LEVEL").then(|| "chatty".into()));
        assert!(e.unwrap_err().0.contains("LOG_LEVEL"));
        let off = |v: &str| {
            Config::from_lookup(|k| (k == "FIRST_REQUEST_TIMEOUT_SECONDS").then(|| v.into()))
        };
        assert_eq!(off("0").unwrap().first_request_timeout_ms, None);
        assert_eq!(off("3").unwrap().first_request_timeout_ms, Some(3_000));
        assert_eq!(c.transports, EnabledTransports::default());
        let e = Config::from_lookup(|k| (k == "TRANSPORTS").then(|| "carrier-pigeon".into()));
        assert!(e.unwrap_err().0.contains("TRANSPORTS"));
        assert!(off("-1")
            .unwrap_err()
            .0
            .contains("FIRST_REQUEST_TIMEOUT_SECONDS"));
    }
}
