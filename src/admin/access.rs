//! Who may use the admin API: whoever presents `ADMIN_SECRET` as a bearer token. Nothing else is
//! accepted (a sync JWT is not), and the comparison takes the same time wherever the first
//! differing byte is.

use super::AdminError;

/// The shortest `ADMIN_SECRET` accepted: shorter ones are a configuration error, not an open door.
pub const MIN_SECRET_LEN: usize = 16;

/// The admin API's configuration.
#[derive(Clone, PartialEq, Eq)]
pub enum AdminAccess {
    /// No `ADMIN_SECRET`: the routes do not exist (`404`).
    Disabled,
    /// `ADMIN_SECRET` is too short to be a secret (`500` naming the setting).
    Misconfigured(String),
    Enabled {
        secret: String,
    },
}

/// Never prints the secret.
impl std::fmt::Debug for AdminAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AdminAccess::Disabled => f.write_str("Disabled"),
            AdminAccess::Misconfigured(why) => f.debug_tuple("Misconfigured").field(why).finish(),
            AdminAccess::Enabled { .. } => f.write_str("Enabled { secret: <redacted> }"),
        }
    }
}

/// Why a request was refused, for the log line (never the value sent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Missing,
    Malformed,
    Wrong,
}

impl Refusal {
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::Missing => "missing",
            Refusal::Malformed => "not a bearer token",
            Refusal::Wrong => "wrong secret",
        }
    }
}

impl AdminAccess {
    pub fn from_secret(secret: Option<String>) -> AdminAccess {
        match secret {
            None => AdminAccess::Disabled,
            Some(s) if s.is_empty() => AdminAccess::Disabled,
            Some(s) if s.len() < MIN_SECRET_LEN => AdminAccess::Misconfigured(format!(
                "ADMIN_SECRET must be at least {MIN_SECRET_LEN} characters"
            )),
            Some(secret) => AdminAccess::Enabled { secret },
        }
    }

    /// Checks the `Authorization` header of an admin request.
    pub fn check(&self, authorization: Option<&str>) -> Result<(), (AdminError, Option<Refusal>)> {
        let secret = match self {
            AdminAccess::Disabled => return Err((AdminError::new(404, "Not found"), None)),
            AdminAccess::Misconfigured(why) => {
                return Err((AdminError::new(500, why.clone()), None))
            }
            AdminAccess::Enabled { secret } => secret,
        };
        let refused = |r: Refusal| {
            Err((
                AdminError::new(401, format!("Admin authorization {}", r.as_str())),
                Some(r),
            ))
        };
        let Some(header) = authorization.map(str::trim).filter(|h| !h.is_empty()) else {
            return refused(Refusal::Missing);
        };
        let Some(token) = crate::auth::bearer(header) else {
            return refused(Refusal::Malformed);
        };
        if constant_time_eq(token.as_bytes(), secret.as_bytes()) {
            Ok(())
        } else {
            refused(Refusal::Wrong)
        }
    }
}

/// Compares two byte strings in time that depends only on their lengths, never on where they
/// differ (`subtle`'s comparison, which the optimiser cannot turn into an early exit).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "an-admin-secret-of-some-length";

    #[test]
    fn only_the_right_bearer_secret_is_accepted() {
        let access = AdminAccess::from_secret(Some(SECRET.into()));
        assert_eq!(access.check(Some(&format!("Bearer {SECRET}"))), Ok(()));
        assert_eq!(access.check(Some(&format!("bearer  {SECRET} "))), Ok(()));
        let refusal = |h: Option<&str>| access.check(h).unwrap_err();
        assert_eq!(refusal(None).1, Some(Refusal::Missing));
        assert_eq!(refusal(Some("")).1, Some(Refusal::Missing));
        assert_eq!(refusal(Some(SECRET)).1, Some(Refusal::Malformed));
        assert_eq!(
            refusal(Some(&format!("Basic {SECRET}"))).1,
            Some(Refusal::Malformed)
        );
        let (e, r) = refusal(Some(&format!("Bearer {SECRET}x")));
        assert_eq!((e.status, r), (401, Some(Refusal::Wrong)));
        assert!(!e.reason.contains(SECRET), "the value is never echoed");
        // a sync JWT is just a wrong secret here
        assert_eq!(
            refusal(Some("Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig")).1,
            Some(Refusal::Wrong)
        );
    }

    #[test]
    fn disabled_is_404_and_a_short_secret_is_a_configuration_error() {
        assert_eq!(
            AdminAccess::from_secret(None)
                .check(Some("Bearer x"))
                .unwrap_err()
                .0
                .status,
            404
        );
        assert_eq!(
            AdminAccess::from_secret(Some(String::new())),
            AdminAccess::Disabled
        );
        let short = AdminAccess::from_secret(Some("short".into()));
        let (e, _) = short.check(Some("Bearer short")).unwrap_err();
        assert_eq!(e.status, 500);
        assert!(e.reason.contains("ADMIN_SECRET"));
    }

    #[test]
    fn constant_time_comparison_is_a_comparison() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(!constant_time_eq(b"", b"a"));
        assert!(constant_time_eq(b"", b""));
    }
}
