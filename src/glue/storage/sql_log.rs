//! [`EventLog`] over the Durable Object's SQLite storage, in the reference's tables.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use worker::{SqlStorage, SqlStorageValue};

use crate::protocol::messages::Event;
use crate::storage::schema;
use crate::storage::{EventLog, LogSummary, StorageError, StoredEvent};

use super::context::Context;
use super::{int, rows, stored_event, text, Row};

#[wasm_bindgen]
extern "C" {
    /// `ctx.storage`, seen through the one method workers-rs 0.8.7 does not bind.
    type TransactionalStorage;

    /// `ctx.storage.transactionSync(fn)`: runs `fn` in one SQLite transaction, rolled back if it
    /// throws.
    #[wasm_bindgen(method, catch, js_name = transactionSync)]
    fn transaction_sync(
        this: &TransactionalStorage,
        closure: &js_sys::Function,
    ) -> Result<JsValue, JsValue>;
}

pub struct SqlEventLog {
    sql: SqlStorage,
    storage: TransactionalStorage,
    context: Context,
    table: String,
    /// Test-only fault (see [`fault_applies`]): every append fails inside its transaction,
    /// after its first INSERT statement has written rows.
    fail_inside_transaction: bool,
}

/// In a build with the `fault-injection` feature (the end-to-end tests' build; never a release),
/// `FAULT_INJECTION = "fail-inside-transaction"` makes every push to a store whose id starts with
/// [`FAULT_STORE_PREFIX`] fail with a real SQLite error (a duplicate primary key) after its first
/// rows were written, inside the push's transaction. It exists so that an end-to-end test can
/// prove on workerd that such a push stores nothing. Both conditions are needed, so setting the
/// variable by mistake cannot harm real stores.
pub const FAULT_STORE_PREFIX: &str = "fault-injection-";

/// Whether the test-only fault is on for this store.
pub fn fault_applies(fault: Option<&str>, store_id: &str) -> bool {
    cfg!(feature = "fault-injection")
        && fault == Some("fail-inside-transaction")
        && store_id.starts_with(FAULT_STORE_PREFIX)
}

impl SqlEventLog {
    /// Opens (creating if needed) the store's tables and returns the log with the store's head
    /// and backendId. The head is repaired from the log if the two ever disagree, so a crash
    /// between writes can never wedge the store.
    pub fn open(
        storage: worker::Storage,
        store_id: &str,
        fault: Option<&str>,
    ) -> Result<(SqlEventLog, i64, String), StorageError> {
        let sql = storage.sql();
        let table = schema::event_table_name(store_id);
        let context = Context::open(sql.clone(), store_id)?;
        let log = SqlEventLog {
            sql,
            storage: AsRef::<JsValue>::as_ref(storage.as_raw())
                .clone()
                .unchecked_into(),
            context,
            table,
            fail_inside_transaction: fault_applies(fault, store_id),
        };
        rows(&log.sql, &schema::create_event_table(&log.table), vec![])?;
        rows(
            &log.sql,
            &schema::create_head_trigger(&log.table, store_id),
            vec![],
        )?;
        // the first trigger wrote the head once per row; it goes once its successor is in place
        rows(&log.sql, &schema::drop_old_head_trigger(&log.table), vec![])?;
        let max_seq = first_int(&log.sql, &schema::select_max_seq_num(&log.table), vec![])?;
        let (head, backend_id) = log.context.load(max_seq)?;
        Ok((log, head, backend_id))
    }

    /// How many events the store has in this object's SQLite, without creating its table (to
    /// notice a store that lives here while `STORAGE` says elsewhere).
    pub fn events_of(sql: &SqlStorage, store_id: &str) -> Result<u64, StorageError> {
        let table = schema::event_table_name(store_id);
        if first_int(sql, schema::TABLE_EXISTS, vec![table.as_str().into()])? == 0 {
            return Ok(0);
        }
        Ok(first_int(sql, &format!(r#"SELECT COUNT(*) FROM "{table}""#), vec![])?.max(0) as u64)
    }
}

/// The first column of the first row of a query, as an integer (0 when there is none).
fn first_int(
    sql: &SqlStorage,
    query: &str,
    bindings: Vec<SqlStorageValue>,
) -> Result<i64, StorageError> {
    Ok(rows(sql, query, bindings)?
        .first()
        .and_then(|r| r.first())
        .and_then(int)
        .unwrap_or(0))
}

impl EventLog for SqlEventLog {
    async fn count_between(&self, after: i64, until: i64) -> Result<u64, StorageError> {
        let n = first_int(
            &self.sql,
            &schema::count_between(&self.table),
            vec![after.into(), until.into()],
        )?;
        Ok(n.max(0) as u64)
    }

    async fn read_between(
        &self,
        after: i64,
        until: i64,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StorageError> {
        self.pages().read(after, until, limit)
    }

    async fn append(
        &self,
        batch: &[Event],
        created_at: &str,
        _new_head: i64, // the last seqNum: the head trigger records it
    ) -> Result<(), StorageError> {
        let rows: Vec<Row<'_>> = batch.iter().map(|e| Row::pushed(e, created_at)).collect();
        self.insert(&rows)
    }

    async fn append_stored(
        &self,
        events: &[StoredEvent],
        _new_head: i64, // the last seqNum: the head trigger records it
    ) -> Result<(), StorageError> {
        let rows: Vec<Row<'_>> = events.iter().map(Row::stored).collect();
        self.insert(&rows)
    }

    async fn summary(&self) -> Result<LogSummary, StorageError> {
        let rows = rows(&self.sql, &schema::summary(&self.table), vec![])?;
        let row = rows.first();
        let cell = |i: usize| row.and_then(|r| r.get(i));
        Ok(LogSummary {
            events: cell(0).and_then(int).unwrap_or(0).max(0) as u64,
            first_created_at: cell(1).and_then(text),
            last_created_at: cell(2).and_then(text),
        })
    }

    async fn reset(&self, backend_id: &str) -> Result<(), StorageError> {
        self.transaction(vec![
            (schema::delete_events(&self.table), vec![]),
            self.context.reset_statement(0, backend_id),
        ])
    }
}

/// Reads pages of events: one query per page.
pub struct PageReader {
    sql: SqlStorage,
    table: String,
}

impl PageReader {
    /// Up to `limit` events with `after < seqNum <= until`, in ascending order.
    pub fn read(
        &self,
        after: i64,
        until: i64,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StorageError> {
        rows(
            &self.sql,
            &schema::select_between(&self.table),
            vec![after.into(), until.into(), (limit as i64).into()],
        )?
        .iter()
        .map(|r| stored_event(|i| r.get(i).and_then(int), |i| r.get(i).and_then(text)))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| StorageError::Backend(format!("malformed row in {}", self.table)))
    }
}

type Statement = (String, Vec<SqlStorageValue>);

impl SqlEventLog {
    /// Inserts the rows (in statements of at most 14 rows: D1's bound-parameter limit, as the
    /// reference does); the head trigger records the new head. One statement is atomic by itself;
    /// several run in one transaction. The rows go in from the highest `seqNum` down, so that the
    /// trigger moves the head once, with the first row (each row written is a billed unit; the
    /// order of the rows in the table is their `seqNum` whatever the order of insertion).
    fn insert(&self, rows: &[Row<'_>]) -> Result<(), StorageError> {
        let descending: Vec<&Row<'_>> = rows.iter().rev().collect();
        let mut statements: Vec<Statement> = descending
            .chunks(schema::INSERT_ROWS_PER_STATEMENT)
            .map(|chunk| {
                let mut bindings = Vec::with_capacity(chunk.len() * 7);
                chunk.iter().for_each(|r| r.bind(&mut bindings));
                (schema::insert_events(&self.table, chunk.len()), bindings)
            })
            .collect();
        if self.fail_inside_transaction {
            if let Some(first) = rows.first() {
                // the batch's first row once more: SQLite refuses it (UNIQUE seqNum) after the
                // first statement's rows were written
                let mut bindings = Vec::with_capacity(7);
                first.bind(&mut bindings);
                statements.insert(1, (schema::insert_events(&self.table, 1), bindings));
            }
        }
        if statements.len() == 1 {
            if let Some((query, bindings)) = statements.pop() {
                return self.exec(&query, bindings);
            }
        }
        self.transaction(statements)
    }

    /// One statement, outside any explicit transaction.
    fn exec(&self, query: &str, bindings: Vec<SqlStorageValue>) -> Result<(), StorageError> {
        let cursor = self
            .sql
            .exec(query, bindings)
            .map_err(StorageError::backend)?;
        for row in cursor.raw() {
            row.map_err(StorageError::backend)?;
        }
        Ok(())
    }

    /// Runs the statements in one `transactionSync`: all of them, or none if one fails.
    fn transaction(&self, statements: Vec<Statement>) -> Result<(), StorageError> {
        let sql = self.sql.clone();
        let body = Closure::once_into_js(move || -> Result<JsValue, JsValue> {
            for (query, bindings) in statements {
                let cursor = sql
                    .exec(&query, bindings)
                    .map_err(|e| JsValue::from_str(&e.to_string()))?;
                for row in cursor.raw() {
                    row.map_err(|e| JsValue::from_str(&e.to_string()))?;
                }
            }
            Ok(JsValue::UNDEFINED)
        });
        self.storage
            .transaction_sync(body.unchecked_ref())
            .map(|_| ())
            .map_err(|e| {
                StorageError::Backend(
                    e.as_string()
                        .or_else(|| {
                            js_sys::Reflect::get(&e, &"message".into())
                                .ok()
                                .and_then(|m| m.as_string())
                        })
                        .unwrap_or_else(|| "transaction failed".into()),
                )
            })
    }

    /// A reader of this log's pages that owns its handles, for a response streamed after the
    /// handler returned.
    pub fn pages(&self) -> PageReader {
        PageReader {
            sql: self.sql.clone(),
            table: self.table.clone(),
        }
    }

    /// Bytes of the object's SQLite database.
    pub fn database_size(&self) -> u64 {
        self.sql.database_size() as u64
    }
}
