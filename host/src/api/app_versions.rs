//! An app's versions and lifecycle over the API: upload a version (it goes live), list versions,
//! roll back, pause, resume, delete. Owners and collaborators manage versions; deleting is the owner's;
//! viewers may list; strangers get 404. The work itself is `crate::apps::deploy`'s.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Request, State};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::access::{Need, require_app};
use crate::apps::deploy::{MAX_COMPONENT_BYTES, Migration, NewVersion, VersionRecord};
use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult, ErrorBody, Json, Path};
use crate::state::AppState;

/// The largest upload accepted: a component with its migrations and configuration.
pub const MAX_UPLOAD_BYTES: usize = 64 * 1024 * 1024;

/// A version upload as `multipart/form-data` (documentation only: the handler reads the parts).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // Its fields describe the form; the handler reads the multipart stream itself.
struct VersionUpload {
    /// The component: a `wasi:http` component built for `wasm32-wasip2`.
    #[schema(value_type = String, format = Binary)]
    component: Vec<u8>,
    /// Migrations, one file part each, named by the part's file name, applied in the order sent.
    #[schema(value_type = Vec<String>, format = Binary)]
    migrations: Vec<Vec<u8>>,
    /// Settings and secrets the app reads through `vibe:app/config`: a JSON object of name → string.
    config: Option<String>,
}

/// `POST /api/apps/{id}/rollback` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackRequest {
    /// The number of the version to serve again.
    pub version: i32,
}

/// An app's state after pause or resume.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LifecycleStatus {
    /// `deployed` or `paused`.
    pub status: String,
}

/// The routes of this module.
pub fn routes() -> OpenApiRouter<AppState> {
    let uploads = OpenApiRouter::new()
        .routes(routes!(create_version, list_versions))
        .layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES));
    OpenApiRouter::new()
        .merge(uploads)
        .routes(routes!(rollback))
        .routes(routes!(pause))
        .routes(routes!(resume))
}

/// Uploads a version (component, migrations, configuration) and makes it live.
///
/// The component is precompiled and its migrations applied, as the app's own database role, in one
/// transaction before the switch; anything refused changes nothing. Send the component alone as
/// `application/wasm`, or with migrations and configuration as `multipart/form-data`.
#[utoipa::path(
    post, path = "/api/apps/{id}/versions", tag = "apps",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = Uuid, Path, description = "The app's id")),
    request_body(content(
        (Vec<u8> = "application/wasm"),
        (inline(VersionUpload) = "multipart/form-data"),
    )),
    responses(
        (status = 201, description = "The new version, now live", body = VersionRecord),
        (status = 400, description = "Not a component upload", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Viewers cannot deploy", body = ErrorBody),
        (status = 404, description = "No such app, or not visible to the caller", body = ErrorBody),
        (status = 413, description = "The upload is larger than 64 MiB", body = ErrorBody),
        (status = 422, description = "The component, a migration or the configuration was refused, with the reason", body = ErrorBody),
    )
)]
async fn create_version(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
    request: Request,
) -> ApiResult<(StatusCode, Json<VersionRecord>)> {
    require_app(&state.db, id, user.id, Need::Write).await?;
    let content_type = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let new = if content_type.starts_with("multipart/form-data") {
        let form = Multipart::from_request(request, &state)
            .await
            .map_err(|e| ApiError::BadRequest(e.body_text()))?;
        read_form(form).await?
    } else if content_type.starts_with("application/wasm")
        || content_type.starts_with("application/octet-stream")
    {
        let component = Bytes::from_request(request, &state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge
            } else {
                ApiError::BadRequest(rejection.body_text())
            }
        })?;
        NewVersion { component: component.to_vec(), ..NewVersion::default() }
    } else {
        return Err(ApiError::BadRequest(
            "send the component as application/wasm, or as multipart/form-data with its migrations".into(),
        ));
    };
    let version = state.apps.deploy(id, new).await?;
    Ok((StatusCode::CREATED, Json(version)))
}

/// Reads the parts of a version upload.
async fn read_form(mut form: Multipart) -> ApiResult<NewVersion> {
    let mut new = NewVersion::default();
    let mut component = None;
    loop {
        let field = form.next_field().await.map_err(multipart_error)?;
        let Some(field) = field else { break };
        let name = field.name().unwrap_or_default().to_owned();
        let file_name = field.file_name().map(str::to_owned);
        let bytes = field.bytes().await.map_err(multipart_error)?;
        match name.as_str() {
            "component" if component.is_none() => component = Some(bytes.to_vec()),
            "component" => return Err(ApiError::validation("component", "send one component")),
            "migrations" | "migration" => {
                let name = file_name.filter(|n| !n.is_empty()).ok_or_else(|| {
                    ApiError::validation(
                        "migrations",
                        "each migration is a file part; its file name names it",
                    )
                })?;
                let sql = String::from_utf8(bytes.to_vec())
                    .map_err(|_| ApiError::validation("migrations", format!("{name} is not UTF-8 text")))?;
                new.migrations.push(Migration { name, sql });
            }
            "config" => new.config = parse_config(&bytes)?,
            other => {
                return Err(ApiError::validation(
                    "body",
                    format!("unknown part {other:?}: expected component, migrations or config"),
                ));
            }
        }
    }
    new.component =
        component.ok_or_else(|| ApiError::validation("component", "the component part is missing"))?;
    if new.component.len() > MAX_COMPONENT_BYTES {
        return Err(ApiError::PayloadTooLarge);
    }
    Ok(new)
}

fn multipart_error(error: axum::extract::multipart::MultipartError) -> ApiError {
    if error.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge
    } else {
        ApiError::BadRequest(error.body_text())
    }
}

fn parse_config(bytes: &[u8]) -> ApiResult<BTreeMap<String, String>> {
    serde_json::from_slice(bytes)
        .map_err(|error| ApiError::validation("config", format!("a JSON object of name to string: {error}")))
}

/// Lists an app's versions, newest first.
#[utoipa::path(
    get, path = "/api/apps/{id}/versions", tag = "apps",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = Uuid, Path, description = "The app's id")),
    responses(
        (status = 200, description = "The versions, newest first", body = Vec<VersionRecord>),
        (status = 400, description = "The id is not a UUID", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such app, or not visible to the caller", body = ErrorBody),
    )
)]
async fn list_versions(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Vec<VersionRecord>>> {
    require_app(&state.db, id, user.id, Need::Read).await?;
    Ok(Json(state.apps.versions(id).await?))
}

/// Serves an earlier version again (its code and configuration; migrations are never undone).
#[utoipa::path(
    post, path = "/api/apps/{id}/rollback", tag = "apps",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = Uuid, Path, description = "The app's id")),
    request_body = RollbackRequest,
    responses(
        (status = 200, description = "The version now live", body = VersionRecord),
        (status = 400, description = "The id is not a UUID", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Viewers cannot roll back", body = ErrorBody),
        (status = 404, description = "No such app, or not visible to the caller", body = ErrorBody),
        (status = 422, description = "No such version", body = ErrorBody),
    )
)]
async fn rollback(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
    Json(body): Json<RollbackRequest>,
) -> ApiResult<Json<VersionRecord>> {
    require_app(&state.db, id, user.id, Need::Write).await?;
    Ok(Json(state.apps.rollback(id, body.version).await?))
}

/// Pauses the app: it answers 503 until resumed.
#[utoipa::path(
    post, path = "/api/apps/{id}/pause", tag = "apps",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = Uuid, Path, description = "The app's id")),
    responses(
        (status = 200, description = "Paused", body = LifecycleStatus),
        (status = 400, description = "The id is not a UUID", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Viewers cannot pause", body = ErrorBody),
        (status = 404, description = "No such app, or not visible to the caller", body = ErrorBody),
        (status = 409, description = "The app has no deployed version", body = ErrorBody),
    )
)]
async fn pause(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<LifecycleStatus>> {
    require_app(&state.db, id, user.id, Need::Write).await?;
    let status = state.apps.set_paused(id, true).await?;
    Ok(Json(LifecycleStatus { status: status.to_owned() }))
}

/// Resumes a paused app.
#[utoipa::path(
    post, path = "/api/apps/{id}/resume", tag = "apps",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = Uuid, Path, description = "The app's id")),
    responses(
        (status = 200, description = "Serving again", body = LifecycleStatus),
        (status = 400, description = "The id is not a UUID", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Viewers cannot resume", body = ErrorBody),
        (status = 404, description = "No such app, or not visible to the caller", body = ErrorBody),
        (status = 409, description = "The app has no deployed version", body = ErrorBody),
    )
)]
async fn resume(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<LifecycleStatus>> {
    require_app(&state.db, id, user.id, Need::Write).await?;
    let status = state.apps.set_paused(id, false).await?;
    Ok(Json(LifecycleStatus { status: status.to_owned() }))
}

/// Deletes the app: it stops answering, its database schema and role are dropped, and its versions,
/// analytics and logs go with it (owners only).
#[utoipa::path(
    delete, path = "/api/apps/{id}", tag = "apps",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = Uuid, Path, description = "The app's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "The id is not a UUID", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Only the owner may delete it", body = ErrorBody),
        (status = 404, description = "No such app, or not visible to the caller", body = ErrorBody),
    )
)]
pub(super) async fn delete_app(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    require_app(&state.db, id, user.id, Need::Own).await?;
    state.apps.delete(id).await?;
    Ok(StatusCode::NO_CONTENT)
}
