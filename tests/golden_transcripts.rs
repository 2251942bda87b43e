//! Golden replays: the client side of every transcript recorded from the reference server
//! (`tests/fixtures/*.jsonl`, copied unchanged from `shared/protocol/transcripts/`) is fed through
//! our sync core, and **every frame on every connection** — WebSocket frames, and HTTP status plus
//! body — must equal what the reference sent, in the same order, on the same connection. A
//! connection where either side sent something the other did not fails the test.
//!
//! Where we differ on purpose, the test says so explicitly: a [`Golden::differ`] call names the
//! request, the reason, and the exact frames *we* send instead. Three differences are applied
//! everywhere, because they are not behaviour but identity or wording:
//!
//! - `createdAt` is the server's clock: compared by shape (an ISO timestamp), then masked;
//! - an interrupted request's cause is compared by meaning (an `Interrupt` cause), not by the
//!   reference's nested tree (PROTOCOL.md §3.4);
//! - a `Die` defect (a payload that fails its schema) is compared as "a non-empty text": the
//!   reference's text is Effect's TreeFormatter output, ours serde's.
//!
//! One difference in delivery is applied where it occurs: the reference keeps sending broadcast
//! chunks to *finished* non-live pulls, which the client drops (§7.5); we only broadcast to live
//! pulls, so those chunks are removed from the reference's side.
//!
//! Not replayed here, with the reason: t07 and t18 are the Worker's routing and upgrade answers
//! (tested by `http::` unit tests and e2e `14-worker-routing`, `15-auth`); t12 is a fake server
//! used to record the client's reconnect schedule; t13 is a simulation of an unreleased client.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::*;
use livestore_sync_rs::http::answer::http_answer;
use livestore_sync_rs::sync::{Connection, Output, Store};
use livestore_sync_rs::transport::Transport;
use serde_json::{json, Value};

struct Line {
    conn: u64,
    dir: String,
    kind: String,
    raw: Option<String>,
    url: Option<String>,
    status: Option<u64>,
    body: Option<String>,
}

fn load(name: &str) -> Vec<Line> {
    let path = format!("{}/tests/fixtures/{name}.jsonl", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            let s = |k: &str| v[k].as_str().map(str::to_owned);
            Line {
                conn: v["conn"].as_u64().unwrap_or(0),
                dir: s("dir").unwrap_or_default(),
                kind: s("kind").unwrap_or_default(),
                raw: s("raw"),
                url: s("url"),
                status: v["status"].as_u64(),
                body: s("body"),
            }
        })
        .collect()
}

fn store_id_of(url: &str) -> String {
    let query = url.split_once('?').map_or("", |(_, q)| q);
    livestore_sync_rs::http::query::parse_sync_params(query)
        .map(|p| p.store_id)
        .unwrap_or_default()
}

/// An HTTP exchange as one comparable frame.
fn http_frame(status: u64, body: &str) -> Value {
    let body = serde_json::from_str(body).unwrap_or_else(|_| Value::String(body.to_owned()));
    json!({ "http": status, "body": body })
}

/// The global differences of the module doc, applied to both sides.
fn normalize(mut v: Value) -> Value {
    fn walk(v: &mut Value) {
        match v {
            Value::Object(map) => {
                if map.get("_tag") == Some(&json!("Die")) {
                    let text = map.get("defect").and_then(Value::as_str).unwrap_or("");
                    assert!(
                        !text.trim().is_empty(),
                        "a Die defect without text: {map:?}"
                    );
                    map.insert("defect".into(), json!("<schema error>"));
                }
                for (k, val) in map.iter_mut() {
                    if k == "createdAt" {
                        let s = val.as_str().unwrap_or_default();
                        assert!(
                            s.len() == 24 && s.ends_with('Z') && &s[10..11] == "T",
                            "createdAt {s:?}"
                        );
                        *val = json!("<createdAt>");
                    } else {
                        walk(val);
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut v);
    mask_interrupt(&mut v);
    if let Some(frames) = v.get_mut("body").and_then(Value::as_array_mut) {
        frames.iter_mut().for_each(mask_interrupt);
    }
    v
}

/// An `Exit` whose cause is an interruption becomes `<interrupted>`.
fn mask_interrupt(frame: &mut Value) {
    if let Some(exit) = frame.get_mut("exit") {
        if exit["cause"].to_string().contains(r#""_tag":"Interrupt""#) {
            *exit = json!("<interrupted>");
        }
    }
}

/// One transcript, replayed: our frames and the reference's, per connection.
struct Golden {
    name: &'static str,
    ours: BTreeMap<u64, Vec<Value>>,
    reference: BTreeMap<u64, Vec<Value>>,
    /// Final state of each store, for assertions about what was stored.
    stores: BTreeMap<String, Store<MemLog>>,
}

impl Golden {
    fn replay(name: &'static str) -> Golden {
        let lines = load(name);
        // Which store each connection talks to, and each store's recorded backendId.
        let mut store_of: BTreeMap<u64, String> = BTreeMap::new();
        for l in &lines {
            if let Some(url) = &l.url {
                store_of.insert(l.conn, store_id_of(url));
            }
        }
        let mut stores: BTreeMap<String, Store<MemLog>> = BTreeMap::new();
        for sid in store_of.values() {
            let recorded = lines
                .iter()
                .filter(|l| l.dir == "s2c" && store_of.get(&l.conn) == Some(sid))
                .filter_map(|l| l.raw.as_deref().or(l.body.as_deref()))
                .find_map(|text| {
                    let key = [r#""backendId":""#, r#""expected":""#]
                        .into_iter()
                        .find_map(|k| Some(text.find(k)? + k.len()))?;
                    Some(text[key..key + 21].to_owned())
                });
            let mut s = store();
            if let Some(b) = recorded {
                s.backend_id = b;
            }
            stores.insert(sid.clone(), s);
        }

        let mut conns: BTreeMap<u64, Connection> = BTreeMap::new();
        let mut ours: BTreeMap<u64, Vec<Value>> = BTreeMap::new();
        // Non-live pull ids per connection: the reference's chunks to them after their Exit are
        // the finished-pull quirk.
        let mut nonlive: BTreeMap<u64, BTreeSet<String>> = BTreeMap::new();

        for line in lines.iter().filter(|l| l.dir == "c2s") {
            let Some(sid) = store_of.get(&line.conn).cloned() else {
                continue;
            };
            let (transport, text) = match line.kind.as_str() {
                "ws-text" => (Transport::WebSocket, line.raw.clone().unwrap_or_default()),
                "http-request" => (Transport::Http, line.body.clone().unwrap_or_default()),
                _ => continue,
            };
            if let Ok(v) = serde_json::from_str::<Value>(&text) {
                if v["tag"] == "SyncWsRpc.Pull" && v["payload"]["live"] != true {
                    if let Some(id) = v["id"].as_str() {
                        nonlive.entry(line.conn).or_default().insert(id.to_owned());
                    }
                }
            }
            let mut outputs = Vec::new();
            let store = stores.get_mut(&sid).unwrap();
            // what the Durable Object does before the core (and so what production sends)
            let handled = match transport {
                Transport::WebSocket => {
                    let this = conns.get(&line.conn).cloned().unwrap_or_default();
                    let sockets = conns
                        .iter()
                        .filter(|(c, _)| store_of.get(*c) == Some(&sid))
                        .map(|(_, state)| state);
                    needs_store(sockets, &this, &text)
                }
                Transport::Http | Transport::DoRpc => true,
            };
            let mut http_conn = Connection::default();
            let conn = match transport {
                Transport::WebSocket => conns.entry(line.conn).or_default(),
                // each POST is served on its own (no transcript is DO-RPC)
                Transport::Http | Transport::DoRpc => &mut http_conn,
            };
            if handled {
                handle_http_or_ws(store, transport, conn, &text, &mut |o| outputs.push(o));
            }
            let mut replies = Vec::new();
            for o in outputs {
                match o {
                    Output::Reply(r) => replies.push(r),
                    Output::Activity(_) => {}
                    Output::Subscribe(s) => panic!("a WebSocket message subscribed {s:?}"),
                    Output::Broadcast(b) => {
                        let sockets = conns
                            .iter()
                            .filter(|(c, _)| store_of.get(*c) == Some(&sid))
                            .map(|(c, state)| (*c, state));
                        for (c, frame) in fan_out(sockets, &b) {
                            let frame: Value = serde_json::from_str(&frame).unwrap();
                            ours.entry(c).or_default().push(frame);
                        }
                    }
                }
            }
            match transport {
                Transport::WebSocket => {
                    for r in replies {
                        ours.entry(line.conn)
                            .or_default()
                            .push(serde_json::from_str(&r).unwrap());
                    }
                }
                Transport::Http | Transport::DoRpc => {
                    let (status, body) = http_answer(&replies);
                    ours.entry(line.conn)
                        .or_default()
                        .push(http_frame(status.into(), &body));
                }
            }
        }

        let mut reference: BTreeMap<u64, Vec<Value>> = BTreeMap::new();
        let mut exited: BTreeMap<u64, BTreeSet<String>> = BTreeMap::new();
        let mut closed: BTreeSet<u64> = BTreeSet::new();
        for line in &lines {
            if line.dir == "c2s" && line.kind == "ws-close" {
                closed.insert(line.conn);
            }
            if line.dir != "s2c" || closed.contains(&line.conn) {
                // after the client closed the socket, the reference still writes interrupt Exits
                // for its live pulls; nobody receives them
                continue;
            }
            let frame = match line.kind.as_str() {
                "ws-text" => serde_json::from_str::<Value>(line.raw.as_deref().unwrap()).unwrap(),
                "http-response" => {
                    http_frame(line.status.unwrap_or(0), line.body.as_deref().unwrap_or(""))
                }
                _ => continue,
            };
            let id = frame["requestId"].as_str().unwrap_or("").to_owned();
            let done = exited.entry(line.conn).or_default();
            if frame["_tag"] == "Chunk" && done.contains(&id) {
                continue; // the finished-pull quirk
            }
            if frame["_tag"] == "Exit" && nonlive.get(&line.conn).is_some_and(|s| s.contains(&id)) {
                done.insert(id);
            }
            reference.entry(line.conn).or_default().push(frame);
        }
        Golden {
            name,
            ours,
            reference,
            stores,
        }
    }

    /// A difference on purpose: on connection `conn`, the reference's frames for request `id`
    /// (all of them, wherever they are) are replaced by `ours`, placed where the first of them
    /// was (or at the end if the reference sent none).
    fn differ(&mut self, conn: u64, id: &str, why: &str, ours: Vec<Value>) -> &mut Self {
        assert!(!why.is_empty());
        let frames = self.reference.entry(conn).or_default();
        let at = frames
            .iter()
            .position(|f| is_for(f, id))
            .unwrap_or(frames.len());
        frames.retain(|f| !is_for(f, id));
        for (i, f) in ours.into_iter().enumerate() {
            frames.insert(at + i, f);
        }
        self
    }

    /// A difference on purpose that is a change to the reference's frames for request `id` on
    /// `conn` (each of them goes through `change`).
    fn differ_in(
        &mut self,
        conn: u64,
        id: &str,
        why: &str,
        change: impl Fn(&mut Value),
    ) -> &mut Self {
        assert!(!why.is_empty());
        let frames = self.reference.entry(conn).or_default();
        let mut n = 0;
        for f in frames.iter_mut().filter(|f| is_for(f, id)) {
            change(f);
            n += 1;
        }
        assert!(
            n > 0,
            "{}: no reference frame for request {id} on connection {conn}",
            self.name
        );
        self
    }

    /// A difference on purpose: the frame on `conn` equal to `theirs` (exactly one) is replaced
    /// by `ours`.
    fn differ_frame(&mut self, conn: u64, theirs: Value, why: &str, ours: Value) -> &mut Self {
        assert!(!why.is_empty());
        let frames = self.reference.entry(conn).or_default();
        let hits: Vec<usize> = (0..frames.len()).filter(|i| frames[*i] == theirs).collect();
        assert_eq!(
            hits.len(),
            1,
            "{}: connection {conn} has {} frames {theirs}",
            self.name,
            hits.len()
        );
        frames[hits[0]] = ours;
        self
    }

    /// A difference on purpose in how a history is cut into responses: the reference's chunks for
    /// pull `id` on `conn` hold the same events, in the same order, as ours, regrouped into
    /// responses of at most `per` events with `remaining` counted down (the reference starts a
    /// new response at every 256-row page it reads: 100/100/56/…).
    fn differ_regrouped(&mut self, conn: u64, id: &str, why: &str, per: usize) -> &mut Self {
        assert!(!why.is_empty());
        let frames = self.reference.entry(conn).or_default();
        let chunks: Vec<&Value> = frames
            .iter()
            .filter(|f| f["requestId"] == id && f["_tag"] == "Chunk")
            .collect();
        let backend_id = chunks[0]["values"][0]["backendId"].clone();
        let items: Vec<Value> = chunks
            .iter()
            .flat_map(|c| {
                c["values"][0]["batch"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            })
            .collect();
        let mut remaining = items.len();
        let regrouped: Vec<Value> = items
            .chunks(per)
            .map(|batch| {
                remaining -= batch.len();
                let page_info = if remaining > 0 {
                    json!({"_tag":"MoreKnown","remaining":remaining})
                } else {
                    json!({"_tag":"NoMore"})
                };
                json!({"_tag":"Chunk","requestId":id,"values":[{"batch":batch,"pageInfo":page_info,"backendId":backend_id}]})
            })
            .collect();
        let at = frames
            .iter()
            .position(|f| f["requestId"] == id && f["_tag"] == "Chunk")
            .unwrap();
        frames.retain(|f| !(f["requestId"] == id && f["_tag"] == "Chunk"));
        frames.splice(at..at, regrouped);
        self
    }

    /// A difference on purpose in frames that have no request id (a `Defect`, a `Pong`): the
    /// reference's frames `at..at + remove` on `conn` are replaced by `ours`.
    fn differ_at(
        &mut self,
        conn: u64,
        at: usize,
        remove: usize,
        why: &str,
        ours: Vec<Value>,
    ) -> &mut Self {
        assert!(!why.is_empty());
        let frames = self.reference.entry(conn).or_default();
        assert!(
            at + remove <= frames.len(),
            "{}: connection {conn} has no frames {at}..{}",
            self.name,
            at + remove
        );
        frames.splice(at..at + remove, ours);
        self
    }

    /// Every frame on every connection, in order.
    fn assert_equal(&self) {
        let conns: BTreeSet<u64> = self
            .ours
            .keys()
            .chain(self.reference.keys())
            .copied()
            .collect();
        assert!(!conns.is_empty(), "{}: nothing was replayed", self.name);
        for conn in conns {
            let norm = |m: &BTreeMap<u64, Vec<Value>>| -> Vec<Value> {
                m.get(&conn)
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .map(normalize)
                    .collect()
            };
            let (got, expected) = (norm(&self.ours), norm(&self.reference));
            if got != expected {
                let first = got
                    .iter()
                    .zip(&expected)
                    .take_while(|(g, e)| g == e)
                    .count();
                let show = |frames: &[Value]| -> String {
                    frames[first.min(frames.len())..]
                        .iter()
                        .map(|f| {
                            format!("\n    {}", &f.to_string()[..f.to_string().len().min(400)])
                        })
                        .collect()
                };
                panic!(
                    "{}, connection {conn}: frames differ from frame {first} on (we sent {}, the reference {})\n  ours:{}\n  reference:{}",
                    self.name,
                    got.len(),
                    expected.len(),
                    show(&got),
                    show(&expected)
                );
            }
        }
    }

    fn store(&self, store_id: &str) -> &Store<MemLog> {
        &self.stores[store_id]
    }
}

/// Whether a frame (or an HTTP answer) carries request `id`.
fn is_for(frame: &Value, id: &str) -> bool {
    frame["requestId"] == id
        || frame
            .get("body")
            .and_then(Value::as_array)
            .is_some_and(|b| b.iter().any(|f| f["requestId"] == id))
}

/// `{"_tag":"Exit","requestId":id,"exit":{Failure, Fail error}}`.
fn exit_fail(id: &str, error: Value) -> Value {
    json!({"_tag":"Exit","requestId":id,"exit":{"_tag":"Failure","cause":{"_tag":"Fail","error":error}}})
}

fn unknown_error(name: &str, message: &str) -> Value {
    json!({"cause":{"name":name,"message":message},"_tag":"UnknownError"})
}

fn server_ahead(minimum_expected: i64, provided: i64) -> Value {
    json!({"minimumExpectedNum":minimum_expected,"providedNum":provided,"_tag":"ServerAheadError"})
}

#[test]
fn t01_initial_empty_pull() {
    Golden::replay("01-initial-empty-pull").assert_equal();
}

/// An event pushed without `args` (§4.3): the reference broadcasts it without `args` but returns
/// `"args":null` from history; we return it as it was pushed on every path.
fn without_args_in_history(f: &mut Value) {
    match f {
        Value::Object(map) => {
            if let Some(Value::Object(event)) = map.get_mut("eventEncoded") {
                if event.get("args") == Some(&Value::Null)
                    && event["name"]
                        .as_str()
                        .is_some_and(|n| n.starts_with("noArgs"))
                {
                    event.remove("args");
                }
            }
            map.values_mut().for_each(without_args_in_history);
        }
        Value::Array(items) => items.iter_mut().for_each(without_args_in_history),
        _ => {}
    }
}

#[test]
fn t02_push_broadcast_two_clients() {
    Golden::replay("02-push-broadcast-two-clients")
        .differ_in(
            2,
            "4",
            "an event pushed without args comes back without args",
            without_args_in_history,
        )
        .assert_equal();
}

#[test]
fn t03_nonlive_pull_250() {
    Golden::replay("03-nonlive-pull-250").assert_equal();
}

#[test]
fn t04_server_ahead_error() {
    Golden::replay("04-server-ahead-error").assert_equal();
}

#[test]
fn t05_backend_id_mismatch() {
    Golden::replay("05-backend-id-mismatch").assert_equal();
}

#[test]
fn t06_ping_pong() {
    Golden::replay("06-ping-pong").assert_equal();
}

#[test]
fn t08_http_pull_push_ping() {
    Golden::replay("08-http-pull-push-ping")
        .differ_in(4, "3", "an event pushed without args comes back without args", without_args_in_history)
        .differ_frame(
            11,
            http_frame(200, r#"[{"_tag":"Defect","defect":"Unknown request tag: SyncHttpRpc.Nope"}]"#),
            "a body that is not an RPC request (a lone Defect) is a 400",
            http_frame(400, r#"[{"_tag":"Defect","defect":"Unknown request tag: SyncHttpRpc.Nope"}]"#),
        )
        .differ_frame(
            12,
            http_frame(200, r#"[{"_tag":"Defect","defect":"Unknown request tag: undefined"}]"#),
            "a JSON array body is not an RPC request either: 400",
            http_frame(400, r#"[{"_tag":"Defect","defect":"Unknown request tag: undefined"}]"#),
        )
        .differ_frame(
            13,
            http_frame(200, r#"[{"_tag":"Defect","defect":"Invalid request id: 5"}]"#),
            "numeric request ids are served and echoed as numbers",
            http_frame(200, r#"[{"_tag":"Exit","requestId":5,"exit":{"_tag":"Success","value":{"_tag":"SyncMessage.Pong"}}}]"#),
        )
        .differ_frame(
            14,
            http_frame(500, ""),
            "a request without a `headers` field is served (the reference's HTTP adapter crashes on it)",
            http_frame(200, r#"[{"_tag":"Exit","requestId":"6","exit":{"_tag":"Success","value":{"_tag":"SyncMessage.Pong"}}}]"#),
        )
        .assert_equal();
}

#[test]
fn t09_ws_rpc_edge_cases() {
    let mut g = Golden::replay("09-ws-rpc-edge-cases");
    g.differ(
        1,
        "3",
        "a batch must be one contiguous chain; the reference stores 6, 8, 10 after head 5",
        vec![exit_fail(
            "3",
            unknown_error(
                "InvalidPushError",
                "event 1 of the batch has parentSeqNum 7 but the previous event has seqNum 6",
            ),
        )],
    )
    .differ_in(1, "4", "so the log holds 1..5 only", |f| {
        if let Some(batch) = f.pointer_mut("/values/0/batch").and_then(Value::as_array_mut) {
            batch.retain(|item| item["eventEncoded"]["seqNum"].as_i64() <= Some(5));
        }
    })
    .differ(
        1,
        "5",
        "pushed on parent 10 while our head is 5 (the reference's head is 10, its insert fails)",
        vec![exit_fail("5", server_ahead(5, 10))],
    )
    .differ(
        1,
        "6",
        "the reference's test hook (onPush throws) does not exist here: an ordinary push on parent 10",
        vec![exit_fail("6", server_ahead(5, 10))],
    )
    .differ_frame(
        1,
        json!({"_tag":"Defect","defect":"Invalid request id: 11"}),
        "numeric request ids are served and echoed as numbers (Effect 4 clients send them)",
        json!({"_tag":"Exit","requestId":11,"exit":{"_tag":"Success","value":{}}}),
    )
    .differ_frame(
        1,
        json!({"_tag":"Defect","defect":{"name":"SyntaxError","message":"Expected property name or '}' in JSON at position 1 (line 1 column 2)"}}),
        "an unparseable frame's Defect carries our parser's message",
        json!({"_tag":"Defect","defect":"Invalid message: key must be a string at line 1 column 2"}),
    )
    .assert_equal();
    assert_eq!(g.store("tx09-edge-701492").head, 5);
}

#[test]
fn t10_flow_control_and_limits() {
    let mut g = Golden::replay("10-flow-control-and-limits");
    g.differ_regrouped(2, "200", "responses of 100 events, not restarted at 256-row pages", 100)
        .differ(
            3,
            "500",
            "an event that could never be delivered is refused at push; the reference stores it and fails every pull",
            vec![exit_fail("500", unknown_error(
                    "InvalidPushError",
                    "event 13 is 950248 bytes encoded; the largest event that can be delivered is 899891 bytes",
                ))],
        )
        .differ(
            3,
            "501",
            "so there is nothing after seqNum 12 to pull",
            vec![
                json!({"_tag":"Chunk","requestId":"501","values":[{"batch":[],"pageInfo":{"_tag":"NoMore"},"backendId":"SwI-TF-jssAN2rE6oS2Um"}]}),
                json!({"_tag":"Exit","requestId":"501","exit":{"_tag":"Success"}}),
            ],
        )
        .assert_equal();
    assert_eq!(g.store("tx10-bytes-701492").head, 12);
}

#[test]
fn t11_partial_insert_on_failed_push() {
    let mut g = Golden::replay("11-partial-insert-on-failed-push");
    g.differ(
        1,
        "1",
        "a batch that repeats a seqNum is refused before anything is stored; the reference stores its first 14 rows",
        vec![exit_fail(
            "1",
            unknown_error(
                "InvalidPushError",
                "event 15 of the batch has parentSeqNum 14 but the previous event has seqNum 15",
            ),
        )],
    )
    .differ_in(1, "2", "so nothing was stored", |f| {
        if let Some(batch) = f.pointer_mut("/values/0/batch").and_then(Value::as_array_mut) {
            batch.clear();
        }
    })
    .differ(
        1,
        "3",
        "and the store is not wedged: the correct push of 1..20 is accepted",
        vec![json!({"_tag":"Exit","requestId":"3","exit":{"_tag":"Success","value":{}}})],
    )
    .assert_equal();
    assert_eq!(g.store("tx11-partial-701492").head, 20);
}

#[test]
fn t14_push_then_immediate_interrupt() {
    Golden::replay("14-push-then-immediate-interrupt").assert_equal();
}

#[test]
fn t15_concurrent_same_parent_pushes() {
    Golden::replay("15-concurrent-same-parent-pushes").assert_equal();
}

#[test]
fn t16_d1_storage_option() {
    Golden::replay("16-d1-storage-option")
        .differ_in(
            1,
            "2",
            "an event pushed without args comes back without args",
            without_args_in_history,
        )
        .assert_equal();
}

#[test]
fn t17_url_vs_payload_storeid() {
    Golden::replay("17-url-vs-payload-storeid").assert_equal();
}

#[test]
fn t19_non_numeric_request_id() {
    Golden::replay("19-non-numeric-request-id")
        .differ_at(
            1,
            0,
            0,
            "any request id is echoed verbatim; the reference stops serving the socket after id \"abc\"",
            vec![
                json!({"_tag":"Exit","requestId":"abc","exit":{"_tag":"Success","value":{}}}),
                json!({"_tag":"Exit","requestId":"1","exit":{"_tag":"Success","value":{}}}),
                json!({"_tag":"Pong"}),
            ],
        )
        .assert_equal();
}

#[test]
fn t20_http_push_broadcast_to_ws() {
    Golden::replay("20-http-push-broadcast-to-ws").assert_equal();
}
