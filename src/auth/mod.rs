//! Authentication, as `validatePayload` would do it in `@livestore/sync-cf`, but configured
//! instead of coded: a JWT taken from the client's sync payload (or an `Authorization: Bearer`
//! header), verified with `jwt-compact`, then its claims checked against this store.
//!
//! The algorithm always comes from the configured key, never from the token header: a token
//! whose header names another algorithm fails (`alg: none`, or HS256 signed with a public key).
//!
//! Beyond the store, a token's claims may limit what it pushes ([`rights`]): read-only, or only
//! some event names. And the token may come from a cookie, which needs an origin check.

mod config;
mod keys;
pub mod rights;

pub use config::{parse_leeway, parse_origins, AuthConfig, AuthMode, AUTH_VARIABLES};
pub use keys::KeyError;
pub use rights::{PushRights, RIGHTS_HEADER};

use std::fmt::Write as _;

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

/// What a valid token allows, carried with the connection so it can be re-checked later.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Grant {
    /// Unix seconds after which (plus leeway) the connection must stop syncing.
    pub expires_at: Option<i64>,
    /// The token's `sub`, whom rate limits count.
    pub subject: Option<String>,
    /// What the token may push in this store.
    pub rights: PushRights,
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

/// What a request presents to be let in: where a token can be, and where the request comes from.
#[derive(Debug, Clone, Copy, Default)]
pub struct Presented<'a> {
    /// The sync payload (`payload` query parameter), decoded.
    pub payload: Option<&'a Value>,
    /// The `Authorization` header.
    pub authorization: Option<&'a str>,
    /// The header named by `AUTH_HEADER`, when it is set.
    pub header: Option<&'a str>,
    /// The `Cookie` header.
    pub cookie: Option<&'a str>,
    /// The `Origin` header (browsers send it on every WebSocket upgrade and cross-origin fetch).
    pub origin: Option<&'a str>,
}

/// The token: the payload field first (what the LiveStore docs show), then `Authorization:
/// Bearer`, then the `AUTH_HEADER` header, then the `AUTH_COOKIE` cookie.
fn find_token<'a>(config: &AuthConfig, presented: &Presented<'a>) -> Option<&'a str> {
    let non_empty = |t: &'a str| Some(t.trim()).filter(|t| !t.is_empty());
    let from_payload = presented
        .payload
        .and_then(|p| p.get(&config.payload_field))
        .and_then(Value::as_str)
        .and_then(non_empty);
    // an empty payload field does not hide a valid header
    from_payload
        .or_else(|| bearer(presented.authorization?))
        .or_else(|| {
            config.token_header.as_ref()?;
            let value = presented.header?;
            bearer(value).or_else(|| non_empty(value))
        })
        .or_else(|| cookie_value(presented.cookie?, config.token_cookie.as_deref()?))
}

/// The value of cookie `name` in a `Cookie` header (`a=1; b=2`), without surrounding quotes.
pub fn cookie_value<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header
        .split(';')
        .filter_map(|pair| pair.split_once('='))
        .find(|(n, _)| n.trim() == name)
        .map(|(_, v)| v.trim().trim_matches('"'))
        .filter(|v| !v.is_empty())
}

/// With `ALLOWED_ORIGINS` set, a request whose `Origin` is not listed is refused (`403`). A request
/// without `Origin` does not come from a browser (which always sends it on a WebSocket upgrade),
/// so it carries no cookie a browser added on its own: it is let through to the token check.
fn check_origin(config: &AuthConfig, origin: Option<&str>) -> Result<(), AuthError> {
    let allowed = match &config.allowed_origins {
        Ok(None) => return Ok(()),
        Ok(Some(list)) => list,
        Err(e) => return Err(AuthError::Misconfigured(e.to_string())),
    };
    let Some(origin) = origin.map(str::trim) else {
        return Ok(());
    };
    if allowed.iter().any(|a| a.eq_ignore_ascii_case(origin)) {
        Ok(())
    } else {
        Err(AuthError::Forbidden(format!(
            "Origin {origin:?} is not allowed (ALLOWED_ORIGINS)"
        )))
    }
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
    presented: &Presented<'_>,
    now: i64,
) -> Result<Grant, AuthError> {
    check_origin(config, presented.origin)?;
    let verifier = match &config.mode {
        AuthMode::None => return Ok(Grant::default()),
        AuthMode::Jwt(v) => v,
    };
    let verifier = verifier
        .as_ref()
        .map_err(|e| AuthError::Misconfigured(e.clone()))?;
    let token = find_token(config, presented).ok_or_else(|| {
        let mut sources = format!(
            "the sync payload field `{}`, an Authorization: Bearer header",
            config.payload_field
        );
        if let Some(header) = &config.token_header {
            let _ = write!(sources, ", the {header} header");
        }
        if let Some(cookie) = &config.token_cookie {
            let _ = write!(sources, ", the cookie `{cookie}`");
        }
        AuthError::Unauthorized(format!("Missing token: send a JWT in {sources}"))
    })?;
    let token = UntrustedToken::new(token)
        .map_err(|e| AuthError::Unauthorized(format!("Malformed token: {e}")))?;
    let claims: Claims<Map<String, Value>> = verifier.verify(&token)?;
    check_time(config, &claims, now)?;
    let rights = check_claims(config, &claims.custom, store_id)?;
    Ok(Grant {
        rights,
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

/// Checks issuer, audience and store; returns what the token may push there.
fn check_claims(
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

    #[test]
    fn an_empty_payload_token_does_not_hide_the_header() {
        let cfg = AuthConfig::from_lookup(|k| (k == "AUTH_MODE").then(|| "none".into()));
        fn find<'a>(
            cfg: &AuthConfig,
            payload: Option<&'a Value>,
            authorization: Option<&'a str>,
        ) -> Option<&'a str> {
            let presented = Presented {
                payload,
                authorization,
                ..Presented::default()
            };
            find_token(cfg, &presented)
        }
        let payload = serde_json::json!({"authToken": ""});
        assert_eq!(find(&cfg, Some(&payload), Some("Bearer abc")), Some("abc"));
        let payload = serde_json::json!({"authToken": "xyz"});
        assert_eq!(find(&cfg, Some(&payload), Some("Bearer abc")), Some("xyz"));
        assert_eq!(find(&cfg, None, Some("Basic abc")), None);
        assert_eq!(find(&cfg, None, Some("Bearer ")), None);
    }

    #[test]
    fn the_header_and_the_cookie_are_read_only_when_named() {
        let vars = |extra: &'static [(&'static str, &'static str)]| {
            AuthConfig::from_lookup(move |k| {
                extra
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| (*v).to_owned())
            })
        };
        let presented = Presented {
            header: Some("Bearer from-header"),
            cookie: Some("theme=dark; session=from-cookie; other=1"),
            ..Presented::default()
        };
        assert_eq!(find_token(&vars(&[]), &presented), None);
        let cookie = vars(&[("AUTH_COOKIE", "session")]);
        assert_eq!(find_token(&cookie, &presented), Some("from-cookie"));
        let both = vars(&[("AUTH_COOKIE", "session"), ("AUTH_HEADER", "x-token")]);
        assert_eq!(find_token(&both, &presented), Some("from-header"));
        let raw_header = Presented {
            header: Some(" raw-token "),
            ..Presented::default()
        };
        assert_eq!(find_token(&both, &raw_header), Some("raw-token"));
        assert_eq!(cookie_value("a=1;b=\"2\"", "b"), Some("2"));
        assert_eq!(cookie_value("ab=1", "b"), None);
        assert_eq!(cookie_value("b=", "b"), None);
    }
}
