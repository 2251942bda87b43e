//! Push admission: decides, from the store's head, backendId and limits alone, whether a batch is
//! appended (PROTOCOL.md §7.3).
//!
//! The rule: the batch is one *linked chain* that starts at the head — the first event's
//! `parentSeqNum` is the head, every next event's `parentSeqNum` is the previous event's `seqNum`,
//! and `seqNum`s strictly increase (gaps allowed: LiveStore's own conformance suite pushes a chain
//! that starts at 100 from the root). That keeps what matters — a batch is stored whole or not at
//! all, no event can collide with a stored row or be stored twice, and the head is always the last
//! stored `seqNum` — while accepting every log the reference accepts from a well-behaved client.
//! The reference checks only the first parent (and could store half a batch and wedge: t09, t11).

use crate::protocol::messages::{Event, PushRequest, SyncError, MAX_SAFE_INTEGER};

use super::limits::{json_depth, Limits};

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
pub fn admit(
    head: i64,
    backend_id: &str,
    request: &PushRequest,
    limits: &Limits,
) -> Result<Admission, SyncError> {
    let (Some(first), Some(last)) = (request.batch.first(), request.batch.last()) else {
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
    check_shape(&request.batch, limits)?;
    if first.parent_seq_num != head {
        return Err(SyncError::ServerAhead {
            minimum_expected_num: head,
            provided_num: first.parent_seq_num,
        });
    }
    check_chain(&request.batch)?;
    Ok(Admission::Append {
        new_head: last.seq_num,
    })
}

/// The bounds a batch must keep whatever the store's state: its length and each event's `args`
/// nesting (`MAX_PUSH_EVENTS`, `MAX_ARGS_DEPTH`).
fn check_shape(batch: &[Event], limits: &Limits) -> Result<(), SyncError> {
    if batch.len() > limits.max_push_events {
        return Err(invalid(format!(
            "a push carries at most {} events (MAX_PUSH_EVENTS); this one has {}: send them in several pushes",
            limits.max_push_events,
            batch.len()
        )));
    }
    for (i, event) in batch.iter().enumerate() {
        if let Some(reason) = args_depth_error(event.args_text(), limits) {
            return Err(invalid(format!(
                "event {i} of the batch (seqNum {}): {reason}",
                event.seq_num
            )));
        }
    }
    Ok(())
}

/// Why `args` nest too deeply, if they do (shared by pushes and admin imports).
pub fn args_depth_error(args: Option<&str>, limits: &Limits) -> Option<String> {
    let depth = json_depth(args?);
    (depth > limits.max_args_depth).then(|| {
        format!(
            "args nest {depth} levels deep; the limit is {} (MAX_ARGS_DEPTH)",
            limits.max_args_depth
        )
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

/// The batch must be a linked chain from its first event's parent (the module's rule).
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

/// Why a sequence of `(parentSeqNum, seqNum)` links is not one linked chain starting after
/// `head` (`None` if it is): each parent is the previous `seqNum` (the head for the first), each
/// `seqNum` is greater than its parent and a safe JavaScript integer. Shared by pushes and
/// admin imports.
pub fn chain_error(head: i64, links: impl Iterator<Item = (i64, i64)>) -> Option<String> {
    let mut expected_parent = head;
    for (i, (parent, seq)) in links.enumerate() {
        if parent != expected_parent {
            return Some(format!(
                "event {i} of the batch has parentSeqNum {parent} but the previous event has seqNum {expected_parent}"
            ));
        }
        if seq <= parent {
            return Some(format!(
                "event {i} of the batch has seqNum {seq} but its parentSeqNum is {parent}; seqNum must be greater than parentSeqNum"
            ));
        }
        if seq > MAX_SAFE_INTEGER {
            return Some(format!(
                "event {i} of the batch has seqNum {seq}, beyond the largest safe integer {MAX_SAFE_INTEGER}"
            ));
        }
        expected_parent = seq;
    }
    None
}

fn invalid(message: String) -> SyncError {
    SyncError::unknown("InvalidPushError", message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gapped_chains_are_linked_chains() {
        assert_eq!(
            chain_error(0, [(0, 100), (100, 101), (101, 250)].into_iter()),
            None
        );
        assert!(chain_error(0, [(0, 5), (4, 6)].into_iter())
            .unwrap()
            .contains("parentSeqNum 4"));
        assert!(chain_error(0, [(0, 5), (5, 5)].into_iter())
            .unwrap()
            .contains("greater than parentSeqNum"));
        assert!(chain_error(7, [(7, 3)].into_iter()).is_some());
        assert!(chain_error(0, [(0, MAX_SAFE_INTEGER + 1)].into_iter())
            .unwrap()
            .contains("safe integer"));
    }
}
