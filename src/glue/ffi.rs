//! The JavaScript APIs that workers-rs 0.8.7 does not bind, declared once. Delete this file when
//! workers-rs catches up.

use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;
use worker::web_sys;

#[wasm_bindgen]
extern "C" {
    /// `ctx`, seen through the one hibernation method workers-rs 0.8.7 does not bind.
    pub type HibernationState;

    /// When the runtime last answered a Ping of this socket with the auto-response, if ever.
    #[wasm_bindgen(method, js_name = getWebSocketAutoResponseTimestamp)]
    pub fn auto_response_timestamp(
        this: &HibernationState,
        ws: &web_sys::WebSocket,
    ) -> Option<js_sys::Date>;

    /// A socket, seen through a `send` that takes a JavaScript string: a broadcast converts its
    /// frame once for all sockets instead of once per socket.
    pub type StringSocket;

    #[wasm_bindgen(method, catch, js_name = send)]
    pub fn send_js_string(this: &StringSocket, data: &js_sys::JsString) -> Result<(), JsValue>;

    /// The client's Durable Object (`@livestore/adapter-cloudflare`), through its stub.
    pub type ClientObject;

    /// DO-RPC live updates: the client object's `syncUpdateRpc(payload)`.
    #[wasm_bindgen(method, catch, js_name = syncUpdateRpc)]
    pub fn sync_update_rpc(
        this: &ClientObject,
        payload: &JsValue,
    ) -> Result<js_sys::Promise, JsValue>;
}
