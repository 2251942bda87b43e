//! The only code that knows about Cloudflare: it translates between the Workers runtime and the
//! pure core. Compiled for `wasm32` only.

mod callbacks;
mod do_rpc;
mod durable_object;
mod env;
mod logging;
mod storage;
mod store_admin;
mod worker_entry;
