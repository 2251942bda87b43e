//! The Worker's HTTP surface, as plain data: which request is a sync request, and what the
//! Worker answers to the others (PROTOCOL.md §2).
//!
//! - [`answer`] — the status and body of an HTTP RPC answer.
//! - [`cors`] — CORS headers and preflights.
//! - [`query`] — the sync query (`storeId`, `transport`, the doubly encoded `payload`).
//! - [`routing`] — which route a request takes.
//! - [`transports`] — `TRANSPORTS`, which transports are served.

pub mod answer;
pub mod cors;
pub mod query;
pub mod routing;
pub mod transports;
