//! The benchmark's floor: a minimal Durable Object that, per WebSocket message, does exactly one
//! SQLite INSERT of one row (the message text) and one `send` of one reply, nothing else.
//!
//! The reply is an Effect RPC `Exit` frame for the message's request id that carries the message
//! back (`{"_tag":"Exit","requestId":"<id>","exit":{"_tag":"Success","value":<message>}}`), so the
//! benchmark's client drives it exactly like the sync server (same frames sent, one awaited
//! reply per push) and the reply is about the size of a push's ack plus the broadcast of its
//! event. Finding the id is a scan for the first `"id":"`, no JSON parsing.

use worker::{js_sys, *};

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let url = req.url()?;
    let store = url
        .query_pairs()
        .find(|(k, _)| k == "storeId")
        .map(|(_, v)| v.into_owned());
    match store {
        // `GET /` without a store: the readiness probe of the benchmark's server starter.
        None => Response::ok("floor"),
        Some(store) => {
            let namespace = env.durable_object("FLOOR_DO")?;
            let stub = namespace.id_from_name(&store)?.get_stub()?;
            stub.fetch_with_request(req).await
        }
    }
}

#[durable_object]
pub struct FloorDO {
    state: State,
}

/// The request id of an RPC frame: the string after the first `"id":"`.
fn request_id(text: &str) -> &str {
    const KEY: &str = "\"id\":\"";
    match text.find(KEY) {
        Some(at) => {
            let rest = &text[at + KEY.len()..];
            &rest[..rest.find('"').unwrap_or(0)]
        }
        None => "",
    }
}

impl DurableObject for FloorDO {
    fn new(state: State, _env: Env) -> Self {
        // Once per instance, never per message: a line that lets the benchmark see an eviction
        // (a new instance), and the table.
        console_log!(
            r#"{{"event":"bench.floor.instance","instance":"{:08x}","name":{:?}}}"#,
            (js_sys::Math::random() * f64::from(u32::MAX)) as u32,
            state.id().name().unwrap_or_default()
        );
        let _ = state.storage().sql().exec(
            "CREATE TABLE IF NOT EXISTS floor_log (seq INTEGER PRIMARY KEY, body TEXT NOT NULL)",
            None,
        );
        FloorDO { state }
    }

    async fn fetch(&self, _req: Request) -> Result<Response> {
        let pair = WebSocketPair::new()?;
        self.state.accept_web_socket(&pair.server);
        Response::from_websocket(pair.client)
    }

    async fn websocket_message(
        &self,
        ws: WebSocket,
        message: WebSocketIncomingMessage,
    ) -> Result<()> {
        let text = match message {
            WebSocketIncomingMessage::String(text) => text,
            WebSocketIncomingMessage::Binary(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        };
        self.state.storage().sql().exec(
            "INSERT INTO floor_log (body) VALUES (?)",
            vec![text.as_str().into()],
        )?;
        let reply = format!(
            r#"{{"_tag":"Exit","requestId":"{}","exit":{{"_tag":"Success","value":{}}}}}"#,
            request_id(&text),
            text
        );
        ws.send_with_str(reply)
    }

    async fn websocket_close(
        &self,
        ws: WebSocket,
        code: usize,
        _reason: String,
        _was_clean: bool,
    ) -> Result<()> {
        let code = if (1000..5000).contains(&code) && code != 1005 && code != 1006 {
            code as u16
        } else {
            1000
        };
        let _ = ws.close(Some(code), Some("closed"));
        Ok(())
    }

    async fn websocket_error(&self, _ws: WebSocket, _error: Error) -> Result<()> {
        Ok(())
    }
}
