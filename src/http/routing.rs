//! What the Worker does with a request before any Durable Object is involved (PROTOCOL.md §2.2,
//! §2.3), decided from the method, path, query and `Upgrade` header alone.

use super::query::{parse_sync_params, SyncParams};
use super::transports::EnabledTransports;
use crate::transport::Transport;

/// The body of `GET /`.
pub const INFO_TEXT: &str = "Info: Sync backend endpoint for @livestore/sync-cf (Rust).";

/// The Worker's decision for one request.
#[derive(Debug, PartialEq)]
pub enum Route {
    /// CORS preflight: `204` with the CORS headers.
    Preflight,
    /// `GET /` that is not a sync request: the info text.
    Info,
    /// Anything that is not a sync request: `400 Invalid path`.
    InvalidPath,
    /// `transport=ws` without `Upgrade: websocket`: `426`.
    UpgradeRequired,
    /// A sync request of a transport `TRANSPORTS` leaves out: `403` with this reason.
    TransportDisabled(String),
    /// A sync request whose storeId breaks [`crate::store_id`]'s rule: `400` with this reason.
    InvalidStoreId(String),
    /// A sync request for the store's Durable Object (after the auth check).
    Sync(SyncParams),
}

pub fn route(
    method: &str,
    path: &str,
    query: &str,
    upgrade: Option<&str>,
    cors_enabled: bool,
    transports: &EnabledTransports,
) -> Route {
    if cors_enabled && method == "OPTIONS" {
        return Route::Preflight;
    }
    let Some(params) = parse_sync_params(query) else {
        return if method == "GET" && path == "/" {
            Route::Info
        } else {
            Route::InvalidPath
        };
    };
    if let Some(reason) = transports.refusal(params.transport) {
        return Route::TransportDisabled(reason);
    }
    if let Some(reason) = crate::store_id::store_id_error(&params.store_id) {
        return Route::InvalidStoreId(reason);
    }
    // The reference compares case-sensitively (§2.3 step 3).
    if params.transport == Transport::WebSocket && upgrade != Some("websocket") {
        return Route::UpgradeRequired;
    }
    Route::Sync(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions() {
        let all = EnabledTransports::default();
        let ws_only = EnabledTransports::parse(Some("ws")).unwrap();
        let sync = "storeId=s&transport=http";
        assert_eq!(
            route("OPTIONS", "/", sync, None, true, &all),
            Route::Preflight
        );
        assert_eq!(route("GET", "/", "", None, true, &all), Route::Info);
        assert_eq!(route("GET", "/x", "", None, true, &all), Route::InvalidPath);
        assert!(matches!(
            route("POST", "/", sync, None, true, &all),
            Route::Sync(_)
        ));
        assert_eq!(
            route(
                "GET",
                "/",
                "storeId=s&transport=ws",
                Some("WebSocket"),
                true,
                &all
            ),
            Route::UpgradeRequired
        );
        match route("POST", "/", "storeId=&transport=http", None, true, &all) {
            Route::InvalidStoreId(reason) => assert!(reason.contains("empty"), "{reason}"),
            other => panic!("{other:?}"),
        }
        match route("POST", "/", "storeId=a%01&transport=http", None, true, &all) {
            Route::InvalidStoreId(reason) => assert!(reason.contains("control"), "{reason}"),
            other => panic!("{other:?}"),
        }
        match route("POST", "/", sync, None, true, &ws_only) {
            Route::TransportDisabled(reason) => assert!(reason.contains("http"), "{reason}"),
            other => panic!("{other:?}"),
        }
    }
}
