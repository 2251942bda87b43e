//! The auth checks with tokens minted here: every attack case gets the right refusal.

use chrono::{Duration, TimeZone, Utc};
use jwt_compact::alg::{Ed25519, Es256, Hs256, Hs256Key};
use jwt_compact::jwk::JsonWebKey;
use jwt_compact::{AlgorithmExt, Claims, Header};
use livestore_sync_rs::auth::{authorize, AuthConfig, AuthError};
use serde_json::{json, Map, Value};

const SECRET: &str = "0123456789abcdef0123456789abcdef-test-secret";
const NOW: i64 = 1_800_000_000;

fn es_key() -> p256::ecdsa::SigningKey {
    p256::ecdsa::SigningKey::from_bytes(&[7u8; 32].into()).unwrap()
}

fn ed_key() -> ed25519_compact::KeyPair {
    ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new([9u8; 32]))
}

fn jwks() -> String {
    let mut es: Value = serde_json::to_value(JsonWebKey::from(es_key().verifying_key())).unwrap();
    es["kid"] = json!("es-1");
    let mut ed: Value = serde_json::to_value(JsonWebKey::from(&ed_key().pk)).unwrap();
    ed["kid"] = json!("ed-1");
    json!({"keys": [es, ed]}).to_string()
}

fn config(vars: &[(&str, &str)]) -> AuthConfig {
    let jwks = jwks();
    let mut all: Vec<(String, String)> = vec![
        ("JWT_SECRET".into(), SECRET.into()),
        ("JWT_JWKS".into(), jwks),
    ];
    if !vars.iter().any(|(k, _)| *k == "JWT_STORE_CLAIM") {
        all.push(("JWT_ANY_STORE".into(), "true".into()));
    }
    all.extend(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    AuthConfig::from_lookup(|name| {
        all.iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    })
}

fn claims(extra: Value, exp_in: Option<i64>) -> Claims<Map<String, Value>> {
    let mut c = Claims::new(extra.as_object().unwrap().clone());
    c.expiration = exp_in.map(|s| Utc.timestamp_opt(NOW + s, 0).unwrap());
    c
}

fn hs(extra: Value, exp_in: Option<i64>) -> String {
    Hs256
        .token(
            &Header::empty(),
            &claims(extra, exp_in),
            &Hs256Key::new(SECRET),
        )
        .unwrap()
}

fn es(extra: Value, exp_in: Option<i64>, kid: &str) -> String {
    Es256
        .token(
            &Header::empty().with_key_id(kid),
            &claims(extra, exp_in),
            &es_key(),
        )
        .unwrap()
}

fn check(cfg: &AuthConfig, token: &str, store: &str) -> Result<(), AuthError> {
    authorize(cfg, store, Some(&json!({"authToken": token})), None, NOW).map(|_| ())
}

fn status(r: Result<(), AuthError>) -> u16 {
    match r {
        Ok(()) => 200,
        Err(e) => e.status(),
    }
}

#[test]
fn valid_tokens_pass_and_carry_their_expiry() {
    let cfg = config(&[]);
    let grant = authorize(
        &cfg,
        "s",
        Some(&json!({"authToken": hs(json!({}), Some(60))})),
        None,
        NOW,
    )
    .unwrap();
    assert_eq!(grant.expires_at, Some(NOW + 60));
    assert_eq!(
        status(check(&cfg, &es(json!({}), Some(60), "es-1"), "s")),
        200
    );
    let ed = Ed25519
        .token(
            &Header::empty().with_key_id("ed-1"),
            &claims(json!({}), Some(60)),
            &ed_key().sk,
        )
        .unwrap();
    assert_eq!(status(check(&cfg, &ed, "s")), 200);
    // The Authorization header works when the payload has no token.
    let bearer = format!("Bearer {}", hs(json!({}), Some(60)));
    assert!(authorize(&cfg, "s", None, Some(&bearer), NOW).is_ok());
}

#[test]
fn time_claims() {
    let cfg = config(&[]);
    assert_eq!(
        status(check(&cfg, &hs(json!({}), Some(-1)), "s")),
        401,
        "expired"
    );
    assert_eq!(
        status(check(&cfg, &hs(json!({}), Some(0)), "s")),
        401,
        "expires now"
    );
    assert_eq!(
        status(check(&cfg, &hs(json!({}), None), "s")),
        401,
        "exp required"
    );
    let mut c = claims(json!({}), Some(600));
    c.not_before = Some(Utc.timestamp_opt(NOW + 30, 0).unwrap());
    let t = Hs256
        .token(&Header::empty(), &c, &Hs256Key::new(SECRET))
        .unwrap();
    assert_eq!(status(check(&cfg, &t, "s")), 401, "not yet valid");
    let lenient = config(&[("JWT_LEEWAY_SECONDS", "60")]);
    assert_eq!(status(check(&lenient, &t, "s")), 200);
    assert_eq!(status(check(&lenient, &hs(json!({}), Some(-30)), "s")), 200);
    let no_exp = config(&[("JWT_REQUIRE_EXP", "false")]);
    assert_eq!(status(check(&no_exp, &hs(json!({}), None), "s")), 200);
    let _ = Duration::seconds(1);
}

#[test]
fn forged_and_malformed_tokens() {
    let cfg = config(&[]);
    let good = hs(json!({"sub": "u"}), Some(60));
    let parts: Vec<&str> = good.split('.').collect();
    // bad signature
    let wrong_key = Hs256
        .token(
            &Header::empty(),
            &claims(json!({}), Some(60)),
            &Hs256Key::new(b"another-secret-another-secret-00"),
        )
        .unwrap();
    assert_eq!(status(check(&cfg, &wrong_key, "s")), 401);
    // tampered payload, original signature
    use base64_helper::b64;
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        b64(br#"{"sub":"admin","exp":9999999999}"#),
        parts[2]
    );
    assert_eq!(status(check(&cfg, &tampered, "s")), 401);
    // alg: none
    let none = format!("{}.{}.", b64(br#"{"alg":"none"}"#), parts[1]);
    assert_eq!(status(check(&cfg, &none, "s")), 401);
    // algorithm confusion: HS256 signed with the ES256 public key's JWK text, naming kid es-1
    let public_as_secret =
        serde_json::to_string(&JsonWebKey::from(es_key().verifying_key())).unwrap();
    let confused = Hs256
        .token(
            &Header::empty().with_key_id("es-1"),
            &claims(json!({}), Some(60)),
            &Hs256Key::new(public_as_secret.as_bytes()),
        )
        .unwrap();
    assert_eq!(status(check(&cfg, &confused, "s")), 401);
    // unknown kid with an asymmetric algorithm
    assert_eq!(
        status(check(&cfg, &es(json!({}), Some(60), "nope"), "s")),
        401
    );
    let e = check(&cfg, &es(json!({}), Some(60), "nope"), "s").unwrap_err();
    assert!(e.message().contains("unknown key id"), "{}", e.message());
    // malformed and missing
    for t in ["", "abc", "a.b", "a.b.c", "....", "ey.ey.ey"] {
        assert_eq!(status(check(&cfg, t, "s")), 401, "{t:?}");
    }
    assert_eq!(
        authorize(&cfg, "s", None, None, NOW).unwrap_err().status(),
        401
    );
    assert_eq!(
        authorize(&cfg, "s", Some(&json!({"authToken": 42})), None, NOW)
            .unwrap_err()
            .status(),
        401
    );
    assert_eq!(
        authorize(&cfg, "s", Some(&json!([1])), None, NOW)
            .unwrap_err()
            .status(),
        401
    );
}

#[test]
fn issuer_audience_and_store_scope() {
    let cfg = config(&[
        ("JWT_ISSUER", "https://id.example"),
        ("JWT_AUDIENCE", "sync"),
        ("JWT_STORE_CLAIM", "stores"),
    ]);
    let ok = json!({"iss": "https://id.example", "aud": ["other", "sync"], "stores": ["team-*", "solo"]});
    assert_eq!(
        status(check(&cfg, &hs(ok.clone(), Some(60)), "team-42")),
        200
    );
    assert_eq!(status(check(&cfg, &hs(ok.clone(), Some(60)), "solo")), 200);
    assert_eq!(status(check(&cfg, &hs(ok.clone(), Some(60)), "solo2")), 403);
    assert_eq!(status(check(&cfg, &hs(ok.clone(), Some(60)), "tea")), 403);
    let mut wrong_iss = ok.clone();
    wrong_iss["iss"] = json!("https://evil.example");
    assert_eq!(status(check(&cfg, &hs(wrong_iss, Some(60)), "solo")), 401);
    let mut wrong_aud = ok.clone();
    wrong_aud["aud"] = json!("web");
    assert_eq!(status(check(&cfg, &hs(wrong_aud, Some(60)), "solo")), 401);
    let mut no_scope = ok;
    no_scope.as_object_mut().unwrap().remove("stores");
    assert_eq!(status(check(&cfg, &hs(no_scope, Some(60)), "solo")), 403);
}

#[test]
fn configuration_fails_closed_with_clear_messages() {
    let empty = AuthConfig::from_lookup(|_| None);
    let e = authorize(&empty, "s", Some(&json!({"authToken": "x"})), None, NOW).unwrap_err();
    assert_eq!(e.status(), 500);
    assert!(e.message().contains("JWT_SECRET"));
    let open = AuthConfig::from_lookup(|k| (k == "AUTH_MODE").then(|| "none".to_owned()));
    assert!(authorize(&open, "s", None, None, NOW).is_ok());
    for (k, v) in [
        ("JWT_JWKS", "{"),
        ("JWT_JWKS", r#"{"keys":[{"kty":"oct","kid":"a","k":"AA"}]}"#),
        ("JWT_SECRET", "short"),
        ("AUTH_MODE", "maybe"),
        ("JWT_LEEWAY_SECONDS", "soon"),
    ] {
        let cfg = AuthConfig::from_lookup(|name| {
            if name == k {
                Some(v.to_owned())
            } else if name == "JWT_SECRET" {
                Some(SECRET.to_owned())
            } else if name == "JWT_ANY_STORE" {
                Some("true".to_owned())
            } else {
                None
            }
        });
        let e = authorize(
            &cfg,
            "s",
            Some(&json!({"authToken": hs(json!({}), Some(60))})),
            None,
            NOW,
        )
        .unwrap_err();
        assert_eq!(e.status(), 500, "{k}={v}");
        assert!(e.message().contains(k), "{k}: {}", e.message());
        assert!(
            !format!("{cfg:?}").contains(SECRET),
            "config Debug must not print the secret"
        );
    }
}

mod base64_helper {
    /// base64url without padding, enough for hand-built token parts.
    pub fn b64(data: &[u8]) -> String {
        const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut out = String::new();
        for chunk in data.chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..=chunk.len() {
                out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            }
        }
        out
    }
}

#[test]
fn every_variable_read_is_listed_for_the_cache() {
    // The Worker caches the parsed configuration keyed by the values of AUTH_VARIABLES: a
    // variable read but not listed would be missed when it changes.
    let read = std::cell::RefCell::new(Vec::new());
    AuthConfig::from_lookup(|name| {
        read.borrow_mut().push(name.to_owned());
        None
    });
    assert!(
        read.borrow().len() >= 9,
        "the configuration reads its variables"
    );
    for name in read.borrow().iter() {
        assert!(
            livestore_sync_rs::auth::AUTH_VARIABLES.contains(&name.as_str()),
            "{name} is read but not in AUTH_VARIABLES"
        );
    }
}

#[test]
fn a_valid_token_opens_every_store_only_by_explicit_choice() {
    let vars = |extra: &[(&str, &str)]| {
        let mut all = vec![("JWT_SECRET".to_owned(), SECRET.to_owned())];
        all.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        AuthConfig::from_lookup(move |name| {
            all.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
    };
    let token = hs(json!({"stores": ["s"]}), Some(60));
    let payload = json!({ "authToken": token });
    // neither a store claim nor the opt-out: a configuration error that names both
    let e = authorize(&vars(&[]), "s", Some(&payload), None, NOW).unwrap_err();
    assert_eq!(e.status(), 500);
    assert!(
        e.message().contains("JWT_STORE_CLAIM") && e.message().contains("JWT_ANY_STORE"),
        "{}",
        e.message()
    );
    let both = vars(&[("JWT_STORE_CLAIM", "stores"), ("JWT_ANY_STORE", "true")]);
    assert_eq!(
        authorize(&both, "s", Some(&payload), None, NOW)
            .unwrap_err()
            .status(),
        500
    );
    let any = vars(&[("JWT_ANY_STORE", "true")]);
    assert!(authorize(&any, "other", Some(&payload), None, NOW).is_ok());
    let scoped = vars(&[("JWT_STORE_CLAIM", "stores")]);
    assert!(authorize(&scoped, "s", Some(&payload), None, NOW).is_ok());
    assert_eq!(
        authorize(&scoped, "other", Some(&payload), None, NOW)
            .unwrap_err()
            .status(),
        403
    );
    // an undelimited prefix grants nothing, and the refusal says why
    let team = hs(json!({"stores": ["team-4*"]}), Some(60));
    let e = authorize(
        &scoped,
        "team-42",
        Some(&json!({ "authToken": team })),
        None,
        NOW,
    )
    .unwrap_err();
    assert_eq!(e.status(), 403);
    assert!(
        e.message().contains("not a prefix grant"),
        "{}",
        e.message()
    );
}
