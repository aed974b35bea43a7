//! Signed session tokens (JWT).
//!
//! The algorithm is pinned to HS256 on both ends: a token with `alg: none`, another algorithm, a bad
//! signature or an `exp` in the past is refused, with no leeway.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::secrets::Secret;

/// What a token says.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// The user.
    pub sub: Uuid,
    /// The login session (a row of `login_sessions`).
    pub sid: Uuid,
    /// Issued at, seconds since the epoch.
    pub iat: i64,
    /// Expires at, seconds since the epoch.
    pub exp: i64,
}

/// What a token for one app's own host says: that the platform vouches for user `sub` on app `app`.
/// It has no `sid`, so it never passes as a platform session token ([`Claims`] requires one); the
/// login session it came from is `login`, so logging out ends it too.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AppClaims {
    pub sub: Uuid,
    pub app: Uuid,
    pub login: Uuid,
    /// `entry` (the one-minute ticket in the redirect to the app's host) or `session` (the cookie).
    pub kind: String,
    pub iat: i64,
    pub exp: i64,
}

/// The keys that sign and verify tokens.
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKeys(..)")
    }
}

impl TokenKeys {
    pub fn new(secret: &Secret) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.leeway = 0;
        validation.validate_exp = true;
        validation.set_required_spec_claims(&["exp", "sub"]);
        TokenKeys {
            encoding: EncodingKey::from_secret(secret.expose()),
            decoding: DecodingKey::from_secret(secret.expose()),
            validation,
        }
    }

    /// Signs `claims`.
    pub fn issue(&self, claims: &Claims) -> anyhow::Result<String> {
        Ok(jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)?)
    }

    /// Checks a token's algorithm, signature and expiry, and returns its claims.
    pub fn verify(&self, token: &str) -> Option<Claims> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).ok().map(|data| data.claims)
    }

    /// Signs app-scoped `claims`.
    pub fn issue_app(&self, claims: &AppClaims) -> anyhow::Result<String> {
        Ok(jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)?)
    }

    /// Checks an app-scoped token like [`TokenKeys::verify`], and that it is of `kind` for `app`.
    pub fn verify_app(&self, token: &str, app: Uuid, kind: &str) -> Option<AppClaims> {
        let claims = jsonwebtoken::decode::<AppClaims>(token, &self.decoding, &self.validation)
            .ok()
            .map(|data| data.claims)?;
        (claims.app == app && claims.kind == kind).then_some(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    fn keys() -> TokenKeys {
        TokenKeys::new(&Secret::from_bytes(vec![7; 32]))
    }

    fn claims(exp_offset: i64) -> Claims {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        Claims { sub: Uuid::new_v4(), sid: Uuid::new_v4(), iat: now, exp: now + exp_offset }
    }

    #[test]
    fn app_tokens_are_not_session_tokens_and_are_bound_to_their_app_and_kind() {
        let keys = keys();
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let app = Uuid::new_v4();
        let claims = AppClaims {
            sub: Uuid::new_v4(),
            app,
            login: Uuid::new_v4(),
            kind: "session".into(),
            iat: now,
            exp: now + 60,
        };
        let token = keys.issue_app(&claims).unwrap();
        assert!(keys.verify(&token).is_none(), "never a platform session");
        assert!(keys.verify_app(&token, app, "session").is_some());
        assert!(keys.verify_app(&token, app, "entry").is_none());
        assert!(keys.verify_app(&token, Uuid::new_v4(), "session").is_none());
        let session = keys
            .issue(&super::Claims { sub: claims.sub, sid: claims.login, iat: now, exp: now + 60 })
            .unwrap();
        assert!(keys.verify_app(&session, app, "session").is_none(), "a session token is no app token");
    }

    #[test]
    fn round_trip() {
        let keys = keys();
        let c = claims(60);
        let token = keys.issue(&c).unwrap();
        assert_eq!(keys.verify(&token).unwrap().sid, c.sid);
    }

    #[test]
    fn refuses_expired_forged_and_unsigned() {
        let keys = keys();
        assert!(keys.verify(&keys.issue(&claims(-1)).unwrap()).is_none(), "expired");

        let other = TokenKeys::new(&Secret::from_bytes(vec![8; 32]));
        assert!(keys.verify(&other.issue(&claims(60)).unwrap()).is_none(), "other key");

        let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims(60)).unwrap());
        let none = format!("{}.{body}.", URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#));
        assert!(keys.verify(&none).is_none(), "alg none");

        let hs512 = jsonwebtoken::encode(
            &Header::new(Algorithm::HS512),
            &claims(60),
            &EncodingKey::from_secret(&[7; 32]),
        )
        .unwrap();
        assert!(keys.verify(&hs512).is_none(), "another algorithm with the same key");

        let good = keys.issue(&claims(60)).unwrap();
        let mut parts: Vec<&str> = good.split('.').collect();
        let tampered = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims(3600)).unwrap());
        parts[1] = &tampered;
        assert!(keys.verify(&parts.join(".")).is_none(), "tampered body");
    }
}
