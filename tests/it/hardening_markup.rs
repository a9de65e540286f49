//! Issue 12, items 9, 10 and 12 (markup parts): reserved slugs, author ids
//! kept out of the site's own ids, raw `<style>` that hid the rest of a
//! page, and indicator codes that could walk out of their URL.

use crate::support;
use crate::support::{Client, TestApp};
use axum::http::StatusCode;
use clap::Parser as _;
use scraper::{Html, Selector};

/// The text of the page's `<h1>`s, trimmed.
fn headings(html: &str) -> Vec<String> {
    let doc = Html::parse_document(html);
    let h1 = Selector::parse("h1").expect("selector");
    doc.select(&h1)
        .map(|e| e.text().collect::<String>().trim().to_owned())
        .collect()
}

/// Follows a page's link to itself from `/methods`, by its title.
async fn listed_path(client: &mut Client, title: &str) -> Vec<String> {
    let list = client.get("/methods").await;
    let doc = Html::parse_document(&list.body);
    let links = Selector::parse("main a").expect("selector");
    doc.select(&links)
        .filter(|a| a.text().collect::<String>().trim() == title)
        .filter_map(|a| a.value().attr("href").map(str::to_owned))
        .filter(|href| href.starts_with("/methods/"))
        .collect()
}

// ------------------------------------------------------- item 9: slugs

#[tokio::test]
async fn a_page_titled_new_can_be_shown_after_it_is_created() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let path = alice.create_page("New", "Fresh ideas.\n", "").await;
    assert_ne!(path, "/methods/new", "the form's own URL");
    let page = alice.get(&path).await;
    page.assert_status(StatusCode::OK);
    assert_eq!(headings(&page.body), ["New"], "{path}");
    page.assert_contains("Fresh ideas.");

    // A second page of the same title, confirmed past the duplicate
    // offer (issue 15).
    let again = alice
        .post(
            "/methods",
            &[
                ("title", "new"),
                ("body", "Another.\n"),
                ("tags", ""),
                ("summary", ""),
                ("create_anyway", "1"),
            ],
        )
        .await;
    again.assert_status(StatusCode::SEE_OTHER);
    let again = again.location().expect("the new page").to_owned();
    assert!(again != path && again != "/methods/new", "{again}");
    let second = alice.get(&again).await;
    second.assert_status(StatusCode::OK);
    assert_eq!(headings(&second.body), ["new"]);
}

#[tokio::test]
async fn a_wiki_link_to_new_reaches_the_page_not_the_form() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    // Linked before the page exists (a missing link), then created.
    let linker = alice
        .create_page("Linker", "See [[New]] for more.\n", "")
        .await;
    let path = alice.create_page("New", "Fresh ideas.\n", "").await;
    let links = support::attrs(&alice.get(&linker).await.body, "a.wikilink", "href");
    assert_eq!(links, std::slice::from_ref(&path));
    let page = alice.get(&links[0]).await;
    page.assert_status(StatusCode::OK);
    assert_eq!(headings(&page.body), ["New"]);
    // And a link written after it exists.
    let later = alice
        .create_page("Later", "[[New|the new one]]\n", "")
        .await;
    let links = support::attrs(&alice.get(&later).await.body, "a.wikilink", "href");
    assert_eq!(links, [path]);
}

#[tokio::test]
async fn importing_a_page_titled_new_twice_gives_one_page_that_can_be_shown() {
    let app = TestApp::new().await;
    let dir = app.dir.path().join("pages");
    std::fs::create_dir(&dir).expect("a folder");
    std::fs::write(dir.join("new.md"), "---\ntitle: \"New\"\n---\nImported.\n").expect("write");
    for _ in 0..2 {
        let cli = cafe::config::Cli::try_parse_from([
            "cafe",
            "import",
            dir.to_str().expect("utf-8"),
            "--db",
            &app.db_path(),
        ])
        .expect("the command line parses");
        cafe::cli::run(cli).await.expect("the import succeeds");
    }
    let mut visitor = app.client();
    let paths = listed_path(&mut visitor, "New").await;
    assert_eq!(paths.len(), 1, "one page, not two: {paths:?}");
    let page = visitor.get(&paths[0]).await;
    page.assert_status(StatusCode::OK);
    assert_eq!(headings(&page.body), ["New"], "{}", paths[0]);
}

// ---------------------------------------------------- item 10: author ids

/// How many elements of the page carry `id`.
fn with_id(doc: &Html, id: &str) -> usize {
    let all = Selector::parse("[id]").expect("selector");
    doc.select(&all)
        .filter(|e| e.value().attr("id") == Some(id))
        .count()
}

#[tokio::test]
async fn authors_cannot_take_the_sites_element_ids_and_their_anchors_still_work() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let body = "# x {#roster}\n\n<div id=\"stories\">hi</div>\n\n## y {#cafe-main}\n\n\
                A note[^n], [back to x](#roster) and <a href=\"#stories\">the div</a>.\n\n\
                ## Plain heading\n\n[down](#plain-heading)\n\n[^n]: the note\n";
    let path = alice.create_page("Hijacker", body, "").await;
    let page = alice.get(&path).await;
    page.assert_status(StatusCode::OK);
    let doc = Html::parse_document(&page.body);
    for id in ["roster", "stories", "cafe-main"] {
        assert_eq!(with_id(&doc, id), 1, "one element with id {id}, the site's");
        assert_eq!(
            with_id(&doc, &format!("user-content-{id}")),
            1,
            "the author's {id}, prefixed"
        );
    }
    let all = Selector::parse("[id]").expect("selector");
    let ids: Vec<&str> = doc
        .select(&all)
        .filter_map(|e| e.value().attr("id"))
        .collect();
    let prose = Selector::parse(".prose a[href^='#'], main a[href^='#']").expect("selector");
    let hrefs: Vec<&str> = doc
        .select(&prose)
        .filter_map(|e| e.value().attr("href"))
        .collect();
    assert!(
        hrefs.len() >= 4,
        "the footnote, two author links and the heading link: {hrefs:?}"
    );
    for href in hrefs {
        let target = &href[1..];
        assert!(
            ids.contains(&target),
            "{href} points to no element on the page ({ids:?})"
        );
    }
    assert!(ids.contains(&"user-content-plain-heading"), "{ids:?}");
}

// ------------------------------------------------- item 12: raw <style>

#[tokio::test]
async fn an_unclosed_style_block_hides_nothing_after_it() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    for (title, body) in [
        ("Styled", "before\n\n<style>\n.x{}\n\nafter the style\n"),
        (
            "Scripted",
            "before\n\n<script>\nalert(1)\n\nafter the style\n",
        ),
        (
            "Quoted style",
            "> before\n>\n> <STYLE type=\"text/css\">\n> .x{}\n>\n> after the style\n",
        ),
    ] {
        let path = alice.create_page(title, body, "").await;
        let page = alice.get(&path).await;
        page.assert_status(StatusCode::OK);
        page.assert_contains("before");
        page.assert_contains("after the style");
        let lower = page.body.to_lowercase();
        assert!(
            !lower.contains("<style") && !lower.contains(".x{}"),
            "{title}: the style is dropped"
        );
        assert!(
            !lower.contains("alert(1)"),
            "{title}: the script is dropped"
        );
    }
}

// --------------------------------------------- item 12: indicator codes

fn indicator_form(code: &str) -> Vec<(&str, &str)> {
    vec![
        ("code", code),
        ("name", "Sneaky"),
        ("description", "Walks out of its URL."),
        ("group", "X"),
        ("sort", "20"),
    ]
}

async fn indicator_count(app: &TestApp) -> i64 {
    cafe::on_db!(&app.state.pool, |pool| sqlx::query_scalar(
        "SELECT count(*) FROM indicators"
    )
    .fetch_one(pool)
    .await)
    .expect("a count")
}

#[tokio::test]
async fn an_indicator_code_that_is_a_path_is_refused_at_the_form() {
    let app = TestApp::new().await;
    let mut root = app.admin("root").await;
    let before = indicator_count(&app).await;
    for code in ["../../x", "a/b", "x?y", "a b", "<b>", ".."] {
        let page = root.post("/indicators", &indicator_form(code)).await;
        page.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
        page.assert_contains("letters, digits");
    }
    assert_eq!(indicator_count(&app).await, before, "nothing is stored");
    root.post("/indicators", &indicator_form("KM_2.1-b"))
        .await
        .assert_status(StatusCode::SEE_OTHER);
    assert_eq!(indicator_count(&app).await, before + 1);
}

#[tokio::test]
async fn a_csv_import_with_a_path_for_a_code_is_refused_naming_the_line() {
    let app = TestApp::new().await;
    let before = indicator_count(&app).await;
    let file = app.dir.path().join("codes.csv");
    std::fs::write(
        &file,
        "code,name,description,group,sort\nOK-1,Fine,,G,1\n../../x,Sneaky,,G,2\n",
    )
    .expect("write the CSV");
    let cli = cafe::config::Cli::try_parse_from([
        "cafe",
        "indicators",
        "import",
        file.to_str().expect("utf-8"),
        "--db",
        &app.db_path(),
    ])
    .expect("the command line parses");
    let error = cafe::cli::run(cli)
        .await
        .expect_err("the import fails")
        .to_string();
    assert!(
        error.contains("line 3:") && error.contains("letters, digits"),
        "{error}"
    );
    assert!(!error.contains("line 2:"), "{error}");
    assert_eq!(indicator_count(&app).await, before, "nothing is imported");
}
