//! What a request did, as facts for logs and metrics: the core reports them as
//! [`super::output::Output::Activity`], and decides here how each is logged.

use crate::log::{Level, Line};
use crate::protocol::messages::SyncError;

use crate::transport::Transport;

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
    /// The database failed while serving a request: the client was told only `incident`.
    StorageFailure { incident: String, detail: String },
}

/// Why a push was refused, as a short name (the error's `_tag`, or the `UnknownError` cause).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal(pub String);

impl Refusal {
    pub(crate) fn of(e: &SyncError) -> Refusal {
        Refusal(e.name().to_owned())
    }
}

impl Activity {
    /// The level of [`Self::log_line`], known without building the line.
    pub fn level(&self) -> Level {
        match self {
            Activity::Push { outcome, .. } => match outcome {
                Ok(_) => Level::Debug,
                Err(r) if r.0 == "ServerAheadError" => Level::Debug,
                Err(_) => Level::Warn,
            },
            Activity::Pull { .. } => Level::Debug,
            Activity::StorageFailure { .. } => Level::Error,
        }
    }

    /// The log line for this activity on `store`: pushes at `debug` when accepted or refused in
    /// the normal rebase flow (`ServerAheadError`), at `warn` when refused for anything else;
    /// pulls at `debug` (never a line per pulled event). At `info`, accepted pushes are counted in
    /// a [`PushTally`] summary instead: a console line costs about as much CPU as a push (measured
    /// by `npm run bench`), so one per push would make logging the dominant cost.
    pub fn log_line(&self, store: &str, transport: Transport) -> Line {
        match self {
            Activity::Push { events, outcome } => {
                let line = Line::new(self.level(), "push")
                    .str("store", store)
                    .str("transport", transport.as_str())
                    .count("events", *events as u64);
                match outcome {
                    Ok(head) => line.bool("accepted", true).int("head", *head),
                    Err(why) => line.bool("accepted", false).str("refusal", &why.0),
                }
            }
            Activity::Pull {
                after,
                events,
                live,
            } => Line::new(self.level(), "pull")
                .str("store", store)
                .str("transport", transport.as_str())
                .int("after", *after)
                .count("events", *events)
                .bool("live", *live),
            Activity::StorageFailure { incident, detail } => {
                Line::new(self.level(), "storage.error")
                    .str("store", store)
                    .str("transport", transport.as_str())
                    .str("incident", incident)
                    .str("error", detail)
            }
        }
    }
}

/// Seconds a [`PushTally`] window lasts: at most one summary line per store this often.
pub const TALLY_WINDOW_MS: i64 = 10_000;

/// The pushes of one store, counted over a window of [`TALLY_WINDOW_MS`] and written as one
/// `pushes` line at `info` when the first push after the window arrives (or when the caller
/// flushes it, e.g. as a socket closes).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushTally {
    window_start_ms: i64,
    accepted: u64,
    refused: u64,
    events: u64,
    head: Option<i64>,
}

impl PushTally {
    /// Counts one push; returns the summary of the window it closes, if it closes one.
    pub fn record(&mut self, activity: &Activity, now_ms: i64, store: &str) -> Option<Line> {
        let Activity::Push { events, outcome } = activity else {
            return None;
        };
        let done = (self.accepted + self.refused > 0
            && now_ms - self.window_start_ms >= TALLY_WINDOW_MS)
            .then(|| self.flush(now_ms, store))
            .flatten();
        if self.accepted + self.refused == 0 {
            self.window_start_ms = now_ms;
        }
        match outcome {
            Ok(head) => {
                self.accepted += 1;
                self.events += *events as u64;
                self.head = Some(*head);
            }
            Err(_) => self.refused += 1,
        }
        done
    }

    /// The summary of the pushes counted so far (none if there were none), and a new window.
    pub fn flush(&mut self, now_ms: i64, store: &str) -> Option<Line> {
        if self.accepted + self.refused == 0 {
            return None;
        }
        let line = Line::new(Level::Info, "pushes")
            .str("store", store)
            .count("accepted", self.accepted)
            .count("refused", self.refused)
            .count("events", self.events);
        let line = match self.head {
            Some(h) => line.int("head", h),
            None => line,
        };
        let line = line.num("seconds", (now_ms - self.window_start_ms) as f64 / 1000.0);
        *self = PushTally::default();
        Some(line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pushes_are_summed_per_window() {
        let mut t = PushTally::default();
        let ok = |head| Activity::Push {
            events: 2,
            outcome: Ok(head),
        };
        let behind = Activity::Push {
            events: 1,
            outcome: Err(Refusal("ServerAheadError".into())),
        };
        assert!(t.record(&ok(2), 1_000, "s").is_none());
        assert!(t.record(&behind, 2_000, "s").is_none());
        assert!(t.record(&ok(4), 10_999, "s").is_none());
        let line = t
            .record(&ok(6), 11_000, "s")
            .expect("the window closed")
            .finish();
        assert_eq!(
            line,
            r#"{"level":"info","event":"pushes","store":"s","accepted":2,"refused":1,"events":4,"head":4,"seconds":10}"#
        );
        // the push that closed the window opens the next one
        let line = t.flush(12_500, "s").unwrap().finish();
        assert!(
            line.contains(r#""accepted":1,"refused":0,"events":2,"head":6,"seconds":1.5"#),
            "{line}"
        );
        assert!(t.flush(13_000, "s").is_none());
        let pull = Activity::Pull {
            after: 0,
            events: 1,
            live: true,
        };
        assert!(t.record(&pull, 20_000, "s").is_none());
    }

    #[test]
    fn pushes_are_logged_by_outcome() {
        let accepted = Activity::Push {
            events: 3,
            outcome: Ok(42),
        };
        let line = accepted.log_line("s1", Transport::WebSocket);
        assert_eq!(line.level(), Level::Debug);
        assert_eq!(
            line.finish(),
            r#"{"level":"debug","event":"push","store":"s1","transport":"ws","events":3,"accepted":true,"head":42}"#
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
