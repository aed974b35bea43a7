//! Operators find an account by email and grant it credits over the API: once per idempotency key, a
//! reused key with other terms refused, nothing for anyone else.

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use super::balance;
use crate::support::{TestServer, error_code};

#[sqlx::test(migrations = "../migrations")]
async fn operators_find_accounts_by_email_and_grant_credits_once_per_key(db: PgPool) {
    let server = TestServer::start(db.clone()).await;
    let ada = server.signup("ada@example.com").await;
    let grace = server.signup("grace@example.com").await;
    let start = balance(&db, ada.id).await;

    // Not an operator: neither the lookup nor a grant, and nothing written.
    let find = "/api/accounts?email=ada@example.com";
    assert_eq!(error_code(grace.get(find).await).await, "forbidden");
    let grant_path = format!("/api/accounts/{}/grants", ada.id);
    let refused = grace.post(&grant_path, json!({"amount": 500, "idempotency_key": "k1"})).await;
    assert_eq!(error_code(refused).await, "forbidden");
    assert_eq!(balance(&db, ada.id).await, start);

    sqlx::query("UPDATE users SET role = 'operator' WHERE id = $1")
        .bind(grace.id)
        .execute(&db)
        .await
        .unwrap();
    let found: Value = grace.get("/api/accounts?email=%20ADA@Example.com%20").await.json().await.unwrap();
    assert_eq!(
        (found["id"].as_str(), found["email"].as_str()),
        (Some(ada.id.to_string().as_str()), Some("ada@example.com"))
    );
    assert_eq!(found["credits_balance"], start);
    assert!(found.get("password_hash").is_none(), "{found}");
    assert_eq!(grace.get("/api/accounts?email=nobody@example.com").await.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(grace.get("/api/accounts?email=not-an-email").await).await, "validation_failed");

    // A grant, then the same request again (a retry): one entry, the first answer.
    let body = json!({"amount": 250, "reason": "beta tester", "idempotency_key": "k1"});
    let first = grace.post(&grant_path, body.clone()).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();
    assert_eq!(
        (first["balance_after"].clone(), first["replayed"].clone()),
        (json!(start + 250), json!(false))
    );
    let again = grace.post(&grant_path, body).await;
    assert_eq!(again.status(), StatusCode::OK);
    let again: Value = again.json().await.unwrap();
    assert_eq!(
        (again["ledger_id"].clone(), again["replayed"].clone()),
        (first["ledger_id"].clone(), json!(true))
    );
    assert_eq!(balance(&db, ada.id).await, start + 250);

    // The key for something else, a bad amount, an unknown account: refused, nothing written.
    let other = grace.post(&grant_path, json!({"amount": 900, "idempotency_key": "k1"})).await;
    assert_eq!(other.status(), StatusCode::CONFLICT);
    for bad in [json!({"amount": 0, "idempotency_key": "k2"}), json!({"amount": 10, "idempotency_key": " "})]
    {
        assert_eq!(error_code(grace.post(&grant_path, bad).await).await, "validation_failed");
    }
    let nobody = format!("/api/accounts/{}/grants", Uuid::now_v7());
    let missing = grace.post(&nobody, json!({"amount": 5, "idempotency_key": "k3"})).await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(balance(&db, ada.id).await, start + 250);

    // Ada reads the grant in her ledger with its reason.
    let credits: Value = ada.get("/api/credits").await.json().await.unwrap();
    assert_eq!(credits["ledger"][0]["reason"], "beta tester");
    assert_eq!(credits["ledger"][0]["kind"], "grant");
    assert_eq!(credits["ledger"][0]["amount"], 250);
}
