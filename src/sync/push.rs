//! Push admission: decides, from the store's head and backendId alone, whether a batch is
//! appended (PROTOCOL.md §7.3). Stricter than the reference on purpose: the batch must be one
//! contiguous chain starting at the head, so a batch is either stored whole or not at all and can
//! never collide with stored rows (the reference could store half a batch and wedge: t09, t11).

use crate::protocol::messages::{Event, PushRequest, SyncError, MAX_SAFE_INTEGER};

use super::limits::Limits;

/// What to do with an admitted push.
#[derive(Debug, PartialEq, Eq)]
pub enum Admission {
    /// Empty batch: acknowledge, store nothing, broadcast nothing (checked before anything else,
    /// even a wrong backendId, as the reference does: t05).
    Empty,
    /// Append the whole batch; the head becomes `new_head`.
    Append { new_head: i64 },
}

/// Checks a push against the store's state. Pure: the caller persists and broadcasts.
pub fn admit(head: i64, backend_id: &str, request: &PushRequest) -> Result<Admission, SyncError> {
    let Some(first) = request.batch.first() else {
        return Ok(Admission::Empty);
    };
    if let Some(received) = &request.backend_id {
        if received != backend_id {
            return Err(SyncError::BackendIdMismatch {
                expected: backend_id.to_owned(),
                received: received.clone(),
            });
        }
    }
    if first.parent_seq_num != head {
        return Err(SyncError::ServerAhead {
            minimum_expected_num: head,
            provided_num: first.parent_seq_num,
        });
    }
    check_chain(&request.batch)?;
    let last = request.batch.last().unwrap_or(first);
    Ok(Admission::Append {
        new_head: last.seq_num,
    })
}

/// Every event must fit alone in one `PullResponse`, or it could never be delivered (the
/// reference accepts it and then fails every pull: t10). `items` are the batch's encoded
/// `PullResponse` items, in order: encoded once, for this check and for the broadcast.
pub fn check_deliverable(
    batch: &[Event],
    items: &[String],
    limits: &Limits,
) -> Result<(), SyncError> {
    for (event, item) in batch.iter().zip(items) {
        if item.len() > limits.max_event_bytes() {
            return Err(invalid(format!(
                "event {} is {} bytes encoded; the largest event that can be delivered is {} bytes",
                event.seq_num,
                item.len(),
                limits.max_event_bytes()
            )));
        }
    }
    Ok(())
}

/// Every event must follow its predecessor: `parentSeqNum` = previous `seqNum` and
/// `seqNum = parentSeqNum + 1`. That is what LiveStore clients produce for global events.
fn check_chain(batch: &[Event]) -> Result<(), SyncError> {
    let Some(first) = batch.first() else {
        return Ok(());
    };
    chain_error(
        first.parent_seq_num,
        batch.iter().map(|e| (e.parent_seq_num, e.seq_num)),
    )
    .map_or(Ok(()), |m| Err(invalid(m)))
}

/// Why a sequence of `(parentSeqNum, seqNum)` links is not one contiguous chain starting after
/// `head` (`None` if it is). Shared by pushes and admin imports.
pub fn chain_error(head: i64, links: impl Iterator<Item = (i64, i64)>) -> Option<String> {
    let mut expected_parent = head;
    for (i, (parent, seq)) in links.enumerate() {
        if parent != expected_parent {
            return Some(format!(
                "event {i} of the batch has parentSeqNum {parent} but the previous event has seqNum {expected_parent}"
            ));
        }
        if seq != parent + 1 || seq > MAX_SAFE_INTEGER {
            return Some(format!(
                "event {i} of the batch has seqNum {seq} but its parentSeqNum is {parent}; seqNum must be parentSeqNum + 1"
            ));
        }
        expected_parent = seq;
    }
    None
}

fn invalid(message: String) -> SyncError {
    SyncError::unknown("InvalidPushError", message)
}
