//! Ideas: what a person wants to build, the root every session, collaborator and app hangs off.
//!
//! `GET/POST /api/ideas` and `GET/PATCH/DELETE /api/ideas/{id}`. Who may do what follows
//! [`super::access`]: members see their role with every idea, strangers get 404 for ideas that are not
//! public. The owner is a member like any other (an `idea_collaborators` row with role `owner`), written in
//! the same transaction as the idea so that no idea is ever without its owner's row.

use axum::extract::State;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::access::{IdeaRole, Need, require_idea};
use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult, ErrorBody, Json, Path};
use crate::state::AppState;

/// Longest summary accepted, in characters (agents write longer material into the pipeline's artifacts).
pub const MAX_SUMMARY_CHARS: usize = 20_000;

/// Who can see an idea besides its members.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type, utoipa::ToSchema)]
#[sqlx(type_name = "text", rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    /// Only its members.
    Private,
    /// Only its members (the owner and the people invited).
    Collaborators,
    /// Anyone signed in may read it; only members may change it.
    Public,
}

/// Where an idea is on its way to a live app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type, utoipa::ToSchema)]
#[sqlx(type_name = "text", rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub enum IdeaStatus {
    Ideation,
    Specification,
    Building,
    Live,
}

/// An idea as the API shows it, with the caller's role on it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Idea {
    pub id: Uuid,
    /// The account that owns the idea.
    pub owner_id: Uuid,
    pub name: String,
    pub summary: String,
    pub status: IdeaStatus,
    pub visibility: Visibility,
    /// What the caller may do: `owner`, `collaborator` or `viewer`.
    pub role: IdeaRole,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// Columns selected into [`Idea`] from `ideas i`, given the caller's role as `$role`.
fn idea_columns(role: &str) -> String {
    format!(
        "i.id, i.user_id AS owner_id, i.name, i.summary, i.status, i.visibility, {role} AS role, \
         i.created_at, i.updated_at"
    )
}

/// `POST /api/ideas` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewIdea {
    /// 1 to 200 characters.
    pub name: String,
    pub summary: Option<String>,
    /// Defaults to `private`.
    #[schema(value_type = Option<Visibility>)]
    pub visibility: Option<String>,
}

/// `PATCH /api/ideas/{id}` body: only the fields given change.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdeaPatch {
    pub name: Option<String>,
    pub summary: Option<String>,
    /// Only the owner may change who can see the idea.
    #[schema(value_type = Option<Visibility>)]
    pub visibility: Option<String>,
    #[schema(value_type = Option<IdeaStatus>)]
    pub status: Option<String>,
}

/// Checks a display name (ideas, apps): trimmed, 1 to 200 characters. Returns it trimmed.
pub fn validate_name(field: &str, name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    let chars = name.chars().count();
    if chars == 0 || chars > 200 {
        return Err(ApiError::validation(field, "must be 1 to 200 characters"));
    }
    if name.chars().any(char::is_control) {
        return Err(ApiError::validation(field, "must not contain control characters"));
    }
    Ok(name.to_owned())
}

/// Parses `value` as one of the lowercase names of enum `T`; a 422 naming `field` and `allowed` otherwise.
/// Request bodies take such fields as strings so that a wrong value is answered with the field's name.
pub fn parse_choice<T: DeserializeOwned>(field: &str, value: &str, allowed: &str) -> Result<T, ApiError> {
    serde_json::from_value(serde_json::Value::String(value.to_owned()))
        .map_err(|_| ApiError::validation(field, format!("must be one of: {allowed}")))
}

fn parse_visibility(value: &str) -> Result<Visibility, ApiError> {
    parse_choice("visibility", value, "private, collaborators, public")
}

fn validate_summary(summary: &str) -> Result<(), ApiError> {
    if summary.chars().count() > MAX_SUMMARY_CHARS {
        return Err(ApiError::validation("summary", format!("at most {MAX_SUMMARY_CHARS} characters")));
    }
    reject_nul("summary", summary)
}

/// Refuses text with NUL characters, which PostgreSQL cannot store (it would answer an internal error).
pub fn reject_nul(field: &str, text: &str) -> Result<(), ApiError> {
    if text.contains('\0') {
        return Err(ApiError::validation(field, "must not contain NUL characters"));
    }
    Ok(())
}

/// The idea routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_ideas, create_idea)).routes(routes!(
        get_idea,
        update_idea,
        delete_idea
    ))
}

/// Lists the ideas the caller owns or collaborates on, newest first.
#[utoipa::path(
    get, path = "/api/ideas", tag = "ideas",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The caller's ideas, newest first", body = Vec<Idea>),
        (status = 401, description = "Not signed in", body = ErrorBody),
    )
)]
async fn list_ideas(State(state): State<AppState>, user: AuthUser) -> ApiResult<Json<Vec<Idea>>> {
    let ideas = sqlx::query_as::<_, Idea>(&format!(
        "SELECT {} FROM ideas i JOIN idea_collaborators c ON c.idea_id = i.id AND c.user_id = $1 \
         ORDER BY i.created_at DESC, i.id DESC",
        idea_columns("c.role")
    ))
    .bind(user.id)
    .fetch_all(&state.db)
    .await?;
    Ok(Json(ideas))
}

/// Creates an idea owned by the caller.
#[utoipa::path(
    post, path = "/api/ideas", tag = "ideas",
    security(("bearer" = []), ("cookie" = [])),
    request_body = NewIdea,
    responses(
        (status = 201, description = "Created", body = Idea),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 422, description = "A field is invalid", body = ErrorBody),
    )
)]
async fn create_idea(
    State(state): State<AppState>,
    user: AuthUser,
    Json(body): Json<NewIdea>,
) -> ApiResult<(StatusCode, Json<Idea>)> {
    let name = validate_name("name", &body.name)?;
    let summary = body.summary.unwrap_or_default();
    validate_summary(&summary)?;
    let visibility =
        body.visibility.as_deref().map(parse_visibility).transpose()?.unwrap_or(Visibility::Private);

    let mut tx = state.db.begin().await?;
    let id = Uuid::now_v7();
    sqlx::query("INSERT INTO ideas (id, user_id, name, summary, visibility) VALUES ($1, $2, $3, $4, $5)")
        .bind(id)
        .bind(user.id)
        .bind(&name)
        .bind(&summary)
        .bind(visibility)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO idea_collaborators (idea_id, email, user_id, role, invited_by) \
         VALUES ($1, $2, $3, 'owner', $3)",
    )
    .bind(id)
    .bind(&user.email)
    .bind(user.id)
    .execute(&mut *tx)
    .await?;
    let idea = fetch_idea(&mut *tx, id, IdeaRole::Owner).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(idea)))
}

async fn fetch_idea<'e>(db: impl sqlx::PgExecutor<'e>, id: Uuid, role: IdeaRole) -> Result<Idea, ApiError> {
    Ok(sqlx::query_as::<_, Idea>(&format!("SELECT {} FROM ideas i WHERE i.id = $1", idea_columns("$2")))
        .bind(id)
        .bind(role)
        .fetch_one(db)
        .await?)
}

/// Shows one idea.
#[utoipa::path(
    get, path = "/api/ideas/{id}", tag = "ideas",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = Uuid, Path, description = "The idea's id")),
    responses(
        (status = 200, description = "The idea", body = Idea),
        (status = 400, description = "The id is not a UUID", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such idea, or not visible to the caller", body = ErrorBody),
    )
)]
async fn get_idea(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Idea>> {
    let role = require_idea(&state.db, id, user.id, Need::Read).await?;
    Ok(Json(fetch_idea(&state.db, id, role).await?))
}

/// Changes an idea (owners and collaborators; only the owner may change its visibility).
#[utoipa::path(
    patch, path = "/api/ideas/{id}", tag = "ideas",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = Uuid, Path, description = "The idea's id")),
    request_body = IdeaPatch,
    responses(
        (status = 200, description = "The changed idea", body = Idea),
        (status = 400, description = "The id is not a UUID", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Viewers cannot change it; only the owner changes visibility", body = ErrorBody),
        (status = 404, description = "No such idea, or not visible to the caller", body = ErrorBody),
        (status = 422, description = "A field is invalid", body = ErrorBody),
    )
)]
async fn update_idea(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
    Json(body): Json<IdeaPatch>,
) -> ApiResult<Json<Idea>> {
    let role = require_idea(&state.db, id, user.id, Need::Write).await?;
    let name = body.name.as_deref().map(|n| validate_name("name", n)).transpose()?;
    if let Some(summary) = &body.summary {
        validate_summary(summary)?;
    }
    let visibility = body.visibility.as_deref().map(parse_visibility).transpose()?;
    let status: Option<IdeaStatus> = body
        .status
        .as_deref()
        .map(|s| parse_choice("status", s, "ideation, specification, building, live"))
        .transpose()?;
    // Publishing an idea (or hiding it again) is a decision about the owner's work, not an edit of it.
    if visibility.is_some() {
        role.allows(Need::Own)?;
    }
    if name.is_none() && body.summary.is_none() && visibility.is_none() && status.is_none() {
        return Ok(Json(fetch_idea(&state.db, id, role).await?));
    }
    let updated = sqlx::query(
        "UPDATE ideas SET name = COALESCE($2, name), summary = COALESCE($3, summary), \
         visibility = COALESCE($4, visibility), status = COALESCE($5, status), updated_at = now() \
         WHERE id = $1",
    )
    .bind(id)
    .bind(name)
    .bind(body.summary)
    .bind(visibility)
    .bind(status)
    .execute(&state.db)
    .await?;
    if updated.rows_affected() == 0 {
        // Deleted between the access check and the update.
        return Err(ApiError::NotFound);
    }
    Ok(Json(fetch_idea(&state.db, id, role).await?))
}

/// Deletes an idea with its collaborators and sessions (owner only). Its apps stay with their owner.
#[utoipa::path(
    delete, path = "/api/ideas/{id}", tag = "ideas",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = Uuid, Path, description = "The idea's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "The id is not a UUID", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Only the owner may delete it", body = ErrorBody),
        (status = 404, description = "No such idea, or not visible to the caller", body = ErrorBody),
    )
)]
async fn delete_idea(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    require_idea(&state.db, id, user.id, Need::Own).await?;
    sqlx::query("DELETE FROM ideas WHERE id = $1").bind(id).execute(&state.db).await?;
    Ok(StatusCode::NO_CONTENT)
}
