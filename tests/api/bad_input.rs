//! Hostile and careless input: every bad request is answered in the error shape with the right status,
//! nothing is written, and the server keeps serving.

use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::support::{TestServer, TestUser, error_code};

/// Rows in each table a bad request could have written to.
async fn rows(db: &PgPool) -> Vec<(&'static str, i64)> {
    let mut counts = Vec::new();
    for table in [
        "users",
        "login_sessions",
        "ideas",
        "idea_collaborators",
        "agent_sessions",
        "agent_messages",
        "apps",
        "credit_ledger",
        "events",
        "mail_outbox",
    ] {
        let (n,): (i64,) =
            sqlx::query_as(&format!("SELECT count(*) FROM {table}")).fetch_one(db).await.unwrap();
        counts.push((table, n));
    }
    counts
}

/// Sends `request` and checks it is refused with `status` and `code` in the error shape.
async fn refused(request: RequestBuilder, status: StatusCode, code: &str, what: &str) {
    let response = request.send().await.unwrap();
    if response.status() != status {
        let got = response.status();
        panic!("{what}: {got}, expected {status}: {}", response.text().await.unwrap());
    }
    assert!(
        response.headers()["content-type"].to_str().unwrap().starts_with("application/json"),
        "{what}: JSON error"
    );
    assert_eq!(error_code(response).await, code, "{what}");
}

fn raw_json(request: RequestBuilder, body: impl Into<reqwest::Body>) -> RequestBuilder {
    request.header("content-type", "application/json").body(body)
}

/// The server still answers, and still writes what it should.
async fn still_serving(server: &TestServer) {
    let health = server.anon(Method::GET, "/healthz").send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    server.signup(&format!("after-{}@example.com", uuid::Uuid::new_v4().simple())).await;
}

/// A signed-up user with an idea and a session on it, for endpoints that need them.
async fn user_with_session(server: &TestServer) -> (TestUser, String, String) {
    let user = server.signup("owner@example.com").await;
    let idea = user.post("/api/ideas", json!({"name": "An idea"})).await;
    assert_eq!(idea.status(), StatusCode::CREATED);
    let idea = idea.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let session = user.post("/api/sessions", json!({"idea_id": idea, "agent_type": "ideation"})).await;
    assert_eq!(session.status(), StatusCode::CREATED);
    let session = session.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    (user, idea, session)
}

#[sqlx::test(migrations = "../migrations")]
async fn malformed_json_is_a_400(db: PgPool) {
    let server = TestServer::start(db).await;
    let (user, _, session) = user_with_session(&server).await;
    let before = rows(&server.db).await;
    // Each is malformed before any field name is read, so every endpoint sees the same fault.
    let bodies: [(&str, Vec<u8>); 5] = [
        ("truncated", br#"{""#.to_vec()),
        ("not JSON", b"email=a@example.com".to_vec()),
        ("empty", Vec::new()),
        ("invalid UTF-8", b"[\"\xff\xfe\"]".to_vec()),
        ("number out of range", b"[1e999]".to_vec()),
    ];
    for (what, body) in bodies {
        let signup = server.anon(Method::POST, "/api/auth/signup");
        refused(raw_json(signup, body.clone()), StatusCode::BAD_REQUEST, "bad_request", what).await;
        let idea = user.request(Method::POST, "/api/ideas");
        refused(raw_json(idea, body.clone()), StatusCode::BAD_REQUEST, "bad_request", what).await;
        let message = user.request(Method::POST, &format!("/api/sessions/{session}/message"));
        refused(raw_json(message, body), StatusCode::BAD_REQUEST, "bad_request", what).await;
    }
    // Deep nesting must not blow the stack: refused (as a wrong type or as too deep), nothing more.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    for path in
        ["/api/ideas".to_owned(), format!("/api/sessions/{session}/message"), "/api/users/me".to_owned()]
    {
        let method = if path.ends_with("/me") { Method::PATCH } else { Method::POST };
        let response = raw_json(user.request(method, &path), deep.clone()).send().await.unwrap();
        assert!(response.status().is_client_error(), "{path}: {}", response.status());
        error_code(response).await;
    }
    // JSON without saying so.
    let plain = server
        .anon(Method::POST, "/api/auth/signup")
        .header("content-type", "text/plain")
        .body(json!({"email": "a@example.com", "password": "correct horse battery"}).to_string());
    refused(plain, StatusCode::BAD_REQUEST, "bad_request", "text/plain").await;
    assert_eq!(rows(&server.db).await, before, "nothing written");
    still_serving(&server).await;
}

#[sqlx::test(migrations = "../migrations")]
async fn wrong_types_and_unknown_fields_are_a_422(db: PgPool) {
    let server = TestServer::start(db).await;
    let (user, idea, session) = user_with_session(&server).await;
    let before = rows(&server.db).await;
    let signups = [
        json!({"email": 5, "password": "correct horse battery"}),
        json!({"email": "a@example.com", "password": ["correct horse battery"]}),
        json!({"email": "a@example.com", "password": "correct horse battery", "name": {"first": "A"}}),
        json!({"email": "a@example.com"}),
        json!({"email": "a@example.com", "password": "correct horse battery", "role": "operator"}),
        json!(null),
    ];
    for body in signups {
        let request = server.anon(Method::POST, "/api/auth/signup").json(&body);
        refused(request, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", &body.to_string()).await;
    }
    let calls = [
        (Method::POST, "/api/ideas".to_owned(), json!({"name": 42})),
        (Method::POST, "/api/ideas".to_owned(), json!({"name": "x", "owner_id": user.id})),
        (Method::PATCH, format!("/api/ideas/{idea}"), json!({"summary": false})),
        (
            Method::POST,
            "/api/sessions".to_owned(),
            json!({"idea_id": "not-a-uuid", "agent_type": "ideation"}),
        ),
        (Method::POST, "/api/sessions".to_owned(), json!({"idea_id": idea, "agent_type": 7})),
        (Method::POST, format!("/api/sessions/{session}/message"), json!({"content": null})),
        (
            Method::POST,
            format!("/api/ideas/{idea}/collaborate"),
            json!({"email": ["x@example.com"], "role": "viewer"}),
        ),
        (Method::PATCH, "/api/users/me".to_owned(), json!({"name": 12})),
    ];
    for (method, path, body) in calls {
        let what = format!("{method} {path} {body}");
        let request = user.request(method, &path).json(&body);
        refused(request, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", &what).await;
    }
    // NUL characters, which PostgreSQL cannot store, are a validation error, not an internal one.
    let nul = [
        ("/api/ideas".to_owned(), json!({"name": "a\u{0}b"})),
        (format!("/api/sessions/{session}/message"), json!({"content": "a\u{0}b"})),
    ];
    for (path, body) in nul {
        let request = user.request(Method::POST, &path).json(&body);
        refused(request, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", &path).await;
    }
    let signup = json!({"email": "nul@example.com", "password": "correct horse battery", "name": "a\u{0}b"});
    let request = server.anon(Method::POST, "/api/auth/signup").json(&signup);
    refused(request, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", "NUL in a name").await;
    assert_eq!(rows(&server.db).await, before, "nothing written");
    still_serving(&server).await;
}

/// POSTs `size` bytes of JSON whitespace with chunked transfer encoding (no Content-Length, so the server
/// learns the size only while reading); returns the status and the body.
async fn chunked_post(server: &TestServer, user: &TestUser, path: &str, size: usize) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        server.addr, user.token
    );
    let mut request = head.into_bytes();
    let chunk = vec![b' '; 16 * 1024];
    for _ in 0..size.div_ceil(chunk.len()) {
        request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        request.extend_from_slice(&chunk);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    // The server may answer before reading everything; what matters is its answer.
    let _ = stream.write_all(&request).await;
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    let response = String::from_utf8_lossy(&response).into_owned();
    let status = response.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("an HTTP status line");
    (status, response)
}

#[sqlx::test(migrations = "../migrations")]
async fn bodies_over_one_mebibyte_are_a_413(db: PgPool) {
    let server = TestServer::start(db).await;
    let (user, _, session) = user_with_session(&server).await;
    let before = rows(&server.db).await;
    let huge = "x".repeat(1024 * 1024 + 1);

    let signup = json!({"email": "big@example.com", "password": "correct horse battery", "name": huge});
    let request = server.anon(Method::POST, "/api/auth/signup").json(&signup);
    refused(request, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "signup").await;
    let request = user.request(Method::POST, "/api/ideas").json(&json!({"name": "Big", "summary": huge}));
    refused(request, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "idea").await;
    let request = user
        .request(Method::POST, &format!("/api/sessions/{session}/message"))
        .json(&json!({"content": huge}));
    refused(request, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "message").await;

    // Without a Content-Length (chunked), the limit holds while reading.
    let (status, body) = chunked_post(&server, &user, "/api/ideas", 1024 * 1024 + 64 * 1024).await;
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("\"payload_too_large\""), "{body}");

    assert_eq!(rows(&server.db).await, before, "nothing written");
    still_serving(&server).await;
}

#[sqlx::test(migrations = "../migrations")]
async fn ids_that_are_not_uuids_are_a_400(db: PgPool) {
    let server = TestServer::start(db).await;
    let (user, idea, _) = user_with_session(&server).await;
    let before = rows(&server.db).await;
    let long = "9".repeat(5000);
    for bad in
        ["not-a-uuid", "123", "%00", "..%2F..%2Fetc", "00000000-0000-0000-0000-00000000000g", long.as_str()]
    {
        let calls = [
            (Method::GET, format!("/api/ideas/{bad}"), None),
            (Method::PATCH, format!("/api/ideas/{bad}"), Some(json!({"name": "x"}))),
            (Method::DELETE, format!("/api/ideas/{bad}"), None),
            (Method::GET, format!("/api/ideas/{bad}/collaborate"), None),
            (
                Method::POST,
                format!("/api/ideas/{bad}/collaborate"),
                Some(json!({"email": "x@example.com", "role": "viewer"})),
            ),
            (Method::DELETE, format!("/api/ideas/{bad}/collaborate/x@example.com"), None),
            (Method::GET, format!("/api/sessions/{bad}"), None),
            (Method::POST, format!("/api/sessions/{bad}/message"), Some(json!({"content": "hi"}))),
            (Method::GET, format!("/api/apps/{bad}"), None),
            (Method::PATCH, format!("/api/apps/{bad}"), Some(json!({"name": "x"}))),
        ];
        for (method, path, body) in calls {
            let what = format!("{method} {}", &path[..path.len().min(80)]);
            let mut request = user.request(method, &path);
            if let Some(body) = body {
                request = request.json(&body);
            }
            refused(request, StatusCode::BAD_REQUEST, "bad_request", &what).await;
        }
    }
    // A well-formed id of nothing is a 404, and the idea that exists is untouched.
    let nothing = uuid::Uuid::new_v4();
    refused(
        user.request(Method::GET, &format!("/api/ideas/{nothing}")),
        StatusCode::NOT_FOUND,
        "not_found",
        "unknown",
    )
    .await;
    assert_eq!(user.get(&format!("/api/ideas/{idea}")).await.status(), StatusCode::OK);
    assert_eq!(rows(&server.db).await, before, "nothing written");
    still_serving(&server).await;
}

#[sqlx::test(migrations = "../migrations")]
async fn invalid_emails_are_refused_everywhere(db: PgPool) {
    let server = TestServer::start(db).await;
    let (user, idea, _) = user_with_session(&server).await;
    let before = rows(&server.db).await;
    let long_local = format!("{}@example.com", "a".repeat(65));
    let long_domain = format!("a@{}.com", "b".repeat(260));
    let invalid = [
        "",
        "plain",
        "a@",
        "@example.com",
        "a b@example.com",
        "a@b@example.com",
        "a@.example.com",
        "a@example..com",
        "a@example.com.",
        "a@exa\u{0}mple.com",
        "a\n@example.com",
        &long_local,
        &long_domain,
    ];
    for email in invalid {
        let body = json!({"email": email, "password": "correct horse battery"});
        let response = server.anon(Method::POST, "/api/auth/signup").json(&body).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{email:?}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["field"], "email", "{email:?}: {error}");

        let invite = json!({"email": email, "role": "viewer"});
        let request = user.request(Method::POST, &format!("/api/ideas/{idea}/collaborate")).json(&invite);
        refused(request, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", email).await;
        let link = server.anon(Method::POST, "/api/auth/magic-link").json(&json!({"email": email}));
        refused(link, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", email).await;
    }
    assert_eq!(rows(&server.db).await, before, "nothing written");
    still_serving(&server).await;
}

#[sqlx::test(migrations = "../migrations")]
async fn a_second_signup_with_the_same_email_is_a_409(db: PgPool) {
    let server = TestServer::start(db).await;
    server.signup("taken@example.com").await;
    let before = rows(&server.db).await;
    for email in ["taken@example.com", "Taken@Example.COM", "  taken@example.com "] {
        let body = json!({"email": email, "password": "another password 2"});
        let request = server.anon(Method::POST, "/api/auth/signup").json(&body);
        refused(request, StatusCode::CONFLICT, "conflict", email).await;
    }
    assert_eq!(rows(&server.db).await, before, "nothing written");
    // The original password still works: the account was not overwritten.
    let login = json!({"email": "taken@example.com", "password": "correct horse battery"});
    let response = server.anon(Method::POST, "/api/auth/login").json(&login).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    still_serving(&server).await;
}
