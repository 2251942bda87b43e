//! The DO-RPC codec against the bytes the published 0.4.0 client and server exchanged
//! (`tests/do-rpc/captures/ref-0.4.0.jsonl`, recorded by `tests/do-rpc/capture.mjs`): every
//! request, answer and stream piece decodes to what msgpackr decoded, and every answer the
//! reference wrote is written again byte for byte by our encoder.

use livestore_sync_rs::protocol::do_rpc;
use livestore_sync_rs::protocol::msgpack::{decode_all, encode, Node};
use serde_json::Value;

const CAPTURE: &str = include_str!("do-rpc/captures/ref-0.4.0.jsonl");

fn bytes(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
        .collect()
}

/// The capture's JSON view of a decoded value: `undefined` is `{"$undefined": true}`.
fn as_capture_json(node: &Node) -> Value {
    match node {
        Node::Undefined => serde_json::json!({"$undefined": true}),
        Node::Array(items) => Value::Array(items.iter().map(as_capture_json).collect()),
        Node::Object(entries) => Value::Object(
            entries
                .iter()
                .map(|(k, v)| (k.clone(), as_capture_json(v)))
                .collect(),
        ),
        other => serde_json::from_str(&other.to_json()).expect("json"),
    }
}

struct Record {
    event: String,
    scenario: String,
    hex: String,
    decoded: Value,
}

fn records() -> Vec<Record> {
    CAPTURE
        .lines()
        .filter_map(|line| {
            let v: Value = serde_json::from_str(line).expect("capture line is JSON");
            Some(Record {
                event: v["event"].as_str()?.to_owned(),
                scenario: v["scenario"].as_str().unwrap_or_default().to_owned(),
                hex: v["hex"].as_str()?.to_owned(),
                decoded: v["decoded"].clone(),
            })
        })
        .collect()
}

#[test]
fn every_captured_message_decodes_as_msgpackr_decoded_it() {
    let records = records();
    assert!(records.len() >= 50, "only {} messages", records.len());
    for r in &records {
        let values = decode_all(&bytes(&r.hex))
            .unwrap_or_else(|e| panic!("{} ({}): {e}", r.event, r.scenario));
        let ours: Value = Value::Array(values.iter().map(as_capture_json).collect());
        assert_eq!(ours, r.decoded, "{} in {:?}", r.event, r.scenario);
    }
}

#[test]
fn every_answer_of_the_reference_is_written_again_byte_for_byte() {
    let mut checked = 0;
    for r in records().iter().filter(|r| r.event != "rpc.request") {
        let original = bytes(&r.hex);
        let mut ours = Vec::new();
        for value in decode_all(&original).expect("decodes") {
            encode(&value, &mut ours);
        }
        assert_eq!(ours, original, "{} in {:?}: {}", r.event, r.scenario, r.hex);
        checked += 1;
    }
    assert!(checked >= 30, "only {checked} answers");
}

#[test]
fn every_request_of_the_real_client_is_found() {
    for r in records().iter().filter(|r| r.event == "rpc.request") {
        let requests = do_rpc::requests(&bytes(&r.hex)).expect("decodes");
        let sent = r.decoded[0]
            .as_array()
            .map_or(0, |a| a.iter().filter(|m| m["_tag"] == "Request").count());
        assert_eq!(requests.len(), sent, "{:?}", r.scenario);
        for request in &requests {
            if r.scenario.contains("not a request") {
                continue;
            }
            // every request names its store, pings included: the object refuses a call whose
            // first request does not
            assert!(
                do_rpc::store_id(request).is_some(),
                "{:?}: no storeId in {}",
                r.scenario,
                request.to_json()
            );
        }
    }
}
