//! The only code that knows about Cloudflare: it translates between the Workers runtime and the
//! pure core. Compiled for `wasm32` only.

mod body;
mod callbacks;
mod do_rpc;
mod durable_object;
mod env;
mod logging;
mod storage;
mod store_admin;
mod subject_registry;
mod worker_entry;

use worker::{Headers, Response, Result};

/// A JSON answer with its status: the Worker's and the object's refusals and admin answers.
fn json_response(status: u16, body: &str) -> Result<Response> {
    let headers = Headers::new();
    headers.set("Content-Type", "application/json")?;
    Ok(Response::ok(body)?
        .with_status(status)
        .with_headers(headers))
}
