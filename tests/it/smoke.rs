use crate::support::TestApp;
use axum::http::StatusCode;

#[tokio::test]
async fn a_member_joins_creates_a_page_and_edits_it() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let path = alice
        .create_page(
            "Knowledge Fair",
            "## Brief Description\n\nA fair.\n",
            "learning, LKM-1",
        )
        .await;
    assert_eq!(path, "/methods/knowledge-fair");
    let base = alice.base_revision(&path).await;
    let saved = alice
        .edit_page(
            &path,
            &base,
            "## Brief Description\n\nA market of ideas.\n",
            "learning",
            "clearer",
        )
        .await;
    saved.assert_status(StatusCode::SEE_OTHER);
    let page = alice.get(&path).await;
    page.assert_status(StatusCode::OK)
        .assert_contains("A market of ideas.")
        .assert_contains("Revision 2");
    let history = alice.get(&format!("{path}/history")).await;
    history.assert_contains("clearer");
}
