//! Property tests of the sync core. Each property runs its own proptest `TestRunner`, counts how
//! often its interesting branches were reached, prints the counts (`cargo test -- --nocapture`),
//! and fails if a branch was reached too rarely to mean anything: a property that holds only
//! because its generator never gets there proves nothing.
//!
//! - any text: never a panic, one answer per request, nothing stored without a successful push;
//! - push frames, valid and broken in every way a client can break them: a success means the
//!   head moved to the last event and exactly the sent events were stored; a failure means
//!   nothing changed at all;
//! - random sessions of pushes, paced live pulls, Acks and Interrupts on three connections: every
//!   acknowledged event is stored once, in order, and every live pull sees exactly the log.

mod common;

use std::cell::RefCell;
use std::collections::BTreeMap;

use common::*;
use livestore_sync_rs::sync::{Connection, Output, Store};
use livestore_sync_rs::transport::Transport;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{json, Value};

const CASES: u32 = 1024;

fn runner() -> TestRunner {
    TestRunner::new(Config {
        cases: CASES,
        failure_persistence: None,
        ..Config::default()
    })
}

/// Counts of the branches a property reached, checked against minimum shares at the end.
#[derive(Default)]
struct Reached(RefCell<BTreeMap<&'static str, u32>>);

impl Reached {
    fn hit(&self, what: &'static str) {
        *self.0.borrow_mut().entry(what).or_default() += 1;
    }

    /// Prints the counts and fails if `what` was reached in fewer than `min_share` of the cases.
    /// The shares are about half of what the generators give on average, so that a fresh random
    /// seed does not fail the check by chance.
    fn require(&self, property: &str, mins: &[(&'static str, f64)]) {
        let total: u32 = CASES;
        let counts = self.0.borrow();
        println!("{property}: {counts:?} (of {total} cases)");
        for (what, share) in mins {
            let n = counts.get(what).copied().unwrap_or(0);
            assert!(
                f64::from(n) >= share * f64::from(total),
                "{property}: `{what}` reached in {n} of {total} cases, fewer than {:.0} %: the generator does not test it",
                share * 100.0
            );
        }
    }
}

/// The stored log as comparable values: `(seqNum, parentSeqNum, name, args, clientId, sessionId)`.
fn log_of(store: &Store<MemLog>) -> Vec<(i64, i64, String, Option<Value>, String, String)> {
    store
        .log
        .rows
        .borrow()
        .values()
        .map(|e| {
            (
                e.seq_num,
                e.parent_seq_num,
                e.name.clone(),
                // valid JSON serde_json's Value cannot hold (a number beyond f64, as a random byte
                // can make of 1e300) is compared as its text
                e.args.as_deref().map(|a| {
                    serde_json::from_str(a).unwrap_or_else(|_| Value::String(a.to_owned()))
                }),
                e.client_id.clone(),
                e.session_id.clone(),
            )
        })
        .collect()
}

/// The stored log is one linked chain from the root: each event's parent is the previous event's
/// seqNum (0 for the first), seqNums strictly increase (gaps allowed), the head is the last one.
fn assert_chain(store: &Store<MemLog>) {
    let rows = store.log.rows.borrow();
    let mut parent = 0;
    for (seq, e) in rows.iter() {
        assert_eq!(e.seq_num, *seq);
        assert_eq!(
            e.parent_seq_num, parent,
            "event {seq} links to the previous one"
        );
        assert!(*seq > parent, "seqNums increase");
        parent = *seq;
    }
    assert_eq!(store.head, parent, "the head is the last stored seqNum");
}

/// How the test (not the server) classifies a frame: a request needs exactly one answer; Acks,
/// Interrupts and Eof need none (an Interrupt of a running pull gets one).
#[derive(Debug, PartialEq)]
enum Kind {
    Request,
    Notification,
    Ping,
    Garbage,
}

fn kind_of(text: &str) -> Kind {
    let Ok(Value::Object(m)) = serde_json::from_str::<Value>(text) else {
        return Kind::Garbage;
    };
    let id_ok = |k: &str| {
        m.get(k)
            .is_some_and(|v| v.is_string() || v.as_i64().is_some() || v.as_u64().is_some())
    };
    match m.get("_tag").and_then(Value::as_str) {
        Some("Request") if id_ok("id") && m.get("tag").is_some_and(Value::is_string) => {
            Kind::Request
        }
        Some("Ack" | "Interrupt") if id_ok("requestId") => Kind::Notification,
        Some("Eof") => Kind::Notification,
        Some("Ping") => Kind::Ping,
        _ => Kind::Garbage,
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

/// Text a client could send: random characters, random JSON, or random JSON in a well-formed
/// envelope (requests with valid and broken payloads, notifications) so that the decoder gets past
/// its first checks and the handlers run.
fn arb_frame() -> impl Strategy<Value = String> {
    let id = prop::sample::select(vec![
        json!("7"),
        json!(7),
        json!("7"),
        json!(null),
        json!(7.5),
    ]);
    let valid_call = prop_oneof![
        any::<bool>().prop_map(|live| (
            "SyncWsRpc.Pull",
            json!({"storeId":"s","live":live,"cursor":{"_tag":"None"}})
        )),
        Just((
            "SyncWsRpc.Push",
            json!({"storeId":"s","batch":[event(4)],"backendId":{"_tag":"None"}})
        )),
    ];
    let any_call = (
        prop::sample::select(vec!["SyncWsRpc.Pull", "SyncWsRpc.Push", "SyncWsRpc.Nope"]),
        arb_json(),
    );
    let request =
        (id.clone(), prop_oneof![valid_call, any_call]).prop_map(|(id, (tag, payload))| {
            json!({"_tag":"Request","id":id,"tag":tag,"payload":payload,"headers":[]}).to_string()
        });
    let notification = (
        prop::sample::select(vec!["Ack", "Interrupt", "Ping", "Eof"]),
        id,
    )
        .prop_map(|(tag, id)| json!({"_tag":tag,"requestId":id}).to_string());
    prop_oneof![
        1 => ".{0,200}",
        1 => arb_json().prop_map(|v| v.to_string()),
        3 => request,
        1 => notification,
    ]
}

#[test]
fn any_frame_gets_one_answer_per_request_and_stores_nothing_without_a_successful_push() {
    let reached = Reached::default();
    runner()
        .run(&arb_frame(), |text| {
            let mut s = store();
            push_events(&mut s, 1, 3);
            let before = log_of(&s);
            let mut conn = Connection::default();
            let o = ws(&mut s, &mut conn, &text);
            assert_chain(&s);
            let kind = kind_of(&text);
            match kind {
                Kind::Request => {
                    reached.hit("request");
                    let sent: Value = serde_json::from_str(&text).unwrap();
                    let id = &sent["id"];
                    let exits = o
                        .replies
                        .iter()
                        .filter(|r| r["_tag"] == "Exit" && r["requestId"] == *id)
                        .count();
                    let defects = o.replies.iter().filter(|r| r["_tag"] == "Defect").count();
                    let chunks = o
                        .replies
                        .iter()
                        .filter(|r| r["_tag"] == "Chunk" && r["requestId"] == *id)
                        .count();
                    prop_assert_eq!(
                        exits + defects + chunks,
                        o.replies.len(),
                        "every reply is for this request: {:?}",
                        o.replies
                    );
                    let running = conn.live_pulls.len() + conn.pending_pulls.len();
                    if running > 0 {
                        // a live pull (or one paced by Acks) stays open: its history, no Exit
                        reached.hit("request: pull left running");
                        prop_assert!(chunks >= 1 && exits + defects == 0, "{:?}", o.replies);
                    } else {
                        prop_assert_eq!(exits + defects, 1, "one terminal answer: {:?}", o.replies);
                        let last = o.replies.last().unwrap();
                        prop_assert!(
                            last["_tag"] == "Defect" || last["_tag"] == "Exit",
                            "it comes last"
                        );
                        if chunks > 0 {
                            reached.hit("request: pull streamed");
                        }
                    }
                    let r = &o.replies[0];
                    if r["_tag"] == "Defect" {
                        reached.hit("request: Defect");
                    } else if r["exit"]["cause"]["_tag"] == "Die" {
                        reached.hit("request: Die");
                    }
                }
                Kind::Ping => {
                    reached.hit("ping");
                    prop_assert_eq!(&o.raw_replies, &vec![r#"{"_tag":"Pong"}"#.to_owned()]);
                }
                Kind::Notification => {
                    reached.hit("notification");
                    prop_assert!(o.replies.is_empty(), "nothing is running: {:?}", o.replies);
                }
                Kind::Garbage => {
                    reached.hit("garbage");
                    prop_assert_eq!(o.replies.len(), 1, "garbage gets one Defect");
                    prop_assert_eq!(&o.replies[0]["_tag"], "Defect");
                }
            }
            let success = o
                .replies
                .iter()
                .any(|r| r["exit"]["_tag"] == "Success" && r["exit"]["value"] == json!({}));
            if log_of(&s) != before {
                reached.hit("stored");
                prop_assert!(success, "only a successful push changes the log");
            }
            Ok(())
        })
        .unwrap();
    reached.require(
        "any frame",
        &[
            ("request", 0.2),
            ("request: pull left running", 0.015),
            ("request: pull streamed", 0.015),
            ("request: Die", 0.05),
            ("request: Defect", 0.02),
            ("notification", 0.02),
            ("garbage", 0.2),
        ],
    );
}

/// One way a client can get a push wrong (or right).
#[derive(Debug, Clone)]
enum Mutation {
    /// Leave it as it is.
    None,
    /// First event's parent off by `n` (ServerAheadError).
    Parent(i64),
    /// Event `i`'s seqNum off by `n` (a broken chain).
    SeqNum(usize, i64),
    /// Event `i`'s parentSeqNum off by `n` (a broken chain).
    ParentOf(usize, i64),
    /// A gap of `n` before event `i`: it and every later event move up by `n`, still linked
    /// (a valid chain: LiveStore's conformance suite pushes such chains).
    Gap(usize, i64),
    /// A backendId that is not the store's.
    ForeignBackend,
    /// The store's backendId, explicitly.
    OwnBackend,
    /// Field `field` of event `i` replaced by `value` (wrong type, missing, extra).
    Field(usize, &'static str, Value),
    /// Empty batch.
    Empty,
    /// Raw byte `at` (fraction of the frame) replaced by `byte`.
    Byte(f64, u8),
}

fn arb_mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => Just(Mutation::None),
        1 => (-2i64..=2).prop_filter("off", |n| *n != 0).prop_map(Mutation::Parent),
        1 => (0usize..6, -2i64..=2).prop_filter("off", |(_, n)| *n != 0).prop_map(|(i, n)| Mutation::SeqNum(i, n)),
        1 => (0usize..6, -2i64..=2).prop_filter("off", |(_, n)| *n != 0).prop_map(|(i, n)| Mutation::ParentOf(i, n)),
        2 => (0usize..6, 1i64..1000).prop_map(|(i, n)| Mutation::Gap(i, n)),
        1 => Just(Mutation::ForeignBackend),
        1 => Just(Mutation::OwnBackend),
        2 => (
            0usize..6,
            prop::sample::select(vec!["name", "args", "seqNum", "parentSeqNum", "clientId", "sessionId", "extra"]),
            prop::sample::select(vec![
                Value::Null, json!(1.5), json!("x"), json!([]), json!({}), json!(9007199254740993i64),
                json!(true), json!("\u{0}\u{1f}\"\\\u{2028}ünï😀"), Value::String("<remove>".into()),
            ]),
        ).prop_map(|(i, f, v)| Mutation::Field(i, f, v)),
        1 => Just(Mutation::Empty),
        1 => (0.0f64..1.0, any::<u8>()).prop_map(|(at, b)| Mutation::Byte(at, b)),
    ]
}

/// A push frame of `n` events on top of head 3, with `mutations` applied, and the events as sent
/// (when the frame is still JSON).
fn mutated_push(n: usize, args: &[Value], mutations: &[Mutation]) -> String {
    let mut events: Vec<Value> = (4..4 + n as i64)
        .map(|seq| {
            let mut e = event(seq);
            e["args"] = args[(seq as usize) % args.len()].clone();
            if e["args"] == "<absent>" {
                e.as_object_mut().unwrap().remove("args");
            }
            e
        })
        .collect();
    let mut backend = json!({"_tag":"None"});
    let mut bytes: Vec<(f64, u8)> = Vec::new();
    for m in mutations {
        match m {
            Mutation::None => {}
            Mutation::Parent(d) => {
                if let Some(e) = events.first_mut() {
                    if let Some(parent) = e["parentSeqNum"].as_i64() {
                        e["parentSeqNum"] = json!(parent + d);
                    }
                }
            }
            Mutation::SeqNum(i, d) | Mutation::ParentOf(i, d) => {
                let field = if matches!(m, Mutation::SeqNum(..)) {
                    "seqNum"
                } else {
                    "parentSeqNum"
                };
                if let Some(e) = events.get_mut(*i) {
                    if let Some(v) = e[field].as_i64() {
                        e[field] = json!(v + d);
                    }
                }
            }
            Mutation::Gap(at, n) => {
                for (i, e) in events.iter_mut().enumerate().skip(*at) {
                    for field in ["seqNum", "parentSeqNum"] {
                        if field == "parentSeqNum" && i == *at {
                            continue;
                        }
                        if let Some(v) = e[field].as_i64() {
                            e[field] = json!(v + n);
                        }
                    }
                }
            }
            Mutation::ForeignBackend => {
                backend = json!({"_tag":"Some","value":"SomeOtherBackend12345"})
            }
            Mutation::OwnBackend => backend = json!({"_tag":"Some","value":BACKEND_ID}),
            Mutation::Field(i, field, v) => {
                if let Some(Value::Object(e)) = events.get_mut(*i) {
                    if v == "<remove>" {
                        e.remove(*field);
                    } else {
                        e.insert((*field).to_owned(), v.clone());
                    }
                }
            }
            Mutation::Empty => events.clear(),
            Mutation::Byte(at, b) => bytes.push((*at, *b)),
        }
    }
    let frame = json!({
        "_tag": "Request", "id": "7", "tag": "SyncWsRpc.Push",
        "payload": {"storeId": "s", "batch": events, "backendId": backend},
        "headers": []
    })
    .to_string();
    if bytes.is_empty() {
        return frame;
    }
    let mut raw = frame.into_bytes();
    for (at, b) in bytes {
        let i = ((raw.len() - 1) as f64 * at) as usize;
        raw[i] = b;
    }
    String::from_utf8_lossy(&raw).into_owned()
}

#[test]
fn a_push_either_stores_exactly_its_events_or_changes_nothing() {
    let reached = Reached::default();
    let args = prop::collection::vec(
        prop::sample::select(vec![
            json!("<absent>"),
            Value::Null,
            json!({"id": "x", "n": [1, 2.5, -0.0, 1e300, 5e-324]}),
            json!([]),
            json!("text with \u{0}\u{1f} control, \"quotes\", ünïcödé 😀"),
            json!(12345678901234567i64),
            json!(false),
        ]),
        1..4,
    );
    let strategy = (1usize..6, args, prop::collection::vec(arb_mutation(), 0..3));
    runner()
        .run(&strategy, |(n, args, mutations)| {
            let mut s = store();
            push_events(&mut s, 1, 3);
            let before = log_of(&s);
            let frame = mutated_push(n, &args, &mutations);
            let o = ws(&mut s, &mut Connection::default(), &frame);
            assert_chain(&s);
            prop_assert_eq!(o.replies.len(), 1, "one answer: {:?}", o.replies);
            let r = &o.replies[0];
            let after = log_of(&s);
            if r["exit"]["_tag"] == "Success" {
                // what was sent, parsed independently of the server (a random byte can make a
                // number too large for serde_json's Value, e.g. 1e300 → 1e309: valid JSON the
                // server stores as text; such a case is set aside)
                let sent: Value = match serde_json::from_str(&frame) {
                    Ok(v) => v,
                    Err(_) => {
                        reached.hit("success: a number beyond f64 (not compared)");
                        return Ok(());
                    }
                };
                let batch = sent["payload"]["batch"].as_array().unwrap();
                if batch.is_empty() {
                    reached.hit("success: empty batch");
                    prop_assert_eq!(&after, &before);
                    return Ok(());
                }
                reached.hit("success");
                let expected: Vec<_> = batch
                    .iter()
                    .map(|e| {
                        (
                            e["seqNum"].as_i64().unwrap(),
                            e["parentSeqNum"].as_i64().unwrap(),
                            e["name"].as_str().unwrap().to_owned(),
                            e.get("args").cloned(),
                            e["clientId"].as_str().unwrap().to_owned(),
                            e["sessionId"].as_str().unwrap().to_owned(),
                        )
                    })
                    .collect();
                prop_assert_eq!(&after[..3], &before[..], "the old events are untouched");
                prop_assert_eq!(
                    &after[3..],
                    &expected[..],
                    "exactly the sent events were stored"
                );
                prop_assert_eq!(
                    s.head,
                    expected.last().unwrap().0,
                    "the head is the last event"
                );
                prop_assert_eq!(o.broadcasts.len(), 1, "and they were broadcast");
                if expected.iter().any(|e| e.0 > e.1 + 1) {
                    reached.hit("success: gapped chain");
                }
            } else {
                prop_assert_eq!(&after, &before, "a refused push changes nothing: {}", r);
                prop_assert_eq!(s.head, 3);
                prop_assert!(o.broadcasts.is_empty());
                let what = match (
                    &r["_tag"],
                    &r["exit"]["cause"]["_tag"],
                    r["exit"]["cause"]["error"]["_tag"].as_str(),
                ) {
                    (t, _, _) if t == "Defect" => "refused: Defect",
                    (_, c, _) if c == "Die" => "refused: Die",
                    (_, _, Some("ServerAheadError")) => "refused: ServerAheadError",
                    (_, _, Some("BackendIdMismatchError")) => "refused: BackendIdMismatchError",
                    (_, _, Some("UnknownError")) => "refused: UnknownError",
                    _ => {
                        prop_assert!(false, "unexpected answer {}", r);
                        unreachable!()
                    }
                };
                reached.hit(what);
            }
            Ok(())
        })
        .unwrap();
    reached.require(
        "push outcome",
        &[
            ("success", 0.15),
            ("success: empty batch", 0.005),
            ("success: gapped chain", 0.03),
            ("refused: ServerAheadError", 0.02),
            ("refused: BackendIdMismatchError", 0.02),
            ("refused: UnknownError", 0.015),
            ("refused: Die", 0.015),
            ("refused: Defect", 0.005),
        ],
    );
}

/// Random interleavings of pushes (right or wrong parents, random lengths), live pulls, Acks and
/// interrupts on three connections, with responses of 1 event so that history is paced by the
/// Ack window: the log is always a chain, every acknowledged event is stored exactly once, and
/// every live pull sees exactly the events after its cursor, in order.
#[test]
fn random_sessions_keep_every_acknowledged_event() {
    let reached = Reached::default();
    let ops = prop::collection::vec((0u8..6, 0usize..3, -2i64..2, 1usize..8), 1..60);
    runner()
        .run(&ops, |ops| {
            let mut s = store();
            s.limits.max_events_per_response = 1;
            let mut conns = [
                Connection::default(),
                Connection::default(),
                Connection::default(),
            ];
            // Events seen per (connection, pull id), from history chunks and broadcasts.
            let mut seen: BTreeMap<(usize, String), Vec<i64>> = BTreeMap::new();
            let mut acked = Vec::new();
            let mut case = BTreeMap::<&'static str, bool>::new();
            let ids = |v: &Value| -> Vec<i64> {
                v["batch"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|i| i["eventEncoded"]["seqNum"].as_i64().unwrap())
                    .collect()
            };
            let step = |s: &mut Store<MemLog>,
                        conns: &mut [Connection; 3],
                        c: usize,
                        frame: &str,
                        seen: &mut BTreeMap<(usize, String), Vec<i64>>|
             -> Vec<Value> {
                let mut replies = Vec::new();
                let mut outputs = Vec::new();
                if needs_store(conns.iter(), &conns[c], frame) {
                    block_on(s.handle_message(
                        Transport::WebSocket,
                        &mut conns[c],
                        frame,
                        &|| NOW.to_owned(),
                        &mut |o| outputs.push(o),
                    ));
                }
                for o in outputs {
                    match o {
                        Output::Broadcast(b) => {
                            for (k, frame) in fan_out(conns.iter().enumerate(), &b) {
                                let v: Value = serde_json::from_str(&frame).unwrap();
                                let id = v["requestId"].as_str().unwrap().to_owned();
                                seen.entry((k, id))
                                    .or_default()
                                    .extend(ids(&v["values"][0]));
                            }
                        }
                        Output::Activity(_) => {}
                        Output::Subscribe(s) => panic!("a WebSocket message subscribed {s:?}"),
                        Output::Reply(r) => {
                            let v: Value = serde_json::from_str(&r).unwrap();
                            if v["_tag"] == "Chunk" {
                                let id = v["requestId"].as_str().unwrap().to_owned();
                                seen.entry((c, id))
                                    .or_default()
                                    .extend(ids(&v["values"][0]));
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
                        let events: Vec<Value> =
                            (parent + 1..=parent + len as i64).map(event).collect();
                        let replies = step(
                            &mut s,
                            &mut conns,
                            c,
                            &push_frame(&id, &events, None),
                            &mut seen,
                        );
                        prop_assert_eq!(replies.iter().filter(|v| v["_tag"] == "Exit").count(), 1);
                        let ok = replies.iter().any(|v| v["exit"]["_tag"] == "Success");
                        prop_assert_eq!(
                            ok,
                            parent == head,
                            "push with parent {} at head {}",
                            parent,
                            head
                        );
                        case.insert(if ok { "push accepted" } else { "push refused" }, true);
                        if ok {
                            acked.extend(parent + 1..=parent + len as i64);
                        }
                    }
                    2 => {
                        step(
                            &mut s,
                            &mut conns,
                            c,
                            &pull_frame(&id, None, true),
                            &mut seen,
                        );
                        if !conns[c].pending_pulls.is_empty() {
                            case.insert("history paced by the window", true);
                        }
                    }
                    3 | 4 => {
                        // Ack one chunk of some pending pull of this connection.
                        if let Some(p) = conns[c].pending_pulls.first() {
                            let frame =
                                format!(r#"{{"_tag":"Ack","requestId":{}}}"#, p.id.as_json());
                            step(&mut s, &mut conns, c, &frame, &mut seen);
                            case.insert("Ack of a paced pull", true);
                            if !conns[c].live_pulls.is_empty() && s.head > 0 {
                                case.insert("live pull joined after history", true);
                            }
                        }
                    }
                    _ => {
                        let target = conns[c]
                            .live_pulls
                            .first()
                            .or(conns[c].pending_pulls.first().map(|p| &p.id))
                            .cloned();
                        if let Some(lid) = target {
                            let frame =
                                format!(r#"{{"_tag":"Interrupt","requestId":{}}}"#, lid.as_json());
                            let replies = step(&mut s, &mut conns, c, &frame, &mut seen);
                            prop_assert_eq!(replies.len(), 1);
                            prop_assert_eq!(&replies[0]["exit"]["cause"]["_tag"], "Interrupt");
                            let key: String = serde_json::from_str(lid.as_json()).unwrap();
                            seen.remove(&(c, key));
                            case.insert("interrupt", true);
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
            prop_assert_eq!(&acked, &(1..=s.head).collect::<Vec<_>>());
            for (c, conn) in conns.iter().enumerate() {
                for id in &conn.live_pulls {
                    let key: String = serde_json::from_str(id.as_json()).unwrap();
                    prop_assert_eq!(
                        seen.get(&(c, key)).cloned().unwrap_or_default(),
                        (1..=s.head).collect::<Vec<_>>(),
                        "live pull saw each event once, in order"
                    );
                    case.insert("live pull checked", true);
                }
            }
            for k in case.keys() {
                reached.hit(k);
            }
            Ok(())
        })
        .unwrap();
    reached.require(
        "random sessions",
        &[
            ("push accepted", 0.5),
            ("push refused", 0.5),
            ("history paced by the window", 0.2),
            ("Ack of a paced pull", 0.2),
            ("live pull joined after history", 0.1),
            ("interrupt", 0.3),
            ("live pull checked", 0.5),
        ],
    );
}
