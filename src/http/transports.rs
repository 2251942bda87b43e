//! `TRANSPORTS`: which of the three transports the server serves (the reference's
//! `enabledTransports`). A client of a disabled one is refused with a reason, before any
//! Durable Object is involved where it can be.

use std::fmt;

use crate::transport::Transport;
use crate::vars::ConfigError;

/// The transports a deployment serves; all three by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnabledTransports {
    pub ws: bool,
    pub http: bool,
    pub do_rpc: bool,
}

impl Default for EnabledTransports {
    fn default() -> Self {
        EnabledTransports {
            ws: true,
            http: true,
            do_rpc: true,
        }
    }
}

impl EnabledTransports {
    /// A comma-separated list of `ws`, `http` and `do-rpc`; unset or blank is all three.
    pub fn parse(value: Option<&str>) -> Result<EnabledTransports, ConfigError> {
        let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
            return Ok(EnabledTransports::default());
        };
        let mut enabled = EnabledTransports {
            ws: false,
            http: false,
            do_rpc: false,
        };
        for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let transport = Transport::from_name(name).ok_or_else(|| ConfigError::Unusable {
                name: "TRANSPORTS",
                problem: format!(" lists {name:?}; the transports are ws, http and do-rpc"),
            })?;
            *enabled.slot(transport) = true;
        }
        if !(enabled.ws || enabled.http || enabled.do_rpc) {
            return Err(ConfigError::Unusable {
                name: "TRANSPORTS",
                problem: format!(" enables no transport: {value:?}"),
            });
        }
        Ok(enabled)
    }

    /// Whether `transport` is served.
    pub fn serves(&self, transport: Transport) -> bool {
        match transport {
            Transport::WebSocket => self.ws,
            Transport::Http => self.http,
            Transport::DoRpc => self.do_rpc,
        }
    }

    fn slot(&mut self, transport: Transport) -> &mut bool {
        match transport {
            Transport::WebSocket => &mut self.ws,
            Transport::Http => &mut self.http,
            Transport::DoRpc => &mut self.do_rpc,
        }
    }

    /// Why a client of `transport` is refused, if it is.
    pub fn refusal(&self, transport: Transport) -> Option<String> {
        (!self.serves(transport)).then(|| {
            format!("The {transport} transport is disabled on this server (TRANSPORTS={self})")
        })
    }
}

impl fmt::Display for EnabledTransports {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = Transport::ALL
            .into_iter()
            .filter(|t| self.serves(*t))
            .map(Transport::as_str)
            .collect();
        f.write_str(&names.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_refuse() {
        let all = EnabledTransports::parse(None).unwrap();
        assert_eq!(all, EnabledTransports::default());
        assert_eq!(EnabledTransports::parse(Some("  ")).unwrap(), all);
        let ws = EnabledTransports::parse(Some(" ws , do-rpc")).unwrap();
        assert!(ws.ws && !ws.http && ws.do_rpc);
        assert_eq!(ws.refusal(Transport::WebSocket), None);
        assert_eq!(
            ws.refusal(Transport::Http).unwrap(),
            "The http transport is disabled on this server (TRANSPORTS=ws,do-rpc)"
        );
        assert!(EnabledTransports::parse(Some("ws,grpc"))
            .unwrap_err()
            .to_string()
            .contains("\"grpc\""));
        assert!(EnabledTransports::parse(Some(","))
            .unwrap_err()
            .to_string()
            .contains("no transport"));
    }
}
