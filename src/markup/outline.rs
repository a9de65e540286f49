//! What a page view needs from a page's stored, sanitised HTML: its outline
//! (the `h2`/`h3` sections, for "On this page") and its first paragraph as
//! plain text (for `<meta name="description">`). The HTML was written by
//! the sanitiser, so its tags are well-formed and its attributes quoted; a
//! small scan is enough and no Markdown is parsed on a page view.

/// One section heading of a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// 2 or 3.
    pub level: u8,
    /// The heading's id, the anchor to link to.
    pub id: String,
    /// The heading's text, without markup.
    pub text: String,
}

/// Most sections listed: a page with more is not helped by a longer list.
const MAX_SECTIONS: usize = 40;

/// The `h2` and `h3` headings of `html` that have an id, in order.
pub fn outline(html: &str) -> Vec<Section> {
    let mut out = Vec::new();
    let mut at = 0;
    while out.len() < MAX_SECTIONS {
        let Some(found) = html[at..].find("<h") else {
            break;
        };
        let start = at + found;
        at = start + 2;
        let level = match html.as_bytes().get(start + 2) {
            Some(b'2') => 2,
            Some(b'3') => 3,
            _ => continue,
        };
        let Some(tag_end) = html[start..].find('>').map(|i| start + i) else {
            break;
        };
        let tag = &html[start..tag_end];
        let Some(id) = attribute(tag, "id") else {
            continue;
        };
        let close = format!("</h{level}>");
        let Some(end) = html[tag_end..].find(&close).map(|i| tag_end + i) else {
            break;
        };
        let text = plain_text(&html[tag_end + 1..end]);
        at = end + close.len();
        if !text.is_empty() {
            out.push(Section {
                level,
                id: unescape(id),
                text,
            });
        }
    }
    out
}

/// The text of the first non-empty paragraph of `html`, without markup,
/// cut at a word boundary to at most `max` characters (with "…").
pub fn first_paragraph(html: &str, max: usize) -> Option<String> {
    let mut at = 0;
    while let Some(found) = html[at..].find("<p>") {
        let start = at + found + 3;
        let end = html[start..].find("</p>").map_or(html.len(), |i| start + i);
        at = end;
        let text = plain_text(&html[start..end]);
        if !text.is_empty() {
            return Some(shorten(&text, max));
        }
    }
    None
}

fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let cut: String = text.chars().take(max.saturating_sub(1)).collect();
    let cut = match cut.rfind(' ') {
        Some(space) if space > cut.len() / 2 => &cut[..space],
        _ => cut.as_str(),
    };
    format!("{}…", cut.trim_end_matches([',', ';', ':', ' ']))
}

/// The quoted value of `name` in an opening tag.
fn attribute<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let key = format!(" {name}=\"");
    let start = tag.find(&key)? + key.len();
    let end = tag[start..].find('"')? + start;
    Some(&tag[start..end])
}

/// `html` without its tags, entities decoded, spaces collapsed.
fn plain_text(html: &str) -> String {
    let mut text = String::with_capacity(html.len());
    let mut in_tag = false;
    for ch in html.chars() {
        match ch {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            _ if !in_tag => text.push(ch),
            _ => {}
        }
    }
    crate::markup::text::collapse_spaces(&unescape(&text))
}

/// Decodes the entities the sanitiser writes (and numeric ones).
fn unescape(text: &str) -> String {
    if !text.contains('&') {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let decoded = rest.find(';').filter(|&semi| semi <= 10).and_then(|semi| {
            let entity = &rest[1..semi];
            let ch = match entity {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some('\u{a0}'),
                _ => entity
                    .strip_prefix("#x")
                    .or_else(|| entity.strip_prefix("#X"))
                    .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                    .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                    .and_then(char::from_u32),
            };
            ch.map(|ch| (ch, semi))
        });
        match decoded {
            Some((ch, semi)) => {
                out.push(ch);
                rest = &rest[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::markup::markdown::render_plain;

    #[test]
    fn the_outline_lists_second_and_third_level_headings_with_their_ids() {
        let html = render_plain(
            "# Title\n\n## Brief *Description*\n\ntext\n\n### Tips & tricks\n\n#### Deep\n\n## Brief Description\n",
        );
        let sections = outline(&html);
        let got: Vec<(u8, &str, &str)> = sections
            .iter()
            .map(|s| (s.level, s.id.as_str(), s.text.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (2, "user-content-brief-description", "Brief Description"),
                (3, "user-content-tips-tricks", "Tips & tricks"),
                (2, "user-content-brief-description-2", "Brief Description"),
            ]
        );
    }

    #[test]
    fn the_first_paragraph_is_plain_text_cut_at_a_word() {
        let html =
            render_plain("## Brief\n\nA **bold** idea &amp; [[Peer Assist|a link]].\n\nMore.");
        assert_eq!(
            first_paragraph(&html, 160).as_deref(),
            Some("A bold idea & a link.")
        );
        let long = render_plain(&"word ".repeat(100));
        let cut = first_paragraph(&long, 30).unwrap();
        assert!(cut.ends_with("word…") && cut.chars().count() <= 30, "{cut}");
        assert_eq!(
            first_paragraph(&render_plain("## Only a heading"), 160),
            None
        );
    }
}
