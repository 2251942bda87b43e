//! JWK set parsing: `AuthConfig::from_lookup` with arbitrary `JWT_JWKS` text (with and without a
//! `JWT_SECRET`), then a token checked against whatever keys it yields: one for each kid the
//! fuzzer is likely to use, so that fuzzed keys reach the signature checks.
#![no_main]

use libfuzzer_sys::fuzz_target;
use livestore_sync_fuzz::{base64url, bounded, Bound};
use livestore_sync_rs::auth::{authorize, AuthConfig, Presented};

const SECRET: &str = "0123456789abcdef0123456789abcdef-fuzz-secret";

/// Measured: see fuzz/README.md (the JSON value of the set, then each key parsed from it).
const BOUND: Bound = Bound {
    per_byte: 64,
    base: 64 << 10,
};

/// A token naming `kid` with algorithm `alg`, its signature 256 arbitrary bytes.
fn token(alg: &str, kid: &str) -> String {
    let header = format!(r#"{{"alg":"{alg}","kid":"{kid}"}}"#);
    let claims = r#"{"exp":1800000100,"stores":["store-1"]}"#;
    format!(
        "{}.{}.{}",
        base64url(header.as_bytes()),
        base64url(claims.as_bytes()),
        base64url(&[0x5a; 256])
    )
}

fuzz_target!(|data: &[u8]| {
    let Some((mode, rest)) = data.split_first() else {
        return;
    };
    bounded("jwks", data.len(), BOUND, || {
        let jwks = String::from_utf8_lossy(rest).into_owned();
        let with_secret = mode % 2 == 1;
        let config = AuthConfig::from_lookup(|name| match name {
            "JWT_JWKS" => Some(jwks.clone()),
            "JWT_SECRET" if with_secret => Some(SECRET.to_owned()),
            "JWT_STORE_CLAIM" => Some("stores".to_owned()),
            _ => None,
        });
        let kid = ["a", "k", "1", "kid"][usize::from(mode / 2 % 4)];
        for alg in ["RS256", "ES256", "EdDSA", "HS256"] {
            let token = token(alg, kid);
            let payload = serde_json::json!({ "authToken": token });
            let answer = authorize(
                &config,
                "store-1",
                &Presented {
                    payload: Some(&payload),
                    ..Presented::default()
                },
                1_800_000_000,
            );
            // a made-up signature never verifies
            assert!(answer.is_err(), "{jwks}");
        }
    });
});
