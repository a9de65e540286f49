//! Accounts: joining, signing in and out, profiles. The parsing types here
//! turn form input into values that are valid by construction.

pub mod db;
pub mod routes;

use unicode_normalization::UnicodeNormalization;

use crate::web::field_errors::FieldError;

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
    let name = crate::markup::text::one_line("The display name", raw, 60)?;
    if name.is_empty() {
        return Err("Please give a display name.".to_owned());
    }
    Ok(name)
}

/// What a member says about themselves on their profile, validated.
#[derive(Debug, Clone, Default)]
pub struct ProfileText {
    pub display_name: String,
    pub role: String,
    pub office: String,
    pub helps_with: String,
    pub contact: String,
}

/// Longest role, office and contact line, and "what I can help with".
pub const ROLE_CHARS: usize = 100;
pub const OFFICE_CHARS: usize = 100;
pub const CONTACT_CHARS: usize = 200;
pub const HELPS_WITH_CHARS: usize = 1000;

impl ProfileText {
    /// Checks the profile form; `Err` holds a message for each field in error.
    pub fn parse(
        display_name: &str,
        role: &str,
        office: &str,
        helps_with: &str,
        contact: &str,
    ) -> Result<ProfileText, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut field = |id: &'static str, result: Result<String, String>| {
            result
                .map_err(|e| errors.push(FieldError::new(id, e)))
                .unwrap_or_default()
        };
        let display_name = field("profile-display-name", parse_display_name(display_name));
        let role = field(
            "profile-role",
            crate::markup::text::one_line("Your role", role, ROLE_CHARS),
        );
        let office = field(
            "profile-office",
            crate::markup::text::one_line("Your office or country", office, OFFICE_CHARS),
        );
        let helps_with = field("profile-helps-with", parse_helps_with(helps_with));
        let contact = field(
            "profile-contact",
            crate::markup::text::one_line("How to reach you", contact, CONTACT_CHARS),
        );
        if errors.is_empty() {
            Ok(ProfileText {
                display_name,
                role,
                office,
                helps_with,
                contact,
            })
        } else {
            Err(errors)
        }
    }
}

/// "What I can help with": a few lines of plain text.
fn parse_helps_with(raw: &str) -> Result<String, String> {
    let text = crate::markup::text::clean_body(raw).trim().to_owned();
    if text
        .chars()
        .any(|c| c != '\n' && c != '\t' && crate::markup::text::is_forbidden_char(c))
    {
        return Err("What you can help with contains characters that cannot be shown.".to_owned());
    }
    if text.chars().count() > HELPS_WITH_CHARS {
        return Err(format!(
            "What you can help with can be at most {HELPS_WITH_CHARS} characters."
        ));
    }
    Ok(text)
}

/// Shortest and longest password, in characters.
pub const PASSWORD_CHARS: std::ops::RangeInclusive<usize> = 12..=1024;

/// The most common passwords, refused at join and password change.
static COMMON_PASSWORDS: std::sync::LazyLock<std::collections::HashSet<&'static str>> =
    std::sync::LazyLock::new(|| include_str!("common_passwords.txt").lines().collect());

/// Why a password was refused, in words the join and password forms show.
const TOO_COMMON: &str = "That password is one of the most common ones (digits, punctuation or \
capitals added to it do not help); please choose another.";
const HOLDS_NAME: &str =
    "A password must not contain your username or display name: they are the first guesses.";
const REPEATS: &str = "That password repeats a few characters over and over (like aaaa or \
abcabc), which is among the first things guessed.";
const RUNS: &str = "That password is made of runs on the keyboard, in the alphabet or of \
numbers (like qwerty, abcdef or 12345), which are among the first things guessed.";

/// Rows and sequences whose runs are guessed early. Each is read both ways;
/// the digits wrap around (`…8901…`).
const SEQUENCES: [&str; 8] = [
    "abcdefghijklmnopqrstuvwxyz",
    "01234567890",
    // Keyboard letters in reading order, so `…opas…` is one run.
    "qwertyuiopasdfghjklzxcvbnm",
    "1234567890-=",
    "!@#$%^&*()_+",
    "qwertyuiop[]\\",
    "asdfghjkl;'",
    "zxcvbnm,./",
];

/// Checks a new password: 12–1024 characters and no composition rules, but
/// not a common password (even with digits, punctuation or capitals stuck
/// on), not the username or display name, not a few characters repeated,
/// not keyboard, letter or number runs. These are what guessing tools try
/// first, so a long password made of them is still weak; the message says
/// which rule it broke.
pub fn check_new_password(
    password: &str,
    username: &str,
    display_name: &str,
) -> Result<(), String> {
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
    let lower = password.to_lowercase();
    if is_common(&lower) {
        return Err(TOO_COMMON.to_owned());
    }
    if holds_name(&lower, username, display_name) {
        return Err(HOLDS_NAME.to_owned());
    }
    let chars: Vec<char> = lower.chars().collect();
    if is_repeated(&chars) {
        return Err(REPEATS.to_owned());
    }
    if is_runs(&chars) {
        return Err(RUNS.to_owned());
    }
    Ok(())
}

/// The lower-cased password is on the list, or is once the digits,
/// punctuation and spaces around it are taken off (`Password1234!`).
fn is_common(lower: &str) -> bool {
    let core = lower.trim_matches(|c: char| !c.is_alphabetic());
    COMMON_PASSWORDS.contains(lower) || (!core.is_empty() && COMMON_PASSWORDS.contains(core))
}

/// The lower-cased password contains the username or the display name
/// (also with its spaces taken out). Names under three characters are not
/// looked for: they would turn up inside too many good passwords.
fn holds_name(lower: &str, username: &str, display_name: &str) -> bool {
    let username = Username::parse(username)
        .map(|u| u.as_str().to_owned())
        .unwrap_or_else(|_| username.trim().to_lowercase());
    let display = display_name.trim().to_lowercase();
    let squeezed: String = display.chars().filter(|c| !c.is_whitespace()).collect();
    [username, display, squeezed]
        .iter()
        .any(|name| name.chars().count() >= 3 && lower.contains(name.as_str()))
}

/// A few characters make the whole password: fewer than four different
/// ones, or one piece repeated (`abcabcabcabc`, `abcabcabcab`).
fn is_repeated(chars: &[char]) -> bool {
    let mut distinct = chars.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < 4 {
        return true;
    }
    (1..=chars.len() / 2).any(|unit| (unit..chars.len()).all(|i| chars[i] == chars[i - unit]))
}

/// Whether `b` follows `a` in one of the [`SEQUENCES`], as `step` says:
/// 1 forwards, -1 backwards.
fn follows(a: char, b: char, step: isize) -> bool {
    SEQUENCES.iter().any(|seq| {
        let seq: Vec<char> = seq.chars().collect();
        seq.iter().enumerate().any(|(i, c)| {
            *c == a
                && i.checked_add_signed(step)
                    .and_then(|j| seq.get(j))
                    .is_some_and(|next| *next == b)
        })
    })
}

/// Nearly all of the password is runs of three or more along a sequence
/// (`123456789012`, `qwertyuiopas`) or one character three or more times
/// in a row: fewer than four characters are left outside them.
fn is_runs(chars: &[char]) -> bool {
    let mut covered = vec![false; chars.len()];
    for step in [1, -1] {
        let mut start = 0;
        for i in 1..=chars.len() {
            let goes_on = i < chars.len() && follows(chars[i - 1], chars[i], step);
            if !goes_on {
                if i - start >= 3 {
                    covered[start..i].iter_mut().for_each(|c| *c = true);
                }
                start = i;
            }
        }
    }
    let mut start = 0;
    for i in 1..=chars.len() {
        if i == chars.len() || chars[i] != chars[start] {
            if i - start >= 3 {
                covered[start..i].iter_mut().for_each(|c| *c = true);
            }
            start = i;
        }
    }
    covered.iter().filter(|c| !**c).count() < 4
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
        assert!(check_new_password("short", "alice", "Alice").is_err());
        assert!(check_new_password("all lower case words", "alice", "Alice").is_ok());
        assert!(check_new_password(&"x".repeat(1025), "alice", "Alice").is_err());
    }

    #[test]
    fn common_passwords_are_refused() {
        // Entries of the shipped list long enough to pass the length check.
        assert!(check_new_password("unbelievable", "alice", "Alice").is_err());
        assert!(check_new_password("Scandinavian", "alice", "Alice").is_err());
        assert_eq!(include_str!("common_passwords.txt").lines().count(), 10_000);
    }

    /// The reason `password` is refused for alice ("Alice Liddell").
    fn refusal(password: &str) -> Option<String> {
        check_new_password(password, "alice", "Alice Liddell").err()
    }

    #[test]
    fn common_passwords_with_digits_punctuation_or_capitals_stuck_on_are_refused() {
        for password in [
            "password1234",
            "Password1234",
            "PASSWORD!!!!1",
            "2024 iloveyou!",
        ] {
            assert_eq!(refusal(password).as_deref(), Some(TOO_COMMON), "{password}");
        }
    }

    #[test]
    fn repeated_characters_and_pieces_are_refused() {
        for password in [
            "aaaaaaaaaaaa",
            "abcabcabcabc",
            "xyzxyzxyzxyzx",
            "ab ab ab ab ab",
            "1212121212121",
        ] {
            assert_eq!(refusal(password).as_deref(), Some(REPEATS), "{password}");
        }
    }

    #[test]
    fn keyboard_letter_and_number_runs_are_refused() {
        for password in [
            "qwertyuiopas",
            "asdfghjkl;'z",
            "asdfghjklzxc",
            "123456789012",
            "abcdefghijkl",
            "987654321098",
            "xcvbnm987654",
            "zyxwvutsrqpo",
            "hijklm777777",
        ] {
            assert_eq!(refusal(password).as_deref(), Some(RUNS), "{password}");
        }
    }

    #[test]
    fn the_username_or_display_name_inside_the_password_is_refused() {
        for password in ["alicealicealice", "my name is ALICE ok", "aliceliddell99"] {
            assert_eq!(refusal(password).as_deref(), Some(HOLDS_NAME), "{password}");
        }
        for password in ["rosalind franklin 1958", "RosalindFranklin!"] {
            let refused = check_new_password(password, "quentin", "Rosalind Franklin");
            assert_eq!(refused.err().as_deref(), Some(HOLDS_NAME), "{password}");
        }
        // Names under three characters are not looked for.
        assert!(check_new_password("correct horse battery staple", "alice", "Al").is_ok());
    }

    #[test]
    fn passphrases_and_random_strings_still_pass() {
        for password in [
            "correct horse battery staple",
            "first alerts at dawn",
            "twelve chars",
            "Tr0ub4dor&3xyz",
            "837261945038",
            "a brand new passphrase",
        ] {
            assert_eq!(refusal(password), None, "{password}");
        }
    }
}
