//! What the server remembers of one connection between its messages: its live pulls, the pulls
//! still paced by Acks, and what its token may push. The glue keeps it in the socket attachment,
//! so it survives hibernation; HTTP and DO-RPC requests start from an empty one.

use serde::{Deserialize, Serialize};

use crate::auth::rights::PushRights;
use crate::protocol::messages::CallerContext;
use crate::protocol::rpc::{ClientMessage, FrameError, RequestId};

/// Per-connection state that must survive hibernation.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Connection {
    /// Live pulls whose history is complete: they receive every broadcast.
    #[serde(rename = "pullRequestIds", default)]
    pub live_pulls: Vec<RequestId>,
    /// Pulls still sending their history, paced by Acks.
    #[serde(
        rename = "pendingPulls",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub pending_pulls: Vec<PendingPull>,
    /// Whether any RPC request arrived on this connection. A socket that never carries one is
    /// closed after a while ([`super::closing`]): the published client can reconnect silently
    /// and leave its requests unanswered on a socket that only ever pings.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub requested: bool,
    /// What the token this connection was opened with may push (checked on every push, before
    /// admission: a read-only client with a stale parent learns that it is read-only).
    #[serde(
        rename = "pushRights",
        default,
        skip_serializing_if = "PushRights::is_unrestricted"
    )]
    pub rights: PushRights,
}

impl Connection {
    /// Whether `text` can need the store: a well-formed `Ack` only matters while a pull on this
    /// socket is paced by Acks (the Acks of broadcasts need nothing). Decoding a frame is cheap;
    /// loading the store after an eviction is not.
    pub fn needs_store(&self, text: &str) -> bool {
        self.needs_store_for(&ClientMessage::decode(text))
    }

    /// [`Self::needs_store`] of a message decoded already.
    pub fn needs_store_for(&self, message: &Result<ClientMessage<'_>, FrameError>) -> bool {
        !(self.pending_pulls.is_empty() && matches!(message, Ok(ClientMessage::Ack(_))))
    }

    /// Whether a pull of this connection runs under request id `id`.
    pub fn uses(&self, id: &RequestId) -> bool {
        self.live_pulls.contains(id) || self.pending_pulls.iter().any(|p| p.id == *id)
    }

    /// How many pulls run on this connection, live or still sending history.
    pub fn running_pulls(&self) -> usize {
        self.live_pulls.len() + self.pending_pulls.len()
    }

    /// Ends the pull `id` (an `Interrupt`); `true` if there was one.
    pub fn interrupt(&mut self, id: &RequestId) -> bool {
        let before = self.running_pulls();
        self.live_pulls.retain(|x| x != id);
        self.pending_pulls.retain(|p| p.id != *id);
        self.running_pulls() != before
    }
}

/// A pull whose history is still being sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingPull {
    pub id: RequestId,
    /// `seqNum` of the last event sent.
    pub after: i64,
    /// The head when the pull started: its history ends there.
    pub until: i64,
    /// History events not sent yet (for `MoreKnown.remaining`).
    pub remaining: u64,
    pub live: bool,
    /// Responses sent and not yet acknowledged.
    pub unacked: u32,
    /// Responses sent so far (an empty history still sends one).
    pub sent: u64,
    /// DO-RPC: the object to subscribe when the history is done (the pull then ends).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller: Option<CallerContext>,
}
