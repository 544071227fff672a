//! Short-lived access tokens: HS256 JWTs, algorithm pinned on decode.

use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// What an access token says.
#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: String,
    /// Expiry, unix seconds.
    pub exp: i64,
    /// Issued at, unix seconds.
    pub iat: i64,
    /// Always `access`, so a token of another kind signed with the same key is refused.
    pub typ: String,
}

/// Signs and checks access tokens.
#[derive(Clone)]
pub struct AccessTokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: Duration,
}

/// A signed-in user, as proven by an access token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Viewer {
    /// The user id.
    pub user_id: i64,
    /// When the token stops being valid, unix seconds.
    pub expires_at: i64,
}

impl AccessTokens {
    /// Tokens signed with `key`, valid for `ttl`.
    pub fn new(key: &[u8], ttl: Duration) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Self {
            encoding: EncodingKey::from_secret(key),
            decoding: DecodingKey::from_secret(key),
            validation,
            ttl,
        }
    }

    /// The lifetime of a new token.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// A new token for `user_id`.
    pub fn issue(&self, user_id: i64) -> anyhow::Result<String> {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: user_id.to_string(),
            iat: now,
            exp: now + self.ttl.as_secs() as i64,
            typ: "access".into(),
        };
        Ok(jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &self.encoding,
        )?)
    }

    /// Checks a token: signature, algorithm, expiry and kind.
    pub fn verify(&self, token: &str) -> Option<Viewer> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).ok()?;
        if data.claims.typ != "access" {
            return None;
        }
        Some(Viewer {
            user_id: data.claims.sub.parse().ok()?,
            expires_at: data.claims.exp,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rejections() {
        let tokens =
            AccessTokens::new(b"k1k1k1k1k1k1k1k1k1k1k1k1k1k1k1k1", Duration::from_secs(60));
        let t = tokens.issue(42).unwrap();
        assert_eq!(tokens.verify(&t).unwrap().user_id, 42);

        let other = AccessTokens::new(b"another key another key another!", Duration::from_secs(60));
        assert!(other.verify(&t).is_none(), "wrong key accepted");
        assert!(tokens.verify("not.a.token").is_none());

        // An expired token (beyond the leeway) is refused.
        let expired = AccessTokens::new(b"k1k1k1k1k1k1k1k1k1k1k1k1k1k1k1k1", Duration::ZERO);
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: "1".into(),
            iat: now - 100,
            exp: now - 60,
            typ: "access".into(),
        };
        let old = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &expired.encoding)
            .unwrap();
        assert!(tokens.verify(&old).is_none());

        // Another algorithm with the same key is refused (algorithm pinned).
        let hs512 = jsonwebtoken::encode(
            &Header::new(Algorithm::HS512),
            &Claims {
                sub: "1".into(),
                iat: now,
                exp: now + 60,
                typ: "access".into(),
            },
            &tokens.encoding,
        )
        .unwrap();
        assert!(tokens.verify(&hs512).is_none());
    }
}
