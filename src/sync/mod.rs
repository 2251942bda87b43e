//! The sync rules, free of any Cloudflare API. A message's way through them:
//!
//! - [`connection`] — what the server remembers of a connection between messages.
//! - [`call`] — a request parsed into a typed call (parse, then apply).
//! - [`service`] — applies it to the [`Store`] ([`store`]): replies and broadcasts out.
//! - [`push`] — push admission; [`pull`] — pull pacing and packing into responses.
//! - [`output`] — what the glue must send or record.
//! - [`fanout`] — which sockets a broadcast reaches, and which Acks need nothing.
//! - [`open_pulls`] — DO-RPC pull streams still being read.
//! - [`activity`] — what a request did, for logs and metrics.
//! - [`attachment`] — the connection as a socket attachment (hibernation).
//! - [`closing`] — when the server closes a socket (token expiry, no request).
//! - [`backend_id`], [`limits`], [`subjects`] — the backendId, the bounds, stores per subject.

pub mod activity;
pub mod attachment;
pub mod backend_id;
pub mod call;
pub mod closing;
pub mod connection;
pub mod fanout;
pub mod limits;
pub mod open_pulls;
pub mod output;
pub mod pull;
pub mod push;
pub mod service;
pub mod store;
pub mod subjects;

pub use connection::Connection;
pub use limits::Limits;
pub use output::Output;
pub use store::Store;
