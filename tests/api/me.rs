//! `/api/users/me`: reading and changing one's account, by bearer token and by cookie.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::auth::error_field;
use crate::support::{TestServer, error_code};

#[sqlx::test(migrations = "../migrations")]
async fn me_requires_a_session_and_never_shows_the_hash(db: PgPool) {
    let server = TestServer::start(db).await;
    for method in [Method::GET, Method::PATCH] {
        let response = server.anon(method.clone(), "/api/users/me").json(&json!({})).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{method}");
        assert_eq!(error_code(response).await, "unauthorized");
    }

    let ada = server.signup("ada@example.com").await;
    let response = ada.get("/api/users/me").await;
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    assert!(!text.contains("password") && !text.contains("argon2"), "{text}");
    let me: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(me["id"], ada.id.to_string());
    assert_eq!(me["email"], "ada@example.com");
    assert_eq!(me["profile"], json!({}));
    assert_eq!(me["credits_balance"], 100);
}

#[sqlx::test(migrations = "../migrations")]
async fn patch_changes_name_and_profile(db: PgPool) {
    let server = TestServer::start(db).await;
    let ada = server.signup("ada@example.com").await;
    let profile =
        json!({"passions": ["gardening"], "skills": ["spreadsheets"], "constraints": {"budget": 0}});
    let response = ada.patch("/api/users/me", json!({"name": "  Ada L. ", "profile": profile})).await;
    assert_eq!(response.status(), StatusCode::OK);
    let updated: Value = response.json().await.unwrap();
    assert_eq!(updated["name"], "Ada L.");
    assert_eq!(updated["profile"], profile);

    // Absent fields stay as they are.
    let response = ada.patch("/api/users/me", json!({"name": "Ada"})).await;
    assert_eq!(response.status(), StatusCode::OK);
    let me: Value = ada.get("/api/users/me").await.json().await.unwrap();
    assert_eq!((&me["name"], &me["profile"]), (&json!("Ada"), &profile));
    let stored: (String, Value) = sqlx::query_as("SELECT name, profile FROM users WHERE id = $1")
        .bind(ada.id)
        .fetch_one(&server.db)
        .await
        .unwrap();
    assert_eq!(stored, ("Ada".to_owned(), profile));
}

#[sqlx::test(migrations = "../migrations")]
async fn patch_validates_and_changes_nothing_when_invalid(db: PgPool) {
    let server = TestServer::start(db).await;
    let ada = server.signup("ada@example.com").await;
    let big = json!({"notes": "x".repeat(16 * 1024)});
    let cases = [
        (json!({"profile": ["gardening"]}), "profile"),
        (json!({"profile": "gardening"}), "profile"),
        (json!({"profile": big}), "profile"),
        (json!({"profile": {"skills": ["nul\u{0}byte"]}}), "profile"),
        (json!({"name": "n".repeat(201)}), "name"),
        (json!({"name": "tab\tbed"}), "name"),
        (json!({"email": "eve@example.com"}), "body"),
        (json!({"role": "operator"}), "body"),
        (json!({"credits_balance": 1_000_000}), "body"),
    ];
    for (body, field) in cases {
        let response = ada.patch("/api/users/me", body.clone()).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(error_field(response).await, ("validation_failed".into(), Some(field.into())), "{body}");
    }
    let fits = json!({"notes": "x".repeat(16 * 1024 - 20)});
    assert_eq!(ada.patch("/api/users/me", json!({"profile": fits})).await.status(), StatusCode::OK);

    let row: (String, String, i64, String) =
        sqlx::query_as("SELECT email, name, credits_balance, role FROM users WHERE id = $1")
            .bind(ada.id)
            .fetch_one(&server.db)
            .await
            .unwrap();
    assert_eq!(row, ("ada@example.com".into(), "ada@example.com".into(), 100, "user".into()));
}

#[sqlx::test(migrations = "../migrations")]
async fn cookie_changes_need_our_origin_and_bearer_needs_none(db: PgPool) {
    let server = TestServer::start(db).await;
    let ada = server.signup("ada@example.com").await;
    let cookie = format!("vibe_session={}", ada.token);
    let with_cookie = |method: Method| server.anon(method, "/api/users/me").header("cookie", &cookie);

    let read = with_cookie(Method::GET).send().await.unwrap();
    assert_eq!(read.status(), StatusCode::OK, "reads by cookie need no Origin");

    let no_origin = with_cookie(Method::PATCH).json(&json!({"name": "csrf"})).send().await.unwrap();
    assert_eq!(no_origin.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_code(no_origin).await, "forbidden");
    let foreign =
        with_cookie(Method::PATCH).header("origin", "https://evil.example").json(&json!({"name": "csrf"}));
    let foreign = foreign.send().await.unwrap();
    assert_eq!(foreign.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_code(foreign).await, "forbidden");
    let name: String = sqlx::query_scalar("SELECT name FROM users").fetch_one(&server.db).await.unwrap();
    assert_eq!(name, "ada@example.com", "refused requests changed nothing");

    let same = with_cookie(Method::PATCH).header("origin", format!("http://{}", server.addr));
    let same = same.json(&json!({"name": "Ada"})).send().await.unwrap();
    assert_eq!(same.status(), StatusCode::OK);
    assert_eq!(same.json::<Value>().await.unwrap()["name"], "Ada");

    let bearer = ada.patch("/api/users/me", json!({"name": "Ada B."})).await;
    assert_eq!(bearer.status(), StatusCode::OK);
    assert_eq!(bearer.json::<Value>().await.unwrap()["name"], "Ada B.");
}
