//! Splitting a run of events into `PullResponse`s (PROTOCOL.md §7.6 step 4, §7.5).
//!
//! Each item is encoded once and its length summed, so chunking is linear (the reference
//! re-encodes the growing chunk after every event). Unlike the reference, chunks do not restart
//! at 256-row read pages: 600 events come back as 100×6, not 100/100/56/….

use crate::protocol::messages::{encode_pull_response, PageInfo};

use super::limits::Limits;

/// How `pageInfo` is filled in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paging {
    /// A history stream of `total` events: `MoreKnown{remaining}` counting down, last `NoMore`.
    History { total: u64 },
    /// A live broadcast: every response says `NoMore`, as the reference does.
    Live,
}

/// Accumulates encoded items and hands back finished `PullResponse` JSON texts.
#[derive(Debug)]
pub struct Chunker<'a> {
    backend_id: &'a str,
    limits: &'a Limits,
    paging: Paging,
    items: Vec<String>,
    bytes: usize,
    emitted_events: u64,
    emitted_responses: u64,
}

impl<'a> Chunker<'a> {
    pub fn new(backend_id: &'a str, limits: &'a Limits, paging: Paging) -> Self {
        Chunker {
            backend_id,
            limits,
            paging,
            items: Vec::new(),
            bytes: 0,
            emitted_events: 0,
            emitted_responses: 0,
        }
    }

    /// Adds one encoded item; returns a finished response when the item did not fit beside the
    /// ones already held. An item too big for any response goes out alone (only events stored by
    /// the reference can be that big: ours are refused at push).
    pub fn push(&mut self, item: String) -> Option<String> {
        let added = item.len() + usize::from(!self.items.is_empty());
        let full = self.items.len() >= self.limits.max_events_per_response
            || (!self.items.is_empty() && self.bytes + added > self.limits.items_budget());
        let out = if full { Some(self.flush()) } else { None };
        self.bytes += item.len() + usize::from(!self.items.is_empty());
        self.items.push(item);
        out
    }

    /// Ends the run: the last response, or the single empty `NoMore` response when nothing at all
    /// was returned (§7.6 step 5). `None` when the last response was already handed out.
    pub fn finish(mut self) -> Option<String> {
        if !self.items.is_empty() || self.emitted_responses == 0 {
            Some(self.flush())
        } else {
            None
        }
    }

    fn flush(&mut self) -> String {
        self.emitted_events += self.items.len() as u64;
        self.emitted_responses += 1;
        let page_info = match self.paging {
            Paging::History { total } if total > self.emitted_events => PageInfo::MoreKnown {
                remaining: total - self.emitted_events,
            },
            _ => PageInfo::NoMore,
        };
        let response = encode_pull_response(&self.items, page_info, self.backend_id);
        self.items.clear();
        self.bytes = 0;
        response
    }
}
