//! Files as a member sends them and as a visitor gets them back: an upload
//! through the site's multipart form, and a download's exact bytes (a
//! [`super::Page`] keeps its body as text, which a binary file is not).

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use http_body_util::BodyExt;
use tower::ServiceExt;

use super::{Client, Page};

/// The multipart boundary: no test file holds it.
const BOUNDARY: &str = "cafe-test-boundary-7Hq2xV9";

/// Uploads `files` (name, bytes) with `description` to the file list at
/// `list` (`/methods/{slug}/files` or a story's), as the upload form
/// sends them: the CSRF token first, then each file, then the description.
pub async fn upload(
    client: &mut Client,
    list: &str,
    files: &[(&str, &[u8])],
    description: &str,
) -> Page {
    let token = client.csrf().await;
    let mut body = Vec::new();
    let mut part = |headers: &str, value: &[u8]| {
        body.extend_from_slice(format!("--{BOUNDARY}\r\n{headers}\r\n\r\n").as_bytes());
        body.extend_from_slice(value);
        body.extend_from_slice(b"\r\n");
    };
    part(
        "Content-Disposition: form-data; name=\"csrf_token\"",
        token.as_bytes(),
    );
    for (name, bytes) in files {
        part(
            &format!(
                "Content-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
                 Content-Type: application/octet-stream"
            ),
            bytes,
        );
    }
    part(
        "Content-Disposition: form-data; name=\"description\"",
        description.as_bytes(),
    );
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    let mut request = Request::post(list).header(
        header::CONTENT_TYPE,
        format!("multipart/form-data; boundary={BOUNDARY}"),
    );
    if let Some(cookie) = &client.cookie {
        request = request.header(header::COOKIE, cookie);
    }
    client
        .send(request.body(Body::from(body)).expect("request"))
        .await
}

/// What a GET of `path` answers, with the body's bytes as they came.
pub async fn download(client: &Client, path: &str) -> (StatusCode, HeaderMap, Vec<u8>) {
    let mut request = Request::get(path);
    if let Some(cookie) = &client.cookie {
        request = request.header(header::COOKIE, cookie);
    }
    let response = client
        .router
        .clone()
        .oneshot(request.body(Body::empty()).expect("request"))
        .await
        .expect("router never fails");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes()
        .to_vec();
    (status, headers, bytes)
}

/// The bytes of version `version` of `name` at `base` (a page's or a
/// story's address), which must be there (200).
pub async fn version_bytes(client: &Client, base: &str, name: &str, version: i64) -> Vec<u8> {
    let path = format!("{base}/files/{name}?version={version}");
    let (status, _, bytes) = download(client, &path).await;
    assert_eq!(status, StatusCode::OK, "GET {path}");
    bytes
}

/// A small PNG of `width`×`height` pixels, each a colour from `seed`: two
/// seeds give two different images.
pub fn png(width: u32, height: u32, seed: u8) -> Vec<u8> {
    let image = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([
            seed,
            (x as u8).wrapping_mul(seed | 1),
            (y as u8).wrapping_add(seed),
        ])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image
        .write_to(&mut out, image::ImageFormat::Png)
        .expect("encode a PNG");
    out.into_inner()
}

/// A small PDF that a reader opens (a `%PDF-` header and an `%%EOF`).
pub fn pdf(text: &str) -> Vec<u8> {
    format!(
        "%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n\
         2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n% {text}\n\
         trailer << /Root 1 0 R >>\n%%EOF\n"
    )
    .into_bytes()
}
