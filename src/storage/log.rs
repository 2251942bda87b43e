//! The event log as the sync core sees it: the [`EventLog`] interface the Durable Object
//! implements over its SQLite or over D1 (and the tests in memory), and the event it reads back.

use crate::protocol::messages::{Event, EventView};

use super::StorageError;

/// An event as read back from the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    pub seq_num: i64,
    pub parent_seq_num: i64,
    pub name: String,
    /// Raw JSON text; SQL NULL is an event pushed without args, and is sent without them again
    /// (the reference turns it into `"args":null` in history pulls only, §4.3, so two clients
    /// would see different events).
    pub args: Option<String>,
    pub created_at: String,
    pub client_id: String,
    pub session_id: String,
}

impl StoredEvent {
    pub fn view(&self) -> EventView<'_> {
        EventView {
            name: &self.name,
            args: self.args.as_deref(),
            seq_num: self.seq_num,
            parent_seq_num: self.parent_seq_num,
            client_id: &self.client_id,
            session_id: &self.session_id,
            created_at: &self.created_at,
        }
    }
}

/// The store's event log, as the service needs it. Asynchronous because D1 is: over the
/// Durable Object's own SQLite every call completes at once, so a message is still handled in
/// one uninterrupted step there.
#[allow(async_fn_in_trait)] // implemented and awaited only inside this crate and its tests
pub trait EventLog {
    /// How many events have `after < seqNum <= until`.
    async fn count_between(&self, after: i64, until: i64) -> Result<u64, StorageError>;
    /// Up to `limit` events with `after < seqNum <= until`, in ascending order.
    async fn read_between(
        &self,
        after: i64,
        until: i64,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StorageError>;
    /// Appends the batch and records `new_head`, atomically: all of it or none of it.
    async fn append(
        &self,
        batch: &[Event],
        created_at: &str,
        new_head: i64,
    ) -> Result<(), StorageError>;
    /// Appends events that carry their own `createdAt` (an admin import) and records `new_head`,
    /// atomically.
    async fn append_stored(
        &self,
        events: &[StoredEvent],
        new_head: i64,
    ) -> Result<(), StorageError>;
    /// How many events there are, and the `createdAt` of the first and the last.
    async fn summary(&self) -> Result<LogSummary, StorageError>;
    /// Deletes every event and records head 0 with a new `backend_id`, atomically.
    async fn reset(&self, backend_id: &str) -> Result<(), StorageError>;
}

/// The log's size and time span.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogSummary {
    pub events: u64,
    pub first_created_at: Option<String>,
    pub last_created_at: Option<String>,
}
