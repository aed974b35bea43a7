//! The web UI: the built single-page app (`web/dist`, see `web/README.md`) served at `/`.
//!
//! This is the router's fallback, so every API route and the apps' routes (`/apps/…`, and
//! `{slug}.{apps domain}` which a middleware answers before any route) keep precedence. Paths under
//! `/api` and `/apps` that no route took stay JSON 404s; any other GET is a file of the build when one
//! matches, else `index.html` so that the client's routes (`/ideas/…`) survive a reload.
//!
//! Cache headers: Vite names assets after their content (`/assets/index-3f2a1b.js`), so those are
//! immutable for a year; everything else, `index.html` and the service worker first, is revalidated on
//! every load so that a new build reaches people at once. When there is no build, a page says how to
//! make one instead of a blank page or a 404.

use std::path::{Component, Path, PathBuf};

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Response};

use crate::error::ApiError;
use crate::state::AppState;

/// Cache policy of content-hashed assets.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Cache policy of everything else: always revalidate.
const REVALIDATE: &str = "no-cache";

/// Serves the UI for whatever no other route took.
pub async fn fallback(State(state): State<AppState>, method: Method, uri: Uri) -> Response {
    let path = uri.path();
    if is_platform_path(path) {
        return ApiError::NotFound.into_response();
    }
    if method != Method::GET && method != Method::HEAD {
        return ApiError::MethodNotAllowed.into_response();
    }
    let dir = &state.config.web_dir;
    let index = dir.join("index.html");
    if !index.is_file() {
        return missing_build(dir);
    }
    if let Some(file) = file_for(dir, path)
        && file.is_file()
    {
        return send(&file, cache_policy(path)).await;
    }
    send(&index, REVALIDATE).await
}

/// Paths that belong to the API or the apps, never to the UI.
fn is_platform_path(path: &str) -> bool {
    ["/api", "/apps"].iter().any(|prefix| path == *prefix || path.starts_with(&format!("{prefix}/")))
}

/// The file under `dir` a request path names, or `None` when it tries to leave `dir`.
fn file_for(dir: &Path, path: &str) -> Option<PathBuf> {
    let relative = Path::new(path.trim_start_matches('/'));
    if relative.as_os_str().is_empty() {
        return None;
    }
    // Only plain names: `..`, roots and prefixes could reach outside the build.
    if !relative.components().all(|c| matches!(c, Component::Normal(_))) {
        return None;
    }
    Some(dir.join(relative))
}

fn cache_policy(path: &str) -> &'static str {
    if path.starts_with("/assets/") { IMMUTABLE } else { REVALIDATE }
}

async fn send(file: &Path, cache: &'static str) -> Response {
    match tokio::fs::read(file).await {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static(content_type(file))),
                (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
                (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
            ],
            Body::from(bytes),
        )
            .into_response(),
        Err(err) => {
            tracing::error!(error = %err, file = %file.display(), "reading a file of the web UI");
            ApiError::Internal(anyhow::anyhow!("reading the web UI failed")).into_response()
        }
    }
}

/// The media type of the files a Vite build makes.
fn content_type(file: &Path) -> &'static str {
    match file.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "webmanifest" => "application/manifest+json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        "map" => "application/json",
        _ => "application/octet-stream",
    }
}

/// The page served when the UI has not been built.
fn missing_build(dir: &Path) -> Response {
    let dir = dir.display().to_string().replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Vibe: the web UI is not built</title>\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"></head>\
         <body><main><h1>The web UI is not built yet</h1>\
         <p>Vibe looks for it in <code>{dir}</code> (set <code>VIBE_WEB_DIR</code> to change that) and found no \
         <code>index.html</code> there. Build it from the repository's root:</p>\
         <pre><code>cd web &amp;&amp; npm ci &amp;&amp; npm run build</code></pre>\
         <p>then reload this page. The API is running: <a href=\"/api/openapi.json\">/api/openapi.json</a>.</p>\
         </main></body></html>"
    );
    (StatusCode::SERVICE_UNAVAILABLE, [(header::CACHE_CONTROL, REVALIDATE)], Html(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside_the_build() {
        let dir = Path::new("/srv/web");
        assert_eq!(file_for(dir, "/assets/a.js"), Some(dir.join("assets/a.js")));
        assert_eq!(file_for(dir, "/../etc/passwd"), None);
        assert_eq!(file_for(dir, "/assets/../../x"), None);
        assert_eq!(file_for(dir, "/"), None);
        assert!(is_platform_path("/api/nope"));
        assert!(is_platform_path("/apps"));
        assert!(!is_platform_path("/apply"));
    }
}
