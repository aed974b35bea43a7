//! Signing in to an app on its own host, `{slug}.{apps domain}`.
//!
//! The platform's session cookie belongs to the platform's host and never reaches an app's host, so
//! a person opening their app there would be a stranger to it. `GET /api/apps/{id}/open` (on the
//! platform, with the session) answers with a redirect to the app's host carrying a one-minute ticket
//! signed for that app alone; the app's host exchanges it at [`ENTER_PATH`] for its own HttpOnly
//! cookie, [`APP_SESSION_COOKIE`], valid on that host only, for that app only, and no longer than the
//! login it came from (logging out ends it). The host reads the cookie to set the identity headers
//! (`identity.rs`) and never passes it to the app, nor lets the app set it.

use axum::body::Body;
use axum::response::{IntoResponse, Redirect, Response};
use http::header::SET_COOKIE;
use http::{HeaderMap, HeaderValue, StatusCode};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::auth::token::AppClaims;
use crate::state::AppState;

/// The app host's cookie naming who the platform vouches for.
pub const APP_SESSION_COOKIE: &str = "vibe_app_session";
/// Where an app's host takes the ticket.
pub const ENTER_PATH: &str = "/_vibe/enter";
/// How long a ticket is good for.
const TICKET_SECS: i64 = 60;
/// The longest an app-host session lasts (it also ends with its login).
const SESSION_SECS: i64 = 12 * 3600;

/// Where to send `user` to open app `app_id` (`slug`) on its own host, signed in.
pub fn open_url(state: &AppState, user: &AuthUser, app_id: Uuid, slug: &str) -> anyhow::Result<String> {
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let ticket = state.tokens.issue_app(&AppClaims {
        sub: user.id,
        app: app_id,
        login: user.session_id,
        kind: "entry".to_owned(),
        iat: now,
        exp: now + TICKET_SECS,
    })?;
    let mut url = url::Url::parse(&state.config.public_base())?;
    let host = format!("{slug}.{}", state.apps.settings().apps_domain);
    url.set_host(Some(&host))?;
    url.set_path(ENTER_PATH);
    url.set_query(Some(&format!("ticket={ticket}")));
    Ok(url.into())
}

/// `GET {ENTER_PATH}?ticket=…` on app `app_id`'s host: the ticket becomes the host's cookie.
pub async fn enter(state: &AppState, app_id: Uuid, query: Option<&str>) -> Response {
    let ticket = query
        .into_iter()
        .flat_map(|query| query.split('&'))
        .find_map(|pair| pair.strip_prefix("ticket="))
        .unwrap_or_default();
    let Some(claims) = state.tokens.verify_app(ticket, app_id, "entry") else {
        return refused("This sign-in link is invalid or has expired. Open the app again from Vibe.");
    };
    let Some(login_expires) = live_login(state, &claims).await else {
        return refused("Your Vibe session has ended. Sign in to Vibe and open the app again.");
    };
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let exp = login_expires.unix_timestamp().min(now + SESSION_SECS);
    let session = AppClaims { kind: "session".to_owned(), iat: now, exp, ..claims };
    let Ok(token) = state.tokens.issue_app(&session) else {
        return refused("Signing in to the app failed; try again.");
    };
    let secure = if state.config.secure_cookies() { "; Secure" } else { "" };
    let cookie = format!(
        "{APP_SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
        (exp - now).max(0)
    );
    let mut response = Redirect::to("/").into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(SET_COOKIE, value);
    }
    response
}

/// The user an app host's cookie names, with their login still live: `(user id, login id)`.
pub async fn session_user(state: &AppState, headers: &HeaderMap, app_id: Uuid) -> Option<Uuid> {
    let token = crate::auth::extract::cookie_value(headers, APP_SESSION_COOKIE)?;
    let claims = state.tokens.verify_app(&token, app_id, "session")?;
    live_login(state, &claims).await.map(|_| claims.sub)
}

/// When the login `claims` came from expires, if it is still live.
async fn live_login(state: &AppState, claims: &AppClaims) -> Option<OffsetDateTime> {
    sqlx::query_scalar(
        "SELECT expires_at FROM login_sessions WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL AND expires_at > now()",
    )
    .bind(claims.login)
    .bind(claims.sub)
    .fetch_optional(&state.db)
    .await
    .ok()
    .flatten()
}

fn refused(message: &str) -> Response {
    let body = format!(
        "<!doctype html><meta charset=\"utf-8\"><title>Sign-in failed</title><p>{}</p>",
        message.replace('&', "&amp;").replace('<', "&lt;")
    );
    (StatusCode::FORBIDDEN, [("content-type", "text/html; charset=utf-8")], Body::from(body)).into_response()
}
