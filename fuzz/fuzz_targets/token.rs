//! Token parsing and verification: `auth::authorize` on arbitrary token text, with a
//! configuration holding an HS256 secret and a JWK set (ES256, EdDSA, RS256 keys), the token in
//! the sync payload and in an `Authorization` header.
//!
//! Input: a first byte choosing the mode, then
//! - even: the token text as is (rarely valid: reaches the parsing and signature checks);
//! - odd: `header JSON` NUL `claims JSON`, signed here with the HS256 secret, so that any header
//!   and claims reach the claim checks (`exp`, `nbf`, `iss`, `aud`, the store claim).
#![no_main]

use std::sync::OnceLock;

use hmac::{Hmac, Mac};
use libfuzzer_sys::fuzz_target;
use livestore_sync_fuzz::{base64url, bounded, Bound};
use livestore_sync_rs::auth::{authorize, AuthConfig, Presented};
use sha2::Sha256;

const SECRET: &str = "0123456789abcdef0123456789abcdef-fuzz-secret";
const NOW: i64 = 1_800_000_000;

/// Measured: see fuzz/README.md (serde_json values of the claims, each twice).
const BOUND: Bound = Bound {
    per_byte: 64,
    base: 64 << 10,
};

fn jwks() -> String {
    let es = r#"{"kty":"EC","crv":"P-256","kid":"es-1","x":"jlM7b6C_e0YluzBmfAH7YH75-LioD-9bMAYocDGHsqM","y":"c-sdveAzGDZtBp-DpvWQAFPHNjPLBBshxV4ahsH0ALQ"}"#;
    let ed = r#"{"kty":"OKP","crv":"Ed25519","kid":"ed-1","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;
    let rsa = r#"{"kty":"RSA","kid":"rs-1","alg":"RS256","n":"winEzz3ghH28fcyl_7TrYRh7vcfLLhChdKp2zY1VdWTZEfnl_ql5IhIii-OTN-6WHQfRwiccRLuhb7qkl31TFDtUPHJf21T_nNGK7ZwCSR0Mrra9tD64MhyTlBQd2Pom1v8poyI8VjNWO136x7u6QVQT3ws4o66o6dJ1Yvi3Hhgqqbf1TPDPw6-8h_iyuILr-eHwe3CGkOBDar_xXP8aWqdiFNFj56rxGITpMhxcab23L3ymyfNPdG4qu9Y5fYaPyfdq0crNSAat-MCtxKo8edGi792uyP_ciDxoEP6J2RSvW4HBpB_46ufeCH7NLn_QX1tVJZCuHvrawvhN6fk3rw","e":"AQAB"}"#;
    format!(r#"{{"keys":[{es},{ed},{rsa}]}}"#)
}

fn config() -> &'static AuthConfig {
    static CONFIG: OnceLock<AuthConfig> = OnceLock::new();
    CONFIG.get_or_init(|| {
        let jwks = jwks();
        let config = AuthConfig::from_lookup(|name| {
            Some(match name {
                "JWT_SECRET" => SECRET.to_owned(),
                "JWT_JWKS" => jwks.clone(),
                "JWT_ISSUER" => "https://issuer.example".to_owned(),
                "JWT_AUDIENCE" => "livestore".to_owned(),
                "JWT_LEEWAY_SECONDS" => "30".to_owned(),
                "JWT_STORE_CLAIM" => "stores".to_owned(),
                _ => return None,
            })
        });
        // a configuration that works: otherwise every token would stop at Misconfigured
        assert!(
            matches!(&config.mode, livestore_sync_rs::auth::AuthMode::Jwt(Ok(_))),
            "{:?}",
            config.mode
        );
        config
    })
}

/// `header.claims.signature`, signed with the HS256 secret whatever the header says.
fn signed(header: &[u8], claims: &[u8]) -> String {
    let signing_input = format!("{}.{}", base64url(header), base64url(claims));
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("any key length");
    mac.update(signing_input.as_bytes());
    format!(
        "{signing_input}.{}",
        base64url(&mac.finalize().into_bytes())
    )
}

fuzz_target!(|data: &[u8]| {
    let config = config();
    let Some((mode, rest)) = data.split_first() else {
        return;
    };
    bounded("token", data.len(), BOUND, || {
        let token = if mode % 2 == 0 {
            String::from_utf8_lossy(rest).into_owned()
        } else {
            let split = rest.iter().position(|b| *b == 0).unwrap_or(rest.len());
            signed(&rest[..split], rest.get(split + 1..).unwrap_or_default())
        };
        let check = |presented: Presented<'_>| authorize(config, "store-1", &presented, NOW);
        let payload = serde_json::json!({ "authToken": token });
        let in_payload = check(Presented {
            payload: Some(&payload),
            ..Presented::default()
        });
        let header = format!("Bearer {token}");
        let in_header = check(Presented {
            authorization: Some(&header),
            ..Presented::default()
        });
        // the same token, the same answer, wherever it is carried (the header is trimmed)
        if token.trim() == token && !token.is_empty() && !token.contains(char::is_whitespace) {
            assert_eq!(in_payload, in_header, "{token}");
        }
        if let Ok(grant) = &in_payload {
            let _ = grant.expired(NOW, 30);
        }
        let _ = in_payload.map_err(|e| (e.status(), e.message().len()));
    });
});
