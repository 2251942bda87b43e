//! `TRANSPORTS`: which of the three transports the server serves (the reference's
//! `enabledTransports`). A client of a disabled one is refused with a reason, before any
//! Durable Object is involved where it can be.

use std::fmt;

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
    pub fn parse(value: Option<&str>) -> Result<EnabledTransports, String> {
        let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
            return Ok(EnabledTransports::default());
        };
        let mut enabled = EnabledTransports {
            ws: false,
            http: false,
            do_rpc: false,
        };
        for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            match name {
                "ws" => enabled.ws = true,
                "http" => enabled.http = true,
                "do-rpc" => enabled.do_rpc = true,
                other => {
                    return Err(format!(
                        "TRANSPORTS lists {other:?}; the transports are ws, http and do-rpc"
                    ))
                }
            }
        }
        if !(enabled.ws || enabled.http || enabled.do_rpc) {
            return Err(format!("TRANSPORTS enables no transport: {value:?}"));
        }
        Ok(enabled)
    }

    /// Why a client of `transport` (`ws`, `http` or `do-rpc`) is refused, if it is.
    pub fn refusal(&self, transport: &str) -> Option<String> {
        let on = match transport {
            "ws" => self.ws,
            "http" => self.http,
            "do-rpc" => self.do_rpc,
            _ => false,
        };
        (!on).then(|| {
            format!("The {transport} transport is disabled on this server (TRANSPORTS={self})")
        })
    }
}

impl fmt::Display for EnabledTransports {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = [
            (self.ws, "ws"),
            (self.http, "http"),
            (self.do_rpc, "do-rpc"),
        ]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
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
        assert_eq!(ws.refusal("ws"), None);
        assert_eq!(
            ws.refusal("http").unwrap(),
            "The http transport is disabled on this server (TRANSPORTS=ws,do-rpc)"
        );
        assert!(EnabledTransports::parse(Some("ws,grpc"))
            .unwrap_err()
            .contains("\"grpc\""));
        assert!(EnabledTransports::parse(Some(","))
            .unwrap_err()
            .contains("no transport"));
    }
}
