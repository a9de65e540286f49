//! Full-text search: each piece of the query syntax on a fixture corpus,
//! title-over-body ranking, hostile input, and an index that follows every
//! save at once.

use crate::support::{Client, TestApp};
use axum::http::StatusCode;
use cafe::pages::PageText;
use cafe::stories::StoryText;
use cafe::tags::TagList;
use scraper::{Html, Selector};

/// Made-up words, so the seeded pages never match.
struct Corpus {
    app: TestApp,
    author: i64,
}

async fn page(app: &TestApp, title: &str, body: &str, tags: &str) -> i64 {
    let text = PageText {
        body: cafe::pages::normalise_body(body),
        tags: TagList::parse(tags).expect("tags"),
        summary: String::new(),
    };
    let slug = cafe::pages::db::create(&app.state.pool, title, &text, None)
        .await
        .expect("create page");
    cafe::pages::db::find(&app.state.pool, &slug)
        .await
        .expect("find")
        .expect("page")
        .id
}

async fn story(
    app: &TestApp,
    page_id: i64,
    author: i64,
    title: &str,
    body: &str,
    outcome: &str,
    location: &str,
) -> i64 {
    let text = StoryText::parse(title, body, outcome, location).expect("story text");
    cafe::stories::db::create(&app.state.pool, page_id, author, &text)
        .await
        .expect("create story")
}

async fn corpus() -> Corpus {
    let app = TestApp::new().await;
    let name = cafe::accounts::Username::parse("teller").expect("name");
    let author =
        cafe::accounts::db::create(&app.state.pool, &name, "Story Teller", "not-a-hash", false)
            .await
            .expect("user");
    let circles = page(
        &app,
        "Quillworth Circles",
        "A gathering where people share notes.",
        "learning, lkm-1, quill tag",
    )
    .await;
    let harbour = page(
        &app,
        "Harbour Method",
        "The quillworth idea appears here in the body only.",
        "learning, peer learning",
    )
    .await;
    page(
        &app,
        "Atelier zélotrope",
        "Une évaluation faite avec les participants.",
        "evaluation",
    )
    .await;
    page(
        &app,
        "Tidewater Review",
        "A review after the tidewater exercise. After action thinking in practice.",
        "lkm-1",
    )
    .await;
    page(
        &app,
        "Zephyrine Drill",
        "Drill notes, army style, tidewater.",
        "",
    )
    .await;
    page(&app, "Brackenfold Walks", "Walking together.", "").await;
    page(
        &app,
        "Moorland Notes",
        "brackenfold brackenfold brackenfold, three times in the body.",
        "",
    )
    .await;
    story(
        &app,
        circles,
        author,
        "Our quillworth pilot failed",
        "The zephyrine budget ran out.",
        "failure",
        "Nairobi office",
    )
    .await;
    story(
        &app,
        harbour,
        author,
        "Harbour in Lima",
        "It went well with quillworth fans.",
        "success",
        "Lima",
    )
    .await;
    Corpus { app, author }
}

/// Result titles, in order, as a visitor sees them.
async fn titles(client: &mut Client, query: &str) -> Vec<String> {
    let page = client
        .get(&format!(
            "/search?q={}",
            cafe::markup::text::url_encode(query)
        ))
        .await;
    page.assert_status(StatusCode::OK);
    let html = Html::parse_document(&page.body);
    let selector = Selector::parse("ol.search-results a.result-title").expect("selector");
    html.select(&selector)
        .map(|a| a.text().collect::<String>())
        .collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[tokio::test]
async fn several_words_must_all_match() {
    let c = corpus().await;
    let mut client = c.app.client();
    assert_eq!(
        titles(&mut client, "quillworth zephyrine").await,
        ["Our quillworth pilot failed"]
    );
}

#[tokio::test]
async fn a_quoted_phrase_matches_only_the_words_in_that_order() {
    let c = corpus().await;
    let mut client = c.app.client();
    assert_eq!(
        titles(&mut client, "\"after action thinking\"").await,
        ["Tidewater Review"]
    );
    assert!(
        titles(&mut client, "\"thinking action after\"")
            .await
            .is_empty()
    );
    // A phrase ending in a prefix: with a whole pair before it, and with
    // none (on PostgreSQL the first is narrowed by the pairs index).
    for query in ["\"after action thin\"*", "\"action thin\"*"] {
        assert_eq!(
            titles(&mut client, query).await,
            ["Tidewater Review"],
            "{query}"
        );
    }
    assert!(
        titles(&mut client, "\"after thinking act\"*")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn a_minus_leaves_out_results_with_that_word() {
    let c = corpus().await;
    let mut client = c.app.client();
    assert_eq!(
        sorted(titles(&mut client, "tidewater").await),
        ["Tidewater Review", "Zephyrine Drill"]
    );
    assert_eq!(
        titles(&mut client, "tidewater -army").await,
        ["Tidewater Review"]
    );
    assert_eq!(
        titles(&mut client, "tidewater -\"army style\"").await,
        ["Tidewater Review"]
    );
    // A title match whose body holds the excluded word is left out too.
    assert_eq!(
        titles(&mut client, "zephyrine -army").await,
        ["Our quillworth pilot failed"]
    );
}

#[tokio::test]
async fn a_star_matches_words_by_their_start() {
    let c = corpus().await;
    let mut client = c.app.client();
    assert_eq!(
        sorted(titles(&mut client, "quillw*").await),
        [
            "Harbour Method",
            "Harbour in Lima",
            "Our quillworth pilot failed",
            "Quillworth Circles"
        ]
    );
    assert!(
        titles(&mut client, "quillw").await.is_empty(),
        "without the star only whole words match"
    );
}

#[tokio::test]
async fn accents_and_case_do_not_matter() {
    let c = corpus().await;
    let mut client = c.app.client();
    assert_eq!(
        titles(&mut client, "ZELOTROPE").await,
        ["Atelier zélotrope"]
    );
    assert_eq!(
        titles(&mut client, "zélotrope").await,
        ["Atelier zélotrope"]
    );
    assert_eq!(
        titles(&mut client, "zelotrope evaluation").await,
        ["Atelier zélotrope"]
    );
}

#[tokio::test]
async fn a_tag_filter_keeps_pages_with_the_tag_and_their_stories() {
    let c = corpus().await;
    let mut client = c.app.client();
    assert_eq!(
        sorted(titles(&mut client, "quillworth tag:lkm-1").await),
        ["Our quillworth pilot failed", "Quillworth Circles"]
    );
    assert_eq!(
        sorted(titles(&mut client, "quillw* tag:lkm-1").await),
        ["Our quillworth pilot failed", "Quillworth Circles"],
        "a prefix with a filter"
    );
    assert_eq!(
        titles(&mut client, "quillw* tag:lkm-1 outcome:failure -zephyrine").await,
        Vec::<String>::new()
    );
    assert_eq!(
        sorted(titles(&mut client, "quillworth tag:\"Peer Learning\"").await),
        ["Harbour Method", "Harbour in Lima"]
    );
    assert_eq!(
        sorted(titles(&mut client, "tag:\"quill tag\"").await),
        ["Our quillworth pilot failed", "Quillworth Circles"],
        "a filter alone lists what it keeps"
    );
    assert!(
        titles(&mut client, "quillworth tag:lkm-1 tag:\"peer learning\"")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn an_outcome_filter_keeps_only_stories_with_that_outcome() {
    let c = corpus().await;
    let mut client = c.app.client();
    assert_eq!(
        titles(&mut client, "quillworth outcome:failure").await,
        ["Our quillworth pilot failed"]
    );
    assert_eq!(
        titles(&mut client, "outcome:success").await,
        ["Harbour in Lima"]
    );
    assert!(titles(&mut client, "outcome:mixed").await.is_empty());
    let page = client.get("/search?q=outcome%3Agreat").await;
    page.assert_status(StatusCode::OK)
        .assert_contains("is not an outcome");
}

#[tokio::test]
async fn title_matches_rank_above_body_matches() {
    let c = corpus().await;
    let mut client = c.app.client();
    assert_eq!(
        titles(&mut client, "brackenfold").await,
        ["Brackenfold Walks", "Moorland Notes"]
    );
    let found = titles(&mut client, "quillworth").await;
    assert_eq!(found.len(), 4, "{found:?}");
    assert_eq!(
        sorted(found[..2].to_vec()),
        ["Our quillworth pilot failed", "Quillworth Circles"],
        "{found:?}"
    );
    assert_eq!(
        sorted(found[2..].to_vec()),
        ["Harbour Method", "Harbour in Lima"],
        "{found:?}"
    );
}

#[tokio::test]
async fn results_show_marked_snippets_tags_and_story_outcomes() {
    let c = corpus().await;
    let mut client = c.app.client();
    let page = client.get("/search?q=quillworth").await;
    page.assert_status(StatusCode::OK)
        .assert_contains("4 results")
        .assert_contains("<mark>quillworth</mark> idea appears")
        .assert_contains("<mark>Quillworth</mark> Circles")
        .assert_contains(r#"href="/tags/lkm-1""#)
        .assert_contains("Outcome: Failure")
        .assert_contains("Nairobi office")
        .assert_contains(r#"href="/methods/quillworth-circles""#);
    let story = client.get("/search?q=zephyrine+budget").await;
    assert!(
        story.body.contains("/methods/quillworth-circles/stories/"),
        "{}",
        story.body
    );
}

#[tokio::test]
async fn hostile_text_in_results_is_escaped_and_only_the_marks_are_html() {
    let c = corpus().await;
    page(
        &c.app,
        "<script>alert(\"x\")</script> Quorlax",
        "Body with <b onclick=\"evil()\">quorlax</b> & friends.",
        "",
    )
    .await;
    let mut client = c.app.client();
    let page = client.get("/search?q=quorlax").await;
    page.assert_status(StatusCode::OK);
    assert!(!page.body.contains("<script>alert"), "{}", page.body);
    assert!(!page.body.contains("<b onclick"), "{}", page.body);
    page.assert_contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; <mark>Quorlax</mark>")
        // Snippets come from the rendered text (issue 15): the inline HTML
        // is left out, its text kept and escaped.
        .assert_contains("Body with <mark>quorlax</mark> &amp; friends");
    assert!(!page.body.contains("evil()"), "{}", page.body);
}

#[tokio::test]
async fn results_are_paginated() {
    let c = corpus().await;
    for i in 0..45 {
        page(&c.app, &format!("Paginated fernwick {i}"), "Same body.", "").await;
    }
    let mut client = c.app.client();
    let first = client.get("/search?q=fernwick").await;
    first
        .assert_status(StatusCode::OK)
        .assert_contains("45 results")
        .assert_contains("page 1 of 3");
    assert_eq!(titles(&mut client, "fernwick").await.len(), 20);
    let third = client.get("/search?q=fernwick&page=3").await;
    third.assert_contains("page 3 of 3");
    let html = Html::parse_document(&third.body);
    let selector = Selector::parse("ol.search-results > li").expect("selector");
    assert_eq!(html.select(&selector).count(), 5);
    let pager = Selector::parse("nav.pager a").expect("selector");
    let links: Vec<&str> = html
        .select(&pager)
        .filter_map(|a| a.value().attr("href"))
        .collect();
    assert_eq!(
        links,
        ["/search?q=fernwick&page=2"],
        "only a link back from the last page"
    );
}

/// The titles on one page of results, and the page's "N results" line.
async fn page_of(client: &mut Client, query: &str, number: i64) -> (Vec<String>, String) {
    let page = client
        .get(&format!(
            "/search?q={}&page={number}",
            cafe::markup::text::url_encode(query)
        ))
        .await;
    page.assert_status(StatusCode::OK);
    let html = Html::parse_document(&page.body);
    let title = Selector::parse("ol.search-results a.result-title").expect("selector");
    let titles = html
        .select(&title)
        .map(|a| a.text().collect::<String>())
        .collect();
    let status = Selector::parse(r#"p[role="status"]"#).expect("selector");
    let count = html
        .select(&status)
        .next()
        .map(|p| {
            let text = p.text().collect::<String>();
            text.split_whitespace()
                .take(2)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default();
    (titles, count)
}

#[tokio::test]
async fn each_page_of_results_shows_the_next_ones_equal_scores_newest_first() {
    let c = corpus().await;
    for i in 0..45 {
        page(&c.app, &format!("Paginated fernwick {i}"), "Same body.", "").await;
    }
    let mut client = c.app.client();
    let mut seen = Vec::new();
    for number in 1..=3 {
        let (titles, count) = page_of(&mut client, "fernwick", number).await;
        assert_eq!(count, "45 results", "page {number}");
        seen.extend(titles);
    }
    // Every page scores the same, so the newest comes first, and no result
    // is on two pages or on none.
    let expected: Vec<String> = (0..45)
        .rev()
        .map(|i| format!("Paginated fernwick {i}"))
        .collect();
    assert_eq!(seen, expected);
    let past_the_end = client.get("/search?q=fernwick&page=4").await;
    past_the_end
        .assert_contains("No results for “fernwick” on page 4")
        .assert_contains(r#"page=3">Previous</a>"#);
}

#[tokio::test]
async fn past_two_hundred_matches_it_says_more_and_still_ranks_the_title_match_first() {
    let c = corpus().await;
    // Made in parallel batches: the count must pass the 200 results the
    // pager offers, and PostgreSQL's ranked set of first matches found.
    for batch in 0..9 {
        let mut made = tokio::task::JoinSet::new();
        for i in 0..50 {
            let pool = c.app.state.pool.clone();
            let title = format!("Plain note {}", batch * 50 + i);
            made.spawn(async move {
                let text = PageText {
                    body: "Some brindlewick notes, kept.".to_owned(),
                    tags: TagList::default(),
                    summary: String::new(),
                };
                cafe::pages::db::create(&pool, &title, &text, None)
                    .await
                    .expect("create page")
            });
        }
        made.join_all().await;
    }
    // Made last, so the scan meets it after every other match.
    page(&c.app, "Brindlewick", "The method itself.", "").await;
    let mut client = c.app.client();
    for query in ["brindlewick", "brindle*", "\"brindlewick notes\""] {
        let first = client
            .get(&format!(
                "/search?q={}",
                cafe::markup::text::url_encode(query)
            ))
            .await;
        first
            .assert_status(StatusCode::OK)
            .assert_contains("More than 200 results")
            .assert_contains("page 1 of 10");
        let (titles, _) = page_of(&mut client, query, 1).await;
        if query.starts_with('"') {
            assert!(!titles.contains(&"Brindlewick".to_owned()), "{titles:?}");
        } else {
            assert_eq!(titles[0], "Brindlewick", "{query}");
        }
        let (second, _) = page_of(&mut client, query, 2).await;
        let (last, _) = page_of(&mut client, query, 10).await;
        assert_eq!(
            (titles.len(), second.len(), last.len()),
            (20, 20, 20),
            "{query}"
        );
        for t in second.iter().chain(&last) {
            assert!(!titles.contains(t), "{query}: {t} on two pages");
        }
    }
}

/// A phrase in a title ranks first even when more than the 200 matches
/// looked at hold it in their text and the title's page comes after them
/// all: the rows with the phrase in their title or tags are looked for
/// apart (on PostgreSQL narrowed by the pairs index first).
#[tokio::test]
async fn a_phrase_in_a_title_ranks_first_past_two_hundred_text_matches() {
    let c = corpus().await;
    let mut made = tokio::task::JoinSet::new();
    for i in 0..210 {
        let pool = c.app.state.pool.clone();
        made.spawn(async move {
            let text = PageText {
                body: "Some quorvane tellings, kept. Tellings of quorvane too.".to_owned(),
                tags: TagList::default(),
                summary: String::new(),
            };
            cafe::pages::db::create(&pool, &format!("Plain note {i}"), &text, None)
                .await
                .expect("create page")
        });
    }
    made.join_all().await;
    // Made last, so the scan meets it after every other match; the words
    // of the phrase are in the title of this one and of no other.
    page(&c.app, "Quorvane Tellings", "The method itself.", "").await;
    // On PostgreSQL each connection writes into a table page of its own,
    // so the row made last may lie anywhere: the table is put in key
    // order, as a site that wrote the page last and was then vacuumed
    // would have it.
    if let cafe::db::Db::Postgres(pool) = &c.app.state.pool {
        sqlx::query("CLUSTER search_index USING search_index_pkey")
            .execute(pool)
            .await
            .expect("cluster");
    }
    let mut client = c.app.client();
    let (first, count) = page_of(&mut client, "\"quorvane tellings\"", 1).await;
    assert_eq!(count, "More than", "more than 200 results");
    assert_eq!(first.len(), 20);
    assert_eq!(first[0], "Quorvane Tellings", "{first:?}");
    // Reversed, the phrase is in no title: the page is not found at all.
    let (reversed, _) = page_of(&mut client, "\"tellings quorvane\"", 1).await;
    assert!(
        !reversed.contains(&"Quorvane Tellings".to_owned()),
        "{reversed:?}"
    );
}

#[tokio::test]
async fn a_title_match_outranks_body_matches_on_every_page() {
    let c = corpus().await;
    for i in 0..25 {
        page(
            &c.app,
            &format!("Body only {i}"),
            "glimmerdale glimmerdale glimmerdale glimmerdale",
            "",
        )
        .await;
    }
    page(&c.app, "Glimmerdale", "Nothing else here.", "").await;
    let mut client = c.app.client();
    let (first, count) = page_of(&mut client, "glimmerdale", 1).await;
    assert_eq!(count, "26 results");
    assert_eq!(first.len(), 20);
    assert_eq!(first[0], "Glimmerdale");
    let (second, _) = page_of(&mut client, "glimmer*", 2).await;
    assert_eq!(second.len(), 6);
    assert!(!second.contains(&"Glimmerdale".to_owned()), "{second:?}");
}

#[tokio::test]
async fn a_filter_alone_lists_what_it_keeps_with_the_start_of_the_text() {
    let c = corpus().await;
    let mut client = c.app.client();
    let page = client.get("/search?q=tag%3A%22quill+tag%22").await;
    page.assert_status(StatusCode::OK)
        .assert_contains("2 results")
        .assert_contains("The zephyrine budget ran out.")
        .assert_contains("A gathering where people share notes.");
    assert_eq!(
        sorted(titles(&mut client, "tag:\"quill tag\"").await),
        ["Our quillworth pilot failed", "Quillworth Circles"]
    );
    assert_eq!(
        titles(&mut client, "tag:\"quill tag\" -zephyrine").await,
        ["Quillworth Circles"]
    );
}

#[tokio::test]
async fn a_wiki_link_in_a_snippet_shows_its_label() {
    let c = corpus().await;
    page(
        &c.app,
        "Linking Page",
        "We follow [[Harbour Method|the harbour way]] for every vorpalite.",
        "",
    )
    .await;
    let mut client = c.app.client();
    let page = client.get("/search?q=vorpalite").await;
    page.assert_status(StatusCode::OK)
        .assert_contains("We follow the harbour way for every <mark>vorpalite</mark>");
    assert!(!page.body.contains("Harbour Method|"), "{}", page.body);
}

#[tokio::test]
async fn a_search_that_only_excludes_says_so_instead_of_listing_everything() {
    let c = corpus().await;
    let mut client = c.app.client();
    let page = client.get("/search?q=-army").await;
    page.assert_status(StatusCode::OK)
        .assert_contains("not only what to leave out");
    assert!(titles(&mut client, "-army").await.is_empty());
}

#[tokio::test]
async fn nasty_queries_give_results_or_a_clear_message_never_an_error() {
    let c = corpus().await;
    let mut client = c.app.client();
    let ten_kb_words = "quillworth ".repeat(1000);
    let ten_kb_quotes = "\"".repeat(10_240);
    let ten_kb_parens = "(".repeat(10_240);
    let one_long_word = "a".repeat(10_240);
    let nasty: Vec<&str> = vec![
        "\"",
        "\"\"",
        "\"unbalanced quillworth",
        "quillworth\"",
        "AND",
        "OR",
        "NOT",
        "quillworth AND",
        "OR quillworth",
        "NOT quillworth",
        "NEAR(quillworth zephyrine)",
        "quillworth NEAR zephyrine",
        "NEAR/3",
        "^quillworth",
        "title:quillworth",
        "search_index:x",
        "{title body}: quillworth",
        "rowid:1",
        "(",
        ")",
        "((quillworth)",
        "*",
        "**",
        "*quillworth",
        "quill*worth*",
        "-",
        "--",
        "- -",
        "quillworth -",
        "-\"\"",
        "'",
        "\\",
        "\\\"",
        "%",
        "%00",
        "'; DROP TABLE pages; --",
        "x\" OR 1=1 --",
        "<script>alert(1)</script>",
        "学习 社区",
        "\u{301}\u{301}",
        "\u{200b}",
        "\u{202e}quillworth",
        "🙂*",
        "a\"b\"c",
        "\"a\" \"b",
        "\"*\"",
        "\"quill\"*\"worth\"",
        "tag:",
        "tag:\"\"",
        "tag:,",
        "outcome:",
        "outcome:nope",
        "-tag:lkm-1 quillworth",
        "-outcome:failure quillworth",
        "tag:a,b",
        "+quillworth",
        "a:b:c",
        "quillworth:",
        ":quillworth",
        "\0",
        "\t\n\r",
        &ten_kb_words,
        &ten_kb_quotes,
        &ten_kb_parens,
        &one_long_word,
    ];
    assert!(nasty.len() >= 30);
    for query in nasty {
        let url = format!("/search?q={}", cafe::markup::text::url_encode(query));
        let page = client.get(&url).await;
        let shown: String = query.chars().take(40).collect();
        assert_eq!(
            page.status,
            StatusCode::OK,
            "query {shown:?} gave {}",
            page.status
        );
        if !query.trim().is_empty() {
            assert!(
                page.body.contains("role=\"status\""),
                "query {shown:?} gave neither results nor a message"
            );
        }
    }
    for raw in [
        "q=%FF%FE",
        "q=a&q=b",
        "q=quillworth&page=-5",
        "q=quillworth&page=99999999999999999999",
        "page=abc",
        "q",
        "",
    ] {
        let page = client.get(&format!("/search?{raw}")).await;
        assert_eq!(page.status, StatusCode::OK, "query string {raw:?}");
    }
}

#[tokio::test]
async fn search_reflects_an_edit_immediately() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let path = alice
        .create_page("Gloaming Exchange", "Swapping notes at dusk.\n", "")
        .await;
    assert!(titles(&mut alice, "glimmerfen").await.is_empty());
    let base = alice.base_revision(&path).await;
    alice
        .edit_page(
            &path,
            &base,
            "Swapping glimmerfen notes at dusk.\n",
            "",
            "new word",
        )
        .await
        .assert_status(StatusCode::SEE_OTHER);
    assert_eq!(
        titles(&mut alice, "glimmerfen").await,
        ["Gloaming Exchange"]
    );
    let base = alice.base_revision(&path).await;
    alice
        .edit_page(
            &path,
            &base,
            "Swapping notes at dusk.\n",
            "dusk work",
            "word gone",
        )
        .await
        .assert_status(StatusCode::SEE_OTHER);
    assert!(
        titles(&mut alice, "glimmerfen").await.is_empty(),
        "the old text is no longer found"
    );
    assert_eq!(
        titles(&mut alice, "tag:\"dusk work\"").await,
        ["Gloaming Exchange"],
        "new tags are found too"
    );
}

#[tokio::test]
async fn a_repeated_search_shows_any_write_made_since_whoever_made_it() {
    let c = corpus().await;
    let mut client = c.app.client();
    for _ in 0..2 {
        client
            .get("/search?q=quillworth")
            .await
            .assert_contains("Nairobi office")
            .assert_contains("4 results");
    }
    // A write that no save path of the app made, as another process would.
    cafe::on_db!(&c.app.state.pool, |pool| sqlx::query(
        "UPDATE stories SET location = 'Quito office' WHERE location = 'Nairobi office'"
    )
    .execute(pool)
    .await
    .map(|done| done.rows_affected()))
    .expect("update");
    let page = heard(&mut client, "/search?q=quillworth", "Quito office").await;
    page.assert_contains("Quito office");
    assert!(!page.body.contains("Nairobi office"), "{}", page.body);
    cafe::on_db!(&c.app.state.pool, |pool| sqlx::query("INSERT INTO pages (slug, title, body, html, tags, revision, created_at, updated_at) SELECT 'quillworth-2', 'Quillworth Two', body, html, tags, revision, created_at, updated_at FROM pages WHERE slug = 'harbour-method'")
        .execute(pool).await.map(|done| done.rows_affected()))
        .expect("insert");
    heard(&mut client, "/search?q=quillworth", "5 results")
        .await
        .assert_contains("5 results");
}

/// The page at `path` after a write made outside the app. On SQLite the
/// next answer shows it (the WAL file changed). On PostgreSQL the app
/// learns of another connection's commit from its notice (`LISTEN`), which
/// arrives a moment after the commit and at the latest when the clock is
/// read again a second later: the page is asked for until it shows
/// `expected`, for at most two seconds.
async fn heard(client: &mut Client, path: &str, expected: &str) -> crate::support::Page {
    let started = std::time::Instant::now();
    loop {
        let page = client.get(path).await;
        if page.body.contains(expected)
            || !crate::support::backend::on_postgres()
            || started.elapsed() > std::time::Duration::from_secs(2)
        {
            return page;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_story_is_found_when_told_and_edited_and_not_once_hidden() {
    let c = corpus().await;
    let mut client = c.app.client();
    let circles = cafe::pages::db::find(
        &c.app.state.pool,
        &cafe::pages::Slug::parse("quillworth-circles").expect("slug"),
    )
    .await
    .expect("find")
    .expect("page");
    let id = story(
        &c.app,
        circles.id,
        c.author,
        "Vantorine week",
        "We tried it.",
        "mixed",
        "Dakar",
    )
    .await;
    assert_eq!(titles(&mut client, "vantorine").await, ["Vantorine week"]);
    assert_eq!(
        titles(&mut client, "dakar outcome:mixed").await,
        ["Vantorine week"]
    );
    let found = cafe::stories::db::find(&c.app.state.pool, circles.id, id)
        .await
        .expect("find")
        .expect("story");
    let edited = StoryText::parse(
        "Vantorine month",
        "We tried it for longer.",
        "success",
        "Dakar",
    )
    .expect("text");
    cafe::stories::db::update(&c.app.state.pool, &found, c.author, &edited, "longer")
        .await
        .expect("update");
    assert_eq!(
        titles(&mut client, "vantorine outcome:success").await,
        ["Vantorine month"]
    );
    assert!(
        titles(&mut client, "vantorine outcome:mixed")
            .await
            .is_empty()
    );
    let found = cafe::stories::db::find(&c.app.state.pool, circles.id, id)
        .await
        .expect("find")
        .expect("story");
    cafe::stories::db::set_story_hidden(&c.app.state.pool, &found, true, c.author)
        .await
        .expect("hide");
    assert!(
        titles(&mut client, "vantorine").await.is_empty(),
        "a hidden story is never found"
    );
}

/// What a query finds, read from the index itself (no cache): the pages and
/// stories in order, and the total.
async fn found(app: &TestApp, query: &str) -> (Vec<String>, i64) {
    let cache = cafe::cache::search::Cache::default();
    let query = cafe::search::Query::parse(query);
    let results = cafe::search::run(&app.state.pool, &cache, &query, 1)
        .await
        .expect("search");
    let urls = results.hits.iter().map(|hit| hit.url.clone()).collect();
    (urls, results.total)
}

/// The server merges the index in quiet moments (`search::upkeep`):
/// FTS5's segments on SQLite, the GIN indexes' pending lists on
/// PostgreSQL. The fixture's saves leave something to merge, once merged
/// nothing is left, and every query finds what it found before.
#[tokio::test]
async fn merging_the_index_changes_no_result() {
    let Corpus { app, .. } = corpus().await;
    let queries = [
        "quillworth",
        "circle*",
        "\"quillworth circles\"",
        "tag:lkm-1",
        "-zzz quillworth",
    ];
    let mut before = Vec::new();
    for query in queries {
        before.push(found(&app, query).await);
    }
    assert!(
        before.iter().any(|(urls, _)| !urls.is_empty()),
        "the queries find nothing: the test would prove nothing"
    );
    let pool = &app.state.pool;
    assert!(
        cafe::search::upkeep::merge_step(pool).await.expect("merge"),
        "the fixture's saves left nothing to merge"
    );
    cafe::search::upkeep::merge_all(pool)
        .await
        .expect("merge all");
    assert!(
        !cafe::search::upkeep::merge_step(pool).await.expect("merge"),
        "something is left to merge"
    );
    for (query, before) in queries.into_iter().zip(before) {
        assert_eq!(found(&app, query).await, before, "{query}");
    }
}

/// PostgreSQL finds words in most rows of a large site by reading the
/// table until enough rows match, not through the index (which lists
/// every match first), and then finds the rows with the words in their
/// title through the heading index all the same: the page titled with
/// the word still comes first, the count stops where the pager does, and
/// a rare word of the same site is still found.
#[tokio::test]
async fn words_in_most_rows_of_a_large_site_are_read_from_the_table_with_titles_first() {
    if crate::support::backend::skipped_without_postgres(
        "search::words_in_most_rows_of_a_large_site_are_read_from_the_table_with_titles_first",
    ) {
        return;
    }
    let app = TestApp::new().await;
    let cafe::db::Db::Postgres(pg) = &app.state.pool else {
        panic!("the suite runs on PostgreSQL");
    };
    sqlx::query(
        "INSERT INTO pages (slug, title, revision, body, html, created_at, updated_at)
         SELECT 'bulk-' || n, 'Bulk ' || n, 1, 'A commonplace method, number ' || n || '.',
                '<p>A commonplace method.</p>', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z'
         FROM generate_series(1, 9600) n",
    )
    .execute(pg)
    .await
    .expect("many pages");
    page(&app, "Commonplace Circle", "Met once a month.", "").await;
    page(&app, "Quorvain Walk", "Only here: quorvain.", "").await;
    sqlx::query("ANALYZE search_index")
        .execute(pg)
        .await
        .expect("statistics");
    let (matches, total): (f64, f64) = sqlx::query_as(
        "SELECT matches, total FROM cafe_matches_estimated(cafe_tsquery('commonplace'))",
    )
    .fetch_one(pg)
    .await
    .expect("the estimate");
    assert!(
        cafe::search::db::scan_pays(matches, total),
        "{matches} of {total} rows: the test's site is too small to read from the table"
    );
    let (urls, count) = found(&app, "commonplace").await;
    assert_eq!(
        urls.first().map(String::as_str),
        Some("/methods/commonplace-circle"),
        "{urls:?}"
    );
    assert_eq!(urls.len(), 20);
    // Counted up to one more than the pager offers.
    assert_eq!(count, cafe::search::PER_PAGE * cafe::search::MAX_PAGES + 1);
    let (urls, count) = found(&app, "quorvain").await;
    assert_eq!(
        (urls, count),
        (vec!["/methods/quorvain-walk".to_owned()], 1)
    );
}
