//! Credits: the balance, the signup grant in the ledger, and keyset pagination through the ledger.

use reqwest::StatusCode;
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use crate::support::{TestServer, error_code};

/// Spends `amount` credits of `user` as the metering will: balance and ledger row in one transaction.
async fn spend(db: &PgPool, user: Uuid, amount: i64, reason: &str) -> i64 {
    let mut tx = db.begin().await.unwrap();
    let (balance,): (i64,) = sqlx::query_as(
        "UPDATE users SET credits_balance = credits_balance - $2 WHERE id = $1 RETURNING credits_balance",
    )
    .bind(user)
    .bind(amount)
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO credit_ledger (user_id, kind, amount, balance_after, reason) \
         VALUES ($1, 'usage', $2, $3, $4) RETURNING id",
    )
    .bind(user)
    .bind(-amount)
    .bind(balance)
    .bind(reason)
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    id
}

#[sqlx::test(migrations = "../migrations")]
async fn signup_credits_show_as_a_grant(db: PgPool) {
    let server = TestServer::start(db).await;
    let ada = server.signup("ada@example.com").await;
    let response = ada.get("/api/credits").await;
    assert_eq!(response.status(), StatusCode::OK);
    let credits: Value = response.json().await.unwrap();
    assert_eq!(credits["balance"], 100);
    assert_eq!(credits["next_before"], Value::Null);
    let ledger = credits["ledger"].as_array().unwrap();
    assert_eq!(ledger.len(), 1);
    assert_eq!(ledger[0]["kind"], "grant");
    assert_eq!(ledger[0]["amount"], 100);
    assert_eq!(ledger[0]["balance_after"], 100);
    assert!(ledger[0]["created_at"].is_string());
}

#[sqlx::test(migrations = "../migrations")]
async fn the_ledger_pages_newest_first(db: PgPool) {
    let server = TestServer::start(db.clone()).await;
    let ada = server.signup("ada@example.com").await;
    let bob = server.signup("bob@example.com").await;
    let (grant,): (i64,) = sqlx::query_as("SELECT id FROM credit_ledger WHERE user_id = $1")
        .bind(ada.id)
        .fetch_one(&db)
        .await
        .unwrap();
    let mut expected = vec![grant];
    for i in 0..6 {
        expected.push(spend(&db, ada.id, 5, &format!("session {i}")).await);
        spend(&db, bob.id, 1, "bob's").await;
    }
    expected.reverse();

    let mut seen = Vec::new();
    let mut path = "/api/credits?limit=3".to_owned();
    let mut pages = 0;
    loop {
        let page: Value = ada.get(&path).await.json().await.unwrap();
        assert_eq!(page["balance"], 70, "{page}");
        pages += 1;
        let entries = page["ledger"].as_array().unwrap();
        assert!(entries.len() <= 3);
        seen.extend(entries.iter().map(|e| e["id"].as_i64().unwrap()));
        match page["next_before"].as_i64() {
            Some(before) => {
                assert_eq!(Some(before), seen.last().copied());
                path = format!("/api/credits?limit=3&before={before}");
            }
            None => break,
        }
    }
    assert_eq!(seen, expected, "every entry of ada's, once, newest first, and none of bob's");
    assert_eq!(pages, 3);

    let first: Value = ada.get("/api/credits?limit=1").await.json().await.unwrap();
    assert_eq!(first["ledger"][0]["amount"], -5);
    assert_eq!(first["ledger"][0]["balance_after"], 70);
    assert_eq!(first["ledger"][0]["reason"], "session 5");
    let default: Value = ada.get("/api/credits").await.json().await.unwrap();
    assert_eq!(default["ledger"].as_array().unwrap().len(), 7);
}

#[sqlx::test(migrations = "../migrations")]
async fn bad_paging_parameters_are_refused(db: PgPool) {
    let server = TestServer::start(db).await;
    let ada = server.signup("ada@example.com").await;
    for limit in ["0", "101", "-1"] {
        let response = ada.get(&format!("/api/credits?limit={limit}")).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "limit={limit}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["field"], "limit");
    }
    for query in ["limit=ten", "before=abc", "page=2"] {
        let response = ada.get(&format!("/api/credits?{query}")).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(error_code(response).await, "bad_request");
    }
    let response = ada.get("/api/credits?limit=100").await;
    assert_eq!(response.status(), StatusCode::OK);
}
