//! The sync rules over the DO-RPC transport (docs/do-rpc.md): the same service as WebSocket and
//! HTTP, with its own tags, pulls that end (a live one by subscribing its caller), and history
//! sent a window at a time as the caller reads.

mod common;

use common::*;
use livestore_sync_rs::protocol::messages::CallerContext;
use livestore_sync_rs::sync::pull::PULL_WINDOW;
use livestore_sync_rs::sync::{Connection, Output};
use livestore_sync_rs::transport::Transport;
use serde_json::{json, Value};

const OBJECT: &str = "2d3d5b68aaf6a10173ff1242a12e0646d02a6ea21f9035adf33266964";

fn request(id: &str, tag: &str, payload: Value) -> String {
    json!({"_tag": "Request", "id": id, "tag": tag, "payload": payload, "headers": [],
           "traceId": "t", "spanId": "s", "sampled": false})
    .to_string()
}

fn rpc_pull(id: &str, live: bool) -> String {
    let mut payload = json!({"storeId": "s", "cursor": {"_tag": "None"}});
    if live {
        payload["rpcContext"] =
            json!({"callerContext": {"bindingName": "CLIENT_DO", "durableObjectId": OBJECT}});
    }
    request(id, "SyncDoRpc.Pull", payload)
}

fn rpc(
    store: &mut livestore_sync_rs::sync::Store<MemLog>,
    conn: &mut Connection,
    text: &str,
) -> Outputs {
    send(store, Transport::DoRpc, conn, text)
}

/// The seqNums of the Chunk replies, in order.
fn seq_nums(replies: &[Value]) -> Vec<i64> {
    replies
        .iter()
        .filter(|r| r["_tag"] == "Chunk")
        .flat_map(|r| {
            r["values"][0]["batch"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .map(|b| b["eventEncoded"]["seqNum"].as_i64().unwrap())
        .collect()
}

/// Reads the rest of a paced pull as the Durable Object does when the caller reads on.
fn read_on(
    store: &mut livestore_sync_rs::sync::Store<MemLog>,
    conn: &mut Connection,
) -> (Vec<Value>, Vec<Output>) {
    let mut replies = Vec::new();
    let mut others = Vec::new();
    block_on(store.continue_pulls(conn, &mut |o| match o {
        Output::Reply(r) => replies.push(serde_json::from_str(&r).unwrap()),
        other => others.push(other),
    }));
    (replies, others)
}

#[test]
fn ping_push_and_a_pull_that_ends() {
    let mut s = store();
    let mut conn = Connection::default();
    let o = rpc(
        &mut s,
        &mut conn,
        &request("1", "SyncDoRpc.Ping", json!({"storeId": "s"})),
    );
    assert_eq!(
        o.replies[0]["exit"]["value"],
        json!({"_tag": "SyncMessage.Pong"})
    );
    let push =
        json!({"storeId": "s", "batch": [event(1), event(2)], "backendId": {"_tag": "None"}});
    let o = rpc(&mut s, &mut conn, &request("2", "SyncDoRpc.Push", push));
    assert_eq!(
        o.replies[0]["exit"],
        json!({"_tag": "Success", "value": {}})
    );
    assert_eq!(o.broadcasts.len(), 1, "other clients see the push");
    let o = rpc(&mut s, &mut conn, &rpc_pull("3", false));
    assert_eq!(seq_nums(&o.replies), vec![1, 2]);
    assert_eq!(o.replies.last().unwrap()["exit"]["_tag"], "Success");
    assert!(o.subscriptions.is_empty());
    assert!(conn.live_pulls.is_empty() && conn.pending_pulls.is_empty());
}

#[test]
fn a_live_pull_subscribes_its_caller_after_its_history_and_ends() {
    let mut s = store();
    push_events(&mut s, 1, 3);
    let mut conn = Connection::default();
    let o = rpc(&mut s, &mut conn, &rpc_pull("0", true));
    assert_eq!(seq_nums(&o.replies), vec![1, 2, 3]);
    assert_eq!(
        o.replies.last().unwrap()["_tag"],
        "Exit",
        "a DO-RPC live pull ends too"
    );
    assert_eq!(o.subscriptions.len(), 1);
    assert_eq!(
        o.subscriptions[0].caller,
        CallerContext {
            binding_name: "CLIENT_DO".into(),
            durable_object_id: OBJECT.into()
        }
    );
    assert_eq!(o.subscriptions[0].request_id.as_json(), r#""0""#);
    assert!(
        conn.live_pulls.is_empty(),
        "no socket broadcasts for a DO-RPC pull"
    );
}

#[test]
fn history_comes_a_window_at_a_time_and_pushes_in_between_arrive_exactly_once() {
    let mut s = store();
    let window = PULL_WINDOW as i64 * 100;
    push_events(&mut s, 1, 2 * window + 50);
    let mut conn = Connection::default();
    let first = rpc(&mut s, &mut conn, &rpc_pull("0", true));
    assert_eq!(seq_nums(&first.replies), (1..=window).collect::<Vec<_>>());
    assert!(
        first.subscriptions.is_empty(),
        "not subscribed before the history is sent"
    );
    assert_eq!(conn.pending_pulls.len(), 1);

    // a push while the caller reads: after the pull's start, so not in its counted history
    let head = s.head;
    push_events(&mut s, head + 1, head + 5);

    let (second, _) = read_on(&mut s, &mut conn);
    assert_eq!(
        seq_nums(&second),
        (window + 1..=2 * window).collect::<Vec<_>>()
    );
    let (third, others) = read_on(&mut s, &mut conn);
    assert_eq!(
        seq_nums(&third),
        (2 * window + 1..=2 * window + 55).collect::<Vec<_>>(),
        "the rest of the history, then what was pushed meanwhile, once"
    );
    assert_eq!(third.last().unwrap()["_tag"], "Exit");
    assert!(
        matches!(others.as_slice(), [Output::Subscribe(_)]),
        "{others:?}"
    );
    assert!(conn.pending_pulls.is_empty());
    let mut remaining: Vec<Value> = [&first.replies, &second, &third]
        .into_iter()
        .flatten()
        .filter(|r| r["_tag"] == "Chunk")
        .map(|r| r["values"][0]["pageInfo"].clone())
        .collect();
    assert_eq!(remaining.pop(), Some(json!({"_tag": "NoMore"})));
}

#[test]
fn unknown_and_other_transports_tags_get_an_exit_die_for_the_request() {
    let mut s = store();
    let mut conn = Connection::default();
    for tag in ["SyncDoRpc.Nope", "SyncWsRpc.Pull", "SyncHttpRpc.Ping"] {
        let o = rpc(
            &mut s,
            &mut conn,
            &request("9", tag, json!({"storeId": "s"})),
        );
        assert_eq!(o.replies.len(), 1, "{tag}");
        assert_eq!(o.replies[0]["requestId"], "9", "{tag}");
        assert_eq!(o.replies[0]["exit"]["cause"]["_tag"], "Die", "{tag}");
        assert!(
            o.replies[0]["exit"]["cause"]["defect"]
                .as_str()
                .unwrap()
                .contains(tag),
            "{tag}"
        );
    }
}

#[test]
fn a_bad_live_pull_payload_is_a_die_and_subscribes_nobody() {
    let mut s = store();
    let mut conn = Connection::default();
    let payload = json!({"storeId": "s", "cursor": {"_tag": "None"},
                         "rpcContext": {"callerContext": {"bindingName": "CLIENT_DO"}}});
    let o = rpc(&mut s, &mut conn, &request("4", "SyncDoRpc.Pull", payload));
    assert_eq!(o.replies[0]["exit"]["cause"]["_tag"], "Die");
    assert!(o.subscriptions.is_empty());
}
