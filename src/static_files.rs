//! Static assets, embedded in the binary so it runs from any directory
//! (or read from `--static-dir` while working on them). URLs carry a hash of
//! the content, so browsers may cache them for a year.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::error::AppError;

struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

const ASSETS: &[Asset] = &[
    Asset {
        name: "style.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../static/style.css"),
    },
    Asset {
        name: "cafe.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../static/cafe.js"),
    },
    Asset {
        name: "favicon.svg",
        content_type: "image/svg+xml",
        bytes: include_bytes!("../static/favicon.svg"),
    },
];

/// FNV-1a, enough to tell versions of a file apart in a URL.
fn fingerprint(bytes: &[u8]) -> String {
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{:08x}", hash >> 32)
}

fn versioned_url(name: &str) -> String {
    let bytes = ASSETS
        .iter()
        .find(|a| a.name == name)
        .map_or(&[][..], |a| a.bytes);
    format!("/static/{name}?v={}", fingerprint(bytes))
}

static STYLE_URL: LazyLock<String> = LazyLock::new(|| versioned_url("style.css"));
static SCRIPT_URL: LazyLock<String> = LazyLock::new(|| versioned_url("cafe.js"));

static ICON_URL: LazyLock<String> = LazyLock::new(|| versioned_url("favicon.svg"));

pub fn icon_url() -> &'static str {
    &ICON_URL
}

pub fn style_url() -> &'static str {
    &STYLE_URL
}

pub fn script_url() -> &'static str {
    &SCRIPT_URL
}

/// `GET /static/{name}` from the embedded copies.
pub async fn serve(Path(name): Path<String>) -> Result<Response, AppError> {
    let asset = ASSETS
        .iter()
        .find(|a| a.name == name)
        .ok_or(AppError::NotFound)?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(asset.content_type),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            ),
        ],
        asset.bytes,
    )
        .into_response())
}
