//! [`EventLog`] over D1, as the reference's D1 option lays it out: the `eventlog_7_*` table (same
//! DDL) in the D1 database, `context_7` in the object's own SQLite. A push is one D1 `batch` —
//! D1 runs a batch as one transaction — of INSERTs of at most 14 rows (D1's 100-bound-parameter
//! limit), then the head in `context_7`; if the object dies in between, the head is repaired from
//! the D1 log when the store opens. Pages are cut so that a D1 response stays under ~1 MB.

use std::rc::Rc;

use serde::Deserialize;
use wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement, SqlStorage};

use crate::protocol::messages::Event;
use crate::storage::{d1_event_table, d1_page_rows, schema};
use crate::storage::{EventLog, LogSummary, StorageError, StoredEvent};

use super::context::Context;
use super::Row;

pub struct D1EventLog {
    db: Rc<D1Database>,
    context: Context,
    table: String,
    /// The test-only fault of `sql_log::fault_applies`: every append's batch fails after its
    /// first INSERT.
    fail_inside_transaction: bool,
}

/// A row as D1 returns it (`SELECT "seqNum", …` by name).
#[derive(Deserialize)]
struct D1Row {
    #[serde(rename = "seqNum")]
    seq_num: f64,
    #[serde(rename = "parentSeqNum")]
    parent_seq_num: f64,
    name: String,
    args: Option<String>,
    #[serde(rename = "createdAt")]
    created_at: String,
    #[serde(rename = "clientId")]
    client_id: String,
    #[serde(rename = "sessionId")]
    session_id: String,
}

impl From<D1Row> for StoredEvent {
    fn from(r: D1Row) -> StoredEvent {
        StoredEvent {
            seq_num: r.seq_num as i64,
            parent_seq_num: r.parent_seq_num as i64,
            name: r.name,
            args: r.args,
            created_at: r.created_at,
            client_id: r.client_id,
            session_id: r.session_id,
        }
    }
}

fn num(v: f64) -> JsValue {
    JsValue::from_f64(v)
}

fn prepare(
    db: &D1Database,
    query: &str,
    bindings: &[JsValue],
) -> Result<D1PreparedStatement, StorageError> {
    db.prepare(query)
        .bind(bindings)
        .map_err(StorageError::backend)
}

/// The first column of the first row, as a number (0 when there is none).
async fn first_number(
    db: &D1Database,
    query: &str,
    bindings: &[JsValue],
) -> Result<f64, StorageError> {
    let rows: Vec<Vec<Option<f64>>> = prepare(db, query, bindings)?
        .raw()
        .await
        .map_err(StorageError::backend)?;
    Ok(rows
        .first()
        .and_then(|r| r.first().copied().flatten())
        .unwrap_or(0.0))
}

impl D1EventLog {
    /// Opens (creating if needed) the store's table in D1 and its context row in the object's
    /// SQLite. The table is the reference's name when this store owns it, else a private one
    /// (see `storage::d1_event_table`): two stores never share rows.
    pub async fn open(
        db: D1Database,
        sql: SqlStorage,
        store_id: &str,
        fault: Option<&str>,
    ) -> Result<(D1EventLog, i64, String), StorageError> {
        let reference = schema::event_table_name(store_id);
        let context = Context::open(sql, store_id)?;
        db.batch(vec![
            prepare(&db, schema::CREATE_TABLE_OWNERS, &[])?,
            prepare(
                &db,
                schema::CLAIM_TABLE,
                &[JsValue::from_str(&reference), JsValue::from_str(store_id)],
            )?,
        ])
        .await
        .map_err(StorageError::backend)?;
        let table = Self::table_of(&db, store_id).await?;
        prepare(&db, &schema::create_event_table(&table), &[])?
            .run()
            .await
            .map_err(StorageError::backend)?;
        let log = D1EventLog {
            db: Rc::new(db),
            context,
            table,
            fail_inside_transaction: super::sql_log::fault_applies(fault, store_id),
        };
        let max_seq =
            first_number(&log.db, &schema::select_max_seq_num(&log.table), &[]).await? as i64;
        let (head, backend_id) = log.context.load(max_seq)?;
        Ok((log, head, backend_id))
    }

    /// The D1 table that holds (or will hold) `store_id`'s events, without claiming anything.
    async fn table_of(db: &D1Database, store_id: &str) -> Result<String, StorageError> {
        let reference = schema::event_table_name(store_id);
        let name = [JsValue::from_str(&reference)];
        let owner: Option<String> = if first_number(db, schema::OWNERS_EXIST, &[]).await? > 0.0 {
            let owners: Vec<Vec<String>> = prepare(db, schema::TABLE_OWNER, &name)?
                .raw()
                .await
                .map_err(StorageError::backend)?;
            owners.into_iter().next().and_then(|r| r.into_iter().next())
        } else {
            None
        };
        let other_case = first_number(db, schema::OTHER_CASE_TABLES, &name).await? > 0.0;
        Ok(d1_event_table(store_id, owner.as_deref(), other_case))
    }

    /// How many events `store_id` has in this D1 database, without creating its table.
    pub async fn events_of(db: &D1Database, store_id: &str) -> Result<u64, StorageError> {
        let table = Self::table_of(db, store_id).await?;
        if first_number(db, schema::TABLE_EXISTS, &[JsValue::from_str(&table)]).await? == 0.0 {
            return Ok(0);
        }
        Ok(first_number(db, &format!(r#"SELECT COUNT(*) FROM "{table}""#), &[]).await? as u64)
    }

    pub fn pages(&self) -> D1Pages {
        D1Pages {
            db: self.db.clone(),
            table: self.table.clone(),
        }
    }

    pub async fn stored_bytes(&self) -> Result<u64, StorageError> {
        Ok(first_number(&self.db, &schema::stored_bytes(&self.table), &[]).await? as u64)
    }

    /// Inserts the rows in one batch (one transaction), then records the head.
    async fn insert(&self, rows: &[Row<'_>], new_head: i64) -> Result<(), StorageError> {
        let mut statements = rows
            .chunks(schema::INSERT_ROWS_PER_STATEMENT)
            .map(|chunk| {
                let mut bindings = Vec::with_capacity(chunk.len() * 7);
                chunk.iter().for_each(|r| r.bind_js(&mut bindings));
                prepare(
                    &self.db,
                    &schema::insert_events(&self.table, chunk.len()),
                    &bindings,
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        if let (true, Some(first)) = (self.fail_inside_transaction, rows.first()) {
            // the batch's first row once more: D1 refuses it (UNIQUE seqNum) after the first
            // statement's rows were written, inside the batch's transaction
            let mut bindings = Vec::with_capacity(7);
            first.bind_js(&mut bindings);
            let duplicate = prepare(&self.db, &schema::insert_events(&self.table, 1), &bindings)?;
            statements.insert(1, duplicate);
        }
        self.db
            .batch(statements)
            .await
            .map_err(StorageError::backend)?;
        self.context.set_head(new_head)
    }
}

impl EventLog for D1EventLog {
    async fn count_between(&self, after: i64, until: i64) -> Result<u64, StorageError> {
        let n = first_number(
            &self.db,
            &schema::count_between(&self.table),
            &[num(after as f64), num(until as f64)],
        )
        .await?;
        Ok(n.max(0.0) as u64)
    }

    async fn read_between(
        &self,
        after: i64,
        until: i64,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StorageError> {
        self.pages().read(after, until, limit).await
    }

    async fn append(
        &self,
        batch: &[Event],
        created_at: &str,
        new_head: i64,
    ) -> Result<(), StorageError> {
        let rows: Vec<Row<'_>> = batch.iter().map(|e| Row::pushed(e, created_at)).collect();
        self.insert(&rows, new_head).await
    }

    async fn append_stored(
        &self,
        events: &[StoredEvent],
        new_head: i64,
    ) -> Result<(), StorageError> {
        let rows: Vec<Row<'_>> = events.iter().map(Row::stored).collect();
        self.insert(&rows, new_head).await
    }

    async fn summary(&self) -> Result<LogSummary, StorageError> {
        let rows: Vec<Vec<serde_json::Value>> =
            prepare(&self.db, &schema::summary(&self.table), &[])?
                .raw()
                .await
                .map_err(StorageError::backend)?;
        let row = rows.first();
        let cell = |i: usize| row.and_then(|r| r.get(i));
        Ok(LogSummary {
            events: cell(0).and_then(|v| v.as_f64()).unwrap_or(0.0) as u64,
            first_created_at: cell(1).and_then(|v| v.as_str()).map(str::to_owned),
            last_created_at: cell(2).and_then(|v| v.as_str()).map(str::to_owned),
        })
    }

    async fn reset(&self, backend_id: &str) -> Result<(), StorageError> {
        // The events first: if the context update then fails, the old backendId still names an
        // empty log, which clients resync from.
        prepare(&self.db, &schema::delete_events(&self.table), &[])?
            .run()
            .await
            .map_err(StorageError::backend)?;
        self.context.reset(0, backend_id)
    }
}

/// Reads pages of a store's events from D1, each within one D1 response.
pub struct D1Pages {
    db: Rc<D1Database>,
    table: String,
}

impl D1Pages {
    /// Up to `limit` events with `after < seqNum <= until`, fewer when they would not fit one D1
    /// response: their sizes are read first (a small query), then exactly the rows that fit.
    pub async fn read(
        &self,
        after: i64,
        until: i64,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StorageError> {
        let range = [num(after as f64), num(until as f64), num(limit as f64)];
        let sizes: Vec<Vec<f64>> =
            prepare(&self.db, &schema::row_sizes_between(&self.table), &range)?
                .raw()
                .await
                .map_err(StorageError::backend)?;
        let sizes: Vec<u64> = sizes
            .iter()
            .filter_map(|r| r.first())
            .map(|s| *s as u64)
            .collect();
        let n = d1_page_rows(&sizes, limit);
        if n == 0 {
            return Ok(Vec::new());
        }
        let result = prepare(
            &self.db,
            &schema::select_between(&self.table),
            &[num(after as f64), num(until as f64), num(n as f64)],
        )?
        .all()
        .await
        .map_err(StorageError::backend)?;
        Ok(result
            .results::<D1Row>()
            .map_err(StorageError::backend)?
            .into_iter()
            .map(StoredEvent::from)
            .collect())
    }
}
