//! The export and import format: one event per line, as JSON, in log order.
//!
//! ```text
//! {"seqNum":1,"parentSeqNum":0,"name":"v1.TodoCreated","args":{"id":"t1"},"clientId":"c","sessionId":"s","createdAt":"2026-12-02T10:00:00.000Z"}
//! ```
//!
//! `args` is the stored JSON text, verbatim, and absent when the event was pushed without args;
//! `createdAt` is the server's timestamp at admission. An import writes exactly these values, so
//! export then import into another store gives an identical log.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::protocol::messages::present;
use crate::storage::StoredEvent;
use crate::sync::limits::Limits;
use crate::sync::push::{args_depth_error, chain_error};

use super::AdminError;

/// Most events one import request may carry: a page is validated whole and written in one
/// transaction, so it must stay small enough for one request's memory and time.
pub const MAX_IMPORT_EVENTS: usize = 10_000;

/// One exported line (with its newline).
pub fn export_line(e: &StoredEvent, out: &mut String) {
    let line = ExportLine {
        seq_num: e.seq_num,
        parent_seq_num: e.parent_seq_num,
        name: &e.name,
        args: e.args.as_deref().map(|text| {
            // stored args are JSON text, written as they are (a text that is not JSON, which
            // no push stores, is exported as a string rather than breaking the line)
            serde_json::from_str::<&RawValue>(text).map_or(Args::Text(text), Args::Json)
        }),
        client_id: &e.client_id,
        session_id: &e.session_id,
        created_at: &e.created_at,
    };
    if let Ok(text) = serde_json::to_string(&line) {
        out.push_str(&text);
        out.push('\n');
    }
}

/// The line [`export_line`] writes; [`Line`] reads it back.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ExportLine<'a> {
    seq_num: i64,
    parent_seq_num: i64,
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    args: Option<Args<'a>>,
    client_id: &'a str,
    session_id: &'a str,
    created_at: &'a str,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Args<'a> {
    Json(&'a RawValue),
    Text(&'a str),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    #[serde(rename = "seqNum")]
    seq_num: i64,
    #[serde(rename = "parentSeqNum")]
    parent_seq_num: i64,
    name: String,
    #[serde(default, deserialize_with = "present")]
    args: Option<Box<RawValue>>,
    #[serde(rename = "clientId")]
    client_id: String,
    #[serde(rename = "sessionId")]
    session_id: String,
    #[serde(rename = "createdAt")]
    created_at: String,
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ`, what `Date.prototype.toISOString` writes.
fn is_iso_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 24
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'.',
            23 => *c == b'Z',
            _ => c.is_ascii_digit(),
        })
}

/// Parses and validates one import page against the store's `head`: every line an event, the
/// whole page one contiguous chain starting after `head`, every event deliverable. Nothing is
/// written unless all of it is valid; the error names the line (1-based).
pub fn parse_import(
    body: &str,
    head: i64,
    limits: &Limits,
) -> Result<Vec<StoredEvent>, AdminError> {
    let mut events = Vec::new();
    for (i, line) in body.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let bad = |reason: String| AdminError::new(400, format!("line {}: {reason}", i + 1));
        if events.len() == MAX_IMPORT_EVENTS {
            return Err(bad(format!(
                "an import request carries at most {MAX_IMPORT_EVENTS} events; send the rest in another request"
            )));
        }
        let l: Line = serde_json::from_str(line).map_err(|e| bad(format!("not an event: {e}")))?;
        if !is_iso_timestamp(&l.created_at) {
            return Err(bad(format!(
                "createdAt must be an ISO timestamp like 2026-12-02T10:00:00.000Z, got {:?}",
                l.created_at
            )));
        }
        if let Some(reason) = args_depth_error(l.args.as_deref().map(RawValue::get), limits) {
            return Err(bad(format!("event {}: {reason}", l.seq_num)));
        }
        let e = StoredEvent {
            seq_num: l.seq_num,
            parent_seq_num: l.parent_seq_num,
            name: l.name,
            args: l.args.map(|a| a.get().to_owned()),
            created_at: l.created_at,
            client_id: l.client_id,
            session_id: l.session_id,
        };
        let size = e.view().encode_item().len();
        if size > limits.max_event_bytes() {
            return Err(bad(format!(
                "event {} is {size} bytes encoded; the largest event that can be delivered is {} bytes",
                e.seq_num,
                limits.max_event_bytes()
            )));
        }
        events.push(e);
    }
    if events.is_empty() {
        return Err(AdminError::new(
            400,
            "The body holds no events (NDJSON, one event per line)",
        ));
    }
    if let Some(reason) = chain_error(head, events.iter().map(|e| (e.parent_seq_num, e.seq_num))) {
        let at = chain_break(head, &events);
        return Err(AdminError::new(
            400,
            format!(
                "line {}: the events must continue the store's log (head {head}) as one chain: {reason}",
                at + 1
            ),
        ));
    }
    Ok(events)
}

/// Index of the first event that breaks the chain (for the line number).
fn chain_break(head: i64, events: &[StoredEvent]) -> usize {
    let mut parent = head;
    for (i, e) in events.iter().enumerate() {
        if e.parent_seq_num != parent || e.seq_num <= parent {
            return i;
        }
        parent = e.seq_num;
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(seq: i64, args: Option<&str>) -> StoredEvent {
        StoredEvent {
            seq_num: seq,
            parent_seq_num: seq - 1,
            name: "v1.Todo \"x\"".into(),
            args: args.map(str::to_owned),
            created_at: "2026-12-02T10:00:00.123Z".into(),
            client_id: "c\u{1}".into(),
            session_id: "s".into(),
        }
    }

    #[test]
    fn export_then_parse_is_identity() {
        let events = vec![
            stored(1, Some(r#"{"a":[1,2.5,null]}"#)),
            stored(2, None),
            stored(3, Some("null")),
        ];
        let mut text = String::new();
        for e in &events {
            export_line(e, &mut text);
        }
        assert!(text.ends_with("}\n"));
        assert!(
            !text.lines().nth(1).unwrap().contains("args"),
            "absent args stays absent"
        );
        assert_eq!(parse_import(&text, 0, &Limits::default()).unwrap(), events);
        // CRLF line ends and blank lines are fine
        let crlf = text.replace('\n', "\r\n\r\n");
        assert_eq!(parse_import(&crlf, 0, &Limits::default()).unwrap(), events);
    }

    #[test]
    fn an_invalid_page_names_its_line() {
        let mut text = String::new();
        for seq in 5..=7 {
            export_line(&stored(seq, None), &mut text);
        }
        let err = |body: &str, head: i64| parse_import(body, head, &Limits::default()).unwrap_err();
        let e = err(&text, 3);
        assert_eq!(e.status, 400);
        assert!(
            e.reason
                .starts_with("line 1: the events must continue the store's log (head 3)"),
            "{}",
            e.reason
        );
        assert!(parse_import(&text, 4, &Limits::default()).is_ok());
        let gap = text.replace(
            r#""seqNum":6,"parentSeqNum":5"#,
            r#""seqNum":8,"parentSeqNum":7"#,
        );
        assert!(
            err(&gap, 4).reason.starts_with("line 2:"),
            "{}",
            err(&gap, 4).reason
        );
        assert!(err("{\"seqNum\":1}\n", 0)
            .reason
            .starts_with("line 1: not an event"));
        assert!(err("", 0).reason.contains("no events"));
        let extra = text.replace("\"createdAt\"", "\"extra\":1,\"createdAt\"");
        assert!(err(&extra, 4).reason.contains("unknown field"));
        let bad_time = text.replace("2026-12-02T10:00:00.123Z", "yesterday");
        assert!(err(&bad_time, 4).reason.contains("createdAt"));
        let big = Limits {
            max_response_bytes: 10_000,
            ..Limits::default()
        };
        let mut huge = String::new();
        export_line(
            &stored(5, Some(&format!("\"{}\"", "x".repeat(20_000)))),
            &mut huge,
        );
        assert!(parse_import(&huge, 4, &big)
            .unwrap_err()
            .reason
            .contains("can be delivered"));
    }
}
