//! The only code that knows about Cloudflare: it translates between the Workers runtime and the
//! pure core. Compiled for `wasm32` only.
//!
//! - [`worker_entry`] — the Worker: auth, CORS, routing to a store's object, the admin API's door.
//! - [`durable_object`] — `SyncBackendDO`: its state, its store, the runtime's entry points;
//!   [`sockets`], [`alarms`], [`http_rpc`], [`do_rpc`], [`store_admin`] and [`callbacks`] each
//!   serve one part of it.
//! - [`subject_registry`] — the per-subject store count (`MAX_STORES_PER_SUBJECT`).
//! - [`storage`] — the event log over the object's SQLite or D1.
//! - [`body`], [`env`], [`logging`] — request bodies, vars, log lines and data points.
//! - [`api`] — the bridge to the app's callbacks of the sync-cf API (`makeWorker`, …).
//! - [`ffi`] — the JavaScript APIs workers-rs 0.8.7 lacks.

mod alarms;
mod api;
mod body;
mod callbacks;
mod do_rpc;
mod durable_object;
mod env;
mod ffi;
mod http_rpc;
mod logging;
mod sockets;
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
