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
//! - [`api`] — the `@livestore/sync-cf/cf-worker` API (`makeWorker`, `makeDurableObject`) on
//!   this engine: its options, and when the app's hooks run.
//! - [`admin`] — the admin API: routes, the admin secret, store info, the NDJSON export/import
//!   format.
//! - [`config`] — Wrangler vars → a typed config; [`vars`] — the parsers and the error they share.
//! - [`hex`] — lowercase hex for SQL names and log ids.
//! - [`log`] — structured JSON log lines and `LOG_LEVEL`.
//! - [`metrics`] — Workers Analytics Engine data points (`METRICS_BINDING`).
//! - [`store_id`] — the one rule for a storeId, wherever it arrives.
//! - [`time`] — `createdAt` timestamps.
//! - [`transport`] — WebSocket, HTTP or DO-RPC: the one name of a transport everywhere.
//! - `glue` (wasm32 only) — the Worker entrypoint and the `SyncBackendDO` Durable Object: the only
//!   code that touches the Workers runtime.
//!
//! Everything but `glue` is plain Rust, tested natively with `cargo test`.

// The core is held to clippy's pedantic group (the glue is exempt below). What we decided against:
#![warn(clippy::pedantic)]
// pure functions and getters everywhere would carry it; the `Result`s that matter are must_use
// already
#![allow(clippy::must_use_candidate)]
// the error types are enums whose variants are documented where they are defined; an
// `# Errors` section on each function would repeat them
#![allow(clippy::missing_errors_doc)]
// `|rd| rd.read_data_u8()` says what is read more plainly than `rmp::decode::RmpRead::read_data_u8`
#![allow(clippy::redundant_closure_for_method_calls)]
// counts, sizes and durations become f64 only for Analytics Engine and log numbers; none comes
// near 2^52
#![allow(clippy::cast_precision_loss)]
// unit tests compare floats exactly and build fixtures with casts on purpose: they are held to the
// default lints (`cargo clippy --lib` checks the code they test against the pedantic ones)
#![cfg_attr(test, allow(clippy::pedantic))]

pub mod admin;
pub mod api;
pub mod auth;
pub mod config;
pub mod hex;
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

// Translation between workers-rs types and the core: its signatures are set by the runtime's
// bindings, which the pedantic lints (pass-by-value, casts of JS numbers) would fight.
#[cfg(target_arch = "wasm32")]
#[allow(clippy::pedantic)]
mod glue;
