//! The query of a sync request (`?storeId=…&transport=…&payload=…`, the payload encoded twice)
//! as the Worker reads it before routing: `http::query::parse_sync_params`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use livestore_sync_fuzz::{bounded, Bound};
use livestore_sync_rs::http::query::parse_sync_params;

/// Measured: see fuzz/README.md (the decoded parameters, then the payload's JSON value).
const BOUND: Bound = Bound {
    per_byte: 64,
    base: 4 << 10,
};

fuzz_target!(|data: &[u8]| {
    bounded("sync_query", data.len(), BOUND, || {
        let query = String::from_utf8_lossy(data);
        if let Some(params) = parse_sync_params(&query) {
            let _ = (
                params.store_id.len(),
                params.transport.as_str(),
                params.payload,
            );
        }
    });
});
