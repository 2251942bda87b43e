//! Request bodies read with a bound: a body larger than the limit is refused as soon as its
//! `Content-Length` says so, or as soon as the bytes read pass it, never read whole first.

use futures_util::StreamExt;
use worker::Request;

use crate::protocol::rpc::{self, Unreadable};

fn too_large(n: impl std::fmt::Display, max_bytes: usize) -> Unreadable {
    Unreadable::TooLarge(format!(
        "Body is {n} bytes; the limit is {max_bytes} bytes (MAX_MESSAGE_BYTES)"
    ))
}

/// The refusal of a body whose `Content-Length` alone is over `max_bytes` (nothing is read).
pub fn declared_too_large(req: &Request, max_bytes: usize) -> Option<Unreadable> {
    let declared = req
        .headers()
        .get("Content-Length")
        .ok()
        .flatten()
        .and_then(|v| v.trim().parse::<u64>().ok())?;
    (declared > max_bytes as u64).then(|| too_large(declared, max_bytes))
}

/// The body of `req` as text, or why it is refused (too large, not UTF-8).
pub async fn read_text(req: &mut Request, max_bytes: usize) -> Result<String, Unreadable> {
    if let Some(refused) = declared_too_large(req, max_bytes) {
        return Err(refused);
    }
    let mut bytes = Vec::new();
    let mut over = false;
    if let Ok(mut stream) = req.stream() {
        while let Some(chunk) = stream.next().await {
            let Ok(chunk) = chunk else { break };
            if over || bytes.len() + chunk.len() > max_bytes {
                // read to the end without keeping it (memory stays bounded), so that the sender
                // gets the 413 instead of a broken connection
                over = true;
                bytes = Vec::new();
                continue;
            }
            bytes.extend_from_slice(&chunk);
        }
    }
    if over {
        return Err(too_large(format_args!("more than {max_bytes}"), max_bytes));
    }
    rpc::message_text(bytes, max_bytes)
}
