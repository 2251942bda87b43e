//! Authentication, as `validatePayload` would do it in `@livestore/sync-cf`, but configured
//! instead of coded: a JWT taken from the client's sync payload (or an `Authorization: Bearer`
//! header), verified with `jwt-compact`, then its claims checked against this store.
//!
//! The algorithm always comes from the configured key, never from the token header: a token
//! whose header names another algorithm fails (`alg: none`, or HS256 signed with a public key).
//!
//! Beyond the store, a token's claims may limit what it pushes ([`rights`]): read-only, or only
//! some event names. And the token may come from a cookie, which needs an origin check.
//!
//! - `presented` — where the token and the origin come from (payload, header, cookie).
//! - `keys` — the verifying keys (`JWT_SECRET`, `JWT_JWKS`).
//! - `claims` — what the verified claims allow: time, issuer, audience, stores.
//! - [`rights`] — what a token may push (read-only, event names), carried to the object.
//! - `config` — the `JWT_*`/`AUTH_*` vars.

mod claims;
mod config;
mod keys;
mod presented;
pub mod rights;

pub use claims::store_matches;
pub use config::{parse_leeway, parse_origins, AuthConfig, AuthMode, AUTH_VARIABLES};
pub use keys::KeyError;
pub use presented::{bearer, cookie_value, Presented};
pub use rights::{PushRights, RIGHTS_HEADER};

use std::fmt::Write as _;

use jwt_compact::{Claims, UntrustedToken};
use serde_json::{Map, Value};

use claims::{check_claims, check_time};
use presented::{check_origin, find_token};

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
