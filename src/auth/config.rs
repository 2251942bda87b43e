//! Auth settings from Wrangler vars and secrets (names fixed by the README, so deployments and
//! scripts can rely on them).

use super::keys::Verifier;
use crate::vars::ConfigError;

/// `AUTH_MODE`.
#[derive(Debug)]
pub enum AuthMode {
    /// `jwt` (the default). A verifier that failed to build keeps its error, reported at the first
    /// request instead of panicking.
    Jwt(Result<Verifier, String>),
    /// `none`: explicit opt-out; every sync request is allowed.
    None,
}

#[derive(Debug)]
pub struct AuthConfig {
    pub mode: AuthMode,
    /// `AUTH_PAYLOAD_FIELD` (default `authToken`).
    pub payload_field: String,
    /// `JWT_ISSUER`.
    pub issuer: Option<String>,
    /// `JWT_AUDIENCE`.
    pub audience: Option<String>,
    /// `JWT_LEEWAY_SECONDS` (default 0): clock skew allowed on `exp` and `nbf`.
    pub leeway_seconds: i64,
    /// `JWT_STORE_CLAIM`: the claim listing the storeIds (or prefix grants) a token may sync;
    /// `None` only with the explicit opt-out `JWT_ANY_STORE=true` (without either, `jwt` mode is
    /// a configuration error: a valid token must not open every store by default).
    pub store_claim: Option<String>,
    /// `JWT_REQUIRE_EXP` (default `true`).
    pub require_exp: bool,
    /// `JWT_READONLY_CLAIM`: the claim that makes a token read-only (`true`, or the storeIds and
    /// prefix grants it may only read).
    pub readonly_claim: Option<String>,
    /// `JWT_EVENTS_CLAIM`: the claim listing the event names (or `prefix*`) a token may push.
    pub events_claim: Option<String>,
    /// `AUTH_HEADER`: a request header that may carry the token (after the payload field and
    /// `Authorization: Bearer`).
    pub token_header: Option<String>,
    /// `AUTH_COOKIE`: a cookie that may carry the token (last). Requires `ALLOWED_ORIGINS`.
    pub token_cookie: Option<String>,
    /// `ALLOWED_ORIGINS`: the origins a browser request may come from (`None`: any). Its error is
    /// answered `500` in every auth mode.
    pub allowed_origins: Result<Option<Vec<String>>, ConfigError>,
}

/// `JWT_LEEWAY_SECONDS`, on its own: the Durable Object needs only this to re-check expiry.
pub fn parse_leeway(value: Option<&str>) -> Result<i64, ConfigError> {
    match value.map(str::trim) {
        None | Some("") => Ok(0),
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| (0..=86_400).contains(n))
            .ok_or_else(|| {
                ConfigError::invalid(
                    "JWT_LEEWAY_SECONDS",
                    "a number of seconds between 0 and 86400",
                    v,
                )
            }),
    }
}

/// Every variable the auth configuration is built from.
pub const AUTH_VARIABLES: [&str; 15] = [
    "AUTH_MODE",
    "JWT_SECRET",
    "JWT_JWKS",
    "JWT_ISSUER",
    "JWT_AUDIENCE",
    "JWT_LEEWAY_SECONDS",
    "JWT_STORE_CLAIM",
    "JWT_ANY_STORE",
    "JWT_REQUIRE_EXP",
    "AUTH_PAYLOAD_FIELD",
    "JWT_READONLY_CLAIM",
    "JWT_EVENTS_CLAIM",
    "AUTH_HEADER",
    "AUTH_COOKIE",
    "ALLOWED_ORIGINS",
];

/// `ALLOWED_ORIGINS`: origins (`scheme://host[:port]`) separated by commas or spaces, compared
/// exactly (case-insensitively) with a request's `Origin` header.
pub fn parse_origins(value: Option<&str>) -> Result<Option<Vec<String>>, ConfigError> {
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let mut origins = Vec::new();
    for entry in value
        .split([',', ' '])
        .map(str::trim)
        .filter(|e| !e.is_empty())
    {
        let origin = entry.trim_end_matches('/').to_ascii_lowercase();
        let well_formed = origin.split_once("://").is_some_and(|(scheme, host)| {
            !scheme.is_empty()
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
                && !host.is_empty()
                && !host.contains(['/', '?', '#', '*', '@'])
        });
        if !well_formed {
            return Err(ConfigError::Unusable {
                name: "ALLOWED_ORIGINS",
                problem: format!(
                    ": {entry:?} is not an origin; list origins like https://app.example.com or \
                     http://localhost:5173, separated by commas (no paths, no wildcards; leave \
                     the variable unset to allow every origin)"
                ),
            });
        }
        origins.push(origin);
    }
    Ok(Some(origins))
}

impl AuthConfig {
    /// Never fails: an unusable setting becomes a `Misconfigured` answer at request time.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> AuthConfig {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let mut problems = Vec::new();
        let leeway_seconds =
            parse_leeway(get("JWT_LEEWAY_SECONDS").as_deref()).unwrap_or_else(|e| {
                problems.push(e.to_string());
                0
            });
        let require_exp = match get("JWT_REQUIRE_EXP").as_deref() {
            None | Some("true") => true,
            Some("false") => false,
            Some(v) => {
                problems.push(format!("JWT_REQUIRE_EXP must be true or false, got {v:?}"));
                true
            }
        };
        let store_claim = get("JWT_STORE_CLAIM");
        let allowed_origins = parse_origins(get("ALLOWED_ORIGINS").as_deref());
        let token_cookie = get("AUTH_COOKIE");
        if token_cookie.is_some() && matches!(allowed_origins, Ok(None)) {
            problems.push(
                "AUTH_COOKIE is set but ALLOWED_ORIGINS is not: browsers send cookies with \
                 cross-site WebSocket upgrades, so cookie auth needs the list of origins your app \
                 is served from (e.g. ALLOWED_ORIGINS=https://app.example.com)"
                    .to_owned(),
            );
        }
        let token_header = get("AUTH_HEADER");
        if let Some(name) = &token_header {
            let valid = name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c));
            if !valid {
                problems.push(format!("AUTH_HEADER must be a header name, got {name:?}"));
            }
        }
        match (store_claim.is_some(), get("JWT_ANY_STORE").as_deref()) {
            (_, None | Some("false")) if store_claim.is_none() => problems.push(
                "JWT_STORE_CLAIM is not set: name the token claim that lists the stores a token may \
                 open (e.g. JWT_STORE_CLAIM=stores), or set JWT_ANY_STORE=true to let every valid \
                 token open every store"
                    .to_owned(),
            ),
            (true, Some("true")) => problems.push(
                "JWT_STORE_CLAIM and JWT_ANY_STORE=true contradict each other: set one of them".to_owned(),
            ),
            (_, None | Some("true" | "false")) => {}
            (_, Some(v)) => problems.push(format!("JWT_ANY_STORE must be true or false, got {v:?}")),
        }
        let mode = match get("AUTH_MODE").as_deref() {
            Some("none") => AuthMode::None,
            None | Some("jwt") => {
                let verifier = Verifier::from_settings(
                    get("JWT_SECRET").as_deref(),
                    get("JWT_JWKS").as_deref(),
                )
                .map_err(|e| e.to_string());
                AuthMode::Jwt(match verifier {
                    Err(e) => Err(std::iter::once(e)
                        .chain(problems)
                        .collect::<Vec<_>>()
                        .join("; ")),
                    Ok(_) if !problems.is_empty() => Err(problems.join("; ")),
                    ok => ok,
                })
            }
            Some(other) => {
                AuthMode::Jwt(Err(format!("AUTH_MODE must be jwt or none, got {other:?}")))
            }
        };
        AuthConfig {
            mode,
            payload_field: get("AUTH_PAYLOAD_FIELD").unwrap_or_else(|| "authToken".into()),
            issuer: get("JWT_ISSUER"),
            audience: get("JWT_AUDIENCE"),
            leeway_seconds,
            store_claim,
            require_exp,
            readonly_claim: get("JWT_READONLY_CLAIM"),
            events_claim: get("JWT_EVENTS_CLAIM"),
            token_header,
            token_cookie,
            allowed_origins,
        }
    }
}
