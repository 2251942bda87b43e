//! `forwardHeaders`: the request headers the app's `onPush`/`onPull` see. Over WebSocket they are
//! taken at the upgrade and kept with the socket (its attachment, so they survive hibernation);
//! over HTTP they are taken from each request; DO-RPC has none.
//!
//! A socket's attachment holds at most 16 KiB, so the headers it keeps are bounded: an upgrade
//! whose forwarded headers would not fit is refused (`431`), never accepted with headers lost.

use std::collections::BTreeMap;

/// Forwarded headers: lowercased name → value (as the reference's `headers` map holds them).
pub type Forwarded = BTreeMap<String, String>;

/// The most JSON the forwarded headers of one socket may take (the rest of its attachment,
/// at its largest, leaves room for this within 16 KiB: `attachment.rs` checks both together).
pub const MAX_FORWARDED_HEADERS_BYTES: usize = 3 * 1024;

/// The headers named in `names` (lowercase) that `headers` has; `None` when it has none of
/// them (the reference then passes no `headers` at all).
pub fn pick<'a>(
    names: &[String],
    headers: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Option<Forwarded> {
    let mut picked = Forwarded::new();
    for (name, value) in headers {
        let lower = name.to_ascii_lowercase();
        if names.contains(&lower) {
            picked.insert(lower, value.to_owned());
        }
    }
    (!picked.is_empty()).then_some(picked)
}

/// Why `headers` cannot be kept with a socket, if they cannot.
pub fn too_large(headers: &Forwarded) -> Option<String> {
    let bytes = serde_json::to_string(headers).map_or(usize::MAX, |s| s.len());
    (bytes > MAX_FORWARDED_HEADERS_BYTES).then(|| {
        format!(
            "The forwarded headers (forwardHeaders) take {bytes} bytes; a WebSocket keeps at most \
             {MAX_FORWARDED_HEADERS_BYTES} bytes of them: send smaller headers, or forward fewer"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_headers_are_picked_case_insensitively() {
        let names = vec!["cookie".to_owned(), "x-user".to_owned()];
        let got = pick(
            &names,
            [("Cookie", "a=1"), ("Accept", "*/*"), ("X-User", "u")],
        )
        .unwrap();
        assert_eq!(got.get("cookie").map(String::as_str), Some("a=1"));
        assert_eq!(got.get("x-user").map(String::as_str), Some("u"));
        assert_eq!(got.len(), 2);
        assert_eq!(pick(&names, [("Accept", "*/*")]), None);
    }

    #[test]
    fn headers_beyond_the_bound_are_refused() {
        let mut h = Forwarded::new();
        h.insert(
            "cookie".into(),
            "x".repeat(MAX_FORWARDED_HEADERS_BYTES - 20),
        );
        assert_eq!(too_large(&h), None);
        h.insert("cookie".into(), "x".repeat(MAX_FORWARDED_HEADERS_BYTES));
        assert!(too_large(&h).unwrap().contains("forwardHeaders"));
    }
}
