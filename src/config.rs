//! Wrangler vars and secrets → one typed [`Config`], with errors that name the variable.
//! Pure: takes a lookup function, so it is tested without a runtime.

use crate::sync::limits::{Limits, DEFAULT_MAX_RESPONSE_BYTES};

/// Settings read from the environment on each request (they are cheap to read and a redeploy
/// changes them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `ENABLE_CORS` (default `true`): CORS preflight and headers on every Worker response.
    pub cors: bool,
    /// `MAX_RESPONSE_BYTES` (default 900,000): budget of one `PullResponse`.
    pub limits: Limits,
}

/// A variable with a value we cannot use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl Config {
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let cors = parse_bool("ENABLE_CORS", lookup("ENABLE_CORS"), true)?;
        let max_response_bytes = match lookup("MAX_RESPONSE_BYTES") {
            None => DEFAULT_MAX_RESPONSE_BYTES,
            Some(v) => v
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|n| *n >= 10_000)
                .ok_or_else(|| {
                    ConfigError(format!(
                        "MAX_RESPONSE_BYTES must be an integer of at least 10000, got {v:?}"
                    ))
                })?,
        };
        Ok(Config {
            cors,
            limits: Limits {
                max_response_bytes,
                ..Limits::default()
            },
        })
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
    }
}
