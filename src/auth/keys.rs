//! Verification keys: an HMAC secret (`JWT_SECRET`) and public keys from a JWK set (`JWT_JWKS`).
//! Each key fixes its own algorithm; the token header only selects a key by `kid`.

use std::collections::HashMap;

use jwt_compact::alg::{
    Ed25519, Es256, Hs256, Hs256Key, Hs384, Hs384Key, Hs512, Hs512Key, Rsa, RsaPublicKey,
};
use jwt_compact::jwk::JsonWebKey;
use jwt_compact::{AlgorithmExt, Claims, UntrustedToken};
use serde_json::{Map, Value};

use super::AuthError;

/// A key or configuration problem, reported at the first request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("JWT_JWKS is not valid JSON: {0}")]
    JwksNotJson(String),
    #[error("JWT_JWKS must be a JWK set: {{\"keys\": [...]}}")]
    JwksNotASet,
    #[error("JWT_JWKS key {0} has no kid")]
    NoKid(usize),
    #[error("JWT_JWKS key {kid:?}: {reason}")]
    BadKey { kid: String, reason: String },
    #[error("JWT_JWKS has two keys with kid {0:?}: each key needs its own kid")]
    DuplicateKid(String),
    #[error("JWT_SECRET must be at least 32 characters")]
    ShortSecret,
    #[error("Authentication is not configured: set the JWT_SECRET secret or the JWT_JWKS var (or AUTH_MODE=none to allow every client)")]
    NoKey,
}

/// The smallest RSA modulus accepted, in bits (RFC 7518 §3.3: "a key of size 2048 bits or larger
/// MUST be used"). A shorter key can be factored, and anyone who does signs tokens.
pub const MIN_RSA_BITS: usize = 2048;

/// A public key from the JWK set, with the one algorithm it verifies.
enum PublicKey {
    Rs256(RsaPublicKey),
    Es256(p256::ecdsa::VerifyingKey),
    EdDsa(ed25519_compact::PublicKey),
}

pub struct Verifier {
    secret: Option<Vec<u8>>,
    keys: HashMap<String, PublicKey>,
}

impl std::fmt::Debug for Verifier {
    // Never print key material.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("kids", &self.keys.keys().collect::<Vec<_>>())
            .finish()
    }
}

type AnyClaims = Claims<Map<String, Value>>;

impl Verifier {
    pub fn from_settings(secret: Option<&str>, jwks: Option<&str>) -> Result<Verifier, KeyError> {
        let mut keys = HashMap::new();
        if let Some(jwks) = jwks {
            let set: Value =
                serde_json::from_str(jwks).map_err(|e| KeyError::JwksNotJson(e.to_string()))?;
            let list = set
                .get("keys")
                .and_then(Value::as_array)
                .ok_or(KeyError::JwksNotASet)?;
            for (i, jwk) in list.iter().enumerate() {
                let kid = jwk
                    .get("kid")
                    .and_then(Value::as_str)
                    .ok_or(KeyError::NoKid(i))?
                    .to_owned();
                let key = parse_jwk(jwk).map_err(|reason| KeyError::BadKey {
                    kid: kid.clone(),
                    reason,
                })?;
                // a token names its key by kid: two keys under one kid would leave it to the
                // order of the set which one verifies
                if keys.insert(kid.clone(), key).is_some() {
                    return Err(KeyError::DuplicateKid(kid));
                }
            }
        }
        if let Some(s) = secret {
            if s.len() < 32 {
                return Err(KeyError::ShortSecret);
            }
        }
        if secret.is_none() && keys.is_empty() {
            return Err(KeyError::NoKey);
        }
        Ok(Verifier {
            secret: secret.map(|s| s.as_bytes().to_vec()),
            keys,
        })
    }

    /// Verifies the signature with the key the configuration assigns, returning the claims.
    pub fn verify(&self, token: &UntrustedToken<'_>) -> Result<AnyClaims, AuthError> {
        let bad = |e: jwt_compact::ValidationError| {
            AuthError::Unauthorized(format!("Invalid token: {e}"))
        };
        let kid = token.header().key_id.as_deref();
        if let Some(key) = kid.and_then(|k| self.keys.get(k)) {
            let claims = match key {
                PublicKey::Rs256(k) => Rsa::rs256()
                    .validator::<Map<String, Value>>(k)
                    .validate(token),
                PublicKey::Es256(k) => Es256.validator::<Map<String, Value>>(k).validate(token),
                PublicKey::EdDsa(k) => Ed25519.validator::<Map<String, Value>>(k).validate(token),
            };
            return claims.map(|t| t.claims().clone()).map_err(bad);
        }
        let Some(secret) = &self.secret else {
            return Err(AuthError::Unauthorized(match kid {
                Some(k) => format!("Invalid token: unknown key id {k:?}"),
                None => "Invalid token: no key id (kid) and no shared secret configured".into(),
            }));
        };
        let claims = match token.algorithm() {
            "HS256" => Hs256.validator(&Hs256Key::new(secret)).validate(token),
            "HS384" => Hs384.validator(&Hs384Key::new(secret)).validate(token),
            "HS512" => Hs512.validator(&Hs512Key::new(secret)).validate(token),
            other => {
                return Err(AuthError::Unauthorized(match kid {
                    Some(k) => format!("Invalid token: unknown key id {k:?}"),
                    None => format!(
                    "Invalid token: algorithm {other:?} needs a key id (kid) of a configured key"
                ),
                }))
            }
        };
        claims.map(|t| t.claims().clone()).map_err(bad)
    }
}

/// The size of a big-endian modulus in bits (leading zero bits not counted).
fn modulus_bits(modulus: &[u8]) -> usize {
    match modulus.iter().position(|b| *b != 0) {
        Some(first) => (modulus.len() - first) * 8 - modulus[first].leading_zeros() as usize,
        None => 0,
    }
}

fn parse_jwk(jwk: &Value) -> Result<PublicKey, String> {
    let alg = jwk.get("alg").and_then(Value::as_str);
    let parsed: JsonWebKey<'_> = serde_json::from_value(jwk.clone()).map_err(|e| e.to_string())?;
    let kty = jwk.get("kty").and_then(Value::as_str).unwrap_or("");
    let crv = jwk.get("crv").and_then(Value::as_str);
    match (kty, crv, alg) {
        ("RSA", _, None | Some("RS256")) => {
            let bits = match &parsed {
                JsonWebKey::Rsa { modulus, .. } => modulus_bits(modulus),
                _ => 0,
            };
            if bits < MIN_RSA_BITS {
                return Err(format!(
                    "an RSA key of {bits} bits; at least {MIN_RSA_BITS} bits are required"
                ));
            }
            RsaPublicKey::try_from(&parsed)
                .map(PublicKey::Rs256)
                .map_err(|e| e.to_string())
        }
        ("EC", Some("P-256"), None | Some("ES256")) => p256::ecdsa::VerifyingKey::try_from(&parsed)
            .map(PublicKey::Es256)
            .map_err(|e| e.to_string()),
        ("OKP", Some("Ed25519"), None | Some("EdDSA" | "Ed25519")) => {
            ed25519_compact::PublicKey::try_from(&parsed)
                .map(PublicKey::EdDsa)
                .map_err(|e| e.to_string())
        }
        _ => Err(format!(
            "unsupported key (kty {kty:?}, crv {crv:?}, alg {alg:?}); supported: RS256, ES256 (P-256), EdDSA (Ed25519)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // moduli of RSA keys generated for these tests (public exponent 65537)
    const N_1024: &str = "yNMUjE9wa1P0VDfFHr79pRjxuaexgqoSmBZjTljXTYwyQZ41cN0v8wqNiwOHtoDGrghsU2yZWdFMlfdJQQkNWt6q1RjWqRlEUtr9FzzwRMCcPNDzKi-GY4RGC-NOKoCZ9e3VzMHRg7CCl8orKOYnM2RWoHL9jPTeb5HEBLPqpj0";
    const N_2047: &str = "cIivFqgHM3d_0TGbIIY3RwyB_ClS-cMtZbJljIdxQ6CVLpVrlYgH8B7pTtbWnIrfuop3VV6CQWWZKVOi6l6VJcjtm-ExL5P-WW3HBo38-VFjlYYTmkCBpOJeJmp4mF7lzTQsoArocA3rjGQ0wSSR_Bdyr_0yk7xX_ay5ELlF4QMwOwzva4uyeVoSTn_b9rsy3ogimzvQqpuh6vn7pt8xgytr7rQkk8MDRIu-TjJ-WGFf5_xPDLfwaLtSPDA_IdhTW1GBSlPDYziScYcZHltcy4qaIvuolydpX6b3ooKRU9xY0lJjJ0y5gQR44geuM1JmnvtJoc0ptilX40FRiP2xZQ";
    const N_2048: &str = "winEzz3ghH28fcyl_7TrYRh7vcfLLhChdKp2zY1VdWTZEfnl_ql5IhIii-OTN-6WHQfRwiccRLuhb7qkl31TFDtUPHJf21T_nNGK7ZwCSR0Mrra9tD64MhyTlBQd2Pom1v8poyI8VjNWO136x7u6QVQT3ws4o66o6dJ1Yvi3Hhgqqbf1TPDPw6-8h_iyuILr-eHwe3CGkOBDar_xXP8aWqdiFNFj56rxGITpMhxcab23L3ymyfNPdG4qu9Y5fYaPyfdq0crNSAat-MCtxKo8edGi792uyP_ciDxoEP6J2RSvW4HBpB_46ufeCH7NLn_QX1tVJZCuHvrawvhN6fk3rw";

    fn rsa(kid: &str, n: &str) -> String {
        format!(r#"{{"kty":"RSA","kid":"{kid}","alg":"RS256","use":"sig","n":"{n}","e":"AQAB"}}"#)
    }

    fn ed(kid: &str, x: &str) -> String {
        format!(r#"{{"kty":"OKP","crv":"Ed25519","kid":"{kid}","x":"{x}"}}"#)
    }

    fn set(keys: &[String]) -> String {
        format!(r#"{{"keys":[{}]}}"#, keys.join(","))
    }

    fn error(jwks: &str) -> String {
        Verifier::from_settings(None, Some(jwks))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn rsa_keys_under_2048_bits_are_refused_naming_kid_and_size() {
        let err = error(&set(&[rsa("old-1", N_1024)]));
        assert!(err.contains(r#"key "old-1""#), "{err}");
        assert!(err.contains("1024 bits"), "{err}");
        assert!(err.contains("at least 2048"), "{err}");
        // one bit short is short
        let err = error(&set(&[rsa("almost", N_2047)]));
        assert!(
            err.contains(r#""almost""#) && err.contains("2047 bits"),
            "{err}"
        );
        // a leading zero byte does not make a key longer
        let padded = format!("AAAA{N_1024}");
        assert!(error(&set(&[rsa("padded", &padded)])).contains("1024 bits"));
        // a weak key spoils the set even beside good ones (the operator must remove it)
        let err = error(&set(&[rsa("new", N_2048), rsa("old-1", N_1024)]));
        assert!(err.contains("old-1"), "{err}");
        // 2048 bits are enough
        let v = Verifier::from_settings(None, Some(&set(&[rsa("new", N_2048)]))).unwrap();
        assert_eq!(v.keys.len(), 1);
    }

    #[test]
    fn the_modulus_size_counts_significant_bits() {
        assert_eq!(modulus_bits(&[]), 0);
        assert_eq!(modulus_bits(&[0, 0]), 0);
        assert_eq!(modulus_bits(&[1]), 1);
        assert_eq!(modulus_bits(&[0, 0x80, 0]), 16);
        assert_eq!(modulus_bits(&[0x7f; 256]), 2047);
    }

    #[test]
    fn two_keys_with_one_kid_are_a_configuration_error() {
        // the same Ed25519 kid twice, different keys: the second used to replace the first
        let a = ed("k-1", "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo");
        let b = ed("k-1", "_RckOFqgx1tk-3jNYC-h2ZH96_drE8WO1wLqyDXp9hg");
        let err = error(&set(&[a.clone(), b]));
        assert!(err.contains(r#"two keys with kid "k-1""#), "{err}");
        // across key types too
        let err = error(&set(&[a.clone(), rsa("k-1", N_2048)]));
        assert!(err.contains(r#""k-1""#), "{err}");
        // distinct kids are fine
        let c = ed("k-2", "_RckOFqgx1tk-3jNYC-h2ZH96_drE8WO1wLqyDXp9hg");
        let v = Verifier::from_settings(None, Some(&set(&[a, c]))).unwrap();
        assert_eq!(v.keys.len(), 2);
    }
}
