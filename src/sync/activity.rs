//! What a request did, as facts for logs and metrics: the core reports them as
//! [`super::service::Output::Activity`], and decides here how each is logged.

use crate::log::{Level, Line};
use crate::protocol::messages::SyncError;

use super::service::Transport;

/// What one request did: the facts an operator wants in a log line or a metric.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Activity {
    /// A push was answered.
    Push {
        /// Events in the batch.
        events: usize,
        /// The new head, or why it was refused.
        outcome: Result<i64, Refusal>,
    },
    /// A pull started: its cursor, how many history events it has, whether it stays live.
    Pull { after: i64, events: u64, live: bool },
}

/// Why a push was refused, as a short name (the error's `_tag`, or the `UnknownError` cause).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal(pub String);

impl Refusal {
    pub(crate) fn of(e: &SyncError) -> Refusal {
        Refusal(match e {
            SyncError::ServerAhead { .. } => "ServerAheadError".to_owned(),
            SyncError::BackendIdMismatch { .. } => "BackendIdMismatchError".to_owned(),
            SyncError::Unknown { name, .. } => name.clone(),
        })
    }
}

impl Transport {
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::WebSocket => "ws",
            Transport::Http => "http",
        }
    }
}

impl Activity {
    /// The log line for this activity on `store`: accepted pushes at `info`; refused ones at
    /// `debug` when refusing is the normal rebase flow (`ServerAheadError`), at `warn` otherwise;
    /// pulls at `debug` (never a line per pulled event).
    pub fn log_line(&self, store: &str, transport: Transport) -> Line {
        match self {
            Activity::Push { events, outcome } => {
                let level = match outcome {
                    Ok(_) => Level::Info,
                    Err(r) if r.0 == "ServerAheadError" => Level::Debug,
                    Err(_) => Level::Warn,
                };
                let line = Line::new(level, "push")
                    .str("store", store)
                    .str("transport", transport.as_str())
                    .int("events", *events as i64);
                match outcome {
                    Ok(head) => line.bool("accepted", true).int("head", *head),
                    Err(why) => line.bool("accepted", false).str("refusal", &why.0),
                }
            }
            Activity::Pull {
                after,
                events,
                live,
            } => Line::new(Level::Debug, "pull")
                .str("store", store)
                .str("transport", transport.as_str())
                .int("after", *after)
                .int("events", *events as i64)
                .bool("live", *live),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pushes_are_logged_by_outcome() {
        let accepted = Activity::Push {
            events: 3,
            outcome: Ok(42),
        };
        let line = accepted.log_line("s1", Transport::WebSocket);
        assert_eq!(line.level(), Level::Info);
        assert_eq!(
            line.finish(),
            r#"{"level":"info","event":"push","store":"s1","transport":"ws","events":3,"accepted":true,"head":42}"#
        );
        let behind = Activity::Push {
            events: 1,
            outcome: Err(Refusal("ServerAheadError".into())),
        };
        assert_eq!(behind.log_line("s1", Transport::Http).level(), Level::Debug);
        let invalid = Activity::Push {
            events: 2,
            outcome: Err(Refusal("InvalidPushError".into())),
        };
        let line = invalid.log_line("s1", Transport::WebSocket);
        assert_eq!(line.level(), Level::Warn);
        assert!(line
            .finish()
            .ends_with(r#""accepted":false,"refusal":"InvalidPushError"}"#));
        let pull = Activity::Pull {
            after: 0,
            events: 10,
            live: true,
        };
        assert_eq!(
            pull.log_line("s1", Transport::WebSocket).level(),
            Level::Debug
        );
    }
}
