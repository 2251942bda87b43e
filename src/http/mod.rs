//! The Worker's HTTP surface, as plain data: which request is a sync request, and what the
//! Worker answers to the others (PROTOCOL.md §2).

pub mod cors;
pub mod query;
pub mod routing;
pub mod transports;
