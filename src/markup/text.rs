//! Small text helpers shared by the domains: URL encoding, slugs, and
//! checks for characters that must never reach a page.

/// Percent-encodes a string for a query value or a path segment.
pub fn url_encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Lower-cases and keeps letters and digits of any script; every other run
/// of characters becomes one `-`; trimmed of `-`; at most `max` characters.
///
/// ```
/// assert_eq!(cafe::markup::text::slugify("After-Action Review", 80), "after-action-review");
/// assert_eq!(cafe::markup::text::slugify("Évaluation 2.0!", 80), "évaluation-2-0");
/// ```
pub fn slugify(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len());
    let mut dash = false;
    for ch in s.chars() {
        if ch.is_alphanumeric() {
            if dash && !out.is_empty() {
                out.push('-');
            }
            dash = false;
            out.extend(ch.to_lowercase());
        } else {
            dash = true;
        }
    }
    if out.chars().count() > max {
        out = out.chars().take(max).collect();
        while out.ends_with('-') {
            out.pop();
        }
    }
    out
}

/// True for characters no name, title or tag may hold: controls (other than
/// none at all) and the bidirectional overrides that make text display in a
/// different order than it is stored.
pub fn is_forbidden_char(ch: char) -> bool {
    ch.is_control()
        || matches!(ch, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

/// Trims and collapses runs of white space into one space.
pub fn collapse_spaces(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A single-line field (title, location, tip…): collapsed white space, no
/// forbidden characters, at most `max` characters. `Err` says why, for the form.
pub fn one_line(field: &str, s: &str, max: usize) -> Result<String, String> {
    let s = collapse_spaces(s);
    if s.chars().any(is_forbidden_char) {
        return Err(format!("{field} contains characters that cannot be shown."));
    }
    if s.chars().count() > max {
        return Err(format!("{field} can be at most {max} characters."));
    }
    Ok(s)
}

/// Multi-line text (Markdown bodies): line endings made `\n`, no NUL or other
/// control characters besides tab and newline.
pub fn clean_body(s: &str) -> String {
    s.replace("\r\n", "\n")
        .replace('\r', "\n")
        .chars()
        .filter(|&c| c == '\n' || c == '\t' || !c.is_control())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugify_keeps_letters_of_any_script_and_dashes_the_rest() {
        assert_eq!(
            slugify("Communities of Practice", 80),
            "communities-of-practice"
        );
        assert_eq!(
            slugify("  After-Action   Review!! ", 80),
            "after-action-review"
        );
        assert_eq!(
            slugify("Évaluation participative", 80),
            "évaluation-participative"
        );
        assert_eq!(slugify("学习 社区", 80), "学习-社区");
        assert_eq!(slugify("...", 80), "");
    }

    #[test]
    fn slugify_cuts_at_the_limit_without_a_trailing_dash() {
        let long = "ab ".repeat(60);
        let slug = slugify(&long, 80);
        assert!(slug.chars().count() <= 80);
        assert!(!slug.ends_with('-'));
    }

    #[test]
    fn bidi_overrides_and_controls_are_forbidden() {
        assert!(is_forbidden_char('\u{202E}'));
        assert!(is_forbidden_char('\u{0007}'));
        assert!(!is_forbidden_char('é'));
    }

    #[test]
    fn one_line_collapses_and_limits() {
        assert_eq!(one_line("Title", "  a \n b ", 10).as_deref(), Ok("a b"));
        assert!(one_line("Title", "abcdefghijk", 10).is_err());
    }

    #[test]
    fn clean_body_normalises_line_endings_and_drops_controls() {
        assert_eq!(clean_body("a\r\nb\rc\u{0000}d\te"), "a\nb\ncd\te");
    }
}
