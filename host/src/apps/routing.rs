//! Requests to apps: `/apps/{slug}/...` on the platform's address, and any path on
//! `{slug}.{apps domain}`, both to the app's live version.
//!
//! On the platform's address every app shares the platform's origin, so the host keeps them from
//! the platform and from each other: the platform's session cookie is taken out of the request and
//! an app cannot set it, and the app's pages get a `Content-Security-Policy: sandbox` without
//! `allow-same-origin`, which gives them an opaque origin (no cookies, no storage, no credentialed
//! calls to the API). On its own host an app is its own origin and is served as it answers.
//!
//! Who is asking reaches the app as the `x-vibe-user-*` headers the host sets (`identity.rs`).
//!
//! Every answer carries the request's id (also in runtime errors: a limit hit answers the
//! platform's error shape with the same id), is recorded in the app's analytics, and HTML pages
//! get the Vibe Wrapper when the app has it on.

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::any;
use http::header::{CONTENT_TYPE, COOKIE, HOST, SET_COOKIE};
use http::{HeaderValue, Method, StatusCode, Uri};
use time::OffsetDateTime;
use vibe_apps_runtime::{REQUEST_ID_HEADER, RequestStats};

use super::analytics::{PageView, RequestRecord};
use super::entry::{self, APP_SESSION_COOKIE};
use super::identity;
use super::registry::{LiveApp, LiveState, PauseReason};
use super::wrapper;
use crate::auth::SESSION_COOKIE;
use crate::state::AppState;
use crate::telemetry::current_request_id;

/// The sandbox for app pages served on the platform's origin.
const PATH_SANDBOX: &str = "sandbox allow-scripts allow-forms allow-popups allow-popups-to-escape-sandbox allow-modals allow-downloads";

/// How a request reached the app.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mount<'a> {
    /// `/apps/{slug}/...` on the platform's address; the app's root is `/apps/{slug}`.
    Path(&'a str),
    /// `{slug}.{apps domain}`; the app's root is `/`.
    Host,
}

/// The `/apps/{slug}/...` routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/apps/{slug}", any(by_path))
        .route("/apps/{slug}/", any(by_path))
        .route("/apps/{slug}/{*rest}", any(by_path))
}

async fn by_path(State(state): State<AppState>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    let Some(after) = path.strip_prefix("/apps/") else { return not_found() };
    let (slug, rest) = after.split_once('/').map_or((after, None), |(slug, rest)| (slug, Some(rest)));
    if rest.is_none() {
        // `/apps/{slug}` → `/apps/{slug}/`, so that the app's relative links resolve under its root.
        let query = request.uri().query().map(|q| format!("?{q}")).unwrap_or_default();
        return Redirect::permanent(&format!("/apps/{slug}/{query}")).into_response();
    }
    let Some(live) = state.apps.registry().by_slug(slug) else { return not_found() };
    let base = format!("/apps/{slug}");
    serve(&state, live, request, Mount::Path(&base)).await
}

/// Middleware: a request whose `Host` is `{slug}.{apps domain}` goes to that app, whatever its path;
/// nothing of the platform (API, pages) answers on an app's host.
pub async fn by_host(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Some(slug) = app_host(&request, &state.apps.settings().apps_domain) else {
        return next.run(request).await;
    };
    match state.apps.registry().by_slug(&slug) {
        Some(live) => serve(&state, live, request, Mount::Host).await,
        None => not_found(),
    }
}

/// The slug when the request's host is `{slug}.{domain}` (any port).
fn app_host(request: &Request, domain: &str) -> Option<String> {
    let host = request.headers().get(HOST).and_then(|h| h.to_str().ok()).or_else(|| request.uri().host())?;
    let host = host
        .rsplit_once(':')
        .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
        .map_or(host, |(h, _)| h);
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let slug = host.strip_suffix(domain)?.strip_suffix('.')?;
    (!slug.is_empty() && !slug.contains('.')).then(|| slug.to_owned())
}

async fn serve(state: &AppState, live: Arc<LiveApp>, request: Request, mount: Mount<'_>) -> Response {
    let started = std::time::Instant::now();
    if mount == Mount::Host && request.uri().path() == entry::ENTER_PATH {
        return entry::enter(state, live.app_id, request.uri().query()).await;
    }
    let visitor = identity::visitor(state, request.headers(), live.app_id, mount == Mount::Host).await;
    let mut request = prepare(request, mount);
    identity::strip(request.headers_mut());
    if let Some(visitor) = &visitor {
        identity::attach(request.headers_mut(), visitor);
    }
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let base = match mount {
        Mount::Path(base) => base,
        Mount::Host => "",
    };
    if live.wrapper && method == Method::POST && path == wrapper::BEACON_PATH {
        return beacon(state, &live, request).await;
    }
    let app = match &live.state {
        LiveState::Serving(app) => app.clone(),
        LiveState::Paused(reason) => return paused(*reason),
    };
    let response = app.handle(request).await;
    let stats = response.extensions().get::<RequestStats>().cloned();
    let (parts, body) = response.into_parts();
    // The runtime's bodies are complete in memory already; collecting them cannot fail.
    let body = axum::body::to_bytes(Body::new(body), usize::MAX).await.unwrap_or_default();
    let mut response = http::Response::from_parts(parts, body);
    if live.wrapper && wrapper::applies(response.headers()) {
        response = wrapper::inject(response, &wrapper::snippet(base, &state.apps.settings().public_base));
    }
    keep_platform_cookies(response.headers_mut());
    if let Mount::Path(_) = mount {
        confine(response.headers_mut());
    }
    state.apps.analytics().request(RequestRecord {
        app_id: live.app_id,
        version_id: Some(live.version_id),
        request_id: stats
            .as_ref()
            .map(|s| s.request_id.clone())
            .or_else(current_request_id)
            .unwrap_or_default(),
        method: method.to_string(),
        path,
        status: response.status().as_u16(),
        duration_us: u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
        cpu_ms: stats.as_ref().and_then(|s| s.cpu_ms),
        fuel: stats.as_ref().and_then(|s| s.fuel),
        failure: stats.as_ref().and_then(|s| s.failure),
        at: OffsetDateTime::now_utc(),
    });
    response.map(Body::from)
}

/// The request as the app sees it: its own path, the platform's id, without the platform's cookie.
fn prepare(request: Request, mount: Mount<'_>) -> Request {
    let (mut parts, body) = request.into_parts();
    if let Mount::Path(base) = mount {
        let path = parts.uri.path().strip_prefix(base).filter(|p| p.starts_with('/')).unwrap_or("/");
        let target = match parts.uri.query() {
            Some(query) => format!("{path}?{query}"),
            None => path.to_owned(),
        };
        if let Ok(uri) = target.parse::<Uri>() {
            parts.uri = uri;
        }
        if let Ok(value) = HeaderValue::from_str(base) {
            parts.headers.insert("x-forwarded-prefix", value);
        }
    } else {
        parts.headers.remove("x-forwarded-prefix");
    }
    strip_session_cookie(&mut parts.headers);
    if let Some(id) = current_request_id().and_then(|id| HeaderValue::from_str(&id).ok()) {
        parts.headers.insert(REQUEST_ID_HEADER, id);
    }
    Request::from_parts(parts, body)
}

/// Removes the platform's session cookies (the platform's and the app host's) from the `Cookie`
/// headers, keeping the app's own cookies.
fn strip_session_cookie(headers: &mut http::HeaderMap) {
    let kept: Vec<String> = headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .map(str::trim)
        .filter(|pair| !pair.is_empty() && !is_platform_cookie(pair.split('=').next().map(str::trim)))
        .map(str::to_owned)
        .collect();
    headers.remove(COOKIE);
    if !kept.is_empty()
        && let Ok(value) = HeaderValue::from_str(&kept.join("; "))
    {
        headers.insert(COOKIE, value);
    }
}

fn is_platform_cookie(name: Option<&str>) -> bool {
    matches!(name, Some(SESSION_COOKIE | APP_SESSION_COOKIE))
}

/// An app may not set the platform's session cookies (on either address).
fn keep_platform_cookies(headers: &mut http::HeaderMap) {
    let cookies: Vec<HeaderValue> = headers
        .get_all(SET_COOKIE)
        .iter()
        .filter(|value| {
            let name = value.to_str().ok().and_then(|v| v.split('=').next()).map(str::trim);
            name.is_some() && !is_platform_cookie(name)
        })
        .cloned()
        .collect();
    headers.remove(SET_COOKIE);
    for cookie in cookies {
        headers.append(SET_COOKIE, cookie);
    }
}

/// On the platform's origin: the page gets an opaque origin.
fn confine(headers: &mut http::HeaderMap) {
    headers.append("content-security-policy", HeaderValue::from_static(PATH_SANDBOX));
}

/// Records a page view reported by the wrapper's script.
async fn beacon(state: &AppState, live: &LiveApp, request: Request) -> Response {
    let body = axum::body::to_bytes(request.into_body(), wrapper::MAX_BEACON_BYTES)
        .await
        .unwrap_or_else(|_| Bytes::new());
    let beacon = wrapper::Beacon::parse(&body);
    state.apps.analytics().page_view(PageView {
        app_id: live.app_id,
        load_ms: beacon.load_ms(),
        path: beacon.path,
        referrer: beacon.referrer,
        at: OffsetDateTime::now_utc(),
    });
    StatusCode::NO_CONTENT.into_response()
}

fn page(status: StatusCode, title: &str, text: &str) -> Response {
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body style=\"font-family:system-ui,sans-serif;margin:4rem auto;max-width:32rem\">\
         <h1>{title}</h1><p>{text}</p></body></html>"
    );
    let mut response = (status, html).into_response();
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    response
}

fn paused(reason: PauseReason) -> Response {
    let text = match reason {
        PauseReason::ByOwner => "Its owner has paused it. Please come back later.",
        PauseReason::OutOfCredits => {
            "Its hosting credits have run out. It will be back as soon as its owner renews them; please come \
             back later."
        }
    };
    let mut response = page(StatusCode::SERVICE_UNAVAILABLE, "This app is paused", text);
    response.headers_mut().insert(http::header::RETRY_AFTER, HeaderValue::from_static("3600"));
    response
}

fn not_found() -> Response {
    page(StatusCode::NOT_FOUND, "No such app", "Nothing is deployed at this address.")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_host(host: &str) -> Request {
        http::Request::builder().uri("/x").header(HOST, host).body(Body::empty()).unwrap()
    }

    #[test]
    fn app_hosts_name_one_slug() {
        let domain = "apps.localhost";
        assert_eq!(app_host(&with_host("shop.apps.localhost:8080"), domain).as_deref(), Some("shop"));
        assert_eq!(app_host(&with_host("SHOP.Apps.Localhost."), domain).as_deref(), Some("shop"));
        assert_eq!(app_host(&with_host("apps.localhost"), domain), None);
        assert_eq!(app_host(&with_host("a.b.apps.localhost"), domain), None);
        assert_eq!(app_host(&with_host("127.0.0.1:8080"), domain), None);
        assert_eq!(app_host(&with_host("evilapps.localhost"), domain), None);
    }

    #[test]
    fn the_platform_cookie_never_reaches_an_app() {
        let mut headers = http::HeaderMap::new();
        headers.append(COOKIE, HeaderValue::from_static("a=1; vibe_session=secret; b=2"));
        headers.append(COOKIE, HeaderValue::from_static("vibe_session=again"));
        strip_session_cookie(&mut headers);
        assert_eq!(headers.get_all(COOKIE).iter().collect::<Vec<_>>(), ["a=1; b=2"]);
    }

    #[test]
    fn apps_on_the_platform_origin_are_sandboxed_and_no_app_sets_a_platform_cookie() {
        let mut headers = http::HeaderMap::new();
        headers.append(SET_COOKIE, HeaderValue::from_static("vibe_session=x; Path=/"));
        headers.append(SET_COOKIE, HeaderValue::from_static("vibe_app_session=y; Path=/"));
        headers.append(SET_COOKIE, HeaderValue::from_static("cart=1"));
        keep_platform_cookies(&mut headers);
        confine(&mut headers);
        assert_eq!(headers.get_all(SET_COOKIE).iter().collect::<Vec<_>>(), ["cart=1"]);
        assert!(headers["content-security-policy"].to_str().unwrap().starts_with("sandbox"));
    }
}
