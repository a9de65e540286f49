//! Finding one's way (issue 15): the breadcrumb, the main menu marking the
//! current section, "On this page" with the page's sections, the counts
//! near the title, and the page's description and icon; the editor's
//! prompts and Cancel; the history's size changes and task lists — as a
//! reader or a screen reader meets them in the HTML.

use crate::support::{Client, TestApp, attrs, select};
use axum::http::StatusCode;

const AAR: &str = "/methods/after-action-review";

async fn tell(client: &mut Client, page: &str, title: &str, outcome: &str) {
    let story = client
        .post(
            &format!("{page}/stories"),
            &[
                ("title", title),
                ("body", "What happened, and what we learnt."),
                ("outcome", outcome),
                ("location", ""),
            ],
        )
        .await;
    story.assert_status(StatusCode::SEE_OTHER);
}

async fn join_roster(client: &mut Client, page: &str) {
    let joined = client
        .post(
            &format!("{page}/roster"),
            &[("tip", "Ask me"), ("location", "")],
        )
        .await;
    joined.assert_status(StatusCode::SEE_OTHER);
}

fn trimmed(texts: Vec<String>) -> Vec<String> {
    texts
        .into_iter()
        .map(|t| t.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

#[tokio::test]
async fn a_method_page_has_a_breadcrumb_ending_at_the_page_itself() {
    let app = TestApp::new().await;
    let page = app.client().get(AAR).await;
    page.assert_status(StatusCode::OK);
    assert_eq!(
        trimmed(select(&page.body, "nav[aria-label=Breadcrumb] li")),
        ["Methods", "After-Action Review"]
    );
    assert_eq!(
        attrs(&page.body, "nav[aria-label=Breadcrumb] a", "href"),
        ["/methods", AAR]
    );
    assert_eq!(
        attrs(
            &page.body,
            "nav[aria-label=Breadcrumb] li:last-child a",
            "aria-current"
        ),
        ["page"]
    );
}

#[tokio::test]
async fn the_main_menu_marks_the_section_one_is_in() {
    let app = TestApp::new().await;
    let mut visitor = app.client();
    let current = |html: &str| select(html, "nav[aria-label=Main] a[aria-current]");
    for (path, section, value) in [
        ("/methods", "Methods", "page"),
        (AAR, "Methods", "true"),
        ("/tags", "Cafe Tags", "page"),
        ("/indicators", "Cafe Tags", "true"),
        ("/recent", "Recent changes", "page"),
    ] {
        let page = visitor.get(path).await;
        page.assert_status(StatusCode::OK);
        assert_eq!(current(&page.body), [section], "on {path}");
        assert_eq!(
            attrs(
                &page.body,
                "nav[aria-label=Main] a[aria-current]",
                "aria-current"
            ),
            [value],
            "on {path}"
        );
    }
    let search = visitor.get("/search?q=review").await;
    assert!(current(&search.body).is_empty(), "no menu item for search");

    let mut alice = app.member("alice").await;
    let profile = alice.get("/users/alice").await;
    profile.assert_status(StatusCode::OK);
    assert_eq!(
        attrs(&profile.body, ".account a[aria-current]", "href"),
        ["/users/alice"]
    );
    let other = alice.get(AAR).await;
    assert!(attrs(&other.body, ".account a[aria-current]", "href").is_empty());
}

#[tokio::test]
async fn near_the_title_a_line_counts_stories_and_people_and_jumps_to_them() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let page = alice.create_page("Knowledge Fair", "Stalls.\n", "").await;
    let counts = |html: &str| trimmed(select(html, ".method-header .method-counts a"));

    let empty = alice.get(&page).await;
    assert_eq!(
        counts(&empty.body),
        ["No stories yet", "No one uses this yet"]
    );
    assert_eq!(
        attrs(&empty.body, ".method-header .method-counts a", "href"),
        ["#stories", "#roster"]
    );

    tell(&mut alice, &page, "Our first fair", "success").await;
    join_roster(&mut alice, &page).await;
    let one = alice.get(&page).await;
    assert_eq!(
        counts(&one.body),
        ["1 story (1 success)", "1 person uses this"]
    );

    let mut bob = app.member("bob").await;
    tell(&mut bob, &page, "Nobody came", "failure").await;
    tell(&mut bob, &page, "Better the second time", "success").await;
    tell(&mut bob, &page, "A third", "success").await;
    join_roster(&mut bob, &page).await;
    let mut carol = app.member("carol").await;
    join_roster(&mut carol, &page).await;
    let many = carol.get(&page).await;
    assert_eq!(
        counts(&many.body),
        ["4 stories (3 success, 1 failure)", "3 people use this"]
    );
    // The targets exist on the page.
    assert_eq!(attrs(&many.body, "#stories", "id"), ["stories"]);
    assert_eq!(attrs(&many.body, "#roster", "id"), ["roster"]);
}

#[tokio::test]
async fn on_this_page_links_to_each_section_heading_of_the_text() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let page = alice
        .create_page(
            "Knowledge Fair",
            "Intro.\n\n## Why hold one\n\nText.\n\n### Small & large fairs\n\nMore.\n\n#### Too deep\n\n## How\n\nSteps.\n",
            "",
        )
        .await;
    let html = alice.get(&page).await.body;
    let headings: Vec<String> = attrs(&html, ".prose h2[id], .prose h3[id]", "id")
        .into_iter()
        .map(|id| format!("#{id}"))
        .collect();
    assert_eq!(headings.len(), 3, "{headings:?}");
    let outline = attrs(&html, "aside .outline a", "href");
    assert_eq!(
        &outline[..3],
        &headings[..],
        "the outline follows the text's h2/h3"
    );
    assert_eq!(
        trimmed(select(&html, "aside .outline a"))[..3],
        ["Why hold one", "Small & large fairs", "How"]
    );
    assert!(
        outline.contains(&"#stories".to_owned()) && outline.contains(&"#roster".to_owned()),
        "{outline:?}"
    );
    assert_eq!(
        trimmed(select(&html, "aside h2")),
        ["On this page"],
        "the aside is named"
    );
}

#[tokio::test]
async fn protect_this_page_sits_after_the_text_not_between_title_and_tags() {
    let app = TestApp::new().await;
    let mut admin = app.admin("root").await;
    let html = admin.get(AAR).await.body;
    let protect = html.find("Protect this page").expect("the protect button");
    let tags = html.find("class=\"tags").expect("the tag list");
    let prose = html.find("class=\"prose\"").expect("the text");
    assert!(
        protect > tags && protect > prose,
        "the protect form comes after the tags and the text"
    );
    // The page tools also hold the housekeeping tools (delete, merge).
    assert_eq!(
        select(&html, ".page-tools button")
            .first()
            .map(String::as_str),
        Some("Protect this page"),
        "in the page tools"
    );
}

#[tokio::test]
async fn a_method_page_describes_itself_by_its_first_paragraph() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let page = alice
        .create_page(
            "Knowledge Fair",
            "## Brief Description\n\nA **market** of stalls where teams show & tell what they learnt.\n\n## More\n\nOther text.\n",
            "",
        )
        .await;
    let html = alice.get(&page).await.body;
    assert_eq!(
        attrs(&html, "meta[name=description]", "content"),
        ["A market of stalls where teams show & tell what they learnt."]
    );
    let long = alice
        .create_page("Long One", &format!("{}\n", "word ".repeat(200)), "")
        .await;
    let html = alice.get(&long).await.body;
    let description = attrs(&html, "meta[name=description]", "content").concat();
    assert!(
        description.chars().count() <= 160 && description.ends_with('…'),
        "{description}"
    );
    let list = alice.get("/methods").await.body;
    assert_eq!(
        attrs(&list, "meta[name=description]", "content").len(),
        1,
        "every page has one"
    );
}

#[tokio::test]
async fn every_page_links_an_icon_that_is_served() {
    let app = TestApp::new().await;
    let mut visitor = app.client();
    let home = visitor.get("/").await;
    let icons = attrs(&home.body, "link[rel=icon]", "href");
    assert_eq!(icons.len(), 1, "{icons:?}");
    let icon = visitor.get(&icons[0]).await;
    icon.assert_status(StatusCode::OK);
    assert_eq!(icon.header("content-type"), Some("image/svg+xml"));
    assert!(icon.body.contains("<svg"), "{}", icon.body);
}

// ------------------------------------------------------------- the editor

#[tokio::test]
async fn the_new_page_template_carries_prompts_that_are_not_saved_when_left_unchanged() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let form = alice.get("/methods/new").await;
    form.assert_status(StatusCode::OK);
    let template = select(&form.body, "textarea[name=body]").concat();
    let prompts = template.matches("<!--").count();
    assert_eq!(prompts, 5, "a prompt under each section: {template}");
    assert!(
        template.contains("<!-- In two or three sentences"),
        "{template}"
    );

    // Saved as it came, except for a sentence under the first heading.
    let body = template.replacen(
        "## Brief Description\n",
        "## Brief Description\n\nStalls where teams show what they learnt.\n",
        1,
    );
    let page = alice.create_page("Knowledge Fair", &body, "").await;
    let source = alice.get(&format!("{page}/source")).await;
    source.assert_status(StatusCode::OK);
    assert!(!source.body.contains("<!--"), "{}", source.body);
    for heading in [
        "## Brief Description",
        "## Example Applications",
        "## Full Description",
    ] {
        assert!(
            source.body.contains(heading),
            "{heading} kept: {}",
            source.body
        );
    }
    assert!(
        source
            .body
            .contains("Stalls where teams show what they learnt.")
    );

    // A comment of one's own is kept.
    let base = alice.base_revision(&page).await;
    let mine = format!("{}\n<!-- ask Bruno about the hall -->\n", source.body);
    alice
        .edit_page(&page, &base, &mine, "", "a note")
        .await
        .assert_status(StatusCode::SEE_OTHER);
    let source = alice.get(&format!("{page}/source")).await;
    assert!(source.body.contains("<!-- ask Bruno about the hall -->"));
}

#[tokio::test]
async fn the_editor_has_a_cancel_link_a_markdown_cheat_sheet_and_the_preview_beside_the_text() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let new = alice.get("/methods/new").await;
    assert_eq!(
        attrs(&new.body, "form.page-form .form-actions a", "href"),
        ["/methods"]
    );
    assert_eq!(
        select(&new.body, "form.page-form .form-actions a"),
        ["Cancel"]
    );
    let edit = alice.get(&format!("{AAR}/edit")).await;
    edit.assert_status(StatusCode::OK);
    assert_eq!(
        attrs(&edit.body, "form.page-form .form-actions a", "href"),
        [AAR]
    );
    let help = select(&edit.body, "form.page-form details.markdown-help summary");
    assert_eq!(help.len(), 1, "a cheat sheet without JavaScript");
    let sheet = select(&edit.body, "details.markdown-help table").concat();
    for needle in [
        "**bold**",
        "## Section",
        "- item",
        "[[Peer Assist]]",
        "- [ ] to do",
    ] {
        assert!(sheet.contains(needle), "{needle} in {sheet}");
    }
    assert_eq!(
        attrs(&edit.body, ".editor > .editor-text > textarea", "name"),
        ["body"],
        "the text"
    );
    assert_eq!(
        attrs(&edit.body, ".editor > section.preview", "id"),
        ["page-preview-section"],
        "its preview beside it, in the same form"
    );
    assert_eq!(
        attrs(&edit.body, "textarea[data-toolbar]", "name"),
        ["body"],
        "the toolbar's place"
    );
}

// ------------------------------------------------------- the smaller items

/// (summary cell text, size change) of each history row, newest first.
fn history_rows(html: &str) -> Vec<(String, String)> {
    let summaries = trimmed(select(html, "table.history tbody td.history-summary"));
    let sizes = trimmed(select(html, "table.history tbody td .size-change"));
    summaries.into_iter().zip(sizes).collect()
}

#[tokio::test]
async fn the_history_shows_each_revisions_size_change_and_no_summary_in_words() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let page = alice.create_page("Knowledge Fair", "Ten chars\n", "").await;
    let base = alice.base_revision(&page).await;
    let longer = format!("Ten chars\n{}\n", "x".repeat(122));
    alice
        .edit_page(&page, &base, &longer, "", "")
        .await
        .assert_status(StatusCode::SEE_OTHER);
    let base = alice.base_revision(&page).await;
    let shorter = format!("Ten chars\n{}\n", "x".repeat(77));
    alice
        .edit_page(&page, &base, &shorter, "", "shorter")
        .await
        .assert_status(StatusCode::SEE_OTHER);
    let base = alice.base_revision(&page).await;
    alice
        .edit_page(&page, &base, "Ten chars\nüéè\n", "a", "accents")
        .await
        .assert_status(StatusCode::SEE_OTHER);
    let history = alice.get(&format!("{page}/history")).await;
    history.assert_status(StatusCode::OK);
    let rows = history_rows(&history.body);
    assert_eq!(rows.len(), 4, "{rows:?}");
    // Characters, not bytes: "üéè\n" is 4 characters (7 bytes).
    assert_eq!(rows[0].1, "(\u{2212}74 characters)", "{rows:?}");
    assert!(rows[0].0.starts_with("accents"), "{rows:?}");
    assert_eq!(rows[1].1, "(\u{2212}45 characters)");
    assert!(rows[1].0.starts_with("shorter"));
    assert_eq!(rows[2].1, "(+123 characters)");
    assert!(
        rows[2].0.starts_with("(no summary)"),
        "an empty summary says so: {rows:?}"
    );
    assert_eq!(rows[3].1, "(+10 characters)");
    assert!(rows[3].0.starts_with("first"));
}

#[tokio::test]
async fn restore_buttons_are_secondary_to_compare() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let page = alice.create_page("Knowledge Fair", "One\n", "").await;
    let base = alice.base_revision(&page).await;
    alice
        .edit_page(&page, &base, "Two\n", "", "two")
        .await
        .assert_status(StatusCode::SEE_OTHER);
    let history = alice.get(&format!("{page}/history")).await;
    let restore = attrs(&history.body, "button[form^=restore-]", "class");
    assert_eq!(restore.len(), 1, "{restore:?}");
    assert!(
        restore[0].split(' ').any(|c| c == "secondary"),
        "{restore:?}"
    );
    assert_eq!(
        select(&history.body, ".history-form > button[type=submit]"),
        ["Compare the chosen revisions"]
    );
    assert!(
        select(&history.body, ".history-form > button.secondary").is_empty(),
        "Compare is the main action"
    );
}

#[tokio::test]
async fn task_lists_show_disabled_checkboxes() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let page = alice
        .create_page(
            "Knowledge Fair",
            "- [x] Book the hall\n- [ ] Invite partners\n\n<input type=\"text\" name=\"csrf_token\">\n",
            "",
        )
        .await;
    let html = alice.get(&page).await.body;
    assert_eq!(
        attrs(&html, ".prose li > input[type=checkbox][disabled]", "type").len(),
        2
    );
    assert_eq!(
        trimmed(select(
            &html,
            ".prose li:has(> input[type=checkbox][checked])"
        )),
        ["Book the hall"]
    );
    assert_eq!(
        attrs(&html, ".prose input", "type"),
        ["checkbox", "checkbox", "checkbox"],
        "an author's own input is a disabled checkbox too"
    );
    assert!(attrs(&html, ".prose input[name]", "name").is_empty());
    assert!(!html.contains('☐') && !html.contains('☑'));
}

#[tokio::test]
async fn the_console_says_how_to_make_the_first_administrator_until_there_is_one() {
    let app = TestApp::new().await;
    let hint = cafe::cli::first_admin_hint(&app.state.pool, "cafe.db")
        .await
        .expect("asking for administrators")
        .expect("a hint at first start");
    assert!(hint.contains("cafe user add NAME --admin"), "{hint}");
    let elsewhere = cafe::cli::first_admin_hint(&app.state.pool, "/srv/cafe/data.db")
        .await
        .unwrap()
        .unwrap();
    assert!(
        elsewhere.contains("cafe --db '/srv/cafe/data.db' user add NAME --admin"),
        "{elsewhere}"
    );
    app.member("alice").await;
    assert!(
        cafe::cli::first_admin_hint(&app.state.pool, "cafe.db")
            .await
            .unwrap()
            .is_some(),
        "a member is no administrator"
    );
    app.admin("root").await;
    assert_eq!(
        cafe::cli::first_admin_hint(&app.state.pool, "cafe.db")
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn a_story_revision_shows_what_it_changed_from_the_one_before() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let told = alice
        .post(
            &format!("{AAR}/stories"),
            &[
                ("title", "Our first review"),
                ("body", "We met on Monday.\nNobody took notes.\n"),
                ("outcome", "success"),
                ("location", "Lima"),
            ],
        )
        .await;
    told.assert_status(StatusCode::SEE_OTHER);
    let thread = told.location().expect("the thread").to_owned();
    alice
        .post(
            &format!("{thread}/edit"),
            &[
                ("title", "Our first review"),
                ("body", "We met on Monday.\nEveryone took notes.\n"),
                ("outcome", "failure"),
                ("location", "Lima"),
                ("summary", ""),
            ],
        )
        .await
        .assert_status(StatusCode::SEE_OTHER);
    let history = alice.get(&format!("{thread}/history")).await;
    history.assert_status(StatusCode::OK);
    assert_eq!(
        attrs(&history.body, "table.history a[href$='#changes']", "href"),
        [format!("{thread}/revisions/2#changes")]
    );
    assert!(
        select(&history.body, "table.history td").contains(&"(no summary)".to_owned()),
        "{:?}",
        select(&history.body, "table.history td")
    );
    let second = alice.get(&format!("{thread}/revisions/2")).await;
    second.assert_status(StatusCode::OK);
    assert_eq!(
        trimmed(select(&second.body, "#changes h2")),
        ["Changes from revision 1"]
    );
    assert_eq!(
        trimmed(select(&second.body, "#changes .field-changes li")),
        ["Outcome: Success → Failure"]
    );
    assert_eq!(
        trimmed(select(&second.body, "#changes tr.removed td.text")),
        ["Nobody took notes."]
    );
    assert_eq!(
        trimmed(select(&second.body, "#changes tr.added td.text")),
        ["Everyone took notes."]
    );
    let first = alice.get(&format!("{thread}/revisions/1")).await;
    first.assert_status(StatusCode::OK);
    assert!(
        select(&first.body, "#changes").is_empty(),
        "nothing before the first"
    );
}
