//! An idea's app spec: `GET/PUT /api/ideas/{id}/spec` and the owner's stage gate,
//! `POST /api/ideas/{id}/spec/confirm`.
//!
//! A spec written here is a new version of the idea's `spec` pipeline artifact, stored through
//! the same write path as an agent's (which validates it and keeps `ideas.specifications` in step).
//! Members read it; owners and collaborators write it; only the owner confirms it, and only the
//! latest version: a version written after a confirmation waits for its own.

use axum::body::Bytes;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::access::{Need, require_idea};
use crate::agents::runtime::capabilities::CapError;
use crate::agents::runtime::capabilities::pipeline;
use crate::agents::runtime::types::{ArtifactWrite, ContentType};
use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult, ErrorBody, Json, Path, Violation};
use crate::spec::store::{self, ConfirmError, CurrentSpec};
use crate::spec::{self as app_spec, SpecViolation};
use crate::state::AppState;

/// An idea's current spec.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SpecView {
    pub idea_id: Uuid,
    /// The version shown (the latest), from 1.
    pub version: u32,
    /// The spec, in the format of `host/schemas/app-spec-v1.schema.json`.
    #[schema(value_type = Object)]
    pub spec: Value,
    /// Whether the owner confirmed this version (a build needs that).
    pub confirmed: bool,
    /// The latest confirmation, possibly of an older version.
    pub confirmation: Option<ConfirmationView>,
    /// Who wrote this version: `plugin@version` for an agent, `user:<id>` for a person.
    pub written_by: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub written_at: OffsetDateTime,
}

/// The owner's confirmation of a version.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConfirmationView {
    pub version: u32,
    pub confirmed_by: Option<Uuid>,
    #[serde(with = "time::serde::rfc3339")]
    pub confirmed_at: OffsetDateTime,
}

impl SpecView {
    fn new(idea_id: Uuid, current: CurrentSpec) -> Self {
        SpecView {
            idea_id,
            version: current.latest.version,
            confirmed: current.confirmed(),
            confirmation: current.confirmation.map(|confirmation| ConfirmationView {
                version: confirmation.version,
                confirmed_by: confirmation.confirmed_by,
                confirmed_at: confirmation.confirmed_at,
            }),
            spec: current.latest.spec,
            written_by: current.latest.written_by,
            written_at: current.latest.written_at,
        }
    }
}

/// `PUT /api/ideas/{id}/spec` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SpecWrite {
    /// The whole spec.
    #[schema(value_type = Object)]
    pub spec: Value,
    /// Refuse (409) unless this is still the latest version (0: no spec yet).
    pub expected_version: Option<u32>,
}

/// `POST /api/ideas/{id}/spec/confirm` body (optional).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SpecConfirm {
    /// The version being confirmed: refused (409) unless it is the latest.
    pub version: Option<u32>,
}

/// The spec routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_spec, put_spec)).routes(routes!(confirm_spec))
}

fn invalid(violations: Vec<SpecViolation>) -> ApiError {
    let count = violations.len();
    ApiError::Violations {
        field: "spec".to_owned(),
        message: format!("the spec does not validate ({count} problem{})", if count == 1 { "" } else { "s" }),
        violations: violations
            .into_iter()
            .map(|violation| Violation { path: violation.path, message: violation.message })
            .collect(),
    }
}

async fn view(state: &AppState, id: Uuid) -> ApiResult<SpecView> {
    let current = store::current(&state.db, id).await?.ok_or(ApiError::NotFound)?;
    Ok(SpecView::new(id, current))
}

/// Shows the idea's current spec, its version and whether the owner confirmed it.
#[utoipa::path(
    get, path = "/api/ideas/{id}/spec", tag = "specs",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = Uuid, Path, description = "The idea's id")),
    responses(
        (status = 200, description = "The current spec", body = SpecView),
        (status = 400, description = "The id is not a UUID", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such idea, not visible to the caller, or no spec yet", body = ErrorBody),
    )
)]
async fn get_spec(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<SpecView>> {
    require_idea(&state.db, id, user.id, Need::Read).await?;
    Ok(Json(view(&state, id).await?))
}

/// Stores a spec written by hand as the idea's next spec version (owners and collaborators).
#[utoipa::path(
    put, path = "/api/ideas/{id}/spec", tag = "specs",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = Uuid, Path, description = "The idea's id")),
    request_body = SpecWrite,
    responses(
        (status = 200, description = "Stored as the new latest version (unconfirmed)", body = SpecView),
        (status = 400, description = "The id is not a UUID, or the body is not JSON", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Viewers cannot change the spec", body = ErrorBody),
        (status = 404, description = "No such idea, or not visible to the caller", body = ErrorBody),
        (status = 409, description = "`expected_version` is no longer the latest", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
        (status = 422, description = "The spec does not validate: `violations` lists each failure with its JSON pointer", body = ErrorBody),
    )
)]
async fn put_spec(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
    Json(body): Json<SpecWrite>,
) -> ApiResult<Json<SpecView>> {
    require_idea(&state.db, id, user.id, Need::Write).await?;
    app_spec::validate(&body.spec).map_err(invalid)?;
    let content = serde_json::to_string(&body.spec).map_err(|error| ApiError::Internal(error.into()))?;
    let artifact =
        ArtifactWrite { name: app_spec::ARTIFACT.to_owned(), content_type: ContentType::Json, content };
    let written_by = format!("user:{}", user.id);
    pipeline::write(&state.db, id, &artifact, body.expected_version, Some(&written_by), None)
        .await
        .map_err(refused)?;
    Ok(Json(view(&state, id).await?))
}

/// The pipeline's refusal as an API error.
fn refused(error: CapError) -> ApiError {
    match error {
        CapError::Conflict(message) => ApiError::Conflict(message),
        CapError::Invalid(message) => ApiError::validation("spec", message),
        CapError::TooLarge(_) => ApiError::PayloadTooLarge,
        CapError::Denied(message) | CapError::QuotaExceeded(message) => ApiError::Forbidden(message),
        CapError::Unavailable(_) => ApiError::Unavailable,
    }
}

/// The owner confirms the latest spec version: the stage gate before a build.
#[utoipa::path(
    post, path = "/api/ideas/{id}/spec/confirm", tag = "specs",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = Uuid, Path, description = "The idea's id")),
    request_body(content = Option<SpecConfirm>, description = "Optionally, the version being confirmed"),
    responses(
        (status = 200, description = "Confirmed (again, when it already was)", body = SpecView),
        (status = 400, description = "The id is not a UUID, or the body is not JSON", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Only the owner confirms the spec", body = ErrorBody),
        (status = 404, description = "No such idea, or not visible to the caller", body = ErrorBody),
        (status = 409, description = "No spec yet, or the version given is not the latest", body = ErrorBody),
        (status = 422, description = "The body is malformed, or the latest version does not validate", body = ErrorBody),
    )
)]
async fn confirm_spec(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
    body: Bytes,
) -> ApiResult<Json<SpecView>> {
    require_idea(&state.db, id, user.id, Need::Own).await?;
    let version = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        let body: SpecConfirm = serde_json::from_slice(&body).map_err(|error| match error.classify() {
            serde_json::error::Category::Data => ApiError::validation("body", error.to_string()),
            _ => ApiError::BadRequest(format!("the body is not valid JSON: {error}")),
        })?;
        body.version
    };
    match store::confirm(&state.db, id, user.id, version).await {
        Ok(_) => Ok(Json(view(&state, id).await?)),
        Err(ConfirmError::NoSpec) => {
            Err(ApiError::Conflict("this idea has no spec to confirm yet".to_owned()))
        }
        Err(error @ ConfirmError::Stale { .. }) => Err(ApiError::Conflict(error.to_string())),
        Err(ConfirmError::Invalid(violations)) => Err(invalid(violations)),
        Err(ConfirmError::IdeaGone) => Err(ApiError::NotFound),
        Err(ConfirmError::Database(error)) => Err(error.into()),
    }
}
