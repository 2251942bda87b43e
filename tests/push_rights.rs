//! Push rights through the sync core, as the Durable Object runs it: a read-only connection pulls
//! (live too) and is refused every push; an event rule refuses a batch whole at its first
//! disallowed event; nothing refused is stored, and the rights survive hibernation.

mod common;

use common::*;
use livestore_sync_rs::auth::PushRights;
use livestore_sync_rs::sync::activity::Activity;
use livestore_sync_rs::sync::attachment::Attachment;
use livestore_sync_rs::sync::Connection;
use livestore_sync_rs::transport::Transport;
use serde_json::json;

fn with_rights(rights: PushRights) -> Connection {
    Connection {
        rights,
        ..Connection::default()
    }
}

fn read_only() -> PushRights {
    PushRights {
        read_only: true,
        events: None,
    }
}

fn only(events: &[&str]) -> PushRights {
    PushRights {
        read_only: false,
        events: Some(events.iter().map(|e| (*e).to_owned()).collect()),
    }
}

fn named(seq: i64, name: &str) -> serde_json::Value {
    let mut e = event(seq);
    e["name"] = json!(name);
    e
}

/// The failure's `UnknownError` cause, or a panic naming what came instead.
fn refusal(o: &Outputs) -> (String, String) {
    let reply = &o.replies[0];
    assert_eq!(reply["exit"]["_tag"], "Failure", "{reply}");
    let error = &reply["exit"]["cause"]["error"];
    assert_eq!(error["_tag"], "UnknownError", "{reply}");
    (
        error["cause"]["name"].as_str().unwrap().to_owned(),
        error["cause"]["message"].as_str().unwrap().to_owned(),
    )
}

fn refused_activity(o: &Outputs) -> bool {
    o.activities.iter().any(
        |a| matches!(a, Activity::Push { outcome: Err(r), .. } if r.0 == "PushNotAllowedError"),
    )
}

#[test]
fn a_read_only_connection_pulls_live_and_is_refused_every_push() {
    let mut s = store();
    push_events(&mut s, 1, 3);
    let mut viewer = with_rights(read_only());
    let o = ws(&mut s, &mut viewer, &pull_frame("1", None, true));
    let chunk = o.replies.iter().find(|r| r["_tag"] == "Chunk").unwrap();
    assert_eq!(chunk["values"][0]["batch"].as_array().unwrap().len(), 3);
    assert_eq!(viewer.live_pulls.len(), 1, "the pull stays live");

    // its pushes are refused, whatever their parent: nothing stored, nothing broadcast
    for (parent_ok, batch) in [
        (true, vec![event(4)]),
        (false, vec![event(9)]),
        (true, vec![]),
    ] {
        let o = ws(&mut s, &mut viewer, &push_frame("2", &batch, None));
        let (name, message) = refusal(&o);
        assert_eq!(name, "PushNotAllowedError", "parent ok: {parent_ok}");
        assert!(message.contains("read-only"), "{message}");
        assert!(o.broadcasts.is_empty());
        assert!(refused_activity(&o));
    }
    assert_eq!(s.head, 3);
    assert_eq!(s.log.rows.borrow().len(), 3);

    // another client's push reaches the viewer's live pull
    let mut writer = Connection::default();
    let o = ws(&mut s, &mut writer, &push_frame("3", &[event(4)], None));
    assert_eq!(o.replies[0]["exit"]["_tag"], "Success");
    assert_eq!(o.broadcasts.len(), 1);
    assert_eq!(s.head, 4);
}

#[test]
fn an_event_rule_refuses_a_batch_whole_at_its_first_disallowed_event() {
    let mut s = store();
    let mut conn = with_rights(only(&["todo*"]));
    let o = ws(
        &mut s,
        &mut conn,
        &push_frame(
            "1",
            &[named(1, "todoCreated"), named(2, "todoCompleted")],
            None,
        ),
    );
    assert_eq!(o.replies[0]["exit"]["_tag"], "Success", "{:?}", o.replies);
    assert_eq!(s.head, 2);

    let batch = [
        named(3, "todoCreated"),
        named(4, "userDeleted"),
        named(5, "adminMade"),
    ];
    let o = ws(&mut s, &mut conn, &push_frame("2", &batch, None));
    let (name, message) = refusal(&o);
    assert_eq!(name, "PushNotAllowedError");
    assert!(message.contains("\"userDeleted\""), "{message}");
    assert!(message.contains("event 2 of the batch"), "{message}");
    assert!(o.broadcasts.is_empty());
    assert!(refused_activity(&o));
    assert_eq!(s.head, 2, "nothing of the batch was stored");
    assert_eq!(s.log.rows.borrow().len(), 2);
}

#[test]
fn the_rules_apply_over_http_too() {
    let mut s = store();
    let mut conn = with_rights(read_only());
    let frame = json!({
        "_tag": "Request", "id": "1", "tag": "SyncHttpRpc.Push",
        "payload": {"storeId": "s", "batch": [event(1)], "backendId": {"_tag": "None"}},
        "headers": []
    })
    .to_string();
    let o = send(&mut s, Transport::Http, &mut conn, &frame);
    assert_eq!(refusal(&o).0, "PushNotAllowedError");
    assert_eq!(s.head, 0);
}

#[test]
fn the_rights_survive_hibernation_in_the_attachment() {
    for rights in [
        read_only(),
        only(&["todo*", "userRenamed"]),
        PushRights::default(),
    ] {
        let mut a = Attachment::new("s".into(), None, 0);
        a.connection.rights = rights.clone();
        let text = a.to_json();
        assert_eq!(
            text.contains("pushRights"),
            rights != PushRights::default(),
            "{text}"
        );
        let back = Attachment::from_json(&text).unwrap();
        assert_eq!(back.connection.rights, rights);
    }
    // an attachment written before push rights existed: unrestricted, as it was
    let old = Attachment::from_json(r#"{"storeId":"s","pullRequestIds":[]}"#).unwrap();
    assert_eq!(old.connection.rights, PushRights::default());
}
