//! The page file format of `cafe export` / `cafe import` (and the seed):
//! front matter between `---` lines, then the Markdown body.
//!
//! ```text
//! ---
//! title: Communities of Practice
//! tags: [learning, lkm-1]
//! ---
//! ## Brief Description
//! ```
//!
//! The front matter is the small subset of YAML that Cafe writes: one
//! `key: value` per line, values optionally quoted, `tags` as a flow list
//! (`[a, b]`) or as `- item` lines. Unknown keys are ignored.
//!
//! A page's own files go beside its page file, in a folder named after it
//! (module `files`): every version's bytes under the file's own name, in a
//! folder per version number, and one list of them all.
//!
//! ```text
//! peer-assist.md
//! peer-assist.files/versions.csv       name,version,description,uploaded_by_username,created_at
//! peer-assist.files/v1/guide.pdf       version 1 of guide.pdf, byte for byte
//! peer-assist.files/v2/guide.pdf       version 2 of guide.pdf
//! peer-assist.files/v1/flip-chart.jpg  version 1 of flip-chart.jpg
//! ```
//!
//! Import reads only what `versions.csv` lists (in which `description`,
//! `uploaded_by_username` and `created_at` may be left empty) and adds to
//! the page the versions it does not have yet, so importing an export
//! twice adds nothing. Hidden files are not exported, nor are stories'
//! files: export writes pages, not stories.

pub mod copy;
pub mod files;

/// A parsed page file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    pub title: String,
    pub tags: Vec<String>,
    pub body: String,
}

/// Parses a page file; `Err` says what is wrong, for the import report.
pub fn parse(text: &str) -> Result<Document, String> {
    let text = text
        .strip_prefix('\u{feff}')
        .unwrap_or(text)
        .replace("\r\n", "\n");
    let rest = text
        .strip_prefix("---\n")
        .ok_or("the file does not start with a `---` front matter line")?;
    let end = rest
        .find("\n---\n")
        .map(|i| (i, i + 5))
        .or_else(|| rest.strip_suffix("\n---").map(|r| (r.len(), rest.len())))
        .ok_or("the front matter has no closing `---` line")?;
    let (front, body) = (&rest[..end.0], &rest[end.1..]);
    let mut title = None;
    let mut tags = Vec::new();
    let mut in_tag_list = false;
    for (n, line) in front.lines().enumerate() {
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        if in_tag_list && let Some(item) = line.trim_start().strip_prefix("- ") {
            tags.push(unquote(item.trim()));
            continue;
        }
        in_tag_list = false;
        let (key, value) = line
            .split_once(':')
            .ok_or_else(|| format!("front matter line {} is not `key: value`", n + 2))?;
        let value = value.trim();
        match key.trim() {
            "title" => title = Some(unquote(value)),
            "tags" if value.is_empty() => in_tag_list = true,
            "tags" => {
                let inner = value
                    .strip_prefix('[')
                    .and_then(|v| v.strip_suffix(']'))
                    .ok_or_else(|| {
                        format!(
                            "front matter line {}: tags must be a list like [a, b]",
                            n + 2
                        )
                    })?;
                tags.extend(
                    inner
                        .split(',')
                        .map(|t| unquote(t.trim()))
                        .filter(|t| !t.is_empty()),
                );
            }
            _ => {}
        }
    }
    let title = title
        .filter(|t| !t.trim().is_empty())
        .ok_or("the front matter has no `title`")?;
    Ok(Document {
        title,
        tags,
        body: body.to_owned(),
    })
}

fn unquote(value: &str) -> String {
    let double = value.len() >= 2 && value.starts_with('"') && value.ends_with('"');
    let single = value.len() >= 2 && value.starts_with('\'') && value.ends_with('\'');
    if double {
        value[1..value.len() - 1]
            .replace("\\\"", "\"")
            .replace("\\\\", "\\")
    } else if single {
        value[1..value.len() - 1].replace("''", "'")
    } else {
        value.to_owned()
    }
}

/// A value written so [`parse`] (and any YAML reader) gets it back exactly.
pub fn quote(value: &str) -> String {
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Writes a page file: front matter (title, tags, then `extra` keys) and body.
pub fn render(title: &str, tags: &[&str], extra: &[(&str, String)], body: &str) -> String {
    let tags: Vec<String> = tags.iter().map(|t| quote(t)).collect();
    let mut out = format!(
        "---\ntitle: {}\ntags: [{}]\n",
        quote(title),
        tags.join(", ")
    );
    for (key, value) in extra {
        out.push_str(&format!("{key}: {}\n", quote(value)));
    }
    out.push_str("---\n");
    out.push_str(body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_file_parses_into_title_tags_and_body() {
        let doc =
            parse("---\ntitle: Peer Assist\ntags: [facilitation, lkm-2]\n---\n## Brief\n\ntext\n")
                .unwrap();
        assert_eq!(doc.title, "Peer Assist");
        assert_eq!(doc.tags, ["facilitation", "lkm-2"]);
        assert_eq!(doc.body, "## Brief\n\ntext\n");
    }

    #[test]
    fn block_lists_and_quotes_are_read() {
        let doc =
            parse("---\ntitle: \"A: \\\"quoted\\\" title\"\ntags:\n  - 'one'\n  - two\n---\nbody")
                .unwrap();
        assert_eq!(doc.title, "A: \"quoted\" title");
        assert_eq!(doc.tags, ["one", "two"]);
    }

    #[test]
    fn a_file_without_front_matter_or_title_is_refused() {
        assert!(parse("just text").is_err());
        assert!(parse("---\ntags: [a]\n---\nbody").is_err());
        assert!(parse("---\ntitle: x\nbody").is_err());
    }

    #[test]
    fn render_and_parse_round_trip() {
        let text = render(
            "Odd \"title\": \\ yes",
            &["a b", "c"],
            &[("revision", "3".into())],
            "## Body\n",
        );
        let doc = parse(&text).unwrap();
        assert_eq!(doc.title, "Odd \"title\": \\ yes");
        assert_eq!(doc.tags, ["a b", "c"]);
        assert_eq!(doc.body, "## Body\n");
    }
}
