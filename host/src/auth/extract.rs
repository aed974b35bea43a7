//! The `AuthUser` extractor: the caller, checked on every request.

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::HeaderMap;
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::origin::is_same_origin;
use crate::error::ApiError;
use crate::state::AppState;

/// Name of the cookie that carries the session token in browsers.
pub const SESSION_COOKIE: &str = "vibe_session";

/// A user's platform role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type, utoipa::ToSchema)]
#[sqlx(type_name = "text", rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Operator,
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub id: Uuid,
    pub email: String,
    pub role: Role,
    /// The login session the token names (revoked by logout).
    pub session_id: Uuid,
}

impl AuthUser {
    /// Refuses callers who are not operators.
    pub fn require_operator(&self) -> Result<(), ApiError> {
        match self.role {
            Role::Operator => Ok(()),
            Role::User => Err(ApiError::Forbidden("operators only".into())),
        }
    }
}

/// Where the token came from.
enum Credential {
    Bearer(String),
    Cookie(String),
}

fn credential(parts: &Parts) -> Option<Credential> {
    if let Some(value) = parts.headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        let token = value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer "))?;
        return Some(Credential::Bearer(token.trim().to_owned()));
    }
    cookie_value(&parts.headers, SESSION_COOKIE).map(Credential::Cookie)
}

/// The value of cookie `name` in `headers`, if sent.
pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// Resolves a token to its user, if the token is valid and its session is live.
pub async fn user_for_token(state: &AppState, token: &str) -> Result<Option<AuthUser>, ApiError> {
    let Some(claims) = state.tokens.verify(token) else { return Ok(None) };
    let row: Option<(Uuid, String, Role)> = sqlx::query_as(
        "SELECT u.id, u.email, u.role FROM login_sessions s JOIN users u ON u.id = s.user_id \
         WHERE s.id = $1 AND s.user_id = $2 AND s.revoked_at IS NULL AND s.expires_at > now()",
    )
    .bind(claims.sid)
    .bind(claims.sub)
    .fetch_optional(&state.db)
    .await?;
    Ok(row.map(|(id, email, role)| AuthUser { id, email, role, session_id: claims.sid }))
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        match <AuthUser as OptionalFromRequestParts<AppState>>::from_request_parts(parts, state).await? {
            Some(user) => Ok(user),
            None => Err(ApiError::Unauthorized),
        }
    }
}

impl OptionalFromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Option<Self>, Self::Rejection> {
        let Some(credential) = credential(parts) else { return Ok(None) };
        let token = match credential {
            Credential::Bearer(token) => token,
            Credential::Cookie(token) => {
                // Cookies ride along on requests other sites trigger; state changes must come from our pages.
                if !parts.method.is_safe() && !is_same_origin(&parts.headers, &state.config, false) {
                    return Err(ApiError::Forbidden("cross-origin request refused".into()));
                }
                token
            }
        };
        user_for_token(state, &token).await
    }
}
