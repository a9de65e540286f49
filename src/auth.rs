//! Passwords (argon2id), the session keys that say who is signed in, and the
//! per-session CSRF token.

use std::sync::LazyLock;

use anyhow::Context as _;
use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use rand::RngCore;
use tokio::sync::Semaphore;
use tower_sessions::Session;

/// Session key: the signed-in user's id.
pub const USER_ID: &str = "user_id";
/// Session key: the user's `auth_epoch` at sign-in; a later bump (password
/// change, block) ends the session.
pub const AUTH_EPOCH: &str = "auth_epoch";
/// Session key: unix time of sign-in, for the absolute session lifetime.
pub const SIGNED_IN_AT: &str = "signed_in_at";
/// Session key: unix time the session was last re-saved to extend its idle expiry.
pub const SEEN_AT: &str = "seen_at";
/// Session key: the CSRF token every form of this session carries.
pub const CSRF: &str = "csrf";

/// Argon2 is deliberately slow and memory hungry (19 MiB per hash): at most
/// this many run at once, so a burst of sign-ins cannot exhaust memory or
/// starve page views of CPU.
pub static HASHING: Semaphore = Semaphore::const_new(2);

/// Hashes a password with argon2id and the crate's default (OWASP) parameters.
pub async fn hash_password(password: String) -> anyhow::Result<String> {
    let _permit = HASHING
        .acquire()
        .await
        .context("hashing semaphore closed")?;
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|hash| hash.to_string())
            .map_err(|err| anyhow::anyhow!("cannot hash a password: {err}"))
    })
    .await
    .context("hashing task failed")?
}

/// A hash of a random password, verified against when the user does not
/// exist so that an unknown user takes as long as a wrong password.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    let mut secret = [0u8; 16];
    rand::rng().fill_bytes(&mut secret);
    Argon2::default()
        .hash_password(&secret)
        .map(|hash| hash.to_string())
        .unwrap_or_default()
});

/// Checks a password against a stored hash, or against a dummy hash when
/// there is no user, so both cases cost the same.
pub async fn verify_password(password: String, hash: Option<String>) -> bool {
    let Ok(_permit) = HASHING.acquire().await else {
        return false;
    };
    tokio::task::spawn_blocking(move || {
        let (hash, real) = match hash {
            Some(hash) => (hash, true),
            None => (DUMMY_HASH.clone(), false),
        };
        let ok = Argon2::default()
            .verify_password(password.as_bytes(), hash.as_str())
            .is_ok();
        ok && real
    })
    .await
    .unwrap_or(false)
}

/// Computes the dummy hash ahead of the first sign-in attempt.
pub fn warm_up() {
    LazyLock::force(&DUMMY_HASH);
}

/// A fresh random token: 32 bytes, hex.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The session's CSRF token, created (which creates the session) if needed.
pub async fn ensure_csrf(session: &Session) -> Result<String, tower_sessions::session::Error> {
    if let Some(token) = session.get::<String>(CSRF).await? {
        return Ok(token);
    }
    let token = random_token();
    session.insert(CSRF, &token).await?;
    Ok(token)
}

/// Compares tokens in time independent of where they differ.
pub fn tokens_match(expected: &str, given: &str) -> bool {
    if expected.is_empty() || expected.len() != given.len() {
        return false;
    }
    expected
        .bytes()
        .zip(given.bytes())
        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
        == 0
}

/// Starts a signed-in session: a new session id (so a planted id is useless),
/// the user's id and epoch, and a new CSRF token.
pub async fn start_session(
    session: &Session,
    user_id: i64,
    auth_epoch: i64,
) -> Result<(), tower_sessions::session::Error> {
    session.cycle_id().await?;
    session.insert(USER_ID, user_id).await?;
    session.insert(AUTH_EPOCH, auth_epoch).await?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    session.insert(SIGNED_IN_AT, now).await?;
    session.insert(SEEN_AT, now).await?;
    session.insert(CSRF, random_token()).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_match_only_when_equal_and_non_empty() {
        assert!(tokens_match("abc", "abc"));
        assert!(!tokens_match("abc", "abd"));
        assert!(!tokens_match("abc", "ab"));
        assert!(!tokens_match("", ""));
    }

    #[tokio::test]
    async fn a_hashed_password_verifies_and_a_wrong_one_does_not() {
        let hash = hash_password("correct horse battery".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery".into(), Some(hash.clone())).await);
        assert!(!verify_password("wrong horse battery".into(), Some(hash)).await);
        assert!(!verify_password("anything at all".into(), None).await);
    }
}
