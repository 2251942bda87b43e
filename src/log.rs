//! Structured log lines: one JSON object per meaningful thing (a socket opened or closed, a push
//! accepted or refused, a refused token, a storage error, an admin action), readable in
//! `wrangler tail` and Workers Logs, which index JSON fields. `LOG_LEVEL` decides which lines are
//! written; nothing is ever logged per pulled event, and tokens and secrets are never logged.
//!
//! Building a line is plain string work, so the core decides *what* is logged and tests check it;
//! the glue only hands the finished line to `console.log` / `console.warn` / `console.error`.

use std::fmt::Write;

use crate::protocol::rpc::push_json_str;

/// A short random id that ties what a client is told about an internal failure to the log line
/// that has its detail (`incident` field): the detail itself never reaches the client.
pub fn incident_id() -> String {
    random_hex(6)
}

/// `bytes` random bytes as hex (an incident id, an object instance's name); `unknown` without
/// a random source.
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    if getrandom::fill(&mut buf).is_err() {
        return "unknown".to_owned();
    }
    crate::hex::lower_hex(&buf)
}

/// How much is written, from least to most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Error,
    Warn,
    Info,
    Debug,
}

impl Level {
    /// `LOG_LEVEL`: `error`, `warn`, `info` (the default) or `debug`.
    pub fn parse(value: Option<&str>) -> Result<Level, crate::vars::ConfigError> {
        match value.map(str::trim).map(str::to_ascii_lowercase).as_deref() {
            None | Some("" | "info") => Ok(Level::Info),
            Some("error") => Ok(Level::Error),
            Some("warn" | "warning") => Ok(Level::Warn),
            Some("debug") => Ok(Level::Debug),
            Some(other) => Err(crate::vars::ConfigError::invalid(
                "LOG_LEVEL",
                "error, warn, info or debug",
                other,
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warn => "warn",
            Level::Info => "info",
            Level::Debug => "debug",
        }
    }
}

/// One log line being built: `{"level":…,"event":…,` then fields in the order they are added.
#[derive(Debug)]
pub struct Line {
    level: Level,
    text: String,
}

impl Line {
    pub fn new(level: Level, event: &str) -> Line {
        let mut text = String::with_capacity(160);
        text.push_str(r#"{"level":""#);
        text.push_str(level.as_str());
        text.push_str(r#"","event":"#);
        push_json_str(&mut text, event);
        Line { level, text }
    }

    pub fn level(&self) -> Level {
        self.level
    }

    fn key(&mut self, key: &str) {
        self.text.push(',');
        push_json_str(&mut self.text, key);
        self.text.push(':');
    }

    #[must_use]
    pub fn str(mut self, key: &str, value: &str) -> Line {
        self.key(key);
        push_json_str(&mut self.text, value);
        self
    }

    #[must_use]
    pub fn int(mut self, key: &str, value: i64) -> Line {
        self.key(key);
        let _ = write!(self.text, "{value}");
        self
    }

    /// A count (events, pushes): never negative.
    #[must_use]
    pub fn count(mut self, key: &str, value: u64) -> Line {
        self.key(key);
        let _ = write!(self.text, "{value}");
        self
    }

    /// A duration or other measurement, with at most 3 decimals.
    #[must_use]
    pub fn num(mut self, key: &str, value: f64) -> Line {
        self.key(key);
        if value.is_finite() {
            let _ = write!(self.text, "{}", (value * 1000.0).round() / 1000.0);
        } else {
            self.text.push_str("null");
        }
        self
    }

    #[must_use]
    pub fn bool(mut self, key: &str, value: bool) -> Line {
        self.key(key);
        self.text.push_str(if value { "true" } else { "false" });
        self
    }

    /// The finished JSON text.
    pub fn finish(mut self) -> String {
        self.text.push('}');
        self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_json_with_level_and_event_first() {
        let line = Line::new(Level::Warn, "auth.refused")
            .str("store", "a\"b\n")
            .int("status", 401)
            .num("ms", 1.23456)
            .bool("ws", true)
            .finish();
        assert_eq!(
            line,
            r#"{"level":"warn","event":"auth.refused","store":"a\"b\n","status":401,"ms":1.235,"ws":true}"#
        );
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["store"], "a\"b\n");
        assert_eq!(
            Line::new(Level::Info, "x").num("ms", f64::NAN).finish(),
            r#"{"level":"info","event":"x","ms":null}"#
        );
    }

    #[test]
    fn levels_parse_and_order() {
        assert_eq!(Level::parse(None), Ok(Level::Info));
        assert_eq!(Level::parse(Some(" DEBUG ")), Ok(Level::Debug));
        assert_eq!(Level::parse(Some("error")), Ok(Level::Error));
        assert!(Level::parse(Some("loud"))
            .unwrap_err()
            .to_string()
            .contains("LOG_LEVEL"));
        assert!(Level::Error < Level::Warn && Level::Info < Level::Debug);
    }
}
