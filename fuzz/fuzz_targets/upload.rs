//! An upload, with any bytes and any name: naming, deciding and cleaning
//! never panic, a kind is only ever decided for a name of its own, and
//! cleaning keeps every image within the limits Cafe promises.

#![no_main]

use cafe::files::kind::{self, Kind};
use libfuzzer_sys::fuzz_target;

/// One name per kind, so that whatever kind the bytes are, one of them
/// matches and the bytes go on to be cleaned.
const NAMES: [(&str, Kind); 16] = [
    ("upload.png", Kind::Png),
    ("upload.jpg", Kind::Jpeg),
    ("upload.gif", Kind::Gif),
    ("upload.webp", Kind::Webp),
    ("upload.pdf", Kind::Pdf),
    ("upload.txt", Kind::Text),
    ("upload.csv", Kind::Csv),
    ("upload.docx", Kind::Docx),
    ("upload.xlsx", Kind::Xlsx),
    ("upload.pptx", Kind::Pptx),
    ("upload.odt", Kind::Odt),
    ("upload.ods", Kind::Ods),
    ("upload.odp", Kind::Odp),
    ("upload.doc", Kind::Doc),
    ("upload.xls", Kind::Xls),
    ("upload.ppt", Kind::Ppt),
];

fuzz_target!(|data: &[u8]| {
    if let Ok(name) = kind::clean_name(&String::from_utf8_lossy(data)) {
        assert_eq!(
            kind::clean_name(&name).as_deref(),
            Ok(name.as_str()),
            "a clean name is clean"
        );
    }

    for (name, named) in NAMES {
        let Ok(found) = kind::decide(name, data) else {
            continue;
        };
        assert_eq!(found, named, "{name} was decided as another kind");
        let Ok(clean) = kind::clean(found, data.to_vec()) else {
            assert!(found.is_image(), "only images are refused by clean");
            continue;
        };
        assert_eq!(clean.kind, found);
        if found.is_image() {
            let (width, height) = (clean.width.unwrap_or(0), clean.height.unwrap_or(0));
            assert!((1..=kind::MAX_IMAGE_SIDE).contains(&width), "width {width}");
            assert!(
                (1..=kind::MAX_IMAGE_SIDE).contains(&height),
                "height {height}"
            );
            assert!(clean.thumbnail.is_some(), "an image has a thumbnail");
        } else {
            assert_eq!(clean.bytes, data, "only images are changed");
        }
    }
});
