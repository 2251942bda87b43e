//! The DO-RPC subscribers of a store, in the object's SQLite (so they outlive an eviction). The
//! table is made by the first subscription: a store without DO-RPC clients gets none.

use worker::{SqlStorage, SqlStorageValue};

use crate::protocol::messages::CallerContext;
use crate::protocol::rpc::RequestId;
use crate::storage::{schema, StorageError};
use crate::sync::output::RpcSubscription;

use super::{int, rows, text};

/// Every subscriber, oldest first.
pub fn load(sql: &SqlStorage) -> Result<Vec<RpcSubscription>, StorageError> {
    let exists = rows(
        sql,
        schema::TABLE_EXISTS,
        vec![schema::RPC_SUBSCRIBERS.into()],
    )?
    .first()
    .and_then(|r| int(r.first()?))
    .unwrap_or(0)
        > 0;
    if !exists {
        return Ok(Vec::new());
    }
    let rows = rows(sql, schema::SELECT_RPC_SUBSCRIBERS, vec![])?;
    Ok(rows
        .iter()
        .filter_map(|r| {
            Some(RpcSubscription {
                caller: CallerContext {
                    durable_object_id: text(r.first()?)?,
                    binding_name: text(r.get(1)?)?,
                },
                request_id: RequestId::from_json_text(&text(r.get(2)?)?)?,
            })
        })
        .collect())
}

/// Records a subscriber, replacing an earlier one of the same object.
pub fn upsert(sql: &SqlStorage, s: &RpcSubscription, now: String) -> Result<(), StorageError> {
    rows(sql, schema::CREATE_RPC_SUBSCRIBERS, vec![])?;
    rows(
        sql,
        schema::UPSERT_RPC_SUBSCRIBER,
        vec![
            s.caller.durable_object_id.as_str().into(),
            s.caller.binding_name.as_str().into(),
            s.request_id.as_json().into(),
            SqlStorageValue::from(now),
        ],
    )?;
    Ok(())
}

/// Forgets the subscriber that is the object `durable_object_id`.
pub fn delete(sql: &SqlStorage, durable_object_id: &str) -> Result<(), StorageError> {
    rows(
        sql,
        schema::DELETE_RPC_SUBSCRIBER,
        vec![durable_object_id.into()],
    )?;
    Ok(())
}

/// Forgets every subscriber.
pub fn delete_all(sql: &SqlStorage) -> Result<(), StorageError> {
    rows(sql, schema::DELETE_RPC_SUBSCRIBERS, vec![])?;
    Ok(())
}
