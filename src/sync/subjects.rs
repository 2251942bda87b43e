//! `MAX_STORES_PER_SUBJECT`: how many stores one token subject may open. Each subject has a
//! registry — a Durable Object of the sync namespace named [`registry_name`], which no storeId can
//! be (storeIds have no control characters) — that remembers the stores the subject opened.

/// The name of `subject`'s registry object in the sync namespace.
pub fn registry_name(subject: &str) -> String {
    format!("\u{0}subject:{subject}")
}

/// A subject that may open no more stores (answered `403` with this text).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("This token's subject has opened {opened} stores, the most allowed (MAX_STORES_PER_SUBJECT={max})")]
pub struct StoreLimitReached {
    pub opened: u64,
    pub max: u64,
}

/// Whether a subject that has opened `opened` stores (`known`: this one among them) may open this
/// one under `max`: `Ok(true)` to record it, `Ok(false)` when it is known already, or the refusal.
pub fn admit_store(known: bool, opened: u64, max: u64) -> Result<bool, StoreLimitReached> {
    if known {
        return Ok(false);
    }
    if opened >= max {
        return Err(StoreLimitReached { opened, max });
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subject_opens_at_most_max_stores_and_its_own_again() {
        assert_eq!(admit_store(false, 0, 2), Ok(true));
        assert_eq!(admit_store(false, 1, 2), Ok(true));
        assert!(admit_store(false, 2, 2)
            .unwrap_err()
            .to_string()
            .contains("MAX_STORES_PER_SUBJECT=2"));
        assert_eq!(
            admit_store(true, 2, 2),
            Ok(false),
            "a store it opened before"
        );
        assert!(
            crate::store_id::store_id_error(&registry_name("u")).is_some(),
            "never a storeId"
        );
    }
}
