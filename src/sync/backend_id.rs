//! The backendId: a 21-character nanoid that names one incarnation of a store's event log
//! (PROTOCOL.md §7.1). Clients that hold events from another incarnation get
//! `BackendIdMismatchError` and reset instead of mixing histories.

const ALPHABET: &[u8; 64] = b"ModuleSymbhasOwnPr-0123456789ABCDEFGHNRVfgctiUvz_KqYTJkLxpZXIjQW";

/// Length of a nanoid.
pub const BACKEND_ID_LEN: usize = 21;

/// Builds a backendId from 21 random bytes (each byte's low 6 bits pick a character, which is
/// uniform because the alphabet has exactly 64 characters).
pub fn from_random_bytes(bytes: &[u8; BACKEND_ID_LEN]) -> String {
    bytes
        .iter()
        .map(|b| ALPHABET[(b & 63) as usize] as char)
        .collect()
}

/// A fresh backendId from the platform's cryptographic random source.
pub fn generate() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; BACKEND_ID_LEN];
    getrandom::fill(&mut bytes)?;
    Ok(from_random_bytes(&bytes))
}
