//! Builds over the API: start a build of an idea's confirmed spec, follow it, list an idea's builds,
//! and download an app's code. The work itself is `crate::build`'s.
//!
//! Only the idea's owner starts a build (the credits are theirs); everyone who may see the idea may
//! read its builds; an app's code is for those who may see the app.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::access::{Need, require_app, require_idea};
use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult, ErrorBody, Json, Path};
use crate::state::AppState;

/// The answer to `POST /api/ideas/{id}/build`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BuildStarted {
    pub build_id: Uuid,
}

/// A build and its report.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct BuildView {
    pub id: Uuid,
    pub idea_id: Uuid,
    /// The app it built (set once the app exists).
    pub app_id: Option<Uuid>,
    /// The spec version it built.
    pub spec_version: i32,
    /// That spec, as built (the app version it made keeps it).
    #[schema(value_type = Object)]
    pub spec: Value,
    /// `queued`, `running`, `succeeded` or `failed`.
    pub status: String,
    /// The stage it is at or ended in: `generating`, `compiling`, `testing`, `deploying`, `live`.
    pub stage: String,
    /// Each stage it went through: `{stage, status, started_at, duration_ms, message}`.
    #[schema(value_type = Vec<Object>)]
    pub stages: Value,
    /// Each compile attempt: `{number, ok, duration_ms, error}`.
    #[schema(value_type = Vec<Object>)]
    pub attempts: Value,
    /// The tests derived from the spec and how each went (once they ran).
    #[schema(value_type = Option<Object>)]
    pub test_report: Option<Value>,
    /// Credits charged (a failed build costs nothing).
    pub credits_charged: i64,
    /// The app version it deployed.
    pub version_number: Option<i32>,
    /// The commit of the version's code in the app's repository.
    pub source_commit: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub finished_at: Option<OffsetDateTime>,
}

const BUILD_COLUMNS: &str = "id, idea_id, app_id, spec_version, spec, status, stage, stages, attempts, test_report, \
    credits_charged, version_number, source_commit, error, created_at, finished_at";

/// `GET /api/apps/{id}/source` query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct SourceQuery {
    /// The version whose code to download (default: the latest built).
    pub version: Option<i32>,
}

/// The routes of this module.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(start_build))
        .routes(routes!(list_builds))
        .routes(routes!(get_build))
        .routes(routes!(app_source))
}

/// Starts a build of the idea's confirmed spec (the idea's owner). Follow it with
/// `GET /api/builds/{id}` or the `build:progress` events.
#[utoipa::path(
    post, path = "/api/ideas/{id}/build", tag = "builds",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = Uuid, Path, description = "The idea's id")),
    responses(
        (status = 202, description = "The build is queued", body = BuildStarted),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 402, description = "The credits do not cover a build", body = ErrorBody),
        (status = 403, description = "Only the owner starts builds", body = ErrorBody),
        (status = 404, description = "No such idea, or not visible to the caller", body = ErrorBody),
        (status = 409, description = "No confirmed spec, or a build of the idea is already running", body = ErrorBody),
    )
)]
async fn start_build(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
) -> ApiResult<(StatusCode, Json<BuildStarted>)> {
    require_idea(&state.db, id, user.id, Need::Own).await?;
    let build_id = crate::build::pipeline::start(&state, id, user.id).await?;
    Ok((StatusCode::ACCEPTED, Json(BuildStarted { build_id })))
}

/// The idea's builds, newest first.
#[utoipa::path(
    get, path = "/api/ideas/{id}/builds", tag = "builds",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = Uuid, Path, description = "The idea's id")),
    responses(
        (status = 200, description = "The builds, newest first (at most 100)", body = Vec<BuildView>),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such idea, or not visible to the caller", body = ErrorBody),
    )
)]
async fn list_builds(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Vec<BuildView>>> {
    require_idea(&state.db, id, user.id, Need::Read).await?;
    let builds = sqlx::query_as(&format!(
        "SELECT {BUILD_COLUMNS} FROM builds WHERE idea_id = $1 ORDER BY created_at DESC LIMIT 100"
    ))
    .bind(id)
    .fetch_all(&state.db)
    .await?;
    Ok(Json(builds))
}

/// One build: its stages, compile attempts, test report, credits and result.
#[utoipa::path(
    get, path = "/api/builds/{id}", tag = "builds",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = Uuid, Path, description = "The build's id")),
    responses(
        (status = 200, description = "The build", body = BuildView),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such build, or not visible to the caller", body = ErrorBody),
    )
)]
async fn get_build(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<BuildView>> {
    let build: BuildView = sqlx::query_as(&format!("SELECT {BUILD_COLUMNS} FROM builds WHERE id = $1"))
        .bind(id)
        .fetch_optional(&state.db)
        .await?
        .ok_or(ApiError::NotFound)?;
    require_idea(&state.db, build.idea_id, user.id, Need::Read).await?;
    Ok(Json(build))
}

/// The app's code at a version, as a `.tar.gz` of its crate (`src/` and `migrations/`).
#[utoipa::path(
    get, path = "/api/apps/{id}/source", tag = "builds",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = Uuid, Path, description = "The app's id"), SourceQuery),
    responses(
        (status = 200, description = "The code", content_type = "application/gzip", body = Vec<u8>),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such app, not visible to the caller, or no code for that version", body = ErrorBody),
    )
)]
async fn app_source(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
    Query(query): Query<SourceQuery>,
) -> ApiResult<Response> {
    require_app(&state.db, id, user.id, Need::Read).await?;
    let slug = super::apps::app_slug(&state, id).await?;
    if !state.builds.repos.path(id).exists() {
        // An app uploaded by hand has no repository: its code is its owner's, not ours.
        return Err(ApiError::NotFound);
    }
    let versions = state.builds.repos.versions(id).await.map_err(ApiError::Internal)?;
    let version = match query.version {
        Some(number) => versions.iter().find(|version| version.number == number),
        None => versions.last(),
    };
    let Some(version) = version.map(|version| version.number) else { return Err(ApiError::NotFound) };
    let tarball =
        state.builds.repos.tarball_named(id, Some(version), &slug).await.map_err(ApiError::Internal)?;
    let name = format!("{slug}-v{version}.tar.gz");
    let disposition = format!("attachment; filename=\"{name}\"");
    Ok(([(CONTENT_TYPE, "application/gzip".to_owned()), (CONTENT_DISPOSITION, disposition)], tarball)
        .into_response())
}
