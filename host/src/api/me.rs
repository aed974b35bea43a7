//! `/api/users/me`: the signed-in person's own account (name and profile).
//!
//! The profile is free-form JSON the conversation engine reads as context (passions, skills,
//! constraints); it is kept small because it rides along with every agent prompt.

use axum::extract::State;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::auth::check_name;
use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult, ErrorBody, Json};
use crate::state::AppState;
use crate::users::{self, USER_COLUMNS, User};

/// Largest profile accepted, serialized as JSON.
pub const MAX_PROFILE_BYTES: usize = 16 * 1024;

/// The `/api/users/me` routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_me, update_me))
}

/// Changes to one's account; absent fields stay as they are.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMe {
    /// Display name, at most 200 characters.
    pub name: Option<String>,
    /// Replaces the whole profile: a JSON object such as
    /// `{"passions": [...], "skills": [...], "constraints": [...]}`, at most 16 KiB serialized.
    #[schema(value_type = Option<Object>)]
    pub profile: Option<serde_json::Value>,
}

/// The signed-in account.
#[utoipa::path(
    get,
    path = "/api/users/me",
    tag = "users",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The account", body = User),
        (status = 401, description = "Not signed in", body = ErrorBody),
    )
)]
pub async fn get_me(State(state): State<AppState>, me: AuthUser) -> ApiResult<Json<User>> {
    Ok(Json(users::get(&state.db, me.id).await?))
}

/// Change one's name or profile.
#[utoipa::path(
    patch,
    path = "/api/users/me",
    tag = "users",
    security(("bearer" = []), ("cookie" = [])),
    request_body = UpdateMe,
    responses(
        (status = 200, description = "The updated account", body = User),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Cookie-authenticated request from another origin", body = ErrorBody),
        (status = 422, description = "Invalid name or profile", body = ErrorBody),
    )
)]
pub async fn update_me(
    State(state): State<AppState>,
    me: AuthUser,
    Json(body): Json<UpdateMe>,
) -> ApiResult<Json<User>> {
    let name = body.name.as_deref().map(check_name).transpose()?;
    if let Some(profile) = &body.profile {
        check_profile(profile)?;
    }
    let user = sqlx::query_as::<_, User>(&format!(
        "UPDATE users SET name = COALESCE($2, name), profile = COALESCE($3, profile), updated_at = now() \
         WHERE id = $1 RETURNING {USER_COLUMNS}"
    ))
    .bind(me.id)
    .bind(name)
    .bind(body.profile)
    .fetch_one(&state.db)
    .await?;
    Ok(Json(user))
}

fn check_profile(profile: &serde_json::Value) -> ApiResult<()> {
    if !profile.is_object() {
        return Err(ApiError::validation("profile", "must be a JSON object"));
    }
    if contains_nul(profile) {
        // PostgreSQL's jsonb cannot store U+0000.
        return Err(ApiError::validation("profile", "must not contain the character U+0000"));
    }
    let size = serde_json::to_vec(profile).map_err(|e| ApiError::Internal(e.into()))?.len();
    if size > MAX_PROFILE_BYTES {
        return Err(ApiError::validation(
            "profile",
            format!("must be at most {} KiB as JSON (it is {size} bytes)", MAX_PROFILE_BYTES / 1024),
        ));
    }
    Ok(())
}

/// Whether any string or key in `value` holds U+0000. Recursion is bounded by serde_json's nesting limit.
fn contains_nul(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::String(s) => s.contains('\0'),
        serde_json::Value::Array(items) => items.iter().any(contains_nul),
        serde_json::Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || contains_nul(v)),
        _ => false,
    }
}
