//! The three ways a client reaches a store: the one type every layer names them by (the query's
//! `transport=`, `TRANSPORTS`, the RPC group's tags, logs, metrics and the admin info).

use std::fmt;

/// How a message reached the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// `transport=ws`: a hibernatable WebSocket, live pulls pushed by the server.
    WebSocket,
    /// `transport=http`: one RPC body per POST; "live" is the client polling.
    Http,
    /// Another Durable Object calling `rpc(bytes)`: requests one call at a time, live updates
    /// by calling the client's object back.
    DoRpc,
}

impl Transport {
    /// All of them, in the order `TRANSPORTS` lists them.
    pub const ALL: [Transport; 3] = [Transport::WebSocket, Transport::Http, Transport::DoRpc];

    /// The name in `transport=`, `TRANSPORTS`, logs and metrics: `ws`, `http` or `do-rpc`.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::WebSocket => "ws",
            Transport::Http => "http",
            Transport::DoRpc => "do-rpc",
        }
    }

    /// The transport named `name` (see [`Self::as_str`]).
    pub fn from_name(name: &str) -> Option<Transport> {
        Transport::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for t in Transport::ALL {
            assert_eq!(Transport::from_name(t.as_str()), Some(t));
        }
        assert_eq!(Transport::from_name("grpc"), None);
    }
}
