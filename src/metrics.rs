//! Data points for Workers Analytics Engine: one per push batch, pull, connection opened or closed,
//! and refused request, indexed by store. Written only when `METRICS_BINDING` names a dataset
//! binding; the core decides what each point holds, the glue hands it to `writeDataPoint`.
//!
//! Layout of every point (query it with the SQL API, see the README):
//!
//! | column | meaning |
//! | --- | --- |
//! | `index1` | the storeId (its first 96 bytes: Analytics Engine's index limit) |
//! | `blob1` | kind: `push`, `pull`, `connection`, `refusal` |
//! | `blob2` | transport: `ws`, `http`, `do-rpc` |
//! | `blob3` | outcome: `accepted` or the refusal (`ServerAheadError`, …) for a push; `live` or `once` for a pull; `open` or `close` for a connection; `401`/`403`/`500` for a refusal |
//! | `blob4` | the whole storeId |
//! | `double1` | events: in the push, or in the pull's history |
//! | `double2` | the head after an accepted push; seconds open for a closed connection |

use crate::sync::activity::Activity;
use crate::transport::Transport;

/// Analytics Engine's limit on the index, in bytes.
pub const MAX_INDEX_BYTES: usize = 96;

#[derive(Debug, Clone, PartialEq)]
pub struct DataPoint {
    pub index: String,
    pub blobs: Vec<String>,
    pub doubles: Vec<f64>,
}

/// The first `max` bytes of `s`, cut at a character boundary.
fn prefix(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn point(kind: &str, store: &str, transport: &str, outcome: &str, doubles: Vec<f64>) -> DataPoint {
    DataPoint {
        index: prefix(store, MAX_INDEX_BYTES).to_owned(),
        blobs: vec![kind.into(), transport.into(), outcome.into(), store.into()],
        doubles,
    }
}

impl Activity {
    /// The data point of a push or a pull.
    pub fn data_point(&self, store: &str, transport: Transport) -> DataPoint {
        match self {
            Activity::Push { events, outcome } => {
                let (what, head) = match outcome {
                    Ok(head) => ("accepted", *head as f64),
                    Err(r) => (r.0.as_str(), 0.0),
                };
                point(
                    "push",
                    store,
                    transport.as_str(),
                    what,
                    vec![*events as f64, head],
                )
            }
            Activity::Pull { events, live, .. } => point(
                "pull",
                store,
                transport.as_str(),
                if *live { "live" } else { "once" },
                vec![*events as f64, 0.0],
            ),
            Activity::StorageFailure { .. } => point(
                "error",
                store,
                transport.as_str(),
                "storage",
                vec![0.0, 0.0],
            ),
        }
    }
}

/// A WebSocket opened (`seconds_open` is `None`) or closed.
pub fn connection(store: &str, seconds_open: Option<f64>) -> DataPoint {
    match seconds_open {
        None => point("connection", store, "ws", "open", vec![0.0, 0.0]),
        Some(s) => point("connection", store, "ws", "close", vec![0.0, s]),
    }
}

/// A sync request refused by the Worker (authentication).
pub fn refusal(store: &str, transport: &str, status: u16) -> DataPoint {
    point(
        "refusal",
        store,
        transport,
        &status.to_string(),
        vec![0.0, 0.0],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::activity::Refusal;

    #[test]
    fn points_follow_the_documented_layout() {
        let accepted = Activity::Push {
            events: 3,
            outcome: Ok(42),
        };
        assert_eq!(
            accepted.data_point("s1", Transport::WebSocket),
            DataPoint {
                index: "s1".into(),
                blobs: vec!["push".into(), "ws".into(), "accepted".into(), "s1".into()],
                doubles: vec![3.0, 42.0],
            }
        );
        let refused = Activity::Push {
            events: 1,
            outcome: Err(Refusal("ServerAheadError".into())),
        };
        assert_eq!(
            refused.data_point("s1", Transport::Http).blobs[1..3],
            ["http", "ServerAheadError"]
        );
        let pull = Activity::Pull {
            after: 0,
            events: 250,
            live: true,
        };
        assert_eq!(
            pull.data_point("s1", Transport::WebSocket).doubles[0],
            250.0
        );
        assert_eq!(connection("s1", Some(2.5)).doubles[1], 2.5);
        assert_eq!(
            refusal("s1", "http", 401).blobs,
            vec!["refusal", "http", "401", "s1"]
        );
    }

    #[test]
    fn the_index_is_cut_to_96_bytes_at_a_character_boundary() {
        let long = "é".repeat(60); // 120 bytes
        let p = connection(&long, None);
        assert!(p.index.len() <= MAX_INDEX_BYTES);
        assert_eq!(p.index, "é".repeat(48));
        assert_eq!(p.blobs[3], long, "the whole storeId stays in blob4");
    }
}
