//! Files attached to method pages and stories: images, diagrams,
//! facilitation guides. Their bytes live in the database, content-addressed
//! and in chunks (see `db`), so every instance, backup and copy has them.
//! What a file is comes from its bytes (`kind`); how it is served, with
//! which headers and which part of it, is `serve`.

pub mod db;
pub mod kind;
pub mod routes;
pub mod serve;

use std::collections::HashMap;

use crate::markup::markdown::FileLinks;

/// What a file is attached to: a page, or one of its stories.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    pub page_id: i64,
    pub story_id: Option<i64>,
}

impl Owner {
    pub fn page(page_id: i64) -> Owner {
        Owner {
            page_id,
            story_id: None,
        }
    }

    pub fn story(page_id: i64, story_id: i64) -> Owner {
        Owner {
            page_id,
            story_id: Some(story_id),
        }
    }

    /// The owner's address: `/methods/{slug}` or its story's.
    pub fn base(&self, slug: &str) -> String {
        match self.story_id {
            None => format!("/methods/{slug}"),
            Some(id) => format!("/methods/{slug}/stories/{id}"),
        }
    }
}

/// Whether a request is an upload (`POST /methods/{slug}/files` or
/// `POST /methods/{slug}/stories/{id}/files`): its body may be as large as
/// `--file-max-mib` allows, is multipart, and carries its CSRF token as
/// its first field, checked by the handler before any file is read.
pub fn is_upload(method: &axum::http::Method, path: &str) -> bool {
    if method != axum::http::Method::POST {
        return false;
    }
    let parts: Vec<&str> = path.split('/').collect();
    match parts.as_slice() {
        ["", "methods", slug, "files"] => !slug.is_empty(),
        ["", "methods", slug, "stories", id, "files"] => {
            !slug.is_empty() && !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit())
        }
        _ => false,
    }
}

/// A file name as one segment of a URL path: names are letters, digits and
/// `. - _ ( ) + ,` ([`kind::clean_name`]); anything else (letters outside
/// ASCII) is percent-encoded.
pub fn path_segment(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || b".-_()+,~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A size for people: "812 bytes", "14 KB", "2.4 MB" (powers of 1024).
pub fn human_size(bytes: i64) -> String {
    const KIB: f64 = 1024.0;
    let size = bytes.max(0) as f64;
    if size < KIB {
        format!("{bytes} bytes")
    } else if size < KIB * KIB {
        format!("{:.0} KB", size / KIB)
    } else if size < KIB * KIB * KIB {
        format!("{:.1} MB", size / KIB / KIB)
    } else {
        format!("{:.1} GB", size / KIB / KIB / KIB)
    }
}

/// The address of a file of the owner at `base` (see [`Owner::base`]).
pub fn file_url(base: &str, name: &str) -> String {
    format!("{base}/files/{}", path_segment(name))
}

/// Where a text's `file:` links lead: its story's files first, then its
/// page's. An embedded image points at its current version (`?version=N`,
/// kept by browsers for a year), so the texts showing a page's files are
/// rendered again whenever they change (`pages::db::rerender_for_files`).
pub struct Links {
    page_base: String,
    story_base: Option<String>,
    story_id: Option<i64>,
    files: HashMap<(String, Option<i64>), (i64, String)>,
}

impl Links {
    pub fn new(
        slug: &str,
        story_id: Option<i64>,
        files: HashMap<(String, Option<i64>), (i64, String)>,
    ) -> Links {
        Links {
            page_base: format!("/methods/{slug}"),
            story_base: story_id.map(|id| format!("/methods/{slug}/stories/{id}")),
            story_id,
            files,
        }
    }
}

impl FileLinks for Links {
    fn href(&self, name: &str, shown: bool) -> Option<String> {
        let own = self
            .story_id
            .and_then(|id| self.files.get(&(name.to_owned(), Some(id))))
            .map(|found| (self.story_base.as_deref().unwrap_or(&self.page_base), found));
        let (base, (version, media_type)) = own.or_else(|| {
            self.files
                .get(&(name.to_owned(), None))
                .map(|found| (self.page_base.as_str(), found))
        })?;
        let url = file_url(base, name);
        let image = kind::Kind::from_media_type(media_type).is_some_and(kind::Kind::is_image);
        Some(if shown && image {
            format!("{url}?version={version}")
        } else {
            url
        })
    }

    fn upload_href(&self) -> Option<String> {
        Some(format!(
            "{}/files#upload",
            self.story_base.as_deref().unwrap_or(&self.page_base)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_posts_to_a_file_list_are_uploads() {
        let post = axum::http::Method::POST;
        assert!(is_upload(&post, "/methods/aar/files"));
        assert!(is_upload(&post, "/methods/aar/stories/3/files"));
        assert!(!is_upload(&axum::http::Method::GET, "/methods/aar/files"));
        assert!(!is_upload(&post, "/methods/aar/edit"));
        assert!(!is_upload(&post, "/methods/aar/files/x.png/hide"));
        assert!(!is_upload(&post, "/methods/aar/stories/x/files"));
    }

    #[test]
    fn sizes_are_shown_in_units_people_read() {
        assert_eq!(human_size(812), "812 bytes");
        assert_eq!(human_size(14 * 1024), "14 KB");
        assert_eq!(human_size(2_516_582), "2.4 MB");
    }

    #[test]
    fn names_outside_ascii_are_percent_encoded_in_paths() {
        assert_eq!(path_segment("flip-chart.jpg"), "flip-chart.jpg");
        assert_eq!(path_segment("Café.pdf"), "Caf%C3%A9.pdf");
        assert_eq!(file_url("/methods/aar", "a b"), "/methods/aar/files/a%20b");
    }
}
