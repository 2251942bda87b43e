//! The admin import: `admin::ndjson::parse_import` of an NDJSON body against a store's head, then
//! the way back: what was accepted, exported again, is imported again as the same events.
//!
//! Input: a first byte choosing the head (0, 1, 5, and the extremes), then the body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use livestore_sync_fuzz::{bounded, Bound};
use livestore_sync_rs::admin::ndjson::{export_line, parse_import};
use livestore_sync_rs::sync::limits::Limits;

/// Measured: see fuzz/README.md (the events, their args kept as text, one encoded item at a
/// time).
const BOUND: Bound = Bound {
    per_byte: 16,
    base: 16 << 10,
};

const HEADS: [i64; 8] = [0, 1, 5, -1, i64::MAX, i64::MIN, 9_007_199_254_740_991, 100];

fuzz_target!(|data: &[u8]| {
    let Some((choice, body)) = data.split_first() else {
        return;
    };
    let head = HEADS[usize::from(choice % 8)];
    let limits = Limits::default();
    let body = String::from_utf8_lossy(body);
    let mut exported = String::new();
    let mut accepted = Vec::new();
    bounded("ndjson", data.len(), BOUND, || {
        if let Ok(events) = parse_import(&body, head, &limits) {
            for event in &events {
                export_line(event, &mut exported);
            }
            accepted = events;
        }
    });
    if !accepted.is_empty() {
        let again = parse_import(&exported, head, &limits)
            .unwrap_or_else(|e| panic!("{}: {exported}", e.body()));
        assert_eq!(again, accepted);
    }
});
