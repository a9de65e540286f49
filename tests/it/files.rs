//! Files attached to method pages and stories (issue 16), as members and
//! visitors meet them: the upload form and its refusals, the file list and
//! history, downloads with their headers, `file:` links in texts, admins
//! hiding a file, profiles and search.

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use http_body_util::BodyExt;
use tower::ServiceExt;

use cafe::config::ServeArgs;

use crate::support::uploads::{download, pdf, png, upload, version_bytes};
use crate::support::{Client, Page, TestApp, attrs, count, select};

// ------------------------------------------------------------ helpers

/// A JPEG photo of `width`×`height` pixels, its colours from `seed`.
pub(crate) fn jpeg(width: u32, height: u32, seed: u8) -> Vec<u8> {
    let image = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([
            (x as u8).wrapping_mul(5).wrapping_add(seed),
            (y as u8).wrapping_mul(3),
            seed,
        ])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image
        .write_to(&mut out, image::ImageFormat::Jpeg)
        .expect("encode a JPEG");
    out.into_inner()
}

/// The CRC-32 of zip entries and PNG chunks.
pub(crate) fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A zip archive with its entries stored, in the given order.
pub(crate) fn zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let (mut out, mut directory) = (Vec::new(), Vec::new());
    for (name, data) in entries {
        let offset = out.len() as u32;
        let (size, name_length) = (data.len() as u32, name.len() as u16);
        let common = |into: &mut Vec<u8>| {
            into.extend(20u16.to_le_bytes()); // version needed
            into.extend([0; 8]); // flags, method (stored), time, date
            into.extend(crc32(data).to_le_bytes());
            into.extend(size.to_le_bytes());
            into.extend(size.to_le_bytes());
            into.extend(name_length.to_le_bytes());
            into.extend(0u16.to_le_bytes()); // extra field
        };
        out.extend(b"PK\x03\x04");
        common(&mut out);
        out.extend(name.as_bytes());
        out.extend(*data);
        directory.extend(b"PK\x01\x02");
        directory.extend(20u16.to_le_bytes()); // version made by
        common(&mut directory);
        directory.extend([0; 6]); // comment, disk, internal attributes
        directory.extend(0u32.to_le_bytes()); // external attributes
        directory.extend(offset.to_le_bytes());
        directory.extend(name.as_bytes());
    }
    let start = out.len() as u32;
    let count = entries.len() as u16;
    out.extend(&directory);
    out.extend(b"PK\x05\x06");
    out.extend([0; 4]);
    out.extend(count.to_le_bytes());
    out.extend(count.to_le_bytes());
    out.extend((directory.len() as u32).to_le_bytes());
    out.extend(start.to_le_bytes());
    out.extend(0u16.to_le_bytes());
    out
}

/// A Word document as Microsoft Office lays out its parts.
fn docx() -> Vec<u8> {
    let xml: &[u8] = b"<?xml version=\"1.0\"?><x/>";
    zip(&[
        ("[Content_Types].xml", xml),
        ("_rels/.rels", xml),
        ("word/document.xml", xml),
        ("word/_rels/document.xml.rels", xml),
    ])
}

/// `jpeg` with an EXIF block right after its start: an orientation, a
/// description naming a place, and a GPS directory with a latitude.
fn with_gps_exif(jpeg: &[u8]) -> Vec<u8> {
    let note = b"Taken at GPS 52.3676 N 4.9041 E\0";
    // Big-endian TIFF: a header, IFD0 (3 entries) at 8, the GPS IFD (2
    // entries) after it, then the description and the latitude.
    let ifd0_at = 8u32;
    let gps_at = ifd0_at + 2 + 3 * 12 + 4;
    let note_at = gps_at + 2 + 2 * 12 + 4;
    let latitude_at = note_at + note.len() as u32;
    let mut tiff = b"MM\0\x2a".to_vec();
    tiff.extend(ifd0_at.to_be_bytes());
    tiff.extend(3u16.to_be_bytes());
    tiff.extend([0x01, 0x0E, 0x00, 0x02]); // ImageDescription, ASCII
    tiff.extend((note.len() as u32).to_be_bytes());
    tiff.extend(note_at.to_be_bytes());
    tiff.extend([0x01, 0x12, 0x00, 0x03, 0, 0, 0, 1, 0, 1, 0, 0]); // Orientation 1
    tiff.extend([0x88, 0x25, 0x00, 0x04, 0, 0, 0, 1]); // GPSInfo, LONG
    tiff.extend(gps_at.to_be_bytes());
    tiff.extend(0u32.to_be_bytes()); // no next directory
    assert_eq!(tiff.len() as u32, gps_at);
    tiff.extend(2u16.to_be_bytes());
    tiff.extend([0x00, 0x01, 0x00, 0x02, 0, 0, 0, 2, b'N', 0, 0, 0]); // GPSLatitudeRef
    tiff.extend([0x00, 0x02, 0x00, 0x05, 0, 0, 0, 3]); // GPSLatitude, 3 RATIONAL
    tiff.extend(latitude_at.to_be_bytes());
    tiff.extend(0u32.to_be_bytes());
    assert_eq!(tiff.len() as u32, note_at);
    tiff.extend(note);
    for (numerator, denominator) in [(52u32, 1u32), (22, 1), (3363, 100)] {
        tiff.extend(numerator.to_be_bytes());
        tiff.extend(denominator.to_be_bytes());
    }
    let mut segment = b"Exif\0\0".to_vec();
    segment.extend(tiff);
    let mut out = jpeg[..2].to_vec();
    out.extend([0xFF, 0xE1]);
    out.extend((segment.len() as u16 + 2).to_be_bytes());
    out.extend(segment);
    out.extend(&jpeg[2..]);
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

/// What a GET of `path` with `headers` answers, the body as bytes.
async fn download_with(
    client: &Client,
    path: &str,
    headers: &[(header::HeaderName, &str)],
) -> (StatusCode, HeaderMap, Vec<u8>) {
    let mut request = Request::get(path);
    if let Some(cookie) = &client.cookie {
        request = request.header(header::COOKIE, cookie);
    }
    for (name, value) in headers {
        request = request.header(name, *value);
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

fn header_of<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

/// The boundary of the hand-made multipart bodies below.
const BOUNDARY: &str = "files-test-boundary-Q8z";

/// One part of a multipart form: a plain field, or a file with its name.
enum Part<'a> {
    Field(&'a str, &'a str),
    File(&'a str, &'a [u8]),
}

/// POSTs `parts` as a multipart form, exactly in that order (no CSRF
/// token is added): for uploads the site's own form would never send.
async fn post_parts(client: &mut Client, path: &str, parts: &[Part<'_>]) -> Page {
    let mut body = Vec::new();
    for part in parts {
        let (headers, value) = match part {
            Part::Field(name, value) => (
                format!("Content-Disposition: form-data; name=\"{name}\""),
                value.as_bytes(),
            ),
            Part::File(filename, bytes) => (
                format!(
                    "Content-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n\
                     Content-Type: application/octet-stream"
                ),
                *bytes,
            ),
        };
        body.extend_from_slice(format!("--{BOUNDARY}\r\n{headers}\r\n\r\n").as_bytes());
        body.extend_from_slice(value);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    let mut request = Request::post(path).header(
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

/// Rows of the files table, versions and stored contents: all zero when
/// nothing was stored.
async fn stored(app: &TestApp) -> (i64, i64, i64) {
    (
        count(&app.state.pool, "SELECT count(*) FROM files").await,
        count(&app.state.pool, "SELECT count(*) FROM file_versions").await,
        count(&app.state.pool, "SELECT count(*) FROM file_blobs").await,
    )
}

/// The text of each row of the file list at `list`.
async fn listed(client: &mut Client, list: &str) -> Vec<String> {
    let page = client.get(list).await;
    page.assert_status(StatusCode::OK);
    select(&page.body, "table.files tbody tr")
}

/// A page by alice, and the address of its file list.
async fn page_of_alice(app: &TestApp, body: &str) -> (Client, String, String) {
    let mut alice = app.member("alice").await;
    let page = alice.create_page("Flip Chart Walk", body, "").await;
    let files = format!("{page}/files");
    (alice, page, files)
}

/// A refused upload re-shows the file list with the reason.
#[track_caller]
fn assert_refused(page: &Page, status: StatusCode, why: &str) {
    page.assert_status(status);
    page.assert_contains("The upload was refused:");
    page.assert_contains(why);
    assert!(
        page.body.contains("Files of Flip Chart Walk"),
        "the file list is shown again:\n{}",
        page.body
    );
}

// ------------------------------------------------------- uploading

#[tokio::test]
async fn a_member_uploads_several_files_which_are_listed_and_come_back_byte_for_byte() {
    let app = TestApp::new().await;
    let (mut alice, _page, files) = page_of_alice(&app, "A page.\n").await;
    let guide = pdf("the facilitation guide");
    let notes = "Timings:\n- 10 min intro\n- 20 min walk\n"
        .as_bytes()
        .to_vec();
    let scores = "team,score\nblue,4\nred,5\n".as_bytes().to_vec();
    let plan = docx();
    let chart = png(40, 30, 7);
    let sent = upload(
        &mut alice,
        &files,
        &[
            ("guide.pdf", &guide),
            ("notes.txt", &notes),
            ("scores.csv", &scores),
            ("plan.docx", &plan),
            ("chart.png", &chart),
        ],
        "The workshop kit",
    )
    .await;
    sent.assert_status(StatusCode::SEE_OTHER);
    assert_eq!(sent.location(), Some(files.as_str()));

    let mut visitor = app.client();
    let rows = listed(&mut visitor, &files).await;
    assert_eq!(rows.len(), 5, "{rows:?}");
    for (name, label, size) in [
        ("guide.pdf", "PDF", guide.len()),
        ("notes.txt", "Text", notes.len()),
        ("scores.csv", "CSV table", scores.len()),
        ("plan.docx", "Word document", plan.len()),
    ] {
        let row = rows
            .iter()
            .find(|row| row.contains(name))
            .unwrap_or_else(|| panic!("{name} is listed: {rows:?}"));
        assert!(row.contains(&format!("{label}, {size} bytes")), "{row}");
        assert!(row.contains("by alice"), "{row}");
        assert!(row.contains("The workshop kit"), "{row}");
        assert!(row.contains("version 1"), "{row}");
    }
    let chart_row = rows.iter().find(|row| row.contains("chart.png")).unwrap();
    assert!(chart_row.contains("PNG image"), "{chart_row}");
    assert!(chart_row.contains("40×30 px"), "{chart_row}");

    for (name, bytes) in [
        ("guide.pdf", &guide),
        ("notes.txt", &notes),
        ("scores.csv", &scores),
        ("plan.docx", &plan),
    ] {
        let (status, _, got) = download(&visitor, &format!("{files}/{name}")).await;
        assert_eq!(status, StatusCode::OK, "{name}");
        assert!(got == *bytes, "{name} comes back byte for byte");
    }
    // Images are encoded again: the same picture, pixel for pixel (PNG is
    // lossless), not the same bytes.
    let (status, headers, got) = download(&visitor, &format!("{files}/chart.png")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(header_of(&headers, "content-type"), "image/png");
    let back = image::load_from_memory(&got).expect("a PNG").to_rgb8();
    let sent = image::load_from_memory(&chart).unwrap().to_rgb8();
    assert_eq!(back.dimensions(), (40, 30));
    assert!(back == sent, "the same pixels");
}

#[tokio::test]
async fn a_jpeg_photo_comes_back_as_a_jpeg_of_the_same_size() {
    let app = TestApp::new().await;
    let (mut alice, _page, files) = page_of_alice(&app, "A page.\n").await;
    upload(&mut alice, &files, &[("room.jpeg", &jpeg(64, 48, 9))], "")
        .await
        .assert_status(StatusCode::SEE_OTHER);
    let (status, headers, got) = download(&app.client(), &format!("{files}/room.jpeg")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(header_of(&headers, "content-type"), "image/jpeg");
    let back = image::load_from_memory_with_format(&got, image::ImageFormat::Jpeg).expect("a JPEG");
    assert_eq!((back.width(), back.height()), (64, 48));
}

#[tokio::test]
async fn uploading_a_file_of_the_same_name_again_makes_version_2_and_keeps_version_1() {
    let app = TestApp::new().await;
    let (mut alice, page, files) = page_of_alice(&app, "A page.\n").await;
    let mut bob = app.member("bob").await;
    upload(&mut alice, &files, &[("guide.pdf", &pdf("first"))], "Draft")
        .await
        .assert_status(StatusCode::SEE_OTHER);
    upload(
        &mut bob,
        &files,
        &[("guide.pdf", &pdf("second"))],
        "With timings",
    )
    .await
    .assert_status(StatusCode::SEE_OTHER);

    let mut visitor = app.client();
    let rows = listed(&mut visitor, &files).await;
    assert_eq!(rows.len(), 1, "one file, two versions: {rows:?}");
    assert!(rows[0].contains("version 2"), "{}", rows[0]);
    assert!(rows[0].contains("by bob"), "{}", rows[0]);
    assert!(rows[0].contains("With timings"), "{}", rows[0]);

    let history = visitor.get(&format!("{files}/guide.pdf/history")).await;
    history.assert_status(StatusCode::OK);
    let versions = select(&history.body, "table.history tbody tr");
    assert_eq!(versions.len(), 2, "{versions:?}");
    assert!(
        versions[0].contains("Version 2") && versions[0].contains("bob"),
        "{versions:?}"
    );
    assert!(versions[0].contains("With timings"), "{versions:?}");
    assert!(
        versions[1].contains("Version 1") && versions[1].contains("alice"),
        "{versions:?}"
    );
    assert!(versions[1].contains("Draft"), "{versions:?}");
    assert_eq!(
        attrs(
            &history.body,
            "table.history tbody a[href*='version=']",
            "href"
        ),
        [
            format!("{files}/guide.pdf?version=2"),
            format!("{files}/guide.pdf?version=1"),
        ]
    );

    assert_eq!(
        version_bytes(&visitor, &page, "guide.pdf", 1).await,
        pdf("first")
    );
    assert_eq!(
        version_bytes(&visitor, &page, "guide.pdf", 2).await,
        pdf("second")
    );
    let (status, _, current) = download(&visitor, &format!("{files}/guide.pdf")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(current, pdf("second"));
    for missing in ["?version=3", "?version=0", "?version=x"] {
        let (status, _, _) = download(&visitor, &format!("{files}/guide.pdf{missing}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{missing}");
    }
}

#[tokio::test]
async fn restoring_an_older_page_revision_keeps_the_files_and_their_embeds() {
    let app = TestApp::new().await;
    let (mut alice, page, files) =
        page_of_alice(&app, "Look: ![the chart](file:chart.png)\n").await;
    let mut bob = app.member("bob").await;
    let base = bob.base_revision(&page).await;
    bob.edit_page(&page, &base, "No chart any more.\n", "", "drop the chart")
        .await
        .assert_status(StatusCode::SEE_OTHER);
    upload(&mut alice, &files, &[("chart.png", &png(20, 10, 3))], "")
        .await
        .assert_status(StatusCode::SEE_OTHER);
    upload(&mut alice, &files, &[("chart.png", &png(20, 10, 4))], "")
        .await
        .assert_status(StatusCode::SEE_OTHER);

    let mut carol = app.member("carol").await;
    carol
        .post(&format!("{page}/revisions/1/restore"), &[])
        .await
        .assert_status(StatusCode::SEE_OTHER);

    let mut visitor = app.client();
    let shown = visitor.get(&page).await;
    shown.assert_status(StatusCode::OK);
    assert!(shown.body.contains("Look:"), "revision 1 is back");
    assert_eq!(
        attrs(&shown.body, "main img[alt='the chart']", "src"),
        [format!("{files}/chart.png?version=2")]
    );
    let rows = listed(&mut visitor, &files).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(rows[0].contains("version 2"), "{rows:?}");
    for number in [1, 2] {
        let bytes = version_bytes(&visitor, &page, "chart.png", number).await;
        assert!(image::load_from_memory(&bytes).is_ok());
    }
}

// ------------------------------------------------------ file: links

#[tokio::test]
async fn file_links_are_missing_until_the_file_is_uploaded_then_show_it() {
    let app = TestApp::new().await;
    let (mut alice, page, files) = page_of_alice(
        &app,
        "![flip chart](file:flipchart.jpg)\n\nRead [the guide](file:guide.pdf).\n",
    )
    .await;
    let mut visitor = app.client();
    let before = visitor.get(&page).await;
    before.assert_status(StatusCode::OK);
    let missing = select(&before.body, "main a.filelink.missing");
    assert_eq!(missing, ["flip chart", "the guide"], "{}", before.body);
    assert_eq!(
        attrs(&before.body, "main a.filelink.missing", "href"),
        [format!("{files}#upload"), format!("{files}#upload")]
    );
    assert!(attrs(&before.body, "main img[alt='flip chart']", "src").is_empty());

    upload(
        &mut alice,
        &files,
        &[
            ("flipchart.jpg", &jpeg(32, 24, 1)),
            ("guide.pdf", &pdf("guide")),
        ],
        "",
    )
    .await
    .assert_status(StatusCode::SEE_OTHER);

    let after = visitor.get(&page).await;
    assert!(select(&after.body, "main a.filelink.missing").is_empty());
    let image = format!("{files}/flipchart.jpg?version=1");
    assert_eq!(
        attrs(&after.body, "main img[alt='flip chart']", "src"),
        std::slice::from_ref(&image)
    );
    assert!(
        attrs(&after.body, "main a", "href").contains(&format!("{files}/guide.pdf")),
        "{}",
        after.body
    );
    let (status, _, _) = download(&visitor, &image).await;
    assert_eq!(status, StatusCode::OK);

    // A new version: the page shows it, without being edited.
    upload(
        &mut alice,
        &files,
        &[("flipchart.jpg", &jpeg(32, 24, 2))],
        "",
    )
    .await
    .assert_status(StatusCode::SEE_OTHER);
    let newer = visitor.get(&page).await;
    assert_eq!(
        attrs(&newer.body, "main img[alt='flip chart']", "src"),
        [format!("{files}/flipchart.jpg?version=2")]
    );
}

#[tokio::test]
async fn a_story_shows_its_own_files_and_only_its_author_attaches_them() {
    let app = TestApp::new().await;
    let (mut alice, page, page_files) = page_of_alice(&app, "A page.\n").await;
    upload(&mut alice, &page_files, &[("guide.pdf", &pdf("guide"))], "")
        .await
        .assert_status(StatusCode::SEE_OTHER);
    let told = alice
        .post(
            &format!("{page}/stories"),
            &[
                ("title", "Walking the charts"),
                (
                    "body",
                    "![the room](file:room.png) and [the guide](file:guide.pdf)",
                ),
                ("outcome", "success"),
                ("location", ""),
            ],
        )
        .await;
    told.assert_status(StatusCode::SEE_OTHER);
    let thread = told.location().expect("the story").to_owned();
    let story_files = format!("{thread}/files");

    let mut visitor = app.client();
    let before = visitor.get(&thread).await;
    before.assert_status(StatusCode::OK);
    assert_eq!(select(&before.body, "a.filelink.missing"), ["the room"]);
    // The page's own file is found from the story.
    assert!(attrs(&before.body, "a", "href").contains(&format!("{page_files}/guide.pdf")));

    let mut bob = app.member("bob").await;
    let refused = upload(&mut bob, &story_files, &[("room.png", &png(8, 8, 1))], "").await;
    refused.assert_status(StatusCode::FORBIDDEN);
    refused.assert_contains("author and administrators can attach files");
    upload(&mut alice, &story_files, &[("room.png", &png(8, 8, 1))], "")
        .await
        .assert_status(StatusCode::SEE_OTHER);

    let after = visitor.get(&thread).await;
    assert!(select(&after.body, "a.filelink.missing").is_empty());
    assert_eq!(
        attrs(&after.body, "img[alt='the room']", "src"),
        [format!("{story_files}/room.png?version=1")]
    );
    let rows = listed(&mut visitor, &story_files).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(rows[0].contains("room.png"));
    // The story's file is the story's: not on the page's list.
    let page_rows = listed(&mut visitor, &page_files).await;
    assert!(page_rows.iter().all(|row| !row.contains("room.png")));
    let (status, _, _) = download(&visitor, &format!("{story_files}/room.png")).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = download(&visitor, &format!("{page_files}/room.png")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// A reply's `file:` link finds the page's files as the story's does: shown
/// missing until the file is uploaded, then leading to it, without the
/// reply being written again.
#[tokio::test]
async fn a_replys_file_link_leads_to_the_file_once_it_is_uploaded() {
    let app = TestApp::new().await;
    let (mut alice, page, page_files) = page_of_alice(&app, "A page.\n").await;
    let told = alice
        .post(
            &format!("{page}/stories"),
            &[
                ("title", "Walking the charts"),
                ("body", "It went well."),
                ("outcome", "success"),
                ("location", ""),
            ],
        )
        .await;
    told.assert_status(StatusCode::SEE_OTHER);
    let thread = told.location().expect("the story").to_owned();
    let mut bob = app.member("bob").await;
    bob.post(
        &format!("{thread}/replies"),
        &[("body", "We used [the checklist](file:checklist.pdf) too.")],
    )
    .await
    .assert_status(StatusCode::SEE_OTHER);

    let mut visitor = app.client();
    let before = visitor.get(&thread).await;
    before.assert_status(StatusCode::OK);
    assert_eq!(
        select(&before.body, "a.filelink.missing"),
        ["the checklist"]
    );

    upload(
        &mut alice,
        &page_files,
        &[("checklist.pdf", &pdf("checklist"))],
        "",
    )
    .await
    .assert_status(StatusCode::SEE_OTHER);
    let after = visitor.get(&thread).await;
    assert!(
        select(&after.body, "a.filelink.missing").is_empty(),
        "{}",
        after.body
    );
    assert!(
        attrs(&after.body, "a", "href").contains(&format!("{page_files}/checklist.pdf")),
        "{}",
        after.body
    );
}

/// A story's missing file is uploaded to the story, as the page's own
/// missing files are to the page: its link leads to the story's form.
#[tokio::test]
async fn a_new_storys_missing_file_link_leads_to_the_storys_upload_form() {
    let app = TestApp::new().await;
    let (mut alice, page, _files) = page_of_alice(&app, "A page.\n").await;
    let told = alice
        .post(
            &format!("{page}/stories"),
            &[
                ("title", "Walking the charts"),
                ("body", "![the room](file:room.png)"),
                ("outcome", "success"),
                ("location", ""),
            ],
        )
        .await;
    told.assert_status(StatusCode::SEE_OTHER);
    let thread = told.location().expect("the story").to_owned();
    let shown = app.client().get(&thread).await;
    assert_eq!(
        attrs(&shown.body, "a.filelink.missing", "href"),
        [format!("{thread}/files#upload")]
    );
}

// --------------------------------------------------------- refusals

#[tokio::test]
async fn bytes_that_do_not_match_the_extension_are_refused_and_nothing_is_stored() {
    let app = TestApp::new().await;
    let (mut alice, _page, files) = page_of_alice(&app, "A page.\n").await;
    let refused = upload(&mut alice, &files, &[("guide.pdf", &png(4, 4, 1))], "").await;
    assert_refused(
        &refused,
        StatusCode::UNPROCESSABLE_ENTITY,
        "rename it to end in .png",
    );
    // One bad file refuses the whole upload.
    let refused = upload(
        &mut alice,
        &files,
        &[("notes.txt", b"fine\n"), ("photo.jpg", &pdf("not a photo"))],
        "",
    )
    .await;
    assert_refused(
        &refused,
        StatusCode::UNPROCESSABLE_ENTITY,
        "rename it to end in .pdf",
    );
    assert_eq!(stored(&app).await, (0, 0, 0));
    let (status, _, _) = download(&app.client(), &format!("{files}/guide.pdf")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = download(&app.client(), &format!("{files}/notes.txt")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn files_of_unknown_or_unaccepted_types_are_refused() {
    let app = TestApp::new().await;
    let (mut alice, _page, files) = page_of_alice(&app, "A page.\n").await;
    let random: Vec<u8> = (0..2048u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let mut exe = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff".to_vec();
    exe.extend(vec![0u8; 64]);
    exe.extend(b"This program cannot be run in DOS mode.");
    for (name, bytes, why) in [
        ("data.bin", random.as_slice(), "none of the accepted types"),
        ("notes.txt", random.as_slice(), "none of the accepted types"),
        ("setup.exe", exe.as_slice(), "not accepted"),
        ("guide.pdf", exe.as_slice(), "not accepted"),
        ("run.sh", b"#!/bin/sh\nrm -rf /\n".as_slice(), "script"),
    ] {
        let refused = upload(&mut alice, &files, &[(name, bytes)], "").await;
        assert_refused(&refused, StatusCode::UNPROCESSABLE_ENTITY, why);
    }
    assert_eq!(stored(&app).await, (0, 0, 0));
}

#[tokio::test]
async fn svg_is_refused_whatever_it_is_named() {
    let app = TestApp::new().await;
    let (mut alice, _page, files) = page_of_alice(&app, "A page.\n").await;
    let svg = br#"<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><circle r="4"/></svg>"#;
    let with_prolog = [b"<?xml version=\"1.0\"?>\n".as_slice(), svg].concat();
    for (name, bytes) in [
        ("drawing.svg", svg.as_slice()),
        ("drawing.png", svg.as_slice()),
        ("drawing.txt", svg.as_slice()),
        ("drawing.md", with_prolog.as_slice()),
    ] {
        let refused = upload(&mut alice, &files, &[(name, bytes)], "").await;
        assert_refused(&refused, StatusCode::UNPROCESSABLE_ENTITY, "SVG");
    }
    assert_eq!(stored(&app).await, (0, 0, 0));
}

#[tokio::test]
async fn a_file_name_holding_a_path_is_refused_and_nothing_escapes() {
    let app = TestApp::new().await;
    let (mut alice, _page, files) = page_of_alice(&app, "A page.\n").await;
    for name in ["../x.pdf", "a/b.pdf", "..\\\\x.pdf", "/etc/passwd.pdf"] {
        let refused = upload(&mut alice, &files, &[(name, &pdf("x"))], "").await;
        assert_refused(
            &refused,
            StatusCode::UNPROCESSABLE_ENTITY,
            "A file name cannot contain a path",
        );
    }
    assert_eq!(stored(&app).await, (0, 0, 0));
    // Names of a single segment are kept, without what a path would need.
    upload(&mut alice, &files, &[("..x.pdf", &pdf("x"))], "")
        .await
        .assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    upload(&mut alice, &files, &[("my plan (v2).pdf", &pdf("x"))], "")
        .await
        .assert_status(StatusCode::SEE_OTHER);
    let rows = listed(&mut app.client(), &files).await;
    assert_eq!(rows.len(), 1);
    assert!(rows[0].contains("my-plan-(v2).pdf"), "{rows:?}");
    let (status, _, bytes) = download(&app.client(), &format!("{files}/my-plan-(v2).pdf")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(bytes, pdf("x"));
}

#[tokio::test]
async fn a_file_over_the_size_limit_is_refused_with_413_and_nothing_is_stored() {
    let mut config = ServeArgs::defaults();
    config.file_max_mib = 1;
    let app = TestApp::with_config(config).await;
    let (mut alice, _page, files) = page_of_alice(&app, "A page.\n").await;
    let two_mib = "a line of text\n".repeat((2 << 20) / 15 + 1);
    let refused = upload(&mut alice, &files, &[("big.txt", two_mib.as_bytes())], "").await;
    refused.assert_status(StatusCode::PAYLOAD_TOO_LARGE);
    refused.assert_contains("1 MiB");
    // Two files that fit alone but not together.
    let half = "b line of text\n".repeat((600 << 10) / 15);
    let refused = upload(
        &mut alice,
        &files,
        &[("one.txt", half.as_bytes()), ("two.txt", half.as_bytes())],
        "",
    )
    .await;
    refused.assert_status(StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(stored(&app).await, (0, 0, 0));
    // Just under the limit is fine.
    let under = "c line of text\n".repeat((1 << 20) / 15 - 10);
    upload(&mut alice, &files, &[("under.txt", under.as_bytes())], "")
        .await
        .assert_status(StatusCode::SEE_OTHER);
    let (status, _, bytes) = download(&app.client(), &format!("{files}/under.txt")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(bytes.len(), under.len());
}

#[tokio::test]
async fn files_past_the_per_page_limit_are_refused_with_413() {
    let mut config = ServeArgs::defaults();
    config.page_files_max_mib = 1;
    let app = TestApp::with_config(config).await;
    let (mut alice, _page, files) = page_of_alice(&app, "A page.\n").await;
    let part = "a line of text\n".repeat((600 << 10) / 15);
    upload(&mut alice, &files, &[("one.txt", part.as_bytes())], "")
        .await
        .assert_status(StatusCode::SEE_OTHER);
    // A new version counts too: the first is kept.
    let again = part.replace('a', "b");
    let refused = upload(&mut alice, &files, &[("one.txt", again.as_bytes())], "").await;
    assert_refused(
        &refused,
        StatusCode::PAYLOAD_TOO_LARGE,
        "the most a page may hold",
    );
    let refused = upload(&mut alice, &files, &[("two.txt", again.as_bytes())], "").await;
    refused.assert_status(StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(stored(&app).await, (1, 1, 1));
    let rows = listed(&mut app.client(), &files).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(rows[0].contains("version 1"), "{rows:?}");
    // Another page has its own allowance.
    let other = alice.create_page("Another Page", "Text.\n", "").await;
    upload(
        &mut alice,
        &format!("{other}/files"),
        &[("two.txt", again.as_bytes())],
        "",
    )
    .await
    .assert_status(StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn visitors_who_upload_are_sent_to_sign_in_and_nothing_is_stored() {
    let app = TestApp::new().await;
    let (_alice, _page, files) = page_of_alice(&app, "A page.\n").await;
    let mut visitor = app.client();
    let list = visitor.get(&files).await;
    list.assert_status(StatusCode::OK);
    assert!(!list.body.contains("enctype=\"multipart/form-data\""));
    list.assert_contains("to attach files");
    let sent = upload(&mut visitor, &files, &[("guide.pdf", &pdf("x"))], "").await;
    sent.assert_status(StatusCode::SEE_OTHER);
    let to = sent.location().expect("a redirect");
    assert!(to.starts_with("/signin?next="), "{to}");
    assert_eq!(stored(&app).await, (0, 0, 0));
}

#[tokio::test]
async fn members_cannot_attach_files_to_a_protected_page_and_admins_can() {
    let app = TestApp::new().await;
    let (_alice, page, files) = page_of_alice(&app, "A page.\n").await;
    let mut root = app.admin("root").await;
    root.post(&format!("{page}/protect"), &[("protected", "1")])
        .await
        .assert_status(StatusCode::SEE_OTHER);
    let mut bob = app.member("bob").await;
    let list = bob.get(&files).await;
    assert!(!list.body.contains("enctype=\"multipart/form-data\""));
    let refused = upload(&mut bob, &files, &[("guide.pdf", &pdf("x"))], "").await;
    refused.assert_status(StatusCode::FORBIDDEN);
    refused.assert_contains("This page is protected");
    assert_eq!(stored(&app).await, (0, 0, 0));
    upload(&mut root, &files, &[("guide.pdf", &pdf("x"))], "")
        .await
        .assert_status(StatusCode::SEE_OTHER);
    assert_eq!(listed(&mut bob, &files).await.len(), 1);
}

#[tokio::test]
async fn an_upload_without_the_right_csrf_token_is_refused_and_stores_nothing() {
    let app = TestApp::new().await;
    let (mut alice, _page, files) = page_of_alice(&app, "A page.\n").await;
    let bytes = pdf("x");
    let token = alice.csrf().await;
    let other_token = {
        let mut bob = app.member("bob").await;
        bob.csrf().await
    };
    for (what, parts) in [
        ("no token", vec![Part::File("guide.pdf", &bytes)]),
        (
            "a wrong token",
            vec![
                Part::Field("csrf_token", "not-the-token"),
                Part::File("guide.pdf", &bytes),
            ],
        ),
        (
            "another member's token",
            vec![
                Part::Field("csrf_token", &other_token),
                Part::File("guide.pdf", &bytes),
            ],
        ),
        (
            "the token after the file",
            vec![
                Part::File("guide.pdf", &bytes),
                Part::Field("csrf_token", &token),
            ],
        ),
    ] {
        let refused = post_parts(&mut alice, &files, &parts).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{what}");
        assert!(refused.body.contains("This form has expired"), "{what}");
    }
    assert_eq!(stored(&app).await, (0, 0, 0));
    // The right token first is an upload.
    let sent = post_parts(
        &mut alice,
        &files,
        &[
            Part::Field("csrf_token", &token),
            Part::File("guide.pdf", &bytes),
        ],
    )
    .await;
    sent.assert_status(StatusCode::SEE_OTHER);
    assert_eq!(stored(&app).await, (1, 1, 1));
}

#[tokio::test]
async fn a_member_over_the_hourly_upload_limit_is_answered_429() {
    let mut config = ServeArgs::defaults();
    config.uploads_per_hour = 2;
    let app = TestApp::with_config(config).await;
    let (mut alice, _page, files) = page_of_alice(&app, "A page.\n").await;
    for n in 1..=2 {
        upload(
            &mut alice,
            &files,
            &[("notes.txt", format!("{n}\n").as_bytes())],
            "",
        )
        .await
        .assert_status(StatusCode::SEE_OTHER);
    }
    let refused = upload(&mut alice, &files, &[("notes.txt", b"3\n")], "").await;
    refused.assert_status(StatusCode::TOO_MANY_REQUESTS);
    refused.assert_contains("Too many attempts");
    let retry: u64 = refused
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .expect("a Retry-After in seconds");
    assert!(retry > 0 && retry <= 3600, "{retry}");
    assert_eq!(
        count(&app.state.pool, "SELECT count(*) FROM file_versions").await,
        2
    );
    // The limit is per member.
    let mut bob = app.member("bob").await;
    upload(&mut bob, &files, &[("bob.txt", b"hi\n")], "")
        .await
        .assert_status(StatusCode::SEE_OTHER);
}

// ---------------------------------------------------------- headers

/// What every answer with a file's bytes must say.
#[track_caller]
fn assert_inert(headers: &HeaderMap, what: &str) {
    assert_eq!(
        header_of(headers, "x-content-type-options"),
        "nosniff",
        "{what}"
    );
    let csp = header_of(headers, "content-security-policy");
    assert!(csp.contains("sandbox"), "{what}: {csp}");
    assert!(csp.contains("default-src 'none'"), "{what}: {csp}");
    assert!(
        header_of(headers, "etag").starts_with('"'),
        "{what}: an ETag"
    );
}

#[tokio::test]
async fn every_file_answer_carries_the_headers_that_keep_it_inert() {
    let app = TestApp::new().await;
    let (mut alice, _page, files) = page_of_alice(&app, "A page.\n").await;
    upload(
        &mut alice,
        &files,
        &[
            ("chart.png", &png(40, 30, 7)),
            ("photo.jpg", &jpeg(40, 30, 7)),
            ("guide.pdf", &pdf("guide")),
            ("plan.docx", &docx()),
            ("scores.csv", b"a,b\n1,2\n"),
            ("notes.txt", b"hello\n"),
        ],
        "",
    )
    .await
    .assert_status(StatusCode::SEE_OTHER);
    let visitor = app.client();
    for (name, content_type, disposition) in [
        ("chart.png", "image/png", "inline"),
        ("photo.jpg", "image/jpeg", "inline"),
        ("guide.pdf", "application/pdf", "inline"),
        (
            "plan.docx",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "attachment",
        ),
        ("scores.csv", "text/csv; charset=utf-8", "attachment"),
        ("notes.txt", "text/plain; charset=utf-8", "attachment"),
    ] {
        let url = format!("{files}/{name}");
        let (status, headers, _) = download(&visitor, &url).await;
        assert_eq!(status, StatusCode::OK, "{url}");
        assert_inert(&headers, &url);
        assert_eq!(header_of(&headers, "content-type"), content_type, "{url}");
        let got = header_of(&headers, "content-disposition");
        assert!(
            got.starts_with(&format!("{disposition}; filename=\"{name}\"")),
            "{url}: {got}"
        );
        let cache = header_of(&headers, "cache-control");
        assert!(
            cache.contains("no-cache") && !cache.contains("immutable"),
            "the current version is asked for again: {cache}"
        );

        let versioned = format!("{url}?version=1");
        let (status, headers, _) = download(&visitor, &versioned).await;
        assert_eq!(status, StatusCode::OK, "{versioned}");
        assert_inert(&headers, &versioned);
        let cache = header_of(&headers, "cache-control");
        assert!(cache.contains("immutable"), "{versioned}: {cache}");
        assert!(cache.contains("max-age=31536000"), "{versioned}: {cache}");
    }

    // Thumbnails of images, none for other files.
    let thumbnail = format!("{files}/chart.png/thumbnail?version=1");
    let (status, headers, bytes) = download(&visitor, &thumbnail).await;
    assert_eq!(status, StatusCode::OK);
    assert_inert(&headers, &thumbnail);
    assert!(header_of(&headers, "content-type").starts_with("image/"));
    assert!(header_of(&headers, "cache-control").contains("immutable"));
    assert!(image::load_from_memory(&bytes).is_ok());
    let list = app.client().get(&files).await;
    assert!(attrs(&list.body, "table.files img", "src").contains(&thumbnail));
    let (status, _, _) = download(&visitor, &format!("{files}/guide.pdf/thumbnail")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A file that is not there is a plain 404.
    let (status, _, _) = download(&visitor, &format!("{files}/nothing.pdf")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = download(&visitor, "/methods/no-such-page/files/guide.pdf").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_known_etag_is_answered_304_with_the_same_headers() {
    let app = TestApp::new().await;
    let (mut alice, _page, files) = page_of_alice(&app, "A page.\n").await;
    upload(&mut alice, &files, &[("guide.pdf", &pdf("one"))], "")
        .await
        .assert_status(StatusCode::SEE_OTHER);
    let visitor = app.client();
    let url = format!("{files}/guide.pdf");
    let (_, first, _) = download(&visitor, &url).await;
    let etag = header_of(&first, "etag").to_owned();
    for (path, tag) in [
        (url.clone(), etag.clone()),
        (format!("{url}?version=1"), etag.clone()),
        (url.clone(), format!("W/{etag}")),
        (url.clone(), format!("\"other\", {etag}")),
    ] {
        let (status, headers, body) =
            download_with(&visitor, &path, &[(header::IF_NONE_MATCH, &tag)]).await;
        assert_eq!(status, StatusCode::NOT_MODIFIED, "{path} {tag}");
        assert!(body.is_empty());
        assert_inert(&headers, &path);
        assert_eq!(header_of(&headers, "etag"), etag);
    }
    let (status, _, body) =
        download_with(&visitor, &url, &[(header::IF_NONE_MATCH, "\"other\"")]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, pdf("one"));

    // A new version has a new tag: the old one is answered in full.
    upload(&mut alice, &files, &[("guide.pdf", &pdf("two"))], "")
        .await
        .assert_status(StatusCode::SEE_OTHER);
    let (status, headers, body) =
        download_with(&visitor, &url, &[(header::IF_NONE_MATCH, &etag)]).await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(header_of(&headers, "etag"), etag);
    assert_eq!(body, pdf("two"));
}

#[tokio::test]
async fn byte_ranges_are_answered_206_and_ranges_past_the_end_416() {
    let app = TestApp::new().await;
    let (mut alice, _page, files) = page_of_alice(&app, "A page.\n").await;
    let guide = pdf("a guide long enough to take a few ranges of");
    upload(&mut alice, &files, &[("guide.pdf", &guide)], "")
        .await
        .assert_status(StatusCode::SEE_OTHER);
    let visitor = app.client();
    let url = format!("{files}/guide.pdf");
    let size = guide.len();
    for (range, from, to) in [
        ("bytes=0-9".to_owned(), 0, 9),
        (format!("bytes=10-{}", size + 100), 10, size - 1),
        ("bytes=-5".to_owned(), size - 5, size - 1),
        (format!("bytes={}-", size - 3), size - 3, size - 1),
    ] {
        let (status, headers, body) =
            download_with(&visitor, &url, &[(header::RANGE, &range)]).await;
        assert_eq!(status, StatusCode::PARTIAL_CONTENT, "{range}");
        assert_inert(&headers, &range);
        assert_eq!(
            header_of(&headers, "content-range"),
            format!("bytes {from}-{to}/{size}"),
            "{range}"
        );
        assert_eq!(
            header_of(&headers, "content-length"),
            (to - from + 1).to_string()
        );
        assert_eq!(body, guide[from..=to], "{range}");
    }
    for range in [
        format!("bytes={size}-"),
        format!("bytes={}-{}", size + 5, size + 9),
    ] {
        let (status, headers, body) =
            download_with(&visitor, &url, &[(header::RANGE, &range)]).await;
        assert_eq!(status, StatusCode::RANGE_NOT_SATISFIABLE, "{range}");
        assert_eq!(
            header_of(&headers, "content-range"),
            format!("bytes */{size}")
        );
        assert_inert(&headers, &range);
        // No byte of the file: at most the site's error page.
        assert!(!contains(&body, b"%PDF"), "{range}");
    }
    // A range for other content (If-Range) gets the whole file.
    let (status, _, body) = download_with(
        &visitor,
        &url,
        &[
            (header::RANGE, "bytes=0-9"),
            (header::IF_RANGE, "\"stale\""),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, guide);
    // Ranges of an older version, as a PDF reader asks for them.
    upload(&mut alice, &files, &[("guide.pdf", &pdf("v2"))], "")
        .await
        .assert_status(StatusCode::SEE_OTHER);
    let (status, _, body) = download_with(
        &visitor,
        &format!("{url}?version=1"),
        &[(header::RANGE, "bytes=0-9")],
    )
    .await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(body, guide[..10]);
}

// ------------------------------------------------------------- EXIF

#[tokio::test]
async fn the_exif_block_and_gps_position_of_a_photo_are_gone_after_upload() {
    let app = TestApp::new().await;
    let (mut alice, _page, files) = page_of_alice(&app, "A page.\n").await;
    let photo = with_gps_exif(&jpeg(48, 32, 5));
    // The photo as sent has them, and is a JPEG any reader opens.
    assert!(contains(&photo, b"Exif\0\0") && contains(&photo, b"GPS 52.3676"));
    assert!(image::load_from_memory(&photo).is_ok());
    upload(&mut alice, &files, &[("walk.jpg", &photo)], "")
        .await
        .assert_status(StatusCode::SEE_OTHER);
    for url in [
        format!("{files}/walk.jpg"),
        format!("{files}/walk.jpg?version=1"),
        format!("{files}/walk.jpg/thumbnail?version=1"),
    ] {
        let (status, _, got) = download(&app.client(), &url).await;
        assert_eq!(status, StatusCode::OK, "{url}");
        assert!(!contains(&got, b"Exif"), "{url}: no EXIF block");
        assert!(!contains(&got, b"GPS"), "{url}: no GPS text");
        assert!(!contains(&got, b"52.3676"), "{url}: no position");
        let back = image::load_from_memory(&got).expect("still a picture");
        if !url.contains("thumbnail") {
            assert_eq!((back.width(), back.height()), (48, 32));
        }
    }
}

// ---------------------------------------------------- admins, hiding

#[tokio::test]
async fn a_hidden_file_is_gone_for_visitors_and_members_and_kept_for_admins() {
    let app = TestApp::new().await;
    let (mut alice, page, files) = page_of_alice(&app, "![the chart](file:chart.png)\n").await;
    upload(
        &mut alice,
        &files,
        &[("chart.png", &png(16, 16, 2)), ("guide.pdf", &pdf("g"))],
        "hide me",
    )
    .await
    .assert_status(StatusCode::SEE_OTHER);
    let chart = format!("{files}/chart.png");

    // Only admins hide.
    alice
        .post(&format!("{chart}/hide"), &[])
        .await
        .assert_status(StatusCode::FORBIDDEN);
    let mut root = app.admin("root").await;
    let hidden = root.post(&format!("{chart}/hide"), &[]).await;
    hidden.assert_status(StatusCode::SEE_OTHER);
    assert_eq!(hidden.location(), Some(files.as_str()));

    let mut visitor = app.client();
    let mut bob = app.member("bob").await;
    for (who, client) in [("a visitor", &mut visitor), ("a member", &mut bob)] {
        for path in [
            chart.clone(),
            format!("{chart}?version=1"),
            format!("{chart}/thumbnail?version=1"),
            format!("{chart}/history"),
        ] {
            let (status, _, _) = download(client, &path).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{who}: {path}");
        }
        let rows = listed(client, &files).await;
        assert_eq!(rows.len(), 1, "{who}: {rows:?}");
        assert!(!rows[0].contains("chart.png"), "{who}: {rows:?}");
        let shown = client.get(&page).await;
        assert!(
            attrs(&shown.body, "main img", "src")
                .iter()
                .all(|src| !src.contains("chart.png")),
            "{who}: the page no longer shows it"
        );
        assert_eq!(
            select(&shown.body, "main a.filelink.missing"),
            ["the chart"]
        );
        let search = client.get("/search?q=chart").await;
        let found = select(&search.body, "section.file-results li");
        assert!(
            found.iter().all(|f| !f.contains("chart.png")),
            "{who}: {found:?}"
        );
    }
    let profile = visitor.get("/users/alice").await;
    let uploads = select(
        &profile.body,
        "section[aria-labelledby='profile-uploads'] li",
    );
    assert_eq!(uploads.len(), 1, "{uploads:?}");
    assert!(!uploads[0].contains("chart.png"), "{uploads:?}");

    // Admins still see it, marked hidden, and can show it again.
    let rows = listed(&mut root, &files).await;
    let row = rows.iter().find(|row| row.contains("chart.png")).unwrap();
    assert!(row.contains("hidden"), "{row}");
    let (status, _, _) = download(&root, &chart).await;
    assert_eq!(status, StatusCode::OK);
    root.post(&format!("{chart}/show"), &[])
        .await
        .assert_status(StatusCode::SEE_OTHER);
    let (status, _, _) = download(&visitor, &chart).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        attrs(
            &visitor.get(&page).await.body,
            "main img[alt='the chart']",
            "src"
        ),
        [format!("{chart}?version=1")]
    );
}

#[tokio::test]
async fn the_largest_files_are_listed_for_admins_only() {
    let app = TestApp::new().await;
    let (mut alice, _page, files) = page_of_alice(&app, "A page.\n").await;
    let big = "a line of text\n".repeat(4000);
    upload(
        &mut alice,
        &files,
        &[
            ("small.txt", b"small\n"),
            ("big.txt", big.as_bytes()),
            ("guide.pdf", &pdf("g")),
        ],
        "",
    )
    .await
    .assert_status(StatusCode::SEE_OTHER);
    let mut root = app.admin("root").await;
    root.post(&format!("{files}/guide.pdf/hide"), &[])
        .await
        .assert_status(StatusCode::SEE_OTHER);

    alice
        .get("/admin/files")
        .await
        .assert_status(StatusCode::FORBIDDEN);
    let visitor = app.client().get("/admin/files").await;
    visitor.assert_status(StatusCode::SEE_OTHER);
    assert!(
        visitor
            .location()
            .is_some_and(|to| to.starts_with("/signin"))
    );

    let largest = root.get("/admin/files").await;
    largest.assert_status(StatusCode::OK);
    let names = select(&largest.body, "table.files tbody td:first-child a");
    assert_eq!(
        names,
        ["big.txt", "guide.pdf", "small.txt"],
        "largest first"
    );
    let rows = select(&largest.body, "table.files tbody tr");
    assert!(
        rows[0].contains("Flip Chart Walk") && rows[0].contains("59 KB"),
        "{rows:?}"
    );
    assert!(rows[1].contains("hidden"), "hidden ones too: {rows:?}");
    largest.assert_contains("3 distinct contents");
}

// ------------------------------------------------ profiles and search

#[tokio::test]
async fn a_members_profile_lists_what_they_uploaded() {
    let app = TestApp::new().await;
    let (mut alice, _page, files) = page_of_alice(&app, "A page.\n").await;
    upload(&mut alice, &files, &[("guide.pdf", &pdf("g"))], "")
        .await
        .assert_status(StatusCode::SEE_OTHER);
    let mut bob = app.member("bob").await;
    upload(
        &mut bob,
        &files,
        &[("timings.csv", b"step,minutes\nintro,10\n")],
        "",
    )
    .await
    .assert_status(StatusCode::SEE_OTHER);

    let mut visitor = app.client();
    let profile = visitor.get("/users/alice").await;
    profile.assert_status(StatusCode::OK);
    let uploads = select(
        &profile.body,
        "section[aria-labelledby='profile-uploads'] li",
    );
    assert_eq!(uploads.len(), 1, "{uploads:?}");
    assert!(uploads[0].contains("guide.pdf") && uploads[0].contains("Flip Chart Walk"));
    assert!(
        attrs(
            &profile.body,
            "section[aria-labelledby='profile-uploads'] a",
            "href"
        )
        .iter()
        .any(|href| href.starts_with(&format!("{files}/guide.pdf")))
    );
    let theirs = visitor.get("/users/bob").await;
    let uploads = select(
        &theirs.body,
        "section[aria-labelledby='profile-uploads'] li",
    );
    assert_eq!(uploads.len(), 1, "{uploads:?}");
    assert!(uploads[0].contains("timings.csv"));
}

#[tokio::test]
async fn search_finds_files_by_name_and_description() {
    let app = TestApp::new().await;
    let (mut alice, _page, files) = page_of_alice(&app, "A page.\n").await;
    upload(
        &mut alice,
        &files,
        &[("flipchart-template.pdf", &pdf("g"))],
        "Printable poster for the gallery walk",
    )
    .await
    .assert_status(StatusCode::SEE_OTHER);
    let mut visitor = app.client();
    for query in ["flipchart", "Template", "poster", "gallery+walk"] {
        let found = visitor.get(&format!("/search?q={query}")).await;
        found.assert_status(StatusCode::OK);
        let section = select(&found.body, "section.file-results li");
        assert_eq!(section.len(), 1, "{query}: {}", found.body);
        assert!(section[0].contains("flipchart-template.pdf"), "{query}");
        assert!(section[0].contains("Flip Chart Walk"), "{query}");
        assert_eq!(
            select(&found.body, "section.file-results h2"),
            ["Files"],
            "{query}"
        );
        assert_eq!(
            attrs(&found.body, "section.file-results li > a", "href"),
            [format!("{files}/flipchart-template.pdf?version=1")]
        );
    }
    let none = visitor.get("/search?q=spreadsheet").await;
    assert!(select(&none.body, "section.file-results li").is_empty());
}

// ---------------------------------------------------------- escaping

#[tokio::test]
async fn names_and_descriptions_with_markup_are_cleaned_and_shown_as_text() {
    let app = TestApp::new().await;
    let (mut alice, _page, files) = page_of_alice(&app, "A page.\n").await;
    let sent = upload(
        &mut alice,
        &files,
        &[("<b>plan 'v2' & final<i>.pdf", &pdf("x"))],
        "<b>bold</b> & \"quoted\" <script>alert(1)</script>",
    )
    .await;
    sent.assert_status(StatusCode::SEE_OTHER);
    let list = alice.get(&files).await;
    list.assert_status(StatusCode::OK);
    assert_eq!(
        select(&list.body, "table.files tbody td:nth-child(2) a"),
        ["b-plan-v2-final-i.pdf"]
    );
    assert!(!list.body.contains("<b>"), "no raw <b> in:\n{}", list.body);
    assert!(!list.body.contains("<script>alert"));
    let row = &select(&list.body, "table.files tbody tr")[0];
    assert!(
        row.contains("<b>bold</b> & \"quoted\" <script>alert(1)</script>"),
        "the description is shown as typed, as text: {row}"
    );
    assert!(select(&list.body, "table.files b, table.files script").is_empty());
    let (status, headers, _) = download(&alice, &format!("{files}/b-plan-v2-final-i.pdf")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        header_of(&headers, "content-disposition").contains("filename=\"b-plan-v2-final-i.pdf\"")
    );
}
