//! Opening a login: the `login_sessions` row, the signed token naming it and the cookie that carries it.
//!
//! Signup, password login and magic-link confirmation all end here, so every way in produces the same
//! kind of session with the same lifetime and the same cookie flags.

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header::{SET_COOKIE, USER_AGENT};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::{Cookie, SameSite};
use serde::Serialize;
use sqlx::PgConnection;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::auth::SESSION_COOKIE;
use crate::auth::token::Claims;
use crate::config::ServeConfig;
use crate::error::{ApiError, ApiResult, Json};
use crate::state::AppState;
use crate::users::User;

/// Longest `User-Agent` kept with a session; the rest is cut off.
const MAX_USER_AGENT_CHARS: usize = 512;

/// The longest session lifetime honoured, whatever the configuration says (ten years).
const MAX_SESSION_HOURS: i64 = 24 * 366 * 10;

/// Who is on the other end of the connection, as recorded with a login.
#[derive(Debug, Clone)]
pub struct Client {
    /// The peer address of the TCP connection (the unspecified address when the server was not started
    /// with connect info, so such callers share one rate-limit budget instead of escaping it).
    pub addr: IpAddr,
    pub user_agent: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let addr = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |ConnectInfo(addr)| addr.ip());
        let user_agent = parts
            .headers
            .get(USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(MAX_USER_AGENT_CHARS).collect());
        Ok(Client { addr, user_agent })
    }
}

/// A freshly opened login.
pub struct Login {
    /// The signed token (the bearer credential).
    pub token: String,
    /// The `Set-Cookie` value that hands the token to a browser.
    pub cookie: HeaderValue,
}

/// What signup, login and magic-link confirmation answer.
#[derive(Serialize, utoipa::ToSchema)]
pub struct SignedIn {
    pub user: User,
    /// The session token, for clients that send `Authorization: Bearer` rather than the cookie.
    pub token: String,
}

/// Session lifetime in hours, kept within sane bounds so the expiry arithmetic cannot overflow.
fn session_hours(config: &ServeConfig) -> i64 {
    config.session_hours.clamp(1, MAX_SESSION_HOURS)
}

/// Opens a login session for `user` on `conn` (pass a transaction to make it part of a larger change),
/// and signs its token.
pub async fn open(
    conn: &mut PgConnection,
    state: &AppState,
    user: Uuid,
    client: &Client,
) -> ApiResult<Login> {
    let hours = session_hours(&state.config);
    let now = OffsetDateTime::now_utc();
    let expires_at = now + Duration::hours(hours);
    let session = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO login_sessions (id, user_id, expires_at, user_agent, client_addr) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(session)
    .bind(user)
    .bind(expires_at)
    .bind(&client.user_agent)
    .bind(client.addr.to_string())
    .execute(&mut *conn)
    .await?;
    let claims =
        Claims { sub: user, sid: session, iat: now.unix_timestamp(), exp: expires_at.unix_timestamp() };
    let token = state.tokens.issue(&claims)?;
    let cookie = session_cookie(&state.config, &token, Duration::hours(hours))?;
    Ok(Login { token, cookie })
}

/// The `Set-Cookie` value carrying `token`: HttpOnly so page scripts never see it, SameSite=Lax so other
/// sites' subrequests do not carry it, Secure whenever people reach us over https.
fn session_cookie(config: &ServeConfig, token: &str, max_age: Duration) -> ApiResult<HeaderValue> {
    let cookie = Cookie::build((SESSION_COOKIE, token))
        .http_only(true)
        .same_site(SameSite::Lax)
        .path("/")
        .max_age(max_age)
        .secure(config.secure_cookies())
        .build();
    HeaderValue::from_str(&cookie.to_string()).map_err(|e| ApiError::Internal(e.into()))
}

/// The `Set-Cookie` value that makes a browser forget its session cookie.
pub fn clear_cookie(config: &ServeConfig) -> ApiResult<HeaderValue> {
    let mut cookie = Cookie::build((SESSION_COOKIE, ""))
        .http_only(true)
        .same_site(SameSite::Lax)
        .path("/")
        .secure(config.secure_cookies())
        .build();
    cookie.make_removal();
    HeaderValue::from_str(&cookie.to_string()).map_err(|e| ApiError::Internal(e.into()))
}

/// The JSON answer to a successful sign-in: `status`, the cookie, and `{user, token}`.
pub fn signed_in(status: StatusCode, user: User, login: Login) -> Response {
    (status, [(SET_COOKIE, login.cookie)], Json(SignedIn { user, token: login.token })).into_response()
}
