//! Serving and managing deployed apps end to end: real components (built from tests/components),
//! real PostgreSQL, real HTTP, and the real `vibe` binary for the CLI.

mod guestbook;
mod hostile;
mod kv;
mod lifecycle;
mod loading;
mod serving;

use std::process::{Command, Output};
use std::time::Duration;

use reqwest::{Method, Response, StatusCode};
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use crate::support::{TestServer, TestUser};

/// The bytes of a test component.
pub fn component(path: &str) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

/// The slug of app `id`.
pub async fn slug_of(db: &PgPool, id: Uuid) -> String {
    sqlx::query_scalar("SELECT slug FROM apps WHERE id = $1").bind(id).fetch_one(db).await.unwrap()
}

/// Creates an app of `owner`'s named `slug`, as the build pipeline will.
pub async fn new_app(db: &PgPool, owner: Uuid, slug: &str) -> Uuid {
    let id = Uuid::new_v4();
    sqlx::query("INSERT INTO apps (id, user_id, slug, name) VALUES ($1, $2, $3, $3)")
        .bind(id)
        .bind(owner)
        .bind(slug)
        .execute(db)
        .await
        .unwrap();
    id
}

/// Uploads `bytes` as a new version of `app`, as a raw `application/wasm` body.
pub async fn deploy(user: &TestUser, app: Uuid, bytes: Vec<u8>) -> Response {
    user.request(Method::POST, &format!("/api/apps/{app}/versions"))
        .header("content-type", "application/wasm")
        .body(bytes)
        .send()
        .await
        .unwrap()
}

/// One part of a `multipart/form-data` body: name, file name, bytes.
pub type Part<'a> = (&'a str, Option<&'a str>, &'a [u8]);

/// Uploads a version as `multipart/form-data`.
pub async fn deploy_form(user: &TestUser, app: Uuid, parts: &[Part<'_>]) -> Response {
    let boundary = format!("vibe-{}", Uuid::new_v4().simple());
    let mut body = Vec::new();
    for (name, file_name, bytes) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        let file = file_name.map(|f| format!("; filename=\"{f}\"")).unwrap_or_default();
        body.extend_from_slice(
            format!("Content-Disposition: form-data; name=\"{name}\"{file}\r\n\r\n").as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    user.request(Method::POST, &format!("/api/apps/{app}/versions"))
        .header("content-type", format!("multipart/form-data; boundary={boundary}"))
        .body(body)
        .send()
        .await
        .unwrap()
}

/// Deploys and checks it worked; returns the version.
pub async fn deployed(user: &TestUser, app: Uuid, bytes: Vec<u8>) -> Value {
    let response = deploy(user, app, bytes).await;
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "deploy: {body}");
    body
}

/// A request to the app at `/apps/{slug}{path}`.
pub async fn via_path(server: &TestServer, method: Method, slug: &str, path: &str, body: &str) -> Response {
    server.anon(method, &format!("/apps/{slug}{path}")).body(body.to_owned()).send().await.unwrap()
}

/// A request to the app on its own host, `{slug}.apps.localhost`.
pub async fn via_host(server: &TestServer, method: Method, slug: &str, path: &str, body: &str) -> Response {
    server
        .anon(method, path)
        .header("host", format!("{slug}.apps.localhost:{}", server.addr.port()))
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
}

/// Status and body text.
pub async fn answer(response: Response) -> (StatusCode, String) {
    let status = response.status();
    (status, response.text().await.unwrap())
}

/// Polls `check` until it returns `Some` (10 s at most).
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    for _ in 0..200 {
        if let Some(value) = check().await {
            return value;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

/// `vibe <args>` on the test database, sharing the test server's data directory (components).
pub fn vibe(server: &TestServer, args: &[&str]) -> Output {
    let mut url = url::Url::parse(
        &std::env::var("DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into()),
    )
    .expect("DATABASE_URL is a URL");
    let database =
        server.db.connect_options().get_database().expect("the test pool names its database").to_owned();
    url.set_path(&database);
    Command::new(env!("CARGO_BIN_EXE_vibe"))
        .args(args)
        .env("VIBE_DATABASE_URL", url.as_str())
        .env("VIBE_DATA_DIR", &server.state.config.data_dir)
        .env("RUST_LOG", "warn")
        .output()
        .expect("the vibe binary runs")
}

/// Stdout and stderr of a command, for assertion messages.
pub fn printed(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}
