//! The admin operations of the core: import pages, export lines, reset — over the in-memory log.

mod common;

use common::*;
use livestore_sync_rs::admin::ndjson::{export_line, parse_import};
use livestore_sync_rs::storage::EventLog;
use livestore_sync_rs::sync::{Connection, Output};
use serde_json::{json, Value};

/// The whole log as NDJSON, page by page as the Durable Object streams it.
fn export(store: &livestore_sync_rs::sync::Store<MemLog>, since: i64) -> String {
    let mut text = String::new();
    let mut after = since;
    loop {
        let page = block_on(store.log.read_between(after, store.head, 7)).unwrap();
        let Some(last) = page.last() else { break };
        after = last.seq_num;
        for e in &page {
            export_line(e, &mut text);
        }
    }
    text
}

#[test]
fn export_then_import_into_another_store_gives_an_identical_log() {
    let mut a = store();
    push_events(&mut a, 1, 50);
    let mut e = event(51);
    e.as_object_mut().unwrap().remove("args");
    ws(
        &mut a,
        &mut Connection::default(),
        &push_frame("x", &[e], None),
    );
    let text = export(&a, 0);
    assert_eq!(text.lines().count(), 51);

    let mut b = store();
    b.backend_id = "AnotherBackendId12345".into();
    // a live pull on the target sees the imported events as they are written
    let mut conn = Connection::default();
    ws(&mut b, &mut conn, &pull_frame("0", None, true));
    let mut broadcast = Vec::new();
    for page in text.lines().collect::<Vec<_>>().chunks(20) {
        let body = page.join("\n");
        let events = parse_import(&body, b.head, &b.limits).unwrap();
        block_on(b.import(&events, &mut |o| {
            if let Output::Broadcast(r) = o {
                broadcast.push(serde_json::from_str::<Value>(&r).unwrap());
            }
        }))
        .unwrap();
    }
    assert_eq!(b.head, 51);
    assert_eq!(
        *a.log.rows.borrow(),
        *b.log.rows.borrow(),
        "identical rows, createdAt included"
    );
    let seen: Vec<i64> = broadcast
        .iter()
        .flat_map(|r| r["batch"].as_array().unwrap().clone())
        .map(|i| i["eventEncoded"]["seqNum"].as_i64().unwrap())
        .collect();
    assert_eq!(seen, (1..=51).collect::<Vec<_>>());
    assert_eq!(
        export(&b, 0),
        text,
        "exporting the copy gives the same text"
    );
    assert_eq!(export(&b, 49).lines().count(), 2, "since is exclusive");
}

#[test]
fn an_import_must_continue_the_log_and_a_failed_page_changes_nothing() {
    let mut s = store();
    push_events(&mut s, 1, 3);
    let mut source = store();
    push_events(&mut source, 1, 10);
    let all = export(&source, 0);
    // pages that do not start right after the head are refused, with the line
    let e = parse_import(&all, s.head, &s.limits).unwrap_err();
    assert_eq!(e.status, 400);
    assert!(e.reason.contains("head 3"), "{}", e.reason);
    // the continuation is accepted
    let rest = export(&source, 3);
    let events = parse_import(&rest, s.head, &s.limits).unwrap();
    s.log.fail_next_append.set(true);
    assert!(
        block_on(s.import(&events, &mut |_| {})).is_err(),
        "a storage failure is reported"
    );
    assert_eq!(
        (s.head, s.log.rows.borrow().len()),
        (3, 3),
        "and nothing changed"
    );
    assert_eq!(block_on(s.import(&events, &mut |_| {})).unwrap(), 10);
    // the core refuses a page that was validated against another head
    assert!(block_on(s.import(&events, &mut |_| {})).is_err());
    assert_eq!(s.head, 10);
}

#[test]
fn reset_starts_a_new_incarnation_that_old_clients_cannot_mix_with() {
    let mut s = store();
    push_events(&mut s, 1, 5);
    block_on(s.reset("NewBackendId000000000".into())).unwrap();
    assert_eq!((s.head, s.log.rows.borrow().len()), (0, 0));
    assert_eq!(block_on(s.log.summary()).unwrap().events, 0);
    // a client of the old incarnation: its pull (cursor with the old backendId) and its push fail
    let o = ws(
        &mut s,
        &mut Connection::default(),
        &pull_frame("1", Some(5), true),
    );
    assert_eq!(
        o.replies[0]["exit"]["cause"]["error"]["_tag"],
        "BackendIdMismatchError"
    );
    let o = ws(
        &mut s,
        &mut Connection::default(),
        &push_frame("2", &[event(6)], Some(BACKEND_ID)),
    );
    assert_eq!(
        o.replies[0]["exit"]["cause"]["error"],
        json!({"expected":"NewBackendId000000000","received":BACKEND_ID,"_tag":"BackendIdMismatchError"})
    );
    // a fresh client starts from zero
    let o = ws(
        &mut s,
        &mut Connection::default(),
        &push_frame("3", &[event(1)], None),
    );
    assert_eq!(o.replies[0]["exit"]["_tag"], "Success");
    assert_eq!(s.head, 1);
}
