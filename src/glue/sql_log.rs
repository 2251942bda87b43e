//! [`EventLog`] over the Durable Object's SQLite storage, in the reference's tables.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use worker::{SqlStorage, SqlStorageValue};

use crate::protocol::messages::Event;
use crate::storage::schema;
use crate::sync::backend_id;
use crate::sync::service::{EventLog, LogSummary, StorageError, StoredEvent};

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
    store_id: String,
    table: String,
    /// Test-only fault (see [`FAULT_VARIABLE`]): every append fails inside its transaction,
    /// after its first INSERT statement has written rows.
    fail_inside_transaction: bool,
}

/// `FAULT_INJECTION = "fail-inside-transaction"` makes every push to a store whose id starts with
/// [`FAULT_STORE_PREFIX`] fail with a real SQLite error (a duplicate primary key) after its first
/// rows were written, inside the push's transaction. It exists so that an end-to-end test can
/// prove on workerd that such a push stores nothing. Both conditions are needed, so setting the
/// variable by mistake cannot harm real stores.
pub const FAULT_VARIABLE: &str = "FAULT_INJECTION";
pub const FAULT_STORE_PREFIX: &str = "fault-injection-";

fn storage_error(e: impl std::fmt::Display) -> StorageError {
    StorageError(e.to_string())
}

fn int(v: &SqlStorageValue) -> Option<i64> {
    match v {
        SqlStorageValue::Integer(i) => Some(*i),
        SqlStorageValue::Float(f) if f.fract() == 0.0 => Some(*f as i64),
        _ => None,
    }
}

fn text(v: &SqlStorageValue) -> Option<String> {
    match v {
        SqlStorageValue::String(s) => Some(s.clone()),
        _ => None,
    }
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
        let log = SqlEventLog {
            sql,
            storage: AsRef::<JsValue>::as_ref(storage.as_raw())
                .clone()
                .unchecked_into(),
            store_id: store_id.to_owned(),
            table,
            fail_inside_transaction: fault == Some("fail-inside-transaction")
                && store_id.starts_with(FAULT_STORE_PREFIX),
        };
        log.exec(schema::CREATE_CONTEXT_TABLE, vec![])?;
        log.exec(&schema::create_event_table(&log.table), vec![])?;
        let context = log.rows(schema::SELECT_CONTEXT, vec![store_id.into()])?;
        let max_seq = log
            .rows(&schema::select_max_seq_num(&log.table), vec![])?
            .first()
            .and_then(|r| r.first())
            .and_then(int)
            .unwrap_or(0);
        let stored = context
            .first()
            .and_then(|r| Some((int(r.first()?)?, text(r.get(1)?)?)));
        let (head, backend_id) = match stored {
            Some((head, backend_id)) => {
                if max_seq > head {
                    log.exec(schema::UPDATE_HEAD, vec![max_seq.into(), store_id.into()])?;
                }
                (head.max(max_seq), backend_id)
            }
            None => {
                let backend_id = backend_id::generate().map_err(storage_error)?;
                log.exec(
                    schema::UPSERT_CONTEXT,
                    vec![store_id.into(), max_seq.into(), backend_id.as_str().into()],
                )?;
                (max_seq, backend_id)
            }
        };
        Ok((log, head, backend_id))
    }

    fn exec(&self, query: &str, bindings: Vec<SqlStorageValue>) -> Result<(), StorageError> {
        let cursor = self.sql.exec(query, bindings).map_err(storage_error)?;
        for row in cursor.raw() {
            row.map_err(storage_error)?;
        }
        Ok(())
    }

    fn rows(
        &self,
        query: &str,
        bindings: Vec<SqlStorageValue>,
    ) -> Result<Vec<Vec<SqlStorageValue>>, StorageError> {
        let cursor = self.sql.exec(query, bindings).map_err(storage_error)?;
        cursor
            .raw()
            .collect::<Result<Vec<_>, _>>()
            .map_err(storage_error)
    }
}

impl EventLog for SqlEventLog {
    fn count_between(&self, after: i64, until: i64) -> Result<u64, StorageError> {
        let rows = self.rows(
            &schema::count_between(&self.table),
            vec![after.into(), until.into()],
        )?;
        let n = rows
            .first()
            .and_then(|r| r.first())
            .and_then(int)
            .unwrap_or(0);
        Ok(n.max(0) as u64)
    }

    fn read_between(
        &self,
        after: i64,
        until: i64,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StorageError> {
        self.pages().read(after, until, limit)
    }

    fn append(&self, batch: &[Event], created_at: &str, new_head: i64) -> Result<(), StorageError> {
        let rows: Vec<Row<'_>> = batch.iter().map(|e| Row::pushed(e, created_at)).collect();
        self.insert(&rows, new_head)
    }

    fn append_stored(&self, events: &[StoredEvent], new_head: i64) -> Result<(), StorageError> {
        let rows: Vec<Row<'_>> = events.iter().map(Row::stored).collect();
        self.insert(&rows, new_head)
    }

    fn summary(&self) -> Result<LogSummary, StorageError> {
        let rows = self.rows(&schema::summary(&self.table), vec![])?;
        let row = rows.first();
        let cell = |i: usize| row.and_then(|r| r.get(i));
        Ok(LogSummary {
            events: cell(0).and_then(int).unwrap_or(0).max(0) as u64,
            first_created_at: cell(1).and_then(text),
            last_created_at: cell(2).and_then(text),
        })
    }

    fn reset(&self, backend_id: &str) -> Result<(), StorageError> {
        self.transaction(vec![
            (schema::delete_events(&self.table), vec![]),
            (
                schema::UPSERT_CONTEXT.to_owned(),
                vec![self.store_id.as_str().into(), 0.into(), backend_id.into()],
            ),
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
        let cursor = self
            .sql
            .exec(
                &schema::select_between(&self.table),
                vec![after.into(), until.into(), (limit as i64).into()],
            )
            .map_err(storage_error)?;
        let rows = cursor
            .raw()
            .collect::<Result<Vec<_>, _>>()
            .map_err(storage_error)?;
        rows.iter()
            .map(|r| {
                let get_int = |i: usize| r.get(i).and_then(int);
                let get_text = |i: usize| r.get(i).and_then(text);
                Some(StoredEvent {
                    seq_num: get_int(0)?,
                    parent_seq_num: get_int(1)?,
                    name: get_text(2)?,
                    args: get_text(3),
                    created_at: get_text(4)?,
                    client_id: get_text(5)?,
                    session_id: get_text(6)?,
                })
            })
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| StorageError(format!("malformed row in {}", self.table)))
    }
}

/// One row of the event table, borrowed from a pushed event or an imported one.
struct Row<'a> {
    seq_num: i64,
    parent_seq_num: i64,
    name: &'a str,
    args: Option<&'a str>,
    created_at: &'a str,
    client_id: &'a str,
    session_id: &'a str,
}

impl<'a> Row<'a> {
    fn pushed(e: &'a Event, created_at: &'a str) -> Self {
        Row {
            seq_num: e.seq_num,
            parent_seq_num: e.parent_seq_num,
            name: &e.name,
            args: e.args_text(),
            created_at,
            client_id: &e.client_id,
            session_id: &e.session_id,
        }
    }

    fn stored(e: &'a StoredEvent) -> Self {
        Row {
            seq_num: e.seq_num,
            parent_seq_num: e.parent_seq_num,
            name: &e.name,
            args: e.args.as_deref(),
            created_at: &e.created_at,
            client_id: &e.client_id,
            session_id: &e.session_id,
        }
    }

    /// The bindings, in the column order of `schema::insert_events`.
    fn bind(&self, out: &mut Vec<SqlStorageValue>) {
        out.push(self.seq_num.into());
        out.push(self.parent_seq_num.into());
        out.push(self.name.into());
        out.push(self.args.into());
        out.push(self.created_at.into());
        out.push(self.client_id.into());
        out.push(self.session_id.into());
    }
}

type Statement = (String, Vec<SqlStorageValue>);

impl SqlEventLog {
    /// Inserts the rows (in statements of at most 14 rows: D1's bound-parameter limit, as the
    /// reference does) and records the new head, in one transaction.
    fn insert(&self, rows: &[Row<'_>], new_head: i64) -> Result<(), StorageError> {
        let mut statements: Vec<Statement> = rows
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
        statements.push((
            schema::UPDATE_HEAD.to_owned(),
            vec![new_head.into(), self.store_id.as_str().into()],
        ));
        self.transaction(statements)
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
                StorageError(
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
