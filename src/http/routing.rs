//! What the Worker does with a request before any Durable Object is involved (PROTOCOL.md §2.2,
//! §2.3), decided from the method, path, query and `Upgrade` header alone.

use super::query::{parse_sync_params, SyncParams, TransportKind};

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
    /// A sync request for the store's Durable Object (after the auth check).
    Sync(SyncParams),
}

pub fn route(
    method: &str,
    path: &str,
    query: &str,
    upgrade: Option<&str>,
    cors_enabled: bool,
) -> Route {
    if cors_enabled && method == "OPTIONS" {
        return Route::Preflight;
    }
    match parse_sync_params(query) {
        // The reference compares case-sensitively (§2.3 step 3).
        Some(p) if p.transport == TransportKind::Ws && upgrade != Some("websocket") => {
            Route::UpgradeRequired
        }
        Some(p) => Route::Sync(p),
        None if method == "GET" && path == "/" => Route::Info,
        None => Route::InvalidPath,
    }
}
