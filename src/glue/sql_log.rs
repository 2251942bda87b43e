//! [`EventLog`] over the Durable Object's SQLite storage, in the reference's tables.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use worker::{SqlStorage, SqlStorageValue};

use crate::protocol::messages::Event;
use crate::storage::schema;
use crate::sync::backend_id;
use crate::sync::service::{EventLog, StorageError, StoredEvent};

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
        let rows = self.rows(
            &schema::select_between(&self.table),
            vec![after.into(), until.into(), (limit as i64).into()],
        )?;
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

    fn append(&self, batch: &[Event], created_at: &str, new_head: i64) -> Result<(), StorageError> {
        let mut statements: Vec<(String, Vec<SqlStorageValue>)> = batch
            .chunks(schema::INSERT_ROWS_PER_STATEMENT)
            .map(|rows| {
                let mut bindings = Vec::with_capacity(rows.len() * 7);
                for e in rows {
                    bindings.push(e.seq_num.into());
                    bindings.push(e.parent_seq_num.into());
                    bindings.push(e.name.as_str().into());
                    bindings.push(e.args_text().into());
                    bindings.push(created_at.into());
                    bindings.push(e.client_id.as_str().into());
                    bindings.push(e.session_id.as_str().into());
                }
                (schema::insert_events(&self.table, rows.len()), bindings)
            })
            .collect();
        if self.fail_inside_transaction {
            if let Some(first) = batch.first() {
                // the batch's first row once more: SQLite refuses it (UNIQUE seqNum) after the
                // first statement's rows were written
                let rows = std::slice::from_ref(first);
                let bindings = vec![
                    first.seq_num.into(),
                    first.parent_seq_num.into(),
                    first.name.as_str().into(),
                    first.args_text().into(),
                    created_at.into(),
                    first.client_id.as_str().into(),
                    first.session_id.as_str().into(),
                ];
                statements.insert(
                    1,
                    (schema::insert_events(&self.table, rows.len()), bindings),
                );
            }
        }
        statements.push((
            schema::UPDATE_HEAD.to_owned(),
            vec![new_head.into(), self.store_id.as_str().into()],
        ));
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
}
