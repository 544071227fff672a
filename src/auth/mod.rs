//! Passwords, access tokens, refresh tokens and sign-in throttling.

pub mod jwt;
pub mod password;
pub mod refresh;
pub mod throttle;

use std::time::Duration;

/// Everything sign-in needs, shared by all requests.
pub struct Auth {
    /// Access-token signer and checker.
    pub access: jwt::AccessTokens,
    /// Lifetime of refresh tokens.
    pub refresh_ttl: Duration,
    /// Sign-in failures per username.
    pub login_throttle: throttle::FailureThrottle,
}

impl Auth {
    /// Auth with the given key and lifetimes; 5 failed sign-ins per username per 5 minutes.
    pub fn new(key: &[u8], access_ttl: Duration, refresh_ttl: Duration) -> Self {
        Self {
            access: jwt::AccessTokens::new(key, access_ttl),
            refresh_ttl,
            login_throttle: throttle::FailureThrottle::new(5, Duration::from_secs(300)),
        }
    }
}
