//! An admin request's method, path and query as the Worker routes it: `admin::route::parse`
//! (store ids, `since`/`limit`), after `is_admin_path`.
//!
//! Input: `method` LF `path` LF `query`; a missing part is empty. The first byte of the method
//! picks a real one half the time, so paths and queries get the attention.
#![no_main]

use libfuzzer_sys::fuzz_target;
use livestore_sync_fuzz::{bounded, Bound};
use livestore_sync_rs::admin::route::{is_admin_path, parse, Action};

/// Measured: see fuzz/README.md (the percent-decoded store id and query values, and the error
/// texts that quote them: a 358-byte input once held 11,375 bytes, beyond 16 × input + 4 KiB).
const BOUND: Bound = Bound {
    per_byte: 64,
    base: 16 << 10,
};

fuzz_target!(|data: &[u8]| {
    bounded("admin_route", data.len(), BOUND, || {
        let text = String::from_utf8_lossy(data);
        let mut parts = text.splitn(3, '\n');
        let (method, path, query) = (
            parts.next().unwrap_or(""),
            parts.next().unwrap_or(""),
            parts.next().unwrap_or(""),
        );
        let method = match method.as_bytes().first() {
            Some(b'0') => "GET",
            Some(b'1') => "POST",
            _ => method,
        };
        let _ = is_admin_path(path);
        match parse(method, path, query) {
            Ok(request) => {
                assert!(is_admin_path(path), "{path}");
                let _ = request.action.name();
                if let Action::Export { since, limit } = request.action {
                    let _ = (since.checked_add(1), limit);
                }
            }
            Err(e) => {
                let body = e.body();
                assert!(
                    serde_json::from_str::<serde_json::Value>(&body).is_ok(),
                    "{body}"
                );
            }
        }
    });
});
