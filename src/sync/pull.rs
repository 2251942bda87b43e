//! Packing events into `PullResponse`s (PROTOCOL.md §7.6 step 4, §7.5): at most
//! `max_events_per_response` events and `max_response_bytes` of JSON each.
//!
//! Each item is encoded once and its length summed, so packing is linear (the reference
//! re-encodes the growing response after every event). Unlike the reference, responses do not
//! restart at 256-row read pages: 600 events come back as 100×6, not 100/100/56/….

use crate::protocol::messages::{encode_pull_response, PageInfo};

use super::limits::Limits;

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

    fn flush(&mut self) -> String {
        let response = encode_pull_response(&self.items, PageInfo::NoMore, self.backend_id);
        self.items.clear();
        self.bytes = 0;
        response
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
