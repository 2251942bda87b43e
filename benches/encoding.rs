//! Why a `PullResponse` item is written by hand (`EventView::encode_item`) and not by serde:
//! every pulled or broadcast event goes through it. This prints both, per event, after checking
//! that they write the same bytes.
//!
//! `cargo bench --bench encoding` (native, release). The Worker runs the same code as Wasm; the
//! ratio, not the nanoseconds, is what carries over.

use std::hint::black_box;
use std::time::Instant;

use livestore_sync_rs::protocol::messages::EventView;
use serde::Serialize;
use serde_json::value::RawValue;

#[derive(Serialize)]
struct Item<'a> {
    #[serde(rename = "eventEncoded")]
    event_encoded: Encoded<'a>,
    metadata: Metadata<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Encoded<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    args: Option<&'a RawValue>,
    seq_num: i64,
    parent_seq_num: i64,
    client_id: &'a str,
    session_id: &'a str,
}

#[derive(Serialize)]
struct Metadata<'a> {
    #[serde(rename = "_tag")]
    tag: &'static str,
    value: SyncMetadata<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SyncMetadata<'a> {
    #[serde(rename = "_tag")]
    tag: &'static str,
    created_at: &'a str,
}

fn by_serde(e: &EventView<'_>, args: Option<&RawValue>) -> String {
    let item = Item {
        event_encoded: Encoded {
            name: e.name,
            args,
            seq_num: e.seq_num,
            parent_seq_num: e.parent_seq_num,
            client_id: e.client_id,
            session_id: e.session_id,
        },
        metadata: Metadata {
            tag: "Some",
            value: SyncMetadata {
                tag: "SyncMessage.SyncMetadata",
                created_at: e.created_at,
            },
        },
    };
    serde_json::to_string(&item).unwrap_or_default()
}

/// Nanoseconds per call of `f`, the best of five rounds of `n` calls (the least disturbed one on
/// a shared machine).
fn ns_per_call(n: u32, mut f: impl FnMut() -> usize) -> f64 {
    (0..5)
        .map(|_| {
            let start = Instant::now();
            let mut bytes = 0;
            for _ in 0..n {
                bytes += black_box(f());
            }
            black_box(bytes);
            start.elapsed().as_secs_f64() * 1e9 / f64::from(n)
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    let args_text = r#"{"id":"todo-1234","text":"Buy milk and \"eggs\"","completed":false,"n":42}"#;
    let args = RawValue::from_string(args_text.to_owned()).expect("valid JSON");
    let event = EventView {
        name: "v1.TodoCreated",
        args: Some(args_text),
        seq_num: 123_456,
        parent_seq_num: 123_455,
        client_id: "client-Ab3dE",
        session_id: "session-9xYz",
        created_at: "2026-12-04T21:00:00.000Z",
    };
    let hand = event.encode_item();
    let serde = by_serde(&event, Some(&args));
    assert_eq!(hand, serde, "both must write the same bytes");

    let n = 200_000;
    let hand_ns = ns_per_call(n, || black_box(&event).encode_item().len());
    let serde_ns = ns_per_call(n, || by_serde(black_box(&event), Some(&args)).len());
    println!("PullResponse item ({} bytes), per event:", hand.len());
    println!("  hand-built encode_item  {hand_ns:7.1} ns");
    println!("  serde_json derive       {serde_ns:7.1} ns");
    println!("  serde / hand-built      {:7.2}x", serde_ns / hand_ns);
}
