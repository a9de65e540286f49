//! E-mail (issue 18): a member's address and delivery choice, the durable
//! outbox every mail goes through ([`outbox`]), the mail for each change
//! ([`notify`]), and one-click unsubscribe.
//!
//! Nothing is sent from the request that saves a change: a change writes
//! its one event as before; [`notify`] reads the events after its cursor,
//! queues mails in the outbox, and [`outbox`] hands them to the SMTP
//! server, retrying with back-off. Both run as background tasks of the
//! server ([`spawn`]), with the daily and weekly [`digest`]s; tests and
//! operators can run a round at once ([`notify::run_once`],
//! [`outbox::send_due`], [`digest::send`], `cafe digest send`).

pub mod db;
pub mod digest;
pub mod notify;
pub mod outbox;
pub mod routes;
pub mod smtp;

use std::sync::Arc;
use std::time::Duration;

use blake2::Blake2bMac;
use blake2::digest::consts::U32;
use blake2::digest::{KeyInit, Mac};

use crate::db::Db;
use crate::state::AppState;

/// How a member wants to hear of changes to what they watch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// A mail for each change (coalesced, one per page until seen).
    Each,
    Daily,
    Weekly,
    /// No mail; the Following page only.
    Off,
}

impl Delivery {
    pub const ALL: [Delivery; 4] = [
        Delivery::Each,
        Delivery::Daily,
        Delivery::Weekly,
        Delivery::Off,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Delivery::Each => "each",
            Delivery::Daily => "daily",
            Delivery::Weekly => "weekly",
            Delivery::Off => "off",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Delivery::Each => "A mail for each change",
            Delivery::Daily => "A daily digest",
            Delivery::Weekly => "A weekly digest",
            Delivery::Off => "No mail",
        }
    }

    pub fn parse(raw: &str) -> Option<Delivery> {
        Delivery::ALL.into_iter().find(|d| d.as_str() == raw)
    }

    /// The subscription an unsubscribe link of this delivery ends.
    pub fn subscription(self) -> Option<Subscription> {
        match self {
            Delivery::Each => Some(Subscription::Each),
            Delivery::Daily | Delivery::Weekly => Some(Subscription::Digest),
            Delivery::Off => None,
        }
    }
}

/// What one unsubscribe link ends: the mail for each change, the digests,
/// or the questions members send through Cafe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subscription {
    Each,
    Digest,
    Questions,
}

impl Subscription {
    pub fn as_str(self) -> &'static str {
        match self {
            Subscription::Each => "each",
            Subscription::Digest => "digest",
            Subscription::Questions => "questions",
        }
    }

    fn parse(raw: &str) -> Option<Subscription> {
        match raw {
            "each" => Some(Subscription::Each),
            "digest" => Some(Subscription::Digest),
            "questions" => Some(Subscription::Questions),
            _ => None,
        }
    }

    /// The deliveries this subscription covers (none: questions are not
    /// a delivery of changes).
    pub fn deliveries(self) -> &'static [&'static str] {
        match self {
            Subscription::Each => &["each"],
            Subscription::Digest => &["daily", "weekly"],
            Subscription::Questions => &[],
        }
    }
}

/// An e-mail address a member gave: one `@`, something on each side, a
/// dot in the domain, no spaces or angle brackets, and what lettre accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailAddress(String);

impl EmailAddress {
    /// `Ok(None)` for an empty field (no address: no mail).
    pub fn parse(raw: &str) -> Result<Option<EmailAddress>, &'static str> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Ok(None);
        }
        let refuse = "That is not an e-mail address: give one like name@example.org.";
        if raw.len() > 254
            || raw.chars().any(|c| c.is_whitespace() || c.is_control())
            || raw.contains(['<', '>', ',', ';', '"', '(', ')'])
        {
            return Err(refuse);
        }
        let Some((local, domain)) = raw.rsplit_once('@') else {
            return Err(refuse);
        };
        if local.is_empty() || local.contains('@') || !domain.contains('.') {
            return Err(refuse);
        }
        if domain.starts_with('.') || domain.ends_with('.') || domain.contains("..") {
            return Err(refuse);
        }
        if raw.parse::<lettre::Address>().is_err() {
            return Err(refuse);
        }
        Ok(Some(EmailAddress(format!(
            "{local}@{}",
            domain.to_ascii_lowercase()
        ))))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

type LinkMac = Blake2bMac<U32>;

/// Signs unsubscribe links: a MAC of the member's id and the subscription
/// under a key the site makes once and keeps in `site_secrets`, so that a
/// link works on every instance and after restarts, only for that member
/// and that subscription. No `Debug`: it is a secret.
#[derive(Clone)]
pub struct UnsubscribeKey(LinkMac);

impl UnsubscribeKey {
    pub async fn load(pool: &Db) -> anyhow::Result<UnsubscribeKey> {
        UnsubscribeKey::from_bytes(&crate::auth::site_key(pool, "unsubscribe").await?)
    }

    fn from_bytes(key: &[u8]) -> anyhow::Result<UnsubscribeKey> {
        let mac = <LinkMac as KeyInit>::new_from_slice(key)
            .map_err(|_| anyhow::anyhow!("the stored unsubscribe key has a bad length"))?;
        Ok(UnsubscribeKey(mac))
    }

    fn tag(&self, user_id: i64, subscription: Subscription) -> LinkMac {
        self.0
            .clone()
            .chain_update(b"cafe unsubscribe\0")
            .chain_update(user_id.to_string().as_bytes())
            .chain_update(b"\0")
            .chain_update(subscription.as_str().as_bytes())
    }

    /// `{user_id}.{subscription}.{mac hex}`.
    pub fn token(&self, user_id: i64, subscription: Subscription) -> String {
        let mac = crate::auth::hex(&self.tag(user_id, subscription).finalize().into_bytes());
        format!("{user_id}.{}.{mac}", subscription.as_str())
    }

    /// The member and subscription a token was made for, if this site made
    /// it (compared in constant time).
    pub fn verify(&self, token: &str) -> Option<(i64, Subscription)> {
        let mut parts = token.splitn(3, '.');
        let user_id: i64 = parts.next()?.parse().ok()?;
        let subscription = Subscription::parse(parts.next()?)?;
        let mac = crate::auth::unhex(parts.next()?)?;
        self.tag(user_id, subscription)
            .verify_slice(&mac)
            .ok()
            .map(|()| (user_id, subscription))
    }
}

/// What the state holds for mail.
pub struct Mail {
    /// The SMTP server, when `--smtp-url` is set.
    pub sender: Option<Arc<smtp::Sender>>,
    pub unsubscribe: UnsubscribeKey,
    /// This process's name in leases (random per start).
    pub owner: String,
}

impl Mail {
    pub async fn new(pool: &Db, config: &crate::config::ServeArgs) -> anyhow::Result<Mail> {
        Ok(Mail {
            sender: smtp::Sender::from_config(config)?.map(Arc::new),
            unsubscribe: UnsubscribeKey::load(pool).await?,
            owner: crate::auth::random_token(),
        })
    }

    /// Whether this site sends mail at all.
    pub fn enabled(&self) -> bool {
        self.sender.is_some()
    }
}

/// Milliseconds since 1970, the outbox's clock.
pub fn now_ms() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp_nanos() as i64 / 1_000_000
}

/// A hash of a verification token, as stored (the token itself is only in
/// the mail).
pub fn token_hash(token: &str) -> String {
    use blake2::Digest as _;
    crate::auth::hex(&blake2::Blake2b::<U32>::digest(token.as_bytes()))
}

/// A member looking at a method page (or anything under it) has "looked
/// at it again": the next change to it may be mailed to them (the rule of
/// one mail per page until looked at, see [`notify`]). Only when the site
/// mails and the member has unseen changes (else they were mailed about
/// nothing unseen), and after the answer, so a page view waits for no
/// write.
pub fn looked_at(state: &AppState, ctx: &crate::web::context::Ctx, path: &str) {
    let Some(slug) = path.strip_prefix("/methods/") else {
        return;
    };
    let slug = slug.split(['/', '?', '#']).next().unwrap_or_default();
    let (Some(user), Some(follow)) = (&ctx.user, &ctx.follow) else {
        return;
    };
    if !state.mail.enabled() || follow.unseen == 0 || slug.is_empty() {
        return;
    }
    let (pool, user_id, slug) = (state.pool.clone(), user.id, slug.to_owned());
    tokio::spawn(async move {
        if let Err(err) = db::looked_at(&pool, user_id, &slug).await {
            tracing::warn!(error = %err, "cannot note a page as looked at");
        }
    });
}

/// Starts the background tasks: the sender and the each-change notifier,
/// every few seconds. Without `--smtp-url`, nothing.
pub fn spawn(state: AppState) {
    if !state.mail.enabled() {
        return;
    }
    let sender_state = state.clone();
    tokio::spawn(async move {
        loop {
            if let Err(err) = outbox::send_due(&sender_state).await {
                tracing::warn!(error = %err, "mail sender");
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    });
    let digest_state = state.clone();
    tokio::spawn(async move {
        loop {
            if let Err(err) = digest::send(&digest_state, false).await {
                tracing::warn!(error = %err, "mail digests");
            }
            tokio::time::sleep(Duration::from_secs(600)).await;
        }
    });
    tokio::spawn(async move {
        loop {
            if let Err(err) = notify::run_once(&state).await {
                tracing::warn!(error = %err, "mail notifier");
            }
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_needs_one_at_and_a_domain_with_a_dot() {
        assert_eq!(
            EmailAddress::parse(" Ann@Example.ORG ").map(|a| a.map(|a| a.0)),
            Ok(Some("Ann@example.org".to_owned()))
        );
        assert_eq!(EmailAddress::parse(""), Ok(None));
        for bad in [
            "ann",
            "ann@",
            "@example.org",
            "ann@example",
            "ann@@example.org",
            "a nn@example.org",
            "ann@example.org\r\nBcc: x@y.z",
            "<ann@example.org>",
            "ann@.example.org",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn an_unsubscribe_token_works_only_for_its_member_subscription_and_site() {
        let key = UnsubscribeKey::from_bytes(&[3; 32]).unwrap();
        let other = UnsubscribeKey::from_bytes(&[4; 32]).unwrap();
        let token = key.token(7, Subscription::Each);
        assert_eq!(key.verify(&token), Some((7, Subscription::Each)));
        assert_eq!(other.verify(&token), None, "another site's key");
        let forged = token.replacen("7.", "8.", 1);
        assert_eq!(key.verify(&forged), None, "another member");
        let digest = token.replacen("each", "digest", 1);
        assert_eq!(key.verify(&digest), None, "another subscription");
        assert_eq!(key.verify("7.each."), None);
        assert_eq!(key.verify(""), None);
    }
}
