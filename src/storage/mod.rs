//! Storage: the reference's layout as SQL text ([`schema`]), and the decisions about it that do
//! not need a database — where a store lives ([`StorageKind`]), how its head is reconciled with
//! its log, when a configured storage must refuse a store that lives elsewhere, and how many rows
//! a D1 page may hold; and the [`EventLog`] interface the sync core reads and writes through.
//! The Durable Object glue runs the SQL.

pub mod log;
pub mod schema;

pub use log::{EventLog, LogSummary, StoredEvent};

use std::fmt;

/// A storage failure. Never half-applied; what reaches a client depends on the kind: a refusal
/// carries a reason about the client's own store, a backend failure only an incident id (its
/// SQLite or D1 text is logged with that id, never sent: it could name another tenant's table).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageError {
    /// The database failed (a SQLite or D1 error, a malformed row).
    Backend(String),
    /// The store cannot be served here, for a reason its own client may read.
    Refused(String),
}

impl StorageError {
    /// A backend failure from any error text.
    pub fn backend(e: impl fmt::Display) -> StorageError {
        StorageError::Backend(e.to_string())
    }

    /// The whole text, for the log.
    pub fn detail(&self) -> &str {
        match self {
            StorageError::Backend(d) | StorageError::Refused(d) => d,
        }
    }

    /// What a client is told: the reason of a refusal, or a generic sentence naming `incident`,
    /// the id under which the detail was logged.
    pub fn public_message(&self, incident: &str) -> String {
        match self {
            StorageError::Refused(reason) => reason.clone(),
            StorageError::Backend(_) => format!(
                "Storage unavailable (incident {incident}: the server's log has the details)"
            ),
        }
    }
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.detail())
    }
}

impl std::error::Error for StorageError {}

/// Default of `D1_BINDING`: the binding name of the reference's D1 option.
pub const DEFAULT_D1_BINDING: &str = "DB";

/// `D1_BINDING`, trimmed; [`DEFAULT_D1_BINDING`] when unset or blank.
pub fn d1_binding_name(value: Option<&str>) -> String {
    value
        .map(str::trim)
        .filter(|b| !b.is_empty())
        .unwrap_or(DEFAULT_D1_BINDING)
        .to_owned()
}

/// Where a store's event log lives (`STORAGE`). `context_7` (head and backendId) always stays in
/// the object's own SQLite, as the reference keeps it (PROTOCOL.md §8 "D1 option").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageKind {
    /// `do-sqlite` (the default): the Durable Object's own SQLite.
    DurableObjectSqlite,
    /// `d1`: the D1 database bound as `binding` (`D1_BINDING`, default `DB`).
    D1 { binding: String },
}

impl StorageKind {
    /// From `STORAGE` and `D1_BINDING`.
    pub fn parse(
        storage: Option<&str>,
        d1_binding: Option<&str>,
    ) -> Result<StorageKind, crate::vars::ConfigError> {
        match storage.map_or("", str::trim) {
            "" | "do-sqlite" => Ok(StorageKind::DurableObjectSqlite),
            "d1" => Ok(StorageKind::D1 {
                binding: d1_binding_name(d1_binding),
            }),
            other => Err(crate::vars::ConfigError::invalid(
                "STORAGE",
                "do-sqlite or d1",
                other,
            )),
        }
    }

    /// How the admin info names it.
    pub fn name(&self) -> &'static str {
        match self {
            StorageKind::DurableObjectSqlite => "durable-object-sqlite",
            StorageKind::D1 { .. } => "d1",
        }
    }
}

/// The head a store opens with, and whether the stored head must be rewritten: the larger of the
/// stored head and the last stored event (a crash between the events and the head, or a push the
/// reference half-stored, can never wedge the store).
pub fn reconcile_head(stored_head: Option<i64>, max_seq_num: i64) -> (i64, bool) {
    match stored_head {
        Some(h) if h >= max_seq_num => (h, false),
        Some(_) | None => (max_seq_num, stored_head.is_some()),
    }
}

/// A store's storage never changes silently: with `STORAGE` pointing at one place, a store whose
/// events are in the other is refused (and not served as an empty new store). `None` where the
/// other place cannot be looked at (no D1 binding) or is empty.
pub fn storage_conflict(
    configured: &StorageKind,
    events_in_object_sqlite: u64,
    events_in_d1: Option<u64>,
) -> Option<String> {
    let (here, there, n) = match configured {
        StorageKind::D1 { .. } if events_in_object_sqlite > 0 => (
            "d1",
            "the Durable Object's own SQLite (STORAGE=do-sqlite)",
            events_in_object_sqlite,
        ),
        StorageKind::DurableObjectSqlite => match events_in_d1 {
            Some(n) if n > 0 => ("do-sqlite", "D1 (STORAGE=d1)", n),
            _ => return None,
        },
        StorageKind::D1 { .. } => return None,
    };
    Some(format!(
        "this store has {n} events in {there}, but STORAGE={here}: refusing to serve it as an empty \
         store. Set STORAGE back, or move the events with the admin export and import (README \
         \"Migrating from @livestore/sync-cf\")"
    ))
}

/// Which D1 table holds `store_id`'s events, given the recorded owner of its reference table name
/// (in any letter case) and whether a table of that name exists in another letter case: the
/// reference name when this store owns it (or nobody does and no other-case table exists, which
/// is a store the reference wrote, or a new one), else the store's private table. Never a table
/// another store uses (see [`schema::CLAIM_TABLE`]).
pub fn d1_event_table(store_id: &str, owner: Option<&str>, other_case_table: bool) -> String {
    match owner {
        Some(o) if o == store_id => schema::event_table_name(store_id),
        Some(_) => schema::private_event_table_name(store_id),
        None if other_case_table => schema::private_event_table_name(store_id),
        None => schema::event_table_name(store_id),
    }
}

/// Cloudflare's D1 refuses responses above ~1 MB of JSON; a page of rows is kept under this, as
/// the reference does (1,000,000 − 64 KiB).
pub const D1_PAGE_BUDGET_BYTES: u64 = 1_000_000 - 64 * 1024;

/// How many of the next rows (their estimated JSON sizes, in order) one D1 page may hold: as many
/// as fit in [`D1_PAGE_BUDGET_BYTES`], at least one (a single deliverable event always fits: it
/// is at most `MAX_RESPONSE_BYTES`), at most `limit`.
pub fn d1_page_rows(sizes: &[u64], limit: usize) -> usize {
    let mut total = 0u64;
    let mut n = 0;
    for size in sizes.iter().take(limit) {
        total = total.saturating_add(*size);
        if n > 0 && total > D1_PAGE_BUDGET_BYTES {
            break;
        }
        n += 1;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_kind_from_vars() {
        assert_eq!(
            StorageKind::parse(None, None),
            Ok(StorageKind::DurableObjectSqlite)
        );
        assert_eq!(
            StorageKind::parse(Some("do-sqlite"), Some("X")),
            Ok(StorageKind::DurableObjectSqlite)
        );
        assert_eq!(
            StorageKind::parse(Some("d1"), None),
            Ok(StorageKind::D1 {
                binding: "DB".into()
            })
        );
        assert_eq!(
            StorageKind::parse(Some(" d1 "), Some("EVENTS")),
            Ok(StorageKind::D1 {
                binding: "EVENTS".into()
            })
        );
        assert!(StorageKind::parse(Some("kv"), None)
            .unwrap_err()
            .to_string()
            .contains("STORAGE"));
    }

    #[test]
    fn the_head_is_the_larger_of_the_stored_head_and_the_log() {
        assert_eq!(reconcile_head(None, 0), (0, false));
        assert_eq!(reconcile_head(None, 7), (7, false));
        assert_eq!(reconcile_head(Some(7), 7), (7, false));
        assert_eq!(reconcile_head(Some(9), 7), (9, false));
        assert_eq!(reconcile_head(Some(5), 19), (19, true));
    }

    #[test]
    fn a_store_that_lives_elsewhere_is_refused() {
        let d1 = StorageKind::D1 {
            binding: "DB".into(),
        };
        let local = StorageKind::DurableObjectSqlite;
        assert!(storage_conflict(&d1, 3, None)
            .unwrap()
            .contains("3 events in the Durable Object's own SQLite"));
        assert_eq!(storage_conflict(&d1, 0, Some(5)), None);
        assert!(storage_conflict(&local, 0, Some(5))
            .unwrap()
            .contains("5 events in D1"));
        assert_eq!(storage_conflict(&local, 9, None), None);
        assert_eq!(storage_conflict(&local, 9, Some(0)), None);
    }

    #[test]
    fn no_two_stores_share_a_d1_table() {
        assert_eq!(
            d1_event_table("CaseVictim", Some("CaseVictim"), false),
            "eventlog_7_CaseVictim"
        );
        assert_eq!(
            d1_event_table("CaseVictim", None, false),
            "eventlog_7_CaseVictim"
        );
        // another case owns the name, or wrote the table before any claim
        assert!(d1_event_table("casevictim", Some("CaseVictim"), false)
            .starts_with("livestore_rs_eventlog_"));
        assert!(d1_event_table("casevictim", None, true).starts_with("livestore_rs_eventlog_"));
        // differing outside [a-zA-Z0-9]: the same reference name, so the second is private
        assert!(d1_event_table("a-b", Some("a_b"), false).starts_with("livestore_rs_eventlog_"));
        assert_ne!(
            d1_event_table("casevictim", Some("CaseVictim"), false).to_lowercase(),
            d1_event_table("CASEVICTIM", Some("CaseVictim"), false).to_lowercase()
        );
    }

    #[test]
    fn d1_pages_stay_within_the_budget() {
        assert_eq!(d1_page_rows(&[], 100), 0);
        assert_eq!(d1_page_rows(&[200; 10], 100), 10);
        assert_eq!(d1_page_rows(&[200; 10], 4), 4);
        assert_eq!(d1_page_rows(&[400_000; 10], 100), 2);
        assert_eq!(d1_page_rows(&[950_000, 10], 100), 1, "one row always");
    }
}
