//! What a request presents to be let in: where its token can be (the sync payload, a header, a
//! cookie), and where it comes from (its `Origin`, checked when cookies may carry the token).

use serde_json::Value;

use super::{AuthConfig, AuthError};

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
pub(super) fn find_token<'a>(config: &AuthConfig, presented: &Presented<'a>) -> Option<&'a str> {
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
pub(super) fn check_origin(config: &AuthConfig, origin: Option<&str>) -> Result<(), AuthError> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
