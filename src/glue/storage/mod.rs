//! The event log behind a store, wherever `STORAGE` puts it: the object's own SQLite
//! ([`sql_log`]) or D1 ([`d1_log`]); `context_7` always in the object's SQLite ([`context`]), and
//! so are the DO-RPC subscribers ([`subscribers`]).

pub mod context;
pub mod d1_log;
pub mod sql_log;
pub mod subscribers;

use wasm_bindgen::JsValue;
use worker::{Env, SqlStorage, SqlStorageValue, State};

use crate::config::Config;
use crate::protocol::messages::Event;
use crate::storage::{storage_conflict, StorageKind};
use crate::storage::{EventLog, LogSummary, StorageError, StoredEvent};

use d1_log::{D1EventLog, D1Pages};
use sql_log::{PageReader, SqlEventLog};

pub fn int(v: &SqlStorageValue) -> Option<i64> {
    match v {
        SqlStorageValue::Integer(i) => Some(*i),
        SqlStorageValue::Float(f) if f.fract() == 0.0 => Some(*f as i64),
        _ => None,
    }
}

pub fn text(v: &SqlStorageValue) -> Option<String> {
    match v {
        SqlStorageValue::String(s) => Some(s.clone()),
        _ => None,
    }
}

/// All rows of a query on the object's SQLite.
pub fn rows(
    sql: &SqlStorage,
    query: &str,
    bindings: Vec<SqlStorageValue>,
) -> Result<Vec<Vec<SqlStorageValue>>, StorageError> {
    let cursor = sql.exec(query, bindings).map_err(StorageError::backend)?;
    cursor
        .raw()
        .collect::<Result<Vec<_>, _>>()
        .map_err(StorageError::backend)
}

/// An event from the columns of `schema::select_between` (by index), `None` if one is missing.
pub fn stored_event(
    int: impl Fn(usize) -> Option<i64>,
    text: impl Fn(usize) -> Option<String>,
) -> Option<StoredEvent> {
    Some(StoredEvent {
        seq_num: int(0)?,
        parent_seq_num: int(1)?,
        name: text(2)?,
        args: text(3),
        created_at: text(4)?,
        client_id: text(5)?,
        session_id: text(6)?,
    })
}

/// One row of the event table, borrowed from a pushed event or an imported one, in the column
/// order of `schema::insert_events`.
pub struct Row<'a> {
    seq_num: i64,
    parent_seq_num: i64,
    name: &'a str,
    args: Option<&'a str>,
    created_at: &'a str,
    client_id: &'a str,
    session_id: &'a str,
}

impl<'a> Row<'a> {
    pub fn pushed(e: &'a Event, created_at: &'a str) -> Self {
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

    pub fn stored(e: &'a StoredEvent) -> Self {
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

    /// Bindings for the object's SQLite.
    pub fn bind(&self, out: &mut Vec<SqlStorageValue>) {
        out.push(self.seq_num.into());
        out.push(self.parent_seq_num.into());
        out.push(self.name.into());
        out.push(self.args.into());
        out.push(self.created_at.into());
        out.push(self.client_id.into());
        out.push(self.session_id.into());
    }

    /// Bindings for D1 (sequence numbers are JS numbers: exact up to 2^53, which pushes check).
    pub fn bind_js(&self, out: &mut Vec<JsValue>) {
        out.push(JsValue::from_f64(self.seq_num as f64));
        out.push(JsValue::from_f64(self.parent_seq_num as f64));
        out.push(JsValue::from_str(self.name));
        out.push(self.args.map_or(JsValue::NULL, JsValue::from_str));
        out.push(JsValue::from_str(self.created_at));
        out.push(JsValue::from_str(self.client_id));
        out.push(JsValue::from_str(self.session_id));
    }
}

/// The store's log in whichever storage holds it.
pub enum AnyLog {
    Sql(SqlEventLog),
    D1(D1EventLog),
}

/// Opens the store's log where `STORAGE` says, after checking that the store does not live in
/// the other storage. Returns the log, its head and its backendId.
pub async fn open(
    state: &State,
    env: &Env,
    config: &Config,
    store_id: &str,
) -> Result<(AnyLog, i64, String), StorageError> {
    let sql = state.storage().sql();
    let kind = &config.storage;
    let fault = config.fault_injection.as_deref();
    match kind {
        StorageKind::DurableObjectSqlite => {
            // a D1 binding (D1_BINDING, default DB) may hold this store's events already
            let in_d1 = match env.d1(&config.d1_binding) {
                Ok(db) => Some(D1EventLog::events_of(&db, store_id).await?),
                Err(_) => None,
            };
            if let Some(conflict) = storage_conflict(kind, 0, in_d1) {
                return Err(StorageError::Refused(conflict));
            }
            let (log, head, backend_id) = SqlEventLog::open(state.storage(), store_id, fault)?;
            Ok((AnyLog::Sql(log), head, backend_id))
        }
        StorageKind::D1 { binding } => {
            let in_object = SqlEventLog::events_of(&sql, store_id)?;
            if let Some(conflict) = storage_conflict(kind, in_object, None) {
                return Err(StorageError::Refused(conflict));
            }
            let db = env.d1(binding).map_err(|_| {
                StorageError::Refused(format!(
                    "STORAGE=d1 but there is no D1 binding named {binding:?} (D1_BINDING)"
                ))
            })?;
            let (log, head, backend_id) = D1EventLog::open(db, sql, store_id, fault).await?;
            Ok((AnyLog::D1(log), head, backend_id))
        }
    }
}

impl AnyLog {
    /// A page reader that owns its handles, for a response streamed after the handler returned.
    pub fn pages(&self) -> Pages {
        match self {
            AnyLog::Sql(l) => Pages::Sql(l.pages()),
            AnyLog::D1(l) => Pages::D1(l.pages()),
        }
    }

    /// Bytes the store takes: the object's SQLite database, or the store's rows in D1.
    pub async fn stored_bytes(&self) -> Result<u64, StorageError> {
        match self {
            AnyLog::Sql(l) => Ok(l.database_size()),
            AnyLog::D1(l) => l.stored_bytes().await,
        }
    }
}

/// Runs the same call on whichever log `self` is.
macro_rules! on_log {
    ($self:expr, $log:ident => $call:expr) => {
        match $self {
            AnyLog::Sql($log) => $call,
            AnyLog::D1($log) => $call,
        }
    };
}

impl EventLog for AnyLog {
    async fn count_between(&self, after: i64, until: i64) -> Result<u64, StorageError> {
        on_log!(self, l => l.count_between(after, until).await)
    }

    async fn read_between(
        &self,
        after: i64,
        until: i64,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StorageError> {
        on_log!(self, l => l.read_between(after, until, limit).await)
    }

    async fn append(
        &self,
        batch: &[Event],
        created_at: &str,
        new_head: i64,
    ) -> Result<(), StorageError> {
        on_log!(self, l => l.append(batch, created_at, new_head).await)
    }

    async fn append_stored(
        &self,
        events: &[StoredEvent],
        new_head: i64,
    ) -> Result<(), StorageError> {
        on_log!(self, l => l.append_stored(events, new_head).await)
    }

    async fn summary(&self) -> Result<LogSummary, StorageError> {
        on_log!(self, l => l.summary().await)
    }

    async fn reset(&self, backend_id: &str) -> Result<(), StorageError> {
        on_log!(self, l => l.reset(backend_id).await)
    }
}

/// Reads pages of a store's events, in either storage.
pub enum Pages {
    Sql(PageReader),
    D1(D1Pages),
}

impl Pages {
    /// Up to `limit` events with `after < seqNum <= until`, in ascending order (fewer from D1
    /// when they would not fit one D1 response).
    pub async fn read(
        &self,
        after: i64,
        until: i64,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StorageError> {
        match self {
            Pages::Sql(p) => p.read(after, until, limit),
            Pages::D1(p) => p.read(after, until, limit).await,
        }
    }
}
