//! `/api/auth`: signup, password login, logout and magic links.
//!
//! Every way in opens a row in `login_sessions` and hands out a signed token naming it, both in the body
//! (for API clients) and in the `vibe_session` cookie (for browsers); see [`session`]. Logout revokes the
//! row, so the token stops working at once everywhere. Passwords and tokens are never logged.

pub mod magic_link;
pub mod session;

use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::SET_COOKIE;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use self::session::{Client, SignedIn};
use crate::auth::{AuthUser, Role, password};
use crate::error::{ApiError, ApiResult, ErrorBody, Json};
use crate::state::AppState;
use crate::users::{self, NewUser};

/// Fewest characters a password may have.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Most characters a password may have (hashing cost grows with the length).
pub const MAX_PASSWORD_CHARS: usize = 1024;
/// Most characters a display name may have.
pub const MAX_NAME_CHARS: usize = 200;

/// The auth routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(signup))
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(magic_link::request_link))
        .routes(routes!(magic_link::confirm_page, magic_link::confirm))
}

/// A new account. No `Debug`: it holds a password.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    pub email: String,
    /// 8 to 1024 characters.
    pub password: String,
    /// Display name, at most 200 characters.
    #[serde(default)]
    pub name: Option<String>,
}

/// Email and password. No `Debug`: it holds a password.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

/// Checks a new password's length.
fn check_password(password: &str) -> ApiResult<()> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(ApiError::validation(
            "password",
            format!("must have at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err(ApiError::validation(
            "password",
            format!("must have at most {MAX_PASSWORD_CHARS} characters"),
        ));
    }
    Ok(())
}

/// Checks and trims a display name.
pub fn check_name(name: &str) -> ApiResult<String> {
    let name = name.trim();
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(ApiError::validation("name", format!("must have at most {MAX_NAME_CHARS} characters")));
    }
    if name.chars().any(char::is_control) {
        return Err(ApiError::validation("name", "must not contain control characters"));
    }
    Ok(name.to_owned())
}

/// Create an account with a password, and sign in.
#[utoipa::path(
    post,
    path = "/api/auth/signup",
    tag = "auth",
    request_body = SignupRequest,
    responses(
        (status = 201, description = "Account created and signed in; the `vibe_session` cookie is set", body = SignedIn),
        (status = 409, description = "An account with this email exists", body = ErrorBody),
        (status = 422, description = "Invalid email, password or name", body = ErrorBody),
    )
)]
pub async fn signup(
    State(state): State<AppState>,
    client: Client,
    Json(body): Json<SignupRequest>,
) -> ApiResult<Response> {
    let email = users::normalize_email(&body.email)?;
    check_password(&body.password)?;
    let name = check_name(body.name.as_deref().unwrap_or(""))?;
    let password_hash = password::hash(body.password).await?;

    let mut tx = state.db.begin().await?;
    let new = NewUser {
        email,
        password_hash: Some(password_hash),
        name,
        role: Role::User,
        initial_credits: state.config.signup_credits,
    };
    let user = users::create_in(&mut tx, new).await?;
    let login = session::open(&mut tx, &state, user.id, &client).await?;
    tx.commit().await?;
    tracing::info!(user = %user.id, "account created");
    Ok(session::signed_in(StatusCode::CREATED, user, login))
}

/// Sign in with email and password.
#[utoipa::path(
    post,
    path = "/api/auth/login",
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in; the `vibe_session` cookie is set", body = SignedIn),
        (status = 401, description = "Wrong email or password (the two are not told apart)", body = ErrorBody),
        (status = 429, description = "Too many attempts for this account or from this address", body = ErrorBody),
    )
)]
pub async fn login(
    State(state): State<AppState>,
    client: Client,
    Json(body): Json<LoginRequest>,
) -> ApiResult<Response> {
    let email = body.email.trim();
    state.rate_limits.check(email, client.addr)?;

    let stored: Option<(Uuid, Option<String>)> =
        sqlx::query_as("SELECT id, password_hash FROM users WHERE lower(email) = lower($1)")
            .bind(email)
            .fetch_optional(&state.db)
            .await?;
    // Unknown emails and magic-link-only accounts are checked against a dummy hash, so every failed
    // login costs one argon2 verification and the response time does not tell which accounts exist.
    let (user_id, phc) = match stored {
        Some((id, Some(phc))) => (Some(id), phc),
        _ => (None, password::dummy_hash().to_owned()),
    };
    let matches =
        body.password.chars().count() <= MAX_PASSWORD_CHARS && password::verify(body.password, phc).await;
    let user_id = match (user_id, matches) {
        (Some(id), true) => id,
        _ => return Err(ApiError::InvalidCredentials),
    };

    let user = users::get(&state.db, user_id).await?;
    let mut conn = state.db.acquire().await?;
    let login = session::open(&mut conn, &state, user.id, &client).await?;
    tracing::info!(user = %user.id, "signed in with a password");
    Ok(session::signed_in(StatusCode::OK, user, login))
}

/// Sign out: revoke this session and clear the cookie.
#[utoipa::path(
    post,
    path = "/api/auth/logout",
    tag = "auth",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 204, description = "Signed out; the token no longer works and the cookie is cleared"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Cookie-authenticated request from another origin", body = ErrorBody),
    )
)]
pub async fn logout(State(state): State<AppState>, user: AuthUser) -> ApiResult<Response> {
    sqlx::query("UPDATE login_sessions SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL")
        .bind(user.session_id)
        .execute(&state.db)
        .await?;
    tracing::info!(user = %user.id, session = %user.session_id, "signed out");
    Ok((StatusCode::NO_CONTENT, [(SET_COOKIE, session::clear_cookie(&state.config)?)]).into_response())
}
