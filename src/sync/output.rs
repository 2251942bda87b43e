//! What handling a message produces: [`Output`]s the glue moves onto sockets, into an HTTP body
//! or into logs, and the failure answer every RPC shares.

use crate::protocol::messages::{CallerContext, SyncError};
use crate::protocol::rpc::{self, RequestId};

use super::activity::Activity;

/// A DO-RPC live pull that finished its history: call the client's object back with every
/// later `PullResponse`, under the pull's request id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpcSubscription {
    pub caller: CallerContext,
    pub request_id: RequestId,
}

/// Something the glue must send, or may record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// A frame for the connection the message came from.
    Reply(String),
    /// A `PullResponse` for every live pull of every socket of the store, pusher included. All
    /// broadcasts of a push are emitted before its acknowledgement.
    Broadcast(String),
    /// What a request did, for logs and metrics.
    Activity(Activity),
    /// A DO-RPC subscriber to record (replacing an earlier one of the same object), in the
    /// same step as the end of its history.
    Subscribe(RpcSubscription),
}

/// Answers request `id` with the failure `e`, reporting a storage failure's detail for the log
/// (the client gets only its incident id).
pub(crate) fn fail(id: &RequestId, e: &SyncError, out: &mut dyn FnMut(Output)) {
    if let SyncError::Storage { incident, detail } = e {
        out(Output::Activity(Activity::StorageFailure {
            incident: incident.clone(),
            detail: detail.clone(),
        }));
    }
    out(Output::Reply(rpc::exit_failure(id, &e.encode())));
}
