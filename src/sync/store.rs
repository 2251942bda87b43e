//! One store: its log, its head and its backendId. What a message does to it is
//! [`super::service`]; how a pull reads it, [`super::pull`].

use crate::protocol::messages::SyncError;
use crate::storage::StorageError;

use super::limits::Limits;

/// One store: its log, its head and its backendId.
#[derive(Debug)]
pub struct Store<L> {
    pub log: L,
    /// `seqNum` of the last stored event; 0 for an empty store.
    pub head: i64,
    pub backend_id: String,
    pub limits: Limits,
    /// Bytes the store holds, kept only when a quota (`MAX_STORE_BYTES`) applies: measured when
    /// the store opens, then grown by each push's encoded events (an estimate, never reread).
    pub stored_bytes: Option<u64>,
}

/// A storage failure as the client sees it: a refusal's reason, or an incident id whose detail
/// only the log gets (see [`super::output::fail`]).
pub(crate) fn storage_failure(e: StorageError) -> SyncError {
    match e {
        StorageError::Refused(reason) => SyncError::unknown("StorageError", reason),
        StorageError::Backend(detail) => SyncError::Storage {
            incident: crate::log::incident_id(),
            detail,
        },
    }
}
