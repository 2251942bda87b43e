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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyError(pub String);

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
            let set: Value = serde_json::from_str(jwks)
                .map_err(|e| KeyError(format!("JWT_JWKS is not valid JSON: {e}")))?;
            let list = set
                .get("keys")
                .and_then(Value::as_array)
                .ok_or_else(|| KeyError("JWT_JWKS must be a JWK set: {\"keys\": [...]}".into()))?;
            for (i, jwk) in list.iter().enumerate() {
                let kid = jwk
                    .get("kid")
                    .and_then(Value::as_str)
                    .ok_or_else(|| KeyError(format!("JWT_JWKS key {i} has no kid")))?
                    .to_owned();
                let key =
                    parse_jwk(jwk).map_err(|e| KeyError(format!("JWT_JWKS key {kid:?}: {e}")))?;
                keys.insert(kid, key);
            }
        }
        if let Some(s) = secret {
            if s.len() < 32 {
                return Err(KeyError("JWT_SECRET must be at least 32 characters".into()));
            }
        }
        if secret.is_none() && keys.is_empty() {
            return Err(KeyError(
                "Authentication is not configured: set the JWT_SECRET secret or the JWT_JWKS var \
                 (or AUTH_MODE=none to allow every client)"
                    .into(),
            ));
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

fn parse_jwk(jwk: &Value) -> Result<PublicKey, String> {
    let alg = jwk.get("alg").and_then(Value::as_str);
    let parsed: JsonWebKey<'_> = serde_json::from_value(jwk.clone()).map_err(|e| e.to_string())?;
    let kty = jwk.get("kty").and_then(Value::as_str).unwrap_or("");
    let crv = jwk.get("crv").and_then(Value::as_str);
    match (kty, crv, alg) {
        ("RSA", _, None | Some("RS256")) => RsaPublicKey::try_from(&parsed)
            .map(PublicKey::Rs256)
            .map_err(|e| e.to_string()),
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
