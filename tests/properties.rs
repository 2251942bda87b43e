//! Property tests: whatever a client sends, the service never panics, answers every request,
//! and the log stays one contiguous chain 1..=head with nothing lost or duplicated.

mod common;

use common::*;
use std::collections::BTreeMap;

use livestore_sync_rs::sync::service::{Connection, Output, Store, Transport};
use proptest::prelude::*;
use serde_json::Value;

/// The stored log is exactly seqNums 1..=head, each the child of the previous one.
fn assert_chain(store: &Store<MemLog>) {
    let rows = store.log.rows.borrow();
    assert_eq!(rows.len() as i64, store.head);
    for (i, (seq, e)) in rows.iter().enumerate() {
        assert_eq!(*seq, i as i64 + 1);
        assert_eq!(e.parent_seq_num, *seq - 1);
    }
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-1e6f64..1e6).prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
        prop::sample::select(vec![
            "Request",
            "Ack",
            "Interrupt",
            "Ping",
            "Eof",
            "SyncWsRpc.Pull",
            "SyncWsRpc.Push",
            "None",
            "Some",
            "0",
            "1"
        ])
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop::sample::select(vec![
                        "_tag",
                        "id",
                        "requestId",
                        "tag",
                        "payload",
                        "batch",
                        "cursor",
                        "live",
                        "backendId",
                        "seqNum",
                        "parentSeqNum",
                        "name",
                        "args",
                        "clientId",
                        "sessionId",
                        "value",
                        "eventSequenceNumber",
                        "storeId",
                        "x"
                    ]),
                    inner
                ),
                0..8,
            )
            .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,200}") {
        let mut s = store();
        push_events(&mut s, 1, 3);
        let mut conn = Connection::default();
        let o = ws(&mut s, &mut conn, &text);
        prop_assert!(o.replies.len() <= 1 || o.replies.iter().all(|r| r["_tag"] != "Defect"));
        assert_chain(&s);
    }

    #[test]
    fn arbitrary_json_never_panics_nor_corrupts(v in arb_json()) {
        let mut s = store();
        push_events(&mut s, 1, 3);
        let mut conn = Connection::default();
        let before = s.head;
        let o = ws(&mut s, &mut conn, &v.to_string());
        assert_chain(&s);
        // Only a successful push can move the head.
        if s.head != before {
            prop_assert!(o.replies.iter().any(|r| r["exit"]["_tag"] == "Success"));
        }
    }

    #[test]
    fn mutated_push_frames_never_corrupt(
        n in 1usize..6,
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
    ) {
        let mut s = store();
        push_events(&mut s, 1, 3);
        let events: Vec<Value> = (4..4 + n as i64).map(event).collect();
        let mut bytes = push_frame("7", &events, None).into_bytes();
        for (at, b) in flips {
            let i = at.index(bytes.len());
            bytes[i] = b;
        }
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let o = ws(&mut s, &mut Connection::default(), &text);
        prop_assert!(!o.replies.is_empty());
        assert_chain(&s);
    }

    /// Random interleavings of pushes (right or wrong parents, random lengths), live pulls,
    /// Acks and interrupts on a few connections, with responses of 2 events so that history is
    /// paced by the Ack window: the log is always a chain, every acknowledged event is stored
    /// exactly once, and every live pull sees exactly the events after its cursor, in order.
    #[test]
    fn random_sessions_keep_every_acknowledged_event(
        ops in prop::collection::vec((0u8..6, 0usize..3, -3i64..3, 1usize..8), 1..60),
    ) {
        let mut s = store();
        s.limits.max_events_per_response = 2;
        let mut conns = [Connection::default(), Connection::default(), Connection::default()];
        // Events seen per (connection, pull id), from history chunks and broadcasts.
        let mut seen: BTreeMap<(usize, String), Vec<i64>> = BTreeMap::new();
        let mut acked = Vec::new();
        let ids = |v: &Value| -> Vec<i64> {
            v["batch"].as_array().unwrap().iter()
                .map(|i| i["eventEncoded"]["seqNum"].as_i64().unwrap()).collect()
        };
        let step = |s: &mut Store<MemLog>, conns: &mut [Connection; 3], c: usize, frame: &str,
                        seen: &mut BTreeMap<(usize, String), Vec<i64>>| -> Vec<Value> {
            let mut replies = Vec::new();
            let mut outputs = Vec::new();
            s.handle_message(Transport::WebSocket, &mut conns[c], frame, &|| NOW.to_owned(),
                &mut |o| outputs.push(o));
            for o in outputs {
                match o {
                    Output::Broadcast(b) => {
                        let v: Value = serde_json::from_str(&b).unwrap();
                        for (k, conn) in conns.iter().enumerate() {
                            for id in &conn.live_pulls {
                                let id: String = serde_json::from_str(id.as_json()).unwrap();
                                seen.entry((k, id)).or_default().extend(ids(&v));
                            }
                        }
                    }
                    Output::Reply(r) => {
                        let v: Value = serde_json::from_str(&r).unwrap();
                        if v["_tag"] == "Chunk" {
                            let id = v["requestId"].as_str().unwrap().to_owned();
                            seen.entry((c, id)).or_default().extend(ids(&v["values"][0]));
                        }
                        replies.push(v);
                    }
                }
            }
            replies
        };
        for (i, (op, c, offset, len)) in ops.into_iter().enumerate() {
            let id = format!("{i}");
            match op {
                0 | 1 => {
                    let head = s.head;
                    let parent = (head + offset).max(0);
                    let events: Vec<Value> = (parent + 1..=parent + len as i64).map(event).collect();
                    let replies = step(&mut s, &mut conns, c, &push_frame(&id, &events, None), &mut seen);
                    let ok = replies.iter().any(|v| v["exit"]["_tag"] == "Success");
                    prop_assert_eq!(ok, parent == head, "push with parent {} at head {}", parent, head);
                    if ok { acked.extend(parent + 1..=parent + len as i64); }
                }
                2 => {
                    step(&mut s, &mut conns, c, &pull_frame(&id, None, true), &mut seen);
                }
                3 | 4 => {
                    // Ack one chunk of some pending pull of this connection.
                    if let Some(p) = conns[c].pending_pulls.first() {
                        let frame = format!(r#"{{"_tag":"Ack","requestId":{}}}"#, p.id.as_json());
                        step(&mut s, &mut conns, c, &frame, &mut seen);
                    }
                }
                _ => {
                    let target = conns[c].live_pulls.first().or(conns[c].pending_pulls.first().map(|p| &p.id)).cloned();
                    if let Some(lid) = target {
                        let frame = format!(r#"{{"_tag":"Interrupt","requestId":{}}}"#, lid.as_json());
                        let replies = step(&mut s, &mut conns, c, &frame, &mut seen);
                        prop_assert_eq!(replies.len(), 1);
                        let key: String = serde_json::from_str(lid.as_json()).unwrap();
                        seen.remove(&(c, key));
                    }
                }
            }
            assert_chain(&s);
        }
        // Drain: acknowledge until every pull has finished its history.
        for c in 0..3 {
            while let Some(p) = conns[c].pending_pulls.first() {
                let frame = format!(r#"{{"_tag":"Ack","requestId":{}}}"#, p.id.as_json());
                step(&mut s, &mut conns, c, &frame, &mut seen);
            }
        }
        prop_assert_eq!(acked, (1..=s.head).collect::<Vec<_>>());
        for (c, conn) in conns.iter().enumerate() {
            for id in &conn.live_pulls {
                let key: String = serde_json::from_str(id.as_json()).unwrap();
                prop_assert_eq!(seen.get(&(c, key)).cloned().unwrap_or_default(),
                    (1..=s.head).collect::<Vec<_>>(), "live pull saw each event once, in order");
            }
        }
    }
}
