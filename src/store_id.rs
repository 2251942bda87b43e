//! The one rule for a storeId, applied wherever one arrives (a sync URL, a DO-RPC payload, an
//! admin path): a store the sync routes accept is a store the admin API can reach, and no storeId
//! can overflow what is kept per socket.

/// Longest storeId accepted (UTF-8 bytes).
pub const MAX_STORE_ID_BYTES: usize = 1024;

/// Why `id` is not a storeId, if it is not: empty, longer than [`MAX_STORE_ID_BYTES`], or with
/// control characters (which no log line, table name or admin path could show faithfully).
pub fn store_id_error(id: &str) -> Option<String> {
    if id.is_empty() {
        return Some("The storeId is empty".to_owned());
    }
    if id.len() > MAX_STORE_ID_BYTES {
        return Some(format!(
            "The storeId is {} bytes; the longest allowed is {MAX_STORE_ID_BYTES}",
            id.len()
        ));
    }
    if id.chars().any(char::is_control) {
        return Some("The storeId contains control characters".to_owned());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_rule() {
        assert_eq!(store_id_error("todos-42_ü😀"), None);
        assert!(store_id_error("").unwrap().contains("empty"));
        assert!(store_id_error("a\u{0}b").unwrap().contains("control"));
        assert!(store_id_error("a\nb").is_some());
        assert_eq!(store_id_error(&"x".repeat(1024)), None);
        assert!(store_id_error(&"x".repeat(1025))
            .unwrap()
            .contains("1025 bytes"));
    }
}
