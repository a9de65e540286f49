//! Files on a method page in a real browser (issue 16): a member writes a
//! page that embeds `file:flipchart.png`, attaches the PNG through the
//! upload form's real file input, sees it listed and embedded (the image
//! really loads), uploads a second version and opens the file's history;
//! axe-core on the file list and the history at 1280 and 360 px, light and
//! dark; screenshots under target/screenshots/.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use fantoccini::Locator;
use serde_json::json;

use crate::support::browser::{Browser, DESKTOP, Harness};
use crate::support::uploads::png;

const TITLE: &str = "Flip Chart Walk";
const PAGE: &str = "/methods/flip-chart-walk";
const FILES: &str = "/methods/flip-chart-walk/files";
const HISTORY: &str = "/methods/flip-chart-walk/files/flipchart.png/history";
const ALT: &str = "the flip chart";

/// Axe on the page shown, at desktop and phone width, and neither width
/// scrolls sideways.
async fn axe_both_widths(b: &Browser, what: &str) -> Result<()> {
    let mut problems = Vec::new();
    for (width, height) in [DESKTOP, (360, 740)] {
        b.resize_viewport(width, height)
            .await
            .with_context(|| format!("sizing the viewport to {width}×{height}"))?;
        if let Err(error) = b.axe(&format!("{what} at {width} px")).await {
            problems.push(format!("{error:#}"));
        }
        let sideways = b
            .js("return document.documentElement.scrollWidth > window.innerWidth")
            .await?;
        if sideways == json!(true) {
            problems.push(format!("{what} scrolls sideways at {width} px"));
        }
    }
    b.resize_viewport(DESKTOP.0, DESKTOP.1)
        .await
        .context("sizing the viewport back to the desktop")?;
    if !problems.is_empty() {
        bail!("{}", problems.join("\n"));
    }
    Ok(())
}

async fn shots(b: &Browser, name: &str) -> Result<()> {
    for width in [360, 1280] {
        let (file, sideways) = b
            .screenshot(name, width)
            .await
            .with_context(|| format!("screenshot {name} at {width} px"))?;
        eprintln!("[browser_files] screenshot {}", file.display());
        ensure!(!sideways, "{name} scrolls sideways at {width} px");
    }
    Ok(())
}

/// Writes a `width`×`height` PNG named `flipchart.png` into a folder of
/// its own under `dir` (the name the browser sends is the file's own).
fn flipchart(dir: &Path, folder: &str, width: u32, height: u32, seed: u8) -> Result<PathBuf> {
    let folder = dir.join(folder);
    std::fs::create_dir_all(&folder)?;
    let path = folder.join("flipchart.png");
    std::fs::write(&path, png(width, height, seed))?;
    Ok(path)
}

/// Picks `file` in the upload form's file input (as a person choosing it
/// in the file dialog: WebDriver types the path into the input), describes
/// it and presses Upload; the list comes back.
async fn attach(b: &Browser, file: &Path, description: &str) -> Result<()> {
    let input = b.field("Files").await?;
    ensure!(
        input.attr("type").await?.as_deref() == Some("file"),
        "the field labelled “Files” should be a file input"
    );
    input
        .send_keys(&file.to_string_lossy())
        .await
        .context("choosing the file in the file input")?;
    let chosen = b
        .js("const i = document.getElementById('upload-file'); return Array.from(i.files).map(f => f.name + ':' + f.size)")
        .await?;
    let size = std::fs::metadata(file)?.len();
    ensure!(
        chosen == json!([format!("flipchart.png:{size}")]),
        "the file input should hold flipchart.png ({size} bytes), holds {chosen}"
    );
    b.fill("Description", description).await?;
    b.press("Upload").await?;
    b.expect_path(FILES).await?;
    b.expect_page("Files").await?;
    b.expect_no_text("The upload was refused").await
}

/// The embedded image of the method page: waits until it has loaded and
/// returns its natural width (0 would be a broken image).
async fn embedded_width(b: &Browser) -> Result<u64> {
    let script = format!(
        "const i = document.querySelector('.prose img[alt=\"{ALT}\"]'); \
         return i ? [i.complete, i.naturalWidth, i.getAttribute('src')] : null"
    );
    let started = Instant::now();
    loop {
        let found = b.js(&script).await?;
        if found.is_null() {
            let prose = b
                .js("const p = document.querySelector('.prose'); return p ? p.innerHTML : ''")
                .await?;
            bail!(
                "no <img alt=\"{ALT}\"> in the text {}; the text is {prose}",
                b.place().await
            );
        }
        if found[0] == json!(true) {
            let width = found[1].as_u64().unwrap_or(0);
            ensure!(
                width > 0,
                "the embedded image {} did not load (naturalWidth 0) {}",
                found[2],
                b.place().await
            );
            return Ok(width);
        }
        if started.elapsed() > Duration::from_secs(15) {
            bail!("the embedded image {} never finished loading", found[2]);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs each step, collecting failures.
struct Steps(Vec<String>);

impl Steps {
    fn record(&mut self, name: &str, result: Result<()>) {
        match result {
            Ok(()) => eprintln!("[browser_files] ok     {name}"),
            Err(error) => {
                eprintln!("[browser_files] FAILED {name}");
                self.0.push(format!("{name}:\n  {error:#}"));
            }
        }
    }
}

#[tokio::test]
async fn files_in_the_browser() {
    let Some(harness) = Harness::start().await else {
        return;
    };
    harness.app.member("alice").await;
    let b = &harness.browser;
    let dir = tempfile::tempdir().expect("a folder for the files to upload");
    let first = flipchart(dir.path(), "v1", 120, 80, 7).expect("writing the first PNG");
    let second = flipchart(dir.path(), "v2", 160, 90, 42).expect("writing the second PNG");
    let mut steps = Steps(Vec::new());

    steps.record("sign in as a member", b.sign_in("alice").await);
    let create = async {
        b.goto("/methods/new").await?;
        b.fill("Title", TITLE).await?;
        b.fill(
            "Text",
            &format!(
                "## Steps\n\nDraw the walk on a flip chart.\n\n![{ALT}](file:flipchart.png)\n"
            ),
        )
        .await?;
        b.press("Save").await?;
        b.expect_path(PAGE).await?;
        b.expect_heading(TITLE).await?;
        // Before the upload the embed is a link to attach the file.
        let missing = b
            .js("const a = document.querySelector('.prose a.filelink.missing'); return a ? a.getAttribute('href') : null")
            .await?;
        ensure!(
            missing == json!(format!("{FILES}#upload")),
            "before the upload the embed should be a missing-file link to the upload form, found {missing}"
        );
        Ok(())
    };
    steps.record(
        "create a method page that embeds file:flipchart.png",
        create.await,
    );

    let upload = async {
        b.goto(PAGE).await?;
        b.follow_in("//div[@class='page-actions']", "Files").await?;
        b.expect_path(FILES).await?;
        b.expect_text("No files yet.").await?;
        attach(b, &first, "The walk drawn on a flip chart").await?;
        b.link("flipchart.png").await?;
        b.expect_text("1 file").await?;
        b.expect_text("PNG image").await?;
        b.expect_text("120×80 px").await?;
        b.expect_text("The walk drawn on a flip chart").await?;
        b.link("version 1 of flipchart.png: history").await?;
        Ok::<(), anyhow::Error>(())
    };
    steps.record(
        "attach a PNG through the file input; it is listed",
        upload.await,
    );

    let list_checks = async {
        b.goto(FILES).await?;
        let axe = axe_both_widths(b, "the file list").await;
        shots(b, "files-list").await?;
        axe
    };
    steps.record("the file list: axe at 1280 and 360 px", list_checks.await);

    let embedded = async {
        b.goto(PAGE).await?;
        let width = embedded_width(b).await?;
        ensure!(
            width == 120,
            "the embedded image should be the 120 px wide upload, is {width} px"
        );
        // The page's own list of files shows it too.
        b.client
            .find(Locator::Css(
                "#files .file-list a[href$='/files/flipchart.png']",
            ))
            .await
            .context("the method page's Files section should list flipchart.png")?;
        shots(b, "files-embedded-image").await
    };
    steps.record(
        "the method page shows the image embedded (it loads)",
        embedded.await,
    );

    let second_version = async {
        b.goto(FILES).await?;
        attach(b, &second, "Redrawn after the second walk").await?;
        b.expect_text("1 file").await?;
        b.expect_text("160×90 px").await?;
        b.follow("version 2 of flipchart.png: history").await?;
        b.expect_path(HISTORY).await?;
        b.expect_page("History of flipchart.png").await?;
        b.link("Version 2").await?;
        b.link("Version 1").await?;
        b.expect_text("Redrawn after the second walk").await?;
        b.expect_text("The walk drawn on a flip chart").await?;
        axe_both_widths(b, "the file history").await?;
        shots(b, "files-history").await?;
        // The page now embeds the new version.
        b.goto(PAGE).await?;
        let width = embedded_width(b).await?;
        ensure!(
            width == 160,
            "after the second upload the embedded image should be the new version (160 px wide), is {width} px"
        );
        Ok(())
    };
    steps.record(
        "upload a second version, open the history (axe)",
        second_version.await,
    );

    match harness.dark_browser().await {
        Ok(dark) => {
            steps.record("sign in as a member (dark)", dark.sign_in("alice").await);
            let dark_checks = async {
                dark.goto(FILES).await?;
                dark.expect_page("Files").await?;
                axe_both_widths(&dark, "the file list (dark)").await?;
                dark.screenshot("files-list-dark", 1280).await?;
                dark.goto(HISTORY).await?;
                dark.expect_page("History of flipchart.png").await?;
                axe_both_widths(&dark, "the file history (dark)").await?;
                dark.screenshot("files-history-dark", 1280).await?;
                dark.goto(PAGE).await?;
                embedded_width(&dark).await?;
                dark.screenshot("files-embedded-image-dark", 1280).await?;
                Ok::<(), anyhow::Error>(())
            };
            steps.record(
                "file list and history in the dark scheme (axe)",
                dark_checks.await,
            );
        }
        Err(error) => steps.record("open the dark browser", Err(error)),
    }

    harness.finish().await;
    if !steps.0.is_empty() {
        panic!(
            "{} step(s) failed:\n\n{}",
            steps.0.len(),
            steps.0.join("\n\n")
        );
    }
}
