//! Method pages through the real router: creating from the template, slugs,
//! revisions, history, diffs, restore, source, missing pages and wiki links,
//! and concurrent edits that must never lose what someone typed.

use crate::support::attrs;
use crate::support::{Client, Page, TestApp, encode};
use axum::http::StatusCode;
use scraper::{Html, Selector};

use cafe::pages::db as pages_db;
use cafe::pages::{PageText, Slug};

fn select(html: &str, css: &str) -> Vec<String> {
    let doc = Html::parse_document(html);
    let selector = Selector::parse(css).expect("a valid selector");
    doc.select(&selector)
        .map(|e| e.text().collect::<String>())
        .collect()
}

/// Revision numbers in the order the history table lists them.
fn history_numbers(html: &str) -> Vec<i64> {
    select(html, "table.history tbody tr td:nth-child(3) a:first-child")
        .iter()
        .map(|n| n.trim().parse().expect("a revision number"))
        .collect()
}

async fn source(client: &mut Client, path: &str) -> String {
    let page = client.get(&format!("{path}/source")).await;
    page.assert_status(StatusCode::OK);
    page.body
}

const TEMPLATE_HEADINGS: [&str; 5] = [
    "## Brief Description",
    "## Example Applications",
    "## Full Description",
    "## Related Methods/Tools/Practices",
    "## More Information/References/Related Resources",
];

#[tokio::test]
async fn the_new_page_form_starts_from_the_method_template() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let form = alice.get("/methods/new").await;
    form.assert_status(StatusCode::OK);
    let text = select(&form.body, "textarea[name=body]").concat();
    for heading in TEMPLATE_HEADINGS {
        assert!(
            text.contains(heading),
            "{heading:?} missing from the new page form: {text}"
        );
    }
    assert_eq!(
        attrs(&form.body, "main form[method=post]", "action"),
        ["/methods"]
    );
    assert_eq!(
        attrs(&form.body, "input[name=tags]", "name").len(),
        1,
        "a tag box"
    );
    assert_eq!(
        attrs(&form.body, "input[name=summary]", "name").len(),
        1,
        "an edit summary"
    );
}

#[tokio::test]
async fn an_anonymous_visitor_is_sent_to_sign_in_before_creating_a_page() {
    let app = TestApp::new().await;
    let mut visitor = app.client();
    let form = visitor.get("/methods/new").await;
    form.assert_status(StatusCode::SEE_OTHER);
    assert_eq!(form.location(), Some("/signin?next=%2Fmethods%2Fnew"));

    let fields = encode(&[
        ("title", "Sneaky Page"),
        ("body", "text"),
        ("tags", ""),
        ("summary", ""),
    ]);
    let post = visitor.post_raw("/methods", fields).await;
    post.assert_status(StatusCode::SEE_OTHER);
    assert!(
        post.location()
            .is_some_and(|l| l.starts_with("/signin?next=")),
        "{:?}",
        post.location()
    );
    visitor
        .get("/methods/sneaky-page")
        .await
        .assert_status(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_new_page_is_shown_at_the_slug_of_its_title() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let path = alice
        .create_page(
            "  Knowledge   Fair: an Open Market!! ",
            "## Brief Description\n\nStalls of ideas.\n",
            "",
        )
        .await;
    assert_eq!(path, "/methods/knowledge-fair-an-open-market");
    let page = alice.get(&path).await;
    page.assert_status(StatusCode::OK)
        .assert_contains("Stalls of ideas.")
        .assert_contains("Revision 1");
    assert_eq!(
        select(&page.body, "main h1"),
        ["Knowledge Fair: an Open Market!!"]
    );
}

#[tokio::test]
async fn a_slug_keeps_letters_of_any_script_and_at_most_eighty_characters() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let created = alice
        .post(
            "/methods",
            &[
                ("title", "Évaluation participative"),
                ("body", "Body.\n"),
                ("tags", ""),
                ("summary", ""),
            ],
        )
        .await;
    created.assert_status(StatusCode::SEE_OTHER);
    // A Location header is a URI: the slug's letters come percent-encoded.
    let location = created
        .headers
        .get("location")
        .expect("a redirect")
        .as_bytes();
    assert_eq!(
        String::from_utf8_lossy(location),
        "/methods/%C3%A9valuation-participative"
    );
    alice
        .get("/methods/%C3%A9valuation-participative")
        .await
        .assert_status(StatusCode::OK)
        .assert_contains("Body.");

    let long_title = "word ".repeat(23);
    let path = alice.create_page(&long_title, "Long.\n", "").await;
    let slug = path.strip_prefix("/methods/").expect("a method path");
    assert!(
        slug.chars().count() <= 80,
        "{slug} is longer than 80 characters"
    );
    assert!(
        slug.starts_with("word-word-") && !slug.ends_with('-'),
        "{slug}"
    );
    alice
        .get(&path)
        .await
        .assert_status(StatusCode::OK)
        .assert_contains("Long.");
}

#[tokio::test]
async fn a_taken_slug_gets_a_number() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    // "After-Action Review" is one of the seeded pages: a second page of
    // the same title is made only when its author confirms it (issue 15).
    let mut create_anyway = async |title: &str, body: &str| {
        let page = alice
            .post(
                "/methods",
                &[
                    ("title", title),
                    ("body", body),
                    ("tags", ""),
                    ("summary", "first"),
                    ("create_anyway", "1"),
                ],
            )
            .await;
        page.assert_status(StatusCode::SEE_OTHER);
        page.location().expect("a redirect").to_owned()
    };
    let second = create_anyway("After-Action Review", "Our own take.\n").await;
    assert_eq!(second, "/methods/after-action-review-2");
    let third = create_anyway("after action review", "A third take.\n").await;
    assert_eq!(third, "/methods/after-action-review-3");
    alice
        .get(&second)
        .await
        .assert_status(StatusCode::OK)
        .assert_contains("Our own take.");
    let original = alice.get("/methods/after-action-review").await;
    original.assert_status(StatusCode::OK);
    assert!(
        !original.body.contains("Our own take."),
        "the seeded page was overwritten"
    );
}

#[tokio::test]
async fn editing_a_page_makes_revision_two_and_keeps_revision_one() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let path = alice
        .create_page("Fishbowl", "The first words.\n", "circle")
        .await;
    let base = alice.base_revision(&path).await;
    assert_eq!(base, "1");
    let saved = alice
        .edit_page(
            &path,
            &base,
            "The second words.\n",
            "circle, talk",
            "reworded",
        )
        .await;
    saved.assert_status(StatusCode::SEE_OTHER);
    assert_eq!(saved.location(), Some(path.as_str()));

    let page = alice.get(&path).await;
    page.assert_status(StatusCode::OK)
        .assert_contains("The second words.")
        .assert_contains("Revision 2");
    assert!(!page.body.contains("The first words."));
    assert_eq!(select(&page.body, "ul.tags a.tag"), ["circle", "talk"]);

    let old = alice.get(&format!("{path}/revisions/1")).await;
    old.assert_status(StatusCode::OK)
        .assert_contains("The first words.")
        .assert_contains("This is revision 1");
    assert_eq!(alice.base_revision(&path).await, "2");
}

#[tokio::test]
async fn history_lists_revisions_newest_first_with_their_summaries() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let path = alice.create_page("World Cafe", "v1\n", "").await;
    for n in 2..=4 {
        let base = alice.base_revision(&path).await;
        alice
            .edit_page(
                &path,
                &base,
                &format!("v{n}\n"),
                "",
                &format!("summary number {n}"),
            )
            .await
            .assert_status(StatusCode::SEE_OTHER);
    }
    let history = alice.get(&format!("{path}/history")).await;
    history.assert_status(StatusCode::OK);
    assert_eq!(history_numbers(&history.body), [4, 3, 2, 1]);
    let body = &history.body;
    let positions: Vec<usize> = (2..=4)
        .rev()
        .map(|n| {
            body.find(&format!("summary number {n}"))
                .expect("each summary is listed")
        })
        .collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "summaries not newest first: {positions:?}"
    );
    history.assert_contains("alice");
}

#[tokio::test]
async fn history_shows_fifty_revisions_a_page_and_pages_back_to_the_first() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let path = alice.create_page("Open Space", "line 1\n", "").await;
    let slug = Slug::parse("open-space").expect("a slug");
    let page = pages_db::find(&app.state.pool, &slug)
        .await
        .expect("query")
        .expect("the page");
    for n in 2..=120 {
        let text =
            PageText::parse(&format!("line {n}\n"), "", &format!("step {n}")).expect("valid text");
        let outcome = pages_db::save(&app.state.pool, page.id, n - 1, &text, None)
            .await
            .expect("save");
        assert!(
            matches!(outcome, pages_db::SaveOutcome::Saved { number, merged: false } if number == n),
            "{outcome:?}"
        );
    }

    let first = alice.get(&format!("{path}/history")).await;
    first.assert_status(StatusCode::OK);
    assert_eq!(
        history_numbers(&first.body),
        (71..=120).rev().collect::<Vec<_>>()
    );
    assert_eq!(
        attrs(&first.body, "nav.pager a", "href"),
        [format!("{path}/history?page=2")]
    );

    let second = alice.get(&format!("{path}/history?page=2")).await;
    assert_eq!(
        history_numbers(&second.body),
        (21..=70).rev().collect::<Vec<_>>()
    );
    assert_eq!(
        attrs(&second.body, "nav.pager a", "href"),
        [
            format!("{path}/history?page=1"),
            format!("{path}/history?page=3")
        ]
    );

    let last = alice.get(&format!("{path}/history?page=3")).await;
    assert_eq!(
        history_numbers(&last.body),
        (1..=20).rev().collect::<Vec<_>>()
    );
    assert_eq!(
        attrs(&last.body, "nav.pager a", "href"),
        [format!("{path}/history?page=2")]
    );
}

#[tokio::test]
async fn an_old_revision_shows_its_own_text_and_title() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let path = alice
        .create_page("Story Circle", "Sit in a circle and tell.\n", "circle")
        .await;
    let base = alice.base_revision(&path).await;
    alice
        .edit_page(&path, &base, "Stand in a line and tell.\n", "", "lines now")
        .await
        .assert_status(StatusCode::SEE_OTHER);

    let old = alice.get(&format!("{path}/revisions/1")).await;
    old.assert_status(StatusCode::OK);
    assert!(
        select(&old.body, ".prose")
            .concat()
            .contains("Sit in a circle and tell.")
    );
    assert_eq!(select(&old.body, "article ul.tags a.tag"), ["circle"]);
    old.assert_contains("The current revision is 2");

    alice
        .get(&format!("{path}/revisions/3"))
        .await
        .assert_status(StatusCode::NOT_FOUND);
    alice
        .get(&format!("{path}/revisions/one"))
        .await
        .assert_status(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_diff_marks_changed_words_inside_changed_lines_and_tag_changes() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let path = alice
        .create_page("Diff Me", "one\n\ntwo three four\n\nfive\n", "alpha, beta")
        .await;
    let base = alice.base_revision(&path).await;
    alice
        .edit_page(
            &path,
            &base,
            "one\n\ntwo seven four\n\nfive\n",
            "beta, gamma",
            "seven",
        )
        .await
        .assert_status(StatusCode::SEE_OTHER);

    let diff = alice.get(&format!("{path}/diff?from=1&to=2")).await;
    diff.assert_status(StatusCode::OK);
    let removed = select(&diff.body, ".diff tr.removed del");
    let added = select(&diff.body, ".diff tr.added ins");
    assert!(
        removed.iter().any(|w| w.trim() == "three"),
        "removed words: {removed:?}"
    );
    assert!(
        added.iter().any(|w| w.trim() == "seven"),
        "added words: {added:?}"
    );
    assert!(
        !removed
            .iter()
            .chain(&added)
            .any(|w| w.contains("two") || w.contains("four")),
        "unchanged words marked"
    );
    let added_line = select(&diff.body, ".diff tr.added td.text").concat();
    assert!(
        added_line.contains("two") && added_line.contains("four"),
        "{added_line}"
    );

    let tag_changes = select(&diff.body, ".tag-changes li");
    assert!(
        tag_changes.iter().any(|t| t.contains("Added tag: gamma")),
        "{tag_changes:?}"
    );
    assert!(
        tag_changes.iter().any(|t| t.contains("Removed tag: alpha")),
        "{tag_changes:?}"
    );
    assert!(
        !tag_changes.iter().any(|t| t.contains("beta")),
        "{tag_changes:?}"
    );
}

#[tokio::test]
async fn restoring_an_old_revision_makes_a_new_revision_with_its_content() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let path = alice
        .create_page("Restore Me", "The original text.\n", "first")
        .await;
    let base = alice.base_revision(&path).await;
    alice
        .edit_page(&path, &base, "Vandalised.\n", "second", "oops")
        .await
        .assert_status(StatusCode::SEE_OTHER);

    let restored = alice
        .post(&format!("{path}/revisions/1/restore"), &[])
        .await;
    restored.assert_status(StatusCode::SEE_OTHER);
    assert_eq!(
        restored.location(),
        Some(format!("{path}/history").as_str())
    );

    assert_eq!(source(&mut alice, &path).await, "The original text.\n");
    let page = alice.get(&path).await;
    page.assert_contains("Revision 3");
    assert_eq!(select(&page.body, "ul.tags a.tag"), ["first"]);
    let history = alice.get(&format!("{path}/history")).await;
    assert_eq!(history_numbers(&history.body), [3, 2, 1]);
    history.assert_contains("Restored revision 1");
    // Revision 2 is still there, untouched.
    alice
        .get(&format!("{path}/revisions/2"))
        .await
        .assert_contains("Vandalised.");
}

#[tokio::test]
async fn the_source_is_the_current_markdown_as_text() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let markdown =
        "## Brief Description\r\n\r\nA *short* note with <b>html</b> and [[Peer Assist]].\r\n";
    let path = alice.create_page("Source Check", markdown, "").await;
    let visitor = &mut app.client();
    let page = visitor.get(&format!("{path}/source")).await;
    page.assert_status(StatusCode::OK);
    assert_eq!(
        page.header("content-type"),
        Some("text/markdown; charset=utf-8")
    );
    assert_eq!(
        page.body,
        "## Brief Description\n\nA *short* note with <b>html</b> and [[Peer Assist]].\n"
    );
    visitor
        .get("/methods/no-such-page/source")
        .await
        .assert_status(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_unknown_page_is_a_404_that_offers_only_members_to_create_it() {
    let app = TestApp::new().await;
    let mut visitor = app.client();
    let missing = visitor.get("/methods/knowledge-fair").await;
    missing.assert_status(StatusCode::NOT_FOUND);
    assert!(
        attrs(&missing.body, "main a", "href")
            .iter()
            .all(|h| !h.starts_with("/methods/new")),
        "{}",
        missing.body
    );
    assert!(
        attrs(&missing.body, "main a", "href")
            .iter()
            .any(|h| h.starts_with("/signin?next="))
    );

    let mut alice = app.member("alice").await;
    let missing = alice.get("/methods/knowledge-fair").await;
    missing.assert_status(StatusCode::NOT_FOUND);
    let create: Vec<String> = attrs(&missing.body, "main a", "href")
        .into_iter()
        .filter(|h| h.starts_with("/methods/new"))
        .collect();
    assert_eq!(
        create,
        ["/methods/new?title=Knowledge%20fair"],
        "{}",
        missing.body
    );
    let form = alice.get(&create[0]).await;
    form.assert_status(StatusCode::OK);
    assert_eq!(
        attrs(&form.body, "input[name=title]", "value"),
        ["Knowledge fair"]
    );
}

#[tokio::test]
async fn a_missing_wiki_link_becomes_a_real_link_once_its_page_is_created() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let linker = alice
        .create_page(
            "Linker",
            "See [[Knowledge Bazaar]] and [[Peer Assist|assists]].\n",
            "",
        )
        .await;
    let page = alice.get(&linker).await;
    assert_eq!(
        attrs(&page.body, ".prose a.wikilink.missing", "href"),
        ["/methods/new?title=Knowledge+Bazaar"]
    );
    assert_eq!(
        attrs(&page.body, ".prose a.wikilink:not(.missing)", "href"),
        ["/methods/peer-assist"]
    );

    alice.create_page("Knowledge Bazaar", "Stalls.\n", "").await;

    let page = alice.get(&linker).await;
    page.assert_contains("Revision 1");
    assert!(
        attrs(&page.body, ".prose a.missing", "href").is_empty(),
        "{}",
        page.body
    );
    let links = attrs(&page.body, ".prose a.wikilink", "href");
    assert_eq!(links, ["/methods/knowledge-bazaar", "/methods/peer-assist"]);
    let target = alice.get("/methods/knowledge-bazaar").await;
    assert_eq!(
        select(&target.body, "section[aria-labelledby=backlinks-heading] a"),
        ["Linker"]
    );
}

#[tokio::test]
async fn revisions_cannot_be_updated_or_deleted() {
    let app = TestApp::new().await;
    let pool = &app.state.pool;
    let count = || async {
        cafe::on_db!(pool, |pool| sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM revisions"
        )
        .fetch_one(pool)
        .await)
    };
    let before = count().await.expect("count");
    assert!(before > 0, "the seed has revisions");
    let update = cafe::on_db!(pool, |pool| sqlx::query(
        "UPDATE revisions SET body = 'rewritten history'"
    )
    .execute(pool)
    .await
    .map(|done| done.rows_affected()));
    assert!(update.is_err(), "an UPDATE of revisions succeeded");
    let delete = cafe::on_db!(pool, |pool| sqlx::query("DELETE FROM revisions")
        .execute(pool)
        .await
        .map(|done| done.rows_affected()));
    assert!(delete.is_err(), "a DELETE of revisions succeeded");
    assert_eq!(count().await.expect("count"), before);
    let rewritten = cafe::on_db!(pool, |pool| sqlx::query_scalar::<_, i64>(
        "SELECT count(*) FROM revisions WHERE body = 'rewritten history'",
    )
    .fetch_one(pool)
    .await)
    .expect("count");
    assert_eq!(rewritten, 0);
}

const BASE_TEXT: &str = "## Brief Description\n\nFirst paragraph.\n\n## Full Description\n\nMiddle paragraph.\n\n## More Information\n\nLast paragraph.\n";

#[tokio::test]
async fn two_edits_from_the_same_base_that_do_not_overlap_are_merged() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let mut bob = app.member("bob").await;
    let path = alice.create_page("Merge Me", BASE_TEXT, "start").await;
    let base = alice.base_revision(&path).await;
    assert_eq!(bob.base_revision(&path).await, base);

    let alices = BASE_TEXT.replace("First paragraph.", "First paragraph, by Alice.");
    alice
        .edit_page(&path, &base, &alices, "start, alice", "alice's change")
        .await
        .assert_status(StatusCode::SEE_OTHER);
    let bobs = BASE_TEXT.replace("Last paragraph.", "Last paragraph, by Bob.");
    let saved = bob
        .edit_page(&path, &base, &bobs, "start, bob", "bob's change")
        .await;
    saved.assert_status(StatusCode::SEE_OTHER);
    assert_eq!(saved.location(), Some(path.as_str()));

    let text = source(&mut alice, &path).await;
    assert!(text.contains("First paragraph, by Alice."), "{text}");
    assert!(text.contains("Last paragraph, by Bob."), "{text}");
    assert!(text.contains("Middle paragraph."), "{text}");
    let page = alice.get(&path).await;
    page.assert_contains("Revision 3");
    assert_eq!(
        select(&page.body, "ul.tags a.tag"),
        ["start", "alice", "bob"]
    );
}

#[tokio::test]
async fn overlapping_edits_from_the_same_base_get_a_409_that_keeps_both_texts() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let mut bob = app.member("bob").await;
    let path = alice.create_page("Clash", BASE_TEXT, "").await;
    let base = alice.base_revision(&path).await;

    let alices = BASE_TEXT.replace("Middle paragraph.", "Middle paragraph as Alice sees it.");
    alice
        .edit_page(&path, &base, &alices, "", "alice")
        .await
        .assert_status(StatusCode::SEE_OTHER);
    let bobs = BASE_TEXT.replace("Middle paragraph.", "Middle paragraph as Bob & co see it.");
    let conflict = bob
        .edit_page(&path, &base, &bobs, "bobs-tag", "bob's summary")
        .await;
    conflict.assert_status(StatusCode::CONFLICT);

    let mine = select(&conflict.body, "textarea[name=body]").concat();
    assert_eq!(mine, bobs, "the user's text is kept as typed");
    let current = select(&conflict.body, "textarea[readonly]").concat();
    assert_eq!(current, alices, "the current text is shown");
    assert_eq!(
        attrs(&conflict.body, "input[name=tags]", "value"),
        ["bobs-tag"]
    );
    assert_eq!(
        attrs(&conflict.body, "input[name=summary]", "value"),
        ["bob's summary"]
    );
    assert_eq!(
        attrs(&conflict.body, "input[name=base_revision]", "value"),
        ["2"]
    );

    assert_eq!(
        source(&mut alice, &path).await,
        alices,
        "nothing of bob's was saved"
    );
    let history = alice.get(&format!("{path}/history")).await;
    assert_eq!(history_numbers(&history.body), [2, 1]);

    // Saving again from the conflict page's base goes through.
    let again = bob
        .edit_page(&path, "2", &bobs, "bobs-tag", "bob again")
        .await;
    again.assert_status(StatusCode::SEE_OTHER);
    assert_eq!(source(&mut alice, &path).await, bobs);
}

/// One of the concurrent saves: who sent it, the line it adds, what came back.
struct Attempt {
    line: String,
    status: StatusCode,
    body: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_saves_from_one_base_lose_no_text() {
    let app = TestApp::new().await;
    let mut owner = app.member("owner").await;
    let base_lines: Vec<String> = (0..30)
        .map(|n| format!("Paragraph {n} of the base text."))
        .collect();
    let base_text = format!("{}\n", base_lines.join("\n\n"));
    let path = owner.create_page("Busy Page", &base_text, "").await;
    let base = owner.base_revision(&path).await;

    let mut editors = Vec::new();
    for name in ["ann", "ben", "cat", "dan", "eve"] {
        let mut client = app.member(name).await;
        let token = client.csrf().await;
        editors.push((client, token));
    }

    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..20usize {
        let (client, token) = editors[i % editors.len()].clone();
        let line = format!("Addition number {i} from a concurrent editor.");
        let mut lines = base_lines.clone();
        if i < 10 {
            // Each in its own place, well apart from the others.
            lines.insert(i * 3 + 1, line.clone());
        } else {
            // All at the very end: these collide with each other.
            lines.push(line.clone());
        }
        let body = format!("{}\n", lines.join("\n\n"));
        let (path, base) = (path.clone(), base.clone());
        tasks.spawn(async move {
            let mut client: Client = client;
            let summary = format!("save {i}");
            let fields = encode(&[
                ("csrf_token", token.as_str()),
                ("base_revision", base.as_str()),
                ("body", body.as_str()),
                ("tags", ""),
                ("summary", summary.as_str()),
            ]);
            let page: Page = client.post_raw(&format!("{path}/edit"), fields).await;
            Attempt {
                line,
                status: page.status,
                body: page.body,
            }
        });
    }
    let attempts: Vec<Attempt> = tasks.join_all().await;

    let final_text = source(&mut owner, &path).await;
    let mut saved = 0;
    for attempt in &attempts {
        match attempt.status {
            StatusCode::SEE_OTHER => {
                saved += 1;
                assert!(
                    final_text.contains(&attempt.line),
                    "an acknowledged save was lost: {:?}\n{final_text}",
                    attempt.line
                );
            }
            StatusCode::CONFLICT => {
                let kept = select(&attempt.body, "textarea[name=body]").concat();
                assert!(
                    kept.contains(&attempt.line),
                    "a 409 did not give back the user's text: {:?}",
                    attempt.line
                );
            }
            other => panic!(
                "unexpected {other} for {:?}:\n{}",
                attempt.line, attempt.body
            ),
        }
    }
    assert!(
        saved >= 10,
        "saves in separate places should all merge; only {saved} of 20 were saved"
    );
    assert!(
        saved < 20,
        "twenty additions at the same place cannot all merge silently"
    );
    for line in &base_lines {
        assert!(final_text.contains(line.as_str()), "base text lost: {line}");
    }
    let history = owner.get(&format!("{path}/history")).await;
    assert_eq!(
        history_numbers(&history.body).len(),
        saved + 1,
        "one revision per acknowledged save"
    );
}
