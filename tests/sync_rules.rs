//! The sync rules, exercised through the service exactly as a socket would drive it.

mod common;

use common::*;
use livestore_sync_rs::sync::Connection;
use livestore_sync_rs::transport::Transport;
use serde_json::{json, Value};

/// A non-live pull, acknowledging every chunk as the client does, until its Exit.
fn pull_all(store: &mut livestore_sync_rs::sync::Store<MemLog>, cursor: Option<i64>) -> Vec<Value> {
    let mut conn = Connection::default();
    let mut replies = ws(store, &mut conn, &pull_frame("9", cursor, false)).replies;
    let mut responses = Vec::new();
    let mut acks_owed = 0;
    loop {
        for r in replies.drain(..) {
            if r["_tag"] == "Exit" {
                assert_eq!(
                    r,
                    json!({"_tag":"Exit","requestId":"9","exit":{"_tag":"Success"}})
                );
                assert!(conn.pending_pulls.is_empty());
                return responses;
            }
            assert_eq!(r["_tag"], "Chunk");
            responses.push(r["values"][0].clone());
            acks_owed += 1;
        }
        assert!(
            acks_owed > 0,
            "the pull stalled without unacknowledged chunks"
        );
        acks_owed -= 1;
        replies = ws(store, &mut conn, r#"{"_tag":"Ack","requestId":"9"}"#).replies;
    }
}

#[test]
fn empty_pull_is_one_empty_no_more_response() {
    let mut s = store();
    let r = pull_all(&mut s, None);
    assert_eq!(
        r,
        vec![json!({"batch":[],"pageInfo":{"_tag":"NoMore"},"backendId":BACKEND_ID})]
    );
    // Cursor at and beyond the head: the same single empty response.
    push_events(&mut s, 1, 3);
    assert_eq!(pull_all(&mut s, Some(3))[0]["batch"], json!([]));
    assert_eq!(
        pull_all(&mut s, Some(99))[0]["pageInfo"],
        json!({"_tag":"NoMore"})
    );
}

#[test]
fn pages_count_down_and_keep_order() {
    for n in [1i64, 99, 100, 101, 250, 1800] {
        let mut s = store();
        push_events(&mut s, 1, n);
        let responses = pull_all(&mut s, None);
        let mut seen = 0i64;
        for (i, r) in responses.iter().enumerate() {
            let batch = r["batch"].as_array().unwrap();
            assert!(batch.len() <= 100);
            for item in batch {
                seen += 1;
                assert_eq!(item["eventEncoded"]["seqNum"], seen);
                assert_eq!(item["eventEncoded"]["parentSeqNum"], seen - 1);
            }
            let remaining = n - seen;
            if i + 1 == responses.len() {
                assert_eq!(r["pageInfo"], json!({"_tag":"NoMore"}));
                assert_eq!(remaining, 0);
            } else {
                assert_eq!(
                    r["pageInfo"],
                    json!({"_tag":"MoreKnown","remaining":remaining})
                );
            }
        }
        assert_eq!(seen, n);
        assert_eq!(responses.len() as i64, (n + 99) / 100);
    }
}

#[test]
fn cursor_is_exclusive() {
    let mut s = store();
    push_events(&mut s, 1, 250);
    let r = pull_all(&mut s, Some(200));
    assert_eq!(r.len(), 1);
    assert_eq!(r[0]["batch"][0]["eventEncoded"]["seqNum"], 201);
    assert_eq!(r[0]["batch"].as_array().unwrap().len(), 50);
}

#[test]
fn responses_stay_within_the_byte_budget() {
    let mut s = store();
    let big = "x".repeat(120_000);
    let events: Vec<Value> = (1..=20)
        .map(|i| {
            let mut e = event(i);
            e["args"] = json!({"blob": big});
            e
        })
        .collect();
    for chunk in events.chunks(5) {
        let o = ws(
            &mut s,
            &mut Connection::default(),
            &push_frame("p", chunk, None),
        );
        assert_eq!(o.replies[0]["exit"]["_tag"], "Success");
    }
    let o = ws(
        &mut s,
        &mut Connection::default(),
        &pull_frame("1", None, false),
    );
    let mut total = 0;
    for raw in &o.raw_replies[..o.raw_replies.len() - 1] {
        let v: Value = serde_json::from_str(raw).unwrap();
        let response = serde_json::to_string(&v["values"][0]).unwrap();
        assert!(response.len() <= 900_000, "{}", response.len());
        total += v["values"][0]["batch"].as_array().unwrap().len();
    }
    assert_eq!(total, 20);
    assert_eq!(
        o.raw_replies.len() - 1,
        3,
        "7 events of ~120 kB fit in 900,000 bytes"
    );
}

#[test]
fn server_ahead_when_parent_is_not_the_head() {
    let mut s = store();
    push_events(&mut s, 1, 1);
    for parent in [0, 5] {
        let mut e = event(parent + 1);
        e["parentSeqNum"] = json!(parent);
        let o = ws(
            &mut s,
            &mut Connection::default(),
            &push_frame("4", &[e], None),
        );
        assert_eq!(
            o.replies[0],
            json!({"_tag":"Exit","requestId":"4","exit":{"_tag":"Failure","cause":{"_tag":"Fail","error":
                {"minimumExpectedNum":1,"providedNum":parent,"_tag":"ServerAheadError"}}}})
        );
    }
}

#[test]
fn backend_id_mismatch_on_push_and_pull_but_not_for_empty_push() {
    let mut s = store();
    let o = ws(
        &mut s,
        &mut Connection::default(),
        &push_frame("1", &[event(1)], Some("stale")),
    );
    assert_eq!(
        o.replies[0]["exit"]["cause"]["error"],
        json!({"expected":BACKEND_ID,"received":"stale","_tag":"BackendIdMismatchError"})
    );
    let o = ws(
        &mut s,
        &mut Connection::default(),
        &push_frame("2", &[], Some("stale")),
    );
    assert_eq!(o.replies[0]["exit"], json!({"_tag":"Success","value":{}}));
    let frame = pull_frame("3", Some(3), true).replace(BACKEND_ID, "stale");
    let mut conn = Connection::default();
    let o = ws(&mut s, &mut conn, &frame);
    assert_eq!(
        o.replies[0]["exit"]["cause"]["error"]["_tag"],
        "BackendIdMismatchError"
    );
    assert!(
        conn.live_pulls.is_empty(),
        "a failed live pull is not registered"
    );
}

#[test]
fn push_is_broadcast_before_its_ack_and_live_pull_registers() {
    let mut s = store();
    let mut conn = Connection::default();
    let o = ws(&mut s, &mut conn, &pull_frame("0", None, true));
    assert_eq!(o.replies.len(), 1, "history only, no Exit for a live pull");
    assert_eq!(conn.live_pulls.len(), 1);
    let mut order = Vec::new();
    block_on(s.handle_message(
        Transport::WebSocket,
        &mut Connection::default(),
        &push_frame("1", &[event(1), event(2)], Some(BACKEND_ID)),
        &|| NOW.to_owned(),
        &mut |o| order.push(o),
    ));
    assert!(matches!(
        order[0],
        livestore_sync_rs::sync::Output::Broadcast(_)
    ));
    assert!(matches!(
        order[1],
        livestore_sync_rs::sync::Output::Reply(_)
    ));
    assert_eq!(s.head, 2);
    // Interrupt ends the live pull with an interrupt exit; a second interrupt gets no reply.
    let o = ws(&mut s, &mut conn, r#"{"_tag":"Interrupt","requestId":"0"}"#);
    assert_eq!(o.replies[0]["exit"]["cause"]["_tag"], "Interrupt");
    assert!(conn.live_pulls.is_empty());
    assert!(
        ws(&mut s, &mut conn, r#"{"_tag":"Interrupt","requestId":"0"}"#)
            .replies
            .is_empty()
    );
}

#[test]
fn args_come_back_as_they_were_pushed_absent_or_null_live_and_in_history() {
    let mut s = store();
    let mut absent = event(1);
    absent.as_object_mut().unwrap().remove("args");
    let mut null = event(2);
    null["args"] = Value::Null;
    let o = ws(
        &mut s,
        &mut Connection::default(),
        &push_frame("1", &[absent, null], None),
    );
    let live = &o.broadcasts[0]["batch"];
    let history = &pull_all(&mut s, None)[0]["batch"];
    for batch in [live, history] {
        assert!(batch[0]["eventEncoded"].get("args").is_none(), "{batch}");
        assert_eq!(
            batch[1]["eventEncoded"].get("args"),
            Some(&Value::Null),
            "{batch}"
        );
    }
    // stored as the reference stores them: SQL NULL for absent, the text `null` for null
    let rows = s.log.rows.borrow();
    assert_eq!(rows[&1].args, None);
    assert_eq!(rows[&2].args.as_deref(), Some("null"));
}

#[test]
fn an_interrupted_pull_gets_its_exit_and_nothing_more() {
    const INTERRUPTED: &str = r#"{"_tag":"Exit","requestId":"0","exit":{"_tag":"Failure","cause":{"_tag":"Interrupt","fiberId":{"_tag":"None"}}}}"#;
    // A live pull: after its Interrupt, pushes no longer reach it.
    let mut s = store();
    let mut conn = Connection::default();
    ws(&mut s, &mut conn, &pull_frame("0", None, true));
    let o = ws(&mut s, &mut conn, r#"{"_tag":"Interrupt","requestId":"0"}"#);
    assert_eq!(o.raw_replies, vec![INTERRUPTED.to_owned()]);
    assert!(conn.live_pulls.is_empty(), "no longer a broadcast target");
    let o = ws(
        &mut s,
        &mut Connection::default(),
        &push_frame("p", &[event(1)], None),
    );
    assert_eq!(
        o.broadcasts.len(),
        1,
        "the push is broadcast, to nobody here"
    );
    // A paced pull with most of its history unsent: Acks release nothing after the Interrupt.
    push_events(&mut s, 2, 2_000);
    let mut conn = Connection::default();
    assert_eq!(
        ws(&mut s, &mut conn, &pull_frame("0", None, true))
            .replies
            .len(),
        8
    );
    let o = ws(&mut s, &mut conn, r#"{"_tag":"Interrupt","requestId":"0"}"#);
    assert_eq!(o.raw_replies, vec![INTERRUPTED.to_owned()]);
    for _ in 0..8 {
        let o = ws(&mut s, &mut conn, r#"{"_tag":"Ack","requestId":"0"}"#);
        assert!(o.replies.is_empty(), "{:?}", o.replies);
    }
    assert!(conn.pending_pulls.is_empty() && conn.live_pulls.is_empty());
    // A second Interrupt has nothing to interrupt.
    assert!(
        ws(&mut s, &mut conn, r#"{"_tag":"Interrupt","requestId":"0"}"#)
            .replies
            .is_empty()
    );
}

#[test]
fn a_broken_chain_is_refused_whole() {
    let mut s = store();
    push_events(&mut s, 1, 5);
    // 6..20 then a duplicate 6: the reference stores part of it and wedges (t11).
    let mut events: Vec<Value> = (6..=20).map(event).collect();
    let mut dup = event(6);
    dup["parentSeqNum"] = json!(20);
    events.push(dup);
    let o = ws(
        &mut s,
        &mut Connection::default(),
        &push_frame("1", &events, None),
    );
    assert_eq!(
        o.replies[0]["exit"]["cause"]["error"]["_tag"],
        "UnknownError"
    );
    assert!(o.broadcasts.is_empty());
    assert_eq!(s.head, 5);
    assert_eq!(s.log.rows.borrow().len(), 5);
    // seqNum not greater than its parent
    let mut back = vec![event(6), event(6)];
    back[1]["parentSeqNum"] = json!(6);
    let o = ws(
        &mut s,
        &mut Connection::default(),
        &push_frame("2", &back, None),
    );
    assert!(o.replies[0]["exit"]["cause"]["error"]["cause"]["message"]
        .as_str()
        .unwrap()
        .contains("greater than parentSeqNum"));
    assert_eq!(s.log.rows.borrow().len(), 5);
    // And the store is not wedged: the right push goes through.
    push_events(&mut s, 6, 20);
    assert_eq!(s.head, 20);
}

#[test]
fn an_undeliverable_event_is_refused_at_push() {
    let mut s = store();
    let mut e = event(1);
    e["args"] = json!({"blob": "y".repeat(950_000)});
    let o = ws(
        &mut s,
        &mut Connection::default(),
        &push_frame("1", &[e], None),
    );
    let err = &o.replies[0]["exit"]["cause"]["error"];
    assert_eq!(err["_tag"], "UnknownError");
    assert!(err["cause"]["message"].as_str().unwrap().contains("bytes"));
    assert_eq!(s.head, 0);
}

#[test]
fn storage_failure_is_an_unknown_error_and_changes_nothing() {
    let mut s = store();
    let mut conn = Connection::default();
    ws(&mut s, &mut conn, &pull_frame("0", None, true));
    s.log.fail_next_append.set(true);
    let o = ws(
        &mut s,
        &mut Connection::default(),
        &push_frame("1", &[event(1)], None),
    );
    assert_eq!(
        o.replies[0]["exit"]["cause"]["error"]["_tag"],
        "UnknownError"
    );
    assert!(o.broadcasts.is_empty());
    assert_eq!(s.head, 0);
    push_events(&mut s, 1, 1);
    assert_eq!(s.head, 1);
}

#[test]
fn any_request_id_is_echoed_verbatim() {
    let mut s = store();
    for id in [r#""abc""#, r#""0""#, r#""😀 \" x""#, "17"] {
        let frame = format!(
            r#"{{"_tag":"Request","id":{id},"tag":"SyncWsRpc.Pull","payload":{{"storeId":"s","live":false,"cursor":{{"_tag":"None"}}}}}}"#
        );
        let o = ws(&mut s, &mut Connection::default(), &frame);
        let expected: Value = serde_json::from_str(id).unwrap();
        assert_eq!(o.replies.len(), 2);
        assert!(o.replies.iter().all(|r| r["requestId"] == expected), "{id}");
        assert!(o.raw_replies[1].contains(&format!(r#""requestId":{id}"#)));
    }
}

#[test]
fn malformed_frames_get_a_defect_and_change_nothing() {
    let mut s = store();
    push_events(&mut s, 1, 2);
    let mut conn = Connection::default();
    for frame in [
        "{",
        "[]",
        "[1,2]",
        "42",
        "\"Ping\"",
        "null",
        "",
        r#"{"_tag":"Hello"}"#,
        r#"{"_tag":"Request","id":"1","tag":"SyncWsRpc.Nope","payload":{}}"#,
        r#"{"_tag":"Request","id":11.5,"tag":"SyncWsRpc.Pull"}"#,
        r#"{"_tag":"Request","id":{},"tag":"SyncWsRpc.Pull"}"#,
        r#"{"_tag":"Request","tag":"SyncWsRpc.Pull"}"#,
        r#"{"_tag":"Ack"}"#,
        r#"{"_tag":5}"#,
    ] {
        let o = ws(&mut s, &mut conn, frame);
        assert_eq!(o.replies.len(), 1, "{frame:?}");
        assert_eq!(o.replies[0]["_tag"], "Defect", "{frame:?}");
    }
    for frame in [
        r#"{"_tag":"Request","id":"1","tag":"SyncWsRpc.Pull","payload":{"storeId":"s","cursor":{"_tag":"None"}}}"#,
        r#"{"_tag":"Request","id":"1","tag":"SyncWsRpc.Pull"}"#,
        r#"{"_tag":"Request","id":"1","tag":"SyncWsRpc.Push","payload":{"storeId":"s","batch":[{"seqNum":3.5}],"backendId":{"_tag":"None"}}}"#,
        r#"{"_tag":"Request","id":"1","tag":"SyncWsRpc.Push","payload":{"storeId":"s","batch":"no","backendId":{"_tag":"Maybe"}}}"#,
        r#"{"_tag":"Request","id":"1","tag":"SyncWsRpc.Pull","payload":{"storeId":"s","live":false,"cursor":{"_tag":"Some"}}}"#,
    ] {
        let o = ws(&mut s, &mut conn, frame);
        assert_eq!(o.replies.len(), 1, "{frame}");
        assert_eq!(o.replies[0]["exit"]["cause"]["_tag"], "Die", "{frame}");
    }
    assert_eq!(s.head, 2);
    assert_eq!(
        pull_all(&mut s, None)[0]["batch"].as_array().unwrap().len(),
        2
    );
    assert!(conn.live_pulls.is_empty());
    // Binary-looking garbage and deep nesting do not panic either.
    let deep = "[".repeat(10_000);
    assert_eq!(ws(&mut s, &mut conn, &deep).replies[0]["_tag"], "Defect");
    let deep_obj = format!(
        r#"{{"_tag":"Request","id":"1","tag":"SyncWsRpc.Push","payload":{}}}"#,
        "[".repeat(10_000)
    );
    assert_eq!(
        ws(&mut s, &mut conn, &deep_obj).replies[0]["_tag"],
        "Defect"
    );
}

#[test]
fn pings_of_any_spelling_get_pong_and_reused_live_id_is_refused() {
    let mut s = store();
    let mut conn = Connection::default();
    for ping in [
        r#"{"_tag":"Ping"}"#,
        r#"{ "_tag": "Ping" }"#,
        r#"{"_tag":"Ping","extra":1}"#,
    ] {
        assert_eq!(
            ws(&mut s, &mut conn, ping).raw_replies,
            vec![r#"{"_tag":"Pong"}"#]
        );
    }
    ws(&mut s, &mut conn, &pull_frame("5", None, true));
    let o = ws(&mut s, &mut conn, &pull_frame("5", None, true));
    assert_eq!(o.replies[0]["exit"]["cause"]["_tag"], "Die");
    assert_eq!(conn.live_pulls.len(), 1);
}

#[test]
fn http_rpcs() {
    let mut s = store();
    let mut conn = Connection::default();
    let ping = r#"{"_tag":"Request","id":"0","tag":"SyncHttpRpc.Ping","payload":{"storeId":"s"},"headers":[]}"#;
    let o = send(&mut s, Transport::Http, &mut conn, ping);
    assert_eq!(
        o.replies[0],
        json!({"_tag":"Exit","requestId":"0","exit":{"_tag":"Success","value":{"_tag":"SyncMessage.Pong"}}})
    );
    let push = push_frame("1", &[event(1)], None).replace("SyncWsRpc", "SyncHttpRpc");
    assert_eq!(
        send(&mut s, Transport::Http, &mut conn, &push).replies[0]["exit"]["_tag"],
        "Success"
    );
    let pull = r#"{"_tag":"Request","id":"2","tag":"SyncHttpRpc.Pull","payload":{"storeId":"s","cursor":{"_tag":"None"}},"headers":[]}"#;
    let o = send(&mut s, Transport::Http, &mut conn, pull);
    assert_eq!(o.replies.len(), 2);
    assert_eq!(o.replies[1]["exit"], json!({"_tag":"Success"}));
    assert!(conn.live_pulls.is_empty());
    // WebSocket tags are not HTTP tags.
    let o = send(
        &mut s,
        Transport::Http,
        &mut conn,
        &pull_frame("3", None, false),
    );
    assert_eq!(o.replies[0]["_tag"], "Defect");
}

#[test]
fn history_is_paced_by_acks_within_a_window() {
    let mut s = store();
    push_events(&mut s, 1, 2_000); // 20 responses
    let mut conn = Connection::default();
    let o = ws(&mut s, &mut conn, &pull_frame("0", None, true));
    assert_eq!(
        o.replies.len(),
        8,
        "one window of chunks, no more without Acks"
    );
    assert_eq!(conn.pending_pulls.len(), 1);
    // A push while the history is paced is not broadcast to the pending pull...
    let mut b = Vec::new();
    block_on(s.handle_message(
        Transport::WebSocket,
        &mut Connection::default(),
        &push_frame("p", &[event(2_001)], None),
        &|| NOW.to_owned(),
        &mut |o| b.push(o),
    ));
    assert!(conn.live_pulls.is_empty());
    // ...each Ack releases one more chunk; the last history chunk is followed by the catch-up of
    // event 2001 and the registration for broadcasts: every event exactly once, in order.
    let mut seen: Vec<i64> = o
        .replies
        .iter()
        .flat_map(|r| r["values"][0]["batch"].as_array().unwrap().clone())
        .map(|i| i["eventEncoded"]["seqNum"].as_i64().unwrap())
        .collect();
    for _ in 0..40 {
        let o = ws(&mut s, &mut conn, r#"{"_tag":"Ack","requestId":"0"}"#);
        assert!(o.replies.len() <= 2);
        for r in &o.replies {
            seen.extend(
                r["values"][0]["batch"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|i| i["eventEncoded"]["seqNum"].as_i64().unwrap()),
            );
        }
    }
    assert_eq!(seen, (1..=2_001).collect::<Vec<_>>());
    assert!(conn.pending_pulls.is_empty());
    assert_eq!(conn.live_pulls.len(), 1);
    // Interrupting a pending pull works too and stops it.
    let mut conn = Connection::default();
    ws(&mut s, &mut conn, &pull_frame("1", None, false));
    let o = ws(&mut s, &mut conn, r#"{"_tag":"Interrupt","requestId":"1"}"#);
    assert_eq!(o.replies[0]["exit"]["cause"]["_tag"], "Interrupt");
    assert!(conn.pending_pulls.is_empty());
    assert!(ws(&mut s, &mut conn, r#"{"_tag":"Ack","requestId":"1"}"#)
        .replies
        .is_empty());
}

#[test]
fn http_pulls_send_everything_at_once() {
    let mut s = store();
    push_events(&mut s, 1, 1_800);
    let pull = r#"{"_tag":"Request","id":"2","tag":"SyncHttpRpc.Pull","payload":{"storeId":"s","cursor":{"_tag":"None"}},"headers":[]}"#;
    let o = send(&mut s, Transport::Http, &mut Connection::default(), pull);
    assert_eq!(o.replies.len(), 19);
    assert_eq!(
        o.replies[17]["values"][0]["pageInfo"],
        json!({"_tag":"NoMore"})
    );
}

#[test]
fn only_acks_of_unpaced_connections_skip_the_store() {
    use livestore_sync_rs::http::answer::http_answer;
    let mut s = store();
    let mut conn = Connection::default();
    let ack = r#"{"_tag":"Ack","requestId":"0"}"#;
    assert!(!conn.needs_store(ack));
    assert!(conn.needs_store(&pull_frame("0", None, true)));
    push_events(&mut s, 1, 2_000);
    ws(&mut s, &mut conn, &pull_frame("0", None, false));
    assert_eq!(conn.pending_pulls.len(), 1);
    assert!(conn.needs_store(ack), "an Ack moves a paced pull on");

    // HTTP: a lone Defect is a 400, anything else a 200; the body is a JSON array of the replies.
    let defect = livestore_sync_rs::protocol::rpc::defect_frame("x");
    assert_eq!(http_answer(&[defect]).0, 400);
    let (status, body) = http_answer(&["{}".to_owned(), "{}".to_owned()]);
    assert_eq!((status, body.as_str()), (200, "[{},{}]"));
}

/// A linked chain with gaps in its numbering (what LiveStore's conformance suite pushes).
fn gapped(seqs: &[i64], parent: i64) -> Vec<Value> {
    let mut prev = parent;
    seqs.iter()
        .map(|&seq| {
            let mut e = event(seq);
            e["parentSeqNum"] = json!(prev);
            prev = seq;
            e
        })
        .collect()
}

fn pulled_seqs(o: &Outputs) -> Vec<i64> {
    o.replies
        .iter()
        .filter(|r| r["_tag"] == "Chunk")
        .flat_map(|r| {
            r["values"][0]["batch"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .map(|item| item["eventEncoded"]["seqNum"].as_i64().unwrap())
        .collect()
}

#[test]
fn gapped_chains_are_stored_paged_and_counted_by_rows() {
    let mut s = store();
    // from the root, starting at 100, as the conformance suite's first push does
    let o = ws(
        &mut s,
        &mut Connection::default(),
        &push_frame("1", &gapped(&[100], 0), None),
    );
    assert_eq!(o.replies[0]["exit"]["_tag"], "Success", "{:?}", o.replies);
    assert_eq!(s.head, 100);
    // then 250 events with gaps of 3
    let seqs: Vec<i64> = (1..=250).map(|i| 100 + 3 * i).collect();
    for (n, chunk) in seqs.chunks(50).enumerate() {
        let parent = if n == 0 { 100 } else { seqs[n * 50 - 1] };
        let o = ws(
            &mut s,
            &mut Connection::default(),
            &push_frame(&format!("p{n}"), &gapped(chunk, parent), None),
        );
        assert_eq!(o.replies[0]["exit"]["_tag"], "Success", "{:?}", o.replies);
    }
    assert_eq!(s.head, 850);
    // a push whose parent is an old gap number is behind the head
    let o = ws(
        &mut s,
        &mut Connection::default(),
        &push_frame("x", &gapped(&[851], 849), None),
    );
    assert_eq!(
        o.replies[0]["exit"]["cause"]["error"]["_tag"],
        "ServerAheadError"
    );

    // a non-live pull over HTTP: every event once, in order; remaining counts rows, not numbers
    let pull = r#"{"_tag":"Request","id":"9","tag":"SyncHttpRpc.Pull","payload":{"storeId":"s","cursor":{"_tag":"None"}},"headers":[]}"#;
    let o = send(&mut s, Transport::Http, &mut Connection::default(), pull);
    let mut expected = vec![100];
    expected.extend(&seqs);
    assert_eq!(pulled_seqs(&o), expected);
    let remaining: Vec<Value> = o
        .replies
        .iter()
        .filter(|r| r["_tag"] == "Chunk")
        .map(|r| r["values"][0]["pageInfo"].clone())
        .collect();
    assert_eq!(remaining[0], json!({"_tag":"MoreKnown","remaining":151}));
    assert_eq!(remaining[1], json!({"_tag":"MoreKnown","remaining":51}));
    assert_eq!(remaining[2], json!({"_tag":"NoMore"}));
    assert_eq!(o.replies.last().unwrap()["_tag"], "Exit");

    // from a cursor inside the gapped log, over WebSocket with Acks
    let mut conn = Connection::default();
    let o = ws(&mut s, &mut conn, &pull_frame("7", Some(400), false));
    let got = pulled_seqs(&o);
    assert_eq!(got.first(), Some(&403));
    assert_eq!(got.len(), seqs.iter().filter(|&&q| q > 400).count());
}

#[test]
fn a_push_over_the_limits_is_refused_whole_with_the_limit_named() {
    let mut s = store();
    s.limits.max_push_events = 10;
    let events: Vec<Value> = (1..=11).map(event).collect();
    let o = ws(
        &mut s,
        &mut Connection::default(),
        &push_frame("1", &events, None),
    );
    let message = o.replies[0]["exit"]["cause"]["error"]["cause"]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        message.contains("MAX_PUSH_EVENTS") && message.contains("11"),
        "{message}"
    );
    assert_eq!(s.log.rows.borrow().len(), 0);
    let events: Vec<Value> = (1..=10).map(event).collect();
    let o = ws(
        &mut s,
        &mut Connection::default(),
        &push_frame("2", &events, None),
    );
    assert_eq!(o.replies[0]["exit"]["_tag"], "Success");

    // args nested one level deeper than the limit: refused, nothing stored
    let deep = |n: usize| -> Value {
        serde_json::from_str(&format!("{}1{}", "[".repeat(n), "]".repeat(n))).unwrap()
    };
    let mut second = event(12);
    second["args"] = deep(65);
    let o = ws(
        &mut s,
        &mut Connection::default(),
        &push_frame("3", &[event(11), second], None),
    );
    let message = o.replies[0]["exit"]["cause"]["error"]["cause"]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        message.contains("MAX_ARGS_DEPTH") && message.contains("65 levels"),
        "{message}"
    );
    assert_eq!(
        s.head, 10,
        "the whole batch is refused, its valid first event too"
    );
    let mut e = event(11);
    e["args"] = deep(64);
    let o = ws(
        &mut s,
        &mut Connection::default(),
        &push_frame("4", &[e], None),
    );
    assert_eq!(
        o.replies[0]["exit"]["_tag"], "Success",
        "depth 64 is allowed"
    );
}

#[test]
fn pulls_per_socket_and_their_ids_are_bounded() {
    let mut s = store();
    s.limits.max_pulls_per_socket = 3;
    let mut conn = Connection::default();
    for i in 0..3 {
        let o = ws(&mut s, &mut conn, &pull_frame(&format!("{i}"), None, true));
        assert_eq!(o.replies[0]["_tag"], "Chunk");
    }
    let o = ws(&mut s, &mut conn, &pull_frame("3", None, true));
    let error = &o.replies[0]["exit"]["cause"]["error"];
    assert_eq!(error["_tag"], "UnknownError");
    assert!(error["cause"]["message"]
        .as_str()
        .unwrap()
        .contains("MAX_PULLS_PER_SOCKET"));
    assert_eq!(conn.live_pulls.len(), 3);
    // one push still reaches each of the three once
    let o = ws(&mut s, &mut conn, &push_frame("p", &[event(1)], None));
    assert_eq!(o.broadcasts.len(), 1);
    // an interrupt frees a slot
    ws(&mut s, &mut conn, r#"{"_tag":"Interrupt","requestId":"0"}"#);
    let o = ws(&mut s, &mut conn, &pull_frame("4", None, true));
    assert_eq!(o.replies[0]["_tag"], "Chunk");
    // a request id too long to remember
    let mut other = Connection::default();
    let long = "x".repeat(200);
    let o = ws(&mut s, &mut other, &pull_frame(&long, None, true));
    assert!(o.replies[0]["exit"]["cause"]["error"]["cause"]["message"]
        .as_str()
        .unwrap()
        .contains("request id"));
    assert!(other.live_pulls.is_empty());
}

#[test]
fn a_store_quota_refuses_pushes_beyond_it() {
    let mut s = store();
    s.limits.max_store_bytes = Some(1_000);
    s.stored_bytes = Some(0);
    push_events(&mut s, 1, 3);
    let used = s.stored_bytes.unwrap();
    assert!(used > 0 && used < 1_000, "{used}");
    let events: Vec<Value> = (4..=10).map(event).collect();
    let o = ws(
        &mut s,
        &mut Connection::default(),
        &push_frame("q", &events, None),
    );
    let error = &o.replies[0]["exit"]["cause"]["error"];
    assert_eq!(error["cause"]["name"], "StoreQuotaError");
    assert!(error["cause"]["message"]
        .as_str()
        .unwrap()
        .contains("MAX_STORE_BYTES"));
    assert_eq!(s.head, 3);
}

#[test]
fn a_storage_failure_reaches_the_client_as_an_incident_id_and_the_log_as_its_detail() {
    use livestore_sync_rs::sync::activity::Activity;
    let mut s = store();
    s.log.fail_next_append.set(true);
    let o = ws(
        &mut s,
        &mut Connection::default(),
        &push_frame("1", &[event(1)], None),
    );
    let message = o.replies[0]["exit"]["cause"]["error"]["cause"]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(message.contains("incident"), "{message}");
    assert!(
        !message.contains("disk on fire") && !message.contains("UNIQUE"),
        "no raw text: {message}"
    );
    let detail = o.activities.iter().find_map(|a| match a {
        Activity::StorageFailure { incident, detail } => Some((incident.clone(), detail.clone())),
        _ => None,
    });
    let (incident, detail) = detail.expect("the detail is reported for the log");
    assert!(message.contains(&incident));
    assert!(!detail.is_empty());
}
