//! Accounts: joining, signing in and out, profiles. The parsing types here
//! turn form input into values that are valid by construction.

pub mod db;
pub mod routes;

use unicode_normalization::UnicodeNormalization;

/// Who is signed in, as the layout and handlers need it (no secrets).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionUser {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub is_admin: bool,
}

/// A username: NFKC-normalised and lower-cased (so `Alice`, `alice` and
/// `ａｌｉｃｅ` are one name), 3–32 letters, digits, `-`, `_` or `.`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str) -> Result<Username, String> {
        let name: String = raw.trim().nfkc().collect::<String>().to_lowercase();
        let count = name.chars().count();
        if !(3..=32).contains(&count) {
            return Err("A username has 3 to 32 characters.".to_owned());
        }
        if !name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err("A username may hold letters, digits, '-', '_' and '.' only.".to_owned());
        }
        Ok(Username(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The confusable skeleton (Unicode TR39) with separators dropped: two
    /// names with the same skeleton look alike, so only one may exist.
    pub fn skeleton(&self) -> String {
        unicode_security::confusable_detection::skeleton(&self.0)
            .collect::<String>()
            .to_lowercase()
            .chars()
            .filter(|c| !matches!(c, '-' | '_' | '.'))
            .collect()
    }
}

/// A display name: 1–60 characters on one line.
pub fn parse_display_name(raw: &str) -> Result<String, String> {
    let name = crate::text::one_line("The display name", raw, 60)?;
    if name.is_empty() {
        return Err("Please give a display name.".to_owned());
    }
    Ok(name)
}

/// Shortest and longest password, in characters.
pub const PASSWORD_CHARS: std::ops::RangeInclusive<usize> = 12..=1024;

/// The most common passwords, refused at join and password change.
static COMMON_PASSWORDS: std::sync::LazyLock<std::collections::HashSet<&'static str>> =
    std::sync::LazyLock::new(|| include_str!("common_passwords.txt").lines().collect());

/// Checks a new password: 12–1024 characters, not one of the common ones, no
/// composition rules.
pub fn check_new_password(password: &str) -> Result<(), String> {
    let count = password.chars().count();
    if count < *PASSWORD_CHARS.start() {
        return Err(
            "A password needs at least 12 characters. A few unrelated words make a good one."
                .to_owned(),
        );
    }
    if count > *PASSWORD_CHARS.end() {
        return Err("A password can be at most 1024 characters.".to_owned());
    }
    if COMMON_PASSWORDS.contains(password.to_lowercase().as_str()) {
        return Err(
            "That password is one of the most common ones; please choose another.".to_owned(),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_case_folded_and_nfkc_normalised() {
        let plain = Username::parse("alice").unwrap();
        assert_eq!(Username::parse("Alice").unwrap(), plain);
        assert_eq!(Username::parse("ａｌｉｃｅ").unwrap(), plain);
    }

    #[test]
    fn usernames_must_be_three_to_thirty_two_characters() {
        assert!(Username::parse("ab").is_err());
        assert!(Username::parse("abc").is_ok());
        assert!(Username::parse(&"a".repeat(33)).is_err());
    }

    #[test]
    fn usernames_refuse_spaces_controls_and_bidi_overrides() {
        assert!(Username::parse("al ice").is_err());
        assert!(Username::parse("ali\u{202E}ce").is_err());
        assert!(Username::parse("ali\u{0000}ce").is_err());
        assert!(Username::parse("<script>").is_err());
    }

    #[test]
    fn look_alike_usernames_share_a_skeleton() {
        let latin = Username::parse("paypal").unwrap();
        let cyrillic = Username::parse("раураl").unwrap();
        assert_ne!(latin, cyrillic);
        assert_eq!(latin.skeleton(), cyrillic.skeleton());
        assert_eq!(
            Username::parse("jane.doe").unwrap().skeleton(),
            Username::parse("jane_doe").unwrap().skeleton()
        );
    }

    #[test]
    fn passwords_need_twelve_characters_and_no_composition() {
        assert!(check_new_password("short").is_err());
        assert!(check_new_password("all lower case words").is_ok());
        assert!(check_new_password(&"x".repeat(1025)).is_err());
    }

    #[test]
    fn common_passwords_are_refused() {
        // Entries of the shipped list long enough to pass the length check.
        assert!(check_new_password("unbelievable").is_err());
        assert!(check_new_password("Scandinavian").is_err());
        assert_eq!(include_str!("common_passwords.txt").lines().count(), 10_000);
    }
}
