//! Passwords (argon2id), the session keys that say who is signed in, the
//! per-session CSRF token, and the sessionless one of the sign-in and join
//! forms.

use std::sync::LazyLock;

use crate::db::Db;
use anyhow::Context as _;
use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use axum::http::{HeaderMap, HeaderValue, header};
use blake2::Blake2bMac;
use blake2::digest::consts::U32;
use blake2::digest::{KeyInit, Mac};
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
/// Session key: the OpenID Connect issuer the member signed in with (so
/// signing out can offer to sign out there too).
pub const SIGNED_IN_WITH: &str = "signed_in_with";

/// The password hash of a member who has no Cafe password (made at their
/// first sign-in with the organisation's account): argon2 cannot parse it,
/// so no password matches it.
pub const NO_PASSWORD: &str = "!none";

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
    hex(&bytes)
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

/// The cookie holding a visitor's random CSRF value before they sign in or
/// join. The forms carry a MAC of it under the site's key, so a POST is
/// checked against the cookie it came with (double submit) and a forger who
/// can plant a cookie still cannot make the token that matches it.
pub const CSRF_COOKIE: &str = "cafe_csrf";

/// Keyed BLAKE2b with a 32-byte tag: the MAC of the forms' tokens.
type FormMac = Blake2bMac<U32>;

/// The site's key named `name` in `site_secrets` (32 random bytes made on
/// first use), the same for every process serving the site.
pub async fn site_key(pool: &Db, name: &str) -> anyhow::Result<Vec<u8>> {
    let mut fresh = [0u8; 32];
    rand::rng().fill_bytes(&mut fresh);
    crate::accounts::db::site_secret(pool, name, &fresh)
        .await
        .with_context(|| format!("cannot read the site's {name} key"))
}

/// The site's key for the sessionless forms' tokens, made once and kept in
/// the database (`site_secrets`), so every process serving it and every
/// restart accept each other's forms. No `Debug`: it is a secret.
#[derive(Clone)]
pub struct CsrfKey(FormMac);

impl CsrfKey {
    /// Reads the site's key, making it on first start.
    pub async fn load(pool: &Db) -> anyhow::Result<CsrfKey> {
        CsrfKey::from_bytes(&site_key(pool, "csrf").await?)
    }

    fn from_bytes(key: &[u8]) -> anyhow::Result<CsrfKey> {
        if key.len() < 32 {
            anyhow::bail!("the stored CSRF key is too short");
        }
        let mac = <FormMac as KeyInit>::new_from_slice(key)
            .map_err(|_| anyhow::anyhow!("the stored CSRF key is too long"))?;
        Ok(CsrfKey(mac))
    }

    fn tag(&self, cookie: &str) -> FormMac {
        self.0
            .clone()
            .chain_update(b"cafe anonymous form\0")
            .chain_update(cookie.as_bytes())
    }

    /// The token the forms of the visitor holding `cookie` carry (hex).
    pub fn token_for(&self, cookie: &str) -> String {
        hex(&self.tag(cookie).finalize().into_bytes())
    }

    /// Whether `given` is the token for `cookie`; compared in constant time.
    pub fn verify(&self, cookie: &str, given: &str) -> bool {
        match unhex(given) {
            Some(bytes) => self.tag(cookie).verify_slice(&bytes).is_ok(),
            None => false,
        }
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Lower-case hex to bytes; `None` for anything else (or an odd length).
pub(crate) fn unhex(text: &str) -> Option<Vec<u8>> {
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    bytes
        .chunks(2)
        .map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?))
        .collect()
}

/// The visitor's CSRF cookie value, if the request carries one that this
/// site could have made ([`random_token`]: 64 lower-case hex digits).
pub fn form_cookie(headers: &HeaderMap) -> Option<&str> {
    cookie(headers, CSRF_COOKIE).filter(|value| value.len() == 64 && unhex(value).is_some())
}

/// The value of the first cookie called `wanted` the request sent.
pub fn cookie<'h>(headers: &'h HeaderMap, wanted: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|cookies| cookies.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == wanted)
        .map(|(_, value)| value)
}

/// `Set-Cookie` for a new CSRF cookie `value` (for the browser's session:
/// a form is filled in soon after it is shown).
pub fn set_form_cookie(value: &str, secure: bool) -> Option<HeaderValue> {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{CSRF_COOKIE}={value}; HttpOnly; SameSite=Lax; Path=/{secure}"
    ))
    .ok()
}

/// `Set-Cookie` that removes the CSRF cookie once the visitor has a session
/// (whose own token the forms then carry).
pub fn clear_form_cookie(secure: bool) -> Option<HeaderValue> {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{CSRF_COOKIE}=; Max-Age=0; HttpOnly; SameSite=Lax; Path=/{secure}"
    ))
    .ok()
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

    #[test]
    fn a_form_token_verifies_only_for_its_own_cookie_and_key() {
        let key = CsrfKey::from_bytes(&[7; 32]).unwrap();
        let other_key = CsrfKey::from_bytes(&[8; 32]).unwrap();
        let cookie = random_token();
        let token = key.token_for(&cookie);
        assert_eq!(token.len(), 64);
        assert!(key.verify(&cookie, &token));
        assert!(!key.verify(&random_token(), &token), "another cookie");
        assert!(!other_key.verify(&cookie, &token), "another site's key");
        assert!(!key.verify(&cookie, &token[..62]), "a shorter token");
        assert!(!key.verify(&cookie, &token.to_uppercase()), "not our hex");
        assert!(!key.verify(&cookie, ""));
        assert!(CsrfKey::from_bytes(&[1; 16]).is_err(), "a short key");
    }

    #[test]
    fn only_a_well_formed_csrf_cookie_is_read() {
        let value = random_token();
        let mut headers = HeaderMap::new();
        let cookie = format!("other=1; cafe_csrf={value}; cafe_session=x");
        headers.insert(header::COOKIE, cookie.parse().unwrap());
        assert_eq!(form_cookie(&headers), Some(value.as_str()));
        headers.insert(header::COOKIE, "cafe_csrf=short".parse().unwrap());
        assert_eq!(form_cookie(&headers), None);
        headers.insert(header::COOKIE, "xcafe_csrf=1".parse().unwrap());
        assert_eq!(form_cookie(&headers), None);
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
