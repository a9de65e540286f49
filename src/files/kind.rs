//! What an uploaded file is, decided from its bytes, never from its name
//! or the type the browser claimed (OWASP's file-upload rules): the name
//! is sanitised, the type is read from magic numbers against an
//! allowlist, and images are decoded and encoded again under explicit
//! limits, which drops their metadata (camera, GPS position) and any
//! other file hidden inside them.

use std::borrow::Cow;
use std::io::Cursor;

use image::codecs::gif::GifEncoder;
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::codecs::webp::WebPEncoder;
use image::{
    DynamicImage, ExtendedColorType, ImageDecoder, ImageError, ImageFormat, ImageReader, Limits,
    RgbImage,
};
use unicode_normalization::UnicodeNormalization;

/// The widest and tallest image accepted, in pixels. Wider than any camera
/// or phone photo (a 100-megapixel sensor is about 11,600 px wide), so what
/// it stops is a decompression bomb: a small file declaring a huge canvas,
/// refused from its header before any pixel memory is taken.
pub const MAX_IMAGE_SIDE: u32 = 12_000;

/// The most memory an image may take once decoded (and the decoder's own
/// allocation limit). 128 MiB holds a 44-megapixel photo, or 33 megapixels
/// with transparency; rotating and encoding it again takes about as much
/// once more, so a few uploads at once stay well within a small server.
pub const MAX_IMAGE_ALLOC: u64 = 128 * 1024 * 1024;

/// Thumbnails fit in a square of this side, in pixels: twice the size
/// they are shown at in file lists, for high-density screens.
pub const THUMBNAIL_SIDE: u32 = 320;

/// The longest file name, in characters: long enough for a descriptive
/// name, short enough for file lists, URLs and every file system.
pub const MAX_NAME_CHARS: usize = 120;

/// A name longer than this, in bytes, is refused before it is normalised,
/// so that a hostile name costs no work. A character in NFC stands for at
/// most four (its canonical decomposition) of at most four bytes each, so
/// such a name would still be over [`MAX_NAME_CHARS`] once normalised.
const MAX_RAW_NAME_BYTES: usize = 16 * (MAX_NAME_CHARS + 1);

/// JPEG quality of a re-encoded photo: visually the same as the upload,
/// about half the size of quality 100.
const JPEG_QUALITY: u8 = 88;

/// JPEG quality of a thumbnail: small, seen at a glance.
const THUMBNAIL_JPEG_QUALITY: u8 = 80;

/// How far into a text file markup is looked for: browsers that sniff
/// (and old Internet Explorer, which looked at the first 256 bytes) decide
/// from the start of a file.
const MARKUP_WINDOW: usize = 1024;

/// Markup that makes a file a web page or a drawing a browser would run
/// scripts in, looked for (ignoring case) near the start of text files.
const MARKUP: [&[u8]; 5] = [b"<svg", b"<!doctype", b"<html", b"<script", b"<?xml"];

/// What Cafe accepts, for refusals.
const ACCEPTED: &str = "Cafe accepts PNG, JPEG, GIF and WebP images, PDF, text (.txt, .md, \
                        .csv), and Word, Excel, PowerPoint and OpenDocument files";

/// The start of every OLE compound file (old Office documents, but also
/// installers and other Windows files).
const CFB_MAGIC: [u8; 8] = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];

/// The types Cafe accepts, each with the extensions a name of it may end in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Png,
    Jpeg,
    Gif,
    Webp,
    Pdf,
    Text,
    Csv,
    Docx,
    Xlsx,
    Pptx,
    Odt,
    Ods,
    Odp,
    Doc,
    Xls,
    Ppt,
}

impl Kind {
    /// Every kind, for lists of accepted types and for tests.
    pub const ALL: [Kind; 16] = [
        Kind::Png,
        Kind::Jpeg,
        Kind::Gif,
        Kind::Webp,
        Kind::Pdf,
        Kind::Text,
        Kind::Csv,
        Kind::Docx,
        Kind::Xlsx,
        Kind::Pptx,
        Kind::Odt,
        Kind::Ods,
        Kind::Odp,
        Kind::Doc,
        Kind::Xls,
        Kind::Ppt,
    ];

    /// The `Content-Type` it is served with (text with `; charset=utf-8`).
    pub fn media_type(self) -> &'static str {
        match self {
            Kind::Png => "image/png",
            Kind::Jpeg => "image/jpeg",
            Kind::Gif => "image/gif",
            Kind::Webp => "image/webp",
            Kind::Pdf => "application/pdf",
            Kind::Text => "text/plain; charset=utf-8",
            Kind::Csv => "text/csv; charset=utf-8",
            Kind::Docx => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            Kind::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            Kind::Pptx => {
                "application/vnd.openxmlformats-officedocument.presentationml.presentation"
            }
            Kind::Odt => "application/vnd.oasis.opendocument.text",
            Kind::Ods => "application/vnd.oasis.opendocument.spreadsheet",
            Kind::Odp => "application/vnd.oasis.opendocument.presentation",
            Kind::Doc => "application/msword",
            Kind::Xls => "application/vnd.ms-excel",
            Kind::Ppt => "application/vnd.ms-powerpoint",
        }
    }

    /// The kind a stored media type names (what [`Kind::media_type`] gave).
    pub fn from_media_type(media_type: &str) -> Option<Kind> {
        Kind::ALL
            .into_iter()
            .find(|kind| kind.media_type() == media_type)
    }

    pub fn is_image(self) -> bool {
        matches!(self, Kind::Png | Kind::Jpeg | Kind::Gif | Kind::Webp)
    }

    /// Shown in the browser (`Content-Disposition: inline`): images and
    /// PDF only; everything else is downloaded.
    pub fn inline(self) -> bool {
        self.is_image() || self == Kind::Pdf
    }

    /// A short word for lists: "PNG image", "PDF", "Word document"…
    pub fn label(self) -> &'static str {
        match self {
            Kind::Png => "PNG image",
            Kind::Jpeg => "JPEG image",
            Kind::Gif => "GIF image",
            Kind::Webp => "WebP image",
            Kind::Pdf => "PDF",
            Kind::Text => "Text",
            Kind::Csv => "CSV table",
            Kind::Docx => "Word document",
            Kind::Xlsx => "Excel workbook",
            Kind::Pptx => "PowerPoint slides",
            Kind::Odt => "OpenDocument text",
            Kind::Ods => "OpenDocument spreadsheet",
            Kind::Odp => "OpenDocument presentation",
            Kind::Doc => "Word 97 document",
            Kind::Xls => "Excel 97 workbook",
            Kind::Ppt => "PowerPoint 97 slides",
        }
    }

    /// The extensions (lower case) a name of this kind may end in, the
    /// usual one first.
    fn extensions(self) -> &'static [&'static str] {
        match self {
            Kind::Png => &["png"],
            Kind::Jpeg => &["jpg", "jpeg"],
            Kind::Gif => &["gif"],
            Kind::Webp => &["webp"],
            Kind::Pdf => &["pdf"],
            Kind::Text => &["txt", "md"],
            Kind::Csv => &["csv"],
            Kind::Docx => &["docx"],
            Kind::Xlsx => &["xlsx"],
            Kind::Pptx => &["pptx"],
            Kind::Odt => &["odt"],
            Kind::Ods => &["ods"],
            Kind::Odp => &["odp"],
            Kind::Doc => &["doc"],
            Kind::Xls => &["xls"],
            Kind::Ppt => &["ppt"],
        }
    }

    /// The kind in a sentence: "This file's bytes are {…}".
    fn in_a_sentence(self) -> &'static str {
        match self {
            Kind::Png => "a PNG image",
            Kind::Jpeg => "a JPEG image",
            Kind::Gif => "a GIF image",
            Kind::Webp => "a WebP image",
            Kind::Pdf => "a PDF",
            Kind::Text | Kind::Csv => "plain text",
            Kind::Docx => "a Word document",
            Kind::Xlsx => "an Excel workbook",
            Kind::Pptx => "a PowerPoint presentation",
            Kind::Odt => "an OpenDocument text",
            Kind::Ods => "an OpenDocument spreadsheet",
            Kind::Odp => "an OpenDocument presentation",
            Kind::Doc => "a Word 97 document",
            Kind::Xls => "an Excel 97 workbook",
            Kind::Ppt => "a PowerPoint 97 presentation",
        }
    }

    fn image_format(self) -> Option<ImageFormat> {
        match self {
            Kind::Png => Some(ImageFormat::Png),
            Kind::Jpeg => Some(ImageFormat::Jpeg),
            Kind::Gif => Some(ImageFormat::Gif),
            Kind::Webp => Some(ImageFormat::WebP),
            _ => None,
        }
    }
}

/// Why a file is refused: each a sentence the member can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("{0}")]
    Name(String),
    #[error("{0}")]
    Type(String),
    #[error("{0}")]
    Image(String),
}

/// A file name as it will be stored and shown, or why it cannot be one.
///
/// The name is trimmed and NFC-normalised (so "Café" typed on a Mac and on
/// Windows is one name), then anything that is not a letter, a digit or
/// one of `. - _ ( ) + ,` becomes `-`: the name is safe in a URL path, a
/// `Content-Disposition` header and a shell on the member's computer.
/// Names a file system would misread are refused rather than guessed at:
/// paths, control and text-direction characters (`invoice`, U+202E,
/// `fdp.exe` shows as `invoiceexe.pdf`), hidden dot files and Windows
/// device names.
pub fn clean_name(raw: &str) -> Result<String, Refusal> {
    let trimmed = raw.trim();
    if trimmed.len() > MAX_RAW_NAME_BYTES {
        return Err(too_long(trimmed.chars().count()));
    }
    let name: String = trimmed.nfc().collect();
    if name.is_empty() {
        return Err(Refusal::Name(
            "A file needs a name: this one is empty.".into(),
        ));
    }
    if name.contains(['/', '\\']) {
        return Err(Refusal::Name(
            "A file name cannot contain a path: “/” and “\\” are not allowed; name the file \
             itself, like guide.pdf."
                .into(),
        ));
    }
    if name.chars().any(|c| c.is_control() || is_bidi_control(c)) {
        return Err(Refusal::Name(
            "A file name cannot contain control characters or hidden text-direction marks: \
             rename the file with letters, digits and punctuation only."
                .into(),
        ));
    }
    if name.starts_with('.') {
        return Err(starts_with_dot());
    }
    let length = name.chars().count();
    if length > MAX_NAME_CHARS {
        return Err(too_long(length));
    }

    let mut cleaned = String::with_capacity(name.len());
    for c in name.chars() {
        let c = if is_name_char(c) { c } else { '-' };
        if c == '-' && cleaned.ends_with('-') {
            continue;
        }
        cleaned.push(c);
    }
    let Some((stem, extension)) = cleaned.rsplit_once('.') else {
        return Err(no_extension());
    };
    let (stem, extension) = (stem.trim_matches('-'), extension.trim_matches('-'));
    if extension.is_empty() {
        return Err(no_extension());
    }
    if stem.is_empty() {
        return Err(Refusal::Name(
            "A file name needs letters or digits before its extension, like notes.txt.".into(),
        ));
    }
    if stem.starts_with('.') {
        return Err(starts_with_dot());
    }
    let device = stem.split('.').next().unwrap_or(stem);
    if is_windows_device(device) {
        return Err(Refusal::Name(format!(
            "“{device}” is a name Windows keeps for a device, so the file could not be saved \
             under it there: choose another name."
        )));
    }
    Ok(format!("{stem}.{extension}"))
}

fn too_long(length: usize) -> Refusal {
    Refusal::Name(format!(
        "A file name can be at most {MAX_NAME_CHARS} characters long, and this one has \
         {length}: shorten it."
    ))
}

fn starts_with_dot() -> Refusal {
    Refusal::Name(
        "A file name cannot start with a dot (such files are hidden on most computers): give \
         it a name before the extension, like notes.txt."
            .into(),
    )
}

fn no_extension() -> Refusal {
    Refusal::Name(
        "A file name needs an extension that says its type, like .pdf, .png or .docx.".into(),
    )
}

/// Unicode's `Bidi_Control` characters, which reorder how the text
/// around them is shown.
fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
    )
}

/// Letters and digits of any script (with their accents), and the
/// punctuation that needs no escaping in URLs or shells.
fn is_name_char(c: char) -> bool {
    c.is_alphanumeric()
        || unicode_normalization::char::is_combining_mark(c)
        || matches!(c, '.' | '-' | '_' | '(' | ')' | '+' | ',')
}

/// Names Windows keeps for devices, with any extension: a file called
/// `con.txt` cannot be saved or opened there.
fn is_windows_device(stem: &str) -> bool {
    let upper = stem.to_uppercase();
    if matches!(upper.as_str(), "CON" | "PRN" | "AUX" | "NUL") {
        return true;
    }
    let (Some(prefix), Some(number)) = (upper.get(..3), upper.get(3..)) else {
        return false;
    };
    matches!(prefix, "COM" | "LPT")
        && matches!(
            number,
            "0" | "1" | "2" | "3" | "4" | "5" | "6" | "7" | "8" | "9" | "¹" | "²" | "³"
        )
}

/// The kind of `bytes`, which must match the extension of `name` (a
/// name from [`clean_name`]).
///
/// The bytes decide, the name only has to agree: a name is what a member
/// (or an attacker) typed, and browsers and office programs go by the
/// bytes. Text is accepted only when no binary type claims the bytes and
/// they hold no markup a browser would run scripts in.
pub fn decide(name: &str, bytes: &[u8]) -> Result<Kind, Refusal> {
    if bytes.is_empty() {
        return Err(Refusal::Type(
            "This file is empty: there is nothing in it to keep.".into(),
        ));
    }
    let extension = name
        .rsplit_once('.')
        .map(|(_, extension)| extension.to_ascii_lowercase())
        .filter(|extension| !extension.is_empty());
    let extension = extension.as_deref();

    if let Some(kind) = sniff(bytes, extension) {
        return matching(kind, extension);
    }
    let other = infer::get(bytes).filter(|found| !is_stray_pdf_marker(found));
    if let Some(other) = other.filter(|found| found.matcher_type() != infer::MatcherType::Text) {
        if other.mime_type() == "application/x-ole-storage" {
            return Err(Refusal::Type(format!(
                "This file's bytes are a Windows compound file but not a Word, Excel or \
                 PowerPoint 97 document with a matching name (.doc, .xls, .ppt); {ACCEPTED}."
            )));
        }
        return Err(Refusal::Type(format!(
            "This file's bytes are a .{} file ({}), which is not accepted: {ACCEPTED}.",
            other.extension(),
            other.mime_type()
        )));
    }
    // What is left is text or unknown; infer's text matchers are HTML,
    // XML and shell scripts.
    if let Some(found) = markup(bytes) {
        return Err(Refusal::Type(format!(
            "This file holds web markup (“{found}” near its start). SVG and HTML files are not \
             accepted: they can carry scripts; export the drawing as PNG or PDF."
        )));
    }
    if other.is_some_and(|found| found.mime_type() == "text/x-shellscript") {
        return Err(Refusal::Type(
            "This file is a script (it starts with “#!”), and scripts are not accepted: save \
             it as a .txt file without the first line, or as a PDF."
                .into(),
        ));
    }
    if !is_text(bytes) {
        return Err(Refusal::Type(format!(
            "Cafe cannot tell what this file is: it is none of the accepted types. {ACCEPTED}."
        )));
    }
    match extension {
        Some("csv") => Ok(Kind::Csv),
        Some(extension) if Kind::Text.extensions().contains(&extension) => Ok(Kind::Text),
        _ => Err(Refusal::Type(format!(
            "This file's bytes are plain text, but its name {}: a text file's name ends in \
             .txt, .md or .csv.",
            ends_in(extension)
        ))),
    }
}

/// `kind`, if the name's extension is one of its own.
fn matching(kind: Kind, extension: Option<&str>) -> Result<Kind, Refusal> {
    if extension.is_some_and(|extension| kind.extensions().contains(&extension)) {
        return Ok(kind);
    }
    let wanted = kind
        .extensions()
        .iter()
        .map(|extension| format!(".{extension}"))
        .collect::<Vec<_>>()
        .join(" or ");
    Err(Refusal::Type(format!(
        "This file's bytes are {}, but its name {}: rename it to end in {wanted} and upload \
         it again.",
        kind.in_a_sentence(),
        ends_in(extension)
    )))
}

fn ends_in(extension: Option<&str>) -> String {
    match extension {
        Some(extension) => format!("ends in .{extension}"),
        None => "has no extension".into(),
    }
}

/// The accepted binary kind the magic numbers of `bytes` name, if any.
/// The extension only tells old Office files apart when their bytes do not
/// (see [`compound_kind`]).
fn sniff(bytes: &[u8], extension: Option<&str>) -> Option<Kind> {
    if infer::image::is_png(bytes) {
        return Some(Kind::Png);
    }
    if infer::image::is_jpeg(bytes) {
        return Some(Kind::Jpeg);
    }
    if infer::image::is_gif(bytes) {
        return Some(Kind::Gif);
    }
    // infer looks at "WEBP" only; a WebP file is a RIFF container.
    if bytes.starts_with(b"RIFF") && infer::image::is_webp(bytes) {
        return Some(Kind::Webp);
    }
    // infer accepts "%PDF" anywhere in the first kilobyte, as Acrobat does;
    // Cafe wants it first, so that a page with a PDF inside is not a PDF.
    if bytes.starts_with(b"%PDF-") {
        return Some(Kind::Pdf);
    }
    if bytes.starts_with(b"PK\x03\x04") {
        return zip_kind(bytes);
    }
    if bytes.starts_with(&CFB_MAGIC) {
        return compound_kind(bytes, extension);
    }
    None
}

/// Office Open XML and OpenDocument files are zip archives. infer reads
/// the names of the first entries, expecting the order Microsoft Office
/// writes them in; other programs may order them differently, so when
/// infer does not know, the archive's central directory is read for
/// `[Content_Types].xml` and the main part's folder.
fn zip_kind(bytes: &[u8]) -> Option<Kind> {
    let by_infer = [
        (infer::doc::is_docx as fn(&[u8]) -> bool, Kind::Docx),
        (infer::doc::is_xlsx, Kind::Xlsx),
        (infer::doc::is_pptx, Kind::Pptx),
        (infer::odf::is_odt, Kind::Odt),
        (infer::odf::is_ods, Kind::Ods),
        (infer::odf::is_odp, Kind::Odp),
    ];
    by_infer
        .into_iter()
        .find(|(is, _)| is(bytes))
        .map(|(_, kind)| kind)
        .or_else(|| ooxml_from_directory(bytes))
}

/// An Office Open XML kind from the names in a zip's central directory:
/// `[Content_Types].xml` and exactly one of `word/`, `xl/` or `ppt/`.
/// Reads at most one directory, every offset checked against the bytes.
fn ooxml_from_directory(bytes: &[u8]) -> Option<Kind> {
    // The end record is 22 bytes and a comment of at most 65,535.
    let tail_start = bytes.len().saturating_sub(22 + usize::from(u16::MAX));
    let end = tail_start + memchr::memmem::rfind(&bytes[tail_start..], b"PK\x05\x06")?;
    let entries = read_u16(bytes, end + 10)?;
    let mut at = usize::try_from(read_u32(bytes, end + 16)?).ok()?;
    let (mut content_types, mut word, mut excel, mut slides) = (false, false, false, false);
    for _ in 0..entries {
        if bytes.get(at..at + 4)? != b"PK\x01\x02" {
            return None;
        }
        let name_length = usize::from(read_u16(bytes, at + 28)?);
        let extra_length = usize::from(read_u16(bytes, at + 30)?);
        let comment_length = usize::from(read_u16(bytes, at + 32)?);
        let name = bytes.get(at + 46..at + 46 + name_length)?;
        content_types |= name == b"[Content_Types].xml";
        word |= name.starts_with(b"word/");
        excel |= name.starts_with(b"xl/");
        slides |= name.starts_with(b"ppt/");
        at += 46 + name_length + extra_length + comment_length;
    }
    match (content_types, word, excel, slides) {
        (true, true, false, false) => Some(Kind::Docx),
        (true, false, true, false) => Some(Kind::Xlsx),
        (true, false, false, true) => Some(Kind::Pptx),
        _ => None,
    }
}

fn read_u16(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
}

fn read_u32(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

/// Word, Excel and PowerPoint 97 files are OLE compound files. infer tells
/// them apart by the class id of their root entry; programs other than
/// Microsoft Office often leave it empty. Then the file is taken as the
/// kind its extension says if it holds that kind's main stream
/// (`WordDocument`, `Workbook` or `Book`, `PowerPoint Document`, names
/// stored as UTF-16), so an installer renamed `.doc` is still refused.
fn compound_kind(bytes: &[u8], extension: Option<&str>) -> Option<Kind> {
    if infer::doc::is_doc(bytes) {
        return Some(Kind::Doc);
    }
    if infer::doc::is_xls(bytes) {
        return Some(Kind::Xls);
    }
    if infer::doc::is_ppt(bytes) {
        return Some(Kind::Ppt);
    }
    let (kind, streams): (Kind, &[&str]) = match extension? {
        "doc" => (Kind::Doc, &["WordDocument"]),
        "xls" => (Kind::Xls, &["Workbook", "Book"]),
        "ppt" => (Kind::Ppt, &["PowerPoint Document"]),
        _ => return None,
    };
    streams
        .iter()
        .any(|stream| {
            let utf16: Vec<u8> = stream.encode_utf16().flat_map(u16::to_le_bytes).collect();
            memchr::memmem::find(bytes, &utf16).is_some()
        })
        .then_some(kind)
}

/// infer's PDF matcher finds "%PDF" anywhere in the first kilobyte; a text
/// file that mentions it is still text (a real PDF starts with it, see
/// [`sniff`]).
fn is_stray_pdf_marker(found: &infer::Type) -> bool {
    found.mime_type() == "application/pdf"
}

/// The first markup that makes a browser run scripts, near the start of
/// `bytes`: SVG, HTML, XML (which can be XHTML) or a script element.
fn markup(bytes: &[u8]) -> Option<String> {
    if infer::text::is_html(bytes) {
        return Some(html_start(bytes));
    }
    let window = bytes[..bytes.len().min(MARKUP_WINDOW)].to_ascii_lowercase();
    MARKUP
        .iter()
        .find(|needle| memchr::memmem::find(&window, needle).is_some())
        .map(|needle| String::from_utf8_lossy(needle).into_owned())
}

/// The tag infer's HTML sniffer saw: the file's first word after spaces.
fn html_start(bytes: &[u8]) -> String {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(0);
    let tag: Vec<u8> = bytes[start..]
        .iter()
        .take(16)
        .take_while(|b| !b.is_ascii_whitespace() && **b != b'>')
        .copied()
        .collect();
    String::from_utf8_lossy(&tag).into_owned()
}

/// UTF-8 (a byte order mark allowed) with no control characters but tab,
/// line breaks and form feed: what a text editor or a spreadsheet's "save
/// as CSV" writes, and nothing a binary format would.
fn is_text(bytes: &[u8]) -> bool {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    std::str::from_utf8(bytes).is_ok_and(|text| {
        !text
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r' | '\u{0C}'))
    })
}

/// A file ready to store.
#[derive(Debug)]
pub struct Clean {
    pub kind: Kind,
    pub bytes: Vec<u8>,
    /// Images: their size in pixels after orientation.
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// Images: a small copy for file lists, and its kind.
    pub thumbnail: Option<(Vec<u8>, Kind)>,
}

/// Re-encodes an image (others pass through unchanged). CPU-bound: call
/// it on the blocking pool.
///
/// Decoding under [`MAX_IMAGE_SIDE`] and [`MAX_IMAGE_ALLOC`] refuses
/// decompression bombs from their header; encoding the pixels again keeps
/// the picture and nothing else: no EXIF (camera, GPS position), XMP or
/// colour profile, and no file appended to or hidden in the image. The
/// EXIF orientation is applied first, so phone photos stay upright. Of an
/// animated GIF, the first frame is kept.
pub fn clean(kind: Kind, bytes: Vec<u8>) -> Result<Clean, Refusal> {
    let Some(format) = kind.image_format() else {
        return Ok(Clean {
            kind,
            bytes,
            width: None,
            height: None,
            thumbnail: None,
        });
    };
    let image = decode(kind, format, &bytes)?;
    drop(bytes);
    let cleaned = encode(&image, kind, JPEG_QUALITY).map_err(|_| not_prepared(kind))?;
    let (width, height) = (image.width(), image.height());
    let (thumb_width, thumb_height) = fit(width, height, THUMBNAIL_SIDE);
    let small = if (thumb_width, thumb_height) == (width, height) {
        image
    } else {
        image.thumbnail_exact(thumb_width, thumb_height)
    };
    let thumbnail_kind = if kind == Kind::Jpeg {
        Kind::Jpeg
    } else {
        Kind::Png
    };
    let thumbnail =
        encode(&small, thumbnail_kind, THUMBNAIL_JPEG_QUALITY).map_err(|_| not_prepared(kind))?;
    Ok(Clean {
        kind,
        bytes: cleaned,
        width: Some(width),
        height: Some(height),
        thumbnail: Some((thumbnail, thumbnail_kind)),
    })
}

/// The decoder limits: strict for the sides, best effort for memory (some
/// decoders count only their own buffers), which is why [`decode`] also
/// counts the decoded image against them, as `ImageReader::decode` does.
fn limits() -> Limits {
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_IMAGE_SIDE);
    limits.max_image_height = Some(MAX_IMAGE_SIDE);
    limits.max_alloc = Some(MAX_IMAGE_ALLOC);
    limits
}

/// The pixels of an image, upright.
fn decode(kind: Kind, format: ImageFormat, bytes: &[u8]) -> Result<DynamicImage, Refusal> {
    // The JPEG decoder fills what is missing of a cut-off photo with grey
    // rather than fail, and Cafe would keep the damage for good.
    if kind == Kind::Jpeg && !jpeg_is_complete(bytes) {
        return Err(damaged(kind));
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(limits());
    let mut decoder = reader
        .into_decoder()
        .map_err(|error| unreadable(kind, &error))?;
    let (width, height) = decoder.dimensions();
    if width == 0 || height == 0 {
        return Err(damaged(kind));
    }
    // What the decoders may still allocate, besides the image itself.
    let mut rest = limits();
    rest.reserve(decoder.total_bytes())
        .and_then(|()| decoder.set_limits(rest))
        .map_err(|_| too_large(Some((width, height))))?;
    // A damaged EXIF block loses only the rotation, not the picture.
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut image =
        DynamicImage::from_decoder(decoder).map_err(|error| unreadable(kind, &error))?;
    image.apply_orientation(orientation);
    Ok(image)
}

/// Whether a JPEG's segments lead to its end marker (EOI): each marker
/// segment is skipped by its length, the compressed data after each scan
/// header up to the next marker. One pass over the bytes. Stray bytes
/// between segments are skipped, as decoders do; what counts is that the
/// file goes on to its end marker.
fn jpeg_is_complete(bytes: &[u8]) -> bool {
    let mut at = 2; // after the start marker, FF D8
    loop {
        let Some(next) = bytes.get(at..).and_then(|rest| memchr::memchr(0xFF, rest)) else {
            return false;
        };
        at += next;
        // Any number of FF may pad the space before a marker.
        while bytes.get(at + 1) == Some(&0xFF) {
            at += 1;
        }
        let Some(&marker) = bytes.get(at + 1) else {
            return false;
        };
        at += 2;
        match marker {
            0xD9 => return true,
            // Markers without a length: restart markers and TEM.
            0x01 | 0xD0..=0xD7 => continue,
            _ => {}
        }
        let Some(length) = bytes
            .get(at..at + 2)
            .map(|length| usize::from(u16::from_be_bytes([length[0], length[1]])))
        else {
            return false;
        };
        if length < 2 {
            return false;
        }
        at += length;
        if marker == 0xDA {
            // Compressed data: FF is followed by 00 (a stuffed byte) or a
            // restart marker, until the marker after the scan.
            loop {
                let Some(next) = bytes.get(at..).and_then(|rest| memchr::memchr(0xFF, rest)) else {
                    return false;
                };
                at += next;
                match bytes.get(at + 1) {
                    Some(0x00 | 0xD0..=0xD7) => at += 2,
                    Some(_) => break,
                    None => return false,
                }
            }
        }
    }
}

fn unreadable(kind: Kind, error: &ImageError) -> Refusal {
    match error {
        ImageError::Limits(_) => too_large(None),
        _ => damaged(kind),
    }
}

fn damaged(kind: Kind) -> Refusal {
    Refusal::Image(format!(
        "This file starts like {} but cannot be read as one: it may be incomplete or damaged. \
         Open it on your computer, save or export it again, and upload the new copy.",
        kind.in_a_sentence()
    ))
}

fn too_large(size: Option<(u32, u32)>) -> Refusal {
    let size = size
        .map(|(width, height)| format!(" (this one is {width} × {height})"))
        .unwrap_or_default();
    let mebibytes = MAX_IMAGE_ALLOC >> 20;
    // Three bytes a pixel for a photo, four with transparency.
    let (photo, transparent) = (MAX_IMAGE_ALLOC / 3_000_000, MAX_IMAGE_ALLOC / 4_000_000);
    Refusal::Image(format!(
        "This image is too large{size}: Cafe takes images of up to {MAX_IMAGE_SIDE} pixels a \
         side and {mebibytes} MiB once opened (a {photo}-megapixel photo, or {transparent} \
         megapixels with transparency). Export a smaller copy and upload that."
    ))
}

fn not_prepared(kind: Kind) -> Refusal {
    Refusal::Image(format!(
        "Cafe could not prepare this {} for the wiki: export it again, or as PNG, and upload \
         the new copy.",
        kind.label()
    ))
}

/// `image` encoded as `kind` (an image kind), with no metadata.
fn encode(image: &DynamicImage, kind: Kind, jpeg_quality: u8) -> Result<Vec<u8>, ImageError> {
    let mut out = Vec::new();
    match kind {
        Kind::Jpeg => for_jpeg(image)
            .write_with_encoder(JpegEncoder::new_with_quality(&mut out, jpeg_quality))?,
        Kind::Gif => {
            let rgba = image.to_rgba8();
            // Speed 10 of 30: a GIF frame has at most 256 colours, so this
            // only matters for the rare frame with more, where it keeps
            // the quantiser quick.
            GifEncoder::new_with_speed(&mut out, 10).encode(
                rgba.as_raw(),
                rgba.width(),
                rgba.height(),
                ExtendedColorType::Rgba8,
            )?;
        }
        Kind::Webp => {
            let eight_bit = match image {
                DynamicImage::ImageLuma8(_)
                | DynamicImage::ImageLumaA8(_)
                | DynamicImage::ImageRgb8(_)
                | DynamicImage::ImageRgba8(_) => Cow::Borrowed(image),
                other if other.color().has_alpha() => Cow::Owned(other.to_rgba8().into()),
                other => Cow::Owned(other.to_rgb8().into()),
            };
            eight_bit.write_with_encoder(WebPEncoder::new_lossless(&mut out))?;
        }
        _ => image.write_with_encoder(PngEncoder::new(&mut out))?,
    }
    Ok(out)
}

/// JPEG holds 8-bit grey or colour without transparency: anything else is
/// brought to 8-bit RGB, transparent parts laid on white (as a page shows
/// them) rather than on black.
fn for_jpeg(image: &DynamicImage) -> Cow<'_, DynamicImage> {
    match image {
        DynamicImage::ImageLuma8(_) | DynamicImage::ImageRgb8(_) => Cow::Borrowed(image),
        other if other.color().has_alpha() => {
            let rgba = other.to_rgba8();
            let on_white = RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
                let [r, g, b, a] = rgba.get_pixel(x, y).0;
                let over = |c: u8| {
                    let blended = (u32::from(c) * u32::from(a) + 255 * (255 - u32::from(a))) / 255;
                    u8::try_from(blended).unwrap_or(u8::MAX)
                };
                image::Rgb([over(r), over(g), over(b)])
            });
            Cow::Owned(on_white.into())
        }
        other => Cow::Owned(other.to_rgb8().into()),
    }
}

/// The size of a `width` × `height` image scaled down to fit a `side` ×
/// `side` square, keeping its proportions; small images keep their size.
fn fit(width: u32, height: u32, side: u32) -> (u32, u32) {
    if width <= side && height <= side {
        return (width, height);
    }
    let scaled = |short: u32, long: u32| {
        let value = (u64::from(short) * u64::from(side) + u64::from(long) / 2) / u64::from(long);
        u32::try_from(value).unwrap_or(side).max(1)
    };
    if width >= height {
        (side, scaled(height, width))
    } else {
        (scaled(width, height), side)
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use image::codecs::gif::GifDecoder;
    use image::{AnimationDecoder, Frame, ImageBuffer, Rgb, Rgba, RgbaImage};

    use super::*;

    // Files built in memory, the smallest each format's readers accept.

    /// A picture with edges and colour, so that encoders have work to do
    /// and a truncated copy loses real data.
    fn picture(width: u32, height: u32) -> DynamicImage {
        RgbImage::from_fn(width, height, |x, y| {
            Rgb([
                (x * 7 % 256) as u8,
                (y * 13 % 256) as u8,
                ((x ^ y) % 256) as u8,
            ])
        })
        .into()
    }

    fn encoded(image: &DynamicImage, format: ImageFormat) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        image
            .write_to(&mut out, format)
            .expect("test image encodes");
        out.into_inner()
    }

    fn png(width: u32, height: u32) -> Vec<u8> {
        encoded(&picture(width, height), ImageFormat::Png)
    }

    fn jpeg(width: u32, height: u32) -> Vec<u8> {
        encoded(&picture(width, height), ImageFormat::Jpeg)
    }

    fn gif(width: u32, height: u32) -> Vec<u8> {
        encoded(&picture(width, height).to_rgba8().into(), ImageFormat::Gif)
    }

    fn webp(width: u32, height: u32) -> Vec<u8> {
        encoded(&picture(width, height), ImageFormat::WebP)
    }

    fn decoded(bytes: &[u8], format: ImageFormat) -> DynamicImage {
        image::load_from_memory_with_format(bytes, format).expect("output decodes")
    }

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        memchr::memmem::find(haystack, needle).is_some()
    }

    fn crc32(bytes: &[u8]) -> u32 {
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
    fn zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
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

    const XML: &[u8] = b"<?xml version=\"1.0\"?><x/>";

    /// A document as Microsoft Office orders its parts.
    fn office(main: &str, rels: &str) -> Vec<u8> {
        zip(&[
            ("[Content_Types].xml", XML),
            ("_rels/.rels", XML),
            (main, XML),
            (rels, XML),
        ])
    }

    fn opendocument(media_type: &str) -> Vec<u8> {
        zip(&[("mimetype", media_type.as_bytes()), ("content.xml", XML)])
    }

    const WORD_CLASS: [u8; 16] = [
        0x06, 0x09, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0xC0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x46,
    ];
    const EXCEL_CLASS: [u8; 16] = [
        0x20, 0x08, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0xC0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x46,
    ];
    const POWERPOINT_CLASS: [u8; 16] = [
        0x10, 0x8D, 0x81, 0x64, 0x9B, 0x4F, 0xCF, 0x11, 0x86, 0xEA, 0x00, 0xAA, 0x00, 0xB9, 0x29,
        0xE8,
    ];

    /// An OLE compound file (version 3): a header, one FAT sector and one
    /// directory sector holding the root (with `class`) and, if given, an
    /// empty stream.
    fn compound_file(class: [u8; 16], stream: Option<&str>) -> Vec<u8> {
        const FREE: u32 = 0xFFFF_FFFF;
        const END_OF_CHAIN: u32 = 0xFFFF_FFFE;
        const FAT_SECTOR: u32 = 0xFFFF_FFFD;
        const NO_STREAM: u32 = 0xFFFF_FFFF;
        let mut out = Vec::new();
        out.extend(CFB_MAGIC);
        out.extend([0; 16]);
        out.extend(0x3Eu16.to_le_bytes());
        out.extend(3u16.to_le_bytes());
        out.extend(0xFFFEu16.to_le_bytes());
        out.extend(9u16.to_le_bytes()); // 512-byte sectors
        out.extend(6u16.to_le_bytes()); // 64-byte mini sectors
        out.extend([0; 6]);
        out.extend(0u32.to_le_bytes()); // directory sectors (0 in version 3)
        out.extend(1u32.to_le_bytes()); // FAT sectors
        out.extend(1u32.to_le_bytes()); // first directory sector
        out.extend(0u32.to_le_bytes());
        out.extend(4096u32.to_le_bytes()); // mini stream cutoff
        out.extend(END_OF_CHAIN.to_le_bytes()); // first mini FAT sector
        out.extend(0u32.to_le_bytes());
        out.extend(END_OF_CHAIN.to_le_bytes()); // first DIFAT sector
        out.extend(0u32.to_le_bytes());
        out.extend(0u32.to_le_bytes()); // the FAT is sector 0
        for _ in 1..109 {
            out.extend(FREE.to_le_bytes());
        }
        assert_eq!(out.len(), 512);
        out.extend(FAT_SECTOR.to_le_bytes());
        out.extend(END_OF_CHAIN.to_le_bytes());
        for _ in 2..128 {
            out.extend(FREE.to_le_bytes());
        }
        let entry = |out: &mut Vec<u8>, name: &str, kind: u8, child: u32, class: [u8; 16]| {
            let mut utf16: Vec<u8> = name.encode_utf16().flat_map(u16::to_le_bytes).collect();
            let length = if name.is_empty() { 0 } else { utf16.len() + 2 };
            utf16.resize(64, 0);
            out.extend(utf16);
            out.extend((length as u16).to_le_bytes());
            out.push(kind);
            out.push(1); // black
            out.extend(NO_STREAM.to_le_bytes());
            out.extend(NO_STREAM.to_le_bytes());
            out.extend(child.to_le_bytes());
            out.extend(class);
            out.extend([0; 4 + 8 + 8]); // state, created, modified
            let start = if kind == 0 { 0 } else { END_OF_CHAIN };
            out.extend(start.to_le_bytes());
            out.extend(0u64.to_le_bytes());
        };
        let child = if stream.is_some() { 1 } else { NO_STREAM };
        entry(&mut out, "Root Entry", 5, child, class);
        let mut unused = 3;
        if let Some(stream) = stream {
            entry(&mut out, stream, 2, NO_STREAM, [0; 16]);
            unused = 2;
        }
        for _ in 0..unused {
            entry(&mut out, "", 0, NO_STREAM, [0; 16]);
        }
        assert_eq!(out.len(), 3 * 512);
        out
    }

    /// `jpeg` with an EXIF block right after its start: the orientation
    /// and a description holding a GPS position.
    fn with_exif(jpeg: &[u8], orientation: u16) -> Vec<u8> {
        let note = b"GPS 52.3676 N 4.9041 E\0";
        let mut tiff = b"MM\0\x2a\0\0\0\x08".to_vec();
        tiff.extend(2u16.to_be_bytes());
        tiff.extend([0x01, 0x12, 0x00, 0x03, 0, 0, 0, 1]); // Orientation, one SHORT
        tiff.extend(orientation.to_be_bytes());
        tiff.extend([0, 0]);
        tiff.extend([0x01, 0x0E, 0x00, 0x02]); // ImageDescription, ASCII
        tiff.extend((note.len() as u32).to_be_bytes());
        tiff.extend(38u32.to_be_bytes()); // after this directory
        tiff.extend(0u32.to_be_bytes()); // no next directory
        assert_eq!(tiff.len(), 38);
        tiff.extend(note);
        let mut segment = b"Exif\0\0".to_vec();
        segment.extend(tiff);
        let mut out = jpeg[..2].to_vec();
        out.extend([0xFF, 0xE1]);
        out.extend((segment.len() as u16 + 2).to_be_bytes());
        out.extend(segment);
        out.extend(&jpeg[2..]);
        out
    }

    fn name_refusal(raw: &str) -> String {
        match clean_name(raw) {
            Err(Refusal::Name(why)) => why,
            other => panic!("{raw:?} gave {other:?}, not a name refusal"),
        }
    }

    fn type_refusal(name: &str, bytes: &[u8]) -> String {
        match decide(name, bytes) {
            Err(Refusal::Type(why)) => why,
            other => panic!("{name} gave {other:?}, not a type refusal"),
        }
    }

    fn image_refusal(kind: Kind, bytes: Vec<u8>) -> String {
        match clean(kind, bytes) {
            Err(Refusal::Image(why)) => why,
            other => panic!("{kind:?} gave {other:?}, not an image refusal"),
        }
    }

    fn cleaned(kind: Kind, bytes: Vec<u8>) -> Clean {
        clean(kind, bytes).expect("the image is accepted")
    }

    // Names

    #[test]
    fn names_keep_letters_digits_and_safe_punctuation_and_dash_the_rest() {
        for (raw, clean) in [
            ("guide.pdf", "guide.pdf"),
            ("Report #3.pdf", "Report-3.pdf"),
            ("flip chart.JPG", "flip-chart.JPG"),
            ("Café notes.txt", "Café-notes.txt"),
            ("  spaced   out .md ", "spaced-out.md"),
            (
                "plan (draft), v2+_final.docx",
                "plan-(draft),-v2+_final.docx",
            ),
            ("Ärger: 50% *mehr*? .odt", "Ärger-50-mehr.odt"),
            ("振り返り.pptx", "振り返り.pptx"),
            ("#notes.txt", "notes.txt"),
            ("archive.tar.gz", "archive.tar.gz"),
        ] {
            assert_eq!(clean_name(raw), Ok(clean.to_owned()), "{raw:?}");
        }
    }

    #[test]
    fn names_are_normalised_so_an_accent_typed_two_ways_is_one_name() {
        assert_eq!(
            clean_name("Cafe\u{301}.txt"),
            Ok("Caf\u{e9}.txt".to_owned())
        );
    }

    #[test]
    fn names_with_a_path_are_refused() {
        for raw in [
            "../etc/passwd",
            "C:\\x.pdf",
            "photos/flip.jpg",
            "..\\..\\boot.ini",
        ] {
            assert!(
                name_refusal(raw).contains("cannot contain a path"),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn names_with_control_or_direction_characters_are_refused() {
        for raw in [
            "a\0b.txt",
            "bell\u{7}.txt",
            "del\u{7f}.txt",
            "two\nlines.txt",
            "tab\there.txt",
            "c1\u{85}.txt",
            "invoice\u{202E}fdp.exe",
            "isolate\u{2066}x.pdf",
            "mark\u{200F}.pdf",
        ] {
            assert!(name_refusal(raw).contains("control characters"), "{raw:?}");
        }
    }

    #[test]
    fn empty_hidden_and_extensionless_names_are_refused() {
        assert!(name_refusal("").contains("needs a name"));
        assert!(name_refusal(" \t ").contains("needs a name"));
        assert!(name_refusal(".htaccess").contains("start with a dot"));
        assert!(name_refusal(".pdf").contains("start with a dot"));
        assert!(name_refusal("#.x.pdf").contains("start with a dot"));
        assert!(name_refusal("README").contains("extension"));
        assert!(name_refusal("notes.").contains("extension"));
        assert!(name_refusal("notes.#").contains("extension"));
        assert!(name_refusal("#.pdf").contains("before its extension"));
    }

    #[test]
    fn windows_device_names_are_refused_with_or_without_an_extension() {
        for raw in [
            "CON.txt",
            "con.pdf",
            "Nul.tar.gz",
            "aux.md",
            "PRN.csv",
            "COM1.csv",
            "lpt9.png",
            "CON .txt",
        ] {
            assert!(name_refusal(raw).contains("Windows keeps"), "{raw:?}");
        }
        assert!(name_refusal("CON").contains("extension"));
        for fine in ["CONSOLE.txt", "COM10.txt", "icon.png", "null.txt"] {
            assert_eq!(clean_name(fine), Ok(fine.to_owned()));
        }
    }

    #[test]
    fn names_over_120_characters_are_refused() {
        let longest = format!("{}.pdf", "a".repeat(116));
        assert_eq!(clean_name(&longest), Ok(longest.clone()));
        let over = format!("{}.pdf", "é".repeat(117));
        assert!(name_refusal(&over).contains("at most 120"));
        let started = Instant::now();
        let huge = format!("{}.pdf", "e\u{301}".repeat(1_000_000));
        assert!(name_refusal(&huge).contains("at most 120"));
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    // Kinds

    #[test]
    fn media_types_name_their_kind_and_back() {
        for kind in Kind::ALL {
            assert_eq!(Kind::from_media_type(kind.media_type()), Some(kind));
            assert!(!kind.label().is_empty());
        }
        assert_eq!(Kind::Csv.media_type(), "text/csv; charset=utf-8");
        assert_eq!(Kind::Ppt.label(), "PowerPoint 97 slides");
        assert_eq!(Kind::from_media_type("text/plain"), None);
        assert_eq!(Kind::from_media_type("image/svg+xml"), None);
        assert_eq!(Kind::from_media_type("text/html"), None);
    }

    #[test]
    fn every_kind_is_told_from_its_bytes() {
        let text = b"Check-in, then two rounds.\r\n\tNotes\x0c".to_vec();
        let cases: Vec<(&str, Vec<u8>, Kind)> = vec![
            ("a.png", png(3, 2), Kind::Png),
            ("a.jpg", jpeg(3, 2), Kind::Jpeg),
            ("a.jpeg", jpeg(3, 2), Kind::Jpeg),
            ("a.gif", gif(3, 2), Kind::Gif),
            ("a.webp", webp(3, 2), Kind::Webp),
            (
                "a.pdf",
                b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n1 0 obj\n".to_vec(),
                Kind::Pdf,
            ),
            ("a.txt", text.clone(), Kind::Text),
            ("a.md", b"# Check-in\n\n- one\n".to_vec(), Kind::Text),
            (
                "a.txt",
                b"\xEF\xBB\xBFwith a byte order mark".to_vec(),
                Kind::Text,
            ),
            ("a.csv", b"name,role\nAda,host\n".to_vec(), Kind::Csv),
            (
                "a.docx",
                office("word/document.xml", "word/_rels/document.xml.rels"),
                Kind::Docx,
            ),
            (
                "a.xlsx",
                office("xl/workbook.xml", "xl/_rels/workbook.xml.rels"),
                Kind::Xlsx,
            ),
            (
                "a.pptx",
                office("ppt/presentation.xml", "ppt/_rels/presentation.xml.rels"),
                Kind::Pptx,
            ),
            (
                "a.odt",
                opendocument("application/vnd.oasis.opendocument.text"),
                Kind::Odt,
            ),
            (
                "a.ods",
                opendocument("application/vnd.oasis.opendocument.spreadsheet"),
                Kind::Ods,
            ),
            (
                "a.odp",
                opendocument("application/vnd.oasis.opendocument.presentation"),
                Kind::Odp,
            ),
            ("a.doc", compound_file(WORD_CLASS, None), Kind::Doc),
            ("a.xls", compound_file(EXCEL_CLASS, None), Kind::Xls),
            ("a.ppt", compound_file(POWERPOINT_CLASS, None), Kind::Ppt),
        ];
        for (name, bytes, kind) in cases {
            assert_eq!(decide(name, &bytes), Ok(kind), "{name}");
        }
    }

    #[test]
    fn extensions_are_compared_without_regard_to_case() {
        assert_eq!(decide("FLIP-CHART.JPG", &jpeg(2, 2)), Ok(Kind::Jpeg));
        assert_eq!(decide("Notes.MD", b"# Notes"), Ok(Kind::Text));
    }

    #[test]
    fn office_files_from_other_programs_are_told_from_their_zip_directory() {
        let reordered = zip(&[
            ("[Content_Types].xml", XML),
            ("_rels/.rels", XML),
            ("docProps/core.xml", XML),
            ("word/document.xml", XML),
        ]);
        assert!(
            !infer::doc::is_docx(&reordered),
            "infer alone would not know it"
        );
        assert_eq!(decide("a.docx", &reordered), Ok(Kind::Docx));
        let sheet = zip(&[
            ("_rels/.rels", XML),
            ("docProps/app.xml", XML),
            ("xl/workbook.xml", XML),
            ("[Content_Types].xml", XML),
        ]);
        assert_eq!(decide("a.xlsx", &sheet), Ok(Kind::Xlsx));
        let both = zip(&[
            ("[Content_Types].xml", XML),
            ("docProps/core.xml", XML),
            ("docProps/app.xml", XML),
            ("word/document.xml", XML),
            ("xl/workbook.xml", XML),
        ]);
        assert!(type_refusal("a.docx", &both).contains("application/zip"));
    }

    #[test]
    fn old_office_files_without_a_class_are_told_by_their_main_stream_and_extension() {
        let word = compound_file([0; 16], Some("WordDocument"));
        assert_eq!(decide("a.doc", &word), Ok(Kind::Doc));
        assert!(type_refusal("a.xls", &word).contains("compound file"));
        let book = compound_file([0; 16], Some("Workbook"));
        assert_eq!(decide("a.xls", &book), Ok(Kind::Xls));
        let slides = compound_file([0; 16], Some("PowerPoint Document"));
        assert_eq!(decide("a.ppt", &slides), Ok(Kind::Ppt));
        let installer = compound_file([0; 16], None);
        assert!(type_refusal("setup.doc", &installer).contains("compound file"));
        // A class says what the file is, whatever the name says.
        let why = type_refusal("a.xls", &compound_file(WORD_CLASS, Some("Workbook")));
        assert!(
            why.contains("Word 97 document") && why.contains(".xls"),
            "{why}"
        );
    }

    #[test]
    fn bytes_of_another_kind_than_the_extension_are_refused() {
        let why = type_refusal("photo.png", &jpeg(2, 2));
        assert!(why.contains("bytes are a JPEG image"), "{why}");
        assert!(
            why.contains("ends in .png") && why.contains(".jpg or .jpeg"),
            "{why}"
        );
        let why = type_refusal("notes.pdf", b"just some notes");
        assert!(why.contains("plain text") && why.contains(".pdf"), "{why}");
        let why = type_refusal("scan.txt", b"%PDF-1.7\n");
        assert!(why.contains("a PDF") && why.contains(".txt"), "{why}");
        let why = type_refusal("slides.docx", &office("ppt/p.xml", "ppt/_rels/p.xml.rels"));
        assert!(why.contains("PowerPoint") && why.contains(".pptx"), "{why}");
        let why = type_refusal("picture", &png(1, 1));
        assert!(why.contains("has no extension"), "{why}");
    }

    #[test]
    fn types_outside_the_list_are_refused() {
        let mut exe = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff".to_vec();
        exe.resize(256, 0);
        assert!(type_refusal("tool.exe", &exe).contains("not accepted"));
        assert!(type_refusal("tool.pdf", &exe).contains("not accepted"));
        let archive = zip(&[("notes.txt", b"hello")]);
        let why = type_refusal("notes.zip", &archive);
        assert!(
            why.contains("application/zip") && why.contains("Cafe accepts"),
            "{why}"
        );
        assert!(type_refusal("notes.docx", &archive).contains("application/zip"));
        let mut movie = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom".to_vec();
        movie.resize(64, 0);
        assert!(type_refusal("talk.mp4", &movie).contains("video/mp4"));
        let why = type_refusal("blob.txt", &[0x00, 0x13, 0x37, 0xfe, 0x00, 0x01]);
        assert!(why.contains("cannot tell"), "{why}");
    }

    #[test]
    fn svg_html_and_xml_are_refused_whatever_the_name() {
        let svg = b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>";
        for name in ["drawing.svg", "drawing.txt", "drawing.png", "drawing.md"] {
            let why = type_refusal(name, svg);
            assert!(
                why.contains("SVG and HTML files are not accepted"),
                "{name}: {why}"
            );
        }
        for markup in [
            &b"<?xml version=\"1.0\"?>\n<svg/>"[..],
            b"\xEF\xBB\xBF<?XML version=\"1.0\"?>",
            b"<!DOCTYPE html><title>x</title>",
            b"  <HTML><body>hi</body></HTML>",
            b"<p>hello</p>",
            b"# Notes\n\nSome text first.\n<ScRiPt src=//evil.example></script>\n",
            b"<!-- a comment -->\n<svg onload=alert(1)>",
        ] {
            let why = type_refusal("notes.txt", markup);
            assert!(why.contains("export the drawing as PNG or PDF"), "{why}");
        }
        let mut late = "x".repeat(MARKUP_WINDOW).into_bytes();
        late.extend(b"<script>");
        assert_eq!(decide("long.txt", &late), Ok(Kind::Text));
    }

    #[test]
    fn scripts_are_refused() {
        let why = type_refusal("run.txt", b"#!/bin/sh\nrm -rf ~\n");
        assert!(why.contains("script"), "{why}");
    }

    #[test]
    fn empty_files_are_refused() {
        assert!(type_refusal("empty.txt", b"").contains("empty"));
    }

    #[test]
    fn text_must_be_utf8_without_control_characters() {
        assert!(type_refusal("a.txt", b"caf\xe9 latin-1").contains("cannot tell"));
        assert!(type_refusal("a.txt", b"nul\0inside").contains("cannot tell"));
        assert!(type_refusal("a.csv", b"escape\x1b[31m").contains("cannot tell"));
        assert!(type_refusal("a.txt", "c1\u{85}".as_bytes()).contains("cannot tell"));
        assert_eq!(
            decide("a.txt", "Grüße, 振り返り".as_bytes()),
            Ok(Kind::Text)
        );
    }

    #[test]
    fn text_that_mentions_the_pdf_marker_is_still_text() {
        assert_eq!(
            decide("notes.txt", b"A PDF starts with %PDF-1.4 and so on."),
            Ok(Kind::Text)
        );
        let why = type_refusal("page.pdf", b"<p>%PDF-1.4</p>");
        assert!(why.contains("SVG and HTML"), "{why}");
    }

    // Cleaning

    #[test]
    fn files_other_than_images_pass_through_unchanged() {
        let pdf = b"%PDF-1.4\n1 0 obj\n".to_vec();
        let clean = clean(Kind::Pdf, pdf.clone()).expect("a PDF passes");
        assert_eq!((clean.kind, &clean.bytes), (Kind::Pdf, &pdf));
        assert_eq!((clean.width, clean.height), (None, None));
        assert!(clean.thumbnail.is_none());
    }

    #[test]
    fn each_image_kind_is_encoded_again_in_its_own_format() {
        for (kind, bytes, format) in [
            (Kind::Png, png(5, 3), ImageFormat::Png),
            (Kind::Jpeg, jpeg(5, 3), ImageFormat::Jpeg),
            (Kind::Gif, gif(5, 3), ImageFormat::Gif),
            (Kind::Webp, webp(5, 3), ImageFormat::WebP),
        ] {
            let clean = cleaned(kind, bytes);
            assert_eq!(image::guess_format(&clean.bytes).ok(), Some(format));
            assert_eq!(decided_size(&clean.bytes, format), (5, 3));
            assert_eq!((clean.width, clean.height), (Some(5), Some(3)));
            assert_eq!(
                decide(&format!("x.{}", kind.extensions()[0]), &clean.bytes),
                Ok(kind)
            );
        }
    }

    fn decided_size(bytes: &[u8], format: ImageFormat) -> (u32, u32) {
        let image = decoded(bytes, format);
        (image.width(), image.height())
    }

    #[test]
    fn exif_and_the_gps_position_are_gone_after_cleaning() {
        let photo = with_exif(&jpeg(16, 16), 1);
        assert!(contains(&photo, b"Exif") && contains(&photo, b"GPS"));
        let clean = cleaned(Kind::Jpeg, photo);
        assert!(!contains(&clean.bytes, b"Exif"));
        assert!(!contains(&clean.bytes, b"GPS"));
        assert_eq!(decided_size(&clean.bytes, ImageFormat::Jpeg), (16, 16));
    }

    #[test]
    fn the_exif_orientation_turns_a_photo_upright() {
        let clean = cleaned(Kind::Jpeg, with_exif(&jpeg(4, 2), 6));
        assert_eq!((clean.width, clean.height), (Some(2), Some(4)));
        assert_eq!(decided_size(&clean.bytes, ImageFormat::Jpeg), (2, 4));

        // Orientation 6: the camera was turned clockwise, so the left of
        // the stored picture is the top of the upright one.
        let halves: DynamicImage = RgbImage::from_fn(64, 32, |x, _| {
            if x < 32 {
                Rgb([255, 0, 0])
            } else {
                Rgb([0, 0, 255])
            }
        })
        .into();
        let stored = with_exif(&encoded(&halves, ImageFormat::Jpeg), 6);
        let upright = decoded(&cleaned(Kind::Jpeg, stored).bytes, ImageFormat::Jpeg).to_rgb8();
        assert_eq!(upright.dimensions(), (32, 64));
        let Rgb([r, _, b]) = *upright.get_pixel(16, 8);
        assert!(r > 200 && b < 60, "the top is red");
        let Rgb([r, _, b]) = *upright.get_pixel(16, 56);
        assert!(r < 60 && b > 200, "the bottom is blue");
    }

    #[test]
    fn truncated_images_are_refused_without_panicking() {
        for (kind, whole) in [
            (Kind::Png, png(64, 64)),
            (Kind::Jpeg, jpeg(64, 64)),
            (Kind::Gif, gif(64, 64)),
            (Kind::Webp, webp(64, 64)),
        ] {
            for cut in [whole.len() / 2, 20, 4] {
                let why = image_refusal(kind, whole[..cut].to_vec());
                assert!(
                    why.contains("incomplete or damaged"),
                    "{kind:?} at {cut}: {why}"
                );
            }
        }
    }

    #[test]
    fn a_png_declaring_50000_by_50000_pixels_is_refused_at_once() {
        let mut bomb = png(1, 1);
        // IHDR: length and type at 8..16, width and height at 16..24.
        bomb[16..20].copy_from_slice(&50_000u32.to_be_bytes());
        bomb[20..24].copy_from_slice(&50_000u32.to_be_bytes());
        let crc = crc32(&bomb[12..29]);
        bomb[29..33].copy_from_slice(&crc.to_be_bytes());
        let started = Instant::now();
        let why = image_refusal(Kind::Png, bomb);
        assert!(why.contains("too large"), "{why}");
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn images_within_the_sides_but_over_the_memory_limit_are_refused() {
        // A GIF's canvas is 16-bit: 11,000 × 11,000 passes the side limit,
        // and its 484 MB of pixels do not pass the memory limit.
        let mut bomb = gif(1, 1);
        bomb[6..8].copy_from_slice(&11_000u16.to_le_bytes());
        bomb[8..10].copy_from_slice(&11_000u16.to_le_bytes());
        let started = Instant::now();
        let why = image_refusal(Kind::Gif, bomb);
        assert!(
            why.contains("too large") && why.contains("11000 × 11000"),
            "{why}"
        );
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn a_payload_appended_to_an_image_is_dropped() {
        let mut polyglot = gif(8, 8);
        polyglot.extend(b"<script>alert(document.cookie)</script>");
        assert_eq!(decide("cat.gif", &polyglot), Ok(Kind::Gif));
        let clean = cleaned(Kind::Gif, polyglot);
        assert!(!contains(&clean.bytes, b"<script"));
        assert_eq!(decided_size(&clean.bytes, ImageFormat::Gif), (8, 8));

        let mut polyglot = jpeg(8, 8);
        polyglot.extend(b"%PDF-1.4\n1 0 obj << /JavaScript >>\n%%EOF\n");
        assert_eq!(decide("cat.jpg", &polyglot), Ok(Kind::Jpeg));
        let clean = cleaned(Kind::Jpeg, polyglot);
        assert!(!contains(&clean.bytes, b"%PDF") && !contains(&clean.bytes, b"JavaScript"));
        assert_eq!(decided_size(&clean.bytes, ImageFormat::Jpeg), (8, 8));
    }

    #[test]
    fn only_the_first_frame_of_an_animated_gif_is_kept() {
        let mut animation = Vec::new();
        {
            let mut encoder = GifEncoder::new(&mut animation);
            let frames = [Rgba([255, 0, 0, 255]), Rgba([0, 0, 255, 255])]
                .map(|colour| Frame::new(RgbaImage::from_pixel(6, 4, colour)));
            encoder.encode_frames(frames).expect("animation encodes");
        }
        let clean = cleaned(Kind::Gif, animation);
        let frames = GifDecoder::new(Cursor::new(&clean.bytes))
            .expect("output decodes")
            .into_frames()
            .collect_frames()
            .expect("frames decode");
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0].buffer().get_pixel(0, 0).0[..3], [255, 0, 0]);
    }

    #[test]
    fn transparent_and_16_bit_images_are_accepted() {
        let deep: DynamicImage = ImageBuffer::from_fn(4, 4, |x, y| {
            Rgba([x as u16 * 10_000, y as u16 * 10_000, 0, 30_000])
        })
        .into();
        let clean = cleaned(Kind::Png, encoded(&deep, ImageFormat::Png));
        assert_eq!(decided_size(&clean.bytes, ImageFormat::Png), (4, 4));
        let flat = for_jpeg(&deep);
        assert_eq!(flat.color(), image::ColorType::Rgb8);
        let transparent = DynamicImage::from(RgbaImage::from_pixel(2, 2, Rgba([0, 0, 0, 0])));
        assert_eq!(
            for_jpeg(&transparent).to_rgb8().get_pixel(0, 0).0,
            [255, 255, 255]
        );
        assert!(encode(&deep, Kind::Jpeg, JPEG_QUALITY).is_ok());
        assert!(encode(&deep, Kind::Webp, JPEG_QUALITY).is_ok());
        assert!(encode(&deep, Kind::Gif, JPEG_QUALITY).is_ok());
    }

    #[test]
    fn thumbnails_fit_in_320_pixels_keeping_their_proportions() {
        let clean = cleaned(Kind::Png, png(1000, 500));
        let (bytes, kind) = clean.thumbnail.expect("a thumbnail");
        assert_eq!(kind, Kind::Png);
        assert_eq!(decided_size(&bytes, ImageFormat::Png), (320, 160));

        let clean = cleaned(Kind::Jpeg, jpeg(500, 1000));
        let (bytes, kind) = clean.thumbnail.expect("a thumbnail");
        assert_eq!(kind, Kind::Jpeg);
        assert_eq!(decided_size(&bytes, ImageFormat::Jpeg), (160, 320));

        let clean = cleaned(Kind::Webp, webp(100, 50));
        let (bytes, kind) = clean.thumbnail.expect("a thumbnail");
        assert_eq!(kind, Kind::Png);
        assert_eq!(
            decided_size(&bytes, ImageFormat::Png),
            (100, 50),
            "never enlarged"
        );

        assert_eq!(fit(12_000, 1, THUMBNAIL_SIDE), (320, 1));
        assert_eq!(fit(321, 320, THUMBNAIL_SIDE), (320, 319));
    }
}
