//! HS256 JWTs for Centrifugo, signed with the bytes of `client.token.hmac_secret_key`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{EncodingKey, Header, encode};
use serde::Serialize;

#[derive(Serialize)]
struct ConnectionClaims<'a> {
    sub: &'a str,
    exp: u64,
    iat: u64,
}

#[derive(Serialize)]
struct SubscriptionClaims<'a> {
    sub: &'a str,
    channel: &'a str,
    exp: u64,
    iat: u64,
}

/// A connection token for `user_id` (claims `sub`, `exp`, `iat`), valid for `ttl`.
pub fn connection_token(secret: &str, user_id: &str, ttl: Duration) -> String {
    let (iat, exp) = times(ttl);
    sign(
        secret,
        &ConnectionClaims {
            sub: user_id,
            exp,
            iat,
        },
    )
}

/// A subscription token letting `user_id` join exactly `channel` (claims `sub`, `channel`,
/// `exp`, `iat`), valid for `ttl`. `user_id` must be the user of the connection that uses it.
pub fn subscription_token(secret: &str, user_id: &str, channel: &str, ttl: Duration) -> String {
    let (iat, exp) = times(ttl);
    sign(
        secret,
        &SubscriptionClaims {
            sub: user_id,
            channel,
            exp,
            iat,
        },
    )
}

fn times(ttl: Duration) -> (u64, u64) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    // Round the lifetime up so a sub-second ttl still yields a token that is valid now.
    let ttl = ttl.as_secs() + u64::from(ttl.subsec_nanos() > 0);
    (now, now.saturating_add(ttl))
}

fn sign<T: Serialize>(secret: &str, claims: &T) -> String {
    // HS256 accepts any key length and these claims always serialize, so this cannot fail.
    encode(
        &Header::default(),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("HS256 signing of plain claims cannot fail")
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{DecodingKey, Validation, decode};
    use serde_json::Value;

    fn claims(token: &str, secret: &str) -> Value {
        let mut validation = Validation::new(jsonwebtoken::Algorithm::HS256);
        validation.required_spec_claims = ["exp", "sub"].into_iter().map(String::from).collect();
        decode::<Value>(
            token,
            &DecodingKey::from_secret(secret.as_bytes()),
            &validation,
        )
        .expect("valid token")
        .claims
    }

    #[test]
    fn connection_token_has_sub_exp_iat() {
        let token = connection_token("s3cret", "42", Duration::from_secs(60));
        let c = claims(&token, "s3cret");
        assert_eq!(c["sub"], "42");
        let iat = c["iat"].as_u64().expect("iat");
        assert_eq!(c["exp"].as_u64().expect("exp"), iat + 60);
        assert_eq!(c.as_object().expect("object").len(), 3);
    }

    #[test]
    fn subscription_token_names_the_channel() {
        let token = subscription_token("s3cret", "7", "room:1", Duration::from_millis(1500));
        let c = claims(&token, "s3cret");
        assert_eq!(c["sub"], "7");
        assert_eq!(c["channel"], "room:1");
        assert_eq!(
            c["exp"].as_u64().expect("exp"),
            c["iat"].as_u64().expect("iat") + 2
        );
    }

    #[test]
    fn wrong_secret_is_rejected() {
        let token = connection_token("s3cret", "42", Duration::from_secs(60));
        let validation = Validation::new(jsonwebtoken::Algorithm::HS256);
        assert!(decode::<Value>(&token, &DecodingKey::from_secret(b"other"), &validation).is_err());
    }
}
