//! Property tests: whatever a client sends, the service never panics, answers every request,
//! and the log stays one contiguous chain 1..=head with nothing lost or duplicated.

mod common;

use common::*;
use livestore_sync_rs::sync::service::{Connection, Store};
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

    /// Random interleavings of pushes (right or wrong parents, random lengths), pulls and
    /// interrupts on a few connections: the log is always a chain, every acknowledged event is
    /// stored exactly once, and a live pull has seen exactly the events after its cursor.
    #[test]
    fn random_sessions_keep_every_acknowledged_event(
        ops in prop::collection::vec((0u8..4, 0usize..3, -3i64..3, 1usize..5), 1..40),
    ) {
        let mut s = store();
        let mut conns = [Connection::default(), Connection::default(), Connection::default()];
        // For each live pull: (connection, id, events seen)
        let mut live: Vec<(usize, String, Vec<i64>)> = Vec::new();
        let mut acked = Vec::new();
        for (i, (op, c, offset, len)) in ops.into_iter().enumerate() {
            let id = format!("{i}");
            match op {
                0 | 1 => {
                    let head = s.head;
                    let parent = (head + offset).max(0);
                    let events: Vec<Value> = (parent + 1..=parent + len as i64).map(event).collect();
                    let mut outputs = Vec::new();
                    s.handle_message(livestore_sync_rs::sync::service::Transport::WebSocket,
                        &mut conns[c], &push_frame(&id, &events, None), &|| NOW.to_owned(),
                        &mut |o| outputs.push(o));
                    let mut ok = false;
                    for o in outputs {
                        match o {
                            livestore_sync_rs::sync::service::Output::Broadcast(b) => {
                                let v: Value = serde_json::from_str(&b).unwrap();
                                for (_, _, seen) in live.iter_mut() {
                                    for item in v["batch"].as_array().unwrap() {
                                        seen.push(item["eventEncoded"]["seqNum"].as_i64().unwrap());
                                    }
                                }
                            }
                            livestore_sync_rs::sync::service::Output::Reply(r) => {
                                let v: Value = serde_json::from_str(&r).unwrap();
                                ok = v["exit"]["_tag"] == "Success";
                            }
                        }
                    }
                    prop_assert_eq!(ok, parent == head, "push with parent {} at head {}", parent, head);
                    if ok { acked.extend(parent + 1..=parent + len as i64); }
                }
                2 => {
                    let o = ws(&mut s, &mut conns[c], &pull_frame(&id, None, true));
                    let seen = o.replies.iter()
                        .flat_map(|r| r["values"][0]["batch"].as_array().cloned().unwrap_or_default())
                        .map(|item| item["eventEncoded"]["seqNum"].as_i64().unwrap())
                        .collect();
                    live.push((c, id, seen));
                }
                _ => {
                    if let Some(pos) = live.iter().position(|(lc, _, _)| *lc == c) {
                        let (_, lid, _) = live.remove(pos);
                        let o = ws(&mut s, &mut conns[c], &format!(r#"{{"_tag":"Interrupt","requestId":"{lid}"}}"#));
                        prop_assert_eq!(o.replies.len(), 1);
                    }
                }
            }
            assert_chain(&s);
        }
        prop_assert_eq!(acked, (1..=s.head).collect::<Vec<_>>());
        for (_, _, seen) in live {
            prop_assert_eq!(seen, (1..=s.head).collect::<Vec<_>>(), "live pull saw each event once, in order");
        }
    }
}
