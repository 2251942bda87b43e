//! `context_7`: the store's head and backendId, in the object's own SQLite whatever `STORAGE` says
//! (the reference keeps it there in its D1 option too).

use worker::{SqlStorage, SqlStorageValue};

use crate::storage::StorageError;
use crate::storage::{reconcile_head, schema};
use crate::sync::backend_id;

use super::{int, rows, text};

pub struct Context {
    sql: SqlStorage,
    store_id: String,
}

impl Context {
    /// Creates the table if needed.
    pub fn open(sql: SqlStorage, store_id: &str) -> Result<Context, StorageError> {
        let context = Context {
            sql,
            store_id: store_id.to_owned(),
        };
        rows(&context.sql, schema::CREATE_CONTEXT_TABLE, vec![])?;
        Ok(context)
    }

    /// The store's head and backendId, given the last `seqNum` in its log: the head is repaired
    /// from the log when they disagree, and a store seen for the first time gets its backendId.
    pub fn load(&self, max_seq_num: i64) -> Result<(i64, String), StorageError> {
        let stored = rows(
            &self.sql,
            schema::SELECT_CONTEXT,
            vec![self.store_id.as_str().into()],
        )?
        .first()
        .and_then(|r| Some((int(r.first()?)?, text(r.get(1)?)?)));
        let (head, rewrite) = reconcile_head(stored.as_ref().map(|s| s.0), max_seq_num);
        match stored {
            Some((_, backend_id)) => {
                if rewrite {
                    self.set_head(head)?;
                }
                Ok((head, backend_id))
            }
            None => {
                let backend_id = backend_id::generate().map_err(StorageError::backend)?;
                self.reset(head, &backend_id)?;
                Ok((head, backend_id))
            }
        }
    }

    /// The statement that records `head` (to run inside a transaction with the events).
    pub fn head_statement(&self, head: i64) -> (String, Vec<SqlStorageValue>) {
        (
            schema::UPDATE_HEAD.to_owned(),
            vec![head.into(), self.store_id.as_str().into()],
        )
    }

    pub fn set_head(&self, head: i64) -> Result<(), StorageError> {
        let (query, bindings) = self.head_statement(head);
        rows(&self.sql, &query, bindings).map(|_| ())
    }

    /// The statement that starts the store over at `head` with `backend_id`.
    pub fn reset_statement(&self, head: i64, backend_id: &str) -> (String, Vec<SqlStorageValue>) {
        (
            schema::UPSERT_CONTEXT.to_owned(),
            vec![
                self.store_id.as_str().into(),
                head.into(),
                backend_id.into(),
            ],
        )
    }

    pub fn reset(&self, head: i64, backend_id: &str) -> Result<(), StorageError> {
        let (query, bindings) = self.reset_statement(head, backend_id);
        rows(&self.sql, &query, bindings).map(|_| ())
    }
}
