//! Apps: the live products built from ideas, as their owners and the idea's members see and manage them.
//!
//! Apps are created by the build pipeline; here people list them, look at one and change its name, its
//! hosting configuration and its feature switches. The app's owner has every right on it; everyone else has
//! the role they have on the app's idea (see [`super::access::app_role`]).

use axum::extract::State;
use axum::response::Redirect;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::access::{IdeaRole, Need, require_app};
use super::ideas::validate_name;
use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult, ErrorBody, Json, Path};
use crate::state::AppState;

/// Largest `hosting_config` accepted, serialized, in bytes.
pub const MAX_HOSTING_CONFIG_BYTES: usize = 16 * 1024;
/// Most feature switches an app may have.
pub const MAX_FEATURES: usize = 100;

/// An app as the API shows it, with the caller's role on it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct App {
    pub id: Uuid,
    /// The idea it was built from; null once that idea is deleted.
    pub idea_id: Option<Uuid>,
    pub owner_id: Uuid,
    /// The app's address segment: served at `/apps/{slug}/` and on `{slug}.{apps domain}`.
    pub slug: String,
    pub name: String,
    /// `building`, `deployed`, `paused` or `failed`.
    pub status: String,
    /// Where people reach the app.
    pub url: String,
    pub live_version_id: Option<Uuid>,
    /// The number of the live version (1, 2, …).
    pub live_version: Option<i32>,
    /// `unknown`, `healthy` or `failing`: the last health check of a built app.
    pub health: String,
    #[schema(value_type = Object)]
    pub hosting_config: Value,
    /// Feature name → on or off.
    #[schema(value_type = Object)]
    pub features_enabled: Value,
    pub role: IdeaRole,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub deployed_at: Option<OffsetDateTime>,
}

#[derive(sqlx::FromRow)]
struct AppRow {
    id: Uuid,
    idea_id: Option<Uuid>,
    owner_id: Uuid,
    slug: String,
    name: String,
    status: String,
    live_version_id: Option<Uuid>,
    live_version: Option<i32>,
    health: String,
    hosting_config: Value,
    features_enabled: Value,
    role: IdeaRole,
    created_at: OffsetDateTime,
    deployed_at: Option<OffsetDateTime>,
}

impl AppRow {
    fn into_app(self, state: &AppState) -> App {
        App {
            url: format!("{}/apps/{}/", state.config.public_base(), self.slug),
            id: self.id,
            idea_id: self.idea_id,
            owner_id: self.owner_id,
            slug: self.slug,
            name: self.name,
            status: self.status,
            live_version_id: self.live_version_id,
            live_version: self.live_version,
            health: self.health,
            hosting_config: self.hosting_config,
            features_enabled: self.features_enabled,
            role: self.role,
            created_at: self.created_at,
            deployed_at: self.deployed_at,
        }
    }
}

fn app_columns(role: &str) -> String {
    format!(
        "a.id, a.idea_id, a.user_id AS owner_id, a.slug, a.name, a.status, a.live_version_id, \
         (SELECT v.number FROM app_versions v WHERE v.id = a.live_version_id) AS live_version, a.health, \
         a.hosting_config, a.features_enabled, {role} AS role, a.created_at, a.deployed_at"
    )
}

/// `PATCH /api/apps/{id}` body: only the fields given change; objects are replaced whole.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppPatch {
    /// 1 to 200 characters.
    pub name: Option<String>,
    /// A JSON object of at most 16 KiB.
    #[schema(value_type = Option<Object>)]
    pub hosting_config: Option<Value>,
    /// An object of feature name (1 to 64 of `a-z0-9_-`) → boolean, at most 100 entries.
    #[schema(value_type = Option<Object>)]
    pub features_enabled: Option<Value>,
}

fn validate_hosting_config(value: &Value) -> Result<(), ApiError> {
    if !value.is_object() {
        return Err(ApiError::validation("hosting_config", "must be a JSON object"));
    }
    let serialized = value.to_string();
    if serialized.len() > MAX_HOSTING_CONFIG_BYTES {
        return Err(ApiError::validation(
            "hosting_config",
            format!("at most {MAX_HOSTING_CONFIG_BYTES} bytes"),
        ));
    }
    // JSONB cannot hold NUL characters: refuse them here rather than answer an internal error.
    if contains_nul(value) {
        return Err(ApiError::validation("hosting_config", "must not contain NUL characters"));
    }
    Ok(())
}

fn contains_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(contains_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || contains_nul(v)),
        _ => false,
    }
}

fn validate_features(value: &Value) -> Result<(), ApiError> {
    let field = "features_enabled";
    let Some(features): Option<&Map<String, Value>> = value.as_object() else {
        return Err(ApiError::validation(field, "must be a JSON object"));
    };
    if features.len() > MAX_FEATURES {
        return Err(ApiError::validation(field, format!("at most {MAX_FEATURES} features")));
    }
    for (name, on) in features {
        let good_name = (1..=64).contains(&name.len())
            && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if !good_name {
            return Err(ApiError::validation(field, "feature names are 1 to 64 of a-z, 0-9, _ and -"));
        }
        if !on.is_boolean() {
            return Err(ApiError::validation(field, format!("feature {name:?} must be true or false")));
        }
    }
    Ok(())
}

/// The app routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_apps)).routes(routes!(open_app)).routes(routes!(
        get_app,
        update_app,
        super::app_versions::delete_app
    ))
}

/// Lists the apps the caller owns or whose idea they are a member of, newest first.
#[utoipa::path(
    get, path = "/api/apps", tag = "apps",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The caller's apps, newest first", body = Vec<App>),
        (status = 401, description = "Not signed in", body = ErrorBody),
    )
)]
async fn list_apps(State(state): State<AppState>, user: AuthUser) -> ApiResult<Json<Vec<App>>> {
    let rows = sqlx::query_as::<_, AppRow>(&format!(
        "SELECT {} FROM apps a \
         LEFT JOIN idea_collaborators c ON c.idea_id = a.idea_id AND c.user_id = $1 \
         WHERE a.user_id = $1 OR c.user_id IS NOT NULL \
         ORDER BY a.created_at DESC, a.id DESC",
        app_columns("CASE WHEN a.user_id = $1 THEN 'owner' ELSE c.role END")
    ))
    .bind(user.id)
    .fetch_all(&state.db)
    .await?;
    Ok(Json(rows.into_iter().map(|row| row.into_app(&state)).collect()))
}

/// App `id`'s slug (404 when it is gone).
pub(super) async fn app_slug(state: &AppState, id: Uuid) -> Result<String, ApiError> {
    sqlx::query_scalar("SELECT slug FROM apps WHERE id = $1")
        .bind(id)
        .fetch_optional(&state.db)
        .await?
        .ok_or(ApiError::NotFound)
}

/// Opens the app on its own host (`{slug}.{apps domain}`), signed in: a redirect carrying a
/// one-minute ticket for that app alone, which the app's host exchanges for its own cookie.
#[utoipa::path(
    get, path = "/api/apps/{id}/open", tag = "apps",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = Uuid, Path, description = "The app's id")),
    responses(
        (status = 303, description = "To the app's host, with the ticket"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such app, or not visible to the caller", body = ErrorBody),
    )
)]
async fn open_app(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
) -> ApiResult<Redirect> {
    require_app(&state.db, id, user.id, Need::Read).await?;
    let slug = app_slug(&state, id).await?;
    let url = crate::apps::entry::open_url(&state, &user, id, &slug).map_err(ApiError::Internal)?;
    Ok(Redirect::to(&url))
}

async fn fetch_app(state: &AppState, id: Uuid, role: IdeaRole) -> Result<App, ApiError> {
    let row =
        sqlx::query_as::<_, AppRow>(&format!("SELECT {} FROM apps a WHERE a.id = $1", app_columns("$2")))
            .bind(id)
            .bind(role)
            .fetch_one(&state.db)
            .await?;
    Ok(row.into_app(state))
}

/// Shows one app.
#[utoipa::path(
    get, path = "/api/apps/{id}", tag = "apps",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = Uuid, Path, description = "The app's id")),
    responses(
        (status = 200, description = "The app", body = App),
        (status = 400, description = "The id is not a UUID", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such app, or not visible to the caller", body = ErrorBody),
    )
)]
async fn get_app(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<App>> {
    let role = require_app(&state.db, id, user.id, Need::Read).await?;
    Ok(Json(fetch_app(&state, id, role).await?))
}

/// Changes an app's name, hosting configuration or feature switches (owners and collaborators).
#[utoipa::path(
    patch, path = "/api/apps/{id}", tag = "apps",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = Uuid, Path, description = "The app's id")),
    request_body = AppPatch,
    responses(
        (status = 200, description = "The changed app", body = App),
        (status = 400, description = "The id is not a UUID", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Viewers cannot change it", body = ErrorBody),
        (status = 404, description = "No such app, or not visible to the caller", body = ErrorBody),
        (status = 422, description = "A field is invalid", body = ErrorBody),
    )
)]
async fn update_app(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
    Json(body): Json<AppPatch>,
) -> ApiResult<Json<App>> {
    let role = require_app(&state.db, id, user.id, Need::Write).await?;
    let name = body.name.as_deref().map(|n| validate_name("name", n)).transpose()?;
    if let Some(config) = &body.hosting_config {
        validate_hosting_config(config)?;
        // Limits and outbound hosts must be ones this server can apply: refuse them here, not at the next load.
        state
            .apps
            .check_hosting_config(config)
            .map_err(|e| ApiError::validation("hosting_config", e.to_string()))?;
    }
    if let Some(features) = &body.features_enabled {
        validate_features(features)?;
    }
    sqlx::query(
        "UPDATE apps SET name = COALESCE($2, name), hosting_config = COALESCE($3, hosting_config), \
         features_enabled = COALESCE($4, features_enabled) WHERE id = $1",
    )
    .bind(id)
    .bind(name)
    .bind(body.hosting_config)
    .bind(body.features_enabled)
    .execute(&state.db)
    .await?;
    // Every process serving the app picks up its new limits and feature switches.
    state.apps.changed(id).await;
    Ok(Json(fetch_app(&state, id, role).await?))
}
