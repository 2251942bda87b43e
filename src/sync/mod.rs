//! The sync rules, free of any Cloudflare API: push admission, pull chunking, and the service
//! that turns one client message into replies and broadcasts over an abstract event log.

pub mod activity;
pub mod attachment;
pub mod backend_id;
pub mod closing;
pub mod limits;
pub mod pull;
pub mod push;
pub mod service;
pub mod subjects;

pub use limits::Limits;
