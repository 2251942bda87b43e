//! Size limits shared by push admission and pull chunking (PROTOCOL.md §9.4).

/// The client's transport budget: a `PullResponse` (its JSON, not the whole frame) never exceeds
/// this many bytes, and the client splits pushes by the same figure.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 900_000;
/// The client sends at most this many events per push and the reference sends at most this many
/// per `PullResponse`.
pub const MAX_EVENTS_PER_MESSAGE: usize = 100;

/// JSON around the items of a `PullResponse` in the worst case: the batch brackets, the longest
/// `pageInfo` and a 21-character backendId.
const RESPONSE_OVERHEAD_BYTES: usize = r#"{"batch":[],"pageInfo":{"_tag":"MoreKnown","remaining":9007199254740991},"backendId":"123456789012345678901"}"#.len();

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Budget for one `PullResponse`'s JSON.
    pub max_response_bytes: usize,
    /// Events per `PullResponse`.
    pub max_events_per_response: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            max_events_per_response: MAX_EVENTS_PER_MESSAGE,
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
