//! Forged, expired and revoked tokens are refused with 401, as bearer and as cookie.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{Method, StatusCode};
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;
use vibe_host::auth::token::Claims;

use crate::support::{TestServer, error_code};

/// A signed-up user's id and login session.
async fn session_of(server: &TestServer, email: &str) -> (Uuid, Uuid, String) {
    let user = server.signup(email).await;
    let sid = server.state.tokens.verify(&user.token).expect("the server's own token verifies").sid;
    (user.id, sid, user.token)
}

fn claims(sub: Uuid, sid: Uuid, exp_in_seconds: i64) -> Claims {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    Claims { sub, sid, iat: now, exp: now + exp_in_seconds }
}

fn encode(header: &serde_json::Value, claims: &Claims, signature: &str) -> String {
    let header = URL_SAFE_NO_PAD.encode(serde_json::to_vec(header).unwrap());
    let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap());
    format!("{header}.{body}.{signature}")
}

/// Checks that `token` is refused as a bearer token and as a cookie, and that a valid token is not.
async fn assert_refused(server: &TestServer, token: &str, what: &str) {
    let bearer = server.anon(Method::GET, "/api/users/me").bearer_auth(token).send().await.unwrap();
    assert_eq!(bearer.status(), StatusCode::UNAUTHORIZED, "bearer: {what}");
    assert_eq!(error_code(bearer).await, "unauthorized", "{what}");
    let cookie = server
        .anon(Method::GET, "/api/users/me")
        .header("cookie", format!("vibe_session={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(cookie.status(), StatusCode::UNAUTHORIZED, "cookie: {what}");
}

#[sqlx::test(migrations = "../migrations")]
async fn forged_tokens_are_refused(db: PgPool) {
    let server = TestServer::start(db).await;
    let (user, sid, good) = session_of(&server, "ada@example.com").await;
    let ok = server.anon(Method::GET, "/api/users/me").bearer_auth(&good).send().await.unwrap();
    assert_eq!(ok.status(), StatusCode::OK, "the genuine token works");

    let live = claims(user, sid, 3600);
    let none = encode(&json!({"alg": "none", "typ": "JWT"}), &live, "");
    assert_refused(&server, &none, "alg none").await;
    let none_upper = encode(&json!({"alg": "None", "typ": "JWT"}), &live, "");
    assert_refused(&server, &none_upper, "alg None").await;

    let hs512 = jsonwebtoken::encode(
        &Header::new(Algorithm::HS512),
        &live,
        &EncodingKey::from_secret(&server.token_key),
    )
    .unwrap();
    assert_refused(&server, &hs512, "HS512 with the right key").await;

    let other_key = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &live,
        &EncodingKey::from_secret(b"guessed key"),
    )
    .unwrap();
    assert_refused(&server, &other_key, "HS256 with another key").await;

    // The genuine signature over a changed body (a later expiry).
    let signature = good.rsplit('.').next().unwrap();
    let longer = encode(&json!({"alg": "HS256", "typ": "JWT"}), &claims(user, sid, 86_400 * 365), signature);
    assert_refused(&server, &longer, "tampered body").await;

    for garbage in ["", "abc", "a.b.c", &"x".repeat(5000)] {
        assert_refused(&server, garbage, "garbage").await;
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn validly_signed_tokens_for_dead_sessions_are_refused(db: PgPool) {
    let server = TestServer::start(db).await;
    let (ada, ada_sid, ada_token) = session_of(&server, "ada@example.com").await;
    let (bob, _, _) = session_of(&server, "bob@example.com").await;
    let keys = &server.state.tokens;

    let expired = keys.issue(&claims(ada, ada_sid, -1)).unwrap();
    assert_refused(&server, &expired, "expired token over a live session").await;

    let unknown_session = keys.issue(&claims(ada, Uuid::now_v7(), 3600)).unwrap();
    assert_refused(&server, &unknown_session, "session that never existed").await;

    let someone_elses = keys.issue(&claims(bob, ada_sid, 3600)).unwrap();
    assert_refused(&server, &someone_elses, "Ada's session claimed for Bob").await;

    // A session past its expiry in the database, even though the token says it still runs.
    sqlx::query("UPDATE login_sessions SET expires_at = now() - interval '1 second' WHERE id = $1")
        .bind(ada_sid)
        .execute(&server.db)
        .await
        .unwrap();
    assert_refused(&server, &ada_token, "session expired in the database").await;

    // A valid signature over a revoked session.
    let login = server
        .anon(Method::POST, "/api/auth/login")
        .json(&json!({"email": "ada@example.com", "password": "correct horse battery"}))
        .send()
        .await
        .unwrap();
    let token = login.json::<serde_json::Value>().await.unwrap()["token"].as_str().unwrap().to_owned();
    let logout = server.anon(Method::POST, "/api/auth/logout").bearer_auth(&token).send().await.unwrap();
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    let revoked_sid = keys.verify(&token).unwrap().sid;
    let reissued = keys.issue(&claims(ada, revoked_sid, 3600)).unwrap();
    assert_refused(&server, &token, "revoked session").await;
    assert_refused(&server, &reissued, "fresh signature over a revoked session").await;
}
