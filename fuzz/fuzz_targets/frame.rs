//! A WebSocket text frame or HTTP body as the sync service reads it (src/sync/call.rs, src/sync/service.rs): the
//! Effect RPC envelope, then the payload of a Pull, Push or Ping, then what is echoed back (the
//! request id in an answer, each pushed event as it would be stored and sent again).
#![no_main]

use libfuzzer_sys::fuzz_target;
use livestore_sync_fuzz::{bounded, Bound};
use livestore_sync_rs::protocol::do_rpc;
use livestore_sync_rs::protocol::messages::{
    decode_payload, encode_pull_response, EventView, PageInfo, PingRequest, PullRequest,
    PushRequest,
};
use livestore_sync_rs::protocol::rpc::{self, ClientMessage, RequestId};
use livestore_sync_rs::sync::limits::Limits;
use livestore_sync_rs::sync::push::args_depth_error;

/// Measured: at most ~6 bytes of heap per input byte (the text, the decoded batch and the
/// re-encoded events), 4 KiB for the smallest inputs: see fuzz/README.md.
const BOUND: Bound = Bound {
    per_byte: 16,
    base: 16 << 10,
};

/// JSON as `JSON.parse` reads it: syntax only (serde_json's `Value` refuses lone surrogate
/// escapes such as `"\udabd"`, which are valid JSON, and which a client may push in `args`).
fn is_json(text: &str) -> bool {
    serde_json::from_str::<&serde_json::value::RawValue>(text).is_ok()
}

fuzz_target!(|data: &[u8]| {
    bounded("frame", data.len(), BOUND, || {
        let Ok(text) = rpc::message_text(data.to_vec(), 4 << 20) else {
            return;
        };
        match ClientMessage::decode(&text) {
            Ok(ClientMessage::Request(request)) => {
                let tag = request.tag.as_ref();
                let id = &request.id;
                if let Ok(pull) = decode_payload::<PullRequest>(tag, request.payload) {
                    let _ = (
                        pull.store_id.len(),
                        pull.cursor,
                        pull.live,
                        pull.rpc_context,
                    );
                }
                match decode_payload::<PushRequest>(tag, request.payload) {
                    Ok(push) => {
                        let limits = Limits::default();
                        for event in &push.batch {
                            let refused = args_depth_error(event.args_text(), &limits).is_some();
                            let item =
                                EventView::of(event, "2026-12-02T10:00:00.000Z").encode_item();
                            assert!(is_json(&item), "{item}");
                            if !refused {
                                // an event a push admits can be pulled on every transport,
                                // DO-RPC (MessagePack, from the JSON) included
                                let response = encode_pull_response(&[item], PageInfo::NoMore, "b");
                                let frame = rpc::chunk_frame(id, &response);
                                let mut out = Vec::new();
                                do_rpc::write_stream_piece(&[frame], &mut out)
                                    .unwrap_or_else(|e| panic!("{e}"));
                            }
                        }
                        let _ = rpc::exit_success(id, "{}");
                    }
                    Err(e) => {
                        let die = rpc::exit_die(id, &e.to_string());
                        assert!(is_json(&die), "{die}");
                    }
                }
                let _ = decode_payload::<PingRequest>(tag, request.payload);
            }
            Ok(ClientMessage::Ack(id) | ClientMessage::Interrupt(id)) => {
                // ids are kept in socket attachments as JSON and read back
                let kept = serde_json::to_string(&id).expect("an id serialises");
                assert_eq!(RequestId::from_json_text(&kept).as_ref(), Some(&id));
                let frame = rpc::exit_interrupted(&id);
                assert!(is_json(&frame), "{frame}");
            }
            Ok(ClientMessage::Ping | ClientMessage::Eof) => {}
            Err(e) => {
                let frame = rpc::defect_frame(&e.to_string());
                assert!(is_json(&frame), "{frame}");
            }
        }
    });
});
