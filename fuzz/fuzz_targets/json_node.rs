//! The DO-RPC encoder's JSON side: `Node::from_json` on arbitrary text (every frame a DO-RPC
//! client is sent goes through it, stored args included), checked against serde_json: what
//! serde_json reads, it reads the same (numbers correctly rounded, so within an ulp of
//! serde_json's); what only it reads is what serde_json refuses on purpose (depth, a number out
//! of range, a lone surrogate). Then `encode` + `decode_all`, which must give the same JSON.
#![no_main]

use libfuzzer_sys::fuzz_target;
use livestore_sync_fuzz::{bounded, Bound};
use livestore_sync_rs::protocol::msgpack::{decode_all, encode, Node, MAX_DEPTH};
use serde_json::Value;

/// Measured: see fuzz/README.md (the tree of tiny values, the stack of open arrays).
const BOUND: Bound = Bound {
    per_byte: 256,
    base: 16 << 10,
};

fn same(ours: &Node, theirs: &Value) -> bool {
    match (ours, theirs) {
        (Node::Null, Value::Null) => true,
        (Node::Bool(a), Value::Bool(b)) => a == b,
        (Node::Int(a), Value::Number(b)) if b.is_i64() => Some(*a) == b.as_i64(),
        (Node::Int(a), Value::Number(b)) => close(*a as f64, b.as_f64()),
        (Node::Float(a), Value::Number(b)) => close(*a, b.as_f64()),
        (Node::Str(a), Value::String(b)) => a == b,
        (Node::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(x, y))
        }
        (Node::Object(a), Value::Object(b)) => {
            a.len() == b.len() && a.iter().all(|(k, v)| b.get(k).is_some_and(|w| same(v, w)))
        }
        _ => false,
    }
}

/// serde_json's float parsing (without its `float_roundtrip` feature) may be an ulp off.
fn close(a: f64, b: Option<f64>) -> bool {
    b.is_some_and(|b| a == b || (a - b).abs() <= a.abs().max(b.abs()) * 4.0 * f64::EPSILON)
}

fn depth(node: &Node) -> usize {
    let mut max = 0;
    let mut pending = vec![(node, 0)];
    while let Some((n, d)) = pending.pop() {
        max = max.max(d);
        match n {
            Node::Array(items) => pending.extend(items.iter().map(|i| (i, d + 1))),
            Node::Object(entries) => pending.extend(entries.iter().map(|(_, v)| (v, d + 1))),
            _ => {}
        }
    }
    max
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut parsed = None;
    bounded("json_node", data.len(), BOUND, || {
        parsed = Some(Node::from_json(text));
    });
    let ours = parsed.expect("ran");
    match (ours, serde_json::from_str::<Value>(text)) {
        (Ok(node), Ok(value)) => assert!(same(&node, &value), "{text:?}: {node:?} / {value:?}"),
        (Err(e), Ok(_)) => panic!("only serde_json reads {text:?} ({e})"),
        (Ok(_), Err(e)) => {
            let why = e.to_string();
            assert!(
                [
                    "recursion limit",
                    "number out of range",
                    "surrogate",
                    "invalid unicode code point",
                    "hex escape"
                ]
                .iter()
                .any(|w| why.contains(w)),
                "only from_json reads {text:?} (serde_json: {why})"
            );
        }
        (Err(_), Err(_)) => {}
    }
    if let Ok(node) = Node::from_json(text) {
        let mut bytes = Vec::new();
        encode(&node, &mut bytes);
        if depth(&node) < MAX_DEPTH {
            let back = decode_all(&bytes).unwrap_or_else(|e| panic!("{e}: {text:?}"));
            assert_eq!(back.len(), 1);
            // one trip normalises numbers (JavaScript's: integers beyond 32 bits as float64)
            let once = back[0].to_json();
            let again = Node::from_json(&once).unwrap_or_else(|e| panic!("{e}: {once}"));
            let mut bytes = Vec::new();
            encode(&again, &mut bytes);
            let twice = decode_all(&bytes).expect("decodes")[0].to_json();
            assert_eq!(once, twice, "{text:?}");
        }
        // a deep tree is dismantled without recursion
        let mut pending = vec![node];
        while let Some(n) = pending.pop() {
            match n {
                Node::Array(items) => pending.extend(items),
                Node::Object(entries) => pending.extend(entries.into_iter().map(|(_, v)| v)),
                _ => {}
            }
        }
    }
});
