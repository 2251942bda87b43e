//! DO-RPC: a LiveStore store running in another Durable Object calls `rpc(bytes)` on this one
//! (docs/do-rpc.md). The JS entry (`js/entry.mjs`) exposes these methods to JS RPC, because
//! Cloudflare only offers RPC on a class that extends `DurableObject`, which worker-build's
//! export is not.
//!
//! A single Pull answers a stream that is read at the caller's pace: each piece is what one
//! window of the pull sends ([`crate::sync::pull::PULL_WINDOW`] responses), the next piece is
//! made when the caller reads (`rpcPullNext`), like the Acks pace a WebSocket pull. A pull whose
//! caller stops reading is kept until [`MAX_OPEN_PULLS`] newer ones push it out.

use crate::api::hooks::{gate, refusal};
use crate::auth::PushRights;
use crate::protocol::rpc::ClientMessage;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;

use crate::log::Level;
use crate::protocol::do_rpc;
use crate::store_id::store_id_error;
use crate::sync::open_pulls::MAX_OPEN_PULLS;
use crate::sync::output::RpcSubscription;
use crate::sync::{Connection, Output};
use crate::transport::Transport;

use super::durable_object::{now_iso, SyncBackendDO};

/// What one step of handling produced for the caller.
#[derive(Default)]
struct Step {
    frames: Vec<String>,
    subscriptions: Vec<RpcSubscription>,
}

#[wasm_bindgen(wasm_bindgen_futures = worker::wasm_bindgen_futures)]
impl SyncBackendDO {
    /// The DO-RPC entry point: `payload` is msgpackr `[Request]`. Answers a `Uint8Array`
    /// (`[Exit, …]`), or for a single Pull `[piece, handle]`: the stream's first bytes, and the
    /// handle to read the rest with, `undefined` when there is no more.
    #[wasm_bindgen(js_name = rpc)]
    pub async fn rpc(&self, payload: js_sys::Uint8Array) -> Result<JsValue, JsValue> {
        self.serve_rpc(payload.to_vec())
            .await
            .map_err(|e| js_sys::Error::new(&e).into())
    }

    /// The next piece of a pulled stream: `[piece, handle]` as [`Self::rpc`] answers it.
    #[wasm_bindgen(js_name = rpcPullNext)]
    pub async fn rpc_pull_next(&self, handle: u32) -> Result<JsValue, JsValue> {
        self.continue_pull(handle)
            .await
            .map_err(|e| js_sys::Error::new(&e).into())
    }

    /// The caller stopped reading the stream.
    #[wasm_bindgen(js_name = rpcPullCancel)]
    pub fn rpc_pull_cancel(&self, handle: u32) {
        self.open_pulls.borrow_mut().take(handle);
    }
}

impl SyncBackendDO {
    async fn serve_rpc(&self, bytes: Vec<u8>) -> Result<JsValue, String> {
        if let Some(reason) = self.transport_refusal(Transport::DoRpc) {
            return Err(reason);
        }
        let limit = self.max_message_bytes();
        if bytes.len() > limit {
            return Err(format!(
                "Message is {} bytes; the limit is {limit} bytes",
                bytes.len()
            ));
        }
        let requests = do_rpc::requests(&bytes).map_err(|e| e.to_string())?;
        let Some(first) = requests.first() else {
            // nothing to answer: an empty list, as the reference answers
            return Ok(bytes_value(&[0x90]));
        };
        let store_id = do_rpc::store_id(first)
            .ok_or("A DO-RPC request without payload.storeId")?
            .to_owned();
        if let Some(other) = requests
            .iter()
            .find(|r| do_rpc::store_id(r) != Some(store_id.as_str()))
        {
            return Err(format!(
                "One DO-RPC call for two stores: {store_id:?} and {:?}",
                do_rpc::store_id(other).unwrap_or("")
            ));
        }
        if let Some(reason) = store_id_error(&store_id) {
            return Err(reason);
        }
        let single_pull = do_rpc::is_single_pull(&requests);
        let texts: Vec<String> = requests.iter().map(|r| r.to_json()).collect();
        // the app's onPush/onPull (DO-RPC forwards no headers), before the call takes its turn
        let mut refusals: Vec<Option<String>> = vec![None; texts.len()];
        if let Some(api) = &self.api {
            for (text, refused) in texts.iter().zip(refusals.iter_mut()) {
                let Ok(ClientMessage::Request(request)) = ClientMessage::decode(text) else {
                    continue;
                };
                if let Some(gated) = gate(
                    Transport::DoRpc,
                    &request,
                    api.options.hooks,
                    &PushRights::default(),
                ) {
                    if let Some(e) = api.pass(&gated, &store_id, None).await {
                        *refused = Some(refusal(&gated.id, &e));
                    }
                }
            }
        }
        let mut conn = Connection::default();
        let mut step = Step::default();
        {
            let mut slot = self.store.lock().await;
            let store = self
                .opened(&mut slot, &store_id)
                .await
                .map_err(|e| self.failure_message(&store_id, &e))?;
            for (text, refused) in texts.iter().zip(refusals) {
                if let Some(frame) = refused {
                    step.frames.push(frame);
                    continue;
                }
                let mut out = |o| self.take_output(&store_id, &mut step, o);
                store
                    .handle_message(Transport::DoRpc, &mut conn, text, &now_iso, &mut out)
                    .await;
            }
            if !single_pull {
                // not a stream: every pull of the call is answered whole
                while !conn.pending_pulls.is_empty() {
                    let mut out = |o| self.take_output(&store_id, &mut step, o);
                    store.continue_pulls(&mut conn, &mut out).await;
                }
            }
            self.end_turn(&store_id, &mut step).await;
        }
        let mut answer = Vec::new();
        if !single_pull {
            do_rpc::write_answer(&step.frames, &mut answer).map_err(|e| e.to_string())?;
            return Ok(bytes_value(&answer));
        }
        do_rpc::write_stream_piece(&step.frames, &mut answer).map_err(|e| e.to_string())?;
        let handle = (!conn.pending_pulls.is_empty()).then(|| self.park(store_id, conn));
        Ok(piece(&answer, handle))
    }

    async fn continue_pull(&self, handle: u32) -> Result<JsValue, String> {
        let parked = self.open_pulls.borrow_mut().take(handle);
        let Some((store_id, mut conn)) = parked else {
            return Err(format!(
                "No open pull {handle} (cancelled, or pushed out by newer ones)"
            ));
        };
        let mut step = Step::default();
        {
            let mut slot = self.store.lock().await;
            let store = self
                .opened(&mut slot, &store_id)
                .await
                .map_err(|e| self.failure_message(&store_id, &e))?;
            let mut out = |o| self.take_output(&store_id, &mut step, o);
            store.continue_pulls(&mut conn, &mut out).await;
            self.end_turn(&store_id, &mut step).await;
        }
        let mut answer = Vec::new();
        do_rpc::write_stream_piece(&step.frames, &mut answer).map_err(|e| e.to_string())?;
        let handle = (!conn.pending_pulls.is_empty()).then(|| self.park(store_id, conn));
        Ok(piece(&answer, handle))
    }

    fn take_output(&self, store_id: &str, step: &mut Step, output: Output) {
        match self.dispatch(store_id, Transport::DoRpc, output) {
            Some(Output::Reply(frame)) => step.frames.push(frame),
            Some(Output::Subscribe(s)) => step.subscriptions.push(s),
            _ => {}
        }
    }

    /// Still inside the turn: record the subscribers of pulls that ended, and call back the
    /// subscribers with what this turn's pushes broadcast.
    async fn end_turn(&self, store_id: &str, step: &mut Step) {
        for subscription in step.subscriptions.drain(..) {
            self.callbacks.subscribe(store_id, subscription, now_iso());
        }
        self.callbacks.deliver(store_id).await;
    }

    fn park(&self, store_id: String, conn: Connection) -> u32 {
        let (handle, dropped) = self.open_pulls.borrow_mut().park(store_id, conn);
        if let Some(store_id) = dropped {
            self.log.write(
                self.log
                    .line(Level::Warn, "rpc.pull_abandoned", &store_id)
                    .int("open", MAX_OPEN_PULLS as i64),
            );
        }
        handle
    }
}

fn bytes_value(bytes: &[u8]) -> JsValue {
    js_sys::Uint8Array::from(bytes).into()
}

/// `[piece, handle]`, the handle `undefined` when the stream ends with this piece.
fn piece(bytes: &[u8], handle: Option<u32>) -> JsValue {
    let handle = handle.map_or(JsValue::UNDEFINED, JsValue::from);
    js_sys::Array::of2(&bytes_value(bytes), &handle).into()
}
