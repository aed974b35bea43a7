//! Signup, password login, logout, the session cookie and rate limits, over real HTTP.
//! Forged tokens are in `auth/tokens.rs`, magic links in `auth/magic_link.rs`.

mod magic_link;
mod tokens;

use reqwest::header::SET_COOKIE;
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::support::{TestServer, error_code};

const PASSWORD: &str = "correct horse battery";

/// Reads an error response, checks its shape, and returns its code and field.
pub async fn error_field(response: Response) -> (String, Option<String>) {
    let request_id = response.headers().get("x-request-id").map(|v| v.to_str().unwrap().to_owned());
    let body: Value = response.json().await.expect("error bodies are JSON");
    let error = &body["error"];
    assert!(error["message"].is_string(), "error has a message: {body}");
    assert_eq!(error["request_id"].as_str().map(str::to_owned), request_id, "request id in body: {body}");
    (error["code"].as_str().expect("a code").to_owned(), error["field"].as_str().map(str::to_owned))
}

/// The `Set-Cookie` header of a response, which must be there.
pub fn set_cookie(response: &Response) -> String {
    let values: Vec<_> = response.headers().get_all(SET_COOKIE).iter().collect();
    assert_eq!(values.len(), 1, "one Set-Cookie header");
    values[0].to_str().unwrap().to_owned()
}

/// `name=value` of a `Set-Cookie` header, ready for a `Cookie` header.
pub fn cookie_pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().trim().to_owned()
}

/// The attributes of a `Set-Cookie` header, lowercased, without the `name=value` pair.
fn attributes(set_cookie: &str) -> Vec<String> {
    set_cookie.split(';').skip(1).map(|a| a.trim().to_ascii_lowercase()).collect()
}

/// A count from the database.
pub async fn count(db: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(db).await.unwrap()
}

async fn post(server: &TestServer, path: &str, body: Value) -> Response {
    server.anon(Method::POST, path).json(&body).send().await.unwrap()
}

async fn me_with_bearer(server: &TestServer, token: &str) -> StatusCode {
    server.anon(Method::GET, "/api/users/me").bearer_auth(token).send().await.unwrap().status()
}

#[sqlx::test(migrations = "../migrations")]
async fn signup_answers_user_token_and_cookie(db: PgPool) {
    let server = TestServer::start(db).await;
    let response = server
        .anon(Method::POST, "/api/auth/signup")
        .header("user-agent", "signup-test/1.0")
        .json(&json!({"email": "  Ada@Example.COM ", "password": PASSWORD, "name": " Ada "}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let cookie = set_cookie(&response);
    let body: Value = response.json().await.unwrap();
    let user = &body["user"];
    assert_eq!(user["email"], "ada@example.com");
    assert_eq!(user["name"], "Ada");
    assert_eq!(user["credits_balance"], 100);
    assert_eq!(user["role"], "user");
    assert!(user.get("password_hash").is_none(), "no hash in {user}");
    let token = body["token"].as_str().unwrap();

    assert_eq!(cookie_pair(&cookie), format!("vibe_session={token}"));
    let attrs = attributes(&cookie);
    for expected in ["httponly", "samesite=lax", "path=/", "max-age=1209600"] {
        assert!(attrs.contains(&expected.to_owned()), "{expected} in {cookie}");
    }
    assert!(!attrs.contains(&"secure".to_owned()), "no Secure over plain http: {cookie}");
    assert_eq!(me_with_bearer(&server, token).await, StatusCode::OK);

    let (hash, ua, addr, hours): (String, String, String, f64) = sqlx::query_as(
        "SELECT u.password_hash, s.user_agent, s.client_addr, \
         extract(epoch FROM s.expires_at - s.created_at)::float8 / 3600 \
         FROM users u JOIN login_sessions s ON s.user_id = u.id",
    )
    .fetch_one(&server.db)
    .await
    .unwrap();
    assert!(hash.starts_with("$argon2id$") && !hash.contains(PASSWORD));
    assert_eq!((ua.as_str(), addr.as_str()), ("signup-test/1.0", "127.0.0.1"));
    assert!((hours - 336.0).abs() < 0.01, "session lasts 14 days, not {hours} hours");
    let ledger =
        count(&server.db, "SELECT count(*) FROM credit_ledger WHERE kind = 'grant' AND amount = 100").await;
    assert_eq!(ledger, 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn cookie_is_secure_over_https_and_follows_the_session_lifetime(db: PgPool) {
    let server = TestServer::start_with(db, |c| {
        c.public_url = Some("https://vibe.example".parse().unwrap());
        c.session_hours = 2;
        c.signup_credits = 7;
    })
    .await;
    let response =
        post(&server, "/api/auth/signup", json!({"email": "ada@example.com", "password": PASSWORD})).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let attrs = attributes(&set_cookie(&response));
    assert!(attrs.contains(&"secure".to_owned()) && attrs.contains(&"max-age=7200".to_owned()), "{attrs:?}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["user"]["credits_balance"], 7);
}

#[sqlx::test(migrations = "../migrations")]
async fn signup_validates_and_writes_nothing_when_invalid(db: PgPool) {
    let server = TestServer::start(db).await;
    let long_name = "n".repeat(201);
    let cases = [
        (json!({"email": "not-an-email", "password": PASSWORD}), "email"),
        (json!({"email": "a b@example.com", "password": PASSWORD}), "email"),
        (json!({"email": "ada@example.com", "password": "short12"}), "password"),
        (json!({"email": "ada@example.com", "password": "p".repeat(1025)}), "password"),
        (json!({"email": "ada@example.com", "password": PASSWORD, "name": long_name}), "name"),
    ];
    for (body, field) in cases {
        let response = post(&server, "/api/auth/signup", body).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{field}");
        assert_eq!(error_field(response).await, ("validation_failed".into(), Some(field.into())));
    }
    // Eight characters are enough, 1024 are not too many.
    let response =
        post(&server, "/api/auth/signup", json!({"email": "ada@example.com", "password": "p".repeat(1024)}))
            .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let response =
        post(&server, "/api/auth/signup", json!({"email": "bob@example.com", "password": "12345678"})).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(count(&server.db, "SELECT count(*) FROM users").await, 2);
}

#[sqlx::test(migrations = "../migrations")]
async fn duplicate_signup_is_a_conflict_and_writes_nothing(db: PgPool) {
    let server = TestServer::start(db).await;
    server.signup("ada@example.com").await;
    let tables = ["users", "login_sessions", "credit_ledger"];
    let mut before = Vec::new();
    for table in tables {
        before.push(count(&server.db, &format!("SELECT count(*) FROM {table}")).await);
    }
    let body = json!({"email": "ADA@example.com", "password": "another password"});
    let response = post(&server, "/api/auth/signup", body).await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert!(response.headers().get(SET_COOKIE).is_none());
    assert_eq!(error_code(response).await, "conflict");
    for (table, before) in tables.iter().zip(before) {
        assert_eq!(count(&server.db, &format!("SELECT count(*) FROM {table}")).await, before, "{table}");
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn malformed_bodies_answer_in_the_error_shape(db: PgPool) {
    let server = TestServer::start(db).await;
    let broken = server
        .anon(Method::POST, "/api/auth/signup")
        .header("content-type", "application/json")
        .body(r#"{"email": "ada@example.com", "password": "#)
        .send()
        .await
        .unwrap();
    assert_eq!(broken.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(broken).await, "bad_request");

    let not_json = server.anon(Method::POST, "/api/auth/login").body("email=ada").send().await.unwrap();
    assert_eq!(not_json.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(not_json).await, "bad_request");

    let extra = json!({"email": "ada@example.com", "password": PASSWORD, "role": "operator"});
    let response = post(&server, "/api/auth/signup", extra).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_field(response).await, ("validation_failed".into(), Some("body".into())));
    let response = post(&server, "/api/auth/login", json!({"email": "ada@example.com"})).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(count(&server.db, "SELECT count(*) FROM users").await, 0);
}

#[sqlx::test(migrations = "../migrations")]
async fn login_with_the_right_password_only(db: PgPool) {
    let server = TestServer::start(db).await;
    let ada = server.signup("ada@example.com").await;

    let response =
        post(&server, "/api/auth/login", json!({"email": "ADA@example.com", "password": PASSWORD})).await;
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = set_cookie(&response);
    assert!(attributes(&cookie).contains(&"httponly".to_owned()));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["user"]["id"], ada.id.to_string());
    let token = body["token"].as_str().unwrap();
    assert_ne!(token, ada.token, "a login is a new session");
    assert_eq!(me_with_bearer(&server, token).await, StatusCode::OK);
    assert_eq!(count(&server.db, "SELECT count(*) FROM login_sessions").await, 2);

    let wrong =
        post(&server, "/api/auth/login", json!({"email": "ada@example.com", "password": "wrong pass"})).await;
    let unknown =
        post(&server, "/api/auth/login", json!({"email": "bob@example.com", "password": PASSWORD})).await;
    let mut messages = Vec::new();
    for response in [wrong, unknown] {
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert!(response.headers().get(SET_COOKIE).is_none());
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "invalid_credentials");
        assert_eq!(body["error"]["message"], "wrong email or password");
        messages.push(body["error"]["message"].clone());
    }
    assert_eq!(messages[0], messages[1], "wrong password and unknown email look the same");
    assert_eq!(count(&server.db, "SELECT count(*) FROM login_sessions").await, 2);
}

#[sqlx::test(migrations = "../migrations")]
async fn accounts_without_a_password_cannot_log_in_with_one(db: PgPool) {
    let server = TestServer::start(db).await;
    let new = vibe_host::users::NewUser {
        email: "neo@example.com".into(),
        password_hash: None,
        name: String::new(),
        role: vibe_host::auth::Role::User,
        initial_credits: 0,
    };
    vibe_host::users::create(&server.db, new).await.unwrap();
    for password in ["", PASSWORD] {
        let response =
            post(&server, "/api/auth/login", json!({"email": "neo@example.com", "password": password})).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(error_code(response).await, "invalid_credentials");
    }
    assert_eq!(count(&server.db, "SELECT count(*) FROM login_sessions").await, 0);
}

#[sqlx::test(migrations = "../migrations")]
async fn logout_revokes_the_session_and_clears_the_cookie(db: PgPool) {
    let server = TestServer::start(db).await;
    let ada = server.signup("ada@example.com").await;
    let other =
        post(&server, "/api/auth/login", json!({"email": "ada@example.com", "password": PASSWORD})).await;
    let other: Value = other.json().await.unwrap();
    let other = other["token"].as_str().unwrap();

    let response = ada.request(Method::POST, "/api/auth/logout").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let cleared = set_cookie(&response);
    assert_eq!(cookie_pair(&cleared), "vibe_session=");
    assert!(attributes(&cleared).contains(&"max-age=0".to_owned()), "{cleared}");
    assert_eq!(
        count(&server.db, "SELECT count(*) FROM login_sessions WHERE revoked_at IS NOT NULL").await,
        1
    );

    assert_eq!(me_with_bearer(&server, &ada.token).await, StatusCode::UNAUTHORIZED);
    let again = ada.request(Method::POST, "/api/auth/logout").send().await.unwrap();
    assert_eq!(again.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(again).await, "unauthorized");
    let patch = ada.patch("/api/users/me", json!({"name": "still here?"})).await;
    assert_eq!(patch.status(), StatusCode::UNAUTHORIZED);
    let cookie = server
        .anon(Method::GET, "/api/users/me")
        .header("cookie", format!("vibe_session={}", ada.token))
        .send()
        .await
        .unwrap();
    assert_eq!(cookie.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(me_with_bearer(&server, other).await, StatusCode::OK, "the other session lives on");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_browser_signs_in_and_out_with_the_cookie_alone(db: PgPool) {
    let server = TestServer::start(db).await;
    let browser = reqwest::Client::builder().cookie_store(true).build().unwrap();
    let origin = format!("http://{}", server.addr);
    let signup = browser
        .post(server.url("/api/auth/signup"))
        .json(&json!({"email": "ada@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(signup.status(), StatusCode::CREATED);
    let me = browser.get(server.url("/api/users/me")).send().await.unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    assert_eq!(me.json::<Value>().await.unwrap()["email"], "ada@example.com");

    let foreign =
        browser.post(server.url("/api/auth/logout")).header("origin", "https://evil.example").send();
    let foreign = foreign.await.unwrap();
    assert_eq!(foreign.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_code(foreign).await, "forbidden");
    assert_eq!(count(&server.db, "SELECT count(*) FROM login_sessions WHERE revoked_at IS NULL").await, 1);

    let logout = browser.post(server.url("/api/auth/logout")).header("origin", &origin).send().await.unwrap();
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    let me = browser.get(server.url("/api/users/me")).send().await.unwrap();
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
}

#[sqlx::test(migrations = "../migrations")]
async fn login_attempts_are_rate_limited_per_account_and_per_address(db: PgPool) {
    let server = TestServer::start_with(db, |c| c.auth_rate_per_minute = 2).await;
    server.signup("ada@example.com").await;
    let wrong = json!({"email": "ada@example.com", "password": "wrong password"});
    for _ in 0..2 {
        assert_eq!(post(&server, "/api/auth/login", wrong.clone()).await.status(), StatusCode::UNAUTHORIZED);
    }
    // The budget is spent: even the right password is refused, and so is another account from this address.
    for email in ["ada@example.com", "bob@example.com"] {
        let response = post(&server, "/api/auth/login", json!({"email": email, "password": PASSWORD})).await;
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS, "{email}");
        assert_eq!(error_code(response).await, "rate_limited");
    }
    let link = post(&server, "/api/auth/magic-link", json!({"email": "carol@example.com"})).await;
    assert_eq!(link.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(count(&server.db, "SELECT count(*) FROM login_sessions").await, 1, "the signup's only");
    assert_eq!(count(&server.db, "SELECT count(*) FROM mail_outbox").await, 0);
}
