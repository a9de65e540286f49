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
