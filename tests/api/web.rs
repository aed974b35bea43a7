//! The web UI served at `/`: files of the build, the client's routes falling back to `index.html`,
//! cache headers, the page shown when there is no build, and the API's 404s staying JSON.

use reqwest::{Method, StatusCode};
use sqlx::PgPool;

use crate::support::TestServer;

const INDEX: &str = "<!doctype html><title>Vibe</title><div id=\"root\"></div>";
const ASSET: &str = "console.log('vibe')";

/// A directory shaped like `web/dist` after `npm run build`.
fn build() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("index.html"), INDEX).unwrap();
    std::fs::write(dir.path().join("manifest.webmanifest"), "{}").unwrap();
    std::fs::create_dir(dir.path().join("assets")).unwrap();
    std::fs::write(dir.path().join("assets/index-3f2a1b.js"), ASSET).unwrap();
    dir
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

#[sqlx::test(migrations = "../migrations")]
async fn serves_the_ui_at_the_root_and_for_client_routes(db: PgPool) {
    let dist = build();
    let web_dir = dist.path().to_owned();
    let server = TestServer::start_with(db, |c| c.web_dir = web_dir).await;

    for path in ["/", "/ideas/8d7c1c1e-0000-4000-8000-000000000000", "/login?next=%2Fcredits"] {
        let response = server.anon(Method::GET, path).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(header(&response, "content-type"), "text/html; charset=utf-8", "{path}");
        assert_eq!(header(&response, "cache-control"), "no-cache", "{path}");
        assert_eq!(response.text().await.unwrap(), INDEX, "{path}");
    }

    let response = server.anon(Method::GET, "/assets/index-3f2a1b.js").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, "content-type"), "text/javascript; charset=utf-8");
    assert_eq!(header(&response, "cache-control"), "public, max-age=31536000, immutable");
    assert_eq!(response.text().await.unwrap(), ASSET);

    let response = server.anon(Method::GET, "/manifest.webmanifest").send().await.unwrap();
    assert_eq!(header(&response, "content-type"), "application/manifest+json");
    assert_eq!(header(&response, "cache-control"), "no-cache");

    // A path trying to climb out of the build gets the UI, never a file outside it.
    let response = server.anon(Method::GET, "/assets/..%2f..%2fetc/passwd").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.unwrap(), INDEX);
}

#[sqlx::test(migrations = "../migrations")]
async fn api_and_apps_paths_stay_json_404s(db: PgPool) {
    let dist = build();
    let web_dir = dist.path().to_owned();
    let server = TestServer::start_with(db, |c| c.web_dir = web_dir).await;

    for path in ["/api/nope", "/api", "/apps"] {
        let response = server.anon(Method::GET, path).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        assert!(header(&response, "content-type").starts_with("application/json"), "{path}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "not_found", "{path}");
    }
    // The apps' routes keep precedence: an unknown app is their 404 page, never the UI.
    let response = server.anon(Method::GET, "/apps/no-such-app/").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let text = response.text().await.unwrap();
    assert!(text.contains("No such app") && !text.contains(INDEX), "{text}");
    let response =
        server.anon(Method::GET, "/").header("Host", "no-such-app.apps.localhost").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(response.text().await.unwrap().contains("No such app"));
    // The API itself is untouched.
    let response = server.anon(Method::GET, "/api/users/me").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    // The UI is read-only.
    let response = server.anon(Method::POST, "/").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_missing_build_says_how_to_make_one(db: PgPool) {
    let empty = tempfile::tempdir().unwrap();
    let web_dir = empty.path().join("dist");
    let server = TestServer::start_with(db, |c| c.web_dir = web_dir).await;

    for path in ["/", "/ideas"] {
        let response = server.anon(Method::GET, path).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE, "{path}");
        assert!(header(&response, "content-type").starts_with("text/html"), "{path}");
        let text = response.text().await.unwrap();
        assert!(text.contains("The web UI is not built yet"), "{text}");
        assert!(text.contains("npm run build"), "{text}");
        assert!(text.contains("VIBE_WEB_DIR"), "{text}");
    }
}
