//! argon2id password hashing (OWASP parameters), off the async threads.

use anyhow::{Context, anyhow};
use argon2::{
    Argon2,
    password_hash::{PasswordHasher, PasswordVerifier},
};

use crate::domain::Password;

/// Hashes a password into a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`).
pub async fn hash(password: &Password) -> anyhow::Result<String> {
    let password = password.clone();
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.expose().as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| anyhow!("argon2 hashing failed: {e}"))
    })
    .await
    .context("hashing task failed")?
}

/// Checks a password against a stored PHC string. `None` still spends the same work on a
/// dummy hash, so an unknown user cannot be told from a wrong password by timing.
pub async fn verify(password: &str, stored: Option<String>) -> anyhow::Result<bool> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || {
        let stored = stored.as_deref().unwrap_or(DUMMY_HASH);
        let ok = Argon2::default()
            .verify_password(password.as_bytes(), stored)
            .is_ok();
        ok && stored != DUMMY_HASH
    })
    .await
    .context("verification task failed")
}

/// A valid argon2id hash of a random password nobody knows, with the default parameters.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$6fsGJjgOLvzMY/Ecx0SDn0NaWLkrj1kDmdAbHRfWBXQ";

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hash_then_verify() {
        let p = Password::parse("correct horse").unwrap();
        let h = hash(&p).await.unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify("correct horse", Some(h.clone())).await.unwrap());
        assert!(!verify("wrong horse!", Some(h)).await.unwrap());
        assert!(!verify("correct horse", None).await.unwrap());
    }
}
