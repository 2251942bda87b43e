//! What a verified token's claims allow: its time window, issuer and audience, the stores it
//! opens (exact storeIds and prefix grants), and what it may push there.

use jwt_compact::Claims;
use serde_json::{Map, Value};

use super::rights::{self, PushRights};
use super::{AuthConfig, AuthError};

pub(super) fn check_time(
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

/// Checks issuer, audience and store; returns what the token may push there.
pub(super) fn check_claims(
    config: &AuthConfig,
    custom: &Map<String, Value>,
    store_id: &str,
) -> Result<PushRights, AuthError> {
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
    let read_only = read_only_grant(config, custom)?;
    // a store the read-only claim lists is opened by it; `true` opens nothing on its own
    let listed_read_only = match &read_only {
        ReadOnly::Stores(patterns) => patterns.iter().any(|p| store_matches(p, store_id)),
        ReadOnly::No | ReadOnly::Everywhere => false,
    };
    let read_only_here = listed_read_only || matches!(read_only, ReadOnly::Everywhere);
    if let Some(claim) = &config.store_claim {
        let patterns: Vec<&str> = match custom.get(claim) {
            Some(Value::String(s)) => vec![s.as_str()],
            Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if !listed_read_only && !patterns.iter().any(|p| store_matches(p, store_id)) {
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
    Ok(PushRights {
        read_only: read_only_here,
        events: event_rule(config, custom)?,
    })
}

/// What the read-only claim says.
enum ReadOnly<'a> {
    No,
    /// `true`: read-only in every store the token opens.
    Everywhere,
    /// storeIds and prefix grants (as in the store claim) the token may read, and only read;
    /// they are opened by this claim alone.
    Stores(Vec<&'a str>),
}

fn read_only_grant<'a>(
    config: &AuthConfig,
    custom: &'a Map<String, Value>,
) -> Result<ReadOnly<'a>, AuthError> {
    let Some(claim) = &config.readonly_claim else {
        return Ok(ReadOnly::No);
    };
    match custom.get(claim) {
        None | Some(Value::Null | Value::Bool(false)) => Ok(ReadOnly::No),
        Some(Value::Bool(true)) => Ok(ReadOnly::Everywhere),
        value => string_list(value).map(ReadOnly::Stores).ok_or_else(|| {
            AuthError::Unauthorized(format!(
                "Token claim `{claim}` (JWT_READONLY_CLAIM) must be true, false, a storeId or a list of storeIds"
            ))
        }),
    }
}

/// The event rule of the events claim: `None` when the claim is absent (no rule).
fn event_rule(
    config: &AuthConfig,
    custom: &Map<String, Value>,
) -> Result<Option<Vec<String>>, AuthError> {
    let Some(claim) = &config.events_claim else {
        return Ok(None);
    };
    let value = match custom.get(claim) {
        None | Some(Value::Null) => return Ok(None),
        value => value,
    };
    let list = string_list(value).ok_or_else(|| {
        AuthError::Unauthorized(format!(
            "Token claim `{claim}` (JWT_EVENTS_CLAIM) must be an event name or a list of event names"
        ))
    })?;
    let list: Vec<String> = list.into_iter().map(str::to_owned).collect();
    let bytes = serde_json::to_string(&list).map_or(usize::MAX, |s| s.len());
    if bytes > rights::MAX_RIGHTS_JSON_BYTES {
        return Err(AuthError::Unauthorized(format!(
            "Token claim `{claim}` (JWT_EVENTS_CLAIM) takes {bytes} bytes; at most {} are allowed \
             (use prefixes like \"todo*\")",
            rights::MAX_RIGHTS_JSON_BYTES
        )));
    }
    Ok(Some(list))
}

/// A claim holding one string or a list of strings (`None`: anything else; a list with a
/// non-string entry too, so that a mistyped grant is never half read).
fn string_list(value: Option<&Value>) -> Option<Vec<&str>> {
    match value? {
        Value::String(s) => Some(vec![s.as_str()]),
        Value::Array(list) => list.iter().map(Value::as_str).collect(),
        _ => None,
    }
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
}
