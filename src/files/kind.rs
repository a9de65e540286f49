//! What an uploaded file is, decided from its bytes, never from its name
//! or the type the browser claimed (OWASP's file-upload rules): the name
//! is sanitised, the type is read from magic numbers against an
//! allowlist, and images are decoded and encoded again under explicit
//! limits, which drops their metadata (camera, GPS position) and any
//! other file hidden inside them.

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
    /// The `Content-Type` it is served with (text with `; charset=utf-8`).
    pub fn media_type(self) -> &'static str {
        todo!()
    }

    /// The kind a stored media type names (what [`Kind::media_type`] gave).
    pub fn from_media_type(media_type: &str) -> Option<Kind> {
        todo!()
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
        todo!()
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
pub fn clean_name(raw: &str) -> Result<String, Refusal> {
    todo!()
}

/// The kind of `bytes`, which must match the extension of `name` (a
/// name from [`clean_name`]).
pub fn decide(name: &str, bytes: &[u8]) -> Result<Kind, Refusal> {
    todo!()
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
pub fn clean(kind: Kind, bytes: Vec<u8>) -> Result<Clean, Refusal> {
    todo!()
}
