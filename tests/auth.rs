//! The auth checks with tokens minted here: every attack case gets the right refusal.

use chrono::{Duration, TimeZone, Utc};
use jwt_compact::alg::{Ed25519, Es256, Hs256, Hs256Key};
use jwt_compact::jwk::JsonWebKey;
use jwt_compact::{AlgorithmExt, Claims, Header};
use livestore_sync_rs::auth::{AuthConfig, AuthError, Grant, Presented, PushRights};
use serde_json::{json, Map, Value};

/// A request that presents a payload and an `Authorization` header, nothing else.
fn authorize(
    cfg: &AuthConfig,
    store: &str,
    payload: Option<&Value>,
    authorization: Option<&str>,
    now: i64,
) -> Result<Grant, AuthError> {
    let presented = Presented {
        payload,
        authorization,
        ..Presented::default()
    };
    livestore_sync_rs::auth::authorize(cfg, store, &presented, now)
}

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
    let read = std::cell::RefCell::new(std::collections::BTreeSet::new());
    AuthConfig::from_lookup(|name| {
        read.borrow_mut().insert(name.to_owned());
        (name == "AUTH_MODE").then(|| "jwt".to_owned())
    });
    let listed: std::collections::BTreeSet<String> = livestore_sync_rs::auth::AUTH_VARIABLES
        .iter()
        .map(|n| n.to_string())
        .collect();
    // exactly the listed ones: one read but not listed would be missed when it changes, and a
    // loop over an empty list would prove nothing
    assert_eq!(*read.borrow(), listed);
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

// ---------------------------------------------------------------------------------------------
// Push rights: read-only and per-event claims
// ---------------------------------------------------------------------------------------------

fn rights(cfg: &AuthConfig, claims: Value, store: &str) -> Result<PushRights, AuthError> {
    let token = hs(claims, Some(60));
    authorize(cfg, store, Some(&json!({"authToken": token})), None, NOW).map(|g| g.rights)
}

#[test]
fn the_read_only_claim_is_true_or_a_list_of_stores_it_opens_on_its_own() {
    let cfg = config(&[
        ("JWT_STORE_CLAIM", "stores"),
        ("JWT_READONLY_CLAIM", "readonly"),
    ]);
    let ro = |read_only| PushRights {
        read_only,
        events: None,
    };
    // no claim: full access where the store claim allows
    assert_eq!(rights(&cfg, json!({"stores": ["s"]}), "s"), Ok(ro(false)));
    assert_eq!(
        rights(&cfg, json!({"stores": ["s"], "readonly": false}), "s"),
        Ok(ro(false))
    );
    // true: read-only in every store the token opens, and it opens no other
    assert_eq!(
        rights(&cfg, json!({"stores": ["s"], "readonly": true}), "s"),
        Ok(ro(true))
    );
    let e = rights(&cfg, json!({"stores": ["s"], "readonly": true}), "t").unwrap_err();
    assert_eq!(e.status(), 403);
    // a list: those stores are opened read-only, by this claim alone
    let viewer = json!({"readonly": ["team-1-*"], "stores": ["mine"]});
    assert_eq!(rights(&cfg, viewer.clone(), "team-1-todos"), Ok(ro(true)));
    assert_eq!(rights(&cfg, viewer.clone(), "mine"), Ok(ro(false)));
    assert_eq!(
        rights(&cfg, viewer, "team-2-todos").unwrap_err().status(),
        403
    );
    assert_eq!(
        rights(&cfg, json!({"readonly": "solo"}), "solo"),
        Ok(ro(true))
    );
    // listed in both: read-only wins (the narrower grant)
    assert_eq!(
        rights(&cfg, json!({"readonly": ["s"], "stores": ["s"]}), "s"),
        Ok(ro(true))
    );
    // anything else is refused, never half read
    for bad in [json!(1), json!({"s": true}), json!(["s", 2])] {
        let e = rights(&cfg, json!({"stores": ["s"], "readonly": bad}), "s").unwrap_err();
        assert_eq!(e.status(), 401, "{bad}");
        assert!(e.message().contains("`readonly`"), "{}", e.message());
    }
    // without the variable the claim means nothing
    let plain = config(&[("JWT_STORE_CLAIM", "stores")]);
    assert_eq!(
        rights(&plain, json!({"stores": ["s"], "readonly": true}), "s"),
        Ok(ro(false))
    );
    // with JWT_ANY_STORE the claim still marks the store read-only
    let any = config(&[("JWT_READONLY_CLAIM", "readonly")]);
    assert_eq!(rights(&any, json!({"readonly": ["s"]}), "s"), Ok(ro(true)));
    assert_eq!(rights(&any, json!({"readonly": ["s"]}), "t"), Ok(ro(false)));
}

#[test]
fn the_events_claim_lists_names_and_prefixes_within_a_bound() {
    let cfg = config(&[("JWT_EVENTS_CLAIM", "events")]);
    let rule = |list: &[&str]| PushRights {
        read_only: false,
        events: Some(list.iter().map(|s| (*s).to_owned()).collect()),
    };
    assert_eq!(rights(&cfg, json!({}), "s"), Ok(PushRights::default()));
    assert_eq!(
        rights(&cfg, json!({"events": ["todo*", "userRenamed"]}), "s"),
        Ok(rule(&["todo*", "userRenamed"]))
    );
    assert_eq!(
        rights(&cfg, json!({"events": "todo*"}), "s"),
        Ok(rule(&["todo*"]))
    );
    assert_eq!(rights(&cfg, json!({"events": []}), "s"), Ok(rule(&[])));
    for bad in [json!(true), json!([1]), json!({"todo": true})] {
        let e = rights(&cfg, json!({"events": bad}), "s").unwrap_err();
        assert_eq!(e.status(), 401);
        assert!(e.message().contains("JWT_EVENTS_CLAIM"), "{}", e.message());
    }
    let huge: Vec<String> = (0..500).map(|i| format!("event-number-{i}")).collect();
    let e = rights(&cfg, json!({ "events": huge }), "s").unwrap_err();
    assert_eq!(e.status(), 401);
    assert!(e.message().contains("at most 4096"), "{}", e.message());
}

// ---------------------------------------------------------------------------------------------
// Cookie sessions and the origin check
// ---------------------------------------------------------------------------------------------

#[test]
fn cookie_auth_needs_an_origin_allow_list_and_refuses_other_origins() {
    let no_list = config(&[("AUTH_COOKIE", "session")]);
    let token = hs(json!({}), Some(60));
    let cookie = format!("theme=dark; session={token}");
    let present = |origin| Presented {
        cookie: Some(&cookie),
        origin,
        ..Presented::default()
    };
    let e = livestore_sync_rs::auth::authorize(&no_list, "s", &present(None), NOW).unwrap_err();
    assert_eq!(e.status(), 500);
    assert!(e.message().contains("ALLOWED_ORIGINS"), "{}", e.message());

    let cfg = config(&[
        ("AUTH_COOKIE", "session"),
        (
            "ALLOWED_ORIGINS",
            "https://app.example.com, http://localhost:5173/",
        ),
    ]);
    let run = |p: &Presented<'_>| livestore_sync_rs::auth::authorize(&cfg, "s", p, NOW);
    assert!(run(&present(Some("https://app.example.com"))).is_ok());
    assert!(run(&present(Some("HTTP://LOCALHOST:5173"))).is_ok());
    // not a browser: no Origin, nothing a browser added on its own
    assert!(run(&present(None)).is_ok());
    for other in [
        "https://evil.example",
        "null",
        "https://app.example.com.evil.example",
    ] {
        let e = run(&present(Some(other))).unwrap_err();
        assert_eq!(e.status(), 403, "{other}");
        assert!(e.message().contains("ALLOWED_ORIGINS"), "{}", e.message());
    }
    // a cookie without a valid token: 401, naming the cookie
    let bad = "session=not-a-jwt".to_owned();
    let e = run(&Presented {
        cookie: Some(&bad),
        origin: Some("https://app.example.com"),
        ..Presented::default()
    })
    .unwrap_err();
    assert_eq!(e.status(), 401);
    let e = run(&Presented {
        cookie: Some("theme=dark"),
        ..Presented::default()
    })
    .unwrap_err();
    assert_eq!(e.status(), 401);
    assert!(e.message().contains("cookie `session`"), "{}", e.message());
}

#[test]
fn the_origin_check_applies_in_every_auth_mode_and_bad_lists_are_reported() {
    let lookup = |vars: &'static [(&'static str, &'static str)]| {
        AuthConfig::from_lookup(move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        })
    };
    let open = lookup(&[
        ("AUTH_MODE", "none"),
        ("ALLOWED_ORIGINS", "https://a.example"),
    ]);
    let from = |origin| Presented {
        origin: Some(origin),
        ..Presented::default()
    };
    assert!(
        livestore_sync_rs::auth::authorize(&open, "s", &from("https://a.example"), NOW).is_ok()
    );
    assert_eq!(
        livestore_sync_rs::auth::authorize(&open, "s", &from("https://b.example"), NOW)
            .unwrap_err()
            .status(),
        403
    );
    for bad in [
        "*",
        "https://a.example/path",
        "a.example",
        "https://*.example",
    ] {
        let e = livestore_sync_rs::auth::parse_origins(Some(bad)).unwrap_err();
        assert!(e.to_string().contains("ALLOWED_ORIGINS"), "{e}");
    }
    let header = config(&[("AUTH_HEADER", "x-token")]);
    let token = hs(json!({}), Some(60));
    let p = Presented {
        header: Some(&token),
        ..Presented::default()
    };
    assert!(livestore_sync_rs::auth::authorize(&header, "s", &p, NOW).is_ok());
    let bad_name = config(&[("AUTH_HEADER", "x token")]);
    assert_eq!(
        livestore_sync_rs::auth::authorize(&bad_name, "s", &p, NOW)
            .unwrap_err()
            .status(),
        500
    );
}
