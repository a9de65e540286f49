//! Cafe Tags and the CCASS indicator table through the real router and the
//! `cafe indicators import` command: tag normalisation, the tag index and
//! coverage, tag pages, AND filtering with facet counts, CSV imports, admin
//! edits of the table, the tag box's vocabulary, and hostile tags.

use crate::support;
use crate::support::attrs as attr;
use crate::support::inert::{assert_inert, collapse, fit, payloads, texts};
use crate::support::{Client, TestApp, count};
use axum::http::StatusCode;
use cafe::tags::{Tag, TagList};
use clap::Parser as _;
use scraper::{Html, Selector};

/// Titles of the methods listed (on `/methods` or a tag page), in order.
fn listed(html: &str) -> Vec<String> {
    texts(html, "ul.method-list a.method-title")
}

/// The facet counts offered beside a filtered list: (tag, count); an
/// indicator facet's name after “ · ” is left out.
fn facets(html: &str) -> Vec<(String, usize)> {
    let doc = Html::parse_document(html);
    let item = Selector::parse("aside.facets li").expect("selector");
    let link = Selector::parse("a").expect("selector");
    let count = Selector::parse(".count").expect("selector");
    doc.select(&item)
        .map(|li| {
            let tag = li
                .select(&link)
                .next()
                .map(|a| collapse(&a.text().collect::<String>()))
                .map(|text| text.split(" · ").next().unwrap_or_default().to_owned())
                .unwrap_or_default();
            let n = li
                .select(&count)
                .next()
                .map(|c| c.text().collect::<String>())
                .unwrap_or_default();
            let n = n
                .trim()
                .trim_start_matches('(')
                .trim_end_matches(')')
                .parse()
                .expect("a facet count");
            (tag, n)
        })
        .collect()
}

/// The tags shown on a method page, as their text (tag, then the indicator's name).
fn page_tags(html: &str) -> Vec<String> {
    texts(html, "main ul.tags a.tag")
}

async fn new_page(client: &mut Client, title: &str, tags: &str) -> String {
    client
        .create_page(title, &format!("## Brief Description\n\n{title}.\n"), tags)
        .await
}

/// Runs `cafe indicators import FILE --db DB` as an operator would.
async fn import_csv(app: &TestApp, csv: &str) -> anyhow::Result<()> {
    let file = app
        .dir
        .path()
        .join(format!("indicators-{}.csv", rand_suffix()));
    std::fs::write(&file, csv).expect("write the CSV");
    let cli = cafe::config::Cli::try_parse_from([
        "cafe",
        "indicators",
        "import",
        file.to_str().expect("utf-8"),
        "--db",
        &app.db_path(),
    ])
    .expect("the command line parses");
    cafe::cli::run(cli).await
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

/// The rows of the coverage tables on `/indicators`: (code, name, methods, stories, is a gap).
fn coverage(html: &str) -> Vec<(String, String, String, String, bool)> {
    let doc = Html::parse_document(html);
    let row = Selector::parse("table.coverage tbody tr").expect("selector");
    let th = Selector::parse("th").expect("selector");
    let td = Selector::parse("td").expect("selector");
    doc.select(&row)
        .map(|tr| {
            let cells: Vec<String> = tr
                .select(&td)
                .map(|c| collapse(&c.text().collect::<String>()))
                .collect();
            let code = tr
                .select(&th)
                .next()
                .map(|c| collapse(&c.text().collect::<String>()))
                .unwrap_or_default();
            let gap = tr
                .value()
                .attr("class")
                .is_some_and(|c| c.split(' ').any(|c| c == "gap"));
            (
                code,
                cells[0].clone(),
                cells[2].clone(),
                cells[3].clone(),
                gap,
            )
        })
        .collect()
}

fn coverage_of(html: &str, code: &str) -> (String, String, String, String, bool) {
    coverage(html)
        .into_iter()
        .find(|row| row.0 == code)
        .unwrap_or_else(|| panic!("no row for {code} in:\n{html}"))
}

/// The tag index: (section heading, [(tag, count text)]) in page order.
fn tag_index(html: &str) -> Vec<(String, Vec<(String, String)>)> {
    let doc = Html::parse_document(html);
    let section = Selector::parse("section.tag-group").expect("selector");
    let heading = Selector::parse("h2").expect("selector");
    let item = Selector::parse("li").expect("selector");
    let tag = Selector::parse("a.tag").expect("selector");
    let count = Selector::parse(".count").expect("selector");
    doc.select(&section)
        .map(|s| {
            let name = s
                .select(&heading)
                .next()
                .map(|h| collapse(&h.text().collect::<String>()))
                .unwrap_or_default();
            let items = s
                .select(&item)
                .map(|li| {
                    let t = li
                        .select(&tag)
                        .next()
                        .map(|a| collapse(&a.text().collect::<String>()))
                        .unwrap_or_default();
                    let n = li
                        .select(&count)
                        .next()
                        .map(|c| collapse(&c.text().collect::<String>()))
                        .unwrap_or_default();
                    (t, n)
                })
                .collect();
            (name, items)
        })
        .collect()
}

fn index_count(index: &[(String, Vec<(String, String)>)], tag: &str) -> String {
    index
        .iter()
        .flat_map(|(_, items)| items.iter())
        .find(|(t, _)| t == tag)
        .map(|(_, n)| n.clone())
        .unwrap_or_else(|| panic!("{tag} is not on /tags: {index:?}"))
}

// ------------------------------------------------------------ the tag box

#[tokio::test]
async fn tags_typed_in_the_tag_box_are_trimmed_lower_cased_collapsed_and_deduplicated() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let path = new_page(
        &mut alice,
        "Knowledge Fair",
        "  Peer   Learning , LKM-1, peer learning,, ,GENDER ",
    )
    .await;

    let page = alice.get(&path).await;
    assert_eq!(
        page_tags(&page.body),
        [
            "peer learning",
            "lkm-1 · Learning agenda in place",
            "gender"
        ]
    );
    assert_eq!(
        attr(&page.body, "main ul.tags a.tag", "href"),
        ["/tags/peer%20learning", "/tags/lkm-1", "/tags/gender"]
    );
    let form = alice.get(&format!("{path}/edit")).await;
    assert_eq!(
        attr(&form.body, "input[name=tags]", "value"),
        ["peer learning, lkm-1, gender"]
    );
    let stored = cafe::on_db!(&app.state.pool, |pool| sqlx::query_scalar::<_, String>("SELECT r.tags FROM revisions r JOIN pages p ON p.id = r.page_id WHERE p.slug = 'knowledge-fair'")
        .fetch_one(pool).await)
        .expect("the revision");
    assert_eq!(
        stored, "peer learning,lkm-1,gender",
        "saved with the revision"
    );
}

#[tokio::test]
async fn more_than_twenty_tags_is_refused_and_nothing_is_saved() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let twenty_one: Vec<String> = (1..=21).map(|i| format!("tag {i}")).collect();
    let fields = [
        ("title", "Over-tagged"),
        ("body", "Text."),
        ("tags", &twenty_one.join(", ")),
        ("summary", ""),
    ];
    let refused = alice.post("/methods", &fields).await;
    refused.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        texts(&refused.body, ".form-errors")
            .concat()
            .contains("at most 20 tags; this one has 21"),
        "{}",
        refused.body
    );
    assert_eq!(
        attr(&refused.body, "input[name=tags]", "value"),
        [twenty_one.join(", ")],
        "the tags are kept as typed"
    );
    assert_eq!(
        attr(&refused.body, "input[name=title]", "value"),
        ["Over-tagged"]
    );
    alice
        .get("/methods/over-tagged")
        .await
        .assert_status(StatusCode::NOT_FOUND);

    // Duplicates do not count: 21 entries that are 20 tags are fine.
    let with_duplicate = format!("{}, TAG 1", twenty_one[..20].join(", "));
    let path = new_page(&mut alice, "Well tagged", &with_duplicate).await;
    assert_eq!(page_tags(&alice.get(&path).await.body).len(), 20);

    let base = alice.base_revision(&path).await;
    let refused = alice
        .edit_page(
            &path,
            &base,
            "New text.\n",
            &twenty_one.join(","),
            "more tags",
        )
        .await;
    refused.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        alice.base_revision(&path).await,
        base,
        "no revision was made"
    );
}

#[tokio::test]
async fn a_tag_longer_than_forty_characters_is_refused() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let long = "a".repeat(41);
    let fields = [
        ("title", "Long tag"),
        ("body", "Text."),
        ("tags", &format!("fine, {long}")),
        ("summary", ""),
    ];
    let refused = alice.post("/methods", &fields).await;
    refused.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        texts(&refused.body, ".form-errors")
            .concat()
            .contains("longer than 40 characters"),
        "{}",
        refused.body
    );
    alice
        .get("/methods/long-tag")
        .await
        .assert_status(StatusCode::NOT_FOUND);
    let path = new_page(&mut alice, "Forty", &"b".repeat(40)).await;
    assert_eq!(page_tags(&alice.get(&path).await.body), ["b".repeat(40)]);
}

#[tokio::test]
async fn the_edit_form_offers_the_tag_vocabulary_and_links_to_cafe_tags() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    for form_path in ["/methods/peer-assist/edit", "/methods/new"] {
        let form = alice.get(form_path).await;
        form.assert_status(StatusCode::OK);
        assert_eq!(
            attr(&form.body, "input[name=tags]", "list"),
            ["tag-vocabulary"]
        );
        let offered = attr(&form.body, "datalist#tag-vocabulary option", "value");
        for tag in [
            "lkm-1",
            "lkm-4",
            "me-3",
            "pc-3",
            "gi-2",
            "learning",
            "meetings",
            "facilitation",
        ] {
            assert!(
                offered.contains(&tag.to_owned()),
                "{tag} is not offered: {offered:?}"
            );
        }
        assert_eq!(offered.iter().filter(|t| *t == "lkm-1").count(), 1);
        let labels = texts(&form.body, "datalist#tag-vocabulary option");
        assert!(
            labels.contains(&"LKM-1 — Learning agenda in place".to_owned()),
            "{labels:?}"
        );
        assert!(
            attr(&form.body, "main a", "href").contains(&"/tags".to_owned()),
            "the form links to Cafe Tags"
        );
    }
}

#[tokio::test]
async fn tag_changes_show_in_the_diff_and_history_and_old_revisions_keep_their_tags() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let path = new_page(&mut alice, "Retro", "alpha, beta").await;
    let base = alice.base_revision(&path).await;
    alice
        .edit_page(
            &path,
            &base,
            "## Brief Description\n\nRetro.\n",
            "beta, gamma",
            "retagged",
        )
        .await
        .assert_status(StatusCode::SEE_OTHER);

    let diff = alice.get(&format!("{path}/diff?from=1&to=2")).await;
    diff.assert_status(StatusCode::OK);
    assert_eq!(
        texts(&diff.body, ".tag-changes li"),
        ["Added tag: gamma", "Removed tag: alpha"]
    );
    let history = alice.get(&format!("{path}/history")).await;
    assert_eq!(
        texts(&history.body, ".tag-change"),
        ["+gamma", "−alpha", "+alpha", "+beta"],
        "history shows what each revision did to the tags, newest first"
    );
    let old = alice.get(&format!("{path}/revisions/1")).await;
    assert_eq!(page_tags(&old.body), ["alpha", "beta"]);
    assert_eq!(page_tags(&alice.get(&path).await.body), ["beta", "gamma"]);
    assert!(
        listed(&alice.get("/tags/alpha").await.body).is_empty(),
        "only current tags count"
    );
}

// ------------------------------------------------------------ kept counts

/// The tag counts that the database's triggers keep (`page_tags` per tag),
/// read as the tag index reads them.
async fn page_counts(pool: &cafe::db::Db) -> (Vec<(String, i64)>, Vec<(String, i64)>) {
    let kept = cafe::tags::db::tag_counts(pool).await.expect("kept");
    let fresh: Vec<(String, i64)> = cafe::on_db!(pool, |pool| sqlx::query_as(
        "SELECT tag, count(*) FROM page_tags GROUP BY tag ORDER BY tag"
    )
    .fetch_all(pool)
    .await)
    .expect("fresh");
    (kept, fresh)
}

/// The counts kept by triggers equal a fresh count after creates and edits.
#[tokio::test]
async fn tag_counts_follow_page_saves() {
    use cafe::pages::{PageText, db as pages};
    let app = TestApp::new().await;
    let pool = &app.state.pool;
    let text = PageText::parse("Body\n", "alpha, beta", "").expect("text");
    let slug = pages::create(pool, "Counted", &text, None)
        .await
        .expect("create");
    let id = page_id(pool, &slug).await;
    let edit = PageText::parse("Body\n", "beta, gamma", "").expect("text");
    pages::save(pool, id, 1, &edit, None).await.expect("save");
    let (kept, fresh) = page_counts(pool).await;
    assert_eq!(kept, fresh);
    assert!(!kept.iter().any(|(tag, _)| tag == "alpha"), "{kept:?}");
    assert!(kept.contains(&("gamma".to_owned(), 1)), "{kept:?}");
}

async fn page_id(pool: &cafe::db::Db, slug: &cafe::pages::Slug) -> i64 {
    cafe::pages::db::find(pool, slug)
        .await
        .expect("find the page")
        .expect("the page")
        .id
}

/// The story counts kept by triggers (`tag_story_counts`, behind the tag
/// index's story column) equal a fresh count of visible stories per page
/// tag after stories are told, hidden and shown again, and their pages'
/// tags change.
#[tokio::test]
async fn tag_story_counts_follow_stories_and_page_tags() {
    use cafe::pages::{PageText, db as pages};
    use cafe::stories::{StoryText, db as stories};
    let app = TestApp::new().await;
    let pool = &app.state.pool;
    app.member("teller").await;
    let user: i64 = cafe::on_db!(pool, |pool| sqlx::query_scalar(
        "SELECT id FROM users WHERE username = 'teller'"
    )
    .fetch_one(pool)
    .await)
    .expect("user");
    let page = |tags: &str| PageText::parse("Body\n", tags, "").expect("text");
    let mut ids = Vec::new();
    for (title, tags) in [
        ("One", "alpha, beta"),
        ("Two", "beta, lkm-1"),
        ("Three", ""),
    ] {
        let slug = pages::create(pool, title, &page(tags), None)
            .await
            .expect("create");
        ids.push(page_id(pool, &slug).await);
    }
    let story = StoryText::parse("Told", "It went well.", "success", "").expect("story");
    let mut told = Vec::new();
    for &page_id in &[ids[0], ids[0], ids[1], ids[2], ids[1]] {
        let id = stories::create(pool, page_id, user, &story)
            .await
            .expect("story");
        told.push((page_id, id));
    }
    let fresh = || async {
        let mut counts = stories::count_by_page_tag(pool).await.expect("fresh");
        counts.sort();
        counts
    };
    let kept = || async {
        cafe::on_db!(pool, |pool| sqlx::query_as::<_, (String, i64)>(
            "SELECT tag, stories FROM tag_story_counts WHERE stories > 0 ORDER BY tag",
        )
        .fetch_all(pool)
        .await)
        .expect("kept")
    };
    let counts = |pairs: &[(&str, i64)]| -> Vec<(String, i64)> {
        pairs.iter().map(|&(tag, n)| (tag.to_owned(), n)).collect()
    };
    assert_eq!(kept().await, fresh().await);
    assert_eq!(
        kept().await,
        counts(&[("alpha", 2), ("beta", 4), ("lkm-1", 2)])
    );

    let hide = |(page_id, id): (i64, i64), hidden: bool| async move {
        let found = stories::find(pool, page_id, id)
            .await
            .expect("find")
            .expect("story");
        stories::set_story_hidden(pool, &found, hidden, user)
            .await
            .expect("hide");
    };
    hide(told[0], true).await;
    hide(told[0], true).await;
    hide(told[2], true).await;
    assert_eq!(kept().await, fresh().await);
    pages::save(pool, ids[0], 1, &page("beta, gamma, lkm-1"), None)
        .await
        .expect("save");
    pages::save(pool, ids[2], 1, &page("alpha"), None)
        .await
        .expect("save");
    assert_eq!(kept().await, fresh().await);
    hide(told[0], false).await;
    hide(told[2], false).await;
    hide(told[4], true).await;
    pages::save(pool, ids[1], 1, &page(""), None)
        .await
        .expect("save");
    assert_eq!(kept().await, fresh().await);
    assert_eq!(
        kept().await,
        counts(&[("alpha", 1), ("beta", 2), ("gamma", 2), ("lkm-1", 2)])
    );
    assert_eq!(
        count(
            pool,
            "SELECT count(*) FROM tag_story_counts WHERE stories <= 0"
        )
        .await,
        0,
        "tags without stories leave no row"
    );
}

// ------------------------------------------------------------ /tags

#[tokio::test]
async fn the_tag_index_groups_indicator_tags_by_group_then_free_tags_with_page_counts() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let before = tag_index(&alice.get("/tags").await.body);
    let headings: Vec<&str> = before.iter().map(|(h, _)| h.as_str()).collect();
    assert_eq!(
        headings,
        [
            "Gender & Inclusion",
            "Learning & Knowledge Management",
            "Monitoring & Evaluation",
            "Partnership & Collaboration",
            "Other tags"
        ]
    );
    let lkm: Vec<&str> = before[1].1.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        lkm,
        ["lkm-1", "lkm-2", "lkm-3", "lkm-4"],
        "by sort order within the group"
    );
    assert_eq!(index_count(&before, "lkm-1"), "(2 pages)");
    assert_eq!(index_count(&before, "pc-3"), "(0 pages)");
    assert_eq!(index_count(&before, "meetings"), "(3)");

    new_page(&mut alice, "Knowledge Fair", "lkm-1, pc-3, zeta practice").await;
    new_page(&mut alice, "Story Circle", "LKM-1, zeta practice, meetings").await;
    let page = alice.get("/tags").await;
    let after = tag_index(&page.body);
    assert_eq!(index_count(&after, "lkm-1"), "(4 pages)");
    assert_eq!(index_count(&after, "pc-3"), "(1 page)");
    assert_eq!(index_count(&after, "meetings"), "(4)");
    let free = &after.last().expect("the free tags").1;
    assert!(
        free.contains(&("zeta practice".to_owned(), "(2)".to_owned())),
        "{free:?}"
    );
    assert!(
        free.iter().all(|(t, _)| !t.starts_with("lkm-")),
        "indicator tags are not repeated as free tags"
    );
    assert!(attr(&page.body, "a.tag", "href").contains(&"/tags/zeta%20practice".to_owned()));
    let names = texts(&page.body, "section.tag-group li strong");
    assert!(
        names.contains(&"Learning agenda in place".to_owned()),
        "indicators are shown with their names"
    );

    // Every count agrees with the pages its tag page lists.
    for (_, items) in &after {
        for (tag, shown) in items {
            let listed_there = listed(
                &alice
                    .get(&format!("/tags/{}", tag.replace(' ', "%20")))
                    .await
                    .body,
            )
            .len();
            let number: usize = shown
                .trim_matches(['(', ')'])
                .split(' ')
                .next()
                .and_then(|n| n.parse().ok())
                .expect("a count");
            assert_eq!(number, listed_there, "the count of {tag}");
        }
    }
}

#[tokio::test]
async fn the_coverage_view_counts_methods_and_stories_per_indicator_and_shows_the_gaps() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let mut root = app.admin("root").await;
    let before = alice.get("/indicators").await;
    before.assert_status(StatusCode::OK);
    assert_eq!(coverage(&before.body).len(), 12, "the sample table");
    assert_eq!(
        coverage_of(&before.body, "PC-3"),
        (
            "PC-3".into(),
            "Partnership quality reviewed".into(),
            "0 gap".into(),
            "0".into(),
            true
        )
    );
    assert_eq!(coverage_of(&before.body, "LKM-1").2, "2");
    assert!(
        texts(&before.body, "main .notice")
            .concat()
            .contains("sample"),
        "the table is marked as a sample"
    );

    let path = new_page(&mut alice, "Partnership Health Check", "pc-3, lkm-1").await;
    let mut threads = Vec::new();
    for (title, outcome) in [
        ("Went well", "success"),
        ("Partner left", "failure"),
        ("Spam", "mixed"),
    ] {
        let told = alice
            .post(
                &format!("{path}/stories"),
                &[
                    ("title", title),
                    ("body", "Text."),
                    ("outcome", outcome),
                    ("location", ""),
                ],
            )
            .await;
        threads.push(told.location().expect("a thread").to_owned());
    }
    root.post(&format!("{}/hide", threads[2]), &[("hidden", "1")])
        .await
        .assert_status(StatusCode::SEE_OTHER);

    let after = alice.get("/indicators").await;
    assert_eq!(
        coverage_of(&after.body, "PC-3"),
        (
            "PC-3".into(),
            "Partnership quality reviewed".into(),
            "1".into(),
            "2".into(),
            false
        )
    );
    assert_eq!(coverage_of(&after.body, "LKM-1").2, "3");
    assert_eq!(
        coverage_of(&after.body, "LKM-1").3,
        "2",
        "hidden stories do not count"
    );
    assert!(coverage_of(&after.body, "GI-1").2 == "1" && !coverage_of(&after.body, "GI-1").4);
    assert_eq!(
        attr(&after.body, "table.coverage th a", "href")
            .first()
            .map(String::as_str),
        Some("/tags/gi-1")
    );
}

// ------------------------------------------------------------ /tags/{tag}

#[tokio::test]
async fn a_tag_page_takes_the_tag_percent_encoded_including_a_space() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let path = new_page(
        &mut alice,
        "Knowledge Cafe",
        "Peer Learning, évaluation rapide, m&e / review, lkm-2",
    )
    .await;
    let page = alice.get(&path).await;
    let hrefs = attr(&page.body, "main ul.tags a.tag", "href");
    assert_eq!(
        hrefs,
        [
            "/tags/peer%20learning",
            "/tags/%C3%A9valuation%20rapide",
            "/tags/m%26e%20%2F%20review",
            "/tags/lkm-2"
        ]
    );
    for href in &hrefs {
        let tag_page = alice.get(href).await;
        tag_page.assert_status(StatusCode::OK);
        assert!(
            listed(&tag_page.body).contains(&"Knowledge Cafe".to_owned()),
            "{href} lists the page"
        );
    }
    let spaced = alice.get("/tags/peer%20learning").await;
    assert_eq!(texts(&spaced.body, "main h1"), ["Tag: peer learning"]);
    assert_eq!(listed(&spaced.body), ["Knowledge Cafe"]);
    assert_eq!(
        listed(&alice.get("/tags/Peer%20%20Learning").await.body),
        ["Knowledge Cafe"],
        "normalised like the tag box"
    );
    let indicator = alice.get("/tags/lkm-2").await;
    assert!(
        texts(&indicator.body, "main .notice")
            .concat()
            .starts_with("CCASS indicator LKM-2: Knowledge shared across projects")
    );
    assert_eq!(
        listed(&indicator.body),
        ["After-Action Review", "Knowledge Cafe", "Peer Assist"]
    );
    assert_eq!(
        attr(&indicator.body, "main a", "href")
            .iter()
            .filter(|h| *h == "/methods?tag=lkm-2")
            .count(),
        1,
        "a link to narrow further"
    );
}

// ------------------------------------------------------------ filtering

/// Eight pages with chosen tags (none of which the seeded pages carry).
async fn fixture(app: &TestApp) -> Client {
    let mut alice = app.member("alice").await;
    for (title, tags) in [
        ("Fixture One", "alpha, beta, gamma"),
        ("Fixture Two", "alpha, beta"),
        ("Fixture Three", "alpha, beta, gamma, delta"),
        ("Fixture Four", "alpha, gamma"),
        ("Fixture Five", "beta, gamma, delta"),
        ("Fixture Six", "alpha, beta, gamma, field work"),
        ("Fixture Seven", "delta"),
        ("Fixture Eight", "alpha, beta, delta, field work"),
    ] {
        new_page(&mut alice, title, tags).await;
    }
    alice
}

fn pairs(items: &[(&str, usize)]) -> Vec<(String, usize)> {
    items.iter().map(|(t, n)| ((*t).to_owned(), *n)).collect()
}

#[tokio::test]
async fn filtering_by_two_and_three_tags_returns_exactly_the_pages_carrying_all_of_them_with_facet_counts()
 {
    let app = TestApp::new().await;
    let mut alice = fixture(&app).await;

    let two = alice.get("/methods?tag=alpha&tag=beta").await;
    two.assert_status(StatusCode::OK);
    assert_eq!(
        listed(&two.body),
        [
            "Fixture Eight",
            "Fixture One",
            "Fixture Six",
            "Fixture Three",
            "Fixture Two"
        ]
    );
    assert_eq!(
        facets(&two.body),
        pairs(&[("gamma", 3), ("delta", 2), ("field work", 2)])
    );
    assert_eq!(texts(&two.body, "ul.tags.selected .tag"), ["alpha", "beta"]);
    assert!(
        texts(&two.body, "main p")
            .concat()
            .contains("5 methods have all of these tags:")
    );

    let three = alice.get("/methods?tag=alpha&tag=beta&tag=gamma").await;
    assert_eq!(
        listed(&three.body),
        ["Fixture One", "Fixture Six", "Fixture Three"]
    );
    assert_eq!(
        facets(&three.body),
        pairs(&[("delta", 1), ("field work", 1)])
    );

    let other_three = alice.get("/methods?tag=beta&tag=gamma&tag=delta").await;
    assert_eq!(listed(&other_three.body), ["Fixture Five", "Fixture Three"]);
    assert_eq!(facets(&other_three.body), pairs(&[("alpha", 1)]));

    let four = alice
        .get("/methods?tag=alpha&tag=beta&tag=gamma&tag=delta")
        .await;
    assert_eq!(listed(&four.body), ["Fixture Three"]);

    let spaced = alice.get("/methods?tag=alpha&tag=Field%20%20Work").await;
    assert_eq!(
        listed(&spaced.body),
        ["Fixture Eight", "Fixture Six"],
        "query tags are normalised like the tag box"
    );
    let plus = alice.get("/methods?tag=field+work&tag=delta").await;
    assert_eq!(listed(&plus.body), ["Fixture Eight"]);

    let one = alice.get("/methods?tag=delta").await;
    assert_eq!(
        listed(&one.body),
        [
            "Fixture Eight",
            "Fixture Five",
            "Fixture Seven",
            "Fixture Three"
        ]
    );
    assert_eq!(
        facets(&one.body),
        pairs(&[("beta", 3), ("alpha", 2), ("gamma", 2), ("field work", 1)]),
        "most frequent first"
    );
}

#[tokio::test]
async fn the_facet_links_add_or_remove_one_tag_and_are_plain_bookmarkable_urls() {
    let app = TestApp::new().await;
    let mut alice = fixture(&app).await;
    let two = alice.get("/methods?tag=alpha&tag=beta").await;
    let doc = Html::parse_document(&two.body);
    let gamma = Selector::parse("aside.facets li a").expect("selector");
    let add = doc
        .select(&gamma)
        .find(|a| a.text().collect::<String>() == "gamma")
        .and_then(|a| a.value().attr("href"))
        .expect("a facet link for gamma")
        .to_owned();
    assert_eq!(add, "/methods?tag=alpha&tag=beta&tag=gamma");
    let three = alice.get(&add).await;
    assert_eq!(
        listed(&three.body),
        ["Fixture One", "Fixture Six", "Fixture Three"]
    );

    let removes = attr(&three.body, "ul.tags.selected a", "href");
    assert_eq!(
        removes,
        [
            "/methods?tag=beta&tag=gamma",
            "/methods?tag=alpha&tag=gamma",
            "/methods?tag=alpha&tag=beta"
        ]
    );
    let without_beta = alice.get(&removes[1]).await;
    assert_eq!(
        listed(&without_beta.body),
        [
            "Fixture Four",
            "Fixture One",
            "Fixture Six",
            "Fixture Three"
        ]
    );

    let field = alice.get("/methods?tag=delta").await;
    let links = attr(&field.body, "aside.facets a", "href");
    assert!(
        links.contains(&"/methods?tag=delta&tag=field+work".to_owned()),
        "{links:?}"
    );
    assert_eq!(
        listed(&alice.get("/methods?tag=delta&tag=field+work").await.body),
        ["Fixture Eight"]
    );
}

#[tokio::test]
async fn an_unknown_tag_gives_an_empty_list_not_an_error() {
    let app = TestApp::new().await;
    let mut alice = fixture(&app).await;
    let mut visitor = app.client();
    for query in [
        "/methods?tag=no-such-tag",
        "/methods?tag=alpha&tag=no-such-tag",
        "/methods?tag=alpha&tag=beta&tag=gamma&tag=field%20work&tag=delta",
        &format!("/methods?tag={}", "x".repeat(41)),
        "/methods?tag=a%2Cb",
        &format!(
            "/methods?{}",
            (1..=21)
                .map(|i| format!("tag=t{i}"))
                .collect::<Vec<_>>()
                .join("&")
        ),
    ] {
        for client in [&mut alice, &mut visitor] {
            let page = client.get(query).await;
            page.assert_status(StatusCode::OK);
            assert!(
                listed(&page.body).is_empty(),
                "{query} lists {:?}",
                listed(&page.body)
            );
            assert!(facets(&page.body).is_empty(), "{query}");
            page.assert_contains("No method has all of these tags");
        }
    }
    let page = visitor.get("/tags/no-such-tag").await;
    page.assert_status(StatusCode::OK)
        .assert_contains("No method page carries this tag yet.");
    assert!(listed(&page.body).is_empty());
}

// ------------------------------------------------------------ CSV import

const GOOD_CSV: &str = "code,name,description,group,sort
KM-1,Knowledge captured after projects,\"Lessons are written down, then shared.\",Knowledge Management,10
KM-2,Communities of practice active,Staff meet to learn together.,Knowledge Management,20
";

#[tokio::test]
async fn importing_a_good_csv_file_adds_its_indicators_as_tags() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    import_csv(&app, GOOD_CSV)
        .await
        .expect("the import succeeds");

    let table = alice.get("/indicators").await;
    assert_eq!(coverage(&table.body).len(), 14);
    let km1 = coverage_of(&table.body, "KM-1");
    assert_eq!(
        (km1.1.as_str(), km1.2.as_str()),
        ("Knowledge captured after projects", "0 gap")
    );
    assert!(
        texts(&table.body, "table.coverage td")
            .contains(&"Lessons are written down, then shared.".to_owned())
    );
    let index = tag_index(&alice.get("/tags").await.body);
    let group = index
        .iter()
        .find(|(name, _)| name == "Knowledge Management")
        .expect("the new group");
    assert_eq!(
        group.1.iter().map(|(t, _)| t.as_str()).collect::<Vec<_>>(),
        ["km-1", "km-2"]
    );
    let offered = attr(
        &alice.get("/methods/new").await.body,
        "datalist#tag-vocabulary option",
        "value",
    );
    assert!(offered.contains(&"km-2".to_owned()), "{offered:?}");

    let path = new_page(&mut alice, "Lessons Log", "KM-1").await;
    assert_eq!(
        page_tags(&alice.get(&path).await.body),
        ["km-1 · Knowledge captured after projects"]
    );
}

#[tokio::test]
async fn a_csv_file_with_a_bad_row_names_its_line_and_imports_nothing() {
    let app = TestApp::new().await;
    let csv = "code,name,description,group,sort
ZZ-1,A fine row,,Zeta,1
ZZ-2,A bad sort order,,Zeta,soon
ZZ-3,Another fine row,,Zeta,3
,A row without a code,,Zeta,4
LKM-1,Renamed by a broken file,,Learning & Knowledge Management,10
";
    let error = import_csv(&app, csv)
        .await
        .expect_err("the import fails")
        .to_string();
    assert!(error.contains("nothing was imported"), "{error}");
    assert!(
        error.contains("line 3:") && error.contains("soon"),
        "the bad sort is named by line: {error}"
    );
    assert!(
        error.contains("line 5:") && error.contains("code is empty"),
        "the missing code is named by line: {error}"
    );
    assert!(
        !error.contains("line 2:") && !error.contains("line 4:"),
        "good rows are not blamed: {error}"
    );

    assert_eq!(
        count(&app.state.pool, "SELECT count(*) FROM indicators").await,
        12
    );
    let table = app.client().get("/indicators").await;
    assert!(!table.body.contains("ZZ-1") && !table.body.contains("A fine row"));
    assert_eq!(
        coverage_of(&table.body, "LKM-1").1,
        "Learning agenda in place",
        "good rows of a bad file change nothing"
    );

    let duplicate = import_csv(&app, "code,name\nYY-1,One\nyy-1,Same code\n")
        .await
        .expect_err("a duplicate code fails");
    assert!(duplicate.to_string().contains("line 3:"), "{duplicate}");
    let no_header = import_csv(&app, "id,title\n1,x\n")
        .await
        .expect_err("a file without the columns fails");
    assert!(no_header.to_string().contains("line 1:"), "{no_header}");
    assert_eq!(
        count(&app.state.pool, "SELECT count(*) FROM indicators").await,
        12
    );
}

#[tokio::test]
async fn re_importing_a_csv_file_updates_indicators_in_place() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    import_csv(&app, GOOD_CSV).await.expect("the first import");
    let path = new_page(&mut alice, "Lessons Log", "km-1, km-2").await;
    // The list keeps the indicator names while nothing is written.
    let chosen_name = |html: &str| texts(html, "ul.selected .tag-name");
    for _ in 0..2 {
        let list = alice.get("/methods?tag=km-1").await;
        assert_eq!(
            chosen_name(&list.body),
            ["· Knowledge captured after projects"]
        );
    }

    let updated = "code,name,description,group,sort
KM-1,Lessons captured and reused,Written down and used again.,Knowledge & Learning,5
km-2,Communities of practice thriving,,Knowledge & Learning,6
LKM-1,Learning agenda agreed,,Learning & Knowledge Management,10
";
    import_csv(&app, updated)
        .await
        .expect("the re-import succeeds");
    assert_eq!(
        count(&app.state.pool, "SELECT count(*) FROM indicators").await,
        14,
        "updated in place, nothing duplicated"
    );

    let table = alice.get("/indicators").await;
    assert_eq!(
        coverage_of(&table.body, "KM-1").1,
        "Lessons captured and reused"
    );
    assert_eq!(
        coverage_of(&table.body, "KM-2").1,
        "Communities of practice thriving",
        "codes match whatever their case"
    );
    assert_eq!(
        coverage_of(&table.body, "KM-1").2,
        "1",
        "the page still counts under the indicator"
    );
    assert_eq!(
        coverage_of(&table.body, "LKM-1").1,
        "Learning agenda agreed"
    );
    let index = tag_index(&alice.get("/tags").await.body);
    assert!(
        index.iter().all(|(name, _)| name != "Knowledge Management"),
        "the old group is empty now"
    );
    let group = index
        .iter()
        .find(|(name, _)| name == "Knowledge & Learning")
        .expect("the new group");
    assert_eq!(
        group.1.iter().map(|(t, _)| t.as_str()).collect::<Vec<_>>(),
        ["km-1", "km-2"]
    );

    assert_eq!(
        page_tags(&alice.get(&path).await.body),
        [
            "km-1 · Lessons captured and reused",
            "km-2 · Communities of practice thriving"
        ]
    );
    assert_eq!(listed(&alice.get("/tags/km-2").await.body), ["Lessons Log"]);
    let list = alice.get("/methods?tag=km-1").await;
    assert_eq!(
        chosen_name(&list.body),
        ["· Lessons captured and reused"],
        "the list shows the new name at once"
    );
    assert_eq!(listed(&list.body), ["Lessons Log"]);
}

// ------------------------------------------------------------ admin edits

fn indicator_form<'a>(code: &'a str, name: &'a str, group: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("code", code),
        ("name", name),
        ("description", "What it measures."),
        ("group", group),
        ("sort", "20"),
    ]
}

#[tokio::test]
async fn an_admin_renames_an_indicator_and_pages_carrying_its_tag_still_show_under_it() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let mut root = app.admin("root").await;
    let path = new_page(&mut alice, "Knowledge Fair", "lkm-2").await;

    let form = root.get("/indicators/LKM-2/edit").await;
    form.assert_status(StatusCode::OK);
    assert_eq!(
        attr(&form.body, "input[name=name]", "value"),
        ["Knowledge shared across projects"]
    );
    assert_eq!(
        attr(&form.body, "input[name=code]", "readonly").len(),
        1,
        "the code cannot be changed"
    );
    let saved = root
        .post(
            "/indicators/LKM-2/edit",
            &indicator_form(
                "LKM-2",
                "Knowledge travels between teams",
                "Learning & Knowledge Management",
            ),
        )
        .await;
    saved.assert_status(StatusCode::SEE_OTHER);
    assert_eq!(saved.location(), Some("/indicators"));

    let tag_page = alice.get("/tags/lkm-2").await;
    assert!(
        texts(&tag_page.body, "main .notice")
            .concat()
            .starts_with("CCASS indicator LKM-2: Knowledge travels between teams")
    );
    assert_eq!(
        listed(&tag_page.body),
        ["After-Action Review", "Knowledge Fair", "Peer Assist"]
    );
    assert_eq!(
        page_tags(&alice.get(&path).await.body),
        ["lkm-2 · Knowledge travels between teams"]
    );
    assert_eq!(
        listed(&alice.get("/methods?tag=lkm-2").await.body),
        ["After-Action Review", "Knowledge Fair", "Peer Assist"]
    );
    let index = tag_index(&alice.get("/tags").await.body);
    assert_eq!(index_count(&index, "lkm-2"), "(3 pages)");

    let recode = root
        .post(
            "/indicators/LKM-2/edit",
            &indicator_form("LKM-22", "Renamed", "Learning & Knowledge Management"),
        )
        .await;
    recode
        .assert_status(StatusCode::UNPROCESSABLE_ENTITY)
        .assert_contains("cannot change");
    let lower = root
        .post(
            "/indicators/lkm-2/edit",
            &indicator_form(
                "lkm-2",
                "Knowledge travels far",
                "Learning & Knowledge Management",
            ),
        )
        .await;
    lower.assert_status(StatusCode::SEE_OTHER);
    assert_eq!(
        coverage_of(&alice.get("/indicators").await.body, "LKM-2").1,
        "Knowledge travels far",
        "the code keeps its spelling"
    );
    root.get("/indicators/NOPE-1/edit")
        .await
        .assert_status(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn retiring_an_indicator_keeps_its_pages_but_no_longer_suggests_it() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let mut root = app.admin("root").await;
    let mut fields = indicator_form(
        "ME-3",
        "Findings shared with communities",
        "Monitoring & Evaluation",
    );
    fields.push(("retired", "1"));
    root.post("/indicators/ME-3/edit", &fields)
        .await
        .assert_status(StatusCode::SEE_OTHER);

    assert_eq!(
        listed(&alice.get("/tags/me-3").await.body),
        ["Most Significant Change"]
    );
    let offered = attr(
        &alice.get("/methods/new").await.body,
        "datalist#tag-vocabulary option",
        "value",
    );
    assert!(!offered.contains(&"me-3".to_owned()), "{offered:?}");
    assert!(offered.contains(&"me-2".to_owned()));
    let row = coverage_of(&alice.get("/indicators").await.body, "ME-3");
    assert_eq!(
        (row.1.as_str(), row.2.as_str()),
        ("Findings shared with communities (retired)", "1")
    );
}

#[tokio::test]
async fn an_admin_adds_an_indicator_which_becomes_a_tag() {
    let app = TestApp::new().await;
    let mut root = app.admin("root").await;
    let form = root.get("/indicators/new").await;
    form.assert_status(StatusCode::OK);
    let added = root
        .post(
            "/indicators",
            &indicator_form("KM-9", "Peer coaching in place", "Knowledge Management"),
        )
        .await;
    added.assert_status(StatusCode::SEE_OTHER);
    assert_eq!(added.location(), Some("/indicators"));
    let index = tag_index(&root.get("/tags").await.body);
    assert!(
        index
            .iter()
            .any(|(name, items)| name == "Knowledge Management"
                && items.iter().any(|(t, _)| t == "km-9")),
        "{index:?}"
    );
    let offered = attr(
        &root.get("/methods/new").await.body,
        "datalist#tag-vocabulary option",
        "value",
    );
    assert!(offered.contains(&"km-9".to_owned()));

    let duplicate = root
        .post("/indicators", &indicator_form("lkm-1", "Again", "X"))
        .await;
    duplicate
        .assert_status(StatusCode::UNPROCESSABLE_ENTITY)
        .assert_contains("exists already");
    let nameless = root
        .post(
            "/indicators",
            &indicator_form("KM-10", "", "Knowledge Management"),
        )
        .await;
    nameless.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        attr(&nameless.body, "input[name=code]", "value"),
        ["KM-10"],
        "the form keeps what was typed"
    );
    assert_eq!(
        count(&app.state.pool, "SELECT count(*) FROM indicators").await,
        13
    );
}

#[tokio::test]
async fn members_get_403_and_visitors_are_sent_to_sign_in_on_the_indicator_forms() {
    let app = TestApp::new().await;
    let mut bob = app.member("bob").await;
    bob.get("/indicators/new")
        .await
        .assert_status(StatusCode::FORBIDDEN);
    bob.get("/indicators/LKM-1/edit")
        .await
        .assert_status(StatusCode::FORBIDDEN);
    bob.post("/indicators", &indicator_form("XX-1", "Sneaky", "X"))
        .await
        .assert_status(StatusCode::FORBIDDEN);
    bob.post(
        "/indicators/LKM-1/edit",
        &indicator_form("LKM-1", "Sneaky", "X"),
    )
    .await
    .assert_status(StatusCode::FORBIDDEN);
    let table = bob.get("/indicators").await;
    table.assert_status(StatusCode::OK);
    assert!(
        attr(&table.body, "main a", "href")
            .iter()
            .all(|h| !h.starts_with("/indicators/")),
        "no admin links for members"
    );

    let mut visitor = app.client();
    let new = visitor.get("/indicators/new").await;
    new.assert_status(StatusCode::SEE_OTHER);
    assert_eq!(new.location(), Some("/signin?next=%2Findicators%2Fnew"));
    let post = visitor
        .post_raw(
            "/indicators",
            support::encode(&indicator_form("XX-1", "Sneaky", "X")),
        )
        .await;
    post.assert_status(StatusCode::SEE_OTHER);

    assert_eq!(
        count(&app.state.pool, "SELECT count(*) FROM indicators").await,
        12
    );
    assert_eq!(
        coverage_of(&visitor.get("/indicators").await.body, "LKM-1").1,
        "Learning agenda in place"
    );
    assert_eq!(
        count(
            &app.state.pool,
            "SELECT count(*) FROM events WHERE kind = 'admin'"
        )
        .await,
        0
    );
}

// ------------------------------------------------------------ hostile input

#[tokio::test]
async fn hostile_tags_and_indicator_fields_are_shown_inert() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let mut root = app.admin("root").await;
    let payloads = payloads();

    // Every payload that can be a tag (no comma, at most 40 characters), as tags of a few pages.
    let mut tags: Vec<&str> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for &payload in &payloads {
        if let Ok(tag) = Tag::parse(payload)
            && seen.insert(tag.as_str().to_owned())
        {
            tags.push(payload);
        }
    }
    assert!(
        tags.len() >= 20,
        "only {} payloads fit in a tag",
        tags.len()
    );
    let mut pages = Vec::new();
    for (i, chunk) in tags.chunks(20).enumerate() {
        // Payloads close to each other are questioned (issue 15): the
        // re-shown form with the warnings is inert, and confirming saves.
        let (title, tags) = (format!("Hostile tags {i}"), chunk.join(","));
        let body = format!("## Brief Description\n\n{title}.\n");
        let mut fields = vec![("title", title.as_str()), ("body", &body), ("tags", &tags)];
        let mut saved = alice.post("/methods", &fields).await;
        if saved.status == StatusCode::UNPROCESSABLE_ENTITY {
            assert_inert(&saved.body, "the tag warnings");
            fields.push(("confirm_tags", "1"));
            saved = alice.post("/methods", &fields).await;
        }
        saved.assert_status(StatusCode::SEE_OTHER);
        pages.push(saved.location().expect("the page").to_owned());
    }
    let mut tag_urls = Vec::new();
    for path in &pages {
        let page = alice.get(path).await;
        assert_inert(&page.body, path);
        tag_urls.extend(attr(&page.body, "main ul.tags a.tag", "href"));
        for view in [
            format!("{path}/edit"),
            format!("{path}/history"),
            format!("{path}/revisions/1"),
        ] {
            assert_inert(&alice.get(&view).await.body, &view);
        }
    }
    assert_eq!(tag_urls.len(), tags.len(), "every tag is shown");
    for url in &tag_urls {
        let tag_page = app.client().get(url).await;
        tag_page.assert_status(StatusCode::OK);
        assert_inert(&tag_page.body, url);
        assert_eq!(listed(&tag_page.body).len(), 1, "{url} lists its page");
        let filtered = app
            .client()
            .get(&format!("/methods?tag={}", &url["/tags/".len()..]))
            .await;
        filtered.assert_status(StatusCode::OK);
        assert_inert(&filtered.body, &format!("the filter by {url}"));
        assert_eq!(listed(&filtered.body).len(), 1, "the filter by {url}");
    }
    for path in ["/tags", "/methods", "/indicators", "/methods/new", "/"] {
        assert_inert(&alice.get(path).await.body, path);
    }

    // Payloads too long for a tag are refused, and the re-shown form is inert.
    for payload in payloads.iter().filter(|p| TagList::parse(p).is_err()) {
        let fields = [
            ("title", "Refused"),
            ("body", "Text."),
            ("tags", payload),
            ("summary", payload),
        ];
        let refused = alice.post("/methods", &fields).await;
        refused.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
        assert_inert(
            &refused.body,
            &format!("the re-shown form with tags {payload:?}"),
        );
    }

    // Indicator names, descriptions and groups typed by an admin.
    for (i, payload) in payloads.iter().enumerate() {
        let code = format!("X-{i}");
        let name = fit(payload, 120);
        let fields = [
            ("code", code.as_str()),
            ("name", &name),
            ("description", payload),
            ("group", &name),
            ("sort", "1"),
        ];
        root.post("/indicators", &fields)
            .await
            .assert_status(StatusCode::SEE_OTHER);
        let form = root.get(&format!("/indicators/{code}/edit")).await;
        assert_inert(&form.body, &format!("the indicator form with {payload:?}"));
    }
    let tagged: Vec<String> = (0..payloads.len()).map(|i| format!("x-{i}")).collect();
    for (i, chunk) in tagged.chunks(20).enumerate() {
        let path = new_page(&mut alice, &format!("Indicator tags {i}"), &chunk.join(",")).await;
        assert_inert(&alice.get(&path).await.body, &path);
    }
    for path in [
        "/tags",
        "/indicators",
        "/methods/new",
        "/tags/x-0",
        "/methods?tag=x-1",
    ] {
        for client in [&mut alice, &mut root] {
            let page = client.get(path).await;
            page.assert_status(StatusCode::OK);
            assert_inert(&page.body, path);
        }
    }
    let invalid = root
        .post(
            "/indicators",
            &[
                ("code", "<script>"),
                ("name", payloads[0]),
                ("description", ""),
                ("group", ""),
                ("sort", "x"),
            ],
        )
        .await;
    invalid.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert_inert(&invalid.body, "the re-shown indicator form");
}

#[tokio::test]
async fn a_long_method_list_comes_in_pages_of_a_hundred_with_facets_over_all_of_it() {
    let app = TestApp::new().await;
    for n in 0..105 {
        let text = cafe::pages::PageText::parse(&format!("Method {n}.\n"), "bulk, extra", "")
            .expect("valid text");
        cafe::pages::db::create(&app.state.pool, &format!("Bulk method {n:03}"), &text, None)
            .await
            .expect("create");
    }
    let mut visitor = app.client();
    let first = visitor.get("/methods?tag=bulk").await;
    first
        .assert_status(StatusCode::OK)
        .assert_contains("105 methods have all of these tags:");
    assert_eq!(listed(&first.body).len(), 100);
    assert!(
        facets(&first.body).contains(&("extra".to_owned(), 105)),
        "facets count every match, not just the shown page: {:?}",
        facets(&first.body)
    );
    assert_eq!(
        attr(&first.body, "nav.pager a", "href"),
        ["/methods?tag=bulk&page=2"]
    );
    let second = visitor.get("/methods?tag=bulk&page=2").await;
    let titles = listed(&second.body);
    assert_eq!(titles.len(), 5, "{titles:?}");
    assert!(
        titles.iter().all(|t| t.starts_with("Bulk method 10")),
        "{titles:?}"
    );
    assert_eq!(
        attr(&second.body, "nav.pager a", "href"),
        ["/methods?tag=bulk&page=1"]
    );
    let beyond = visitor.get("/methods?tag=bulk&page=99").await;
    assert_eq!(
        listed(&beyond.body).len(),
        5,
        "a page past the end shows the last one"
    );
}

/// PostgreSQL reads a page of a filtered list in one of two ways, by how
/// many methods match among how many there are (`pages::db::list`): it
/// walks the title index while the matches are common enough to fill the
/// page soon, and otherwise reads and sorts every match. Either way a page
/// holds the same methods in the same order. 3,000 methods, their titles
/// in upper and lower case, after PostgreSQL has counted them (ANALYZE):
/// the first page of a tag they all carry is walked, its last page and a
/// tag on two of them are sorted.
#[tokio::test]
async fn both_ways_of_reading_a_long_filtered_list_give_the_same_order() {
    if support::backend::skipped_without_postgres(
        "tags::both_ways_of_reading_a_long_filtered_list_give_the_same_order",
    ) {
        return;
    }
    let app = TestApp::new().await;
    let cafe::db::Db::Postgres(pg) = &app.state.pool else {
        panic!("the suite runs on PostgreSQL");
    };
    for sql in [
        "INSERT INTO pages (slug, title, revision, body, html, tags, created_at, updated_at)
         SELECT 'walk-' || n,
                CASE WHEN n % 2 = 1 THEN 'walk ' ELSE 'Walk ' END || lpad(n::text, 4, '0'),
                1, 'A method.', '<p>A method.</p>',
                CASE WHEN n IN (1500, 2999) THEN 'common,rare' ELSE 'common' END,
                '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z'
         FROM generate_series(1, 3000) n",
        "INSERT INTO page_tags (page_id, tag) SELECT id, 'common' FROM pages WHERE slug LIKE 'walk-%'",
        "INSERT INTO page_tags (page_id, tag)
         SELECT id, 'rare' FROM pages WHERE slug IN ('walk-1500', 'walk-2999')",
        "ANALYZE pages",
    ] {
        sqlx::query(sql).execute(pg).await.expect(sql);
    }
    let walk = |n: usize| format!("{} {n:04}", if n % 2 == 1 { "walk" } else { "Walk" });
    let mut visitor = app.client();
    let first = visitor.get("/methods?tag=common").await;
    first
        .assert_status(StatusCode::OK)
        .assert_contains("3000 methods have all of these tags:");
    assert_eq!(listed(&first.body), (1..=100).map(walk).collect::<Vec<_>>());
    let last = visitor.get("/methods?tag=common&page=30").await;
    assert_eq!(
        listed(&last.body),
        (2901..=3000).map(walk).collect::<Vec<_>>()
    );
    let rare = visitor.get("/methods?tag=rare").await;
    assert_eq!(listed(&rare.body), [walk(1500), walk(2999)]);
}

/// The tags the hand-counted corpus gives method `n`.
fn hand_tags(n: usize) -> Vec<&'static str> {
    let mut tags = Vec::new();
    if !n.is_multiple_of(4) {
        tags.push("red");
    }
    if !n.is_multiple_of(5) {
        tags.push("blue");
    }
    if n.is_multiple_of(3) {
        tags.push("green");
    }
    if n.is_multiple_of(7) {
        tags.push("lkm-1");
    }
    tags
}

/// Titles in mixed case, some repeated (their slugs get `-2`, `-3`…).
fn hand_title(n: usize) -> String {
    match n % 3 {
        0 => format!("apple {:03}", 400 - n),
        1 => format!("Apple {n:03}"),
        _ => format!("Zed {}", n % 4),
    }
}

#[tokio::test]
async fn every_page_of_a_filtered_list_shows_the_totals_facets_and_methods_counted_by_hand() {
    let app = TestApp::new().await;
    let pool = &app.state.pool;
    let mut made: Vec<(String, Vec<&str>)> = Vec::new();
    for n in 0..360 {
        let tags = hand_tags(n);
        let text =
            cafe::pages::PageText::parse("Counted.\n", &tags.join(", "), "").expect("valid text");
        cafe::pages::db::create(pool, &hand_title(n), &text, None)
            .await
            .expect("create");
        made.push((hand_title(n), tags));
    }
    let mut visitor = app.client();
    let check = |made: &Vec<(String, Vec<&str>)>, page: usize, body: &str| {
        // Stable sort: equal titles (ignoring case) stay in creation order.
        let mut matching: Vec<&(String, Vec<&str>)> = made
            .iter()
            .filter(|(_, tags)| tags.contains(&"red") && tags.contains(&"blue"))
            .collect();
        matching.sort_by_key(|(title, _)| title.to_ascii_lowercase());
        let total = matching.len();
        assert!(total > 200, "the corpus should fill three pages: {total}");
        assert!(
            texts(body, "main p")
                .concat()
                .contains(&format!("{total} methods have all of these tags:")),
            "page {page}"
        );
        let shown: Vec<String> = matching
            .iter()
            .skip((page - 1) * 100)
            .take(100)
            .map(|(title, _)| title.clone())
            .collect();
        assert_eq!(listed(body), shown, "page {page}");
        let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
        for (_, tags) in &matching {
            for tag in tags.iter().filter(|t| **t != "red" && **t != "blue") {
                *counts.entry(tag).or_default() += 1;
            }
        }
        let mut expected: Vec<(String, usize)> =
            counts.into_iter().map(|(t, n)| (t.to_owned(), n)).collect();
        expected.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        assert_eq!(facets(body), expected, "page {page}");
        let last = total.div_ceil(100);
        let mut pager = Vec::new();
        if page > 1 {
            pager.push(format!("/methods?tag=red&tag=blue&page={}", page - 1));
        }
        if page < last {
            pager.push(format!("/methods?tag=red&tag=blue&page={}", page + 1));
        }
        assert_eq!(attr(body, "nav.pager a", "href"), pager, "page {page}");
    };
    for page in [1, 2, 3] {
        let answer = visitor
            .get(&format!("/methods?tag=red&tag=blue&page={page}"))
            .await;
        answer.assert_status(StatusCode::OK);
        check(&made, page, &answer.body);
    }
    let beyond = visitor.get("/methods?tag=blue&tag=red&page=9").await;
    assert_eq!(
        listed(&beyond.body),
        listed(&visitor.get("/methods?tag=red&tag=blue&page=3").await.body),
        "past the end shows the last page, whatever the tags' order"
    );

    // The counts follow saves made after they were first shown: a tag
    // dropped here, and a page added through another connection pool (as
    // the CLI would) must both show at once.
    let slug = cafe::pages::Slug::parse("apple-001").expect("slug");
    let id = page_id(pool, &slug).await;
    let edit = cafe::pages::PageText::parse("Counted.\n", "red, green", "").expect("text");
    cafe::pages::db::save(pool, id, 1, &edit, None)
        .await
        .expect("save");
    made[1].1 = vec!["red", "green"];
    let other = cafe::db::connect(&app.db_path())
        .await
        .expect("second pool");
    let text =
        cafe::pages::PageText::parse("Counted.\n", "blue, red, lkm-1", "").expect("valid text");
    cafe::pages::db::create(&other, "Aardvark", &text, None)
        .await
        .expect("create");
    made.push(("Aardvark".to_owned(), vec!["blue", "red", "lkm-1"]));
    for page in [2, 1] {
        let answer = visitor
            .get(&format!("/methods?tag=red&tag=blue&page={page}"))
            .await;
        check(&made, page, &answer.body);
    }
}
