//! Finding your way through methods (issue 15): the tag box questions tags
//! that look like slips, a filtered list's tag chips narrow the filter,
//! facets and counts read as sentences, search snippets are plain text,
//! outcome labels are capitalised and indicator tables line up.

use crate::support::attrs as attr;
use crate::support::inert::texts;
use crate::support::{Client, TestApp};
use axum::http::StatusCode;

/// The tags shown on a method page, as their text.
fn page_tags(html: &str) -> Vec<String> {
    texts(html, "main ul.tags a.tag")
}

async fn create(
    client: &mut Client,
    title: &str,
    tags: &str,
    confirm: bool,
) -> crate::support::Page {
    let body = format!("## Brief Description\n\n{title}.\n");
    let mut fields = vec![
        ("title", title),
        ("body", body.as_str()),
        ("tags", tags),
        ("summary", "first"),
    ];
    if confirm {
        fields.push(("confirm_tags", "1"));
    }
    client.post("/methods", &fields).await
}

// ------------------------------------------------------------ the tag box

#[tokio::test]
async fn an_unknown_code_that_looks_like_an_indicator_is_questioned_and_nothing_is_saved() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let form = create(
        &mut alice,
        "Story Circle",
        "peer learning, lkm-9, LKM1",
        false,
    )
    .await;
    form.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    form.assert_contains(
        "lkm-9 is not a CCASS indicator — did you mean lkm-1 (Learning agenda in place)",
    );
    form.assert_contains(
        "lkm1 is not a CCASS indicator — did you mean lkm-1 (Learning agenda in place)?",
    );
    assert_eq!(
        attr(&form.body, "input[name=tags]", "value"),
        ["peer learning, lkm-9, LKM1"],
        "the tags are kept as typed"
    );
    assert_eq!(
        attr(&form.body, "input[name=title]", "value"),
        ["Story Circle"]
    );
    assert_eq!(
        attr(
            &form.body,
            "input[type=checkbox][name=confirm_tags]",
            "value"
        ),
        ["1"]
    );
    alice
        .get("/methods/story-circle")
        .await
        .assert_status(StatusCode::NOT_FOUND);

    let saved = create(
        &mut alice,
        "Story Circle",
        "peer learning, lkm-9, LKM1",
        true,
    )
    .await;
    saved.assert_status(StatusCode::SEE_OTHER);
    let page = alice.get(saved.location().expect("the page")).await;
    assert_eq!(page_tags(&page.body), ["peer learning", "lkm-9", "lkm1"]);
}

#[tokio::test]
async fn a_near_duplicate_of_a_tag_in_use_is_questioned_when_editing() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let base = alice.base_revision("/methods/peer-assist").await;
    let form = alice
        .edit_page(
            "/methods/peer-assist",
            &base,
            "Changed.\n",
            "learnings, lkm-1",
            "tags",
        )
        .await;
    form.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    form.assert_contains(
        "learnings is a new tag, close to the existing tag — did you mean learning?",
    );
    form.assert_contains("Changed.");
    assert_eq!(
        alice.base_revision("/methods/peer-assist").await,
        base,
        "nothing saved"
    );

    let saved = alice
        .post(
            "/methods/peer-assist/edit",
            &[
                ("base_revision", base.as_str()),
                ("body", "Changed.\n"),
                ("tags", "learnings, lkm-1"),
                ("summary", "tags"),
                ("confirm_tags", "1"),
            ],
        )
        .await;
    saved.assert_status(StatusCode::SEE_OTHER);
    let page = alice.get("/methods/peer-assist").await;
    assert_eq!(
        page_tags(&page.body),
        ["learnings", "lkm-1 · Learning agenda in place"]
    );
}

#[tokio::test]
async fn indicators_tags_in_use_and_unrelated_new_tags_save_without_a_question() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let saved = create(
        &mut alice,
        "Fishbowl",
        "LKM-2, learning, covid-19, fishbowl",
        false,
    )
    .await;
    saved.assert_status(StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn the_tag_box_offers_each_indicator_with_its_group() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let form = alice.get("/methods/new").await;
    let groups = attr(
        &form.body,
        "datalist#tag-vocabulary option[value=\"lkm-1\"]",
        "data-group",
    );
    assert_eq!(groups, ["Learning & Knowledge Management"]);
}

// ------------------------------------------------------------ filters

/// Two pages tagged alpha: one with beta and lkm-1, one with gamma.
async fn filter_fixture(app: &TestApp) -> Client {
    let mut alice = app.member("alice").await;
    create(&mut alice, "Filter One", "alpha, beta, lkm-1", true)
        .await
        .assert_status(StatusCode::SEE_OTHER);
    create(&mut alice, "Filter Two", "alpha, gamma", true)
        .await
        .assert_status(StatusCode::SEE_OTHER);
    alice
}

/// (text, href) of each tag chip of the listed methods; a chip without a
/// link (a tag of the filter) has no href.
fn chips(html: &str) -> Vec<(String, Option<String>)> {
    let doc = scraper::Html::parse_document(html);
    let chip = scraper::Selector::parse("ul.method-list ul.tags .tag").expect("selector");
    doc.select(&chip)
        .map(|c| {
            (
                crate::support::inert::collapse(&c.text().collect::<String>()),
                c.value().attr("href").map(str::to_owned),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_tag_chip_in_a_filtered_list_adds_its_tag_to_the_filter() {
    let app = TestApp::new().await;
    let mut alice = filter_fixture(&app).await;
    let filtered = alice.get("/methods?tag=alpha").await;
    let chips = chips(&filtered.body);
    assert!(
        chips.contains(&(
            "Add to the filter: beta".to_owned(),
            Some("/methods?tag=alpha&tag=beta".to_owned())
        )),
        "{chips:?}"
    );
    assert!(
        chips.contains(&("alpha (in the filter)".to_owned(), None)),
        "the filter's own tag is shown, not linked: {chips:?}"
    );
    let narrowed = alice.get("/methods?tag=alpha&tag=beta").await;
    assert_eq!(
        texts(&narrowed.body, "ul.method-list a.method-title"),
        ["Filter One"]
    );

    let one_tag = alice.get("/tags/alpha").await;
    assert!(
        self::chips(&one_tag.body).contains(&(
            "Add to the filter: gamma".to_owned(),
            Some("/methods?tag=alpha&tag=gamma".to_owned())
        )),
        "a tag's page is a filter too"
    );
    let unfiltered = alice.get("/methods").await;
    assert!(
        attr(&unfiltered.body, "ul.method-list a.tag", "href").contains(&"/tags/gamma".to_owned()),
        "without a filter a chip opens its tag"
    );
}

#[tokio::test]
async fn facets_and_chosen_tags_show_indicator_names() {
    let app = TestApp::new().await;
    let mut alice = filter_fixture(&app).await;
    let filtered = alice.get("/methods?tag=alpha").await;
    let facets = texts(&filtered.body, "aside.facets li a");
    assert!(
        facets.contains(&"lkm-1 · Learning agenda in place".to_owned()),
        "{facets:?}"
    );
    assert!(facets.contains(&"gamma".to_owned()), "{facets:?}");
    let chosen = alice.get("/methods?tag=lkm-1").await;
    assert_eq!(
        texts(&chosen.body, "ul.tags.selected .tag"),
        ["lkm-1 · Learning agenda in place"]
    );
}

#[tokio::test]
async fn filter_counts_read_as_sentences() {
    let app = TestApp::new().await;
    let mut alice = filter_fixture(&app).await;
    let two = alice.get("/methods?tag=alpha").await;
    assert_eq!(
        texts(&two.body, "p.filter-count"),
        ["2 methods have all of these tags:"]
    );
    let one = alice.get("/methods?tag=alpha&tag=gamma").await;
    assert_eq!(
        texts(&one.body, "p.filter-count"),
        ["1 method has all of these tags:"]
    );
    let none = alice.get("/methods?tag=beta&tag=gamma").await;
    assert_eq!(
        texts(&none.body, "p.filter-count"),
        ["No method has all of these tags:"]
    );
    none.assert_contains("Remove a tag above to see more methods.");
    for page in [&two, &one, &none] {
        assert!(!page.body.contains("method(s)"));
    }
    let tag_page = alice.get("/tags/gamma").await;
    tag_page.assert_contains("1 method carries this tag.");
}

// ------------------------------------------------------------ search

/// A page written in Markdown with a heading, emphasis, a wiki link with a
/// label and an indicator tag.
async fn searchable(app: &TestApp) -> Client {
    let mut alice = app.member("alice").await;
    let body = "*The zorbel fair* opens the year.\n\n## Steps\n\nInvite [[Peer Assist|the assist team]] early.\n";
    alice
        .post(
            "/methods",
            &[
                ("title", "Fair Day"),
                ("body", body),
                ("tags", "lkm-1, fairs"),
                ("confirm_tags", "1"),
            ],
        )
        .await
        .assert_status(StatusCode::SEE_OTHER);
    alice
}

#[tokio::test]
async fn search_snippets_read_as_the_rendered_text() {
    let app = TestApp::new().await;
    let mut alice = searchable(&app).await;
    let page = alice.get("/search?q=zorbel").await;
    page.assert_status(StatusCode::OK);
    let snippets = texts(&page.body, "ol.search-results p.snippet");
    assert_eq!(
        snippets,
        ["The zorbel fair opens the year. Steps — Invite the assist team early."],
        "no Markdown, the heading set apart, the wiki link's label"
    );
    page.assert_contains("<mark>zorbel</mark>");
    let steps = alice.get("/search?q=invite+early").await;
    let snippet = texts(&steps.body, "ol.search-results p.snippet").concat();
    assert!(!snippet.contains(['*', '#', '|', '[']), "{snippet}");
    assert!(snippet.contains("Steps — "), "{snippet}");
}

#[tokio::test]
async fn search_results_show_tags_with_indicator_names() {
    let app = TestApp::new().await;
    let mut alice = searchable(&app).await;
    let page = alice.get("/search?q=zorbel").await;
    assert_eq!(
        texts(&page.body, "ol.search-results ul.tags a.tag"),
        ["lkm-1 · Learning agenda in place", "fairs"]
    );
}

#[tokio::test]
async fn a_phrase_is_quoted_once_in_results_for() {
    let app = TestApp::new().await;
    let mut alice = searchable(&app).await;
    let phrase = alice.get("/search?q=%22zorbel+fair%22").await;
    assert_eq!(
        texts(&phrase.body, "main p[role=status]"),
        ["1 result for \"zorbel fair\"."]
    );
    let words = alice.get("/search?q=zorbel+fair").await;
    assert_eq!(
        texts(&words.body, "main p[role=status]"),
        ["1 result for “zorbel fair”."]
    );
    let none = alice.get("/search?q=%22no+such+phrase%22").await;
    assert!(
        texts(&none.body, "main p[role=status]")
            .concat()
            .starts_with("No results for \"no such phrase\"."),
        "{:?}",
        texts(&none.body, "main p[role=status]")
    );
}

// ------------------------------------------------------------ outcomes

async fn tell(client: &mut Client, title: &str, outcome: &str) {
    client
        .post(
            "/methods/peer-assist/stories",
            &[
                ("title", title),
                ("body", "What happened."),
                ("outcome", outcome),
                ("location", "Accra"),
            ],
        )
        .await
        .assert_status(StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn outcome_labels_are_capitalised_and_an_outcome_without_stories_is_not_a_link() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    tell(&mut alice, "It worked", "success").await;
    tell(&mut alice, "Too soon", "too-early").await;
    let page = alice.get("/methods/peer-assist").await;
    let badges = texts(&page.body, "#stories .story-outcome");
    assert!(badges.contains(&"Success".to_owned()), "{badges:?}");
    assert!(
        badges.contains(&"Too early to tell".to_owned()),
        "{badges:?}"
    );
    let links = texts(&page.body, "nav.outcome-filter a");
    assert_eq!(
        links,
        ["Success (1)", "Too early to tell (1)"],
        "only outcomes with stories are links"
    );
    assert_eq!(
        texts(&page.body, "nav.outcome-filter .outcome-none"),
        ["Mixed (0)", "Failure (0)"]
    );
    let form = texts(&page.body, "#stories label");
    assert!(
        form.contains(&"Failure".to_owned()),
        "the story form's choices: {form:?}"
    );
    let search = alice.get("/search?q=worked").await;
    search.assert_contains("Outcome: Success");
}

/// The suggestions are kept between forms (`cache::by_clock`): a tag that
/// comes into use, and one that goes out of use, show in the next form.
#[tokio::test]
async fn the_tag_box_offers_a_tag_as_soon_as_a_page_has_it_and_not_after() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let offered = |html: &str| attr(html, "datalist#tag-vocabulary option", "value");
    let before = alice.get("/methods/new").await;
    assert!(!offered(&before.body).contains(&"sociogram".to_owned()));
    create(&mut alice, "Network Map", "sociogram", true)
        .await
        .assert_status(StatusCode::SEE_OTHER);
    let form = alice.get("/methods/network-map/edit").await;
    assert!(
        offered(&form.body).contains(&"sociogram".to_owned()),
        "the new tag is offered in the next form"
    );
    let base = alice.base_revision("/methods/network-map").await;
    alice
        .edit_page("/methods/network-map", &base, "No tags now.\n", "", "untag")
        .await
        .assert_status(StatusCode::SEE_OTHER);
    let form = alice.get("/methods/new").await;
    assert!(
        !offered(&form.body).contains(&"sociogram".to_owned()),
        "a tag no page has is no longer offered"
    );
}
