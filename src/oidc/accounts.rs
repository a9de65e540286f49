//! From a verified identity to a member: found by issuer and subject (never
//! by e-mail address alone), made on first sign-in, refused when blocked
//! or outside the allowed e-mail domains.

use axum::http::StatusCode;
use serde_json::{Map, Value};
use unicode_normalization::UnicodeNormalization;

use super::db::{self, LinkError};
use super::flow::Verified;
use super::{Settings, SignInError};
use crate::accounts::{Username, parse_display_name};
use crate::db::Db;

/// The member a sign-in ends as.
#[derive(Debug)]
pub struct Member {
    pub id: i64,
    pub auth_epoch: i64,
    /// Made by this sign-in.
    pub created: bool,
}

/// Refuses an identity whose e-mail address is not in an allowed domain
/// (when domains are configured), or is marked unverified.
pub fn check_domain(settings: &Settings, claims: &Map<String, Value>) -> Result<(), SignInError> {
    if settings.allowed_domains.is_empty() {
        return Ok(());
    }
    let email = claims.get("email").and_then(Value::as_str).unwrap_or("");
    let unverified = claims.get("email_verified") == Some(&Value::Bool(false));
    let domain = email
        .rsplit_once('@')
        .map(|(_, domain)| domain.to_ascii_lowercase());
    let allowed = domain.is_some_and(|d| settings.allowed_domains.contains(&d));
    if allowed && !unverified {
        return Ok(());
    }
    Err(SignInError::new(
        StatusCode::FORBIDDEN,
        format!(
            "This site is open to accounts of {} only, and your organisation's sign-in \
             service gave {}. Sign in there with your work account, or ask an \
             administrator.",
            settings.allowed_domains.join(", "),
            if email.is_empty() {
                "no e-mail address".to_owned()
            } else if unverified {
                "an e-mail address it has not verified".to_owned()
            } else {
                "another address".to_owned()
            }
        ),
        format!(
            "e-mail {email:?} (verified: {}) not in the allowed domains",
            !unverified
        ),
    ))
}

/// The member for a verified identity: found by issuer and subject, or
/// made. A blocked member stays blocked whatever the provider says.
pub async fn member_for(
    db: &Db,
    settings: &Settings,
    verified: &Verified,
) -> Result<Member, SignInError> {
    let found = db::member_of(db, &verified.issuer, &verified.subject)
        .await
        .map_err(|err| SignInError::database(&err))?;
    if let Some(linked) = found {
        if linked.blocked {
            return Err(blocked());
        }
        return Ok(Member {
            id: linked.id,
            auth_epoch: linked.auth_epoch,
            created: false,
        });
    }
    let display = display_name(&verified.claims);
    for candidate in candidates(&username_base(
        settings,
        &verified.claims,
        &verified.subject,
    )) {
        let Ok(username) = Username::parse(&candidate) else {
            continue;
        };
        let display = display
            .clone()
            .unwrap_or_else(|| username.as_str().to_owned());
        match db::create_member(db, &verified.issuer, &verified.subject, &username, &display).await
        {
            Ok(Some(id)) => {
                tracing::info!(username = username.as_str(), issuer = %verified.issuer, "account created at first OpenID Connect sign-in");
                return Ok(Member {
                    id,
                    auth_epoch: 0,
                    created: true,
                });
            }
            Ok(None) => continue,
            // The same person's other first sign-in made the member first.
            Err(LinkError::Taken) => return Box::pin(member_for(db, settings, verified)).await,
            Err(LinkError::Db(err)) => return Err(SignInError::database(&err)),
        }
    }
    Err(SignInError::new(
        StatusCode::CONFLICT,
        "No free username could be made for your account. Please ask an administrator.",
        "every username candidate is taken",
    ))
}

/// Links a verified identity to the member who asked for it.
pub async fn link(db: &Db, verified: &Verified, user_id: i64) -> Result<(), SignInError> {
    match db::link(db, &verified.issuer, &verified.subject, user_id).await {
        Ok(()) => Ok(()),
        Err(LinkError::Taken) => Err(SignInError::new(
            StatusCode::CONFLICT,
            "That account at your organisation's sign-in service is already linked to \
             another member here. An administrator can unlink it.",
            "identity linked to another member",
        )),
        Err(LinkError::Db(err)) => Err(SignInError::database(&err)),
    }
}

fn blocked() -> SignInError {
    SignInError::new(
        StatusCode::FORBIDDEN,
        "Your account on this site is blocked, so you cannot sign in. Ask an administrator \
         if you think this is a mistake.",
        "blocked member",
    )
}

/// The display name: `name`, else given and family names, trimmed to what
/// a display name may be; `None` when there is none usable.
fn display_name(claims: &Map<String, Value>) -> Option<String> {
    let text = |key: &str| claims.get(key).and_then(Value::as_str).map(str::trim);
    let name = match text("name").filter(|n| !n.is_empty()) {
        Some(name) => name.to_owned(),
        None => [text("given_name"), text("family_name")]
            .into_iter()
            .flatten()
            .filter(|n| !n.is_empty())
            .collect::<Vec<_>>()
            .join(" "),
    };
    let name: String = name
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(60)
        .collect();
    parse_display_name(&name).ok()
}

/// What a new member's username is made from: the configured claim (of an
/// e-mail address, the part before `@`), else the subject.
fn username_base(settings: &Settings, claims: &Map<String, Value>, subject: &str) -> String {
    let claim = claims
        .get(&settings.username_claim)
        .and_then(Value::as_str)
        .unwrap_or(subject);
    let claim = match claim.split_once('@') {
        Some((local, _)) if !local.is_empty() => local,
        _ => claim,
    };
    normalise(claim)
}

/// Lower case, NFKC; anything but letters, digits, `-`, `_` and `.`
/// becomes `-`, repeats and ends trimmed, at most 28 characters (room for a
/// `-NN` suffix), at least 3.
pub fn normalise(raw: &str) -> String {
    let lowered: String = raw.nfkc().collect::<String>().to_lowercase();
    let mut name = String::new();
    for c in lowered.chars() {
        let c = if c.is_alphanumeric() || matches!(c, '-' | '_' | '.') {
            c
        } else {
            '-'
        };
        if c == '-' && name.ends_with('-') {
            continue;
        }
        name.push(c);
    }
    let name: String = name
        .trim_matches(['-', '_', '.'])
        .chars()
        .take(28)
        .collect();
    let name = name.trim_end_matches(['-', '_', '.']);
    match name.chars().count() {
        0 => "member".to_owned(),
        1 | 2 => format!("{name}-member"),
        _ => name.to_owned(),
    }
}

/// The names tried in turn: `base`, `base-2` … `base-99`.
fn candidates(base: &str) -> impl Iterator<Item = String> + '_ {
    std::iter::once(base.to_owned()).chain((2..100).map(move |n| format!("{base}-{n}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claim_becomes_a_valid_username() {
        assert_eq!(normalise("Grace Hopper"), "grace-hopper");
        assert_eq!(normalise("ＡＤＡ"), "ada");
        assert_eq!(normalise("o'brien  (HQ)"), "o-brien-hq");
        assert_eq!(normalise("--x--"), "x-member");
        assert_eq!(normalise("!!!"), "member");
        assert_eq!(normalise(&"a".repeat(40)).len(), 28);
        for raw in ["Grace Hopper", "ＡＤＡ", "--x--", "!!!", "é.t.é", "a b c d"] {
            assert!(Username::parse(&normalise(raw)).is_ok(), "{raw}");
        }
    }

    #[test]
    fn candidates_add_a_number_after_the_first() {
        let names: Vec<String> = candidates("ada").take(3).collect();
        assert_eq!(names, ["ada", "ada-2", "ada-3"]);
    }

    #[test]
    fn a_display_name_comes_from_name_or_given_and_family_names() {
        let claims = |json: &str| serde_json::from_str::<Map<String, Value>>(json).unwrap();
        assert_eq!(
            display_name(&claims(r#"{"name":" Grace Hopper "}"#)).as_deref(),
            Some("Grace Hopper")
        );
        assert_eq!(
            display_name(&claims(r#"{"given_name":"Ada","family_name":"Lovelace"}"#)).as_deref(),
            Some("Ada Lovelace")
        );
        assert_eq!(display_name(&claims(r#"{"name":""}"#)), None);
        let long = format!(r#"{{"name":"{}"}}"#, "x".repeat(80));
        assert_eq!(display_name(&claims(&long)).map(|n| n.len()), Some(60));
    }
}
