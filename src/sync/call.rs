//! Parse, then apply: one RPC request becomes a typed [`Call`], with every rule that depends on
//! the transport decided here (which tags exist, what "live" means, which pulls a connection may
//! still start). [`super::service`] only runs a call that parsed.

use crate::protocol::do_rpc;
use crate::protocol::messages::{
    decode_payload, CallerContext, PullRequest, PushRequest, SyncError,
};
use crate::protocol::rpc::{self, RequestId, RpcRequest};
use crate::transport::Transport;

use super::activity::{Activity, Refusal};
use super::connection::Connection;
use super::limits::{Limits, MAX_REQUEST_ID_BYTES};

/// A request the service can run.
#[derive(Debug)]
pub enum Call {
    Pull {
        id: RequestId,
        pull: PullRequest,
        mode: PullMode,
    },
    Push {
        id: RequestId,
        push: PushRequest,
    },
    /// HTTP and DO-RPC ping with a request (WebSocket pings are frames of their own).
    Ping {
        id: RequestId,
    },
}

/// How a pull ends once its history is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PullMode {
    /// The pull ends (HTTP, where "live" is the client polling, §9.3; a non-live WebSocket pull).
    Once,
    /// WebSocket: the pull stays open and receives every broadcast.
    Live,
    /// DO-RPC live: the caller's object is called back with every later push; the pull ends.
    Subscribe(CallerContext),
}

/// A request answered without running: its one reply, and what to record.
#[derive(Debug)]
pub struct Rejection {
    pub reply: String,
    pub activity: Option<Activity>,
}

impl Rejection {
    fn reply(reply: String) -> Rejection {
        Rejection {
            reply,
            activity: None,
        }
    }
}

/// The RPCs, whatever their group's tag prefix (§4, §5.3, docs/do-rpc.md §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rpc {
    Pull,
    Push,
    Ping,
}

fn rpc_of(transport: Transport, tag: &str) -> Option<Rpc> {
    Some(match (transport, tag) {
        (Transport::WebSocket, "SyncWsRpc.Pull")
        | (Transport::Http, "SyncHttpRpc.Pull")
        | (Transport::DoRpc, do_rpc::PULL) => Rpc::Pull,
        (Transport::WebSocket, "SyncWsRpc.Push")
        | (Transport::Http, "SyncHttpRpc.Push")
        | (Transport::DoRpc, do_rpc::PUSH) => Rpc::Push,
        (Transport::Http, "SyncHttpRpc.Ping") | (Transport::DoRpc, do_rpc::PING) => Rpc::Ping,
        _ => return None,
    })
}

impl Call {
    /// Whether a request tagged `tag` over `transport` is a push (a rate limit answers it before
    /// the store is involved).
    pub fn is_push(transport: Transport, tag: &str) -> bool {
        rpc_of(transport, tag) == Some(Rpc::Push)
    }

    /// Whether a request tagged `tag` over `transport` is a pull.
    pub fn is_pull(transport: Transport, tag: &str) -> bool {
        rpc_of(transport, tag) == Some(Rpc::Pull)
    }

    /// The call `request` makes on `conn`, or the answer that refuses it.
    pub fn parse(
        transport: Transport,
        conn: &Connection,
        request: RpcRequest<'_>,
        limits: &Limits,
    ) -> Result<Call, Rejection> {
        let id = request.id;
        if conn.uses(&id) {
            let reason = format!(
                "Request id {} is already in use by a pull on this connection",
                id.as_json()
            );
            return Err(Rejection::reply(rpc::exit_die(&id, &reason)));
        }
        let tag = request.tag.as_ref();
        let Some(rpc) = rpc_of(transport, tag) else {
            let reason = format!("Unknown request tag: {tag}");
            return Err(Rejection::reply(match transport {
                // the request is answered: the DO-RPC client has no connection to fail
                Transport::DoRpc => rpc::exit_die(&id, &reason),
                _ => rpc::defect_frame(&reason),
            }));
        };
        match rpc {
            Rpc::Pull => {
                if let Some(reason) = pull_refusal(transport, conn, &id, limits) {
                    let e = SyncError::unknown("PullLimitError", reason);
                    return Err(Rejection::reply(rpc::exit_failure(&id, &e.encode())));
                }
                let pull: PullRequest = decode_payload(tag, request.payload)
                    .map_err(|e| Rejection::reply(rpc::exit_die(&id, &e.to_string())))?;
                let mode = match (transport, pull.live) {
                    (Transport::WebSocket, Some(true)) => PullMode::Live,
                    (Transport::WebSocket, Some(false)) | (Transport::Http, _) => PullMode::Once,
                    (Transport::WebSocket, None) => {
                        let e = format!("{tag}: invalid payload: missing field `live`");
                        return Err(Rejection::reply(rpc::exit_die(&id, &e)));
                    }
                    // Live over DO-RPC is a call back per push, after the stream ends.
                    (Transport::DoRpc, _) => match &pull.rpc_context {
                        Some(c) => PullMode::Subscribe(c.caller_context.clone()),
                        None => PullMode::Once,
                    },
                };
                Ok(Call::Pull { id, pull, mode })
            }
            Rpc::Push => match decode_payload(tag, request.payload) {
                Ok(push) => Ok(Call::Push { id, push }),
                Err(e) => Err(Rejection {
                    reply: rpc::exit_die(&id, &e.to_string()),
                    activity: Some(Activity::Push {
                        events: 0,
                        outcome: Err(Refusal("InvalidPayload".into())),
                    }),
                }),
            },
            Rpc::Ping => Ok(Call::Ping { id }),
        }
    }
}

/// Why a new pull on this connection is refused, if it is: WebSocket pulls are remembered by
/// request id in the socket's attachment, so their number and their ids are bounded.
fn pull_refusal(
    transport: Transport,
    conn: &Connection,
    id: &RequestId,
    limits: &Limits,
) -> Option<String> {
    if transport != Transport::WebSocket {
        return None;
    }
    let running = conn.running_pulls();
    if running >= limits.max_pulls_per_socket {
        return Some(format!(
            "this socket already runs {running} pulls, the most allowed (MAX_PULLS_PER_SOCKET={}); interrupt one or open another socket",
            limits.max_pulls_per_socket
        ));
    }
    let id_bytes = id.as_json().len();
    if id_bytes > MAX_REQUEST_ID_BYTES {
        return Some(format!(
            "a pull's request id may be at most {MAX_REQUEST_ID_BYTES} bytes of JSON; this one is {id_bytes}"
        ));
    }
    None
}
