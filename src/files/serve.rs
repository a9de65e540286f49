//! Sending a stored file: the headers that keep it inert in the browser,
//! conditional requests by content hash, and byte ranges (a reader
//! jumping to page 80 of a PDF), read from the database one chunk at a
//! time so a download holds at most [`db::CHUNK`] bytes in memory.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::db::{self, CHUNK};
use super::kind::Kind;
use crate::db::Db;

/// What every file answer carries instead of the site's policy: the file
/// runs in a sandbox with no origin, no script, no plugin, and loads
/// nothing (an HTML or SVG file that got in anyway could not act).
pub const FILE_CSP: &str = "sandbox; default-src 'none'; img-src 'self'; style-src 'unsafe-inline'";

/// Browsers may keep a version (`?version=N`, a thumbnail) for a year: its
/// bytes never change. Only in their own cache: an admin may hide it.
pub const IMMUTABLE: &str = "private, max-age=31536000, immutable";

/// The current version may change: ask again, answered 304 by its hash.
pub const REVALIDATE: &str = "private, no-cache";

/// What is being sent.
pub struct Stored<'a> {
    pub name: &'a str,
    pub hash: &'a str,
    pub size: i64,
    pub media_type: &'a str,
    /// Whether the address names this exact content (a version, a
    /// thumbnail): then it is kept for a year.
    pub immutable: bool,
}

/// The answer to a GET (or HEAD) of a stored file.
pub async fn respond(pool: &Db, request: &HeaderMap, file: Stored<'_>) -> Response {
    let etag = format!("\"{}\"", file.hash);
    let kind = Kind::from_media_type(file.media_type);
    let mut headers = HeaderMap::new();
    let content_type = match kind {
        Some(kind) => kind.media_type(),
        None => "application/octet-stream",
    };
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(value) = HeaderValue::from_str(&disposition(kind, file.name)) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(FILE_CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if file.immutable {
            IMMUTABLE
        } else {
            REVALIDATE
        }),
    );
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    if none_match(request, &etag) {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    let size = u64::try_from(file.size).unwrap_or(0);
    let range = match range_of(request, &etag, size) {
        Ok(range) => range,
        Err(()) => {
            if let Ok(value) = HeaderValue::from_str(&format!("bytes */{size}")) {
                headers.insert(header::CONTENT_RANGE, value);
            }
            return (StatusCode::RANGE_NOT_SATISFIABLE, headers).into_response();
        }
    };
    let (status, start, end) = match range {
        Some((start, end)) => {
            if let Ok(value) = HeaderValue::from_str(&format!("bytes {start}-{end}/{size}")) {
                headers.insert(header::CONTENT_RANGE, value);
            }
            (StatusCode::PARTIAL_CONTENT, start, end + 1)
        }
        None => (StatusCode::OK, 0, size),
    };
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(end - start));
    let body = Body::from_stream(chunks(pool.clone(), file.hash.to_owned(), start, end));
    (status, headers, body).into_response()
}

/// `inline` for images and PDF, `attachment` for everything else, with the
/// name both as plain ASCII and as UTF-8 (RFC 6266).
fn disposition(kind: Option<Kind>, name: &str) -> String {
    let how = if kind.is_some_and(Kind::inline) {
        "inline"
    } else {
        "attachment"
    };
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_()+,".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!(
        "{how}; filename=\"{ascii}\"; filename*=UTF-8''{}",
        super::path_segment(name)
    )
}

/// Whether `If-None-Match` names this content: answered 304.
fn none_match(request: &HeaderMap, etag: &str) -> bool {
    request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|tag| {
            let tag = tag.trim();
            tag == "*" || tag.trim_start_matches("W/") == etag
        })
}

/// The one byte range asked for, inclusive: `None` for the whole file (no
/// `Range`, several ranges, an `If-Range` for other content, or a header
/// that is not a byte range); `Err` when the range lies past the end.
fn range_of(request: &HeaderMap, etag: &str, size: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(raw) = request.get(header::RANGE).and_then(|v| v.to_str().ok()) else {
        return Ok(None);
    };
    if let Some(if_range) = request.get(header::IF_RANGE).and_then(|v| v.to_str().ok())
        && if_range.trim() != etag
    {
        return Ok(None);
    }
    let Some(spec) = raw.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((first, last)) = spec.split_once('-') else {
        return Ok(None);
    };
    let (first, last) = (first.trim(), last.trim());
    let range = match (first.parse::<u64>(), last.parse::<u64>()) {
        (Ok(start), Ok(end)) if start <= end => (start, end.min(size.saturating_sub(1))),
        (Ok(start), Err(_)) if last.is_empty() => (start, size.saturating_sub(1)),
        (Err(_), Ok(suffix)) if first.is_empty() && suffix > 0 => {
            (size.saturating_sub(suffix), size.saturating_sub(1))
        }
        _ => return Ok(None),
    };
    if size == 0 || range.0 >= size {
        return Err(());
    }
    Ok(Some(range))
}

/// The bytes `start..end` of the blob `hash`, one chunk per read. A chunk
/// that cannot be read ends the body with an error (the client sees a
/// cut-off download, never a wrong byte).
fn chunks(
    pool: Db,
    hash: String,
    start: u64,
    end: u64,
) -> impl futures_util::Stream<Item = Result<Vec<u8>, sqlx::Error>> {
    let chunk = CHUNK as u64;
    futures_util::stream::try_unfold(start, move |at| {
        let (pool, hash) = (pool.clone(), hash.clone());
        async move {
            if at >= end {
                return Ok(None);
            }
            let n = at / chunk;
            let bytes = db::chunk(&pool, &hash, i64::try_from(n).unwrap_or(i64::MAX)).await?;
            let from = usize::try_from(at - n * chunk).unwrap_or(usize::MAX);
            let to = usize::try_from((end - n * chunk).min(chunk)).unwrap_or(usize::MAX);
            if from >= to || to > bytes.len() {
                return Err(sqlx::Error::RowNotFound);
            }
            let piece = bytes[from..to].to_vec();
            Ok(Some((piece, n * chunk + to as u64)))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_range(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::RANGE, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn byte_ranges_are_read_as_rfc_9110_says() {
        let tag = "\"h\"";
        assert_eq!(
            range_of(&with_range("bytes=0-9"), tag, 100),
            Ok(Some((0, 9)))
        );
        assert_eq!(
            range_of(&with_range("bytes=90-"), tag, 100),
            Ok(Some((90, 99)))
        );
        assert_eq!(
            range_of(&with_range("bytes=-10"), tag, 100),
            Ok(Some((90, 99)))
        );
        assert_eq!(
            range_of(&with_range("bytes=50-500"), tag, 100),
            Ok(Some((50, 99)))
        );
        assert_eq!(range_of(&with_range("bytes=100-"), tag, 100), Err(()));
        assert_eq!(range_of(&with_range("bytes=0-1,5-6"), tag, 100), Ok(None));
        assert_eq!(range_of(&with_range("items=0-1"), tag, 100), Ok(None));
        let mut stale = with_range("bytes=0-9");
        stale.insert(header::IF_RANGE, HeaderValue::from_static("\"old\""));
        assert_eq!(range_of(&stale, tag, 100), Ok(None));
    }

    #[test]
    fn only_images_and_pdf_are_shown_inline() {
        assert!(disposition(Some(Kind::Png), "a.png").starts_with("inline;"));
        assert!(disposition(Some(Kind::Pdf), "a.pdf").starts_with("inline;"));
        assert!(disposition(Some(Kind::Docx), "a.docx").starts_with("attachment;"));
        assert!(disposition(None, "a.svg").starts_with("attachment;"));
        assert!(
            disposition(Some(Kind::Text), "Café \"x\".txt").contains("filename=\"Caf___x_.txt\"")
        );
    }
}
