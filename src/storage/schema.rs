//! The reference's SQLite layout, byte for byte (PROTOCOL.md §8), so a store written by
//! `@livestore/sync-cf@0.4.0` is served by us without migration, and the other way round.

/// `PERSISTENCE_FORMAT_VERSION` of the reference: part of every table name.
pub const PERSISTENCE_FORMAT_VERSION: u32 = 7;

/// The context table: one row per store with its head and backendId.
pub const CONTEXT_TABLE: &str = "context_7";

/// `eventlog_7_` + the storeId with every UTF-16 code unit outside `[a-zA-Z0-9]` replaced by `_`
/// (a character outside the BMP is two code units, hence two underscores).
pub fn event_table_name(store_id: &str) -> String {
    let mut name = format!("eventlog_{PERSISTENCE_FORMAT_VERSION}_");
    for c in store_id.chars() {
        if c.is_ascii_alphanumeric() {
            name.push(c);
        } else {
            for _ in 0..c.len_utf16() {
                name.push('_');
            }
        }
    }
    name
}

/// DDL of the event table, exactly as the reference creates it.
pub fn create_event_table(table: &str) -> String {
    format!(
        r#"CREATE TABLE IF NOT EXISTS "{table}" ("seqNum" integer primary key   , "parentSeqNum" integer   not null , "name" text   not null , "args" text    , "createdAt" text   not null , "clientId" text   not null , "sessionId" text   not null ) strict"#
    )
}

/// DDL of the context table, exactly as the reference creates it.
pub const CREATE_CONTEXT_TABLE: &str = r#"CREATE TABLE IF NOT EXISTS "context_7" ("storeId" text primary key   , "currentHead" integer   not null , "backendId" text   not null ) strict"#;

pub const SELECT_CONTEXT: &str =
    r#"SELECT "currentHead", "backendId" FROM "context_7" WHERE "storeId" = ?"#;

pub const UPSERT_CONTEXT: &str = r#"INSERT OR REPLACE INTO "context_7" ("storeId", "currentHead", "backendId") VALUES (?, ?, ?)"#;

/// A trigger that keeps `context_7.currentHead` at the highest `seqNum` inserted into the store's
/// event table (over the object's SQLite): a push of up to 14 events is then one `INSERT`
/// statement, atomic by itself with its head, instead of two statements in an explicit
/// transaction — the largest cost of a single-event push besides the INSERT itself. It writes the
/// head only when a row goes beyond it, and the rows of a push are inserted from the highest
/// `seqNum` down: the head row is written once per push, not once per event (rows written are
/// billed). The reference updates the head itself and is not disturbed by it (it sets the same
/// value). The storeId is written as a hex blob, so no storeId can break out of the literal.
pub fn create_head_trigger(table: &str, store_id: &str) -> String {
    let hex = crate::hex::lower_hex(store_id.as_bytes());
    format!(
        r#"CREATE TRIGGER IF NOT EXISTS "livestore_rs_head_v2_{table}" AFTER INSERT ON "{table}" BEGIN UPDATE "context_7" SET "currentHead" = NEW."seqNum" WHERE "storeId" = CAST(X'{hex}' AS TEXT) AND "currentHead" < NEW."seqNum"; END"#
    )
}

/// The first head trigger (one head write per inserted row), dropped where it exists.
pub fn drop_old_head_trigger(table: &str) -> String {
    format!(r#"DROP TRIGGER IF EXISTS "livestore_rs_head_{table}""#)
}

pub const UPDATE_HEAD: &str = r#"UPDATE "context_7" SET "currentHead" = ? WHERE "storeId" = ?"#;

pub fn select_max_seq_num(table: &str) -> String {
    format!(r#"SELECT MAX("seqNum") FROM "{table}""#)
}

/// Event count and the `createdAt` of the first and last event.
pub fn summary(table: &str) -> String {
    format!(
        r#"SELECT COUNT(*), (SELECT "createdAt" FROM "{table}" ORDER BY "seqNum" ASC LIMIT 1), (SELECT "createdAt" FROM "{table}" ORDER BY "seqNum" DESC LIMIT 1) FROM "{table}""#
    )
}

/// Every event of the store (an admin reset).
pub fn delete_events(table: &str) -> String {
    format!(r#"DELETE FROM "{table}""#)
}

/// Bindings: after, until.
pub fn count_between(table: &str) -> String {
    format!(r#"SELECT COUNT(*) FROM "{table}" WHERE "seqNum" > ? AND "seqNum" <= ?"#)
}

/// Bindings: after, until, limit.
pub fn select_between(table: &str) -> String {
    format!(
        r#"SELECT "seqNum", "parentSeqNum", "name", "args", "createdAt", "clientId", "sessionId" FROM "{table}" WHERE "seqNum" > ? AND "seqNum" <= ? ORDER BY "seqNum" ASC LIMIT ?"#
    )
}

/// Estimated JSON size of each of the next rows (for D1 pages): the escaped strings, the args
/// text, the timestamp and the keys around them. Bindings: after, until, limit.
pub fn row_sizes_between(table: &str) -> String {
    format!(
        r#"SELECT length(json_quote("name")) + coalesce(length("args"), 4) + length(json_quote("clientId")) + length(json_quote("sessionId")) + 160 FROM "{table}" WHERE "seqNum" > ? AND "seqNum" <= ? ORDER BY "seqNum" ASC LIMIT ?"#
    )
}

/// Bytes the store's rows take (an estimate for D1, where the database is shared).
pub fn stored_bytes(table: &str) -> String {
    format!(
        r#"SELECT coalesce(SUM(length("name") + coalesce(length("args"), 0) + length("createdAt") + length("clientId") + length("sessionId") + 16), 0) FROM "{table}""#
    )
}

/// Whether the store's event table exists (before creating it: a store that lives elsewhere).
pub const TABLE_EXISTS: &str =
    r#"SELECT COUNT(*) FROM "sqlite_master" WHERE "type" = 'table' AND "name" = ?"#;

/// Which store owns each event table in a shared D1 database: two storeIds map to one reference
/// table name when they differ only in characters outside `[a-zA-Z0-9]`, or only in letter case
/// (SQLite's table names are case-insensitive: `eventlog_7_CaseVictim` *is* `eventlog_7_casevictim`).
/// The first store to claim a name owns it; every other store gets a private table
/// ([`private_event_table_name`]), so no two stores ever share rows.
pub const CREATE_TABLE_OWNERS: &str = r#"CREATE TABLE IF NOT EXISTS "livestore_rs_table_owners" ("tableName" text primary key, "storeId" text not null) strict"#;
/// Claims the reference table name for a store unless a store already owns it in any letter case,
/// or a table of that name exists in another letter case (written by the reference for another
/// store, before any claim). Bindings: tableName, storeId.
pub const CLAIM_TABLE: &str = r#"INSERT OR IGNORE INTO "livestore_rs_table_owners" ("tableName", "storeId") SELECT ?1, ?2 WHERE NOT EXISTS (SELECT 1 FROM "livestore_rs_table_owners" WHERE "tableName" = ?1 COLLATE NOCASE) AND NOT EXISTS (SELECT 1 FROM "sqlite_master" WHERE "type" = 'table' AND "name" = ?1 COLLATE NOCASE AND "name" <> ?1)"#;
/// The owner of a table name, in any letter case (the first claim). Binding: tableName.
pub const TABLE_OWNER: &str = r#"SELECT "storeId" FROM "livestore_rs_table_owners" WHERE "tableName" = ?1 COLLATE NOCASE ORDER BY rowid LIMIT 1"#;
/// Whether the owners table exists (a database no store of ours has opened yet).
pub const OWNERS_EXIST: &str = r#"SELECT COUNT(*) FROM "sqlite_master" WHERE "type" = 'table' AND "name" = 'livestore_rs_table_owners'"#;
/// How many tables have this name in another letter case. Binding: tableName.
pub const OTHER_CASE_TABLES: &str = r#"SELECT COUNT(*) FROM "sqlite_master" WHERE "type" = 'table' AND "name" = ?1 COLLATE NOCASE AND "name" <> ?1"#;

/// The D1 table of a store whose reference table name belongs to another store:
/// `livestore_rs_eventlog_` + the storeId's UTF-8 bytes in lowercase hex — one name per storeId
/// in any letter case, never one the reference makes.
pub fn private_event_table_name(store_id: &str) -> String {
    format!(
        "livestore_rs_eventlog_{}",
        crate::hex::lower_hex(store_id.as_bytes())
    )
}

/// The DO-RPC subscribers of the object's store (docs/do-rpc.md §4.4): one row per client
/// object, whose latest live pull replaces the earlier one. Kept in the object's SQLite so that
/// they outlive an eviction (the reference keeps them in memory and loses them).
pub const RPC_SUBSCRIBERS: &str = "livestore_rs_rpc_subscribers";
pub const CREATE_RPC_SUBSCRIBERS: &str = r#"CREATE TABLE IF NOT EXISTS "livestore_rs_rpc_subscribers" ("durableObjectId" text primary key, "bindingName" text not null, "requestId" text not null, "subscribedAt" text not null) strict"#;
pub const SELECT_RPC_SUBSCRIBERS: &str = r#"SELECT "durableObjectId", "bindingName", "requestId" FROM "livestore_rs_rpc_subscribers" ORDER BY "subscribedAt", "durableObjectId""#;
/// Bindings: durableObjectId, bindingName, requestId (JSON text), subscribedAt.
pub const UPSERT_RPC_SUBSCRIBER: &str = r#"INSERT OR REPLACE INTO "livestore_rs_rpc_subscribers" ("durableObjectId", "bindingName", "requestId", "subscribedAt") VALUES (?, ?, ?, ?)"#;
pub const DELETE_RPC_SUBSCRIBER: &str =
    r#"DELETE FROM "livestore_rs_rpc_subscribers" WHERE "durableObjectId" = ?"#;
pub const DELETE_RPC_SUBSCRIBERS: &str = r#"DELETE FROM "livestore_rs_rpc_subscribers""#;

/// Rows per INSERT statement: 7 columns × 14 rows stays under 100 bound parameters.
pub const INSERT_ROWS_PER_STATEMENT: usize = 14;

/// `INSERT` of `rows` events in one statement.
pub fn insert_events(table: &str, rows: usize) -> String {
    let mut sql = format!(
        r#"INSERT INTO "{table}" ("seqNum", "parentSeqNum", "name", "args", "createdAt", "clientId", "sessionId") VALUES "#
    );
    for i in 0..rows {
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str("(?, ?, ?, ?, ?, ?, ?)");
    }
    sql
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names_match_the_reference() {
        assert_eq!(
            event_table_name("tx16-default-with-DB-binding-d1a"),
            "eventlog_7_tx16_default_with_DB_binding_d1a"
        );
        assert_eq!(
            event_table_name("tx09-edge-5304mf"),
            "eventlog_7_tx09_edge_5304mf"
        );
        assert_eq!(event_table_name("ü😀"), "eventlog_7____");
        assert_eq!(event_table_name(""), "eventlog_7_");
    }

    #[test]
    fn private_table_names_are_one_per_store_id_in_any_case() {
        let a = private_event_table_name("CaseVictim");
        let b = private_event_table_name("casevictim");
        assert_eq!(a, "livestore_rs_eventlog_4361736556696374696d");
        assert_ne!(a.to_ascii_lowercase(), b.to_ascii_lowercase());
        assert!(!a.starts_with("eventlog_"));
    }

    #[test]
    fn the_head_trigger_names_its_store_as_bytes() {
        let sql = create_head_trigger("eventlog_7_a_b", "a'b");
        assert!(sql.contains(r#"ON "eventlog_7_a_b""#), "{sql}");
        assert!(sql.contains("CAST(X'612762' AS TEXT)"), "{sql}");
        assert!(!sql.contains("a'b"));
    }
}
