//! The app's hooks (`makeDurableObject({ onPush, onPull, onPushRes, onPullRes })`): which
//! request calls which, with what message, and what the client gets when a hook refuses.
//!
//! As in the reference, `onPush` sees a push that decodes and has at least one event, before
//! anything is checked or stored; `onPull` sees every pull that decodes, before storage is read.
//! Their message is the request's payload as the client sent it (`{storeId, payload?, batch,
//! backendId}` / `{storeId, payload?, cursor, live?}`, with Effect's `Option` as `{_tag, value}`),
//! which is what the reference's decoded message holds. The admission that follows (head,
//! backendId, rights, limits) runs after the hook has resolved, on the store's state at that
//! moment: two pushes with the same parent never both pass, however slow the hook.

use std::borrow::Cow;

use crate::auth::PushRights;
use crate::protocol::messages::{decode_payload, PullRequest, PushRequest, SyncError, PUSH_ACK};
use crate::protocol::rpc::{self, RequestId, RpcRequest};
use crate::sync::activity::Activity;
use crate::sync::call::Call;
use crate::sync::Output;
use crate::transport::Transport;

use super::options::HookSet;

/// A hook that runs before a request is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    OnPush,
    OnPull,
}

/// A request that must pass a hook first: which one, and the message the hook gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatedRequest<'a> {
    pub gate: Gate,
    pub id: RequestId,
    /// The request's payload, raw JSON.
    pub message: &'a str,
}

/// The hook `request` must pass before it is applied, if any of `hooks` applies to it. A push
/// the token's `rights` refuse (read-only, per-event rules) is refused without the hook: the
/// server's own rules come first, and the app never sees a push it could not let through.
pub fn gate<'a>(
    transport: Transport,
    request: &RpcRequest<'a>,
    hooks: HookSet,
    rights: &PushRights,
) -> Option<GatedRequest<'a>> {
    let tag = request.tag.as_ref();
    let payload = request.payload?;
    let gate = if hooks.on_push && Call::is_push(transport, tag) {
        let push: PushRequest = decode_payload(tag, Some(payload)).ok()?;
        // an empty batch is acknowledged without the hook, as in the reference
        let names = push.batch.iter().map(|e| e.name.as_str());
        (!push.batch.is_empty() && rights.refusal(names).is_none()).then_some(Gate::OnPush)?
    } else if hooks.on_pull && Call::is_pull(transport, tag) {
        decode_payload::<PullRequest>(tag, Some(payload)).ok()?;
        Gate::OnPull
    } else {
        return None;
    };
    Some(GatedRequest {
        gate,
        id: request.id.clone(),
        message: payload.get(),
    })
}

/// The notifying hook `output` calls, if the app gave it, with its message: `onPushRes` with the
/// `PushAck` for every accepted push; `onPullRes` with the `PullResponse`s (a JSON array) of every
/// chunk a client gets, a pull's history chunks and each broadcast once, as the reference calls
/// them. What these hooks do cannot change what the client gets.
pub fn notice(output: &Output, hooks: HookSet) -> Option<(&'static str, Cow<'_, str>)> {
    match output {
        Output::Activity(Activity::Push { outcome: Ok(_), .. }) if hooks.on_push_res => {
            Some(("onPushRes", Cow::Borrowed(PUSH_ACK)))
        }
        Output::Broadcast(response) if hooks.on_pull_res => {
            Some(("onPullRes", Cow::Owned(format!("[{response}]"))))
        }
        Output::Reply(frame) if hooks.on_pull_res => {
            rpc::chunk_values(frame).map(|values| ("onPullRes", Cow::Borrowed(values)))
        }
        _ => None,
    }
}

/// What a hook threw (or rejected with, or failed with): its error's `name` and `message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookError {
    pub name: String,
    pub message: String,
}

/// The answer to a request whose hook refused it: an `UnknownError` whose cause is the hook's
/// error, as the reference sends it (`{"cause":{"name":"Error","message":…},"_tag":"UnknownError"}`).
pub fn refusal(id: &RequestId, e: &HookError) -> String {
    rpc::exit_failure(id, &SyncError::unknown(&e.name, &e.message).encode())
}

/// The body of the `400` that answers a request `validatePayload` refused: the reference's text
/// (`String(UnknownError)`), whose cause is `String(error)` of what the callback threw.
pub fn validate_refusal_text(thrown: &str) -> String {
    format!(r#"UnknownError: {{ "cause": {thrown}, "note": undefined, "payload": undefined }}"#)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::rpc::ClientMessage;
    use crate::sync::activity::Refusal;

    const ALL: HookSet = HookSet {
        on_push: true,
        on_pull: true,
        on_push_res: true,
        on_pull_res: true,
    };

    fn gated(transport: Transport, frame: &str, hooks: HookSet) -> Option<(Gate, String)> {
        let Ok(ClientMessage::Request(request)) = ClientMessage::decode(frame) else {
            panic!("not a request: {frame}");
        };
        gate(transport, &request, hooks, &PushRights::default())
            .map(|g| (g.gate, g.message.to_owned()))
    }

    const PUSH: &str = r#"{"_tag":"Request","id":"1","tag":"SyncWsRpc.Push","payload":{"storeId":"s","payload":{"authToken":"t"},"batch":[{"name":"a","args":{},"seqNum":1,"parentSeqNum":0,"clientId":"c","sessionId":"x"}],"backendId":{"_tag":"None"}},"traceId":"t","spanId":"s","sampled":false,"headers":[]}"#;

    #[test]
    fn a_push_with_events_passes_on_push_with_its_payload() {
        let (g, message) = gated(Transport::WebSocket, PUSH, ALL).unwrap();
        assert_eq!(g, Gate::OnPush);
        assert!(message.starts_with(r#"{"storeId":"s","payload":{"authToken":"t"},"batch":[{"#));
        let only_pull = HookSet {
            on_pull: true,
            ..HookSet::default()
        };
        assert_eq!(gated(Transport::WebSocket, PUSH, only_pull), None);
        // the HTTP tag is not a WebSocket push
        assert_eq!(gated(Transport::Http, PUSH, ALL), None);
    }

    #[test]
    fn empty_undecodable_and_other_requests_pass_no_hook() {
        let empty = PUSH.replace(
            r#"[{"name":"a","args":{},"seqNum":1,"parentSeqNum":0,"clientId":"c","sessionId":"x"}]"#,
            "[]",
        );
        assert_eq!(gated(Transport::WebSocket, &empty, ALL), None);
        let broken = PUSH.replace(r#""seqNum":1"#, r#""seqNum":"one""#);
        assert_eq!(gated(Transport::WebSocket, &broken, ALL), None);
        let ping = r#"{"_tag":"Request","id":"2","tag":"SyncHttpRpc.Ping","payload":{"storeId":"s"},"traceId":"t","spanId":"s","sampled":false,"headers":[]}"#;
        assert_eq!(gated(Transport::Http, ping, ALL), None);
    }

    #[test]
    fn a_push_the_token_does_not_allow_is_refused_before_on_push() {
        let Ok(ClientMessage::Request(request)) = ClientMessage::decode(PUSH) else {
            panic!("not a request");
        };
        let rights = |read_only, events: Option<&[&str]>| PushRights {
            read_only,
            events: events.map(|e| e.iter().map(|&n| n.to_owned()).collect()),
        };
        let read_only = rights(true, None);
        assert_eq!(gate(Transport::WebSocket, &request, ALL, &read_only), None);
        let other_events = rights(false, Some(&["b*"]));
        assert_eq!(
            gate(Transport::WebSocket, &request, ALL, &other_events),
            None
        );
        let allowed = rights(false, Some(&["a"]));
        assert_eq!(
            gate(Transport::WebSocket, &request, ALL, &allowed).map(|g| g.gate),
            Some(Gate::OnPush)
        );
    }

    #[test]
    fn a_pull_passes_on_pull() {
        let pull = r#"{"_tag":"Request","id":"3","tag":"SyncHttpRpc.Pull","payload":{"storeId":"s","cursor":{"_tag":"None"}},"traceId":"t","spanId":"s","sampled":false,"headers":[]}"#;
        assert_eq!(
            gated(Transport::Http, pull, ALL),
            Some((
                Gate::OnPull,
                r#"{"storeId":"s","cursor":{"_tag":"None"}}"#.to_owned()
            ))
        );
    }

    #[test]
    fn accepted_pushes_and_delivered_chunks_are_noticed_only_with_their_hook() {
        let accepted = Output::Activity(Activity::Push {
            events: 1,
            outcome: Ok(1),
        });
        let refused = Output::Activity(Activity::Push {
            events: 1,
            outcome: Err(Refusal("ServerAheadError".into())),
        });
        let id = RequestId::from_json_text("4").unwrap();
        let chunk = Output::Reply(rpc::chunk_frame(&id, r#"{"batch":[]}"#));
        let exit = Output::Reply(rpc::exit_success(&id, "{}"));
        let broadcast = Output::Broadcast(r#"{"batch":[1]}"#.into());
        let got = |o: &Output, h| notice(o, h).map(|(n, m)| (n, m.into_owned()));
        assert_eq!(got(&accepted, ALL), Some(("onPushRes", "{}".to_owned())));
        assert_eq!(got(&refused, ALL), None);
        assert_eq!(
            got(&chunk, ALL),
            Some(("onPullRes", r#"[{"batch":[]}]"#.to_owned()))
        );
        assert_eq!(got(&exit, ALL), None);
        assert_eq!(
            got(&broadcast, ALL),
            Some(("onPullRes", r#"[{"batch":[1]}]"#.to_owned()))
        );
        for o in [&accepted, &chunk, &broadcast] {
            assert_eq!(
                got(o, HookSet::default()),
                None,
                "no hook given, nothing noticed"
            );
        }
    }

    #[test]
    fn refusals_read_as_the_reference_writes_them() {
        let id = RequestId::from_json_text(r#""7""#).unwrap();
        let e = HookError {
            name: "Error".into(),
            message: "no todos on Sundays".into(),
        };
        assert_eq!(
            refusal(&id, &e),
            r#"{"_tag":"Exit","requestId":"7","exit":{"_tag":"Failure","cause":{"_tag":"Fail","error":{"cause":{"name":"Error","message":"no todos on Sundays"},"_tag":"UnknownError"}}}}"#
        );
        assert_eq!(
            validate_refusal_text("Error: Invalid auth token"),
            r#"UnknownError: { "cause": Error: Invalid auth token, "note": undefined, "payload": undefined }"#
        );
    }
}
