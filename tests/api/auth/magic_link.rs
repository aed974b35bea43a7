//! Magic links, end to end: the mail is read from the outbox, the link opened, the token posted back.

use reqwest::header::{CONTENT_TYPE, LOCATION, SET_COOKIE};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;

use super::{cookie_pair, count, error_field, set_cookie};
use crate::support::{TestServer, error_code};

const CONFIRM: &str = "/api/auth/magic-link/confirm";

async fn request_link(server: &TestServer, email: &str) -> Response {
    server.anon(Method::POST, "/api/auth/magic-link").json(&json!({"email": email})).send().await.unwrap()
}

/// Asks for a link for `email` and returns the token from the mail it sent.
async fn mailed_token(server: &TestServer, email: &str) -> String {
    let response = request_link(server, email).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let (recipient, body): (String, String) =
        sqlx::query_as("SELECT recipient, body FROM mail_outbox ORDER BY created_at DESC, id LIMIT 1")
            .fetch_one(&server.db)
            .await
            .unwrap();
    assert_eq!(recipient, email.trim().to_lowercase());
    let prefix = format!("http://{}{CONFIRM}?token=", server.addr);
    let start = body.find(&prefix).unwrap_or_else(|| panic!("a link in {body}")) + prefix.len();
    body[start..].split_whitespace().next().unwrap().to_owned()
}

async fn confirm_json(server: &TestServer, token: &str) -> Response {
    server.anon(Method::POST, CONFIRM).json(&json!({"token": token})).send().await.unwrap()
}

async fn confirm_form(server: &TestServer, token: &str, origin: &str) -> Response {
    server
        .anon(Method::POST, CONFIRM)
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header("origin", origin)
        .body(format!("token={token}"))
        .send()
        .await
        .unwrap()
}

async fn used(server: &TestServer) -> i64 {
    count(&server.db, "SELECT count(*) FROM magic_link_tokens WHERE used_at IS NOT NULL").await
}

#[sqlx::test(migrations = "../migrations")]
async fn a_link_signs_up_a_new_address_once(db: PgPool) {
    let server = TestServer::start(db).await;
    let token = mailed_token(&server, " Neo@Example.com").await;

    // Only the SHA-256 is stored, expiring in 15 minutes.
    let (hashed, minutes): (bool, f64) = sqlx::query_as(
        "SELECT token_hash = sha256(convert_to($1, 'UTF8')), \
         extract(epoch FROM expires_at - created_at)::float8 / 60 FROM magic_link_tokens",
    )
    .bind(&token)
    .fetch_one(&server.db)
    .await
    .unwrap();
    assert!(hashed && (minutes - 15.0).abs() < 0.01, "hash {hashed}, {minutes} minutes");

    // Opening the link (as a mail scanner would, twice) shows a form and consumes nothing.
    for _ in 0..2 {
        let page = server
            .anon(Method::GET, &format!("{CONFIRM}?token={token}&utm_source=mail"))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        assert!(page.headers()[CONTENT_TYPE].to_str().unwrap().starts_with("text/html"));
        assert_eq!(page.headers()["cache-control"], "no-store");
        let html = page.text().await.unwrap();
        assert!(
            html.contains("<form method=\"post\"") && html.contains(&format!("value=\"{token}\"")),
            "{html}"
        );
    }
    assert_eq!(used(&server).await, 0);
    assert_eq!(count(&server.db, "SELECT count(*) FROM users").await, 0);

    let response = confirm_json(&server, &token).await;
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = set_cookie(&response);
    assert!(cookie.to_ascii_lowercase().contains("httponly"), "{cookie}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["user"]["email"], "neo@example.com");
    assert_eq!(body["user"]["credits_balance"], 100);
    let me = server.anon(Method::GET, "/api/users/me").bearer_auth(body["token"].as_str().unwrap()).send();
    assert_eq!(me.await.unwrap().status(), StatusCode::OK);
    assert_eq!(used(&server).await, 1);
    let no_password = count(&server.db, "SELECT count(*) FROM users WHERE password_hash IS NULL").await;
    assert_eq!(no_password, 1);

    let again = confirm_json(&server, &token).await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    assert!(again.headers().get(SET_COOKIE).is_none());
    let message = again.json::<Value>().await.unwrap()["error"]["message"].as_str().unwrap().to_owned();
    assert!(message.contains("already used"), "{message}");
    assert_eq!(count(&server.db, "SELECT count(*) FROM login_sessions").await, 1);
    assert_eq!(count(&server.db, "SELECT count(*) FROM users").await, 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_link_signs_in_an_existing_account(db: PgPool) {
    let server = TestServer::start(db).await;
    let ada = server.signup("ada@example.com").await;
    let token = mailed_token(&server, "ADA@example.com").await;
    let response = confirm_json(&server, &token).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["user"]["id"], ada.id.to_string());
    assert_eq!(count(&server.db, "SELECT count(*) FROM users").await, 1);
    assert_eq!(count(&server.db, "SELECT count(*) FROM credit_ledger").await, 1, "no second welcome grant");
}

#[sqlx::test(migrations = "../migrations")]
async fn asking_for_a_link_tells_nothing_about_accounts(db: PgPool) {
    let server = TestServer::start(db).await;
    server.signup("ada@example.com").await;
    for email in ["ada@example.com", "nobody@example.com"] {
        let response = request_link(&server, email).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        assert_eq!(response.text().await.unwrap(), "");
    }
    assert_eq!(count(&server.db, "SELECT count(*) FROM mail_outbox").await, 2);

    let response = request_link(&server, "not an email").await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_field(response).await, ("validation_failed".into(), Some("email".into())));
    assert_eq!(count(&server.db, "SELECT count(*) FROM magic_link_tokens").await, 2);
}

#[sqlx::test(migrations = "../migrations")]
async fn expired_unknown_and_malformed_tokens_fail_and_write_nothing(db: PgPool) {
    let server = TestServer::start(db).await;
    let token = mailed_token(&server, "neo@example.com").await;
    sqlx::query("UPDATE magic_link_tokens SET expires_at = now() - interval '1 minute'")
        .execute(&server.db)
        .await
        .unwrap();
    let response = confirm_json(&server, &token).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let message = response.json::<Value>().await.unwrap()["error"]["message"].as_str().unwrap().to_owned();
    assert!(message.contains("expired"), "{message}");

    let unknown = "A".repeat(43);
    for bad in [unknown.as_str(), "short", "<script>alert(1)</script>", ""] {
        let response = confirm_json(&server, bad).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(error_code(response).await, "bad_request");
    }
    let page = server.anon(Method::GET, &format!("{CONFIRM}?token=%3Cscript%3E")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::BAD_REQUEST);
    assert!(!page.text().await.unwrap().contains("<script>"), "nothing of the query is echoed raw");

    let extra = server.anon(Method::POST, CONFIRM).json(&json!({"token": token, "email": "x@example.com"}));
    let extra = extra.send().await.unwrap();
    assert_eq!(extra.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_code(extra).await, "validation_failed");

    assert_eq!(used(&server).await, 0);
    assert_eq!(count(&server.db, "SELECT count(*) FROM users").await, 0);
    assert_eq!(count(&server.db, "SELECT count(*) FROM login_sessions").await, 0);
}

#[sqlx::test(migrations = "../migrations")]
async fn the_form_post_sets_the_cookie_and_redirects_home(db: PgPool) {
    let server = TestServer::start(db).await;
    let origin = format!("http://{}", server.addr);
    let token = mailed_token(&server, "neo@example.com").await;

    // A form posted from another site must not sign the visitor into someone's account.
    let foreign = confirm_form(&server, &token, "https://evil.example").await;
    assert_eq!(foreign.status(), StatusCode::FORBIDDEN);
    assert!(foreign.headers().get(SET_COOKIE).is_none());
    assert_eq!(used(&server).await, 0);

    let response = confirm_form(&server, &token, &origin).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[LOCATION], "/");
    let cookie = set_cookie(&response);
    let me = server
        .anon(Method::GET, "/api/users/me")
        .header("cookie", cookie_pair(&cookie))
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    assert_eq!(me.json::<Value>().await.unwrap()["email"], "neo@example.com");

    let again = confirm_form(&server, &token, &origin).await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    assert!(again.headers()[CONTENT_TYPE].to_str().unwrap().starts_with("text/html"));
    assert!(again.text().await.unwrap().contains("already used"));
    assert_eq!(count(&server.db, "SELECT count(*) FROM login_sessions").await, 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn links_are_rate_limited(db: PgPool) {
    let server = TestServer::start_with(db, |c| c.auth_rate_per_minute = 2).await;
    for _ in 0..2 {
        assert_eq!(request_link(&server, "neo@example.com").await.status(), StatusCode::ACCEPTED);
    }
    let response = request_link(&server, "neo@example.com").await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(error_code(response).await, "rate_limited");
    assert_eq!(count(&server.db, "SELECT count(*) FROM mail_outbox").await, 2);
}
