//! The API of `@livestore/sync-cf/cf-worker` 0.4.0 (`makeWorker`, `makeDurableObject`,
//! `handleSyncRequest`) on our engine: what of it Rust decides. The npm package's JavaScript
//! (`js/cf-worker.mjs`) holds only the app's callbacks and the Cloudflare class shapes; it hands
//! the options here as JSON and the callbacks as one bridge object (`glue/api.rs`).
//!
//! - [`options`] — the options of both functions: each one supported (most become the var it
//!   stands for) or refused with its reason, never ignored.
//! - [`hooks`] — which request calls which hook, with what message, and how a refusal reads.
//! - [`forwarded`] — `forwardHeaders`: the headers a socket keeps for its hooks, bounded.

pub mod forwarded;
pub mod hooks;
pub mod options;
