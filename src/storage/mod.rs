//! Storage layout. Only the SQL text lives here; the Durable Object glue runs it.

pub mod schema;
