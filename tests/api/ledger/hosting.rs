//! App hosting metered end to end: a deployed app's requests, served through the router and written by
//! the analytics batches, are charged to its owner at the configured price; an owner who runs out keeps
//! the app serving through the grace period, then it pauses with a page saying why; resumed without
//! credits it pauses again, resumed with credits it is charged again.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;
use vibe_test_components::HELLO_STD;

use super::{balance, set_balance};
use crate::app_hosting::{answer, component, deployed, eventually, new_app, via_path};
use crate::support::TestServer;

/// `count` requests to the app, each answered by it; then every batch written (and charged).
async fn serve(server: &TestServer, slug: &str, count: usize) {
    for _ in 0..count {
        assert_eq!(
            answer(via_path(server, Method::GET, slug, "/", "").await).await,
            (StatusCode::OK, "hello from /\n".to_owned())
        );
    }
    server.state.apps.flush().await;
}

async fn notifications(db: &PgPool, user: Uuid, kind: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE kind = 'notification' AND user_id = $1 AND data->>'kind' = $2",
    )
    .bind(user)
    .bind(kind)
    .fetch_one(db)
    .await
    .unwrap()
}

/// Waits until the app answers the paused page, and returns its text.
async fn paused_page(server: &TestServer, slug: &str) -> String {
    eventually("the app to pause", || async {
        let (status, page) = answer(via_path(server, Method::GET, slug, "/", "").await).await;
        (status == StatusCode::SERVICE_UNAVAILABLE).then_some(page)
    })
    .await
}

#[sqlx::test(migrations = "../migrations")]
async fn an_app_is_charged_per_request_serves_through_its_grace_period_then_pauses(db: PgPool) {
    let server = TestServer::start_with(db.clone(), |config| {
        // 250 credits per 1,000 requests: a quarter of a credit each, so fractions must add up.
        config.credits.price_app_1k_requests = 250;
        config.credits.app_grace_minutes = 1;
    })
    .await;
    let owner = server.signup("owner@example.com").await;
    let app = new_app(&db, owner.id, "plants").await;
    deployed(&owner, app, component(HELLO_STD)).await;
    set_balance(&db, owner.id, 2).await;

    // 6 requests are 1.5 credits: 1 charged, half a credit carried over.
    serve(&server, "plants", 6).await;
    assert_eq!(balance(&db, owner.id).await, 1);
    // 2 more make 2 credits: the second is charged.
    serve(&server, "plants", 2).await;
    assert_eq!(balance(&db, owner.id).await, 0);
    let credits: Value = owner.get("/api/credits").await.json().await.unwrap();
    assert_eq!(credits["usage"]["apps"][0]["id"], app.to_string(), "{credits}");
    assert_eq!(credits["usage"]["apps"][0]["credits"], 2, "{credits}");
    assert_eq!(credits["usage"]["apps"][0]["entries"], 2, "{credits}");

    // Out of credits: the app keeps serving, and the owner is told when it will pause.
    serve(&server, "plants", 4).await;
    serve(&server, "plants", 4).await;
    assert_eq!(notifications(&db, owner.id, "app_credits_grace").await, 1);
    assert_eq!(balance(&db, owner.id).await, 0, "nothing charged beyond the balance");

    // The grace period ends: the next charge pauses it, with a page that says why.
    sqlx::query("UPDATE app_credit_grace SET deadline = now() - interval '1 second' WHERE app_id = $1")
        .bind(app)
        .execute(&db)
        .await
        .unwrap();
    serve(&server, "plants", 4).await;
    let page = paused_page(&server, "plants").await;
    assert!(page.contains("This app is paused") && page.contains("credits have run out"), "{page}");
    assert_eq!(notifications(&db, owner.id, "app_paused_no_credits").await, 1);
    let status: String =
        sqlx::query_scalar("SELECT status FROM apps WHERE id = $1").bind(app).fetch_one(&db).await.unwrap();
    assert_eq!(status, "paused");

    // Resumed without credits, it serves until its next batch is charged, then pauses again.
    let response = owner.post(&format!("/api/apps/{app}/resume"), json!({})).await;
    assert_eq!(response.json::<Value>().await.unwrap()["status"], "deployed");
    eventually("the app to serve again", || async {
        let (status, _) = answer(via_path(&server, Method::GET, "plants", "/", "").await).await;
        (status == StatusCode::OK).then_some(())
    })
    .await;
    serve(&server, "plants", 4).await;
    paused_page(&server, "plants").await;
    assert_eq!(notifications(&db, owner.id, "app_paused_no_credits").await, 1, "told once");

    // With credits again and resumed, it serves and is charged; the grace bookkeeping ends.
    set_balance(&db, owner.id, 10).await;
    let response = owner.post(&format!("/api/apps/{app}/resume"), json!({})).await;
    assert_eq!(response.json::<Value>().await.unwrap()["status"], "deployed");
    eventually("the app to serve again", || async {
        let (status, _) = answer(via_path(&server, Method::GET, "plants", "/", "").await).await;
        (status == StatusCode::OK).then_some(())
    })
    .await;
    serve(&server, "plants", 4).await;
    assert!(balance(&db, owner.id).await < 10, "charged again");
    let grace: i64 = sqlx::query_scalar("SELECT count(*) FROM app_credit_grace WHERE app_id = $1")
        .bind(app)
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(grace, 0);
}
