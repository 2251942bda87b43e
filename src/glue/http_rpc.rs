//! The HTTP transport inside the object: one RPC body per POST, answered with a JSON array. A
//! pull longer than one window streams the rest of its history into the same body
//! ([`crate::sync::pull::HttpHistory`]), page by page, after the handler returned.

use futures_util::{stream, StreamExt};
use worker::*;

use crate::api::hooks::{gate, refusal};
use crate::auth::{PushRights, RIGHTS_HEADER};
use crate::http::answer::http_answer;
use crate::log::Level;
use crate::protocol::rpc::{self, ClientMessage, Unreadable};
use crate::sync::pull::{HistoryStep, HttpHistory};
use crate::sync::{Connection, Output};
use crate::transport::Transport;

use super::durable_object::{now_iso, SyncBackendDO};
use super::json_response;

impl SyncBackendDO {
    pub(super) async fn serve_http(&self, store_id: &str, mut req: Request) -> Result<Response> {
        // the token's rights, per request (an HTTP client has no connection to keep them with)
        let rights = PushRights::from_header(req.headers().get(RIGHTS_HEADER)?.as_deref());
        let body = match super::body::read_text(&mut req, self.max_message_bytes()).await {
            Ok(body) => body,
            Err(e) => {
                let status = match e {
                    Unreadable::TooLarge(_) => 413,
                    Unreadable::NotUtf8(_) => 400,
                };
                return json_response(status, &format!("[{}]", rpc::defect_frame(e.reason())));
            }
        };
        match self.http_gate(store_id, &req, &body, &rights).await {
            Ok(None) => {}
            Ok(Some(refused)) => return self.http_response(200, &format!("[{refused}]")),
            Err(reason) => return Response::error(reason, 500),
        }
        let mut replies = Vec::new();
        let outcome = self
            .with_store(store_id, async |store| {
                let mut conn = Connection {
                    rights: rights.clone(),
                    ..Connection::default()
                };
                let mut out = |o| {
                    // only DO-RPC pulls subscribe
                    if let Some(Output::Reply(frame)) = self.dispatch(store_id, Transport::Http, o)
                    {
                        replies.push(frame);
                    }
                };
                store
                    .handle_message(Transport::Http, &mut conn, &body, &now_iso, &mut out)
                    .await;
                HttpHistory::take(store, &mut conn).map(|h| (h, store.log.pages()))
            })
            .await;
        let rest = match outcome {
            Ok(rest) => rest,
            Err(e) => return Response::error(self.failure_message(store_id, &e), 500),
        };
        let Some((history, pages)) = rest else {
            let (status, body) = http_answer(&replies);
            return self.http_response(status, &body);
        };
        // A pull longer than one window: the rest of its history is read page by page as the
        // body is sent, after this handler returned (the log below the pull's head never changes
        // but by a reset, which only makes it end early).
        let first = format!("[{}", replies.join(","));
        let log = self.log.clone();
        let store = store_id.to_owned();
        let pages = std::rc::Rc::new(pages);
        // onPullRes sees these chunks too, as it sees the first window's
        let api = std::rc::Rc::new(self.api.clone());
        let rest = stream::unfold(Some(history), move |state| {
            let pages = pages.clone();
            let log = log.clone();
            let store = store.clone();
            let api = api.clone();
            async move {
                let mut history = state?;
                let piece = match history.next_step() {
                    HistoryStep::Read {
                        after,
                        until,
                        limit,
                    } => match pages.read(after, until, limit).await {
                        Ok(rows) => {
                            let frame = history.feed(&rows);
                            if let Some(api) = api.as_ref() {
                                api.notice(&Output::Reply(frame.clone()), &log, &store);
                            }
                            format!(",{frame}")
                        }
                        Err(e) => {
                            // the body has started: end it short; the client pulls again
                            log.write(
                                log.line(Level::Error, "storage.error", &store)
                                    .str("error", e.detail()),
                            );
                            return None;
                        }
                    },
                    HistoryStep::Frame(frame) => format!(",{frame}"),
                    HistoryStep::Done => return Some((Ok::<Vec<u8>, Error>(b"]".to_vec()), None)),
                };
                Some((Ok(piece.into_bytes()), Some(history)))
            }
        });
        let body =
            stream::once(async move { Ok::<Vec<u8>, Error>(first.into_bytes()) }).chain(rest);
        let headers = Headers::new();
        headers.set("Content-Type", "application/json")?;
        self.response_headers(&headers)?;
        Ok(Response::from_stream(body)?.with_headers(headers))
    }

    /// The app's onPush/onPull for an HTTP request (with the headers it forwards, taken from
    /// this request): the refusal frame, when the hook refused; `Err` when the headers could not
    /// be taken.
    async fn http_gate(
        &self,
        store_id: &str,
        req: &Request,
        body: &str,
        rights: &PushRights,
    ) -> std::result::Result<Option<String>, String> {
        let Some(api) = &self.api else {
            return Ok(None);
        };
        let Ok(ClientMessage::Request(request)) = ClientMessage::decode(body) else {
            return Ok(None);
        };
        let Some(gated) = gate(Transport::Http, &request, api.options.hooks, rights) else {
            return Ok(None);
        };
        // a forwardHeaders function that throws: the request fails with its reason (500)
        let headers = api.forwarded(req)?;
        Ok(api
            .pass(&gated, store_id, headers.as_ref())
            .await
            .map(|e| refusal(&gated.id, &e)))
    }

    /// `http.responseHeaders` of the sync-cf API (`HTTP_RESPONSE_HEADERS`), on every HTTP RPC
    /// answer of the object.
    fn response_headers(&self, headers: &Headers) -> Result<()> {
        if let Ok(config) = &self.config {
            for (name, value) in &config.extra_headers {
                headers.set(name, value)?;
            }
        }
        Ok(())
    }

    fn http_response(&self, status: u16, body: &str) -> Result<Response> {
        let response = json_response(status, body)?;
        self.response_headers(response.headers())?;
        Ok(response)
    }
}
