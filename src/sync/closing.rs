//! When the server closes a WebSocket on its own, and with what code.
//!
//! Two reasons, both decided from the socket's attachment alone so that an alarm can act on them
//! after hibernation:
//!
//! - **Token expired** (`4001`): the original checks the token only at connect; we stop a socket
//!   whose token ran out, and the client reconnects with a fresh one.
//! - **No request** (`4000`): the published client (`@livestore/sync-cf@0.4.0`, via
//!   `@livestore/utils`' socket pinger) sometimes declares a healthy socket dead — its ping
//!   schedule fires twice within a millisecond or two, and the second tick finds the Pong of the
//!   first not yet arrived. It then reconnects *silently*: the requests in flight on the old
//!   socket (a push awaiting its answer, the live pull) are neither failed nor sent again, so the
//!   app never syncs again until reloaded. Its new socket carries nothing but pings. Closing a
//!   socket that has carried no request for a while makes the client fail those requests
//!   (`IsOfflineError` / `UnknownError`), which LiveStore retries on a fresh socket.
//!   A LiveStore client sends its live pull the moment a socket opens, so only such orphaned
//!   sockets (or clients that never sync) are closed. A socket whose client has not sent a single
//!   frame yet (not even a Ping) is given another period instead: a close frame on such a socket
//!   was seen not to end the connection (the client stayed in CLOSING and never learnt of it),
//!   while the orphaned client pings every 10 s.

use super::attachment::Attachment;

/// Why the server closes a socket: each reason has its close code, the one place these codes
/// are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closure {
    /// `4001`: the token the socket was opened with ran out; the client reconnects and must
    /// present a fresh token to be let in again.
    TokenExpired,
    /// `4000`: no RPC request arrived in time; the client reconnects and re-sends its requests.
    NoRequest,
    /// `4002`: an admin reset the store; the clients reconnect, and their next pull or push gets
    /// `BackendIdMismatchError`.
    StoreReset,
    /// `1011`: the socket's state (its attachment) cannot be read; the client reconnects.
    StateLost,
}

impl Closure {
    pub fn code(self) -> u16 {
        match self {
            Closure::NoRequest => 4000,
            Closure::TokenExpired => 4001,
            Closure::StoreReset => 4002,
            Closure::StateLost => 1011,
        }
    }

    pub fn reason(self) -> &'static str {
        match self {
            Closure::TokenExpired => "Token expired",
            Closure::NoRequest => "No request on this socket; reconnect",
            Closure::StoreReset => "Store was reset",
            Closure::StateLost => "connection state lost",
        }
    }
}

/// The code our close frame carries when the client closes first: its own code echoed back
/// (RFC 6455 §5.5.1), unless it is one that may not be sent in a frame (`1005` "no status",
/// `1006` "abnormal", anything outside 1000–4999), which becomes a normal `1000`.
pub fn echo_close_code(client_code: usize) -> u16 {
    match u16::try_from(client_code) {
        Ok(code @ 1000..=4999) if code != 1005 && code != 1006 => code,
        _ => 1000,
    }
}

/// The settings that decide deadlines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClosingPolicy {
    /// `JWT_LEEWAY_SECONDS`: expiry is `exp + leeway`.
    pub leeway_seconds: i64,
    /// `FIRST_REQUEST_TIMEOUT_SECONDS` in milliseconds; `None` never closes for it.
    pub first_request_timeout_ms: Option<i64>,
}

/// When the alarm must ring for these deadlines (Unix milliseconds) at `now_ms`: the earliest,
/// and a deadline already due rings at once rather than being dropped (a socket whose token ran
/// out while its alarm was being set would otherwise never be closed).
pub fn next_alarm(deadlines: impl IntoIterator<Item = i64>, now_ms: i64) -> Option<i64> {
    deadlines.into_iter().map(|at| at.max(now_ms)).min()
}

impl Attachment {
    /// When this socket's token stops being valid (Unix milliseconds, leeway included): no
    /// broadcast may reach it after that, whether or not the client sent anything since.
    pub fn token_deadline(&self, policy: &ClosingPolicy) -> Option<i64> {
        if self.closing {
            return None;
        }
        self.auth_expires.map(|exp| {
            exp.saturating_add(policy.leeway_seconds)
                .saturating_mul(1000)
        })
    }

    /// The earliest moment (Unix milliseconds) at which this socket must be closed if nothing
    /// changes, and why.
    pub fn deadline(&self, policy: &ClosingPolicy) -> Option<(i64, Closure)> {
        if self.closing {
            return None;
        }
        let expiry = self.auth_expires.map(|exp| {
            (
                exp.saturating_add(policy.leeway_seconds)
                    .saturating_mul(1000),
                Closure::TokenExpired,
            )
        });
        let no_request = match (
            self.connection.requested,
            self.no_request_since.or(self.opened_at),
            policy.first_request_timeout_ms,
        ) {
            (false, Some(opened), Some(timeout)) => {
                Some((opened.saturating_add(timeout), Closure::NoRequest))
            }
            _ => None,
        };
        [expiry, no_request]
            .into_iter()
            .flatten()
            .min_by_key(|d| d.0)
    }

    /// The client has sent nothing at all yet: look again one period from `now_ms` rather than
    /// close a socket whose close would not reach it.
    pub fn postpone_no_request(&mut self, now_ms: i64) {
        self.no_request_since = Some(now_ms);
    }

    /// Why this socket must be closed at `now_ms`, if it must.
    pub fn due(&self, policy: &ClosingPolicy, now_ms: i64) -> Option<Closure> {
        self.deadline(policy)
            .filter(|(at, _)| *at <= now_ms)
            .map(|(_, why)| why)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: ClosingPolicy = ClosingPolicy {
        leeway_seconds: 5,
        first_request_timeout_ms: Some(10_000),
    };

    #[test]
    fn a_client_close_code_is_echoed_unless_a_frame_may_not_carry_it() {
        assert_eq!(echo_close_code(1000), 1000);
        assert_eq!(echo_close_code(1001), 1001);
        assert_eq!(echo_close_code(4321), 4321);
        for reserved in [0, 999, 1005, 1006, 5000, 70_000] {
            assert_eq!(echo_close_code(reserved), 1000, "{reserved}");
        }
    }

    #[test]
    fn a_socket_without_a_request_is_due_after_the_timeout() {
        let a = Attachment::new("s".into(), None, 1_000);
        assert_eq!(a.deadline(&POLICY), Some((11_000, Closure::NoRequest)));
        assert_eq!(a.due(&POLICY, 10_999), None);
        assert_eq!(a.due(&POLICY, 11_000), Some(Closure::NoRequest));
        let off = ClosingPolicy {
            first_request_timeout_ms: None,
            ..POLICY
        };
        assert_eq!(a.deadline(&off), None);
    }

    #[test]
    fn a_silent_socket_gets_another_period() {
        let mut a = Attachment::new("s".into(), None, 1_000);
        assert_eq!(a.due(&POLICY, 11_000), Some(Closure::NoRequest));
        a.postpone_no_request(11_000);
        assert_eq!(a.due(&POLICY, 20_999), None);
        assert_eq!(a.deadline(&POLICY), Some((21_000, Closure::NoRequest)));
        assert_eq!(a.opened_at, Some(1_000), "the socket's age is unchanged");
    }

    #[test]
    fn a_request_lifts_the_first_request_deadline() {
        let mut a = Attachment::new("s".into(), None, 1_000);
        a.connection.requested = true;
        assert_eq!(a.deadline(&POLICY), None);
        // Sockets accepted before `openedAt` existed are never closed for it.
        let mut old = Attachment::new("s".into(), None, 1_000);
        old.opened_at = None;
        assert_eq!(old.deadline(&POLICY), None);
    }

    #[test]
    fn a_due_deadline_rings_at_once_and_a_closing_socket_has_none() {
        assert_eq!(
            next_alarm([5_000, 9_000], 7_000),
            Some(7_000),
            "due: now, not dropped"
        );
        assert_eq!(next_alarm([8_000, 9_000], 7_000), Some(8_000));
        assert_eq!(next_alarm([], 7_000), None);
        let mut a = Attachment::new("s".into(), Some(3), 1_000);
        assert_eq!(a.token_deadline(&POLICY), Some(8_000));
        a.closing = true;
        assert_eq!(a.deadline(&POLICY), None);
        assert_eq!(a.token_deadline(&POLICY), None);
    }

    #[test]
    fn token_expiry_counts_the_leeway_and_the_earliest_deadline_wins() {
        let mut a = Attachment::new("s".into(), Some(3), 1_000);
        assert_eq!(a.deadline(&POLICY), Some((8_000, Closure::TokenExpired)));
        a.auth_expires = Some(60);
        assert_eq!(a.deadline(&POLICY), Some((11_000, Closure::NoRequest)));
        a.connection.requested = true;
        assert_eq!(a.deadline(&POLICY), Some((65_000, Closure::TokenExpired)));
        assert_eq!(a.due(&POLICY, 65_000).map(Closure::code), Some(4001));
    }
}
