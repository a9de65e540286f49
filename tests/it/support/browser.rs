//! The browser harness: Cafe served on a random port over a temporary
//! database, Debian's `chromedriver` on a free port, and headless `chromium`
//! with a fresh profile, driven through fantoccini.
//!
//! `Browser` wraps the WebDriver client with the moves a person makes: follow
//! a link by its text, fill a field by its label, press a button, press keys,
//! plus the axe-core check and screenshots.
//!
//! Paths can be overridden with `CAFE_CHROMEDRIVER` and `CAFE_CHROMIUM`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::elements::Element;
use fantoccini::key::Key;
use fantoccini::{ClientBuilder, Locator};
use serde_json::{Value, json};

use cafe::config::ServeArgs;

use crate::support::TestApp;
use crate::support::server::free_port;
use crate::support::under_ci;

/// axe-core 4.14.1: `axe.min.js` from the npm package `axe-core`, unmodified;
/// MPL-2.0, see tests/data/axe-core-LICENSE.txt.
const AXE_SOURCE: &str = include_str!("../../data/axe.min.js");

const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-extensions",
    "--disable-default-apps",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
    "--lang=en-GB",
];

/// How the site's error pages begin their title and heading
/// (`cafe::error::ErrorPage`).
pub const ERROR_TITLES: &[&str] = &[
    "Not found",
    "Something went wrong",
    "Bad request",
    "Not allowed",
    "Conflict",
    "Too large",
    "Invalid form",
    "Too many attempts",
    "Temporarily unavailable",
];

/// Desktop window size used unless a test asks for another.
pub const DESKTOP: (u32, u32) = (1280, 900);

/// How long to wait for a page or an element before giving up.
const PATIENCE: Duration = Duration::from_secs(15);

/// How long [`Browser::follow`] waits for a clicked link's page before it
/// takes the click as lost.
const LOST_CLICK: Duration = Duration::from_secs(5);

fn env_path(var: &str, default: &str) -> PathBuf {
    std::env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(default))
}

/// The chromedriver and chromium binaries, or `None` (after saying so) when
/// they are missing on a developer's machine. Under `CI` a missing browser
/// is a failure: CI must run the browser tests.
pub fn browser_binaries() -> Option<(PathBuf, PathBuf)> {
    let driver = env_path("CAFE_CHROMEDRIVER", "/usr/bin/chromedriver");
    let chromium = env_path("CAFE_CHROMIUM", "/usr/bin/chromium");
    for path in [&driver, &chromium] {
        if !path.exists() {
            let missing = format!(
                "{} not found (install chromium chromium-driver)",
                path.display()
            );
            if under_ci() {
                panic!(
                    "browser tests cannot run: {missing}; CI is set, so they fail instead of skipping"
                );
            }
            let message = format!("browser tests skipped: {missing}");
            // Written straight to stderr so that `cargo test` shows it even
            // though the test passes (print! output of passing tests is hidden).
            let _ = writeln!(std::io::stderr(), "\n*** {message} ***\n");
            return None;
        }
    }
    Some((driver, chromium))
}

/// A running chromedriver; killed on drop (after asking it to end its
/// browser sessions so no chromium is left behind).
struct Driver {
    child: Child,
    port: u16,
    sessions: std::sync::Mutex<Vec<String>>,
}

impl Driver {
    fn start(binary: &Path, log: &Path) -> Result<Driver> {
        let port = free_port();
        let log_file = std::fs::File::create(log)?;
        let child = Command::new(binary)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdin(Stdio::null())
            .stdout(Stdio::from(log_file.try_clone()?))
            .stderr(Stdio::from(log_file))
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let mut driver = Driver {
            child,
            port,
            sessions: Default::default(),
        };
        let started = Instant::now();
        loop {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(driver);
            }
            if let Some(status) = driver.child.try_wait()? {
                let log = std::fs::read_to_string(log).unwrap_or_default();
                bail!("chromedriver exited with {status} before listening:\n{log}");
            }
            if started.elapsed() > Duration::from_secs(20) {
                bail!("chromedriver did not listen on port {port} within 20 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// DELETE /session/{id} with a plain blocking request (usable in Drop).
    fn delete_session(&self, id: &str) {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
        let request = format!(
            "DELETE /session/{id} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.port
        );
        if stream.write_all(request.as_bytes()).is_ok() {
            let mut sink = Vec::new();
            let _ = stream.read_to_end(&mut sink);
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let sessions =
            std::mem::take(&mut *self.sessions.lock().unwrap_or_else(|e| e.into_inner()));
        for id in sessions {
            self.delete_session(&id);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Everything one browser test needs. Drop order: browsers, then the
/// driver (which ends their sessions), then the app and its folder.
pub struct Harness {
    pub browser: Browser,
    driver: Driver,
    profiles: tempfile::TempDir,
    pub app: TestApp,
    pub base: String,
    chromium: PathBuf,
}

impl Harness {
    /// Starts everything, or returns `None` when the browser is missing
    /// (see [`browser_binaries`]).
    pub async fn start() -> Option<Harness> {
        Self::start_configured(|_| ServeArgs::defaults()).await
    }

    /// Like [`Harness::start`], serving an app made with the settings
    /// `make` gives for the site's address (`http://127.0.0.1:PORT`, no
    /// final slash), known before the app is built: so that `--public-url`
    /// and what depends on it (an OpenID redirect URI) can be the real one.
    /// `make` is not called when the browser is missing.
    pub async fn start_configured(make: impl FnOnce(&str) -> ServeArgs) -> Option<Harness> {
        let (driver_path, chromium) = browser_binaries()?;
        Some(
            Self::start_with(&driver_path, chromium, make)
                .await
                .expect("starting the browser harness"),
        )
    }

    async fn start_with(
        driver_path: &Path,
        chromium: PathBuf,
        make: impl FnOnce(&str) -> ServeArgs,
    ) -> Result<Harness> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        let app = TestApp::with_config(make(&base)).await;
        let router = app.router.clone();
        tokio::spawn(async move {
            axum::serve(
                listener,
                router.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await
            .expect("serving cafe");
        });
        let profiles = tempfile::tempdir()?;
        let driver = Driver::start(driver_path, &profiles.path().join("chromedriver.log"))?;
        let browser =
            open_browser(&driver, &chromium, profiles.path(), &base, "first", &[]).await?;
        Ok(Harness {
            browser,
            driver,
            profiles,
            app,
            base,
            chromium,
        })
    }

    /// Another, independent browser (its own profile and cookies) that
    /// prefers a dark colour scheme, for checking the dark styles.
    pub async fn dark_browser(&self) -> Result<Browser> {
        open_browser(
            &self.driver,
            &self.chromium,
            self.profiles.path(),
            &self.base,
            "dark",
            &["--blink-settings=preferredColorScheme=0"],
        )
        .await
    }

    /// Another, independent browser with JavaScript turned off in its
    /// pages, for what must work without it (WebDriver's own scripts, which
    /// these helpers use to read the page, still run).
    pub async fn browser_without_script(&self) -> Result<Browser> {
        open_browser(
            &self.driver,
            &self.chromium,
            self.profiles.path(),
            &self.base,
            "noscript",
            &["--blink-settings=scriptEnabled=false"],
        )
        .await
    }

    /// Ends the browser sessions cleanly.
    pub async fn finish(self) {
        let _ = self.browser.client.clone().close().await;
    }
}

async fn open_browser(
    driver: &Driver,
    chromium: &Path,
    profiles: &Path,
    base: &str,
    name: &str,
    extra_flags: &[&str],
) -> Result<Browser> {
    let profile = profiles.join(format!("profile-{name}"));
    std::fs::create_dir_all(&profile)?;
    let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|s| (*s).to_owned()).collect();
    args.push(format!("--user-data-dir={}", profile.display()));
    args.extend(extra_flags.iter().map(|s| (*s).to_owned()));
    args.push(format!("--window-size={},{}", DESKTOP.0, DESKTOP.1));
    let mut caps = serde_json::Map::new();
    caps.insert("browserName".into(), json!("chrome"));
    caps.insert("pageLoadStrategy".into(), json!("normal"));
    caps.insert(
        "goog:chromeOptions".into(),
        json!({ "binary": chromium.to_string_lossy(), "args": args }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let client = ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .context("opening a chromium session through chromedriver")?;
    if let Some(id) = client.session_id().await? {
        driver
            .sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(id);
    }
    let shots = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join("screenshots");
    Ok(Browser {
        client,
        base: base.to_owned(),
        shots,
    })
}

/// Where the keyboard focus is.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Focus {
    pub tag: String,
    pub id: String,
    /// The text of a link or button, or the label of a form field.
    pub name: String,
    pub class: String,
    /// An outline or a box shadow is drawn around it.
    pub ring: bool,
    /// Its box is at least partly inside the viewport.
    pub on_screen: bool,
    /// The landmarks and forms around it, outermost first, e.g. "main>aside".
    pub within: String,
}

impl std::fmt::Display for Focus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<{}", self.tag)?;
        if !self.id.is_empty() {
            write!(f, " id={:?}", self.id)?;
        }
        if !self.class.is_empty() {
            write!(f, " class={:?}", self.class)?;
        }
        write!(f, "> {:?}", self.name)
    }
}

/// One browser window, driven like a person would.
pub struct Browser {
    pub client: fantoccini::Client,
    pub base: String,
    shots: PathBuf,
}

/// An XPath string literal for any text.
pub fn xpath_literal(text: &str) -> String {
    if !text.contains('\'') {
        format!("'{text}'")
    } else if !text.contains('"') {
        format!("\"{text}\"")
    } else {
        let parts: Vec<String> = text.split('\'').map(|p| format!("'{p}'")).collect();
        format!("concat({})", parts.join(", \"'\", "))
    }
}

fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let cut: String = text.chars().take(max).collect();
        format!("{cut}…")
    }
}

impl Browser {
    /// The text of the one-time confirmation on the page ("" when none).
    pub async fn flash(&self) -> Result<String> {
        let text = self
            .js("const f = document.querySelector('#cafe-flash[role=status]'); return f ? f.innerText.trim() : 'NO LIVE REGION'")
            .await?;
        Ok(text.as_str().unwrap_or_default().to_owned())
    }

    /// Waits a little for the confirmation (with JavaScript it is put into
    /// the live region just after load) and checks it.
    pub async fn expect_flash(&self, expected: &str) -> Result<()> {
        let mut seen = String::new();
        for _ in 0..20 {
            seen = self.flash().await?;
            if seen.contains(expected) {
                return Ok(());
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        bail!(
            "expected the confirmation {expected:?} {}; it is {seen:?}",
            self.place().await
        )
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Signs in through the form as `username` (made with
    /// [`crate::support::PASSWORD`]) and waits for the signed-in page.
    pub async fn sign_in(&self, username: &str) -> Result<()> {
        self.goto("/signin").await?;
        self.fill("Username", username).await?;
        self.fill("Password", crate::support::PASSWORD).await?;
        self.press("Sign in").await?;
        self.button("Sign out")
            .await
            .with_context(|| format!("signing in as {username}"))?;
        Ok(())
    }

    /// Opens a path of the site (typing the address, which people do too).
    pub async fn goto(&self, path: &str) -> Result<()> {
        self.client
            .goto(&self.url(path))
            .await
            .with_context(|| format!("opening {path}"))
    }

    /// The current path and query.
    pub async fn path(&self) -> Result<String> {
        let url = self.client.current_url().await?;
        Ok(match url.query() {
            Some(query) => format!("{}?{}", url.path(), query),
            None => url.path().to_owned(),
        })
    }

    /// "on /path (“title”)", for messages.
    pub async fn place(&self) -> String {
        let path = self.path().await.unwrap_or_else(|_| "?".into());
        let title = self.client.title().await.unwrap_or_default();
        format!("on {path} (“{title}”)")
    }

    pub async fn js(&self, script: &str) -> Result<Value> {
        self.client
            .execute(script, Vec::new())
            .await
            .with_context(|| format!("running {}", shorten(script, 80)))
    }

    /// The visible text of the page.
    pub async fn text(&self) -> Result<String> {
        Ok(self
            .js("return document.body.innerText")
            .await?
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    pub async fn h1(&self) -> Result<String> {
        Ok(self
            .js("const h = document.querySelector('h1'); return h ? h.innerText.trim() : ''")
            .await?
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    /// Fails unless the page shows `needle`.
    pub async fn expect_text(&self, needle: &str) -> Result<()> {
        let text = self.text().await?;
        if !text.contains(needle) {
            bail!(
                "expected to see {needle:?} {}; the page shows:\n{}",
                self.place().await,
                shorten(&text, 1500)
            );
        }
        Ok(())
    }

    pub async fn expect_no_text(&self, needle: &str) -> Result<()> {
        let text = self.text().await?;
        if text.contains(needle) {
            bail!("did not expect {needle:?} {}", self.place().await);
        }
        Ok(())
    }

    /// Fails unless the page's first heading contains `needle`.
    pub async fn expect_heading(&self, needle: &str) -> Result<()> {
        let h1 = self.h1().await?;
        if !h1.contains(needle) {
            bail!(
                "expected the heading to contain {needle:?} {}; it is {h1:?}",
                self.place().await
            );
        }
        Ok(())
    }

    /// Fails unless the page is the one meant: its `<h1>` or `<title>`
    /// contains `expected`, and unless an error page was meant, neither
    /// starts as one of the site's error pages does ("Not found",
    /// "Something went wrong", …): a sweep that checked an error page in
    /// place of the page it named would prove nothing about that page.
    pub async fn expect_page(&self, expected: &str) -> Result<()> {
        let h1 = self.h1().await?;
        let title = self.client.title().await.unwrap_or_default();
        let meant_error = ERROR_TITLES.iter().any(|e| expected.starts_with(e));
        if !meant_error
            && let Some(error) = ERROR_TITLES
                .iter()
                .find(|e| h1.starts_with(*e) || title.starts_with(*e))
        {
            bail!(
                "expected the page {expected:?} but got the error page {error:?} {}",
                self.place().await
            );
        }
        if !h1.contains(expected) && !title.contains(expected) {
            bail!(
                "expected the heading or title to contain {expected:?} {}; the heading is {h1:?}",
                self.place().await
            );
        }
        Ok(())
    }

    pub async fn expect_path(&self, expected: &str) -> Result<()> {
        let path = self.path().await?;
        if path != expected {
            bail!("expected to be on {expected}, but {}", self.place().await);
        }
        Ok(())
    }

    /// Marks the current document so that [`Self::wait_for_new_page`] can
    /// tell when another one has loaded.
    async fn mark_page(&self) -> Result<()> {
        self.js("window.__cafeOldPage = true; return null")
            .await
            .map(|_| ())
    }

    async fn wait_for_new_page(&self) -> Result<()> {
        self.wait_for_new_page_within(PATIENCE).await
    }

    async fn wait_for_new_page_within(&self, patience: Duration) -> Result<()> {
        let started = Instant::now();
        loop {
            let done = self
                .client
                .execute("return window.__cafeOldPage === undefined && document.readyState === 'complete'", Vec::new())
                .await;
            if let Ok(Value::Bool(true)) = done {
                return Ok(());
            }
            if started.elapsed() > patience {
                bail!(
                    "no new page loaded within {patience:?} {}",
                    self.place().await
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Clicks something that loads another page and waits for it.
    pub async fn click_and_wait(&self, element: &Element) -> Result<()> {
        self.click_marked(element).await?;
        self.wait_for_new_page().await
    }

    /// Marks the page ([`Self::mark_page`]) and clicks `element`; a click
    /// that fails says what covers the element.
    async fn click_marked(&self, element: &Element) -> Result<()> {
        self.mark_page().await?;
        if let Err(error) = element.click().await {
            let what = self
                .client
                .execute(
                    "const r = arguments[0].getBoundingClientRect(); \
                     const e = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2); \
                     return [arguments[0].outerHTML.slice(0, 200), e ? e.outerHTML.slice(0, 300) : 'nothing', JSON.stringify(r)]",
                    vec![serde_json::to_value(element)?],
                )
                .await
                .unwrap_or_default();
            bail!(
                "clicking failed {}: {error}\n  wanted: {}\n  covered by: {}\n  at {}",
                self.place().await,
                what[0],
                what[1],
                what[2]
            );
        }
        Ok(())
    }

    async fn find_xpath(&self, xpath: &str) -> Option<Element> {
        self.client.find(Locator::XPath(xpath)).await.ok()
    }

    /// Texts of every link or button matching `css`, to explain a miss.
    async fn texts_of(&self, css: &str) -> String {
        let script = format!(
            "return Array.from(document.querySelectorAll({css:?})).map(e => (e.innerText || e.value || '').trim()).filter(t => t).join(' | ')"
        );
        self.js(&script)
            .await
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    /// The first link whose text is `text` (inside `scope`, an XPath prefix
    /// such as `//aside`, or anywhere when empty).
    pub async fn link_in(&self, scope: &str, text: &str) -> Result<Element> {
        let lit = xpath_literal(text);
        let exact = format!("{scope}//a[normalize-space(.)={lit}]");
        if let Some(found) = self.find_xpath(&exact).await {
            return Ok(found);
        }
        bail!(
            "no link {text:?} {}; the links are: {}",
            self.place().await,
            shorten(&self.texts_of("a").await, 2000)
        )
    }

    pub async fn link(&self, text: &str) -> Result<Element> {
        self.link_in("", text).await
    }

    /// Follows the link whose text is `text`.
    pub async fn follow(&self, text: &str) -> Result<()> {
        let link = self.link(text).await?;
        self.follow_link(&link)
            .await
            .with_context(|| format!("following the link {text:?}"))
    }

    pub async fn follow_in(&self, scope: &str, text: &str) -> Result<()> {
        let link = self.link_in(scope, text).await?;
        self.follow_link(&link)
            .await
            .with_context(|| format!("following the link {text:?} in {scope}"))
    }

    /// Clicks `link` and waits for its page. A click that loads nothing
    /// within [`LOST_CLICK`] while the page stays as it was (seen in CI on
    /// PostgreSQL about once in a dozen runs, with nothing asked of the
    /// server) is noted and the link's address opened instead; a page that
    /// does not come then (a stalled server) still fails the step after
    /// [`PATIENCE`].
    async fn follow_link(&self, link: &Element) -> Result<()> {
        let href = link.attr("href").await?.unwrap_or_default();
        self.click_marked(link).await?;
        if self.wait_for_new_page_within(LOST_CLICK).await.is_ok() {
            return Ok(());
        }
        let unchanged = matches!(
            self.js("return window.__cafeOldPage === true").await,
            Ok(Value::Bool(true))
        );
        if !(unchanged && href.starts_with('/')) {
            return self.wait_for_new_page().await;
        }
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            format!(
                "note: a click on {href} loaded nothing within {LOST_CLICK:?}; opening it instead\n"
            )
            .as_bytes(),
        );
        self.goto(&href).await?;
        self.wait_for_new_page()
            .await
            .with_context(|| format!("opening {href} after a lost click"))
    }

    /// The first button whose text is `text`.
    pub async fn button(&self, text: &str) -> Result<Element> {
        let lit = xpath_literal(text);
        let xpath = format!(
            "//button[normalize-space(.)={lit}] | //input[@type='submit' and @value={lit}]"
        );
        match self.find_xpath(&xpath).await {
            Some(found) => Ok(found),
            None => bail!(
                "no button {text:?} {}; the buttons are: {}",
                self.place().await,
                self.texts_of("button, input[type=submit]").await
            ),
        }
    }

    /// Presses the button `text`, which submits a form, and waits for the
    /// next page.
    pub async fn press(&self, text: &str) -> Result<()> {
        let button = self.button(text).await?;
        self.click_and_wait(&button)
            .await
            .with_context(|| format!("pressing {text:?}"))
    }

    /// The form control labelled `label`: a `<label>` whose text is
    /// `label` (or starts with it), through its `for` or by nesting.
    pub async fn field(&self, label: &str) -> Result<Element> {
        let lit = xpath_literal(label);
        let label_el = match self
            .find_xpath(&format!("//label[normalize-space(.)={lit}]"))
            .await
        {
            Some(found) => found,
            None => match self
                .find_xpath(&format!("//label[starts-with(normalize-space(.), {lit})]"))
                .await
            {
                Some(found) => found,
                None => bail!(
                    "no field labelled {label:?} {}; the labels are: {}",
                    self.place().await,
                    self.texts_of("label").await
                ),
            },
        };
        if let Some(id) = label_el.attr("for").await? {
            return self
                .client
                .find(Locator::Id(&id))
                .await
                .with_context(|| format!("the label {label:?} points at #{id}, which is missing"));
        }
        label_el
            .find(Locator::XPath(".//input | .//textarea | .//select"))
            .await
            .with_context(|| format!("the label {label:?} has neither `for` nor a control inside"))
    }

    /// Replaces the text of the field labelled `label` by typing `value`.
    pub async fn fill(&self, label: &str, value: &str) -> Result<()> {
        let field = self.field(label).await?;
        field
            .clear()
            .await
            .with_context(|| format!("clearing {label:?}"))?;
        field
            .send_keys(value)
            .await
            .with_context(|| format!("typing into {label:?}"))
    }

    /// Types `value` at the end of the field labelled `label`.
    pub async fn append(&self, label: &str, value: &str) -> Result<()> {
        let field = self.field(label).await?;
        field.click().await?;
        self.chord(&[Key::Control], Key::End).await?;
        field
            .send_keys(value)
            .await
            .with_context(|| format!("typing into {label:?}"))
    }

    /// The current value of the field labelled `label`.
    pub async fn value(&self, label: &str) -> Result<String> {
        Ok(self
            .field(label)
            .await?
            .prop("value")
            .await?
            .unwrap_or_default())
    }

    /// Picks the radio button or checkbox labelled `label` by clicking it.
    pub async fn choose(&self, label: &str) -> Result<()> {
        let field = self.field(label).await?;
        field
            .click()
            .await
            .with_context(|| format!("choosing {label:?}"))
    }

    /// Clicks something that does not load a page (a `<summary>`, say).
    pub async fn click_text(&self, tag: &str, text: &str) -> Result<()> {
        let lit = xpath_literal(text);
        match self
            .find_xpath(&format!("//{tag}[normalize-space(.)={lit}]"))
            .await
        {
            Some(found) => found
                .click()
                .await
                .with_context(|| format!("clicking {text:?}")),
            None => bail!("no <{tag}> {text:?} {}", self.place().await),
        }
    }

    // ---- keyboard -------------------------------------------------------

    /// Presses and releases one key.
    pub async fn key(&self, key: Key) -> Result<()> {
        let c: char = key.into();
        let actions = KeyActions::new("keyboard".into())
            .then(KeyAction::Down { value: c })
            .then(KeyAction::Up { value: c });
        self.client
            .perform_actions(actions)
            .await
            .context("pressing a key")
    }

    /// Presses `key` while holding `modifiers`.
    pub async fn chord(&self, modifiers: &[Key], key: Key) -> Result<()> {
        let mut actions = KeyActions::new("keyboard".into());
        for m in modifiers {
            actions = actions.then(KeyAction::Down { value: (*m).into() });
        }
        let c: char = key.into();
        actions = actions
            .then(KeyAction::Down { value: c })
            .then(KeyAction::Up { value: c });
        for m in modifiers.iter().rev() {
            actions = actions.then(KeyAction::Up { value: (*m).into() });
        }
        self.client
            .perform_actions(actions)
            .await
            .context("pressing keys")
    }

    /// Types text on the keyboard into whatever has the focus.
    pub async fn type_text(&self, text: &str) -> Result<()> {
        let mut actions = KeyActions::new("keyboard".into());
        for c in text.chars() {
            let c = if c == '\n' { Key::Enter.into() } else { c };
            actions = actions
                .then(KeyAction::Down { value: c })
                .then(KeyAction::Up { value: c });
        }
        self.client.perform_actions(actions).await.context("typing")
    }

    /// Presses a key that loads another page (Enter on a link or a
    /// button) and waits for it.
    pub async fn key_to_navigate(&self, key: Key) -> Result<()> {
        self.mark_page().await?;
        self.key(key).await?;
        self.wait_for_new_page().await
    }

    /// Where the keyboard focus is now.
    pub async fn focused(&self) -> Result<Focus> {
        let value = self
            .js(r#"
const el = document.activeElement;
if (!el || el === document.body) return {tag: 'body', id: '', name: '', class: '', ring: false, on_screen: true, within: ''};
const within = [];
for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
  if (['header', 'nav', 'main', 'aside', 'footer', 'form', 'section'].includes(a.tagName.toLowerCase())) within.unshift(a.tagName.toLowerCase());
}
let name = '';
if (el.labels && el.labels.length) name = el.labels[0].innerText;
else if (el.getAttribute('aria-label')) name = el.getAttribute('aria-label');
else name = el.innerText || el.value || '';
const style = getComputedStyle(el);
const outline = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0;
const shadow = style.boxShadow && style.boxShadow !== 'none';
const r = el.getBoundingClientRect();
const onScreen = r.width > 0 && r.height > 0 && r.bottom > 0 && r.right > 0 && r.top < innerHeight && r.left < innerWidth;
return {tag: el.tagName.toLowerCase(), id: el.id || '', name: name.replace(/\s+/g, ' ').trim(),
        class: (typeof el.className === 'string') ? el.className : '', ring: !!(outline || shadow), on_screen: onScreen, within: within.join('>')};
"#)
            .await?;
        serde_json::from_value(value).context("reading the focused element")
    }

    /// Presses Tab until the focus is on something named `name` (the text
    /// of a link or button, or a field's label, compared from the start);
    /// fails after `max` presses. Every stop on the way must show a focus
    /// ring and be on screen.
    pub async fn tab_to(&self, name: &str, max: usize) -> Result<Focus> {
        self.tab_until(name, max, |_| true).await
    }

    /// Like [`Self::tab_to`], for a `name` inside a `landmark` (such as
    /// "aside") when the same name appears elsewhere on the page.
    pub async fn tab_to_within(&self, landmark: &str, name: &str, max: usize) -> Result<Focus> {
        self.tab_until(name, max, |f| f.within.split('>').any(|l| l == landmark))
            .await
    }

    async fn tab_until(
        &self,
        name: &str,
        max: usize,
        also: impl Fn(&Focus) -> bool,
    ) -> Result<Focus> {
        let mut seen = Vec::new();
        for _ in 0..max {
            self.key(Key::Tab).await?;
            let focus = self.focused().await?;
            if focus.tag != "body" && !focus.ring {
                bail!(
                    "keyboard focus on {focus} {} has no visible focus indicator",
                    self.place().await
                );
            }
            if focus.tag != "body" && !focus.on_screen {
                bail!(
                    "keyboard focus on {focus} {} is off screen",
                    self.place().await
                );
            }
            let named = focus.name == name || (!name.is_empty() && focus.name.starts_with(name));
            if named && also(&focus) {
                return Ok(focus);
            }
            seen.push(format!("{focus} in {}", focus.within));
        }
        bail!(
            "{max} presses of Tab never reached {name:?} {}; focus went to:\n  {}",
            self.place().await,
            seen.join("\n  ")
        )
    }

    // ---- checks ----------------------------------------------------------

    /// Runs axe-core in the page; fails listing every violation by rule,
    /// impact and element.
    pub async fn axe(&self, what: &str) -> Result<()> {
        let loaded = self
            .client
            .execute(&format!("{AXE_SOURCE}\n;return typeof axe;"), Vec::new())
            .await?;
        if loaded != json!("object") {
            bail!(
                "axe-core did not load {} (typeof axe = {loaded})",
                self.place().await
            );
        }
        let script = r#"
const done = arguments[arguments.length - 1];
const brief = list => list.map(v => ({
  id: v.id, impact: v.impact, help: v.help,
  nodes: v.nodes.map(n => ({target: n.target.map(String), html: n.html, summary: n.failureSummary || ''}))}));
axe.run(document, {resultTypes: ['violations', 'incomplete']})
  .then(r => done({violations: brief(r.violations), incomplete: brief(r.incomplete)}))
  .catch(e => done({error: String(e)}));
"#;
        let result = self
            .client
            .execute_async(script, Vec::new())
            .await
            .context("running axe")?;
        if let Some(error) = result.get("error") {
            bail!("axe failed {}: {error}", self.place().await);
        }
        if std::env::var_os("CAFE_AXE_INCOMPLETE").is_some() {
            // What axe could not decide (for a person to check), on request.
            for v in result
                .get("incomplete")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let nodes = v
                    .get("nodes")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                let targets: Vec<String> = nodes
                    .iter()
                    .filter_map(|n| n.get("target"))
                    .map(Value::to_string)
                    .collect();
                eprintln!(
                    "axe incomplete on {what} {}: {} ({}) at {}",
                    self.place().await,
                    v.get("id").and_then(Value::as_str).unwrap_or("?"),
                    v.get("help").and_then(Value::as_str).unwrap_or("?"),
                    targets.join(", ")
                );
            }
        }
        let violations = result
            .get("violations")
            .and_then(Value::as_array)
            .ok_or_else(|| anyhow!("axe returned {result}"))?;
        if violations.is_empty() {
            return Ok(());
        }
        let mut report = format!(
            "axe: {} violation(s) on {what} {}:",
            violations.len(),
            self.place().await
        );
        for v in violations {
            let s = |key: &str| v.get(key).and_then(Value::as_str).unwrap_or("?").to_owned();
            report.push_str(&format!(
                "\n  [{}] {} — {}",
                s("impact"),
                s("id"),
                s("help")
            ));
            for node in v
                .get("nodes")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let target = node.get("target").map(Value::to_string).unwrap_or_default();
                let html = node.get("html").and_then(Value::as_str).unwrap_or_default();
                let summary = node
                    .get("summary")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                report.push_str(&format!(
                    "\n      at {target}: {}\n        {}",
                    shorten(html, 200),
                    shorten(&summary.replace('\n', " "), 300)
                ));
            }
        }
        bail!(report)
    }

    /// Saves a PNG of the whole page at `width` CSS pixels under
    /// target/screenshots/NAME-WIDTH.png; returns its path and whether
    /// the page scrolls sideways at that width.
    pub async fn screenshot(&self, name: &str, width: u32) -> Result<(PathBuf, bool)> {
        std::fs::create_dir_all(&self.shots)?;
        self.resize_viewport(width, 800).await?;
        let height = self
            .js("return document.documentElement.scrollHeight")
            .await?
            .as_u64()
            .unwrap_or(800);
        let height = height.clamp(400, 8000) as u32;
        self.resize_viewport(width, height).await?;
        let sideways = self
            .js("return document.documentElement.scrollWidth > window.innerWidth")
            .await?
            .as_bool()
            .unwrap_or(false);
        let png = self
            .client
            .screenshot()
            .await
            .context("taking a screenshot")?;
        let path = self.shots.join(format!("{name}-{width}.png"));
        std::fs::write(&path, png)?;
        self.client.set_window_size(DESKTOP.0, DESKTOP.1).await?;
        Ok((path, sideways))
    }

    /// Sizes the window so that the page's viewport is `width`×`height`.
    pub async fn resize_viewport(&self, width: u32, height: u32) -> Result<()> {
        self.client.set_window_size(width, height).await?;
        let inner = self
            .js("return [window.innerWidth, window.innerHeight]")
            .await?;
        let iw = inner[0].as_u64().unwrap_or(width as u64) as i64;
        let ih = inner[1].as_u64().unwrap_or(height as u64) as i64;
        let (dw, dh) = (width as i64 - iw, height as i64 - ih);
        if dw != 0 || dh != 0 {
            self.client
                .set_window_size((width as i64 + dw) as u32, (height as i64 + dh) as u32)
                .await?;
        }
        Ok(())
    }

    /// Forgets the cookies (a fresh visitor).
    pub async fn forget_cookies(&self) -> Result<()> {
        self.client
            .delete_all_cookies()
            .await
            .context("deleting cookies")
    }
}
