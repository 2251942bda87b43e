//! The admin API, as plain data: which request is an admin request and whether its secret is
//! right ([`access`], [`route`]), what a store's info says ([`info`]), and the NDJSON format of
//! exported and imported events ([`ndjson`]). The Worker and the Durable Object only move bytes.
//!
//! ```text
//! GET  /admin/stores/:storeId                   info (JSON)
//! GET  /admin/stores/:storeId/events?since=N    the log after seqNum N, as NDJSON, streamed page by page
//! POST /admin/stores/:storeId/events            import one page of NDJSON events after the head
//! POST /admin/stores/:storeId/reset             {"confirm":"<storeId>"}: delete the log, new backendId
//! ```
//!
//! Enabled only when the secret `ADMIN_SECRET` is set; otherwise every `/admin/` path answers
//! `404` as if it did not exist. Requests carry `Authorization: Bearer <ADMIN_SECRET>`.

pub mod access;
pub mod info;
pub mod ndjson;
pub mod route;

/// Why an admin request is refused or failed: an HTTP status and a reason for the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminError {
    pub status: u16,
    pub reason: String,
}

impl AdminError {
    pub fn new(status: u16, reason: impl Into<String>) -> Self {
        AdminError {
            status,
            reason: reason.into(),
        }
    }

    /// `{"error":"…"}`.
    pub fn body(&self) -> String {
        serde_json::json!({ "error": self.reason }).to_string()
    }
}
