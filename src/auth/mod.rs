//! Authentication, as `validatePayload` would do it in `@livestore/sync-cf`, but configured
//! instead of coded: a JWT taken from the client's sync payload (or an `Authorization: Bearer`
//! header), verified with `jwt-compact`, then its claims checked against this store.
//!
//! The algorithm always comes from the configured key, never from the token header: a token
//! whose header names another algorithm fails (`alg: none`, or HS256 signed with a public key).

mod config;
mod keys;

pub use config::{parse_leeway, AuthConfig, AuthMode, AUTH_VARIABLES};
pub use keys::KeyError;

use jwt_compact::{Claims, UntrustedToken};
use serde_json::{Map, Value};

/// Header by which the Worker tells the Durable Object when the client's token expires (Unix
/// seconds). Set only by the Worker, which drops whatever a client sent under that name.
pub const EXPIRES_HEADER: &str = "x-livestore-auth-expires";

/// Header by which the Worker tells the Durable Object whom its rate limits count (the token's
/// subject, or the client's IP). Set only by the Worker, which drops a client's.
pub const RATE_KEY_HEADER: &str = "x-livestore-rate-key";

/// A token subject as rate limits key it: at most 128 bytes (a longer one is cut at a character
/// boundary), so that it fits a socket's attachment.
pub fn short_subject(sub: &str) -> &str {
    let mut end = sub.len().min(128);
    while !sub.is_char_boundary(end) {
        end -= 1;
    }
    &sub[..end]
}

/// WebSocket close code and reason for a socket whose token ran out: the client reconnects, and
/// must present a fresh token to be let in again.
pub const EXPIRED_CLOSE_CODE: u16 = 4001;
pub const EXPIRED_CLOSE_REASON: &str = "Token expired";

/// What a valid token allows, carried with the connection so it can be re-checked later.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Grant {
    /// Unix seconds after which (plus leeway) the connection must stop syncing.
    pub expires_at: Option<i64>,
    /// The token's `sub`, whom rate limits count.
    pub subject: Option<String>,
}

impl Grant {
    /// `true` once the grant has run out at `now` (Unix seconds), leeway included.
    pub fn expired(&self, now: i64, leeway: i64) -> bool {
        self.expires_at
            .is_some_and(|exp| now >= exp.saturating_add(leeway))
    }
}

/// Why a request is refused, and how to say it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthError {
    /// `401`: no token, or not a valid one.
    Unauthorized(String),
    /// `403`: a valid token that does not cover this store.
    Forbidden(String),
    /// `500`: the operator's configuration cannot work (reported, never a panic).
    Misconfigured(String),
}

impl AuthError {
    pub fn status(&self) -> u16 {
        match self {
            AuthError::Unauthorized(_) => 401,
            AuthError::Forbidden(_) => 403,
            AuthError::Misconfigured(_) => 500,
        }
    }

    pub fn message(&self) -> &str {
        match self {
            AuthError::Unauthorized(m) | AuthError::Forbidden(m) | AuthError::Misconfigured(m) => m,
        }
    }
}

/// The token: the payload field first (what the LiveStore docs show), then the header.
fn find_token<'a>(
    config: &AuthConfig,
    payload: Option<&'a Value>,
    authorization: Option<&'a str>,
) -> Option<&'a str> {
    let from_payload = payload
        .and_then(|p| p.get(&config.payload_field))
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|t| !t.is_empty());
    // an empty payload field does not hide a valid header
    from_payload.or_else(|| bearer(authorization?))
}

/// The token of an `Authorization: Bearer <token>` header (the scheme in any case).
pub fn bearer(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Checks a sync request for `store_id` at `now` (Unix seconds).
pub fn authorize(
    config: &AuthConfig,
    store_id: &str,
    payload: Option<&Value>,
    authorization: Option<&str>,
    now: i64,
) -> Result<Grant, AuthError> {
    let verifier = match &config.mode {
        AuthMode::None => return Ok(Grant::default()),
        AuthMode::Jwt(v) => v,
    };
    let verifier = verifier
        .as_ref()
        .map_err(|e| AuthError::Misconfigured(e.clone()))?;
    let token = find_token(config, payload, authorization).ok_or_else(|| {
        AuthError::Unauthorized(format!(
            "Missing token: send a JWT in the sync payload field `{}` or an Authorization: Bearer header",
            config.payload_field
        ))
    })?;
    let token = UntrustedToken::new(token)
        .map_err(|e| AuthError::Unauthorized(format!("Malformed token: {e}")))?;
    let claims: Claims<Map<String, Value>> = verifier.verify(&token)?;
    check_time(config, &claims, now)?;
    check_claims(config, &claims.custom, store_id)?;
    Ok(Grant {
        expires_at: claims.expiration.map(|t| t.timestamp()),
        subject: claims
            .custom
            .get("sub")
            .and_then(Value::as_str)
            .map(str::to_owned),
    })
}

fn check_time(
    config: &AuthConfig,
    claims: &Claims<Map<String, Value>>,
    now: i64,
) -> Result<(), AuthError> {
    let leeway = config.leeway_seconds;
    match claims.expiration {
        None if config.require_exp => {
            return Err(AuthError::Unauthorized(
                "Token has no expiry (exp claim)".into(),
            ))
        }
        Some(exp) if now >= exp.timestamp().saturating_add(leeway) => {
            return Err(AuthError::Unauthorized("Token expired".into()))
        }
        _ => {}
    }
    if let Some(nbf) = claims.not_before {
        if now < nbf.timestamp().saturating_sub(leeway) {
            return Err(AuthError::Unauthorized("Token not yet valid (nbf)".into()));
        }
    }
    Ok(())
}

fn check_claims(
    config: &AuthConfig,
    custom: &Map<String, Value>,
    store_id: &str,
) -> Result<(), AuthError> {
    if let Some(issuer) = &config.issuer {
        if custom.get("iss").and_then(Value::as_str) != Some(issuer.as_str()) {
            return Err(AuthError::Unauthorized(
                "Token issuer (iss) is not accepted".into(),
            ));
        }
    }
    if let Some(audience) = &config.audience {
        let ok = match custom.get("aud") {
            Some(Value::String(a)) => a == audience,
            Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(audience)),
            _ => false,
        };
        if !ok {
            return Err(AuthError::Unauthorized(
                "Token audience (aud) is not accepted".into(),
            ));
        }
    }
    if let Some(claim) = &config.store_claim {
        let patterns: Vec<&str> = match custom.get(claim) {
            Some(Value::String(s)) => vec![s.as_str()],
            Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if !patterns.iter().any(|p| store_matches(p, store_id)) {
            let hint = match patterns.iter().find(|p| is_undelimited_prefix(p)) {
                Some(p) => format!(
                    "; the entry {p:?} is not a prefix grant: a prefix grant ends in a delimiter \
                     (- _ / : .) followed by *, like \"team-42-*\""
                ),
                None => String::new(),
            };
            return Err(AuthError::Forbidden(format!(
                "Token does not allow store {store_id:?} (claim `{claim}`){hint}"
            )));
        }
    }
    Ok(())
}

/// Characters that may end the prefix of a prefix grant.
const PREFIX_DELIMITERS: [char; 5] = ['-', '_', '/', ':', '.'];

/// A store grant of the store claim: an exact storeId; a prefix grant, which ends in a delimiter
/// and `*` (`team-42-*` covers `team-42-todos`, but neither `team-42` nor `team-420`); or `*`
/// alone, every store. An entry like `team-4*` (no delimiter) grants nothing: a prefix must be
/// meant, not an accident of where a name happens to stop.
pub fn store_matches(pattern: &str, store_id: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    match pattern.strip_suffix('*') {
        Some(prefix) if prefix.ends_with(PREFIX_DELIMITERS) => {
            store_id.len() > prefix.len() && store_id.starts_with(prefix)
        }
        Some(_) => false,
        None => pattern == store_id,
    }
}

/// `team-4*`: looks like a prefix grant but is none (see [`store_matches`]).
fn is_undelimited_prefix(pattern: &str) -> bool {
    pattern
        .strip_suffix('*')
        .is_some_and(|prefix| !prefix.is_empty() && !prefix.ends_with(PREFIX_DELIMITERS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_grants_are_explicit() {
        assert!(store_matches("team-42-*", "team-42-todos"));
        assert!(!store_matches("team-42-*", "team-42-"));
        assert!(!store_matches("team-42-*", "team-420"));
        assert!(!store_matches("team-4*", "team-42"));
        assert!(!store_matches("team-4*", "team-4*x"));
        assert!(!store_matches("team-4*", "team-4*"));
        assert!(store_matches("org/a/*", "org/a/b"));
        assert!(store_matches("*", "anything"));
        assert!(store_matches("solo", "solo"));
        assert!(!store_matches("solo", "solo2"));
        assert!(is_undelimited_prefix("team-4*"));
        assert!(!is_undelimited_prefix("team-4-*"));
        assert!(!is_undelimited_prefix("*"));
    }

    #[test]
    fn an_empty_payload_token_does_not_hide_the_header() {
        let cfg = AuthConfig::from_lookup(|k| (k == "AUTH_MODE").then(|| "none".into()));
        let payload = serde_json::json!({"authToken": ""});
        assert_eq!(
            find_token(&cfg, Some(&payload), Some("Bearer abc")),
            Some("abc")
        );
        let payload = serde_json::json!({"authToken": "xyz"});
        assert_eq!(
            find_token(&cfg, Some(&payload), Some("Bearer abc")),
            Some("xyz")
        );
        assert_eq!(find_token(&cfg, None, Some("Basic abc")), None);
        assert_eq!(find_token(&cfg, None, Some("Bearer ")), None);
    }
}
