//! Broadcast fan-out: which sockets a `PullResponse` reaches, under which request ids, and which
//! messages need nothing at all — decided here, once, for the Durable Object and the native tests
//! alike. `S` is whatever names a socket: a `WebSocket` in the object, an index in tests.
//!
//! The object knows its sockets without reading every attachment on every message: one scan
//! builds a [`SocketIndex`], kept until a socket's live pulls change ([`Fanout`]).

use std::collections::HashMap;

use crate::protocol::rpc::{self, ClientMessage, FrameError, RequestId};

use super::attachment::Attachment;
use super::closing::ClosingPolicy;
use super::connection::Connection;

/// A socket with live pulls.
#[derive(Debug, Clone)]
pub struct LiveSocket<S> {
    pub socket: S,
    /// The request ids of its live pulls.
    pub pulls: Vec<RequestId>,
    /// When its token expires (Unix milliseconds, leeway included): no broadcast reaches a
    /// socket past that.
    pub expires_at: Option<i64>,
}

/// What one scan of the sockets found.
#[derive(Debug, Clone)]
pub struct SocketIndex<S> {
    live: Vec<LiveSocket<S>>,
    /// Whether a socket may have a pull still sending its history, paced by Acks. `false` lets
    /// an Ack be dropped without reading its socket's attachment: with a thousand live pulls,
    /// every push brings a thousand Acks back.
    any_pending: bool,
}

impl<S> SocketIndex<S> {
    /// From the sockets' attachments; sockets the server is closing receive nothing.
    pub fn from_attachments(
        sockets: impl IntoIterator<Item = (S, Attachment)>,
        policy: &ClosingPolicy,
    ) -> Self {
        let mut index = SocketIndex::empty();
        for (socket, attachment) in sockets {
            if attachment.closing {
                index.any_pending |= !attachment.connection.pending_pulls.is_empty();
                continue;
            }
            let expires_at = attachment.token_deadline(policy);
            index.add(socket, attachment.connection, expires_at);
        }
        index
    }

    /// From connections without deadlines (the native tests' sockets).
    pub fn from_connections(sockets: impl IntoIterator<Item = (S, Connection)>) -> Self {
        let mut index = SocketIndex::empty();
        for (socket, conn) in sockets {
            index.add(socket, conn, None);
        }
        index
    }

    fn empty() -> Self {
        SocketIndex {
            live: Vec::new(),
            any_pending: false,
        }
    }

    fn add(&mut self, socket: S, conn: Connection, expires_at: Option<i64>) {
        self.any_pending |= !conn.pending_pulls.is_empty();
        if !conn.live_pulls.is_empty() {
            self.live.push(LiveSocket {
                socket,
                pulls: conn.live_pulls,
                expires_at,
            });
        }
    }

    /// Sends one `PullResponse` to every live pull of every socket whose token has not run out
    /// at `now_ms`: `send(socket, frame)` once per pull, with one frame per distinct request id
    /// (clients mostly use the same few), made by `encode` once. Returns the sockets whose
    /// token ran out, for the glue to close (the index is stale then).
    pub fn broadcast<F>(
        &self,
        pull_response: &str,
        now_ms: i64,
        encode: impl Fn(String) -> F,
        mut send: impl FnMut(&S, &F),
    ) -> Vec<&S> {
        let mut frames: HashMap<&RequestId, F> = HashMap::new();
        let mut expired = Vec::new();
        for live in &self.live {
            // a socket that only sends Acks is never checked on a message: check it here
            if live.expires_at.is_some_and(|at| at <= now_ms) {
                expired.push(&live.socket);
                continue;
            }
            for id in &live.pulls {
                let frame = frames
                    .entry(id)
                    .or_insert_with(|| encode(rpc::chunk_frame(id, pull_response)));
                send(&live.socket, frame);
            }
        }
        expired
    }
}

/// The [`SocketIndex`] of an object, built when first needed and dropped whenever a socket's
/// live pulls change.
#[derive(Debug)]
pub struct Fanout<S> {
    index: Option<SocketIndex<S>>,
}

impl<S> Default for Fanout<S> {
    fn default() -> Self {
        Fanout { index: None }
    }
}

impl<S> Fanout<S> {
    /// The index, scanned first if it is not known.
    pub fn index(&mut self, scan: impl FnOnce() -> SocketIndex<S>) -> &SocketIndex<S> {
        self.index.get_or_insert_with(scan)
    }

    /// Forgets the index (a socket closed, a reset): the next broadcast scans again.
    pub fn invalidate(&mut self) {
        self.index = None;
    }

    /// Whether `message` can be dropped before its socket's attachment is even read: an `Ack`
    /// while no socket has a pull paced by Acks (the Acks of broadcasts need nothing). An Ack
    /// stores nothing, so a token that ran out meanwhile changes nothing.
    pub fn drops(&self, message: &Result<ClientMessage<'_>, FrameError>) -> bool {
        matches!(message, Ok(ClientMessage::Ack(_)))
            && matches!(&self.index, Some(index) if !index.any_pending)
    }

    /// After a message changed a connection whose live pulls were `live_before`: a change of
    /// live pulls drops the index; a pull left paced by Acks is noted, so Acks are read again.
    pub fn note_change(&mut self, live_before: &[RequestId], conn: &Connection) {
        if conn.live_pulls != live_before {
            self.index = None;
        } else if !conn.pending_pulls.is_empty() {
            if let Some(index) = &mut self.index {
                index.any_pending = true;
            }
        }
    }

    /// Whether a message needs the store, as the object decides it: not when the index drops
    /// it, nor when it is an Ack and `conn` has no pull paced by Acks.
    pub fn needs_store(
        &self,
        conn: &Connection,
        message: &Result<ClientMessage<'_>, FrameError>,
    ) -> bool {
        !self.drops(message) && conn.needs_store_for(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u32) -> RequestId {
        RequestId::from_json_text(&n.to_string()).unwrap()
    }

    fn live(ids: &[u32]) -> Connection {
        Connection {
            live_pulls: ids.iter().map(|n| id(*n)).collect(),
            ..Connection::default()
        }
    }

    #[test]
    fn broadcast_reaches_each_live_pull_once_and_skips_expired_sockets() {
        let mut index = SocketIndex::from_connections([(0, live(&[1])), (1, live(&[1, 2]))]);
        index.add(2, live(&[1]), Some(1_000));
        index.add(3, Connection::default(), None);
        let mut sent = Vec::new();
        let made = std::cell::Cell::new(0);
        let expired = index.broadcast(
            r#"{"x":1}"#,
            1_000,
            |f| {
                made.set(made.get() + 1);
                f
            },
            |s, f| sent.push((*s, f.clone())),
        );
        assert_eq!(expired, vec![&2]);
        assert_eq!(sent.len(), 3);
        assert_eq!(made.get(), 2, "one frame per distinct request id");
        assert_eq!(sent[0].1, rpc::chunk_frame(&id(1), r#"{"x":1}"#));
        assert_eq!(sent[2].1, rpc::chunk_frame(&id(2), r#"{"x":1}"#));
        // before its deadline the socket gets it
        assert_eq!(index.broadcast("{}", 999, |f| f, |_, _| {}).len(), 0);
    }

    #[test]
    fn acks_are_dropped_only_while_no_pull_is_paced() {
        let ack = ClientMessage::decode(r#"{"_tag":"Ack","requestId":"1"}"#);
        let ping = ClientMessage::decode(r#"{"_tag":"Ping"}"#);
        let mut fanout: Fanout<u32> = Fanout::default();
        assert!(!fanout.drops(&ack), "unknown index: read the attachment");
        fanout.index(|| SocketIndex::from_connections([(0, live(&[1]))]));
        assert!(fanout.drops(&ack));
        assert!(!fanout.drops(&ping));
        let mut paced = live(&[1]);
        paced
            .pending_pulls
            .push(crate::sync::connection::PendingPull {
                id: id(9),
                after: 0,
                until: 5,
                remaining: 5,
                live: true,
                unacked: 8,
                sent: 8,
                caller: None,
            });
        fanout.note_change(&paced.live_pulls.clone(), &paced);
        assert!(!fanout.drops(&ack), "a paced pull needs its Acks");
        assert!(fanout.needs_store(&paced, &ack));
        fanout.note_change(&[], &paced);
        assert!(!fanout.drops(&ack), "live pulls changed: index dropped");
    }
}
