//! Operations endpoints and what every response carries: health, readiness, metrics, request ids.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::Value;
use sqlx::PgPool;

use crate::support::{TestServer, error_code};

#[sqlx::test(migrations = "../migrations")]
async fn health_and_readiness_follow_the_database(db: PgPool) {
    let server = TestServer::start(db).await;
    let health = server.anon(Method::GET, "/healthz").send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    let ready = server.anon(Method::GET, "/readyz").send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);

    // Closing the pool must not hang on the connection the event bus listens on.
    tokio::time::timeout(Duration::from_secs(5), server.state.db.close())
        .await
        .expect("the pool closes: the event relay lets go of its connection");
    let ready = server.anon(Method::GET, "/readyz").send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    // Alive, though not ready.
    let health = server.anon(Method::GET, "/healthz").send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    // And an API call that needs the database says so in the error shape.
    let login = server
        .anon(Method::POST, "/api/auth/login")
        .json(&serde_json::json!({"email": "a@example.com", "password": "whatever1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(error_code(login).await, "unavailable");
}

#[sqlx::test(migrations = "../migrations")]
async fn metrics_count_requests_by_route(db: PgPool) {
    let server = TestServer::start(db).await;
    let id = uuid::Uuid::new_v4();
    let response = server.anon(Method::GET, &format!("/api/ideas/{id}")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    let metrics = server.anon(Method::GET, "/metrics").send().await.unwrap();
    assert_eq!(metrics.status(), StatusCode::OK);
    assert!(metrics.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    let text = metrics.text().await.unwrap();
    // Labelled by route template, never by the id in the path.
    let line = text
        .lines()
        .find(|l| l.starts_with("vibe_http_requests_total{") && l.contains("route=\"/api/ideas/{id}\""))
        .unwrap_or_else(|| panic!("no request counter for the route:\n{text}"));
    assert!(line.contains("status=\"401\"") && line.contains("method=\"GET\""), "{line}");
    assert!(line.ends_with(" 1"), "{line}");
    assert!(!text.contains(&id.to_string()), "ids never become labels");
    assert!(text.contains("vibe_http_request_duration_seconds"), "{text}");
}

#[sqlx::test(migrations = "../migrations")]
async fn every_response_has_a_request_id(db: PgPool) {
    let server = TestServer::start(db).await;
    for path in
        ["/healthz", "/readyz", "/metrics", "/api/openapi.json", "/api/users/me", "/api/nothing-here", "/"]
    {
        let response = server.anon(Method::GET, path).send().await.unwrap();
        let id = response.headers().get("x-request-id").unwrap_or_else(|| panic!("{path}: no x-request-id"));
        let id = id.to_str().unwrap();
        assert!(uuid::Uuid::parse_str(id).is_ok(), "{path}: a fresh UUID, got {id}");
    }
    // Two requests, two ids.
    let first = server.anon(Method::GET, "/healthz").send().await.unwrap();
    let second = server.anon(Method::GET, "/healthz").send().await.unwrap();
    assert_ne!(first.headers()["x-request-id"], second.headers()["x-request-id"]);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_sane_client_request_id_is_echoed_and_put_in_errors(db: PgPool) {
    let server = TestServer::start(db).await;
    let response = server
        .anon(Method::GET, "/api/users/me")
        .header("x-request-id", "trace-42_abc")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.headers()["x-request-id"], "trace-42_abc");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["request_id"], "trace-42_abc");
    assert_eq!(body["error"]["code"], "unauthorized");

    // Ids that could forge log lines or bloat them are replaced by our own.
    for insane in ["has space", "line\tbreak", &"x".repeat(65), "quote\"d", ""] {
        let response =
            server.anon(Method::GET, "/api/users/me").header("x-request-id", insane).send().await.unwrap();
        let echoed = response.headers()["x-request-id"].to_str().unwrap().to_owned();
        assert_ne!(echoed, insane);
        assert!(uuid::Uuid::parse_str(&echoed).is_ok(), "{echoed}");
        // The body carries the same id as the header.
        assert_eq!(error_code(response).await, "unauthorized");
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn unknown_api_paths_answer_404_in_the_error_shape(db: PgPool) {
    let server = TestServer::start(db).await;
    for (method, path) in [
        (Method::GET, "/api/nothing-here"),
        (Method::POST, "/api/ideas/not/a/route"),
        (Method::GET, "/api"),
        (Method::DELETE, "/api/v2/ideas"),
    ] {
        let response = server.anon(method.clone(), path).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{method} {path}");
        assert_eq!(error_code(response).await, "not_found", "{method} {path}");
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn a_wrong_method_answers_405_in_the_error_shape(db: PgPool) {
    let server = TestServer::start(db).await;
    for (method, path) in
        [(Method::PUT, "/api/ideas"), (Method::POST, "/api/users/me"), (Method::DELETE, "/api/ws")]
    {
        let response = server.anon(method.clone(), path).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        assert_eq!(error_code(response).await, "method_not_allowed", "{method} {path}");
    }
}
