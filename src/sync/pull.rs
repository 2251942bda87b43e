//! Pulls: packing events into `PullResponse`s, and pacing a pull's history.
//!
//! **Packing** (PROTOCOL.md §7.6 step 4, §7.5): at most `max_events_per_response` events and
//! `max_response_bytes` of JSON each. Each item is encoded once and its length summed, so packing
//! is linear (the reference re-encodes the growing response after every event). Unlike the
//! reference, responses do not restart at 256-row read pages: 600 events come back as 100×6,
//! not 100/100/56/….
//!
//! **Pacing**: at most [`PULL_WINDOW`] chunks of one pull are unacknowledged at a time (the
//! reference waits for an Ack after *every* chunk), so a pull of a huge store streams with
//! bounded memory and without an Ack round trip per chunk. A live pull registers for broadcasts
//! in the same step that sends the last of its history, so it sees every event exactly once.

use crate::protocol::messages::{encode_pull_response, PageInfo, PullRequest, SyncError};
use crate::protocol::rpc::{self, RequestId};
use crate::storage::{EventLog, StoredEvent};

use super::activity::Activity;
use super::call::PullMode;
use super::connection::{Connection, PendingPull};
use super::limits::Limits;
use super::output::{fail, Output, RpcSubscription};
use super::store::{storage_failure, Store};

/// Chunks of one pull that may be in flight without an Ack: enough to keep a long link busy, few
/// enough that a slow client makes the object hold at most this many responses.
pub const PULL_WINDOW: u32 = 8;

/// Rows read per query outside paced history (catch-up after a paced live pull).
const CATCH_UP_PAGE_ROWS: usize = 1_000;

/// The longest prefix of `items` that fits one response. Never empty when `items` is not: an item
/// too big for any response goes out alone (only events stored by the reference can be that big;
/// ours are refused at push).
pub fn fit_response(items: impl Iterator<Item = String>, limits: &Limits) -> Vec<String> {
    let mut fitted: Vec<String> = Vec::new();
    let mut bytes = 0;
    for item in items.take(limits.max_events_per_response) {
        let added = item.len() + usize::from(!fitted.is_empty());
        if !fitted.is_empty() && bytes + added > limits.items_budget() {
            break;
        }
        bytes += added;
        fitted.push(item);
    }
    fitted
}

/// Packs a run of items into `NoMore` responses as they come: the live broadcast of a push, and
/// the catch-up of a live pull.
#[derive(Debug)]
pub struct Chunker<'a> {
    backend_id: &'a str,
    limits: &'a Limits,
    items: Vec<String>,
    bytes: usize,
}

impl<'a> Chunker<'a> {
    pub fn new(backend_id: &'a str, limits: &'a Limits) -> Self {
        Chunker {
            backend_id,
            limits,
            items: Vec::new(),
            bytes: 0,
        }
    }

    /// Adds one encoded item; returns a finished response when the item did not fit beside the
    /// ones already held.
    pub fn push(&mut self, item: String) -> Option<String> {
        let added = item.len() + usize::from(!self.items.is_empty());
        let full = self.items.len() >= self.limits.max_events_per_response
            || (!self.items.is_empty() && self.bytes + added > self.limits.items_budget());
        let out = if full { Some(self.flush()) } else { None };
        self.bytes += item.len() + usize::from(!self.items.is_empty());
        self.items.push(item);
        out
    }

    /// The last response, if any items are left.
    pub fn finish(mut self) -> Option<String> {
        (!self.items.is_empty()).then(|| self.flush())
    }

    /// Packs all of `items`, handing each finished response to `emit`.
    pub fn pack(
        backend_id: &str,
        limits: &Limits,
        items: impl IntoIterator<Item = String>,
        emit: &mut dyn FnMut(String),
    ) {
        let mut chunker = Chunker::new(backend_id, limits);
        for item in items {
            if let Some(response) = chunker.push(item) {
                emit(response);
            }
        }
        if let Some(response) = chunker.finish() {
            emit(response);
        }
    }

    fn flush(&mut self) -> String {
        let response = encode_pull_response(&self.items, PageInfo::NoMore, self.backend_id);
        self.items.clear();
        self.bytes = 0;
        response
    }
}

impl<L: EventLog> Store<L> {
    /// Starts a pull (§4.7, §7.6): checks the cursor, sends the first window of history, and
    /// either finishes it or leaves it pending on the connection. Returns whether `conn` changed.
    pub(crate) async fn start_pull(
        &self,
        conn: &mut Connection,
        id: RequestId,
        pull: &PullRequest,
        mode: PullMode,
        out: &mut dyn FnMut(Output),
    ) -> Result<bool, SyncError> {
        let mut after = 0;
        if let Some(cursor) = &pull.cursor {
            if cursor.backend_id != self.backend_id {
                return Err(SyncError::BackendIdMismatch {
                    expected: self.backend_id.clone(),
                    received: cursor.backend_id.clone(),
                });
            }
            after = cursor.event_sequence_number;
        }
        let until = self.head;
        let remaining = self
            .log
            .count_between(after, until)
            .await
            .map_err(storage_failure)?;
        let (live, caller) = match mode {
            PullMode::Once => (false, None),
            PullMode::Live => (true, None),
            PullMode::Subscribe(caller) => (false, Some(caller)),
        };
        out(Output::Activity(Activity::Pull {
            after,
            events: remaining,
            live: live || caller.is_some(),
        }));
        let mut pull = PendingPull {
            id,
            after,
            until,
            remaining,
            live,
            unacked: 0,
            sent: 0,
            caller,
        };
        // An HTTP answer is one body without Acks: the first window goes out from here, the glue
        // streams the rest of the history into the same body page by page ([`HttpHistory`]), so
        // that no pull is ever held in memory whole.
        if self.send_history(&mut pull, PULL_WINDOW, out).await? {
            self.finish_pull(conn, pull, out).await?;
            Ok(live)
        } else {
            conn.pending_pulls.push(pull);
            Ok(true)
        }
    }

    /// DO-RPC: the caller has read what the stream carried so far; send the next window of
    /// every pull still sending its history. Returns whether one still is.
    pub async fn continue_pulls(&self, conn: &mut Connection, out: &mut dyn FnMut(Output)) -> bool {
        let ids: Vec<RequestId> = conn.pending_pulls.iter().map(|p| p.id.clone()).collect();
        for id in ids {
            self.acknowledge(conn, &id, u32::MAX, out).await;
        }
        !conn.pending_pulls.is_empty()
    }

    /// An Ack frees `freed` slots in its pull's window: send more history, finish it when done.
    /// Returns whether `conn` changed.
    pub(crate) async fn acknowledge(
        &self,
        conn: &mut Connection,
        id: &RequestId,
        freed: u32,
        out: &mut dyn FnMut(Output),
    ) -> bool {
        let Some(pos) = conn.pending_pulls.iter().position(|p| p.id == *id) else {
            // Acks of live broadcasts and of finished pulls need nothing (§3.5).
            return false;
        };
        let mut pull = conn.pending_pulls.remove(pos);
        pull.unacked = pull.unacked.saturating_sub(freed);
        let result = match self.send_history(&mut pull, PULL_WINDOW, out).await {
            Ok(true) => {
                let id = pull.id.clone();
                self.finish_pull(conn, pull, out).await.map_err(|e| (id, e))
            }
            Ok(false) => {
                conn.pending_pulls.insert(pos, pull);
                Ok(())
            }
            Err(e) => Err((pull.id, e)),
        };
        if let Err((id, e)) = result {
            fail(&id, &e, out);
        }
        true
    }

    /// Sends history responses while fewer than `window` are unacknowledged. Returns `true` once
    /// the whole history (at least one response) has been sent.
    async fn send_history(
        &self,
        pull: &mut PendingPull,
        window: u32,
        out: &mut dyn FnMut(Output),
    ) -> Result<bool, SyncError> {
        loop {
            if pull.remaining == 0 && pull.sent > 0 {
                return Ok(true);
            }
            if pull.unacked >= window {
                return Ok(false);
            }
            let rows = if pull.remaining == 0 {
                Vec::new()
            } else {
                self.log
                    .read_between(pull.after, pull.until, self.limits.max_events_per_response)
                    .await
                    .map_err(storage_failure)?
            };
            out(Output::Reply(history_frame(
                pull,
                &rows,
                &self.limits,
                &self.backend_id,
            )));
            pull.unacked += 1;
        }
    }

    /// History done: a live pull first gets the events admitted while its history was paced,
    /// then joins the broadcasts (all in this one step, so nothing falls between); a DO-RPC
    /// live pull likewise subscribes its caller, and ends; a non-live pull ends.
    async fn finish_pull(
        &self,
        conn: &mut Connection,
        pull: PendingPull,
        out: &mut dyn FnMut(Output),
    ) -> Result<(), SyncError> {
        if !pull.live && pull.caller.is_none() {
            out(Output::Reply(rpc::exit_stream_done(&pull.id)));
            return Ok(());
        }
        let mut after = pull.until;
        while after < self.head {
            let rows = self
                .log
                .read_between(after, self.head, CATCH_UP_PAGE_ROWS)
                .await
                .map_err(storage_failure)?;
            let Some(last) = rows.last() else { break };
            after = last.seq_num;
            let items = rows.iter().map(|row| row.view().encode_item());
            Chunker::pack(&self.backend_id, &self.limits, items, &mut |response| {
                out(Output::Reply(rpc::chunk_frame(&pull.id, &response)));
            });
        }
        match pull.caller {
            Some(caller) => {
                out(Output::Subscribe(RpcSubscription {
                    caller,
                    request_id: pull.id.clone(),
                }));
                out(Output::Reply(rpc::exit_stream_done(&pull.id)));
            }
            None => conn.live_pulls.push(pull.id),
        }
        Ok(())
    }
}

/// The next `PullResponse` of a pull's history, as a `Chunk` frame, from `rows` (the next events
/// after `pull.after`, read by the caller): as many as fit one response, and `pageInfo` from the
/// events still to come. Advances the pull. Shared by paced pulls and the HTTP body the glue
/// streams after its handler returned.
pub fn history_frame(
    pull: &mut PendingPull,
    rows: &[StoredEvent],
    limits: &Limits,
    backend_id: &str,
) -> String {
    let items = fit_response(rows.iter().map(|r| r.view().encode_item()), limits);
    match rows.get(items.len().wrapping_sub(1)) {
        Some(last) => pull.after = last.seq_num,
        // The log has fewer events than counted: end here rather than loop.
        None => pull.remaining = 0,
    }
    pull.remaining = pull.remaining.saturating_sub(items.len() as u64);
    let page_info = if pull.remaining > 0 {
        PageInfo::MoreKnown {
            remaining: pull.remaining,
        }
    } else {
        PageInfo::NoMore
    };
    pull.sent += 1;
    let response = encode_pull_response(&items, page_info, backend_id);
    rpc::chunk_frame(&pull.id, &response)
}

/// The history an HTTP pull still owes after its first window, for the glue to stream into the
/// same response body after the handler returned (an HTTP answer has no Acks; building the whole
/// history into one body made a large store's pull hold it all in memory). Sans-IO: ask
/// [`Self::next_step`] what to do, read the rows it names, hand them to [`Self::feed`].
#[derive(Debug)]
pub struct HttpHistory {
    pulls: Vec<PendingPull>,
    limits: Limits,
    backend_id: String,
}

/// What [`HttpHistory`] needs next.
#[derive(Debug, PartialEq, Eq)]
pub enum HistoryStep {
    /// Read up to `limit` events with `after < seqNum <= until` and [`HttpHistory::feed`] them.
    Read {
        after: i64,
        until: i64,
        limit: usize,
    },
    /// Send this frame (the end of one pull); then ask again.
    Frame(String),
    /// Nothing more.
    Done,
}

impl HttpHistory {
    /// The pulls of `conn` that still send history, if any (taken off the connection).
    pub fn take<L>(store: &Store<L>, conn: &mut Connection) -> Option<HttpHistory> {
        if conn.pending_pulls.is_empty() {
            return None;
        }
        let mut pulls = std::mem::take(&mut conn.pending_pulls);
        pulls.reverse();
        Some(HttpHistory {
            pulls,
            limits: store.limits.clone(),
            backend_id: store.backend_id.clone(),
        })
    }

    pub fn next_step(&mut self) -> HistoryStep {
        let Some(pull) = self.pulls.last() else {
            return HistoryStep::Done;
        };
        if pull.remaining > 0 {
            return HistoryStep::Read {
                after: pull.after,
                until: pull.until,
                limit: self.limits.max_events_per_response,
            };
        }
        match self.pulls.pop() {
            Some(done) => HistoryStep::Frame(rpc::exit_stream_done(&done.id)),
            None => HistoryStep::Done,
        }
    }

    /// The next `Chunk` frame, from the rows [`HistoryStep::Read`] asked for.
    pub fn feed(&mut self, rows: &[StoredEvent]) -> String {
        match self.pulls.last_mut() {
            Some(pull) => history_frame(pull, rows, &self.limits, &self.backend_id),
            None => String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_respects_count_and_bytes_and_never_returns_nothing() {
        let limits = Limits {
            max_response_bytes: 1_000 + Limits::default().max_response_bytes
                - Limits::default().items_budget(),
            ..Limits::default()
        };
        assert_eq!(limits.items_budget(), 1_000);
        let items = |n: usize, size: usize| (0..n).map(move |_| "x".repeat(size));
        assert_eq!(fit_response(items(300, 1), &limits).len(), 100);
        // 4 items of 240 bytes + 3 commas = 963 ≤ 1000; a 5th would make 1204.
        assert_eq!(fit_response(items(10, 240), &limits).len(), 4);
        assert_eq!(fit_response(items(3, 5_000), &limits).len(), 1);
        assert!(fit_response(items(0, 1), &limits).is_empty());
    }
}
