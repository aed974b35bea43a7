//! The SDK's example app (`sdk/examples/guestbook`, written on `vibe-app-sdk`) served by the
//! runtime. With a real tenant database (its schema provisioned, the example's migration applied
//! over the app's own connection, as the deployment engine does): entries signed through the HTML
//! form and the JSON API, shown escaped, listed, re-shown with a message per field when invalid,
//! and deleted with the owner's secret key, checked against the rows in the app's table. Without a
//! database (`NoDatabase`): routing and its 404/405, validation as 422, JSON bodies with clear
//! 400/415, the cross-origin refusal, the visit counter in the key-value store, a database failure
//! answered as 503 with the detail only in the app's log, and a panic answered as 500 with its
//! message in the log.

use std::sync::Arc;

use bytes::Bytes;
use http::{Method, StatusCode, header};
use sqlx::PgPool;
use uuid::Uuid;
use vibe_apps_runtime::tenant::{Tenancy, TenantSettings, schema_name};
use vibe_apps_runtime::{
    AppDb, AppKv, Capabilities, Limits, LoadedApp, LogLevel, LogSource, MemoryKv, MemoryLogSink, NoDatabase,
    Runtime, StaticConfig,
};
use vibe_test_components::SDK_EXAMPLE_GUESTBOOK;

use crate::support::{get, load_with, read, read_error, request, runtime};

const ADMIN_KEY: &str = "owner-key-123";

struct Guestbook {
    app: LoadedApp,
    kv: Arc<MemoryKv>,
    logs: Arc<MemoryLogSink>,
    _runtime: Runtime,
    _cache: tempfile::TempDir,
}

impl Guestbook {
    async fn start() -> Guestbook {
        Guestbook::start_with(Arc::new(NoDatabase)).await
    }

    /// The guestbook with `db` as its database.
    async fn start_with(db: Arc<dyn AppDb>) -> Guestbook {
        let (runtime, cache) = runtime();
        let kv = Arc::new(MemoryKv::default());
        let logs = Arc::new(MemoryLogSink::new(1_000));
        let config = StaticConfig::new([
            ("title".to_owned(), "Our <Guestbook>".to_owned()),
            ("admin_key".to_owned(), ADMIN_KEY.to_owned()),
            ("debug".to_owned(), "true".to_owned()),
        ]);
        let capabilities = Capabilities {
            db,
            kv: kv.clone(),
            config: Arc::new(config),
            logs: logs.clone(),
            ..Capabilities::isolated()
        };
        let app = load_with(&runtime, SDK_EXAMPLE_GUESTBOOK, Limits::default(), capabilities).await;
        Guestbook { app, kv, logs, _runtime: runtime, _cache: cache }
    }

    async fn send(
        &self,
        request: http::Request<http_body_util::Full<Bytes>>,
    ) -> (StatusCode, String, String) {
        let response = self.app.handle(request).await;
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let (status, body) = read(response).await;
        (status, content_type, body)
    }

    /// The app's own log messages (through `vibe:app/log`) at `level`.
    fn app_log(&self, level: LogLevel) -> Vec<String> {
        self.logs
            .entries()
            .into_iter()
            .filter(|entry| entry.source == LogSource::App && entry.level == level)
            .map(|entry| entry.message)
            .collect()
    }
}

fn with_type(
    method: Method,
    path: &str,
    content_type: &str,
    body: &str,
) -> http::Request<http_body_util::Full<Bytes>> {
    let mut request = request(method, path, Bytes::from(body.to_owned()));
    request.headers_mut().insert(header::CONTENT_TYPE, content_type.parse().expect("a valid header"));
    request
}

#[tokio::test]
async fn invalid_json_entries_get_a_message_per_field() {
    let book = Guestbook::start().await;
    let body = r#"{"name": "  ", "email": "not-an-email", "rating": 9, "visited_on": "2024-02-30"}"#;
    let (status, content_type, text) =
        book.send(with_type(Method::POST, "/api/entries", "application/json", body)).await;
    assert_eq!(status, 422, "{text}");
    assert_eq!(content_type, "application/json");
    let json: serde_json::Value = serde_json::from_str(&text).expect("a JSON error body");
    assert_eq!(json["error"]["code"], "validation_failed");
    assert_eq!(
        json["error"]["fields"],
        serde_json::json!({
            "name": "is required",
            "email": "must be an email address",
            "message": "is required",
            "rating": "must be at most 5",
            "visited_on": "must be a date (YYYY-MM-DD)",
        })
    );

    // A form body is checked by the same code.
    let form = "name=Ada&message=&rating=x";
    let (status, _, text) =
        book.send(with_type(Method::POST, "/api/entries", "application/x-www-form-urlencoded", form)).await;
    assert_eq!(status, 422, "{text}");
    let json: serde_json::Value = serde_json::from_str(&text).expect("a JSON error body");
    assert_eq!(
        json["error"]["fields"],
        serde_json::json!({"message": "is required", "rating": "must be a whole number"})
    );
}

#[tokio::test]
async fn malformed_bodies_get_400_and_415() {
    let book = Guestbook::start().await;
    let (status, _, text) =
        book.send(with_type(Method::POST, "/api/entries", "application/json", r#"{"name":"#)).await;
    assert_eq!(status, 400, "{text}");
    let json: serde_json::Value = serde_json::from_str(&text).expect("a JSON error body");
    let message = json["error"]["message"].as_str().unwrap_or_default();
    assert!(message.starts_with("invalid JSON body: EOF while parsing"), "{message}");

    let (status, _, text) =
        book.send(with_type(Method::POST, "/api/entries", "application/json", "[1, 2]")).await;
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("must be an object"), "{text}");

    let (status, _, text) = book.send(with_type(Method::POST, "/api/entries", "text/csv", "a,b")).await;
    assert_eq!(status, 415, "{text}");
}

#[tokio::test]
async fn unknown_paths_and_methods_are_404_and_405() {
    let book = Guestbook::start().await;
    let (status, content_type, text) = book.send(get("/nowhere")).await;
    assert_eq!(status, 404);
    assert_eq!(content_type, "text/html; charset=utf-8");
    assert!(text.contains("<h1>404 Not Found</h1>"), "{text}");

    let (status, content_type, _) = book.send(get("/api/entries/not-a-number")).await;
    assert_eq!((status, content_type.as_str()), (StatusCode::NOT_FOUND, "application/json"));

    let response = book.app.handle(request(Method::PUT, "/api/entries", Bytes::new())).await;
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "GET, HEAD, OPTIONS, POST");
}

#[tokio::test]
async fn a_form_posted_from_another_site_is_refused() {
    let book = Guestbook::start().await;
    let mut forged =
        with_type(Method::POST, "/entries", "application/x-www-form-urlencoded", "name=Eve&message=hi");
    forged.headers_mut().insert("sec-fetch-site", "cross-site".parse().expect("a valid header"));
    let (status, _, text) = book.send(forged).await;
    assert_eq!(status, 403, "{text}");
    assert!(text.contains("other sites"), "{text}");
    assert!(book.app_log(LogLevel::Error).is_empty(), "the request never reached the handler");
}

#[tokio::test]
async fn deleting_needs_the_owners_secret_key() {
    let book = Guestbook::start().await;
    let delete = |key: Option<&str>| {
        let mut request = request(Method::DELETE, "/api/entries/1", Bytes::new());
        if let Some(key) = key {
            request
                .headers_mut()
                .insert(header::AUTHORIZATION, format!("Bearer {key}").parse().expect("valid"));
        }
        request
    };
    assert_eq!(book.send(delete(None)).await.0, 403);
    assert_eq!(book.send(delete(Some("owner-key-12"))).await.0, 403);
    assert_eq!(book.send(delete(Some("owner-key-1234"))).await.0, 403);
    // The right key passes the check and reaches the database, which this app does not have.
    let (status, _, text) = book.send(delete(Some(ADMIN_KEY))).await;
    assert_eq!(status, 503, "{text}");
}

#[tokio::test]
async fn without_a_database_pages_answer_503_and_the_log_says_why() {
    let book = Guestbook::start().await;
    for expected_visits in [1u64, 2] {
        let (status, content_type, text) = book.send(get("/")).await;
        assert_eq!(status, 503, "{text}");
        assert_eq!(content_type, "text/html; charset=utf-8");
        assert!(text.contains("The app cannot answer right now"), "{text}");
        assert!(!text.contains("no database"), "the detail stays out of the page: {text}");
        // The visit was counted in the key-value store before the database was needed.
        let stored = book.kv.get("visits").await.expect("the store answers").expect("visits is set");
        assert_eq!(String::from_utf8_lossy(&stored), expected_visits.to_string());
    }
    let errors = book.app_log(LogLevel::Error);
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors[0].contains("503 unavailable: database unavailable: this app has no database"),
        "{errors:?}"
    );
}

#[tokio::test]
async fn a_panic_is_a_500_with_its_message_in_the_log_and_the_next_request_is_fine() {
    let book = Guestbook::start().await;
    let (status, code, request_id) = read_error(book.app.handle(get("/debug/panic")).await).await;
    assert_eq!(status, 500);
    assert_eq!(code, "app_trapped");
    let panics: Vec<_> = book
        .logs
        .entries()
        .into_iter()
        .filter(|entry| entry.request_id == request_id && entry.source == LogSource::App)
        .map(|entry| entry.message)
        .collect();
    assert_eq!(panics.len(), 1, "{panics:?}");
    assert!(panics[0].starts_with("the app panicked: panicked at"), "{panics:?}");
    assert!(panics[0].contains("a panic, on purpose"), "{panics:?}");

    let (status, _, _) = book.send(get("/api/entries/x")).await;
    assert_eq!(status, 404, "the next request is served by a fresh instance");
}

/// The guestbook with a real tenant database: its schema provisioned and the example's migration
/// applied over the app's own connection (as the deployment engine does), then every page.
struct WithDatabase {
    book: Guestbook,
    tenancy: Tenancy,
    admin: PgPool,
    app_id: Uuid,
}

impl WithDatabase {
    async fn start(admin: PgPool) -> WithDatabase {
        let tenancy = Tenancy::new(admin.clone(), b"sdk test secret", TenantSettings::default());
        let app_id = Uuid::new_v4();
        tenancy.provision(app_id).await.expect("the app's schema is provisioned");
        let migration = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../sdk/examples/guestbook/migrations/0001_entries.sql"
        ))
        .expect("the example's migration");
        let mut session = tenancy.app_db(app_id).session().await.expect("a session");
        session.execute(&migration, vec![]).await.expect("the migration applies");
        drop(session);
        let book = Guestbook::start_with(tenancy.app_db(app_id)).await;
        WithDatabase { book, tenancy, admin, app_id }
    }

    async fn rows(&self) -> Vec<(String, Option<i32>)> {
        sqlx::query_as(&format!("SELECT name, rating FROM {}.entries ORDER BY id", schema_name(self.app_id)))
            .fetch_all(&self.admin)
            .await
            .expect("the admin reads the app's table")
    }

    async fn finish(self) {
        drop(self.book);
        self.tenancy.deprovision(self.app_id).await.expect("deprovisioned");
    }
}

fn form_post(path: &str, body: &str) -> http::Request<http_body_util::Full<Bytes>> {
    let mut request = with_type(Method::POST, path, "application/x-www-form-urlencoded", body);
    request.headers_mut().insert("x-forwarded-prefix", "/apps/guestbook".parse().expect("valid"));
    request
}

#[sqlx::test]
async fn with_a_database_entries_are_signed_shown_validated_listed_and_deleted(admin: PgPool) {
    let app = WithDatabase::start(admin).await;
    let book = &app.book;

    let body = "name=%3Cscript%3EEve&message=Hello+%26+welcome&rating=4&visited_on=2024-05-01";
    let response = book.app.handle(form_post("/entries", body)).await;
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/apps/guestbook/entries/1");
    assert_eq!(app.rows().await, [("<script>Eve".to_owned(), Some(4))]);

    let (status, _, page) = book.send(get("/entries/1")).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("<h1>&lt;script&gt;Eve</h1><p>Hello &amp; welcome</p>"), "{page}");
    assert!(page.contains("<p>Rating: 4 of 5</p><p>Visited on 2024-05-01</p>"), "{page}");
    assert!(!page.contains("<script>Eve"), "{page}");

    let (status, _, page) = book.send(form_post("/entries", "name=Ann&message=&rating=7")).await;
    assert_eq!(status, 422, "{page}");
    assert!(page.contains("value=\"Ann\""), "{page}");
    assert!(page.contains("<span class=\"error\">is required</span>"), "{page}");
    assert!(page.contains("<span class=\"error\">must be at most 5</span>"), "{page}");
    assert!(page.contains("&lt;script&gt;Eve</a>: Hello &amp; welcome</li>"), "{page}");
    assert_eq!(app.rows().await.len(), 1, "nothing stored");

    let json = r#"{"name": "Bob", "message": "Hi", "visited_on": "2023-12-31"}"#;
    let (status, _, text) =
        book.send(with_type(Method::POST, "/api/entries", "application/json", json)).await;
    assert_eq!(status, 201, "{text}");
    let created: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(created["id"], 2);
    assert_eq!(created["visited_on"], "2023-12-31");
    assert_eq!(created["rating"], serde_json::Value::Null);
    assert!(created["created_at"].as_str().is_some_and(|at| at.ends_with('Z')), "{text}");

    let (_, _, list) = book.send(get("/api/entries")).await;
    let list: serde_json::Value = serde_json::from_str(&list).expect("JSON");
    let names: Vec<&str> =
        list.as_array().expect("an array").iter().filter_map(|e| e["name"].as_str()).collect();
    assert_eq!(names, ["Bob", "<script>Eve"]);

    book.send(get("/")).await;
    let (_, _, stats) = book.send(get("/api/stats")).await;
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&stats).expect("JSON"),
        serde_json::json!({"visits": 1, "entries": 2})
    );

    let (status, _, _) = book.send(form_post("/entries/1/delete", "key=wrong")).await;
    assert_eq!(status, 403);
    let response = book.app.handle(form_post("/entries/1/delete", &format!("key={ADMIN_KEY}"))).await;
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/apps/guestbook/");
    assert_eq!(app.rows().await, [("Bob".to_owned(), None)]);
    let (status, _, _) = book.send(form_post("/entries/1/delete", &format!("key={ADMIN_KEY}"))).await;
    assert_eq!(status, 404);

    app.finish().await;
}
