//! The wire: the Effect RPC envelope ([`rpc`]) and the sync messages it carries ([`messages`]).
//! Plain data and string building; no I/O.

pub mod do_rpc;
pub mod messages;
pub mod msgpack;
pub mod rpc;
