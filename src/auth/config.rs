//! Auth settings from Wrangler vars and secrets (names fixed by the README, so deployments and
//! scripts can rely on them).

use super::keys::Verifier;

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
}

/// `JWT_LEEWAY_SECONDS`, on its own: the Durable Object needs only this to re-check expiry.
pub fn parse_leeway(value: Option<String>) -> Result<i64, String> {
    match value.as_deref().map(str::trim) {
        None | Some("") => Ok(0),
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| (0..=86_400).contains(n))
            .ok_or_else(|| {
                format!(
                    "JWT_LEEWAY_SECONDS must be a number of seconds between 0 and 86400, got {v:?}"
                )
            }),
    }
}

/// Every variable the auth configuration is built from.
pub const AUTH_VARIABLES: [&str; 10] = [
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
];

impl AuthConfig {
    /// Never fails: an unusable setting becomes a `Misconfigured` answer at request time.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> AuthConfig {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let mut problems = Vec::new();
        let leeway_seconds = parse_leeway(get("JWT_LEEWAY_SECONDS")).unwrap_or_else(|e| {
            problems.push(e);
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
                .map_err(|e| e.0);
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
        }
    }
}
