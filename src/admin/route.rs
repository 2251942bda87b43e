//! Which admin action a request asks for, decided from its method, path and query alone.

use crate::http::query::decode_component;
use crate::protocol::messages::MAX_SAFE_INTEGER;
use crate::store_id::store_id_error;

use super::AdminError;

/// The path prefix of every admin route.
pub const PREFIX: &str = "/admin/";

pub use crate::store_id::MAX_STORE_ID_BYTES;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// `GET /admin/stores/:storeId`
    Info,
    /// `GET /admin/stores/:storeId/events?since=N[&limit=M]`: the events with `seqNum > since`.
    Export { since: i64, limit: Option<u64> },
    /// `POST /admin/stores/:storeId/events`: NDJSON events appended after the head.
    Import,
    /// `POST /admin/stores/:storeId/reset` with `{"confirm":"<storeId>"}`.
    Reset,
}

impl Action {
    pub fn name(&self) -> &'static str {
        match self {
            Action::Info => "info",
            Action::Export { .. } => "export",
            Action::Import => "import",
            Action::Reset => "reset",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminRequest {
    pub store_id: String,
    pub action: Action,
}

/// Whether `path` is in the admin namespace (then it is never a sync request).
pub fn is_admin_path(path: &str) -> bool {
    path == "/admin" || path.starts_with(PREFIX)
}

/// Parses an admin request. `404` for a path that is not an admin route, `405` for a route with
/// another method, `400` for a bad store id or query.
pub fn parse(method: &str, path: &str, query: &str) -> Result<AdminRequest, AdminError> {
    let rest = path
        .strip_prefix("/admin/stores/")
        .ok_or_else(|| AdminError::new(404, "Unknown admin route"))?;
    let (raw_id, tail) = match rest.split_once('/') {
        Some((id, tail)) => (id, Some(tail)),
        None => (rest, None),
    };
    let store_id = store_id(raw_id)?;
    let (allowed, action) = match tail {
        None | Some("") => ("GET", Action::Info),
        Some("events") if method == "POST" => ("POST", Action::Import),
        Some("events") => {
            let (since, limit) = export_query(query)?;
            ("GET", Action::Export { since, limit })
        }
        Some("reset") => ("POST", Action::Reset),
        Some(_) => return Err(AdminError::new(404, "Unknown admin route")),
    };
    if method != allowed {
        return Err(AdminError::new(
            405,
            format!("{} expects {allowed}", action_path(&action)),
        ));
    }
    Ok(AdminRequest { store_id, action })
}

fn action_path(action: &Action) -> &'static str {
    match action {
        Action::Info => "/admin/stores/:storeId",
        Action::Export { .. } | Action::Import => "/admin/stores/:storeId/events",
        Action::Reset => "/admin/stores/:storeId/reset",
    }
}

fn store_id(raw: &str) -> Result<String, AdminError> {
    let id = decode_component(raw)
        .ok_or_else(|| AdminError::new(400, "The store id is not valid percent-encoded UTF-8"))?;
    match store_id_error(&id) {
        Some(reason) => Err(AdminError::new(400, reason)),
        None => Ok(id),
    }
}

fn export_query(query: &str) -> Result<(i64, Option<u64>), AdminError> {
    let mut since = 0;
    let mut limit = None;
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        match key.as_ref() {
            "since" => {
                since = value
                    .parse::<i64>()
                    .ok()
                    .filter(|n| (0..=MAX_SAFE_INTEGER).contains(n))
                    .ok_or_else(|| {
                        AdminError::new(
                            400,
                            format!("since must be a seqNum (0 or more), got {value:?}"),
                        )
                    })?;
            }
            "limit" => {
                limit = Some(
                    value
                        .parse::<u64>()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| {
                            AdminError::new(
                                400,
                                format!("limit must be a positive integer, got {value:?}"),
                            )
                        })?,
                );
            }
            _ => {
                return Err(AdminError::new(
                    400,
                    format!("Unknown query parameter {key:?} (expected since, limit)"),
                ))
            }
        }
    }
    Ok((since, limit))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(method: &str, path: &str, query: &str) -> AdminRequest {
        parse(method, path, query).unwrap()
    }

    fn status(method: &str, path: &str, query: &str) -> u16 {
        parse(method, path, query).unwrap_err().status
    }

    #[test]
    fn routes() {
        assert_eq!(
            ok("GET", "/admin/stores/s1", ""),
            AdminRequest {
                store_id: "s1".into(),
                action: Action::Info
            }
        );
        assert_eq!(ok("GET", "/admin/stores/a%20b%2Fc/", "").store_id, "a b/c");
        assert_eq!(
            ok("GET", "/admin/stores/s1/events", "since=42&limit=10").action,
            Action::Export {
                since: 42,
                limit: Some(10)
            }
        );
        assert_eq!(
            ok("GET", "/admin/stores/s1/events", "").action,
            Action::Export {
                since: 0,
                limit: None
            }
        );
        assert_eq!(
            ok("POST", "/admin/stores/s1/events", "").action,
            Action::Import
        );
        assert_eq!(
            ok("POST", "/admin/stores/s1/reset", "").action,
            Action::Reset
        );
        assert!(
            is_admin_path("/admin")
                && is_admin_path("/admin/x")
                && !is_admin_path("/administrator")
        );
    }

    #[test]
    fn bad_requests_get_a_status_and_a_reason() {
        assert_eq!(status("GET", "/admin/stores", ""), 404);
        assert_eq!(status("GET", "/admin/other/s1", ""), 404);
        assert_eq!(status("GET", "/admin/stores/s1/nope", ""), 404);
        assert_eq!(status("POST", "/admin/stores/s1", ""), 405);
        assert_eq!(status("GET", "/admin/stores/s1/reset", ""), 405);
        assert_eq!(status("DELETE", "/admin/stores/s1/events", ""), 405);
        for bad in ["", "%zz", "%00x", &"x".repeat(2000)] {
            assert_eq!(
                status("GET", &format!("/admin/stores/{bad}"), ""),
                400,
                "{bad:?}"
            );
        }
        for q in [
            "since=-1",
            "since=x",
            "since=1.5",
            "since=9007199254740992",
            "limit=0",
            "foo=1",
        ] {
            let e = parse("GET", "/admin/stores/s1/events", q).unwrap_err();
            assert_eq!(e.status, 400, "{q}");
            assert!(!e.reason.is_empty());
        }
    }
}
