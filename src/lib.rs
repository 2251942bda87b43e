//! # livestore-sync-rs
//!
//! A LiveStore sync backend for Cloudflare Workers and Durable Objects, wire-compatible with the
//! published `@livestore/sync-cf@0.4.0` client and storage-compatible with its server.
//!
//! A tour, from the wire inwards:
//!
//! - [`http`] — what the Worker makes of a request: sync query parsing (the doubly encoded
//!   payload), routing decisions, CORS headers.
//! - [`protocol`] — the Effect RPC envelope ([`protocol::rpc`]) and the sync payloads and results
//!   ([`protocol::messages`]): decoding client frames, encoding server frames.
//! - [`sync`] — the rules: a request parsed into a call ([`sync::call`]), push admission
//!   ([`sync::push`]), pull pacing and chunking ([`sync::pull`]), broadcast fan-out
//!   ([`sync::fanout`]), and [`sync::service`], which turns one client message into replies and
//!   broadcasts over an abstract [`storage::EventLog`].
//! - [`storage`] — the [`storage::EventLog`] interface, and the reference's SQLite tables as SQL
//!   text.
//! - [`auth`] — who may sync: the JWT checks of `AUTH_MODE=jwt`, and what a token may push.
//! - [`admin`] — the admin API: routes, the admin secret, store info, the NDJSON export/import
//!   format.
//! - [`config`] — Wrangler vars → a typed config; [`vars`] — the parsers and the error they share.
//! - [`log`] — structured JSON log lines and `LOG_LEVEL`.
//! - [`metrics`] — Workers Analytics Engine data points (`METRICS_BINDING`).
//! - [`store_id`] — the one rule for a storeId, wherever it arrives.
//! - [`time`] — `createdAt` timestamps.
//! - [`transport`] — WebSocket, HTTP or DO-RPC: the one name of a transport everywhere.
//! - `glue` (wasm32 only) — the Worker entrypoint and the `SyncBackendDO` Durable Object: the only
//!   code that touches the Workers runtime.
//!
//! Everything but `glue` is plain Rust, tested natively with `cargo test`.

pub mod admin;
pub mod auth;
pub mod config;
pub mod http;
pub mod log;
pub mod metrics;
pub mod protocol;
pub mod storage;
pub mod store_id;
pub mod sync;
pub mod time;
pub mod transport;
pub mod vars;

#[cfg(target_arch = "wasm32")]
mod glue;
