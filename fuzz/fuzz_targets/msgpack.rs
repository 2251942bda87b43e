//! The DO-RPC decoder: msgpackr MessagePack (records, `undefined`) to `Node`s and their JSON, and
//! the requests of a call, as `rpc(bytes)` reads them (src/glue/do_rpc.rs). Then, outside the
//! bound, the way back: JSON to `Node` to MessagePack, which must read again as the same JSON.
#![no_main]

use libfuzzer_sys::fuzz_target;
use livestore_sync_fuzz::{bounded, Bound};
use livestore_sync_rs::protocol::do_rpc;
use livestore_sync_rs::protocol::msgpack::{budget, decode_all, encode, Node};

/// Measured: see fuzz/README.md. The decoder's own budget is 8 × input + 1 MiB of JSON text
/// (asserted too); the tree and its JSON take a constant factor of that.
const BOUND: Bound = Bound {
    per_byte: 256,
    base: 16 << 20,
};

/// JSON -> Node -> MessagePack -> Node -> JSON.
fn round_trip(json: &str) -> Option<String> {
    let node = Node::from_json(json)
        .map_err(|e| assert!(e.to_string().contains("nested deeper"), "{e}: {json}"))
        .ok()?;
    let mut bytes = Vec::new();
    encode(&node, &mut bytes);
    let back = decode_all(&bytes).unwrap_or_else(|e| panic!("{e}: {json}"));
    assert_eq!(back.len(), 1);
    Some(back[0].to_json())
}

fuzz_target!(|data: &[u8]| {
    let mut texts = Vec::new();
    bounded("msgpack", data.len(), BOUND, || {
        if let Ok(values) = decode_all(data) {
            let mut json_len = 0;
            for value in &values {
                let json = value.to_json();
                json_len += json.len();
                if texts.len() < 4 && json.len() < 64 << 10 {
                    texts.push(json);
                }
            }
            // the decoder's budget bounds the JSON of what it returns, exactly
            assert!(json_len <= budget(data.len()), "{json_len} bytes of JSON");
        }
        if let Ok(requests) = do_rpc::requests(data) {
            for request in &requests {
                let _ = (request.to_json(), do_rpc::store_id(request));
            }
            let _ = do_rpc::is_single_pull(&requests);
        }
    });
    for json in texts {
        // the first trip normalises (JavaScript numbers: integers beyond 32 bits travel as
        // float64), the second changes nothing
        if let Some(once) = round_trip(&json) {
            assert_eq!(round_trip(&once).as_deref(), Some(once.as_str()), "{json}");
        }
    }
});
