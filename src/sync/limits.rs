//! The bounds on everything a client can grow (PROTOCOL.md §9.4 for the wire's own figures). Each
//! has a default, a Wrangler var ([`crate::config`]) and a clear refusal when exceeded: a client
//! over a limit is told which limit and what to do, never answered with an out-of-memory crash.

/// The client's transport budget: a `PullResponse` (its JSON, not the whole frame) never exceeds
/// this many bytes, and the client splits pushes by the same figure.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 900_000;
/// The client sends at most this many events per push and the reference sends at most this many
/// per `PullResponse`.
pub const MAX_EVENTS_PER_MESSAGE: usize = 100;
/// Default of `MAX_PUSH_EVENTS`: ten times what the published client sends in one push, and above
/// the 160 of LiveStore's own conformance suite.
pub const DEFAULT_MAX_PUSH_EVENTS: usize = 1_000;
/// Default of `MAX_ARGS_DEPTH`: deeper `args` could not cross the DO-RPC transport (its
/// MessagePack envelope adds levels and its decoders stop at 128) nor be re-serialised safely by
/// JavaScript clients.
pub const DEFAULT_MAX_ARGS_DEPTH: usize = 64;
/// The most `MAX_ARGS_DEPTH` may be set to.
pub const MAX_ARGS_DEPTH_CEILING: usize = 100;
/// Default of `MAX_PULLS_PER_SOCKET`: a LiveStore client runs one pull at a time.
pub const DEFAULT_MAX_PULLS_PER_SOCKET: usize = 16;
/// The most `MAX_PULLS_PER_SOCKET` may be set to: a socket's pulls live in its hibernation
/// attachment, which holds 16 KiB ([`MAX_REQUEST_ID_BYTES`] keeps each entry small).
pub const MAX_PULLS_PER_SOCKET_CEILING: usize = 32;
/// Longest request id (its JSON text) a pull may use: pulls are remembered by id in the socket's
/// attachment. The published client's ids are short decimal strings.
pub const MAX_REQUEST_ID_BYTES: usize = 128;

/// JSON around the items of a `PullResponse` in the worst case: the batch brackets, the longest
/// `pageInfo` and a 21-character backendId.
const RESPONSE_OVERHEAD_BYTES: usize = r#"{"batch":[],"pageInfo":{"_tag":"MoreKnown","remaining":9007199254740991},"backendId":"123456789012345678901"}"#.len();

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Budget for one `PullResponse`'s JSON.
    pub max_response_bytes: usize,
    /// Events per `PullResponse`.
    pub max_events_per_response: usize,
    /// `MAX_PUSH_EVENTS`: events in one push.
    pub max_push_events: usize,
    /// `MAX_ARGS_DEPTH`: nesting of an event's `args` (a scalar is depth 0, `{}` or `[]` 1).
    pub max_args_depth: usize,
    /// `MAX_PULLS_PER_SOCKET`: pulls running at once on one WebSocket.
    pub max_pulls_per_socket: usize,
    /// `MAX_STORE_BYTES`: an optional quota on a store's stored bytes; pushes beyond it are refused.
    pub max_store_bytes: Option<u64>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            max_events_per_response: MAX_EVENTS_PER_MESSAGE,
            max_push_events: DEFAULT_MAX_PUSH_EVENTS,
            max_args_depth: DEFAULT_MAX_ARGS_DEPTH,
            max_pulls_per_socket: DEFAULT_MAX_PULLS_PER_SOCKET,
            max_store_bytes: None,
        }
    }
}

impl Limits {
    /// The largest encoded batch item that still fits alone in a `PullResponse`.
    pub fn max_event_bytes(&self) -> usize {
        self.max_response_bytes
            .saturating_sub(RESPONSE_OVERHEAD_BYTES)
    }

    /// Bytes available for items (including the commas between them) in one response.
    pub fn items_budget(&self) -> usize {
        self.max_event_bytes()
    }
}

/// How deeply a JSON text nests: 0 for a scalar, 1 for `{}` or `[1]`, 2 for `[[1]]`. Counted
/// without parsing (brackets outside strings), so it costs one pass over text that was already
/// validated as JSON.
pub fn json_depth(text: &str) -> usize {
    let (mut depth, mut max, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for b in text.bytes() {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                max = max.max(depth);
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_depth_counts_brackets_outside_strings() {
        assert_eq!(json_depth("1"), 0);
        assert_eq!(json_depth("null"), 0);
        assert_eq!(json_depth(r#""[[[""#), 0);
        assert_eq!(json_depth("{}"), 1);
        assert_eq!(json_depth(r#"{"a":[1,{"b":"]]}\"[["}]}"#), 3);
        assert_eq!(
            json_depth(&format!("{}{}", "[".repeat(70), "]".repeat(70))),
            70
        );
        assert_eq!(json_depth(r#"[{"a":1},{"b":[2]}]"#), 3);
    }
}
